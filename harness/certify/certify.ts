import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { localImage } from '../images/ensure.ts';
import type { ImageManifest } from '../images/manifest.ts';
import type { CellSpec, Plan } from '../model/cell.ts';
import { runCredentials } from '../plan/plan-files.ts';
import { selectCells } from '../plan/select.ts';
import type { RunReport } from '../report/model.ts';
import { writeAtomic } from '../report/write.ts';
import { RunSession } from '../run/session.ts';
import type { MatrixEvent } from '../run/scheduler.ts';
import { redactDeep, redactText, usableSecrets } from '../util/redact.ts';
import { UserError } from '../util/errors.ts';
import { buildCard, renderCardHtml, renderCardMarkdown, type Card } from './card.ts';
import { CARD_AXES, discoveryPlan, matrixPlan } from './cases.ts';
import { DISCOVERY_USER, gatherFacts, type ImageFacts } from './facts.ts';
import { describeImageFile, type ImageFile } from './image-file.ts';

export interface CertifyOptions {
  jobs: number;
  /** The card (card.md, card.json, card.html), the matrix reports and artifacts go here; the discovery boot's under discovery/. */
  reportDir: string;
  /** The image's default user, when known: no discovery boot then. */
  user?: string;
  memoryMiB?: number;
  /** Only cells whose id matches (as `run --filter`); the card shows the rest as not run. */
  filter?: string[];
  retryErrors?: number;
  signal?: AbortSignal;
  version: string;
  say: (line: string) => void;
  onEvent?: (e: MatrixEvent) => void;
}

export interface CertifyOutcome {
  card: Card;
  files: { markdown: string; json: string; html: string };
  report: RunReport;
}

export const CARD_FILES = { markdown: 'card.md', json: 'card.json', html: 'card.html' } as const;

/**
 * What the harness needs to boot a file nobody wrote a manifest for. Everything in it is either
 * the file itself or what the discovery boot saw; the capability profile is cloud-init's
 * ("everything applies"): a combination that does not work then shows as a failure, with why.
 */
function manifestFor(file: ImageFile, o: { user: string; renderer: ImageManifest['network_renderer']; memoryMiB: number; nic?: string }): ImageManifest {
  return {
    name: file.name,
    description: `local image ${file.path}, certified as found`,
    source: { kind: 'local', path: file.path },
    format: file.format,
    boot: { type: 'bios-disk' },
    default_user: o.user,
    min_ram_mib: o.memoryMiB,
    nic_naming: o.nic && /^[a-z][a-z0-9]*$/.test(o.nic) ? o.nic : 'eth0',
    network_renderer: o.renderer,
    capabilities: { not_applicable: {}, nic_modes: ['dhcp', 'static'], cloud_config: true, dhcp_every_nic: false, datasource_source: 'cloud-init', resolves_fqdn: true },
  };
}

async function runPlan(plan: Plan, manifest: ImageManifest, reportDir: string, opts: CertifyOptions, inspect: (cell: CellSpec, facts: ImageFacts) => void, gather: boolean): Promise<RunReport> {
  const image = await localImage(manifest, manifest.source.kind === 'local' ? manifest.source.path : '');
  const session = new RunSession({
    plan,
    jobs: opts.jobs,
    artifactsRoot: join(reportDir, 'artifacts'),
    reportDir,
    keep: 'never',
    version: opts.version,
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.retryErrors !== undefined ? { retryErrors: opts.retryErrors } : {}),
    ...(opts.onEvent ? { onEvent: opts.onEvent } : {}),
    say: opts.say,
    cellOptions: (cell) => ({
      image,
      ...(gather ? { inspect: async (ctx) => inspect(cell, await gatherFacts(ctx.guest, cell.instance.nics[0]?.mac)) } : {}),
    }),
  });
  return (await session.run()).report;
}

/**
 * Boots any local cloud image with each way nova and neutron hand an instance its metadata and
 * writes the card. Without --user, one discovery boot first learns the default user (and the
 * cloud-init release, renderer, NIC name and OS) from inside the guest.
 */
