import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/**
 * Data flows one way: case → plan → cell → network + datasource → VM → probes → verdicts → report.
 * Each folder of harness/ may import only the folders listed for it (plus itself and npm
 * packages); anything else is an upward or sideways import and fails lint. A new folder must be
 * added here (test/unit/lint-layers.test.ts checks every folder is listed).
 */
export const LAYERS = {
  util: [],
  model: ['util'],
  host: ['model', 'util'],
  ssh: ['model', 'util'],
  images: ['host', 'model', 'util'],
  datasource: ['host', 'model', 'util'],
  metadata: ['datasource', 'model', 'util'],
  vm: ['host', 'ssh', 'model', 'util'],
  // The neutron backend's metadata agent signs for nova with metadata/'s signing, as neutron's agent does.
  network: ['vm', 'metadata', 'host', 'model', 'util'],
  probes: ['ssh', 'model', 'util'],
  report: ['model', 'util'],
  plan: ['images', 'datasource', 'ssh', 'model', 'util'],
  run: ['plan', 'vm', 'network', 'datasource', 'metadata', 'probes', 'report', 'images', 'host', 'ssh', 'model', 'util'],
  // certify: a local image with no manifest, through the same planner and run session as `run`.
  certify: ['run', 'plan', 'report', 'images', 'ssh', 'host', 'model', 'util'],
  vitest: ['run', 'plan', 'report', 'model', 'util'],
  cli: ['certify', 'run', 'plan', 'vm', 'network', 'datasource', 'metadata', 'probes', 'report', 'images', 'host', 'ssh', 'model', 'util'],
};

const folders = Object.keys(LAYERS);
/** Only harness/vitest/ may import vitest (a dev and optional peer dependency). */
const noVitest = { name: 'vitest', message: 'only harness/vitest/ may import vitest (an optional peer dependency)' };

function layerRule(folder) {
  const forbidden = folders.filter((f) => f !== folder && !LAYERS[folder].includes(f));
  const patterns = forbidden.map((f) => ({
    // From harness/<folder>/x.ts and from one folder deeper (harness/<folder>/<sub>/x.ts).
    group: [`../${f}/**`, `../../${f}/**`],
    message: `harness/${folder}/ may import only ${LAYERS[folder].join(', ') || 'nothing else in harness/'}: ${f}/ is not below it (see LAYERS in eslint.config.js)`,
  }));
  patterns.push({ group: ['../index.ts', '../../index.ts'], message: 'harness/index.ts is the public entry: import the module itself' });
  return {
    files: [`harness/${folder}/**/*.ts`],
    rules: { 'no-restricted-imports': ['error', { patterns, paths: folder === 'vitest' ? [] : [noVitest] }] },
  };
}

export default tseslint.config(
  { ignores: ['node_modules/**', 'reports/**', '.cache/**', 'bench/out/**', 'dist/**', 'dist.new-*/**', 'dist.old-*/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  ...folders.map(layerRule),
);
