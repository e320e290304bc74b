/**
 * cumsum, logcumsumexp and the linearScan primitive behind cumprod/prod: the ops_ext oracle has
 * cases of every reduction/scan op (their values against PyTorch run in float64 and float32 on
 * cpu and wasm in the oracle matrix of test/oracle.test.ts); values against scalar references on random shapes and strided layouts; float64 finite differences
 * of the gradient and of the gradient's gradient; forward mode against the double-vjp
 * reference; vmap and per-sample gradients against loops; large offsets; errors.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { OracleCase } from '../packages/lab/src/cli/oracle/format.js';
import {
  GradError,
  cumprod,
  grad,
  cumsum,
  gradients,
  logcumsumexp,
  logsumexp,
  perSampleGradients,
  randn,
  sum,
  tensor,
  vmap,
  type Tensor,
} from '../src/index.js';
import { jvp, jvpByDoubleVjp } from '../src/autograd/transforms.js';
import { linearScan } from '../src/autograd/ops/linear-scan.js';
import type { Backend } from '../src/kernels/backend.js';
import { cpuBackend } from '../src/kernels/cpu/index.js';
import { createGpuBackend } from '../src/kernels/gpu/index.js';
import { loadGpuJsModule } from '../src/kernels/gpu/provide.js';
import { createWasmBackend, simdAvailable } from '../src/kernels/wasm/index.js';
import { expectAllClose, gradcheck, gradgradcheck } from './gradcheck.js';
import { mulberry32, ravel, unravel } from './arbitraries.js';

const f64 = { dtype: 'float64' as const };
const dir = fileURLToPath(new URL('../packages/lab/oracle/', import.meta.url));
const OURS = ['cumsum', 'logcumsumexp', 'prod', 'norm', 'einsum'];
const oracleCases = (JSON.parse(readFileSync(`${dir}ops_ext.json`, 'utf8')) as OracleCase[]).filter((c) => OURS.includes(c.config.op));

describe('ops_ext oracle: the reductions and scans (cumsum, logcumsumexp, prod, norm, einsum)', () => {
  it('has cases of every op', () => expect(new Set(oracleCases.map((c) => c.config.op))).toEqual(new Set(OURS)));
  // The cases run in the oracle matrix of test/oracle.test.ts (float64 and float32, cpu and wasm).
});

// ---- references ------------------------------------------------------------------------------

/** A random float64 tensor, optionally viewed through a permutation (non-contiguous strides). */
function randomInput(shape: number[], seed: number, permuted: boolean, offset = 0): Tensor {
  const rng = mulberry32(seed);
  if (!permuted || shape.length < 2) {
    return tensor(Float64Array.from({ length: shape.reduce((p, d) => p * d, 1) }, () => offset + 4 * rng() - 2), { shape, ...f64 });
  }
  // Store the reversed-axes layout and permute back: same logical shape, reversed strides.
  const rev = shape.slice().reverse();
  const base = tensor(Float64Array.from({ length: rev.reduce((p, d) => p * d, 1) }, () => offset + 4 * rng() - 2), { shape: rev, ...f64 });
  return base.permute(rev.map((_, i) => rev.length - 1 - i));
}

/** The scan of `f` along `axis` computed element by element from the logical values. */
function scanReference(x: Tensor, axis: number, reverse: boolean, combine: (acc: number | null, v: number) => number): number[] {
  const values = Array.from(x.contiguous().toTypedArray());
  const out = new Array<number>(values.length);
  const n = x.shape[axis]!;
  for (let flat = 0; flat < values.length; flat++) {
    const idx = unravel(flat, x.shape);
    if (idx[axis] !== (reverse ? n - 1 : 0)) continue;
    let acc: number | null = null;
    for (let i = 0; i < n; i++) {
      const k = reverse ? n - 1 - i : i;
      const at = ravel(idx.map((v, d) => (d === axis ? k : v)), x.shape);
      acc = combine(acc, values[at]!);
      out[at] = acc;
    }
  }
  return out;
}

