import { basename } from 'node:path';
import type { CellResult, SkippedCell } from '../model/cell.ts';
import { esc } from '../report/html.ts';
import { erroredVerdicts, failedVerdicts, formatMs, type RunReport } from '../report/model.ts';
import type { ImageFacts } from './facts.ts';
import type { ImageFile } from './image-file.ts';

/**
 * The compatibility card: which way of handing an OpenStack instance its metadata works with this
 * image, which fails and why, and what the image turned out to be. Built from the run's report
 * only; rendered as Markdown, JSON (this object) and HTML.
 */
export type Verdict = 'works' | 'fails' | 'could not check' | 'n/a' | 'not run here';

export interface CardEntry {
  id: string;
  datasource: string;
  network: string;
  verdict: Verdict;
  /** Why it fails / could not be checked / does not apply (empty when it works). */
  why: string[];
  /** Warnings worth knowing even when it works (deprecated user-data keys, an earlier errored try). */
  notes: string[];
  durationMs?: number;
  artifactsDir?: string;
}

export interface Card {
  tool: 'cloudprobe certify';
  version: string;
  certifiedAt: string;
  image: ImageFile;
  detected: ImageFacts;
  datasources: string[];
  networks: string[];
  entries: CardEntry[];
  summary: Record<Verdict, number>;
}

const SYMBOL: Record<Verdict, string> = { works: '✅ works', fails: '❌ fails', 'could not check': '💥 could not check', 'n/a': '➖ n/a', 'not run here': '⏭ not run here' };

function fromResult(r: CellResult): CardEntry {
  const base = { id: r.id, datasource: r.cell.datasourceLabel, network: r.cell.network, durationMs: r.timings.totalMs, artifactsDir: r.artifactsDir };
  const notes = [
    ...r.verdicts.filter((v) => v.probe === 'user-data-schema' && v.status === 'pass' && /deprecat/i.test(v.summary)).map((v) => v.summary),
    ...(r.retriedAfter ?? []).map((a, k) => `try ${k + 1} could not check (${a.stage}): ${(a.error?.message ?? a.erroredProbes.join(', ')).split('\n')[0]}`),
  ];
  if (r.outcome === 'pass') return { ...base, verdict: 'works', why: [], notes };
  if (r.outcome === 'fail') return { ...base, verdict: 'fails', why: failedVerdicts(r).map((v) => `${v.probe}: ${v.summary}`), notes };
  const why = r.error ? [`stopped at ${r.error.stage}: ${r.error.message.split('\n')[0]}`] : erroredVerdicts(r).map((v) => `${v.probe}: ${v.summary}`);
  return { ...base, verdict: 'could not check', why, notes };
}

function fromSkipped(s: SkippedCell): CardEntry {
  return { id: s.id, datasource: s.datasourceLabel, network: s.network, verdict: s.kind === 'inapplicable' ? 'n/a' : 'not run here', why: [s.reason], notes: [] };
}

export function buildCard(input: { version: string; image: ImageFile; detected: ImageFacts; report: RunReport; datasources: string[]; networks: string[] }): Card {
  const entries = [...input.report.results.map(fromResult), ...input.report.skipped.map(fromSkipped)];
  const order = (e: CardEntry) => input.datasources.indexOf(e.datasource) * 100 + input.networks.indexOf(e.network);
  entries.sort((a, b) => order(a) - order(b));
  const summary: Record<Verdict, number> = { works: 0, fails: 0, 'could not check': 0, 'n/a': 0, 'not run here': 0 };
  for (const e of entries) summary[e.verdict]++;
  return { tool: 'cloudprobe certify', version: input.version, certifiedAt: input.report.finishedAt, image: input.image, detected: input.detected, datasources: input.datasources, networks: input.networks, entries, summary };
}

