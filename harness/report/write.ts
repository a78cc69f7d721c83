import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderHtml } from './html.ts';
import { renderJunit } from './junit.ts';
import { renderMarkdown } from './markdown.ts';
import type { RunReport } from './model.ts';
import { redactDeep, redactText, usableSecrets } from '../util/redact.ts';

export const REPORT_FILES = { json: 'results.json', junit: 'junit.xml', markdown: 'matrix.md', html: 'matrix.html' } as const;

/** Writes each file whole or not at all (temp file + rename): a reader never sees half a report. */
export async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, path);
}

/** Writes results.json, junit.xml, matrix.md and matrix.html; returns their paths. */
export async function writeReports(report: RunReport, reportDir: string, secrets: Iterable<string>): Promise<Record<keyof typeof REPORT_FILES, string>> {
  const list = usableSecrets(secrets);
  const clean = redactDeep(report, list);
  await mkdir(reportDir, { recursive: true });
  const rendered: Record<keyof typeof REPORT_FILES, string> = {
    json: `${JSON.stringify(clean, null, 2)}\n`,
    junit: renderJunit(clean),
    markdown: renderMarkdown(clean, reportDir),
    html: renderHtml(clean, reportDir),
  };
  const paths = {} as Record<keyof typeof REPORT_FILES, string>;
  for (const key of Object.keys(REPORT_FILES) as (keyof typeof REPORT_FILES)[]) {
    paths[key] = join(reportDir, REPORT_FILES[key]);
    // A second pass on the rendered text: belt and braces.
    await writeAtomic(paths[key], redactText(rendered[key], list));
  }
  return paths;
}
