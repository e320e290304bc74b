/**
 * Linear stability of SGD (docs/research.md §3–4): the mean-square operator T against gradient
 * descent at S = n, the threshold η*(S) and its dependence on heterogeneity, seeded
 * simulations on both sides of the threshold (mean-square and almost-sure notions), and the
 * Gram-matrix spectrum of the output gradients against an explicitly formed G.
 */
import { describe, expect, it } from 'vitest';
import { randn, type Tensor } from '../../src/index.js';
import { gramSpectrum, gramSpectrumOf, outputJacobian, smallSymmetricEigenvalues } from '../../src/analysis/gram.js';
import {
  lambdaMax,
  linearizedProblem,
  lyapunovExponent,
  meanHessian,
  meanSquareThreshold,
  quadraticProblem,
  samplingCoefficient,
  secondMomentOperator,
  simulateSecondMoment,
  spectralRadius,
  stabilityBounds,
  type QuadraticProblem,
} from '../../src/analysis/stability.js';
import { mlp } from '../../src/nn/zoo.js';

const f64 = { dtype: 'float64' as const };
const without = { sampling: 'without-replacement' as const };
const withR = { sampling: 'with-replacement' as const };

/** n random PSD d × d matrices Aᵢ = BᵢBᵢᵀ (seeded). */
function randomProblem(n: number, d: number, seed: number): QuadraticProblem {
  const parts = Array.from({ length: n }, (_, i) => {
    const b = randn([d, d], { seed: seed + i, ...f64 }).toTypedArray();
    const a = new Float64Array(d * d);
    for (let r = 0; r < d; r++) for (let s = 0; s < d; s++) for (let k = 0; k < d; k++) a[r * d + s] += (b[r * d + k]! * b[s * d + k]!) / d;
    return a;
  });
  return { d, parts };
}

/** Three 2 × 2 Hessians with very different curvature directions (and their mean). */
const heterogeneous = quadraticProblem([
  [[3, 0], [0, 0.2]],
  [[0.2, 0], [0, 3]],
  [[1, 0.5], [0.5, 1]],
]);

describe('smallSymmetricEigenvalues', () => {
  it('recovers the spectrum of Q diag(λ) Qᵀ', () => {
    const c = Math.cos(0.3);
    const s = Math.sin(0.3);
    // Q = rotation in the (0, 1) plane, λ = (−1, 2, 5).
    const lam = [-1, 2, 5];
    const q = [c, -s, 0, s, c, 0, 0, 0, 1];
    const a = new Float64Array(9);
    for (let r = 0; r < 3; r++) for (let t = 0; t < 3; t++) for (let k = 0; k < 3; k++) a[r * 3 + t] += q[r * 3 + k]! * lam[k]! * q[t * 3 + k]!;
    Array.from(smallSymmetricEigenvalues(a, 3)).forEach((v, i) => expect(v).toBeCloseTo(lam[i]!, 13));
    expect(() => smallSymmetricEigenvalues([1, 2, 3], 2)).toThrow(/expected 2×2 = 4 values; got 3/);
  });
});