function mib(bytes: number): string {
  return bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(1)} GiB` : `${(bytes / 1024 ** 2).toFixed(0)} MiB`;
}

/** The "what it is" rows, shared by Markdown and HTML. */
function factRows(card: Card): [string, string][] {
  const d = card.detected;
  const rows: [string, string][] = [
    ['file', `${card.image.path} (${card.image.format}, ${mib(card.image.virtualSizeBytes)} virtual, ${mib(card.image.fileSizeBytes)} on disk${card.image.backingFile ? `, backing file ${card.image.backingFile}` : ''})`],
    ['sha256', card.image.sha256],
  ];
  rows.push(['OS', d.os ?? 'not detected']);
  rows.push(['cloud-init', d.cloudInitVersion ? `${d.cloudInitVersion.version} (${d.cloudInitVersion.from})` : 'not detected']);
  rows.push(['default user', d.defaultUser ? `${d.defaultUser.name} (${d.defaultUser.from})` : 'not detected']);
  rows.push([
    'network renderer',
    d.renderer ? `${d.renderer.name} (${d.renderer.from})${d.renderer.harness === 'none' ? '; its rendered file is not read, NIC checks use the live state' : ''}` : 'not detected; NIC checks use the live state',
  ]);
  rows.push(['first NIC', d.firstNic ?? 'not detected']);
  return rows;
}

function summaryLine(card: Card): string {
  const s = card.summary;
  return `${s.works} work, ${s.fails} fail, ${s['could not check']} could not be checked, ${s['n/a']} n/a, ${s['not run here']} not run here.`;
}

const md = (s: string) => s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');

export function renderCardMarkdown(card: Card): string {
  const at = (ds: string, net: string) => card.entries.find((e) => e.datasource === ds && e.network === net);
  const lines = [`# cloudprobe certify: ${basename(card.image.path)}`, '', '| | |', '|---|---|', ...factRows(card).map(([k, v]) => `| ${k} | ${md(v)} |`), ''];
  lines.push('## Datasource × network', '', `| datasource | ${card.networks.join(' | ')} |`, `|---|${card.networks.map(() => '---').join('|')}|`);
  for (const ds of card.datasources) lines.push(`| ${ds} | ${card.networks.map((n) => (at(ds, n) ? SYMBOL[at(ds, n)!.verdict] : '—')).join(' | ')} |`);
  lines.push('', summaryLine(card), '');
  const explained = card.entries.filter((e) => e.why.length || e.notes.length);
  if (explained.length) {
    lines.push('## Why', '');
    for (const e of explained) {
      lines.push(`- **${e.datasource} · ${e.network}**: ${SYMBOL[e.verdict]}${e.durationMs ? ` (${formatMs(e.durationMs)})` : ''}`);
      for (const w of e.why) lines.push(`  - ${md(w)}`);
      for (const n of e.notes) lines.push(`  - note: ${md(n)}`);
    }
    lines.push('');
  }
  lines.push(`Certified by cloudprobe ${card.version} at ${card.certifiedAt}; per-VM artifacts and the full reports (matrix.html, junit.xml, results.json) are beside this card.`, '');
  return lines.join('\n');
}

const CSS = 'body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d1d1f}table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}.works{background:#e6f4ea}.fails{background:#fce8e6}.could-not-check{background:#fef7e0}.muted{color:#666}';

export function renderCardHtml(card: Card): string {
  const at = (ds: string, net: string) => card.entries.find((e) => e.datasource === ds && e.network === net);
  const facts = factRows(card).map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('');
  const head = `<tr><th>datasource</th>${card.networks.map((n) => `<th>${esc(n)}</th>`).join('')}</tr>`;
  const rows = card.datasources.map((ds) => {
    const tds = card.networks.map((n) => {
      const e = at(ds, n);
      if (!e) return '<td class="muted">—</td>';
      const title = [...e.why, ...e.notes].join('\n');
      return `<td class="${e.verdict.replace(/ /g, '-').replace('/', '')}" title="${esc(title)}">${esc(SYMBOL[e.verdict])}</td>`;
    });
    return `<tr><th>${esc(ds)}</th>${tds.join('')}</tr>`;
  });
  const why = card.entries
    .filter((e) => e.why.length || e.notes.length)
    .map((e) => `<li><b>${esc(`${e.datasource} · ${e.network}`)}</b>: ${esc(SYMBOL[e.verdict])}<ul>${[...e.why.map((w) => `<li>${esc(w)}</li>`), ...e.notes.map((n) => `<li>note: ${esc(n)}</li>`)].join('')}</ul></li>`);
  return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>cloudprobe certify: ${esc(basename(card.image.path))}</title><style>${CSS}</style></head>
<body>
<h1>cloudprobe certify: ${esc(basename(card.image.path))}</h1>
<table>${facts}</table>
<h2>Datasource × network</h2>
<table>${head}${rows.join('')}</table>
<p>${esc(summaryLine(card))}</p>
${why.length ? `<h2>Why</h2><ul>${why.join('')}</ul>` : ''}
<p class="muted">Certified by cloudprobe ${esc(card.version)} at ${esc(card.certifiedAt)}; the full reports are in <a href="matrix.html">matrix.html</a>.</p>
</body>
</html>
`;
}
