import { spawn } from 'node:child_process';
import type { ExecResult } from '../../harness/ssh/client.ts';
import type { GuestTransport } from '../../harness/ssh/guest.ts';

/**
 * A GuestTransport that runs each command line with this machine's own `sh -c`, as sshd runs it
 * with the login shell: proves quoting against a real POSIX shell, no VM needed. `seen` keeps the
 * lines as the transport received them (after root wrapping).
 */
export class LocalShell implements GuestTransport {
  readonly seen: string[] = [];

  constructor(private readonly cwd?: string) {}

  exec(command: string, opts: { timeoutMs: number }): Promise<ExecResult> {
    this.seen.push(command);
    return new Promise((resolve, reject) => {
      const child = spawn('sh', ['-c', command], { cwd: this.cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent', LC_ALL: 'C' } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`local sh ${JSON.stringify(command)}: no exit within ${opts.timeoutMs} ms`));
      }, opts.timeoutMs);
      child.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ command, code, ...(signal ? { signal } : {}), stdout, stderr });
      });
    });
  }
}

/** A transport answering from a script: command line → result (or an Error to throw: a lost connection). */
export class ScriptedTransport implements GuestTransport {
  readonly seen: string[] = [];

  constructor(private readonly answer: (command: string) => Partial<ExecResult> | Error) {}

  async exec(command: string): Promise<ExecResult> {
    this.seen.push(command);
    const a = this.answer(command);
    if (a instanceof Error) throw a;
    return { command, code: 0, stdout: '', stderr: '', ...a };
  }
}