const addRef = (acc: number | null, v: number) => (acc ?? 0) + v;
const logAddExpRef = (acc: number | null, v: number) => {
  if (acc === null) return v;
  const m = Math.max(acc, v);
  return m + Math.log(Math.exp(acc - m) + Math.exp(v - m));
};
const mulRef = (acc: number | null, v: number) => (acc ?? 1) * v;

const shapeAndAxis = fc
  .array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 })
  .chain((shape) => fc.record({ shape: fc.constant(shape), axis: fc.integer({ min: -shape.length, max: shape.length - 1 }), reverse: fc.boolean(), permuted: fc.boolean(), seed: fc.integer({ min: 1, max: 1e6 }) }));

// ---- values -----------------------------------------------------------------------------------

describe('cumsum', () => {
  it('equals the running sum along the axis, on any layout, forward or reversed (property)', () => {
    fc.assert(
      fc.property(shapeAndAxis, ({ shape, axis, reverse, permuted, seed }) => {
        const x = randomInput(shape, seed, permuted);
        const ax = axis < 0 ? axis + shape.length : axis;
        expectAllClose(cumsum(x, axis, reverse), scanReference(x, ax, reverse, addRef), { rtol: 1e-13, atol: 1e-13, shape });
      }),
      { numRuns: 60 },
    );
  });

  it("its last element along the axis is the axis' sum (property)", () => {
    fc.assert(
      fc.property(shapeAndAxis, ({ shape, axis, permuted, seed }) => {
        const x = randomInput(shape, seed, permuted);
        const ax = axis < 0 ? axis + shape.length : axis;
        const n = shape[ax]!;
        const last = cumsum(x, axis).slice(shape.map((_, d) => (d === ax ? ([n - 1, n] as const) : null))).squeeze(ax);
        expectAllClose(last, Array.from(sum(x, ax).toTypedArray()), { rtol: 1e-13, atol: 1e-13 });
      }),
      { numRuns: 40 },
    );
  });

  it('keeps float32, and accepts a 0-d tensor (its own cumsum)', () => {
    const y = cumsum(tensor([1, 2, 3.5]), 0);
    expect(y.dtype).toBe('float32');
    expect(Array.from(y.toTypedArray())).toEqual([1, 3, 6.5]);
    expect(cumsum(tensor(2.5), 0).shape).toEqual([]);
    expect(cumsum(tensor(2.5), -1).item()).toBe(2.5);
  });

  it('has the reversed cumsum as its gradient, and gradients of gradients (finite differences)', () => {
    const x = randomInput([3, 4, 2], 11, true);
    for (const [axis, reverse] of [[0, false], [1, true], [-1, false]] as const) {
      gradcheck((t) => cumsum(t, axis, reverse), [x], { name: `cumsum axis ${axis}${reverse ? ' reverse' : ''}`, samples: 24 });
      // cumsum is linear, so the second derivative of ⟨cumsum(x)², c⟩ exercises its backward twice.
      gradgradcheck((t) => cumsum(t, axis, reverse).mul(cumsum(t, axis, reverse)), [x], { name: `cumsum² axis ${axis}`, samples: 24 });
    }
  });
});

