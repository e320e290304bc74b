/**
 * The ops_ext runner on ops of issue 18 that the visible golden file has no case for (acosh,
 * atanh, cumprod, floor/ceil/round/sign): cases built from a visible one with expected values
 * written from the math here, so that held-out cases of these ops find a runner that is right.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { OracleCase, OracleTensor } from '../packages/lab/src/cli/oracle/format.js';
import { runCase } from '../packages/lab/src/cli/oracle/runner.js';
import { parseOracleFile } from '../packages/lab/src/cli/oracle/validate.js';

const file = fileURLToPath(new URL('../packages/lab/oracle/ops_ext.json', import.meta.url));
const cases = JSON.parse(readFileSync(file, 'utf8')) as OracleCase[];
const sin2d = cases.find((c) => c.name === 'sin_2d')!;

/** sin_2d with another op: x mapped by `domain`, out/grad/hvp from f, f′, f″ (φ = Σ R·f(x)). */
function unaryCase(op: string, domain: (x: number) => number, f: (x: number) => number, d1: (x: number) => number, d2: (x: number) => number): OracleCase {
  const c = structuredClone(sin2d);
  const x = (c.inputs.x as OracleTensor).data.map(domain);
  const R = (c.inputs.cotangent as OracleTensor).data;
  const v = (c.inputs.v_x as OracleTensor).data;
  const shape = (c.inputs.x as OracleTensor).shape;
  const t = (data: number[]): OracleTensor => ({ shape, data });
  c.name = `${op}_from_sin_2d`;
  c.config.op = op;
  c.inputs.x = t(x);
  c.expected = { out: t(x.map(f)), grad_x: t(x.map((xi, i) => d1(xi) * R[i]!)), hvp_x: t(x.map((xi, i) => d2(xi) * R[i]! * v[i]!)) };
  return c;
}

const zero = () => 0;
const UNSEEN: OracleCase[] = [
  unaryCase('acosh', (x) => 1.2 + Math.abs(x), Math.acosh, (x) => 1 / Math.sqrt(x * x - 1), (x) => -x / (x * x - 1) ** 1.5),
  unaryCase('atanh', (x) => 0.8 * Math.tanh(x), Math.atanh, (x) => 1 / (1 - x * x), (x) => (2 * x) / (1 - x * x) ** 2),
  unaryCase('floor', (x) => 3 * x + 0.25, Math.floor, zero, zero),
  unaryCase('ceil', (x) => 3 * x + 0.25, Math.ceil, zero, zero),
  unaryCase('round', (x) => 3 * x + 0.25, Math.round, zero, zero),
  unaryCase('sign', (x) => x, Math.sign, zero, zero),
];

describe('ops_ext: ops without a visible case', () => {
  it('pass the schema check', () => {
    expect(() => parseOracleFile(JSON.stringify(UNSEEN), 'ops_ext.json', 'ops_ext')).not.toThrow();
  });

  it.each(UNSEEN.map((c) => [c.name, c] as const))('%s passes in float64 and float32', (_name, c) => {
    for (const dtype of ['float64', 'float32'] as const) {
      const r = runCase(c, dtype);
      expect(r.reason, r.reason).toBeUndefined();
      expect(r.failures, JSON.stringify(r.failures)).toEqual([]);
    }
  });

  it('cumprod: prefix products, their gradient and HVP along dim 1', () => {
    const c = structuredClone(sin2d);
    const x = c.inputs.x as OracleTensor;
    const [rows, cols] = x.shape as [number, number];
    const data = x.data.map((v) => 0.5 + Math.abs(v));
    const R = (c.inputs.cotangent as OracleTensor).data;
    const v = (c.inputs.v_x as OracleTensor).data;
    const at = (i: number, j: number) => data[i * cols + j]!;
    const out: number[] = [];
    const grad: number[] = [];
    const hvp: number[] = [];
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) {
        let p = 1;
        for (let k = 0; k <= j; k++) p *= at(i, k);
        out.push(p);
      }
      // φ = Σ_j R_j Π_{k≤j} x_k: ∂φ/∂x_a = Σ_{j≥a} R_j Π_{k≤j, k≠a} x_k; the HVP sums ∂²φ/∂x_a∂x_b · v_b.
      const prodExcept = (j: number, skip: number[]) => {
        let p = 1;
        for (let k = 0; k <= j; k++) if (!skip.includes(k)) p *= at(i, k);
        return p;
      };
      for (let a = 0; a < cols; a++) {
        let g = 0;
        let h = 0;
        for (let j = a; j < cols; j++) {
          g += R[i * cols + j]! * prodExcept(j, [a]);
          for (let b = 0; b <= j; b++) if (b !== a) h += R[i * cols + j]! * prodExcept(j, [a, b]) * v[i * cols + b]!;
        }
        grad.push(g);
        hvp.push(h);
      }
    }
    c.name = 'cumprod_from_sin_2d';
    c.config = { ...c.config, op: 'cumprod', dim: 1 };
    c.inputs.x = { shape: x.shape, data };
    c.expected = { out: { shape: x.shape, data: out }, grad_x: { shape: x.shape, data: grad }, hvp_x: { shape: x.shape, data: hvp } };
    const r = runCase(c, 'float64');
    expect(r.failures, JSON.stringify(r.failures)).toEqual([]);
  });
});