describe('mean-square operator T', () => {
  const problem = randomProblem(4, 3, 10);
  const H = meanHessian(problem);
  const hEig = smallSymmetricEigenvalues(H, 3);

  it('at S = n without replacement (c = 0), ρ(T) = max|1 − ηλ|² exactly (gradient descent)', () => {
    expect(samplingCoefficient(4, 4, 'without-replacement')).toBe(0);
    for (const eta of [0.1, 0.5, 1.9 / hEig[2]!, 2.3 / hEig[2]!]) {
      const rho = spectralRadius(secondMomentOperator(problem, eta, 4, without));
      const gd = Math.max(...Array.from(hEig).map((l) => (1 - eta * l) ** 2));
      expect(Math.abs(rho - gd)).toBeLessThan(1e-12 * Math.max(1, gd));
    }
  });

  it('with replacement at S = 1 is P ↦ (1/n) Σ (I − ηHᵢ) P (I − ηHᵢ), and ρ matches the growth of Tᵏ(I)', () => {
    const eta = 0.4;
    const T = secondMomentOperator(problem, eta, 1, withR);
    const P = randn([3, 3], { seed: 1, ...f64 }).toTypedArray();
    const sym = Float64Array.from({ length: 9 }, (_, j) => P[j]! + P[3 * (j % 3) + Math.floor(j / 3)]!);
    const mul = (a: Float64Array, b: Float64Array) => Float64Array.from({ length: 9 }, (_, j) => [0, 1, 2].reduce((s, k) => s + a[3 * Math.floor(j / 3) + k]! * b[3 * k + (j % 3)]!, 0));
    const expected = new Float64Array(9);
    for (const Hi of problem.parts) {
      const m = Float64Array.from({ length: 9 }, (_, j) => (j % 4 === 0 ? 1 : 0) - eta * Hi[j]!);
      mul(mul(m, sym), m).forEach((v, j) => (expected[j] += v / problem.parts.length));
    }
    T.apply(sym).forEach((v, j) => expect(v).toBeCloseTo(expected[j]!, 13));
    // Power iteration on the PSD cone from I: ‖Tᵏ⁺¹(I)‖ / ‖Tᵏ(I)‖ → ρ(T).
    let Pk: Float64Array = Float64Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    let ratio = 0;
    for (let k = 0; k < 400; k++) {
      const next = T.apply(Pk);
      const norm = Math.hypot(...next);
      ratio = norm / Math.hypot(...Pk);
      Pk = next.map((v) => v / norm);
    }
    expect(ratio).toBeCloseTo(spectralRadius(T), 10);
  });

  it('rejects bad sampling arguments by name', () => {
    expect(() => samplingCoefficient(4, 5, 'without-replacement')).toThrow(/samplingCoefficient: without replacement the batch size must be ≤ n = 4; got 5/);
    expect(() => samplingCoefficient(4, 0, 'with-replacement')).toThrow(/samplingCoefficient: batch size must be an integer ≥ 1; got 0/);
    expect(() => quadraticProblem([[[1, 2], [0, 1]]])).toThrow(/quadraticProblem: H0 is not symmetric/);
  });
});

describe('meanSquareThreshold', () => {
  it('η*(n) = 2/λ_max(H) without replacement, and η* grows with S', () => {
    const problem = randomProblem(5, 3, 20);
    const gd = 2 / lambdaMax(problem);
    expect(Math.abs(meanSquareThreshold(problem, 5, without) - gd)).toBeLessThan(1e-12 * gd);
    const thresholds = [1, 2, 3, 4, 5].map((S) => meanSquareThreshold(problem, S, without));
    thresholds.slice(1).forEach((t, i) => expect(t).toBeGreaterThanOrEqual(thresholds[i]! * (1 - 1e-9)));
    expect(thresholds[0]).toBeLessThan(gd);
    // ρ(T) = 1 at the threshold.
    const rho = spectralRadius(secondMomentOperator(problem, thresholds[1]!, 2, without));
    expect(rho).toBeCloseTo(1, 8);
  });

  it('is smaller for a heterogeneous problem than for its homogenized version (same mean H) at small S', () => {
    const H = meanHessian(heterogeneous);
    const homogenized: QuadraticProblem = { d: 2, parts: heterogeneous.parts.map(() => H) };
    const gd = 2 / lambdaMax(heterogeneous);
    for (const S of [1, 2]) {
      const het = meanSquareThreshold(heterogeneous, S, withR);
      const hom = meanSquareThreshold(homogenized, S, withR);
      expect(Math.abs(hom - gd)).toBeLessThan(1e-9 * gd); // identical samples: SGD = GD
      expect(het).toBeLessThan(0.95 * hom);
    }
  });
});

describe('simulated SGD on both sides of the mean-square threshold (seeded)', () => {
  const S = 1;
  const etaStar = meanSquareThreshold(heterogeneous, S, without);

  it('MEAN-SQUARE: E‖e_k‖² (Monte Carlo) decays below η* and grows above it', () => {
    const run = (eta: number) => simulateSecondMoment(heterogeneous, eta, S, { ...without, seed: 3, steps: 150, trials: 1000 });
    expect(run(0.8 * etaStar).growthRate).toBeLessThan(-0.3);
    expect(run(1.5 * etaStar).growthRate).toBeGreaterThan(0.3);
  });

  it('ALMOST-SURE: the Lyapunov exponent is negative below η* and positive well above; the notions differ in between', () => {
    const lyap = (eta: number) => lyapunovExponent(heterogeneous, eta, S, { ...without, seed: 4, steps: 20000 });
    expect(lyap(0.8 * etaStar)).toBeLessThan(-0.2);
    expect(lyap(1.5 * etaStar)).toBeGreaterThan(0.1);
    // At 1.2 η*: mean-square unstable (ρ(T) > 1) yet almost surely stable.
    expect(spectralRadius(secondMomentOperator(heterogeneous, 1.2 * etaStar, S, without))).toBeGreaterThan(1.2);
    expect(lyap(1.2 * etaStar)).toBeLessThan(0);
  });

  it('at S = n (gradient descent) the Lyapunov exponent is log max|1 − ηλ| = ½ log ρ(T)', () => {
    const eta = 1.2 * (2 / lambdaMax(heterogeneous));
    const rho = spectralRadius(secondMomentOperator(heterogeneous, eta, 3, without));
    expect(lyapunovExponent(heterogeneous, eta, 3, { ...without, seed: 5, steps: 500 })).toBeCloseTo(0.5 * Math.log(rho), 2);
  });
});

