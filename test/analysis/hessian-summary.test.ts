/**
 * hessianSummary against exact references: a diagonal operator (where Rademacher probes give
 * the trace and ‖D‖_F² exactly), and the exact Hessian of a tiny BatchNorm + tanh MLP in train
 * mode (λ_max, tr H, ‖H‖_F from the dense matrix and its eigenvalues).
 */
import { describe, expect, it } from 'vitest';
import { randn, tensor } from '../../src/index.js';
import { fullHessian } from '../../src/analysis/curvature.js';
import { symmetricEigenvalues } from '../../src/analysis/eigen.js';
import { hessianSummary } from '../../src/analysis/hessian-summary.js';
import { frobeniusNorm, hutchinsonTrace, type LinearOperator } from '../../src/analysis/lanczos.js';
import { hessianOperator } from '../../src/analysis/objective.js';
import { Tanh } from '../../src/nn/activations.js';
import { BatchNorm1d } from '../../src/nn/batchnorm.js';
import { Sequential } from '../../src/nn/container.js';
import { Linear } from '../../src/nn/linear.js';
import type { Batch } from '../../src/nn/per-sample.js';

const f64 = { dtype: 'float64' as const };

function diagonal(d: readonly number[]): LinearOperator {
  return { size: d.length, apply: (v) => tensor(Float64Array.from(v.toTypedArray(), (x, i) => x * d[i]!), f64) };
}

describe('hessianSummary', () => {
  it('is exact on a diagonal operator: zᵀDz = tr D and ‖Dz‖² = ‖D‖²_F for every ±1 probe', () => {
    const d = [3, -1, 0.5, 2, -0.25, 1];
    const s = hessianSummary(diagonal(d), { seed: 4, iterations: 6, probes: 5 });
    expect(s.trace.estimate).toBeCloseTo(5.25, 12);
    expect(s.trace.standardError).toBeLessThan(1e-12);
    expect(s.frobenius.estimate).toBeCloseTo(Math.sqrt(d.reduce((a, x) => a + x * x, 0)), 12);
    expect(s.lambdaMax).toBeCloseTo(3, 10);
    expect(s.lambdaMin).toBeCloseTo(-1, 10);
    expect(s.products).toBe(6 + 5);
  });

  const model = new Sequential(new Linear(3, 4, { seed: 3, ...f64 }), new BatchNorm1d(4, f64), new Tanh(), new Linear(4, 3, { seed: 4, ...f64 }));
  const batch: Batch = { x: randn([8, 3], { seed: 8, ...f64 }), targets: [0, 1, 2, 1, 0, 2, 2, 1] };
  const options = { batchNorm: 'train' as const };
  const op = hessianOperator(model, batch, options);
  const H = fullHessian(model, batch, options);
  const P = op.size;
  const h = H.toTypedArray();
  let exactTrace = 0;
  for (let i = 0; i < P; i++) exactTrace += h[i * P + i]!;
  const exactFrobenius = Math.sqrt(Array.from(h).reduce((a, x) => a + x * x, 0));
  const eigenvalues = symmetricEigenvalues(H);
  const exactTop = eigenvalues[eigenvalues.length - 1]!;

  it('λ_max from Lanczos matches the top eigenvalue of the exact Hessian of a tiny BatchNorm MLP', () => {
    const s = hessianSummary(op, { seed: 1, iterations: P, probes: 2 });
    expect(Math.abs(s.lambdaMax - exactTop)).toBeLessThan(1e-8 * Math.max(1, Math.abs(exactTop)));
    expect(Math.abs(s.lambdaMin - eigenvalues[0]!)).toBeLessThan(1e-8 * Math.max(1, Math.abs(eigenvalues[0]!)));
    // Few iterations: a Ritz value never exceeds λ_max.
    expect(hessianSummary(op, { seed: 1, iterations: 4, probes: 1 }).lambdaMax).toBeLessThanOrEqual(exactTop + 1e-10);
  });

  it('trace and Frobenius norm are within 3 standard errors of the exact values, from the same probes as hutchinsonTrace / frobeniusNorm', () => {
    const s = hessianSummary(op, { seed: 2, iterations: 3, probes: 300 });
    expect(s.trace.probes).toBe(300);
    expect(Math.abs(s.trace.estimate - exactTrace)).toBeLessThan(3 * s.trace.standardError);
    expect(Math.abs(s.frobenius.estimate - exactFrobenius)).toBeLessThan(3 * s.frobenius.standardError);
    const t = hutchinsonTrace(op, { seed: 2, maxProbes: 300 });
    const f = frobeniusNorm(op, { seed: 2, maxProbes: 300 });
    expect(s.trace.estimate).toBeCloseTo(t.estimate, 10);
    expect(s.trace.standardError).toBeCloseTo(t.standardError, 10);
    expect(s.frobenius.estimate).toBeCloseTo(f.estimate, 10);
    expect(s.products).toBe(303);
  });

  it('rejects bad options with clear messages', () => {
    expect(() => hessianSummary(op, { seed: -1, iterations: 3, probes: 3 })).toThrow(/seed must be an integer ≥ 0; got -1/);
    expect(() => hessianSummary(op, { seed: 0, iterations: 0, probes: 3 })).toThrow(/iterations must be an integer ≥ 1; got 0/);
    expect(() => hessianSummary(op, { seed: 0, iterations: 3, probes: 0 })).toThrow(/probes must be an integer ≥ 1; got 0/);
  });
});
