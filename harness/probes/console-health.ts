import type { ProbeVerdict } from '../model/probe.ts';
import { cleanConsole } from '../util/console-text.ts';

/**
 * The console's health, as kola checks it on every test: a kernel panic, an oops or BUG, systemd's
 * emergency mode, the OOM killer or a segfault anywhere on the serial console fails the cell, with
 * the lines that show it — whatever the SSH probes said. Lockup and RCU-stall warnings are kept as
 * notes only: under TCG on a loaded host they say the host was slow, not that the guest is wrong.
 * Pure: console text in, verdict out. Patterns: the kernel's and systemd's own messages
 * (docs/facts.md §6).
 */

const FAILURES: { what: string; re: RegExp }[] = [
  { what: 'kernel panic', re: /Kernel panic - not syncing/ },
  { what: 'kernel oops', re: /\bOops: [0-9a-fx]+|general protection fault[:,]/ },
  { what: 'kernel BUG', re: /\bBUG: (?!soft lockup)(?!workqueue lockup)[A-Za-z]/ },
  { what: 'emergency mode', re: /You are in emergency mode|Welcome to emergency mode|Entering emergency mode/ },
  { what: 'OOM kill', re: /Out of memory: Killed process|invoked oom-killer|oom-kill:/ },
  { what: 'segfault', re: /\bsegfault at [0-9a-f]+ ip\b|traps: \S+\[\d+\] general protection/ },
];
const SLOW_HOST = /soft lockup|rcu\S*: INFO: rcu_\S+ (self-)?detected stall|rcu_\S+ detected stalls|hung_task|blocked for more than \d+ seconds/;
const MAX_LINES = 20;

export function judgeConsoleHealth(raw: string): ProbeVerdict {
  const lines = cleanConsole(raw).split('\n');
  const found = new Map<string, string[]>();
  const slow: string[] = [];
  for (const line of lines) {
    for (const f of FAILURES) {
      if (f.re.test(line)) {
        const seen = found.get(f.what) ?? [];
        seen.push(line.trim());
        found.set(f.what, seen);
        break;
      }
    }
    if (SLOW_HOST.test(line)) slow.push(line.trim());
  }
  const evidence: Record<string, string> = { 'console: lines scanned': `${lines.length} lines; looked for: ${FAILURES.map((f) => f.what).join(', ')}` };
  if (slow.length) evidence['console: the host was slow (not judged)'] = slow.slice(0, MAX_LINES).join('\n');
  if (found.size === 0) {
    return { probe: 'console-health', status: 'pass', summary: `no kernel panic, oops, BUG, emergency mode, OOM kill or segfault on the console${slow.length ? ` (${slow.length} lockup/stall warning(s): a slow host)` : ''}`, evidence };
  }
  const all = [...found.values()].flat();
  evidence['console: what went wrong'] = all.slice(0, MAX_LINES).join('\n') + (all.length > MAX_LINES ? `\n… ${all.length - MAX_LINES} more` : '');
  const summary = [...found].map(([what, ls]) => `${what}${ls.length > 1 ? ` ×${ls.length}` : ''}`).join(', ');
  return { probe: 'console-health', status: 'fail', summary: `the console shows ${summary}: ${all[0]!.slice(0, 160)}`, observed: Object.fromEntries([...found].map(([k, v]) => [k, v.length])), evidence };
}
