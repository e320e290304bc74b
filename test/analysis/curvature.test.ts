/**
 * Curvature measurements against exact references: HVP symmetry and a central difference of
 * gradients, the dense eigensolver on matrices with known spectra, Hutchinson and the Frobenius
 * estimator within a few standard errors of the exact values, Lanczos against the full
 * Hessian's eigenvalues (and a matrix whose most negative eigenvalue dominates in magnitude),
 * stochastic Lanczos quadrature, per-layer blocks, and the BatchNorm contract: the mode matters
 * and the running statistics never move.
 */
import { describe, expect, it } from 'vitest';
import { grad, randn, tensor, type Tensor } from '../../src/index.js';
import { fullHessian, operatorMatrix, perLayerCurvature, restrictOperator } from '../../src/analysis/curvature.js';
import { symmetricEigenvalues, tridiagonalEigen } from '../../src/analysis/eigen.js';
import { frobeniusNorm, hutchinsonTrace, lanczos, spectralDensity, type LinearOperator } from '../../src/analysis/lanczos.js';
import { hessianOperator, objective, type BatchNormMode } from '../../src/analysis/objective.js';
import { Tanh } from '../../src/nn/activations.js';
import { BatchNorm1d } from '../../src/nn/batchnorm.js';
import { Sequential } from '../../src/nn/container.js';
import { Linear } from '../../src/nn/linear.js';
import type { Module } from '../../src/nn/module.js';
import type { Batch } from '../../src/nn/per-sample.js';

const f64 = { dtype: 'float64' as const };

function tanhMlp(): Sequential {
  return new Sequential(new Linear(3, 5, { seed: 1, ...f64 }), new Tanh(), new Linear(5, 3, { seed: 2, ...f64 }));
}

/** A BatchNorm MLP whose running statistics are away from their initial values. */
function bnMlp(batch: Batch): Sequential {
  const model = new Sequential(new Linear(3, 4, { seed: 3, ...f64 }), new BatchNorm1d(4, f64), new Tanh(), new Linear(4, 2, { seed: 4, ...f64 }));
  model.train();
  model.forward(batch.x.mul(2).add(0.5)); // one train forward moves the running statistics
  return model;
}

const batch: Batch = { x: randn([6, 3], { seed: 7, ...f64 }), targets: [0, 1, 2, 1, 0, 2] };
const bnBatch: Batch = { x: randn([6, 3], { seed: 8, ...f64 }), targets: [0, 1, 1, 0, 1, 0] };

function dot(a: Tensor, b: Tensor): number {
  const x = a.toTypedArray();
  const y = b.toTypedArray();
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! * y[i]!;
  return s;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** The operator of a dense row-major symmetric matrix. */
function matrixOperator(a: Float64Array, n: number): LinearOperator {
  return {
    size: n,
    apply: (v: Tensor) => {
      const x = v.toTypedArray();
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[i]! += a[i * n + j]! * x[j]!;
      return tensor(out, f64);
    },
  };
}

/** Q diag(λ) Qᵀ with Q = I − 2uuᵀ a seeded Householder reflection (so the spectrum is exactly λ). */
function withSpectrum(lambda: readonly number[], seed: number): Float64Array {
  const n = lambda.length;
  const u = randn([n], { seed, ...f64 }).toTypedArray();
  const norm = Math.hypot(...u);
  const q = (i: number, j: number) => (i === j ? 1 : 0) - (2 * u[i]! * u[j]!) / (norm * norm);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += q(i, k) * lambda[k]! * q(j, k);
      a[i * n + j] = s;
    }
  }
  return a;
}

function sortedAscending(values: readonly number[]): number[] {
  return [...values].sort((a, b) => a - b);
}

