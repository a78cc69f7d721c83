import { readdirSync } from 'node:fs';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';
import { LAYERS } from '../../eslint.config.js';

// The layering rule must bite: lint real source text at real paths with the project's own config.
const eslint = new ESLint({ cwd: process.cwd() });

async function restricted(filePath: string, code: string): Promise<string[]> {
  const [r] = await eslint.lintText(code, { filePath });
  return (r?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('import layering (eslint.config.js LAYERS)', () => {
  it('lists every folder of harness/', () => {
    const dirs = readdirSync('harness', { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
    expect(Object.keys(LAYERS).sort()).toEqual(dirs);
  });

  it('fails an upward import: report → run, probes → vm, model → plan, a neutron module → run', async () => {
    expect(await restricted('harness/report/x.ts', "import type { RunSession } from '../run/session.ts';\nexport type X = RunSession;\n")).toEqual([
      expect.stringContaining('harness/report/ may import only model, util: run/ is not below it'),
    ]);
    expect(await restricted('harness/probes/x.ts', "import { bootVm } from '../vm/boot.ts';\nexport const b = bootVm;\n")).toHaveLength(1);
    expect(await restricted('harness/model/x.ts', "import { planCases } from '../plan/planner.ts';\nexport const p = planCases;\n")).toHaveLength(1);
    expect(await restricted('harness/network/neutron/x.ts', "import { runCell } from '../../run/run-cell.ts';\nexport const r = runCell;\n")).toHaveLength(1);
  });

  it('fails vitest outside harness/vitest/ and allows it there', async () => {
    expect(await restricted('harness/run/x.ts', "import { it } from 'vitest';\nexport const t = it;\n")).toHaveLength(1);
    expect(await restricted('harness/vitest/x.ts', "import { it } from 'vitest';\nexport const t = it;\n")).toEqual([]);
  });

  it('allows the imports the layering permits', async () => {
    expect(await restricted('harness/run/x.ts', "import { runProbes } from '../probes/run.ts';\nimport { CleanupStack } from '../util/cleanup-stack.ts';\nexport const a = [runProbes, CleanupStack];\n")).toEqual([]);
    expect(await restricted('harness/cli/x.ts', "import { RunSession } from '../run/session.ts';\nexport const s = RunSession;\n")).toEqual([]);
  });
});