export async function certify(file: string, opts: CertifyOptions): Promise<CertifyOutcome> {
  const image = await describeImageFile(file);
  const creds = runCredentials();
  const memoryMiB = opts.memoryMiB ?? 1024;
  opts.say(`certify ${image.path}: ${image.format}, sha256 ${image.sha256.slice(0, 16)}…; reports in ${opts.reportDir}`);
  await mkdir(opts.reportDir, { recursive: true });

  let facts: ImageFacts = {};
  if (!opts.user) {
    opts.say(`discovery boot: logging in as ${DISCOVERY_USER} (made by #cloud-config) to find the default user`);
    const manifest = manifestFor(image, { user: DISCOVERY_USER, renderer: 'none', memoryMiB });
    const report = await runPlan(await discoveryPlan(manifest, creds), manifest, join(opts.reportDir, 'discovery'), opts, (_c, f) => (facts = f), true);
    const [r] = report.results;
    if (opts.signal?.aborted) throw new UserError('certify: interrupted during the discovery boot');
    if (r?.cloudInitVersion && !facts.cloudInitVersion) facts.cloudInitVersion = { version: r.cloudInitVersion, from: 'the console' };
    if (!facts.defaultUser) {
      const why = r?.error ? `the boot stopped at ${r.error.stage}: ${r.error.message.split('\n')[0]}` : r ? 'cloud-init names no default user in its system config and created none' : 'the boot did not run';
      throw new UserError(`certify ${image.path}: could not learn the default user (${why}); give it with --user NAME; the discovery boot's console and logs are in ${join(opts.reportDir, 'discovery', 'artifacts')}`);
    }
    opts.say(`discovery: default user ${facts.defaultUser.name}, cloud-init ${facts.cloudInitVersion?.version ?? '?'}, renderer ${facts.renderer?.name ?? '?'}, first NIC ${facts.firstNic ?? '?'}, ${facts.os ?? 'OS unknown'}`);
  } else facts.defaultUser = { name: opts.user, from: '--user' };

  const manifest = manifestFor(image, { user: facts.defaultUser.name, renderer: facts.renderer?.harness ?? 'none', memoryMiB, ...(facts.firstNic ? { nic: facts.firstNic } : {}) });
  const full = await matrixPlan(manifest, creds);
  // --filter narrows what boots; a combination that cannot apply stays on the card as n/a.
  const plan: Plan = opts.filter?.length ? { cells: selectCells(full.cells, { filter: opts.filter }), skipped: full.skipped } : full;
  const present = new Set([...full.cells, ...full.skipped].flatMap((c) => [c.datasourceLabel, c.network]));
  const datasources = CARD_AXES.datasources.filter((d) => present.has(d));
  const networks = CARD_AXES.networks.filter((n) => present.has(n));
  // With --user there was no discovery boot: the first cell that logs in tells the rest.
  const report = await runPlan(plan, manifest, opts.reportDir, opts, (_c, f) => (facts = { ...f, ...facts }), !facts.renderer);
  const firstVersion = report.results.find((r) => r.cloudInitVersion)?.cloudInitVersion;
  if (!facts.cloudInitVersion && firstVersion) facts.cloudInitVersion = { version: firstVersion, from: 'the console' };
  const notRun = full.cells.filter((c) => !plan.cells.some((p) => p.id === c.id)).map((c) => ({ id: c.id, caseName: c.caseName, image: c.image, datasource: c.datasource, datasourceLabel: c.datasourceLabel, network: c.network, reason: 'left out by --filter', kind: 'unavailable' as const }));
  const secrets = usableSecrets([...full.cells.flatMap((c) => c.secrets), creds.password]);
  const card = redactDeep(buildCard({ version: opts.version, image, detected: facts, report: { ...report, skipped: [...report.skipped, ...notRun] }, datasources, networks }), secrets);
  const files = { markdown: join(opts.reportDir, CARD_FILES.markdown), json: join(opts.reportDir, CARD_FILES.json), html: join(opts.reportDir, CARD_FILES.html) };
  await writeAtomic(files.markdown, redactText(renderCardMarkdown(card), secrets));
  await writeAtomic(files.json, redactText(`${JSON.stringify(card, null, 2)}\n`, secrets));
  await writeAtomic(files.html, redactText(renderCardHtml(card), secrets));
  return { card, files, report };
}