describe('logcumsumexp', () => {
  it('equals log Σ_{j ≤ k} exp xⱼ along the axis, on any layout, forward or reversed (property)', () => {
    fc.assert(
      fc.property(shapeAndAxis, ({ shape, axis, reverse, permuted, seed }) => {
        const x = randomInput(shape, seed, permuted);
        const ax = axis < 0 ? axis + shape.length : axis;
        expectAllClose(logcumsumexp(x, axis, reverse), scanReference(x, ax, reverse, logAddExpRef), { rtol: 1e-13, atol: 1e-13, shape });
      }),
      { numRuns: 60 },
    );
  });

  it('ends in the logsumexp of the axis (property)', () => {
    fc.assert(
      fc.property(shapeAndAxis, ({ shape, axis, permuted, seed }) => {
        const x = randomInput(shape, seed, permuted);
        const ax = axis < 0 ? axis + shape.length : axis;
        const n = shape[ax]!;
        const last = logcumsumexp(x, axis).slice(shape.map((_, d) => (d === ax ? ([n - 1, n] as const) : null))).squeeze(ax);
        expectAllClose(last, Array.from(logsumexp(x, ax).toTypedArray()), { rtol: 1e-13, atol: 1e-13 });
      }),
      { numRuns: 40 },
    );
  });

  it('neither overflows nor underflows with offsets of ±800 and values far apart, in float32 too', () => {
    for (const dtype of ['float64', 'float32'] as const) {
      const x = tensor([800, 801.5, -800, 799, 1e-3], { dtype }).requireGrad();
      const y = logcumsumexp(x, 0);
      const expected = scanReference(tensor([800, 801.5, -800, 799, 1e-3], f64), 0, false, logAddExpRef);
      expectAllClose(y, expected, { rtol: dtype === 'float64' ? 1e-15 : 1e-7, atol: 0 });
      const [g] = gradients([y], [x], { gradOutputs: [tensor([1, -2, 0.5, 3, 1], { dtype })] });
      const values = Array.from(g!.toTypedArray());
      expect(values.every(Number.isFinite)).toBe(true);
      // ∂/∂x₂ (x₂ = −800, far below the prefix maximum): e^{−1600} ≈ 0, not NaN.
      expect(values[2]).toBe(0);
      const negative = logcumsumexp(tensor([-800, -801, -799.5], { dtype }), 0);
      expectAllClose(negative, scanReference(tensor([-800, -801, -799.5], f64), 0, false, logAddExpRef), { rtol: dtype === 'float64' ? 1e-15 : 1e-7, atol: 0 });
    }
  });

  it('has −∞ as the identity: a −∞ after finite values gets gradient 0, all −∞ stays −∞', () => {
    const x = tensor([0, -Infinity, 1], f64).requireGrad();
    const y = logcumsumexp(x, 0);
    expect(Array.from(y.toTypedArray())).toEqual([0, 0, Math.log(1 + Math.E)]);
    const [g] = gradients([y.sum()], [x]);
    expect(g!.toTypedArray()[1]).toBe(0);
    expect(Array.from(logcumsumexp(tensor([-Infinity, -Infinity], f64), 0).toTypedArray())).toEqual([-Infinity, -Infinity]);
    // As in PyTorch: a −∞ where the prefix is still −∞ has a NaN gradient; the rest is unaffected.
    const lead = tensor([-Infinity, 0.5], f64).requireGrad();
    const [gl] = gradients([logcumsumexp(lead, 0).sum()], [lead]);
    expect(Number.isNaN(gl!.toTypedArray()[0])).toBe(true);
    expect(gl!.toTypedArray()[1]).toBe(1);
    expect(Array.from(logcumsumexp(tensor([Infinity, 1], f64), 0).toTypedArray())).toEqual([Infinity, Infinity]);
    expect(Number.isNaN(logcumsumexp(tensor([1, NaN, 2], f64), 0).toTypedArray()[2])).toBe(true);
  });

  it('has gradients and gradients of gradients equal to finite differences, also at offsets of 800', () => {
    for (const offset of [0, 800, -800]) {
      const x = randomInput([3, 4, 2], 5 + offset, true, offset);
      for (const [axis, reverse] of [[1, false], [0, true], [-1, false]] as const) {
        gradcheck((t) => logcumsumexp(t, axis, reverse), [x], { name: `logcumsumexp axis ${axis} offset ${offset}`, samples: 24 });
        gradgradcheck((t) => logcumsumexp(t, axis, reverse), [x], { name: `logcumsumexp axis ${axis} offset ${offset}`, samples: 24 });
      }
    }
  });

  it('has a third derivative too (the backward of its backward is differentiable)', () => {
    const x = randomInput([5], 3, false);
    const v = randomInput([5], 4, false);
    // g(x) = ⟨∇ₓ⟨lcse(x), c⟩, v⟩ is a second-order quantity; its gradient is third order.
    const c = randomInput([5], 6, false);
    const hv = (t: Tensor) => grad((u: Tensor) => logcumsumexp(u, 0).mul(c).sum(), { createGraph: true })(t).mul(v).sum();
    gradgradcheck(hv, [x], { name: 'third derivative of logcumsumexp', samples: 5 });
  });
});

