/**
 * The math cases of the PyTorch oracle's ops_ext family (packages/lab/oracle/README.md,
 * "Family 8") through the same runner as `gradscope oracle`, in float64 at the file's
 * tolerances and in float32 at the runner's (first order 1e-4/1e-5, HVPs 1e-3/1e-4): every case
 * whose op is in the math table (ops-ext-math.ts) must pass — values, gradients and HVPs.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { OracleCase } from '../packages/lab/src/cli/oracle/format.js';
import { MATH_OPS } from '../packages/lab/src/cli/oracle/families/ops-ext-math.js';
import { runCase } from '../packages/lab/src/cli/oracle/runner.js';

const file = fileURLToPath(new URL('../packages/lab/oracle/ops_ext.json', import.meta.url));
const cases = (JSON.parse(readFileSync(file, 'utf8')) as OracleCase[]).filter((c) => MATH_OPS.has(c.config.op));

it('the table covers every math op of the file (at least the 100 cases of the README)', () => {
  const ops = ['sin', 'cos', 'tan', 'asin', 'acos', 'atan', 'sinh', 'cosh', 'asinh', 'erf', 'erfc', 'log1p', 'expm1', 'reciprocal', 'rsqrt', 'square'];
  ops.push('gelu', 'silu', 'mish', 'log_sigmoid', 'softsign', 'leaky_relu', 'hardtanh', 'atan2');
  // The ops without a visible case (test/oracle-ext-unseen.test.ts checks them).
  ops.push('acosh', 'atanh', 'sign', 'floor', 'ceil', 'round');
  expect([...MATH_OPS.keys()].sort()).toEqual(ops.sort());
  expect(cases.length).toBeGreaterThanOrEqual(100);
  // Each case has a second-order part (hvp_*) as well as out and grad_*.
  for (const c of cases) expect(Object.keys(c.expected).filter((k) => k.startsWith('hvp_')).length, c.name).toBeGreaterThan(0);
});

describe.each(['float64', 'float32'] as const)('ops_ext math cases (%s)', (dtype) => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const r = runCase(c, dtype);
    expect(r.reason, r.reason).toBeUndefined();
    expect(r.failures, JSON.stringify(r.failures)).toEqual([]);
    expect(r.status).toBe('passed');
  });
});