describe('symmetricEigenvalues', () => {
  it('solves small matrices with known spectra', () => {
    expect(Array.from(symmetricEigenvalues([[2, 1], [1, 2]]))).toEqual([expect.closeTo(1, 14), expect.closeTo(3, 14)]);
    expect(Array.from(symmetricEigenvalues([[5]]))).toEqual([5]);
    expect(Array.from(symmetricEigenvalues([[3, 0, 0], [0, -1, 0], [0, 0, 2]]))).toEqual([-1, 2, 3]);
    // Repeated eigenvalues.
    const identity = Array.from({ length: 6 }, (_, i) => Array.from({ length: 6 }, (_, j) => (i === j ? 4 : 0)));
    expect(maxAbsDiff(symmetricEigenvalues(identity), Array(6).fill(4))).toBeLessThan(1e-14);
  });

  it('matches the closed form of the 1-D Laplacian, 2 − 2cos(kπ/(n+1))', () => {
    const n = 40;
    const a = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 2 : Math.abs(i - j) === 1 ? -1 : 0)));
    const exact = Array.from({ length: n }, (_, k) => 2 - 2 * Math.cos(((k + 1) * Math.PI) / (n + 1)));
    expect(maxAbsDiff(symmetricEigenvalues(a), exact)).toBeLessThan(1e-13);
  });

  it('recovers a prescribed spectrum of a dense 300×300 matrix to 1e-10 relative', () => {
    const n = 300;
    const lambda = Array.from({ length: n }, (_, i) => (i % 3 === 0 ? -1 : 1) * Math.exp(i / 40) + 1e-3 * i);
    const a = withSpectrum(lambda, 11);
    const values = symmetricEigenvalues(tensor(a, { ...f64, shape: [n, n] }));
    const scale = Math.max(...lambda.map(Math.abs));
    expect(maxAbsDiff(values, sortedAscending(lambda)) / scale).toBeLessThan(1e-10);
  });

  it('gives Gauss quadrature weights (squared first components) that sum to 1', () => {
    const { values, firstComponents } = tridiagonalEigen([1, 2, 3, 4], [0.5, 0.5, 0.5]);
    const dense = [[1, 0.5, 0, 0], [0.5, 2, 0.5, 0], [0, 0.5, 3, 0.5], [0, 0, 0.5, 4]];
    expect(maxAbsDiff(values, symmetricEigenvalues(dense))).toBeLessThan(1e-14);
    expect(firstComponents.reduce((s, c) => s + c * c, 0)).toBeCloseTo(1, 14);
    // Σ τₖ θₖ = e₁ᵀ T e₁ = T₁₁.
    expect(values.reduce((s, v, k) => s + firstComponents[k]! ** 2 * v, 0)).toBeCloseTo(1, 13);
  });

  it('rejects non-square input', () => {
    expect(() => symmetricEigenvalues(tensor([[1, 2, 3]], f64))).toThrow(/square matrix; got shape \[1,3\]/);
  });
});

describe('Hessian-vector products', () => {
  const cases: [string, () => { model: Module; batch: Batch }, BatchNormMode][] = [
    ['tanh MLP', () => ({ model: tanhMlp(), batch }), 'eval'],
    ['BatchNorm MLP (train mode)', () => ({ model: bnMlp(bnBatch), batch: bnBatch }), 'train'],
    ['BatchNorm MLP (eval mode)', () => ({ model: bnMlp(bnBatch), batch: bnBatch }), 'eval'],
  ];

  it.each(cases)('are symmetric, uᵀ(Hv) = vᵀ(Hu): %s', (_, make, mode) => {
    const { model, batch } = make();
    const op = hessianOperator(model, batch, { batchNorm: mode });
    const u = randn([op.size], { seed: 1, ...f64 });
    const v = randn([op.size], { seed: 2, ...f64 });
    const a = dot(u, op.apply(v));
    const b = dot(v, op.apply(u));
    expect(Math.abs(a - b)).toBeLessThan(1e-12 * Math.max(1, Math.abs(a)));
  });

  it.each(cases)('agree with a central difference of gradients: %s', (_, make, mode) => {
    const { model, batch } = make();
    const op = hessianOperator(model, batch, { batchNorm: mode });
    const w = model.flattenParameters();
    const v = randn([op.size], { seed: 3, ...f64 });
    const g = grad(objective(model, batch, { batchNorm: mode })) as (w: Tensor) => Tensor;
    // Truncation error is O(ε²·‖∇³F‖) and large for train-mode BatchNorm on 6 samples (4e-6 at
    // ε = 1e-5, measured to scale as ε²); rounding is O(εₘ/ε) ≈ 1e-10 at ε = 1e-6.
    const eps = 1e-6;
    const fd = g(w.add(v.mul(eps))).sub(g(w.sub(v.mul(eps)))).div(2 * eps);
    const hv = op.apply(v);
    expect(maxAbsDiff(hv.toTypedArray(), fd.toTypedArray())).toBeLessThan(1e-7 * Math.max(1, Math.max(...hv.toTypedArray().map(Math.abs))));
  });
});

