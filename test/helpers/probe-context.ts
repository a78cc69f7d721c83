import type { ExecResult } from '../../harness/ssh/client.ts';
import { Guest, type GuestTransport } from '../../harness/ssh/guest.ts';
import type { Expectations } from '../../harness/model/expectations.ts';
import type { ProbeContext } from '../../harness/probes/context.ts';
import { ScriptedTransport } from './local-guest.ts';

/** A ProbeContext around any transport, for probes judged without a VM. */
export function probeContext(transport: GuestTransport, expectations: Expectations, opts: { user?: string; image?: Partial<ProbeContext['image']> } = {}): ProbeContext {
  return {
    guest: new Guest(transport, opts.user ?? 'root'),
    ssh: { host: '127.0.0.1', port: 1, user: opts.user ?? 'root' },
    image: { notApplicable: {}, nicModes: ['dhcp', 'static'], networkRenderer: 'eni', ...opts.image },
    expectations,
    cloudInitStatus: { exitCode: 0, raw: '{"status":"done"}', json: { status: 'done' } },
  };
}

export const UNREADABLE = Symbol('unreadable');

/**
 * A pretend guest logged in as root: files (content, or UNREADABLE for one that exists but cannot
 * be read) and fixed answers for other command lines. `cat` and `test -e` follow the files; a
 * command line in `lost` makes the connection drop (the transport throws).
 */
export function fakeGuest(world: { files?: Record<string, string | typeof UNREADABLE>; commands?: Record<string, Partial<ExecResult>>; lost?: (line: string) => boolean }): ScriptedTransport {
  const files = world.files ?? {};
  return new ScriptedTransport((line) => {
    if (world.lost?.(line)) return new Error('No response from server');
    const cat = /^cat (\S+)$/.exec(line);
    if (cat) {
      const f = files[cat[1]!];
      if (f === undefined) return { code: 1, stderr: `cat: ${cat[1]}: No such file or directory\n` };
      if (f === UNREADABLE) return { code: 1, stderr: `cat: ${cat[1]}: Permission denied\n` };
      return { stdout: f };
    }
    const test = /^test -e (\S+)$/.exec(line);
    if (test) return { code: files[test[1]!] === undefined ? 1 : 0 };
    return world.commands?.[line] ?? { code: 127, stderr: `sh: ${line.split(' ')[0]}: not found\n` };
  });
}
