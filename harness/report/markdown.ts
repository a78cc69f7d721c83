import { relative } from 'node:path';
import { attemptLines, erroredVerdicts, failedVerdicts, formatMs, matrixCells, matrixGroups, skipReasons, type CellStatus, type RunReport } from './model.ts';

/**
 * A Markdown matrix for people: per case, images × scenarios; then why each failed or skipped cell
 * is so. A probe that could not run (status error) is marked 💥, like a cell that never reached its
 * probes, never ❌: the harness could not look, the guest is not blamed.
 */

const SYMBOL: Record<CellStatus, string> = { pass: '✅ pass', fail: '❌ fail', error: '💥 error', skipped: '⏭ skipped' };

/** Keeps a value inside one table cell. */
const cellText = (s: string) => s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');

export function artifactLink(reportDir: string, artifactsDir: string): string {
  const rel = relative(reportDir, artifactsDir) || '.';
  return rel.split('/').map(encodeURIComponent).join('/') + '/';
}

export function renderMarkdown(report: RunReport, reportDir: string): string {
  const cells = matrixCells(report);
  const s = report.summary;
  const lines = [
    '# cloudprobe matrix',
    '',
    `${s.cells} cells: ${s.passed} passed, ${s.failed} failed, ${s.errors} errors, ${s.skipped} skipped. ` +
      (s.retried ? `${s.retried} run again after an error (see "Run again"). ` : '') +
      `Wall ${formatMs(report.wallMs)} with ${report.jobs} job(s); VM time ${formatMs(s.vmMsTotal)}` +
      (report.shard ? `; shard ${report.shard.index}/${report.shard.count}` : '') +
      (report.interrupted ? '; **interrupted**' : '') +
      '.',
  ];
  for (const g of matrixGroups(report)) {
    lines.push('', `## ${g.caseName}`, '');
    if (g.allSkipped) {
      lines.push(`All ${g.cells.length} cells skipped: ${skipReasons(g).map(cellText).join('; ')}`);
      continue;
    }
    lines.push(`| image | ${g.scenarios.map(cellText).join(' | ')} |`, `|---|${g.scenarios.map(() => '---').join('|')}|`);
    for (const image of g.images) {
      const row = g.scenarios.map((sc) => {
        const c = g.at(image, sc);
        if (!c) return '';
        if (!c.result) return SYMBOL[c.status];
        const na = c.result.verdicts.filter((v) => v.status === 'n/a').length;
        const errored = erroredVerdicts(c.result).length;
        const retried = c.result.retriedAfter?.length ?? 0;
        const notes = [na ? `${na} n/a` : '', errored ? `💥 ${errored} could not run` : '', retried ? `↻ run ${retried + 1}×` : ''].filter(Boolean);
        return `[${SYMBOL[c.status]}](${artifactLink(reportDir, c.result.artifactsDir)})${notes.length ? ` (${notes.join(', ')})` : ''}`;
      });
      const versions = g.cloudInitVersions(image);
      lines.push(`| ${cellText(image)}${versions.length ? ` (cloud-init ${versions.map(cellText).join(', ')})` : ''} | ${row.join(' | ')} |`);
    }
  }
  const bad = cells.filter((c) => c.status === 'fail' || c.status === 'error');
  if (bad.length > 0) {
    lines.push('', '## Failures', '');
    for (const c of bad) {
      const r = c.result!;
      lines.push(`### ${c.id}`, '');
      if (r.error) {
        lines.push(`- **${r.error.stage}**: ${cellText(r.error.message)}`);
        if (r.error.hint) lines.push(`- hint: ${cellText(r.error.hint)}`);
        if (r.error.consoleTail) lines.push('', '```', r.error.consoleTail.replace(/```/g, "'''"), '```');
      }
      for (const v of failedVerdicts(r)) lines.push(`- **${v.probe}**: ${cellText(v.summary)}`);
      for (const v of erroredVerdicts(r)) lines.push(`- 💥 **${v.probe}** (error): ${cellText(v.summary)}`);
      lines.push(`- artifacts: [${relative(reportDir, r.artifactsDir) || '.'}](${artifactLink(reportDir, r.artifactsDir)})`, '');
    }
  }
  const retried = report.results.filter((r) => r.retriedAfter?.length);
  if (retried.length > 0) {
    // Never hidden: a pass after an error says the host (or the image) is flaky.
    lines.push('', '## Run again', '');
    for (const r of retried) {
      lines.push(`- ${r.id}: ${r.outcome} on try ${r.retriedAfter!.length + 1}`);
      for (const [k, l] of attemptLines(r).entries()) lines.push(`  - ${cellText(l)} ([artifacts](${artifactLink(reportDir, r.retriedAfter![k]!.artifactsDir)}))`);
    }
  }
  const skipped = cells.filter((c) => c.status === 'skipped');
  if (skipped.length > 0) {
    lines.push('', '## Skipped', '');
    for (const c of skipped) lines.push(`- ${c.id}: ${cellText(c.skipped!.reason)}`);
  }
  lines.push('');
  return lines.join('\n');
}