describe('Gram spectrum and the linearized problem (Wu & Su)', () => {
  const model = mlp([2, 3, 1], { seed: 6, activation: 'tanh', ...f64 });
  const x = randn([5, 2], { seed: 7, ...f64 });

  /** G = JᵀJ/n formed explicitly (P × P). */
  function explicitG(J: Tensor): { G: Float64Array; P: number } {
    const [n, P] = J.shape as [number, number];
    const j = J.toTypedArray();
    const G = new Float64Array(P * P);
    for (let i = 0; i < n; i++) for (let a = 0; a < P; a++) for (let b = 0; b < P; b++) G[a * P + b] += (j[i * P + a]! * j[i * P + b]!) / n;
    return { G, P };
  }

  it('rows of J are ∇_θ f(xᵢ); Tr, ‖·‖_F and λ_max of K equal those of the explicit G', () => {
    const J = outputJacobian(model, x, { batchNorm: 'eval' });
    expect(J.shape).toEqual([5, model.numParameters()]);
    // Row 2 against an ordinary backward of f(x₂).
    const out = model.forward(x.slice([[2, 3]])).sum();
    out.backward();
    const row = J.slice([[2, 3]]).reshape([model.numParameters()]).toTypedArray();
    const flat = model.parameters().flatMap((p) => Array.from(p.grad!.toTypedArray()));
    model.zeroGrad();
    flat.forEach((v, k) => expect(row[k]).toBeCloseTo(v, 13));

    const spectrum = gramSpectrum(model, x, { batchNorm: 'eval' });
    const { G, P } = explicitG(J);
    const gEig = smallSymmetricEigenvalues(G, P);
    let trace = 0;
    for (let a = 0; a < P; a++) trace += G[a * P + a]!;
    expect(spectrum.traceG).toBeCloseTo(trace, 12);
    expect(spectrum.frobeniusG).toBeCloseTo(Math.hypot(...G), 12);
    expect(spectrum.lambdaMaxG).toBeCloseTo(gEig[P - 1]!, 11);
    // The 5 nonzero eigenvalues coincide; the other P − 5 of G vanish.
    Array.from(spectrum.eigenvalues).forEach((v, i) => expect(v).toBeCloseTo(gEig[P - 5 + i]!, 11));
    gEig.slice(0, P - 5).forEach((v) => expect(Math.abs(v)).toBeLessThan(1e-12));
  });

  it('the linearized problem lives on the span of the rows and has the spectrum of G', () => {
    const J = outputJacobian(model, x, { batchNorm: 'eval' });
    const spectrum = gramSpectrumOf(J);
    const problem = linearizedProblem(J);
    expect(problem.d).toBe(5);
    expect(lambdaMax(problem)).toBeCloseTo(spectrum.lambdaMaxG, 11);
    const H = meanHessian(problem);
    expect([0, 1, 2, 3, 4].reduce((s, i) => s + H[i * 6]!, 0)).toBeCloseTo(spectrum.traceG, 11);
    // GD threshold 2/λ_max, SGD batch 1 strictly smaller (heterogeneous rank-one Hᵢ).
    const gd = meanSquareThreshold(problem, 5, without);
    expect(gd).toBeCloseTo(2 / spectrum.lambdaMaxG, 8);
    expect(meanSquareThreshold(problem, 1, withR)).toBeLessThan(gd);
  });

  it('stabilityBounds checks λ_max ≤ 2/η, Tr ≤ 2/η and Tr ≤ 2B/η', () => {
    expect(stabilityBounds({ lambdaMax: 1, trace: 3 }, 1, 2)).toEqual({ gd: true, sgdBatch1: false, sgdBatchB: true });
    expect(stabilityBounds({ lambdaMax: 3, trace: 5 }, 1, 2)).toEqual({ gd: false, sgdBatch1: false, sgdBatchB: false });
    expect(() => stabilityBounds({ lambdaMax: 1, trace: 1 }, 0)).toThrow(/stabilityBounds: the learning rate must be > 0/);
  });
});
