/**
 * The PyTorch golden values (packages/lab/oracle/) through the same runner as `gradscope oracle`:
 * every case of every implemented family must pass in float64 on the initial backend, and every
 * case of the four issue-18 families (ops_ext, layers_ext, optimizers_ext, interop) in float64
 * (the file's tolerances) and float32 (the runner's) on the pure TypeScript backend, on
 * WebAssembly and on the initial backend (GRADSCOPE_BACKEND) where that is another one.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendReady, getBackend, setBackend, useBackend } from '../src/index.js';
import { FAMILY_NAMES, type FamilyName, type OracleCase } from '../packages/lab/src/cli/oracle/format.js';
import { FAMILIES, runCase } from '../packages/lab/src/cli/oracle/runner.js';
import { oracleCommand } from '../packages/lab/src/cli/commands/oracle.js';

const dir = fileURLToPath(new URL('../packages/lab/oracle/', import.meta.url));
const casesOf = (family: FamilyName) => JSON.parse(readFileSync(`${dir}${family}.json`, 'utf8')) as OracleCase[];

/** Issue 18's families: run by the matrix below, on every backend in both dtypes. */
const EXT_FAMILIES: readonly FamilyName[] = ['ops_ext', 'layers_ext', 'optimizers_ext', 'interop'];
const initial = (await backendReady()).name;
const BACKENDS = [...new Set(['cpu', 'wasm', initial])];

for (const family of FAMILY_NAMES.filter((f) => !EXT_FAMILIES.includes(f))) {
  const cases = casesOf(family);
  const implemented = FAMILIES[family] !== undefined;
  describe.runIf(implemented)(`oracle ${family} (float64)`, () => {
    it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
      const r = runCase(c, 'float64');
      expect(r.reason, r.reason).toBeUndefined();
      expect(r.failures, JSON.stringify(r.failures)).toEqual([]);
      expect(r.status).toBe('passed');
    });
  });
}

describe.each(BACKENDS)('oracle issue-18 families (%s backend)', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });
  afterAll(() => setBackend(initial));
  for (const family of EXT_FAMILIES) {
    it(`${family} is implemented`, () => expect(FAMILIES[family]).toBeDefined());
    const runs = casesOf(family).flatMap((c) => (['float64', 'float32'] as const).map((dtype) => [`${c.name} ${dtype}`, c, dtype] as const));
    it.each(runs)(`${family}: %s`, (_name, c, dtype) => {
      expect(getBackend().name).toBe(backend);
      const r = runCase(c, dtype);
      expect(r.reason, r.reason).toBeUndefined();
      expect(r.failures, JSON.stringify(r.failures)).toEqual([]);
      expect(r.status).toBe('passed');
    });
  }
});

describe('oracle command', () => {
  it('prints failures, a summary per family and the exact last line', () => {
    const lines: string[] = [];
    const code = oracleCommand({ dir, dtype: 'float64', family: 'ops' }, (l) => lines.push(l));
    expect(code).toBe(0);
    expect(lines.at(-1)).toBe('149 passed, 0 failed, 0 skipped');
  });

  it('reports a wrong value as failed and exits 1', () => {
    const c = (JSON.parse(readFileSync(`${dir}ops.json`, 'utf8')) as OracleCase[])[0]!;
    const broken: OracleCase = { ...c, expected: { ...c.expected, out: { ...(c.expected.out as any), data: (c.expected.out as any).data.map((v: number) => v + 1) } } };
    const r = runCase(broken, 'float64');
    expect(r.status).toBe('failed');
    expect(r.failures.map((f) => f.key)).toEqual(['out']);
  });

  it('counts cases of unimplemented families as skipped, never passed', () => {
    const lines: string[] = [];
    oracleCommand({ dir, dtype: 'float64' }, (l) => lines.push(l));
    const unimplemented = FAMILY_NAMES.filter((f) => !FAMILIES[f]);
    for (const f of unimplemented) expect(lines.some((l) => l.startsWith(`${f}: 0 passed, 0 failed`) && l.includes('not implemented yet'))).toBe(true);
    expect(lines.at(-1)).toMatch(/^\d+ passed, 0 failed, \d+ skipped$/);
  });
});
