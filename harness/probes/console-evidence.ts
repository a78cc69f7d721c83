import { cleanConsole } from '../util/console-text.ts';

/**
 * What the serial console says about a boot, read the way a person reads it when SSH is out of
 * the question: cloud-init's final message (version, datasource, uptime), its "Net device info"
 * tables, its failed calls to the metadata address, the fallback-datasource warning, and the
 * getty prompt with the host name the guest ended up with. Pure: text in, evidence out.
 *
 * Formats (cloud-init 22.4–26.x, Debian's getty): see docs/neutron.md "Judging from the console".
 */

/**
 * cloud-init's final message (cc_final_message's default): "Cloud-init v. 22.4.2 finished at
 * <date>. Datasource DataSourceNone.  Up 183.52 seconds". Its appearance on the console is the
 * sign that every stage ran: what the console judge waits for.
 */
export const CLOUD_INIT_FINISHED = /Cloud-init v\. (\S+) finished at [^\n]*?\. Datasource ([^\n]*?)\.\s+Up ([\d.]+) seconds/;

/** cloud-init's stage banner ("Cloud-init v. 25.1.4-1 running 'init' at …") or final message. */
const CLOUD_INIT_VERSION = /Cloud-init v\. (\S+) (?:running|finished)/;

/** A stage banner with the guest's uptime: "… running 'modules:config' at <date>. Up 61.32 seconds." */
const CLOUD_INIT_STAGE = /Cloud-init v\. \S+ running '([^']+)' at [^\n]*?\. Up ([\d.]+) seconds/g;

/**
 * When each cloud-init stage began, and when it finished, by the guest's uptime (seconds since
 * its kernel started), in console order: init-local, init, modules:config, modules:final, then
 * `finished` from the final message. A stage that ran twice (a reboot) keeps its first banner.
 */
export function cloudInitStagesOf(raw: string): { stage: string; upS: number }[] {
  const text = cleanConsole(raw);
  const stages: { stage: string; upS: number }[] = [];
  for (const m of text.matchAll(CLOUD_INIT_STAGE)) {
    if (!stages.some((s) => s.stage === m[1])) stages.push({ stage: m[1]!, upS: Number(m[2]) });
  }
  const done = CLOUD_INIT_FINISHED.exec(text);
  if (done) stages.push({ stage: 'finished', upS: Number(done[3]) });
  return stages;
}

/** The cloud-init version a console shows, or undefined when no cloud-init ran. */
export function cloudInitVersionOf(raw: string): string | undefined {
  return CLOUD_INIT_VERSION.exec(raw)?.[1];
}

/** A cloud-init stage that crashed, as its console shows it: the stage, the exception, the traceback. */
export interface CloudInitCrash {
  stage: string;
  /** The exception line and what follows it up to the dashed rule (command, exit code, stderr). */
  exception: string;
  traceback: string;
}

/**
 * cloud-init's "failed run of stage <name>" block on the console: the traceback between the two
 * dashed rules. The first crash is returned (later stages often fail because of it).
 */
export function cloudInitCrashOf(raw: string): CloudInitCrash | undefined {
  const lines = cleanConsole(raw).split('\n').map(stripPrefixes);
  const at = lines.findIndex((l) => /failed run of stage (\S+)/.test(l));
  if (at < 0) return undefined;
  const stage = /failed run of stage (\S+)/.exec(lines[at]!)![1]!;
  const block: string[] = [];
  let rules = 0;
  for (const l of lines.slice(at + 1, at + 400)) {
    if (/^-{20,}$/.test(l.trim())) {
      if (++rules === 2) break;
      continue;
    }
    if (rules === 1) block.push(l);
  }
  // The exception: the first unindented line after the traceback's frames.
  const first = block.findIndex((l, i) => i > 0 && !/^\s/.test(l) && !/^Traceback/.test(l));
  const exception = (first >= 0 ? block.slice(first) : block.slice(-1)).join('\n').trim();
  return { stage, exception, traceback: block.join('\n') };
}

/** One row of a "Net device info" table (IPv4 and IPv6 rows are separate; '.' marks "none"). */
export interface ConsoleNetRow {
  device: string;
  up: boolean;
  address: string;
  mask: string;
  scope: string;
  hwAddress: string;
}

/** One row of the "Route IPv4 info" table. */
export interface ConsoleRoute {
  destination: string;
  gateway: string;
  genmask: string;
  interface: string;
  flags: string;
}

export interface ConsoleEvidence {
  /** The final message, when it appeared. */
  finished?: { line: string; version: string; datasource: string; upSeconds: number };
  /** The rows of the last "Net device info" table cloud-init printed (its network stage's). */
  netDevices: ConsoleNetRow[];
  /** The rows of the last "Route IPv4 info" table. */
  routes: ConsoleRoute[];
  /** cloud-init bringing NICs up (its activator's `ifup <nic>` lines): it applied a network config. */
  activations: string[];
  /** Console lines where a call to 169.254.169.254 failed or cloud-init gave up on it. */
  metadataFailures: string[];
  /** cloud-init said it used the fallback datasource (DataSourceNone). */
  fallbackLine?: string;
  /** The last getty prompt ("<host> login:"), with the host name it shows. */
  loginPrompt?: { hostname: string; line: string };
  /** cloud-init's WARNING lines, for the evidence. */
  warnings: string[];
}

