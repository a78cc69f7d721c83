import { defineProbe, judge, pass, fail } from './define.ts';

/** WARNING and worse lines of cloud-init.log: what cloud-init ≥ 23.4 reports as recoverable_errors. */
export function logProblems(log: string): string[] {
  return log.split('\n').filter((l) => /\[(WARNING|ERROR|CRITICAL)\]|\b(WARNING|ERROR|CRITICAL)\b: /.test(l) || / - \S+\[(WARNING|ERROR|CRITICAL)\]: /.test(l));
}

/** A deprecation notice, in 25.x's status JSON (`DEPRECATED: …`) or 22.4's log lines. */
export function isDeprecation(message: string): boolean {
  return /^DEPRECATED: |Deprecated cloud-config provided|\bDEPRECAT(ED|ION)\b/.test(message);
}

function listOf(v: unknown): string[] {
  if (Array.isArray(v)) return v.map((x) => (typeof x === 'string' ? x : JSON.stringify(x)));
  if (v && typeof v === 'object') return Object.entries(v).flatMap(([level, msgs]) => listOf(msgs).map((m) => `${level}: ${m}`));
  return [];
}

/**
 * `cloud-init status` must be done with no errors, and every recoverable error (status JSON's
 * recoverable_errors, or on older cloud-init the log's WARNING lines) must be one the scenario allows.
 */
export const probeCleanBoot = defineProbe('clean-boot', {
  expects: (e) => e.cleanBoot,
  run: async (exp, guest, ctx) => {
    // The status the boot took when cloud-init finished (`cloud-init status --wait`) is final:
    // asking again costs a Python start (~5 s under TCG) for the same answer. Without it (an
    // inspect hook, an image whose boot ends at SSH) the probe asks. Exit 1 (error) and 2
    // (degraded) are answers to judge, not a failure to look.
    let json: Record<string, unknown> | undefined;
    let st = { stdout: '' };
    if (ctx.cloudInitStatus?.json) {
      json = ctx.cloudInitStatus.json;
      guest.note(`cloud-init status --wait --format=json (when cloud-init finished; exit ${ctx.cloudInitStatus.exitCode ?? 'none'})`, ctx.cloudInitStatus.raw.trim());
    } else {
      st = await guest.exec(['cloud-init', 'status', '--format=json'], { root: true });
      try {
        json = JSON.parse(st.stdout) as Record<string, unknown>;
      } catch {
        json = undefined;
      }
    }
    const problems: string[] = [];
    const status = String(json?.status ?? json?.extended_status ?? 'unknown');
    if (!json) problems.push(`cloud-init status gave no JSON: ${st.stdout.slice(0, 200)}`);
    else if (status !== 'done') problems.push(`status is "${status}", expected "done"`);
    const errors = listOf(json?.errors);
    if (errors.length) problems.push(`errors: ${errors.join(' | ')}`);
    let recoverable: string[];
    let source: string;
    if (json && 'recoverable_errors' in json) {
      recoverable = listOf(json.recoverable_errors);
      source = 'status recoverable_errors';
    } else {
      const log = await guest.exec({ shell: "grep -E 'WARNING|ERROR|CRITICAL' /var/log/cloud-init.log || true" }, { root: true });
      recoverable = logProblems(log.stdout);
      source = 'WARNING/ERROR lines in /var/log/cloud-init.log';
    }
    // Deprecated user-data keys are user-data-schema's to judge (warn or fail, as the case says):
    // 25.x lists them as recoverable errors of level DEPRECATED, 22.4 logs them as WARNINGs.
    const deprecations = recoverable.filter(isDeprecation);
    recoverable = recoverable.filter((r) => !isDeprecation(r));
    const allowed = (exp.allowedRecoverable ?? []).map((p) => new RegExp(p));
    const unexpected = recoverable.filter((r) => !allowed.some((a) => a.test(r)));
    if (unexpected.length) problems.push(`unexpected recoverable errors (${source}): ${unexpected.slice(0, 5).join(' | ')}${unexpected.length > 5 ? ` (+${unexpected.length - 5} more)` : ''}`);
    const observed = { status, extendedStatus: json?.extended_status, errors, recoverable, deprecations, exitCodeAtBoot: ctx.cloudInitStatus?.exitCode };
    const aside = deprecations.length ? `; ${deprecations.length} deprecation message(s) left to user-data-schema` : '';
    return judge(problems, `status done, no errors, ${recoverable.length} recoverable (all allowed)${aside}`, { expected: exp, observed });
  },
});

/** The datasource class cloud-init used, from /run/cloud-init/result.json (e.g. `DataSourceConfigDrive [net,ver=2][source=/dev/sr0]`). */
export function datasourceMatches(detail: string, expected: string): boolean {
  return new RegExp(`^DataSource${expected}(Local|Net)?\\b`).test(detail.trim());
}

/** Cirros's dsname for the datasource names cloud-init would use (it has no OpenStack API datasource). */
const CIRROS_DSNAME: Record<string, string> = { ConfigDrive: 'configdrive', Ec2: 'ec2', OpenStack: 'ec2' };

export const probeDatasource = defineProbe('datasource', {
  expects: (e) => e.datasource,
  run: async (exp, guest, ctx) => {
    if (ctx.image.datasourceSource === 'cirros') {
      // Cirros's init records the datasource it found (`cirros-query datasource` reads the same file).
      const found = ((await guest.readFile('/run/cirros/datasource/dsname')) ?? '').trim();
      const want = CIRROS_DSNAME[exp] ?? exp.toLowerCase();
      return found === want
        ? pass(`Cirros used its ${found} datasource`, { expected: want, observed: found })
        : fail(`Cirros used "${found || 'no datasource'}", expected ${want}`, { expected: want, observed: found });
    }
    const result = await guest.readFile('/run/cloud-init/result.json', { root: true });
    // The cloud id is evidence only: the file cloud-init writes at boot, not the `cloud-id`
    // command (a Python start, ~5 s under TCG); missing on older cloud-init.
    await guest.exec(['cat', '/run/cloud-init/cloud-id']);
    let detail: string;
    try {
      detail = String((JSON.parse(result ?? '') as { v1?: { datasource?: string } }).v1?.datasource ?? '');
    } catch {
      detail = String(ctx.cloudInitStatus?.json?.detail ?? '');
    }
    return datasourceMatches(detail, exp)
      ? pass(`cloud-init used ${detail}`, { expected: exp, observed: detail })
      : fail(`cloud-init used "${detail || 'no datasource'}", expected DataSource${exp}`, { expected: exp, observed: detail });
  },
});
