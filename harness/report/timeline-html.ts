import type { CellResult, TimelineMark } from '../model/cell.ts';
import { formatMs } from './model.ts';

/**
 * The "Boot timeline" of the HTML report: one bar per cell on a common time scale (QEMU start at
 * the left), coloured by what the boot was doing — firmware and bootloader, kernel and early
 * userspace, each cloud-init stage, the probes, artifact collection — with the SSH banner and the
 * first login as ticks (they happen while cloud-init runs). Each piece says its times on hover,
 * so a user sees where a slow image spends its boot. Pure HTML and CSS, like the rest of the report.
 */

/** Marks that start a new phase of the bar, and what the bar shows from there on (colours no badge uses). */
const PHASES: Record<string, { name: string; colour: string }> = {
  kernel: { name: 'kernel, early userspace', colour: '#8c959f' },
  'cloud-init init-local': { name: 'cloud-init init-local', colour: '#54aeff' },
  'cloud-init init': { name: 'cloud-init init (network)', colour: '#0969da' },
  'cloud-init modules:config': { name: 'cloud-init modules:config', colour: '#a475f9' },
  'cloud-init modules:final': { name: 'cloud-init modules:final', colour: '#bf3989' },
  'cloud-init finished': { name: 'until the harness saw cloud-init done', colour: '#d4a72c' },
  'cloud-init': { name: 'probes', colour: '#2da44e' },
  probes: { name: 'artifacts, inspect', colour: '#aceebb' },
};
const FIRST = { name: 'firmware, bootloader', colour: '#c8d1da' };
const TICKS = new Set(['ssh-banner', 'ssh-login']);

export const TIMELINE_CSS = `
.tl{display:grid;grid-template-columns:minmax(200px,max-content) 1fr;gap:4px 10px;align-items:center;margin:8px 0 4px}
.tl .id{font-size:12px;white-space:nowrap}
.tl .bar{position:relative;height:16px;background:#f6f8fa;border:1px solid #d0d7de}
.tl .seg{position:absolute;top:0;bottom:0}
.tl .tick{position:absolute;top:-3px;bottom:-3px;width:2px;background:#1d1d1f}
.tl-legend{display:flex;flex-wrap:wrap;gap:4px 12px;font-size:12px;color:#444}
.tl-legend i{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:-1px}
`;

const pct = (ms: number, scale: number) => `${((100 * ms) / scale).toFixed(2)}%`;

function bar(marks: TimelineMark[], scale: number, esc: (s: string) => string): string {
  const phases = marks.filter((m) => !TICKS.has(m.label) && m.label !== 'done' && PHASES[m.label]);
  const end = marks.at(-1)!.atMs;
  const pieces: string[] = [];
  let from = 0;
  let phase = FIRST;
  for (const m of [...phases, { label: 'end', atMs: end, from: 'harness' as const }]) {
    if (m.atMs > from) {
      const title = `${phase.name}: ${formatMs(from)} → ${formatMs(m.atMs)} (${formatMs(m.atMs - from)})`;
      pieces.push(`<span class="seg" style="left:${pct(from, scale)};width:${pct(m.atMs - from, scale)};background:${phase.colour}" title="${esc(title)}"></span>`);
    }
    from = Math.max(from, m.atMs);
    phase = PHASES[m.label] ?? phase;
  }
  for (const t of marks.filter((m) => TICKS.has(m.label))) {
    pieces.push(`<span class="tick" style="left:${pct(t.atMs, scale)}" title="${esc(`${t.label} at ${formatMs(t.atMs)}`)}"></span>`);
  }
  return `<div class="bar" title="${esc(`done at ${formatMs(end)} from QEMU start`)}">${pieces.join('')}</div>`;
}

/** The timeline section, or '' when no cell has one (nothing booted). */
export function renderTimeline(results: readonly CellResult[], esc: (s: string) => string, anchor: (id: string) => string): string {
  const timed = results.filter((r) => r.timeline?.length);
  if (!timed.length) return '';
  const scale = Math.max(...timed.map((r) => r.timeline!.at(-1)!.atMs), 1);
  const rows = timed.map((r) => `<a class="id" href="#${anchor(r.id)}">${esc(r.id)}</a>${bar(r.timeline!, scale, esc)}`);
  const legend = [FIRST, ...Object.values(PHASES)].map((p) => `<span><i style="background:${p.colour}"></i>${esc(p.name)}</span>`);
  legend.push('<span><i style="background:#1d1d1f;width:2px"></i>SSH banner, first login</span>');
  return `<h2>Boot timeline</h2>
<p class="muted">From QEMU start (left) to done, common scale: 0 – ${formatMs(scale)}. Cloud-init stages are placed by the guest's uptime from the kernel banner.</p>
<div class="tl-legend">${legend.join('')}</div>
<div class="tl">${rows.join('')}</div>`;
}
