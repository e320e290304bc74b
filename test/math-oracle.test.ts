/**
 * The math table (ops-ext-math.ts) of the PyTorch oracle's ops_ext family
 * (packages/lab/oracle/README.md, "Family 8") covers every math op of the file, and each of its
 * cases has a second-order part. The cases themselves (values, gradients and HVPs, in float64 at
 * the file's tolerances and in float32 at the runner's, on cpu and wasm) run in the oracle
 * matrix of test/oracle.test.ts.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import type { OracleCase } from '../packages/lab/src/cli/oracle/format.js';
import { MATH_OPS } from '../packages/lab/src/cli/oracle/families/ops-ext-math.js';

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