describe('linearScan (hₖ = aₖ·hₖ₋₁ + bₖ) and cumprod', () => {
  it('linearScan equals the recurrence, forward and reversed', () => {
    const a = tensor([[2, 3, 0.5], [1, -1, 4]], f64);
    const b = tensor([[1, 1, 1], [0.5, 2, -1]], f64);
    expect(Array.from(linearScan(a, b, 1, false).toTypedArray())).toEqual([1, 4, 3, 0.5, 1.5, 5]);
    // Reversed: h₂ = b₂, h₁ = a₁h₂ + b₁, h₀ = a₀h₁ + b₀.
    expect(Array.from(linearScan(a, b, 1, true).toTypedArray())).toEqual([9, 4, 1, 3.5, 3, -1]);
  });

  it('linearScan has gradients and gradients of gradients in both operands (finite differences)', () => {
    const a = randomInput([3, 4], 21, true);
    const b = randomInput([3, 4], 22, false);
    for (const [axis, reverse] of [[1, false], [0, true], [1, true]] as const) {
      gradcheck((p, q) => linearScan(p, q, axis, reverse), [a, b], { name: `linearScan axis ${axis}`, samples: 12 });
      gradgradcheck((p, q) => linearScan(p, q, axis, reverse), [a, b], { name: `linearScan axis ${axis}`, samples: 12 });
    }
  });

  it('cumprod equals the running product, on any layout (property)', () => {
    fc.assert(
      fc.property(shapeAndAxis, ({ shape, axis, permuted, seed }) => {
        const x = randomInput(shape, seed, permuted);
        const ax = axis < 0 ? axis + shape.length : axis;
        expectAllClose(cumprod(x, axis), scanReference(x, ax, false, mulRef), { rtol: 1e-13, atol: 1e-13, shape });
      }),
      { numRuns: 40 },
    );
  });

  it('cumprod has exact gradients and gradients of gradients at zeros (finite differences of a polynomial)', () => {
    const x = tensor([[1.5, 0, -0.7, 1.2], [0, 0.9, 0, -1.1], [0.8, -1.3, 1.1, 0]], f64);
    gradcheck((t) => cumprod(t, 1), [x], { name: 'cumprod with zeros', samples: 12 });
    gradgradcheck((t) => cumprod(t, 1), [x], { name: 'cumprod with zeros', samples: 12 });
    gradgradcheck((t) => cumprod(t, 0), [x], { name: 'cumprod with zeros, axis 0', samples: 12 });
  });
});

// ---- forward mode, vmap, per-sample gradients ---------------------------------------------------

const SCANS: [string, (x: Tensor) => Tensor][] = [
  ['cumsum', (x) => cumsum(x, 1)],
  ['cumsum reverse', (x) => cumsum(x, 0, true)],
  ['logcumsumexp', (x) => logcumsumexp(x, 1)],
  ['logcumsumexp reverse', (x) => logcumsumexp(x, -1, true)],
  ['cumprod', (x) => cumprod(x, 1)],
  ['linearScan', (x) => linearScan(x.mul(0.5), x.exp(), 1, true)],
];

describe('forward mode', () => {
  it.each(SCANS)('%s: jvp equals the double-vjp reference', (_name, f) => {
    const x = randomInput([3, 4], 31, true);
    const t = randomInput([3, 4], 32, false);
    const [y, dy] = jvp(f, [x], [t]);
    const [yRef, dyRef] = jvpByDoubleVjp(f, [x], [t]);
    expectAllClose(y, Array.from(yRef.toTypedArray()), { rtol: 1e-14, atol: 1e-14 });
    expectAllClose(dy, Array.from(dyRef.toTypedArray()), { rtol: 1e-12, atol: 1e-13 });
  });

  it('logcumsumexp: jvp stays finite and right at offsets of ±800', () => {
    const x = tensor([800, -800, 801, 799.5], f64);
    const t = tensor([1, 2, -1, 0.5], f64);
    const [, dy] = jvp((u: Tensor) => logcumsumexp(u, 0), [x], [t]);
    const [, dyRef] = jvpByDoubleVjp((u: Tensor) => logcumsumexp(u, 0), [x], [t]);
    expect(Array.from(dy.toTypedArray()).every(Number.isFinite)).toBe(true);
    expectAllClose(dy, Array.from(dyRef.toTypedArray()), { rtol: 1e-12, atol: 1e-13 });
  });
});

