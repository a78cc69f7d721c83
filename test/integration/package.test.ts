import { readFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The compiled package as a user gets it. The global setup (test/helpers/build-dist.ts) has just
// built dist/ from the current sources.
const ROOT = resolve('.');
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string; files: string[] };
const TSC = createRequire(import.meta.url).resolve('typescript/bin/tsc');

let dir: string;
/** A copy of the package (package.json + what `files` lists) beside its dependencies, minus tsx. */
let pkg: string;
/** A clean environment: no NODE_OPTIONS (no --import tsx), nothing inherited from vitest. */
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cloudprobe-pkg-'));
  pkg = join(dir, 'cloudprobe');
  for (const f of ['package.json', ...PKG.files]) await cp(join(ROOT, f), join(pkg, f), { recursive: true });
  // Every installed package except tsx: if the CLI or the library needed tsx (its loader, or a
  // .ts file), loading them here fails. Nothing above /tmp holds a node_modules with tsx.
  await mkdir(join(pkg, 'node_modules'));
  for (const name of await readdir(join(ROOT, 'node_modules'))) {
    if (name === 'tsx' || name.startsWith('.')) continue;
    await symlink(join(ROOT, 'node_modules', name), join(pkg, 'node_modules', name));
  }
  env = { PATH: process.env.PATH, HOME: dir, CLOUDPROBE_CACHE: join(dir, 'cache') };
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const node = (args: string[], cwd = pkg) => execa(process.execPath, args, { cwd, env, extendEnv: false, reject: false });

describe('the compiled package', () => {
  it('hides tsx from the copy (else the tests below would prove nothing)', async () => {
    const r = await node(['--input-type=module', '-e', "await import('tsx/esm/api')"]);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain('ERR_MODULE_NOT_FOUND');
  });

  it('starts the CLI with plain node and no tsx: --version, --help', async () => {
    const v = await node([join(pkg, 'bin/cloudprobe.js'), '--version']);
    expect(v.stderr).toBe('');
    expect(v.exitCode).toBe(0);
    expect(v.stdout.trim()).toBe(PKG.version);
    const h = await node([join(pkg, 'bin/cloudprobe.js'), 'run', '--help']);
    expect(h.exitCode).toBe(0);
    expect(h.stdout).toContain('Usage: cloudprobe run');
  });

  it('finds the image catalog shipped beside dist/ (package root, not ../ counting)', async () => {
    const r = await node([join(pkg, 'bin/cloudprobe.js'), 'images', 'list', '--json']);
    expect(r.stderr).toBe('');
    const names = (JSON.parse(r.stdout) as { name: string }[]).map((i) => i.name).sort();
    const shipped = (await readdir(join(ROOT, 'images'))).filter((f) => f.endsWith('.yaml')).map((f) => f.replace(/\.yaml$/, '')).sort();
    expect(names).toEqual(shipped);
    expect(names.length).toBeGreaterThan(0);
  });

  it('says in one line what to run when dist/ is missing', async () => {
    const bare = join(dir, 'bare');
    await cp(join(ROOT, 'bin'), join(bare, 'bin'), { recursive: true });
    const r = await node([join(bare, 'bin/cloudprobe.js'), '--version'], bare);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toBe(`cloudprobe: cannot load the compiled CLI (Cannot find module '${join(bare, 'dist/harness/cli/main.js')}' imported from ${join(bare, 'bin/cloudprobe.js')}): run \`npm ci\` or \`npm run build\` in ${bare}`);
  });

  it('loads the library entry points by package name: cloudprobe and cloudprobe/vitest', async () => {
    const script = "const m = await import('cloudprobe'); const v = await import('cloudprobe/vitest'); console.log(JSON.stringify({ api: Object.keys(m), vitest: Object.keys(v) }))";
    const r = await node(['--input-type=module', '-e', script]);
    expect(r.stderr).toBe('');
    const { api, vitest } = JSON.parse(r.stdout) as { api: string[]; vitest: string[] };
    expect(api).toEqual(expect.arrayContaining(['planFromFiles', 'loadCases', 'planCases', 'runCell', 'RunSession', 'installInterruptHandler', 'writeReports', 'ensureImage']));
    expect(api).not.toContain('describeMatrix'); // `.` must not pull in vitest
    expect(vitest).toEqual(expect.arrayContaining(['describeMatrix', 'planCaseFiles']));
  });

  it('emits JavaScript that imports only existing .js files (dynamic imports too)', async () => {
    const dist = join(ROOT, 'dist');
    const files = (await readdir(dist, { recursive: true })).filter((f) => f.endsWith('.js')).map((f) => join(dist, f));
    expect(files.length).toBeGreaterThan(50);
    const bad: string[] = [];
    let dynamic = 0;
    for (const file of files) {
      const text = await readFile(file, 'utf8');
      for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(["'])(\.{1,2}\/[^"']*)\1/g)) {
        if (m[0].includes('(')) dynamic++;
        const spec = m[2]!;
        const target = resolve(dirname(file), spec);
        if (!spec.endsWith('.js') || !files.includes(target)) bad.push(`${relative(ROOT, file)}: ${spec}`);
      }
    }
    expect(bad).toEqual([]);
    expect(dynamic).toBeGreaterThan(0); // e.g. cli/run-command.js's import('../matrix/run-cell.js')
  });

  it('gives TypeScript users types: a strict nodenext project type-checks against the declarations', async () => {
    const consumer = join(dir, 'consumer');
    await mkdir(join(consumer, 'node_modules', '@types'), { recursive: true });
    await symlink(pkg, join(consumer, 'node_modules', 'cloudprobe'));
    await symlink(join(ROOT, 'node_modules', '@types', 'node'), join(consumer, 'node_modules', '@types', 'node'));
    await writeFile(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', type: 'module', private: true }));
    // No allowImportingTsExtensions, no skipLibCheck: what a plain user project has.
    const compilerOptions = { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2023', noEmit: true, types: ['node'] };
    await writeFile(join(consumer, 'tsconfig.json'), JSON.stringify({ compilerOptions, include: ['*.ts'] }));
    await writeFile(
      join(consumer, 'good.ts'),
      [
        "import { planFromFiles, RunSession, type CellResult, type Plan } from 'cloudprobe';",
        "import { describeMatrix, planCaseFiles } from 'cloudprobe/vitest';",
        "const plan: Plan = await planFromFiles(['cases'], { images: ['debian-12-eni'] });",
        "const results: CellResult[] = (await new RunSession({ plan, jobs: 1, artifactsRoot: 'a', runCell: async () => { throw new Error('no'); } }).run()).report.results;",
        "describeMatrix(await planCaseFiles(['cases']), { jobs: results.length + 1 });",
        '',
      ].join('\n'),
    );
    const good = await execa(process.execPath, [TSC, '-p', consumer], { reject: false, all: true });
    expect(good.all).toBe('');
    expect(good.exitCode).toBe(0);
    // The same project with a type error fails: the declarations really carry the types.
    await writeFile(join(consumer, 'bad.ts'), "import { describeMatrix } from 'cloudprobe/vitest';\ndescribeMatrix([], { jobs: 'two' });\n");
    const bad = await execa(process.execPath, [TSC, '-p', consumer], { reject: false, all: true });
    expect(bad.exitCode).not.toBe(0);
    expect(bad.all).toMatch(/bad\.ts\(2,\d+\): error TS2322/);
  });
});