describe('trace and Frobenius norm estimators', () => {
  const model = tanhMlp();
  const op = hessianOperator(model, batch, { batchNorm: 'eval' });
  const H = fullHessian(model, batch, { batchNorm: 'eval' });
  const P = op.size;
  const h = Float64Array.from(H.toTypedArray());
  let exactTrace = 0;
  for (let i = 0; i < P; i++) exactTrace += h[i * P + i]!;
  const exactFro = Math.sqrt(h.reduce((s, x) => s + x * x, 0));

  it('fullHessian is the symmetrised matrix of H·eᵢ', () => {
    expect(H.shape).toEqual([P, P]);
    const e5 = new Float64Array(P);
    e5[5] = 1;
    const column = op.apply(tensor(e5, f64)).toTypedArray();
    expect(maxAbsDiff(column, Array.from({ length: P }, (_, r) => h[r * P + 5]!))).toBeLessThan(1e-14);
  });

  it("Hutchinson's trace is within 3 standard errors of the exact trace", () => {
    const t = hutchinsonTrace(op, { seed: 0, maxProbes: 300 });
    expect(t.probes).toBe(300);
    expect(t.standardError).toBeGreaterThan(0);
    expect(Math.abs(t.estimate - exactTrace)).toBeLessThan(3 * t.standardError);
    // Same seed, same probes, same answer.
    expect(hutchinsonTrace(op, { seed: 0, maxProbes: 300 }).estimate).toBe(t.estimate);
  });

  it('Hutchinson stops early once the relative standard error reaches the tolerance', () => {
    const t = hutchinsonTrace(op, { seed: 1, maxProbes: 5000, tolerance: 0.05 });
    expect(t.probes).toBeLessThan(5000);
    expect(t.standardError).toBeLessThanOrEqual(0.05 * Math.abs(t.estimate));
  });

  it('the Frobenius norm from E‖Hz‖² is within 3 standard errors of the exact one', () => {
    const f = frobeniusNorm(op, { seed: 2, maxProbes: 300 });
    expect(Math.abs(f.estimate - exactFro)).toBeLessThan(3 * f.standardError);
  });

  it('rejects bad options with clear messages', () => {
    expect(() => hutchinsonTrace(op, { seed: 0, maxProbes: 0 })).toThrow(/maxProbes must be an integer ≥ 1; got 0/);
    expect(() => lanczos(op, 5, { seed: 0, iterations: 3 })).toThrow(/top 5 eigenvalues but only 3 iterations/);
  });
});

