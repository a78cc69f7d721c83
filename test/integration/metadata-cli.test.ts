import { createServer, type AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FULL_INSTANCE_YAML } from '../helpers/instances.ts';
import { httpRequest } from '../helpers/raw-http.ts';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cloudprobe-test-mdcli-'));
  await writeFile(join(dir, 'web.yaml'), FULL_INSTANCE_YAML);
  await writeFile(join(dir, 'db.yaml'), 'name: db\nuuid: 12345678-1234-4234-8234-123456789abc\n');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Starts `cloudprobe metadata serve` and collects its JSON lines up to the {service} line. */
async function serve(args: string[]): Promise<{ proc: ResultPromise; lines: Record<string, string>[] }> {
  const proc = execa('node', ['bin/cloudprobe.js', 'metadata', 'serve', ...args], { reject: false, timeout: 60_000 });
  const lines: Record<string, string>[] = [];
  const rl = createInterface({ input: proc.stdout as NodeJS.ReadableStream });
  for await (const line of rl) {
    const obj = JSON.parse(line) as Record<string, string>;
    lines.push(obj);
    if (obj.service) break;
  }
  return { proc, lines };
}

describe('cloudprobe metadata serve', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)('serves every instance on its own endpoint, then exits 0 on %s', async (signal) => {
    const logDir = join(dir, `logs-${signal}`);
    const { proc, lines } = await serve(['--instance', join(dir, 'web.yaml'), '--instance', join(dir, 'db.yaml'), '--secret', 's', '--imdsv2', 'optional', '--guest-ip', '169.254.169.15', '--log-dir', logDir]);
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatchObject({ uuid: '0f3c1c2e-5b7a-4d5e-9a2b-1c2d3e4f5a6b', name: 'web-1', url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/) });
    expect(lines[1]).toMatchObject({ uuid: '12345678-1234-4234-8234-123456789abc', name: 'db' });
    expect(lines[2]?.service).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const port = (url?: string) => Number(new URL(url ?? '').port);

    const web = await httpRequest(port(lines[0]?.url), 'GET', '/latest/meta-data/local-ipv4');
    expect(web.body.toString()).toBe('169.254.169.15');
    const db = await httpRequest(port(lines[1]?.url), 'GET', '/openstack/latest/meta_data.json');
    expect(JSON.parse(db.body.toString()).uuid).toBe('12345678-1234-4234-8234-123456789abc');
    expect((await httpRequest(port(lines[1]?.url), 'GET', '/latest/meta-data/', { 'x-aws-ec2-metadata-token': 'bad' })).status).toBe(401);
    expect((await httpRequest(port(lines[2]?.service), 'GET', '/latest/meta-data/')).status).toBe(400);

    proc.kill(signal);
    const r = await proc;
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toBe('');
    await expect(httpRequest(port(lines[0]?.url), 'GET', '/')).rejects.toThrow(/ECONNREFUSED/);
    await expect(httpRequest(port(lines[2]?.service), 'GET', '/')).rejects.toThrow(/ECONNREFUSED/);
    const log = await readFile(join(logDir, `${lines[0]?.uuid}.metadata.jsonl`), 'utf8');
    expect(log.trim().split('\n').map((l) => JSON.parse(l).path)).toEqual(['/latest/meta-data/local-ipv4']);
  });

  it('rejects a bad port and a bad instance file with a clear message', async () => {
    const badPort = await execa('node', ['bin/cloudprobe.js', 'metadata', 'serve', '--instance', join(dir, 'db.yaml'), '--port', '99999'], { reject: false, timeout: 60_000 });
    expect(badPort.exitCode).toBe(2);
    expect(badPort.stderr).toContain('--port 99999');
    await writeFile(join(dir, 'bad.yaml'), 'name: x\nbogus: 1\n');
    const bad = await execa('node', ['bin/cloudprobe.js', 'metadata', 'serve', '--instance', join(dir, 'bad.yaml')], { reject: false, timeout: 60_000 });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/bad\.yaml:\d+:\d+: .*bogus/);
    // Two instance files with one uuid, and a --log-dir that cannot hold files: refused before anything is announced.
    await writeFile(join(dir, 'dup.yaml'), await readFile(join(dir, 'db.yaml'), 'utf8'));
    const dup = await execa('node', ['bin/cloudprobe.js', 'metadata', 'serve', '--instance', join(dir, 'db.yaml'), '--instance', join(dir, 'dup.yaml')], { reject: false, timeout: 60_000 });
    expect(dup.exitCode).toBe(2);
    expect(dup.stdout).toBe('');
    expect(dup.stderr).toMatch(new RegExp(`--instance ${join(dir, 'dup.yaml')}: uuid \\S+ is already the uuid of ${join(dir, 'db.yaml')}`));
    const proc = await execa('node', ['bin/cloudprobe.js', 'metadata', 'serve', '--instance', join(dir, 'db.yaml'), '--log-dir', '/proc/cloudprobe-logs'], { reject: false, timeout: 60_000 });
    expect([proc.exitCode, proc.stdout, proc.stderr.trim()]).toEqual([2, '', 'cloudprobe: --log-dir /proc/cloudprobe-logs: /proc is on procfs, which holds no files of ours']);
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', () => resolve()));
    const busyPort = (taken.address() as AddressInfo).port;
    try {
      const busy = await execa('node', ['bin/cloudprobe.js', 'metadata', 'serve', '--instance', join(dir, 'db.yaml'), '--port', String(busyPort)], { reject: false, timeout: 60_000 });
      expect(busy.exitCode).toBe(2);
      expect(busy.stderr).toContain(`127.0.0.1:${busyPort} is already in use`);
    } finally {
      taken.close();
    }
  });
});