describe('vmap', () => {
  it.each(SCANS)('%s: vmap over axis 0, 1 or 2 equals a loop over the samples', (_name, f) => {
    for (const inAxis of [0, 1, 2]) {
      const shape = [3, 4];
      shape.splice(inAxis, 0, 2);
      const xs = randomInput(shape, 41 + inAxis, inAxis === 1);
      const out = vmap(f, { inAxes: inAxis })(xs);
      for (let b = 0; b < 2; b++) {
        const sample = xs.slice(shape.map((_, d) => (d === inAxis ? ([b, b + 1] as const) : null))).squeeze(inAxis);
        expectAllClose(out.slice([[b, b + 1]]).squeeze(0), Array.from(f(sample).toTypedArray()), { rtol: 1e-14, atol: 1e-14 });
      }
    }
  });

  it('vmap of the gradient (per-sample gradients) equals a loop, and sums to the batch gradient', () => {
    const w = randomInput([4], 51, false).requireGrad();
    const xs = randomInput([3, 2, 4], 52, false);
    const loss = (x: Tensor, p: Tensor) => logcumsumexp(cumsum(x.mul(p), 1), 0).mul(cumprod(p, 0)).sum();
    const rows = vmap((x: Tensor) => gradients([loss(x, w)], [w])[0]!)(xs);
    const total = gradients([[0, 1, 2].map((b) => loss(xs.slice([[b, b + 1]]).squeeze(0), w)).reduce((p, q) => p.add(q))], [w])[0]!;
    for (let b = 0; b < 3; b++) {
      const [g] = gradients([loss(xs.slice([[b, b + 1]]).squeeze(0), w)], [w]);
      expectAllClose(rows.slice([[b, b + 1]]).squeeze(0), Array.from(g!.toTypedArray()), { rtol: 1e-13, atol: 1e-13 });
    }
    expectAllClose(rows.sum(0), Array.from(total.toTypedArray()), { rtol: 1e-13, atol: 1e-13 });
  });
});

describe('perSampleGradients through scans', () => {
  // The parameter meets the batch in a matmul (the Linear-layer rule); the scans run along axis 1.
  const program = (x: Tensor, p: Tensor) => {
    const h = x.matmul(p);
    return logcumsumexp(cumsum(h, 1), 1).mul(cumprod(h, 1)).sum(1);
  };

  it('follows the batch axis through scans along other axes: rows = batches of one, summing to the batch gradient', () => {
    const x = randn([4, 5], { seed: 61, ...f64 });
    const p = randn([5, 3], { seed: 62, ...f64 }).requireGrad();
    const input = x.detach().requireGrad();
    const [rows] = perSampleGradients(program(input, p), [p], input);
    for (let i = 0; i < 4; i++) {
      const [g] = gradients([program(x.slice([[i, i + 1]]), p).sum()], [p]);
      expectAllClose(rows!.slice([[i, i + 1]]).squeeze(0), Array.from(g!.toTypedArray()), { rtol: 1e-12, atol: 1e-13 });
    }
    const [batch] = gradients([program(x, p).sum()], [p]);
    expectAllClose(rows!.sum(0), Array.from(batch!.toTypedArray()), { rtol: 1e-12, atol: 1e-13 });
  });

  it.each([
    ['cumsum', (x: Tensor) => cumsum(x, 0)],
    ['logcumsumexp', (x: Tensor) => logcumsumexp(x, 0)],
    ['linearScan', (x: Tensor) => linearScan(x, x.exp(), 0, true)],
  ])('refuses a %s along the batch axis (samples interact)', (_name, f) => {
    const x = randn([3, 2], { seed: 63, ...f64 }).requireGrad();
    const p = randn([2, 2], { seed: 64, ...f64 }).requireGrad();
    const losses = f(x.matmul(p)).sum(1);
    expect(() => perSampleGradients(losses, [p], x)).toThrow(GradError);
    expect(() => perSampleGradients(losses, [p], x)).toThrow(/samples interact through '(cumsum|logcumsumexp|linearScan)' \(it scans along the batch axis\)/);
  });
});

