import type { CellResult } from '../model/cell.ts';
import type { ProbeVerdict } from '../model/probe.ts';
import { attemptLines, cellBroke, erroredVerdicts, type RunReport } from './model.ts';

/**
 * JUnit XML: one <testsuite> per cell; in it a `boot` testcase (error: stage, message, console
 * tail) and one testcase per probe verdict (fail → <failure> with summary and evidence, error —
 * the probe could not run — → <error>, n/a → <skipped>). A cell the planner skipped is one
 * skipped `boot` testcase. `errors=` counts the <error> testcases, `failures=` the <failure> ones.
 */

// ANSI escapes from serial consoles first, then whatever XML 1.0 cannot carry at all.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]/g;
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const NOT_XML = /[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

export function xmlText(s: string): string {
  return s
    .replace(ANSI, '')
    .replace(NOT_XML, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}

export function xmlAttr(s: string): string {
  return xmlText(s).replace(/"/g, '&quot;').replace(/\n/g, '&#10;').replace(/\r/g, '&#13;').replace(/\t/g, '&#9;');
}

const seconds = (ms: number | undefined) => ((ms ?? 0) / 1000).toFixed(3);

function evidenceText(v: ProbeVerdict): string {
  const parts = [v.summary];
  if (v.expected !== undefined) parts.push(`expected: ${JSON.stringify(v.expected)}`);
  if (v.observed !== undefined) parts.push(`observed: ${JSON.stringify(v.observed)}`);
  for (const [k, out] of Object.entries(v.evidence ?? {})) parts.push(`--- ${k}\n${out}`);
  return parts.join('\n');
}

function verdictCase(r: CellResult, v: ProbeVerdict): string {
  const head = `    <testcase classname="${xmlAttr(r.id)}" name="${xmlAttr(v.probe)}" time="${seconds(v.durationMs)}"`;
  if (v.status === 'pass') return `${head}>\n      <system-out>${xmlText(evidenceText(v))}</system-out>\n    </testcase>`;
  if (v.status === 'n/a') return `${head}>\n      <skipped message="${xmlAttr(v.summary)}"/>\n    </testcase>`;
  // The harness could not look: a CI error, not a test failure that blames the guest.
  if (v.status === 'error') return `${head}>\n      <error message="${xmlAttr(v.summary)}" type="${xmlAttr(v.probe)}">${xmlText(evidenceText(v))}</error>\n    </testcase>`;
  return `${head}>\n      <failure message="${xmlAttr(v.summary)}" type="${xmlAttr(v.probe)}">${xmlText(evidenceText(v))}</failure>\n    </testcase>`;
}

function bootCase(r: CellResult): string {
  const head = `    <testcase classname="${xmlAttr(r.id)}" name="boot" time="${seconds(r.timings.totalMs)}"`;
  const stages = Object.entries(r.timings)
    .map(([k, ms]) => `${k}=${seconds(ms)}s`)
    .join(' ');
  const info = `accel ${r.accel.use} (${r.accel.reason}); stages ${stages}; artifacts ${r.artifactsDir}`;
  if (!cellBroke(r)) return `${head}>\n      <system-out>${xmlText(info)}</system-out>\n    </testcase>`;
  const e = r.error ?? { stage: r.stage, message: 'no error recorded' };
  const body = [`stage: ${e.stage}`, e.message, e.hint ? `hint: ${e.hint}` : '', e.consoleTail ? `--- console tail\n${e.consoleTail}` : '', info].filter(Boolean).join('\n');
  return `${head}>\n      <error message="${xmlAttr(`${e.stage}: ${e.message}`)}" type="${xmlAttr(e.stage)}">${xmlText(body)}</error>\n    </testcase>`;
}

/** What CI dashboards show beside a suite: the image's cloud-init release and the accelerator. */
function properties(r: CellResult): string {
  const props = [
    ...(r.cloudInitVersion ? [['cloud-init', r.cloudInitVersion]] : []),
    ['accel', r.accel.use],
    // A cell run again after an error: dashboards see the flake beside a green boot.
    ...attemptLines(r).map((l, k) => [`retried-after-try-${k + 1}`, l]),
  ];
  return `    <properties>\n${props.map(([k, v]) => `      <property name="${xmlAttr(k!)}" value="${xmlAttr(v!)}"/>`).join('\n')}\n    </properties>\n`;
}

/** <error> testcases of a cell: its boot when the cell broke, and each probe that could not run. */
function errorCases(r: CellResult): number {
  return (cellBroke(r) ? 1 : 0) + erroredVerdicts(r).length;
}

export function renderJunit(report: RunReport): string {
  const suites: string[] = [];
  for (const r of report.results) {
    const cases = [bootCase(r), ...r.verdicts.map((v) => verdictCase(r, v))];
    const failures = r.verdicts.filter((v) => v.status === 'fail').length;
    const skipped = r.verdicts.filter((v) => v.status === 'n/a').length;
    suites.push(
      `  <testsuite name="${xmlAttr(r.id)}" tests="${cases.length}" failures="${failures}" errors="${errorCases(r)}" skipped="${skipped}" time="${seconds(r.timings.totalMs)}">\n${properties(r)}${cases.join('\n')}\n  </testsuite>`,
    );
  }
  for (const s of report.skipped) {
    suites.push(
      `  <testsuite name="${xmlAttr(s.id)}" tests="1" failures="0" errors="0" skipped="1" time="0.000">\n    <testcase classname="${xmlAttr(s.id)}" name="boot" time="0.000">\n      <skipped message="${xmlAttr(s.reason)}"/>\n    </testcase>\n  </testsuite>`,
    );
  }
  const total = report.results.reduce((n, r) => n + 1 + r.verdicts.length, 0) + report.skipped.length;
  const failures = report.results.reduce((n, r) => n + r.verdicts.filter((v) => v.status === 'fail').length, 0);
  const errors = report.results.reduce((n, r) => n + errorCases(r), 0);
  const skipped = report.results.reduce((n, r) => n + r.verdicts.filter((v) => v.status === 'n/a').length, 0) + report.skipped.length;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="cloudprobe" tests="${total}" failures="${failures}" errors="${errors}" skipped="${skipped}" time="${seconds(report.wallMs)}" timestamp="${xmlAttr(report.startedAt)}">`,
    ...suites,
    '</testsuites>',
    '',
  ].join('\n');
}