describe('lanczos', () => {
  it.each([
    ['tanh MLP', () => ({ model: tanhMlp() as Module, batch }), 'eval' as BatchNormMode],
    ['BatchNorm MLP, train mode', () => ({ model: bnMlp(bnBatch) as Module, batch: bnBatch }), 'train' as BatchNormMode],
  ])('top-3 and smallest eigenvalues match the full Hessian to 1e-6: %s', (_, make, mode) => {
    const { model, batch } = make();
    const op = hessianOperator(model, batch, { batchNorm: mode });
    const exact = symmetricEigenvalues(fullHessian(model, batch, { batchNorm: mode }));
    const run = lanczos(op, 3, { seed: 5, iterations: op.size });
    const top = Array.from(exact.slice(exact.length - 3)).reverse();
    expect(maxAbsDiff(run.top, top)).toBeLessThan(1e-6);
    expect(Math.abs(run.min - exact[0]!)).toBeLessThan(1e-6);
  });

  it('does not mistake a dominant negative eigenvalue for the top one', () => {
    // λ ∈ {−50, −5…5, 15, 20}: |−50| is the largest magnitude, 20 the largest value.
    const n = 100;
    const lambda = [-50, ...Array.from({ length: n - 3 }, (_, i) => -5 + (10 * i) / (n - 4)), 15, 20];
    const op = matrixOperator(withSpectrum(lambda, 3), n);
    const run = lanczos(op, 2, { seed: 0, iterations: 60 });
    expect(run.top[0]).toBeCloseTo(20, 6);
    expect(run.top[1]).toBeCloseTo(15, 6);
    expect(run.min).toBeCloseTo(-50, 6);
  });

  it('keeps repeated eigenvalues by restarting in an invariant subspace', () => {
    const lambda = [3, 3, 3, 1, 1, -2];
    const run = lanczos(matrixOperator(withSpectrum(lambda, 4), 6), 3, { seed: 0, iterations: 6 });
    expect(maxAbsDiff(run.ritzValues, sortedAscending(lambda))).toBeLessThan(1e-10);
    expect(maxAbsDiff(run.top, [3, 3, 3])).toBeLessThan(1e-10);
  });
});

describe('spectralDensity (stochastic Lanczos quadrature)', () => {
  const model = tanhMlp();
  const op = hessianOperator(model, batch, { batchNorm: 'eval' });
  const P = op.size;
  const h = fullHessian(model, batch, { batchNorm: 'eval' }).toTypedArray();
  let exactTrace = 0;
  for (let i = 0; i < P; i++) exactTrace += h[i * P + i]!;

  it('integrates to 1 and has mean ≈ tr H / P', () => {
    const { grid, density, nodes } = spectralDensity(op, { seed: 3, probes: 20, iterations: 20, grid: 2000 });
    const dt = grid[1]! - grid[0]!;
    let mass = 0;
    let first = 0;
    for (let g = 0; g < grid.length; g++) {
      mass += density[g]! * dt;
      first += grid[g]! * density[g]! * dt;
    }
    expect(mass).toBeCloseTo(1, 4);
    // The first quadrature moment of each probe is exactly zᵀHz/P: the mean is Hutchinson's trace / P.
    const hutch = hutchinsonTrace(op, { seed: 3, maxProbes: 20 });
    const quadratureMean = nodes.reduce((s, { values, weights }) => s + values.reduce((t, v, k) => t + v * weights[k]!, 0), 0) / nodes.length;
    expect(quadratureMean).toBeCloseTo(hutch.estimate / P, 10);
    expect(first).toBeCloseTo(quadratureMean, 4);
    expect(Math.abs(first - exactTrace / P)).toBeLessThan((3 * hutch.standardError) / P + 1e-6);
  });

  it('puts the density where the eigenvalues are', () => {
    const lambda = [...Array(20).fill(-1), ...Array(30).fill(2)];
    const op2 = matrixOperator(withSpectrum(lambda, 9), 50);
    const { grid, density } = spectralDensity(op2, { seed: 0, probes: 10, iterations: 10, grid: [-1, 0.5, 2], sigma: 0.1 });
    expect(Array.from(grid)).toEqual([-1, 0.5, 2]);
    expect(density[1]).toBeLessThan(1e-10);
    // Mass 0.4 at −1 and 0.6 at 2 (up to probe noise), each spread as N(·, 0.1²).
    const peak = 1 / (0.1 * Math.sqrt(2 * Math.PI));
    expect(density[0]! / peak).toBeCloseTo(0.4, 0);
    expect(density[2]! / peak).toBeCloseTo(0.6, 0);
  });
});

