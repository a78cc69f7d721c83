import { isDeprecation } from './cloud-init.ts';
import { defineProbe, fail, pass } from './define.ts';

/**
 * cloud-init's own judgement of the user data it got: `cloud-init schema --system` (22.2 and
 * later), else the deprecation lines of its log. Deprecated keys are listed with the replacement
 * cloud-init names, and the case decides whether they fail (`clean_boot: { deprecations: fail }`)
 * or are warnings (the default: the seed article's verbatim `chpasswd: list:` works, with these
 * deprecations); schema errors always fail.
 *
 * Output formats, as the releases print them for the same file (docs/facts.md §8):
 *   22.4  Cloud config schema deprecations: chpasswd.list: DEPRECATED: List of … Use ``users``…
 *   25.1, 26.2  Cloud config schema deprecations: chpasswd.list:  Deprecated in version 22.2. Use **users** instead.
 * Several keys are joined by ", " on one line; errors come as "Cloud config schema errors: …".
 */

export interface SchemaFinding {
  /** The config path (`chpasswd.list`, `users[0].sudo`). */
  key: string;
  message: string;
  /** The key cloud-init says to use instead, when it names one. */
  replacement?: string;
}

export interface SchemaReport {
  deprecations: SchemaFinding[];
  errors: SchemaFinding[];
}

// A config path at the start of an item: lowercase keys, dots and [n] indexes, then ": ".
const ITEM = /(?:^|, )([a-z][a-z0-9_]*(?:\.[a-z0-9_]+|\[\d+\])*): /g;

// Where 22.4's message names no replacement, the one later releases name for the same key.
const LATER_RELEASES_SAY: Record<string, string> = { 'chpasswd.list': 'users' };

function replacementIn(key: string, message: string): string | undefined {
  return /Use \*\*([\w.]+)\*\*/.exec(message)?.[1] ?? /Use ``([\w.]+)``/.exec(message)?.[1] ?? LATER_RELEASES_SAY[key];
}

/** The "key: message, key: message" list after a "Cloud config schema …:" label. */
export function splitFindings(list: string): SchemaFinding[] {
  const starts = [...list.matchAll(ITEM)];
  return starts.map((m, i) => {
    const from = m.index + m[0].length;
    const to = i + 1 < starts.length ? starts[i + 1]!.index : list.length;
    const message = list.slice(from, to).trim();
    const replacement = replacementIn(m[1]!, message);
    return { key: m[1]!, message, ...(replacement ? { replacement } : {}) };
  });
}

/**
 * `cloud-init schema` output → its deprecations and errors. A finding's message may run over
 * several lines (22.4's long descriptions): continuation lines are joined until the next label
 * or a "Valid …"/"Invalid …" line.
 */
export function parseSchemaOutput(text: string): SchemaReport {
  const report: SchemaReport = { deprecations: [], errors: [] };
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /Cloud[- ]config schema (deprecations|errors):\s*(.*)$/i.exec(lines[i]!);
    if (!m) continue;
    let body = m[2]!;
    while (i + 1 < lines.length && !/Cloud[- ]config schema|^\s*(Valid|Invalid|Error|Found|\d+\. )/i.test(lines[i + 1]!)) body += `\n${lines[++i]}`;
    const findings = splitFindings(body.trim());
    (m[1]!.toLowerCase() === 'errors' ? report.errors : report.deprecations).push(...findings);
  }
  return report;
}

/**
 * Deprecation lines of cloud-init.log (releases without `schema --system`): the same notices
 * clean-boot sets aside for this probe (isDeprecation), so the two never disagree.
 */
export function logDeprecations(log: string): string[] {
  return log.split('\n').filter(isDeprecation);
}

function describe(f: SchemaFinding): string {
  return f.replacement ? `${f.key} → ${f.replacement}` : f.key;
}

export const probeUserDataSchema = defineProbe('user-data-schema', {
  expects: (e) => (e.cleanBoot ? { deprecations: e.cleanBoot.deprecations ?? 'warn' } : undefined),
  run: async (exp, guest) => {
    const r = await guest.exec(['cloud-init', 'schema', '--system'], { root: true });
    const out = `${r.stdout}\n${r.stderr}`;
    if (r.code === 127 || /command not found|cloud-init: not found/.test(out)) return fail('cloud-init is not installed in the guest, so nothing validated its user data');
    let report: SchemaReport;
    let source: string;
    if (/unrecognized arguments: --system|invalid choice: 'schema'/.test(out)) {
      // Before 22.2: only the log says what was deprecated.
      const lines = logDeprecations((await guest.exec({ shell: 'cat /var/log/cloud-init.log 2>/dev/null || true' }, { root: true })).stdout);
      report = { deprecations: lines.map((l) => ({ key: '(log)', message: l.trim() })), errors: [] };
      source = 'deprecation lines of /var/log/cloud-init.log';
    } else {
      report = parseSchemaOutput(out);
      source = 'cloud-init schema --system';
      if (r.code !== 0 && report.errors.length === 0) {
        return fail(`cloud-init schema --system exited ${r.code} without naming an error: ${out.trim().split('\n').slice(-2).join(' / ')}`);
      }
    }
    const observed = { deprecations: report.deprecations, errors: report.errors, source };
    if (report.errors.length) return fail(`the user data has schema errors: ${report.errors.map((e) => `${e.key}: ${e.message}`).join('; ')}`, { expected: exp, observed });
    if (!report.deprecations.length) return pass(`valid user data, no deprecated keys (${source})`, { expected: exp, observed });
    const list = report.deprecations.map(describe).join(', ');
    return exp.deprecations === 'fail'
      ? fail(`${report.deprecations.length} deprecated key(s): ${list} (the case fails on deprecations)`, { expected: exp, observed })
      : pass(`valid user data, with ${report.deprecations.length} deprecation(s) as warnings: ${list}`, { expected: exp, observed });
  },
});