describe('every backend has the scan kernels', () => {
  // gpu.js is an optional peer dependency (a dev dependency here); its 'cpu' mode runs anywhere.
  const backends: [string, () => Backend][] = [
    ['wasm', () => createWasmBackend()],
    ['gpu', () => createGpuBackend({ mode: 'cpu' })],
  ];
  it.each(backends)('%s: scan and linearScan agree with cpu on strided float32 and float64 views', async (name, make) => {
    if (name === 'wasm' && !simdAvailable()) return;
    if (name === 'gpu') await loadGpuJsModule();
    const backend = make();
    for (const dtype of ['float32', 'float64'] as const) {
      const x = randomInput([3, 4, 2], 71, true).to(dtype);
      const a = randomInput([3, 4, 2], 72, false).to(dtype);
      for (const [axis, reverse] of [[1, false], [0, true], [2, false]] as const) {
        for (const fn of ['sum', 'logaddexp'] as const) {
          expect(Array.from(backend.scan(fn, x, axis, reverse, dtype)), `${name} ${fn}`).toEqual(Array.from(cpuBackend.scan(fn, x, axis, reverse, dtype)));
        }
        expect(Array.from(backend.linearScan(a, x, axis, reverse, dtype)), `${name} linearScan`).toEqual(Array.from(cpuBackend.linearScan(a, x, axis, reverse, dtype)));
      }
    }
  });
});

describe('errors', () => {
  it('name the op, what was expected and what was given', () => {
    const x = tensor([[1, 2], [3, 4]]);
    expect(() => cumsum(x, 2)).toThrow(/cumsum: axis 2 is out of range for a tensor of rank 2/);
    expect(() => logcumsumexp(x, -3)).toThrow(/logcumsumexp: axis -3 is out of range/);
    expect(() => cumprod(x, 5)).toThrow(/cumprod: axis 5 is out of range/);
    expect(() => cumsum(x, 0.5)).toThrow(/cumsum: axis 0.5 is out of range/);
    expect(() => cumsum([1, 2] as unknown as Tensor, 0)).toThrow(/cumsum: expected a Tensor; got/);
    expect(() => cumsum(tensor([1, 2], { dtype: 'int32' }), 0)).toThrow(/cumsum/);
    expect(() => logcumsumexp(x, undefined as unknown as number)).toThrow(/logcumsumexp: expected an integer axis; got undefined/);
    expect(() => cumsum(x, 0, 'yes' as unknown as boolean)).toThrow(/cumsum: expected reverse to be true or false/);
    expect(() => linearScan(tensor([1, 2]), tensor([1, 2, 3]), 0, false)).toThrow(/linearScan: coefficients of shape \[2\] and inputs of shape \[3\]/);
  });

  it('a scan along an axis of size 1 is the identity, with the identity as its derivatives', () => {
    const x = randomInput([1, 3], 81, false);
    for (const [name, f] of [
      ['cumsum', (t: Tensor) => cumsum(t, 0)],
      ['logcumsumexp', (t: Tensor) => logcumsumexp(t, 0)],
      ['cumprod', (t: Tensor) => cumprod(t, 0)],
      ['linearScan', (t: Tensor) => linearScan(t, t.mul(2), 0, true)],
    ] as const) {
      const y = f(x);
      expectAllClose(y, Array.from(x.toTypedArray()).map((v) => (name === 'linearScan' ? 2 * v : v)), { rtol: 1e-15, atol: 0, shape: [1, 3] });
      gradgradcheck((t) => f(t).mul(f(t)), [x], { name: `${name} along a size-1 axis`, samples: 3 });
    }
  });

  it('empty axes give empty results', () => {
    expect(cumsum(tensor(new Float64Array(0), { shape: [2, 0], ...f64 }), 1).shape).toEqual([2, 0]);
    expect(logcumsumexp(tensor(new Float64Array(0), { shape: [0, 3], ...f64 }), 0).shape).toEqual([0, 3]);
    expect(cumprod(tensor(new Float64Array(0), { shape: [0], ...f64 }), 0).shape).toEqual([0]);
  });
});