describe('perLayerCurvature', () => {
  it('block traces and top eigenvalues match the exact diagonal blocks', () => {
    const model = tanhMlp();
    const H = fullHessian(model, batch, { batchNorm: 'eval' }).toTypedArray();
    const P = Math.sqrt(H.length);
    const result = perLayerCurvature(model, batch, { batchNorm: 'eval', seed: 0, probes: 200, iterations: 50 });
    expect(result.map((r) => r.name)).toEqual(model.namedParameters().map(([n]) => n));
    let offset = 0;
    for (const r of result) {
      const idx = Array.from({ length: r.size }, (_, i) => offset + i);
      offset += r.size;
      const block = idx.map((i) => idx.map((j) => H[i * P + j]!));
      const trace = idx.reduce((s, i) => s + H[i * P + i]!, 0);
      const eig = symmetricEigenvalues(block);
      expect(Math.abs(r.trace.estimate - trace), r.name).toBeLessThanOrEqual(4 * r.trace.standardError + 1e-10);
      expect(r.topEigenvalue, r.name).toBeCloseTo(eig[eig.length - 1]!, 6);
    }
    expect(offset).toBe(P);
  });

  it('groups by module prefix', () => {
    const result = perLayerCurvature(tanhMlp(), batch, { batchNorm: 'eval', seed: 0, probes: 5, groupBy: 'module' });
    expect(result.map((r) => [r.name, r.size])).toEqual([
      ['0', 20],
      ['2', 18],
    ]);
  });

  it('restrictOperator is the diagonal block of the full matrix', () => {
    const op = hessianOperator(tanhMlp(), batch, { batchNorm: 'eval' });
    const full = operatorMatrix(op);
    const idx = [0, 7, 21, 30];
    const block = operatorMatrix(restrictOperator(op, idx));
    expect(maxAbsDiff(block, idx.flatMap((i) => idx.map((j) => full[i * op.size + j]!)))).toBeLessThan(1e-14);
  });
});

describe('BatchNorm contract', () => {
  it('every measurement leaves the running statistics and mode flags bit-identical', () => {
    const model = bnMlp(bnBatch);
    model.eval();
    const before = model.saveStats();
    const flags = model.namedModules().map(([, m]) => m.training);
    for (const mode of ['train', 'eval'] as const) {
      const opts = { batchNorm: mode };
      const op = hessianOperator(model, bnBatch, opts);
      fullHessian(model, bnBatch, opts);
      hutchinsonTrace(op, { seed: 0, maxProbes: 3 });
      frobeniusNorm(op, { seed: 0, maxProbes: 3 });
      lanczos(op, 2, { seed: 0, iterations: 8 });
      spectralDensity(op, { seed: 0, probes: 2, iterations: 5, grid: 10 });
      perLayerCurvature(model, bnBatch, { ...opts, seed: 0, probes: 2, iterations: 3 });
      const after = model.saveStats();
      for (const [name, values] of before) expect(after.get(name), `${name} after ${mode}`).toEqual(values);
      expect(model.namedModules().map(([, m]) => m.training)).toEqual(flags);
    }
  });

  it('the BatchNorm mode changes the Hessian of a BN model', () => {
    const model = bnMlp(bnBatch);
    const train = fullHessian(model, bnBatch, { batchNorm: 'train' }).toTypedArray();
    const evalH = fullHessian(model, bnBatch, { batchNorm: 'eval' }).toTypedArray();
    expect(maxAbsDiff(train, evalH)).toBeGreaterThan(1e-3);
    expect(() => fullHessian(model, bnBatch, { batchNorm: 'bogus' as BatchNormMode })).toThrow(/batchNorm mode must be 'train' or 'eval'/);
  });
});
