import { resolve } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';

// The one interrupt handler, in a real child process receiving real signals.
const MODULE = resolve('harness/run/interrupt.ts');
const script = (claim: boolean) => `
import { installInterruptHandler, interruptSignal } from ${JSON.stringify(MODULE)};
const h = installInterruptHandler({ say: (l) => console.log(l) });
${claim ? 'interruptSignal().addEventListener("abort", () => { console.log("cleaning up"); setTimeout(() => { console.log("done", h.cause(), h.exitCode()); process.exit(h.exitCode()); }, 100); });' : ''}
console.log("ready");
setInterval(() => {}, 1000);
`;

function start(claim: boolean) {
  return execa('node', ['--import', 'tsx', '--input-type=module', '-e', script(claim)], { reject: false, timeout: 30_000 });
}
async function ready(child: ReturnType<typeof start>): Promise<void> {
  await new Promise<void>((done) => child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && done()));
}

describe('interrupt handler', () => {
  it('a command that took charge cleans up before it ends; SIGTERM gives 143', async () => {
    const child = start(true);
    await ready(child);
    child.kill('SIGTERM');
    const r = await child;
    expect(r.stdout).toContain('SIGTERM: stopping');
    expect(r.stdout).toContain('cleaning up');
    expect(r.stdout).toContain('done SIGTERM 143');
    expect(r.exitCode).toBe(143);
  });

  it('with no command in charge, the first Ctrl-C ends the process at once with 130', async () => {
    const child = start(false);
    await ready(child);
    child.kill('SIGINT');
    const r = await child;
    expect(r.exitCode).toBe(130);
    expect(r.stdout).toContain('SIGINT: stopping');
  });

  it('a second Ctrl-C quits at once even while cleaning up', async () => {
    const child = execa('node', ['--import', 'tsx', '--input-type=module', '-e', script(false).replace('console.log("ready")', 'interruptSignal(); console.log("ready")')], { reject: false, timeout: 30_000 });
    await ready(child);
    child.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 300));
    child.kill('SIGINT');
    const r = await child;
    expect(r.exitCode).toBe(130);
    expect(r.stdout).toContain('SIGINT again: quitting at once');
  });
});
