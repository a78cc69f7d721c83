import type { CellResult } from '../model/cell.ts';
import type { ProbeVerdict } from '../model/probe.ts';
import { artifactLink } from './markdown.ts';
import { renderTimeline, TIMELINE_CSS } from './timeline-html.ts';
import { attemptLines, formatMs, matrixGroups, skipReasons, type CellStatus, type MatrixCell, type RunReport } from './model.ts';

/**
 * A self-contained HTML matrix (inline CSS, no scripts, nothing fetched): per case, images ×
 * scenarios (datasource · network),
 * each cell pass / fail / error / skipped with its probe verdicts, linking the cell's details
 * and its artifact folder (relative links, so the report directory can be moved or archived).
 */

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]/g;

export function esc(s: string): string {
  return s
    .replace(ANSI, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

const anchor = (id: string) => `cell-${id.replace(/[^A-Za-z0-9_.-]/g, '_')}`;

const CSS = `
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d1d1f;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px}h3{font-size:15px;margin:18px 0 6px}
.summary{margin:0 0 16px;color:#444}
table{border-collapse:collapse}
th,td{border:1px solid #ccc;padding:6px 8px;vertical-align:top;text-align:left}
th{background:#f3f3f5;font-weight:600}
table.matrix td{min-width:150px}
.badge{display:inline-block;padding:2px 8px;border-radius:10px;font-weight:600;color:#fff;text-decoration:none}
.pass{background:#1f883d}.fail{background:#cf222e}.error{background:#8250df}.skipped{background:#6e7781}.na{background:#afb8c1;color:#1d1d1f}
.chips{margin-top:4px;display:flex;flex-wrap:wrap;gap:2px}
.chip{font-size:11px;padding:0 4px;border-radius:3px;color:#fff}
.muted{color:#666;font-size:12px}
pre{background:#f6f8fa;border:1px solid #ddd;padding:8px;overflow:auto;max-height:320px;white-space:pre-wrap}
details{margin:2px 0}
`;

const LABEL: Record<CellStatus, string> = { pass: 'pass', fail: 'fail', error: 'error', skipped: 'skipped' };

// Statuses that a colour alone must not carry: n/a, and error (the probe could not run) — purple
// like a cell that never booted, never red like a guest that was wrong.
const CHIP_SUFFIX: Partial<Record<ProbeVerdict['status'], string>> = { 'n/a': ' n/a', error: ' error' };

function chip(v: ProbeVerdict): string {
  const cls = v.status === 'n/a' ? 'na' : v.status;
  return `<span class="chip ${cls}" title="${esc(`${v.probe}: ${v.status} — ${v.summary}`)}">${esc(v.probe)}${CHIP_SUFFIX[v.status] ?? ''}</span>`;
}

function matrixTd(c: MatrixCell | undefined, reportDir: string): string {
  if (!c) return '<td class="muted">—</td>';
  const badge = `<a class="badge ${c.status}" href="#${anchor(c.id)}">${LABEL[c.status]}</a>`;
  if (!c.result) return `<td>${badge}<div class="muted">${esc(c.skipped?.reason ?? '')}</div></td>`;
  const r = c.result;
  const chips = r.verdicts.length ? `<div class="chips">${r.verdicts.map(chip).join('')}</div>` : '';
  const errored = r.verdicts.filter((v) => v.status === 'error').length;
  const err = r.error
    ? `<div class="muted">stopped at ${esc(r.error.stage)}</div>`
    : errored
      ? `<div class="muted">${errored} probe(s) could not run</div>`
      : '';
  const retried = r.retriedAfter?.length ? `<div class="muted" title="${esc(attemptLines(r).join('\n'))}">↻ run ${r.retriedAfter.length + 1}× (after an error)</div>` : '';
  return `<td>${badge} <span class="muted">${formatMs(r.timings.totalMs)}</span>${chips}${err}${retried}<div><a href="${esc(artifactLink(reportDir, r.artifactsDir))}">artifacts</a></div></td>`;
}

function verdictRow(v: ProbeVerdict): string {
  const cls = v.status === 'n/a' ? 'na' : v.status;
  const detail: string[] = [];
  if (v.expected !== undefined) detail.push(`<div><b>expected</b> <code>${esc(JSON.stringify(v.expected))}</code></div>`);
  if (v.observed !== undefined) detail.push(`<div><b>observed</b> <code>${esc(JSON.stringify(v.observed))}</code></div>`);
  for (const [k, out] of Object.entries(v.evidence ?? {})) detail.push(`<details><summary>${esc(k)}</summary><pre>${esc(out)}</pre></details>`);
  return `<tr><td>${esc(v.probe)}</td><td><span class="badge ${cls}">${esc(v.status)}</span></td><td>${esc(v.summary)}${detail.join('')}</td></tr>`;
}

function cellSection(r: CellResult, reportDir: string): string {
  const parts = [`<h3 id="${anchor(r.id)}"><span class="badge ${r.outcome}">${r.outcome}</span> ${esc(r.id)}</h3>`];
  const stages = Object.entries(r.timings)
    .map(([k, ms]) => `${esc(k === 'totalMs' ? 'total' : k)} ${formatMs(ms ?? 0)}`)
    .join(' · ');
  parts.push(`<div class="muted">accel ${esc(r.accel.use)} (${esc(r.accel.reason)}) · ${stages}</div>`);
  if (r.error) {
    parts.push(`<p><b>stopped at ${esc(r.error.stage)}</b>: ${esc(r.error.message)}${r.error.hint ? `<br><i>hint:</i> ${esc(r.error.hint)}` : ''}</p>`);
    if (r.error.consoleTail) parts.push(`<details open><summary>console tail</summary><pre>${esc(r.error.consoleTail)}</pre></details>`);
  }
  if (r.retriedAfter?.length) {
    const items = attemptLines(r).map((l, k) => `<li>${esc(l)} (<a href="${esc(artifactLink(reportDir, r.retriedAfter![k]!.artifactsDir))}">artifacts</a>)</li>`);
    parts.push(`<p><b>run again</b> after an error; this is try ${r.retriedAfter.length + 1}:</p><ul>${items.join('')}</ul>`);
  }
  if (r.verdicts.length) parts.push(`<table><tr><th>probe</th><th>verdict</th><th>why / evidence</th></tr>${r.verdicts.map(verdictRow).join('')}</table>`);
  const base = artifactLink(reportDir, r.artifactsDir);
  const links = Object.entries(r.artifacts).map(([kind, rel]) => `<a href="${esc(base + rel.split('/').map(encodeURIComponent).join('/'))}">${esc(kind)}</a>`);
  parts.push(`<p>artifacts: <a href="${esc(base)}">folder</a>${links.length ? ` · ${links.join(' · ')}` : ''}</p>`);
  return parts.join('\n');
}

export function renderHtml(report: RunReport, reportDir: string): string {
  const s = report.summary;
  const tables = matrixGroups(report).map((g) => {
    if (g.allSkipped) {
      return `<h3>${esc(g.caseName)}</h3><p class="muted"><span class="badge skipped">skipped</span> all ${g.cells.length} cells: ${esc(skipReasons(g).join('; '))}</p>`;
    }
    const head = `<tr><th>image</th>${g.scenarios.map((sc) => `<th>${esc(sc)}</th>`).join('')}</tr>`;
    const version = (img: string) => {
      const v = g.cloudInitVersions(img);
      return v.length ? `<div class="muted">cloud-init ${esc(v.join(', '))}</div>` : '';
    };
    const rows = g.images.map((img) => `<tr><th>${esc(img)}${version(img)}</th>${g.scenarios.map((sc) => matrixTd(g.at(img, sc), reportDir)).join('')}</tr>`);
    return `<h3>${esc(g.caseName)}</h3>\n<table class="matrix">\n${head}\n${rows.join('\n')}\n</table>`;
  });
  const skipped = report.skipped.map((x) => `<li id="${anchor(x.id)}">${esc(x.id)}: ${esc(x.reason)}</li>`);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>cloudprobe matrix</title>
<style>${CSS}${TIMELINE_CSS}</style>
</head>
<body>
<h1>cloudprobe matrix</h1>
<p class="summary">${s.cells} cells: <b>${s.passed} passed</b>, ${s.failed} failed, ${s.errors} errors, ${s.skipped} skipped${s.retried ? ` · ${s.retried} run again after an error` : ''} · wall ${formatMs(report.wallMs)} with ${report.jobs} job(s) · VM time ${formatMs(s.vmMsTotal)}${report.shard ? ` · shard ${report.shard.index}/${report.shard.count}` : ''}${report.interrupted ? ' · <b>interrupted</b>' : ''} · started ${esc(report.startedAt)}</p>
${tables.join('\n')}
${renderTimeline(report.results, esc, anchor)}
<h2>Cells</h2>
${report.results.map((r) => cellSection(r, reportDir)).join('\n')}
${skipped.length ? `<h2>Skipped</h2><ul>${skipped.join('')}</ul>` : ''}
</body>
</html>
`;
}