const METADATA_ADDRESS = '169.254.169.254';
// url_helper's "Calling '<url>' failed [t/max]: <reason>", and the datasources' "Giving up on …" /
// "No active metadata service found" / "Failed reading … from …" lines.
const METADATA_FAILURE = /failed|giving up|unreachable|timed out|refused|no route|max retries|error/i;
const FALLBACK = /Used fallback datasource/;
const ACTIVATION = /activators\.py\[\w+\]: Running \['ifup'|Bringing up (interface|device)/;
// getty prints "\n<host> login: " and nothing after it, so the next console message (a kernel or
// cloud-init line) often continues on the same line: the prompt is matched at the line's start only.
const LOGIN_PROMPT = /^([A-Za-z0-9][A-Za-z0-9.-]*) login:(?: |$)/;
/** A getty prompt anywhere in a console log (for waiting on one). */
export const LOGIN_PROMPT_LINE = /^[A-Za-z0-9][A-Za-z0-9.-]* login:(?: |$)/m;
// Said without the address: the OpenStack/EC2 datasources' "No active metadata service found".
const NO_METADATA_SERVICE = /No active metadata service found/;
const WARNING = /\[WARNING\]|\bWARNING\b/;

/**
 * The text after the console's prefixes, "[   4.5] cloud-init[312]: ": one space after the colon
 * only, so a traceback's indentation (its frames) survives.
 */
function stripPrefixes(line: string): string {
  return line.replace(/^\[\s*\d+\.\d+\]\s+/, '').replace(/^cloud-init\[\d+\]:\s?/, '');
}

/** A "ci-info: | a | b | … |" row as its trimmed cells, or undefined for borders and titles. */
function tableCells(line: string): string[] | undefined {
  const at = line.indexOf('ci-info:');
  if (at < 0) return undefined;
  const body = line.slice(at + 'ci-info:'.length).trim();
  if (!body.startsWith('|') || !body.endsWith('|')) return undefined;
  return body.slice(1, -1).split('|').map((c) => c.trim());
}

/** Reads the console: every field from the whole log, the net table from its last appearance. */
export function parseConsole(raw: string): ConsoleEvidence {
  const lines = cleanConsole(raw).split('\n');
  const evidence: ConsoleEvidence = { netDevices: [], routes: [], activations: [], metadataFailures: [], warnings: [] };
  // The table being read (its rows, and the first cell of its header row). A table ends at the
  // next ci-info title; other console lines (a kernel message in the middle) do not end it. Each
  // table kind keeps its last appearance.
  let open: { rows: string[][]; header: string } | undefined;
  let netRows: string[][] | undefined;
  let routeRows: string[][] | undefined;
  for (const rawLine of lines) {
    const line = stripPrefixes(rawLine.trimEnd());
    if (line.includes('ci-info:')) {
      if (/ci-info:\s*\+{3,}.*[A-Za-z]/.test(line)) {
        open = undefined;
        if (/Net device info/.test(line)) open = { rows: (netRows = []), header: 'Device' };
        else if (/Route IPv4 info/.test(line)) open = { rows: (routeRows = []), header: 'Route' };
        continue;
      }
      const cells = open && tableCells(line);
      if (open && cells?.length === 6 && cells[0] !== open.header) open.rows.push(cells);
      if (open) continue;
    }
    const finished = CLOUD_INIT_FINISHED.exec(line);
    if (finished) evidence.finished = { line: line.trim(), version: finished[1]!, datasource: finished[2]!.trim(), upSeconds: Number(finished[3]) };
    if ((line.includes(METADATA_ADDRESS) && METADATA_FAILURE.test(line)) || NO_METADATA_SERVICE.test(line)) evidence.metadataFailures.push(line.trim());
    if (ACTIVATION.test(line)) evidence.activations.push(line.trim());
    if (FALLBACK.test(line)) evidence.fallbackLine = line.trim();
    const prompt = LOGIN_PROMPT.exec(line);
    if (prompt) evidence.loginPrompt = { hostname: prompt[1]!, line: prompt[0].trim() };
    if (WARNING.test(line) && /cloud-init|\.py\[/.test(rawLine)) evidence.warnings.push(line.trim());
  }
  evidence.netDevices = (netRows ?? []).map(([device, up, address, mask, scope, hw]) => ({ device: device!, up: up === 'True', address: address!, mask: mask!, scope: scope!, hwAddress: hw!.toLowerCase() }));
  evidence.routes = (routeRows ?? []).map(([, destination, gateway, genmask, iface, flags]) => ({ destination: destination!, gateway: gateway!, genmask: genmask!, interface: iface!, flags: flags! }));
  return evidence;
}

/** The IPv4 rows of one NIC (by MAC) in the net table; an address of '.' means none. */
export function ipv4RowsOf(evidence: ConsoleEvidence, mac: string): ConsoleNetRow[] {
  return evidence.netDevices.filter((r) => r.hwAddress === mac.toLowerCase() && !r.address.includes(':'));
}
