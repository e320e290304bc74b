/**
 * An operator (an H·v) that returns NaN or ±∞ fails every estimator at once with a clear
 * error naming the estimator, the probe or iteration, and that the operator is at fault —
 * never a NaN estimate after all probes (Hutchinson) nor an `internal:` QL failure (Lanczos,
 * SLQ).
 */
import { describe, expect, it } from 'vitest';
import { tensor, type Tensor } from '../../src/index.js';
import { operatorMatrix, perLayerCurvature } from '../../src/analysis/curvature.js';
import { tridiagonalEigen } from '../../src/analysis/eigen.js';
import { hessianSummary } from '../../src/analysis/hessian-summary.js';
import { frobeniusNorm, hutchinsonTrace, lanczos, spectralDensity, type LinearOperator } from '../../src/analysis/lanczos.js';
import { hessianOperator } from '../../src/analysis/objective.js';
import { secondMomentMatrix, secondMomentOperator } from '../../src/analysis/stability.js';
import { Tanh } from '../../src/nn/activations.js';
import { Sequential } from '../../src/nn/container.js';
import { Linear } from '../../src/nn/linear.js';

const P = 6;
/** diag(1 … P), except that application number `badAt` (0-based) puts `value` in element 2. */
function faulty(badAt: number, value = NaN): LinearOperator & { calls: number } {
  const op = {
    size: P,
    calls: 0,
    apply: (v: Tensor) => {
      const out = Float64Array.from(v.toTypedArray(), (x, i) => (i + 1) * x);
      if (op.calls++ === badAt) out[2] = value;
      return tensor(out, { dtype: 'float64' });
    },
  };
  return op;
}

const notInternal = (fn: () => unknown, message: RegExp) => {
  expect(fn).toThrow(message);
  expect(fn).not.toThrow(/internal/);
};

describe('a non-finite operator output is a clear error at once', () => {
  it('hutchinsonTrace stops at the probe that returned NaN instead of averaging it in', () => {
    const op = faulty(3);
    expect(() => hutchinsonTrace(op, { seed: 0, maxProbes: 50 })).toThrow(
      /^hutchinsonTrace: the operator returned non-finite values at probe 3 \(element 2 of 6 is NaN\)/,
    );
    expect(op.calls).toBe(4); // no probe after the bad one was paid for
  });

  it('frobeniusNorm names the probe with an infinite product', () => {
    expect(() => frobeniusNorm(faulty(1, Infinity), { seed: 0, maxProbes: 10 })).toThrow(/^frobeniusNorm: the operator returned non-finite values at probe 1 \(element 2 of 6 is Infinity\)/);
  });

  it('lanczos names the iteration (not an internal QL failure)', () => {
    notInternal(() => lanczos(faulty(2), 1, { seed: 0, iterations: 5 }), /^lanczos: the operator returned non-finite values at Lanczos iteration 2 /);
  });

  it('spectralDensity (SLQ) names the probe and the iteration', () => {
    notInternal(() => spectralDensity(faulty(5 + 1), { seed: 0, probes: 3, iterations: 5 }), /^spectralDensity: the operator returned non-finite values at probe 1, Lanczos iteration 1 /);
  });

  it('hessianSummary names its Lanczos iteration or its probe', () => {
    notInternal(() => hessianSummary(faulty(0), { seed: 0, iterations: 4, probes: 3 }), /^hessianSummary: the operator returned non-finite values at Lanczos iteration 0 /);
    notInternal(() => hessianSummary(faulty(4 + 1), { seed: 0, iterations: 4, probes: 3 }), /^hessianSummary: the operator returned non-finite values at probe 1 /);
  });

  it('operatorMatrix names the basis vector', () => {
    expect(() => operatorMatrix(faulty(4))).toThrow(/^operatorMatrix: the operator returned non-finite values at basis vector 4 /);
  });

  it('tridiagonalEigen refuses non-finite entries as the input they are', () => {
    notInternal(() => tridiagonalEigen([1, NaN, 3], [0.5, 0.5]), /^tridiagonalEigen: the diagonal must be finite; entry 1 is NaN/);
    notInternal(() => tridiagonalEigen([1, 2, 3], [0.5, Infinity]), /^tridiagonalEigen: the off-diagonal must be finite; entry 1 is Infinity/);
  });

  it('secondMomentMatrix: an overflowing T(P) is named', () => {
    const problem = { d: 2, parts: [Float64Array.from([1, 0, 0, 2]), Float64Array.from([3, 0, 0, 1])] };
    const T = secondMomentOperator(problem, 1e200, 1, { sampling: 'with-replacement' });
    expect(() => secondMomentMatrix(T)).toThrow(/^secondMomentMatrix: the operator returned non-finite values at basis matrix 0 /);
  });

  it('a real Hessian operator of a model whose batch holds NaN: Hutchinson, Lanczos and the per-layer blocks fail at the first product', () => {
    const model = new Sequential(new Linear(3, 4, { seed: 1, dtype: 'float64' }), new Tanh(), new Linear(4, 2, { seed: 2, dtype: 'float64' }));
    const x = tensor([[0.1, 0.2, 0.3], [NaN, 0.5, 0.6]], { dtype: 'float64' });
    const op = hessianOperator(model, { x, targets: [0, 1] }, { batchNorm: 'eval' });
    expect(() => hutchinsonTrace(op, { seed: 0, maxProbes: 20 })).toThrow(/^hutchinsonTrace: the operator returned non-finite values at probe 0 /);
    notInternal(() => lanczos(op, 1, { seed: 0, iterations: 5 }), /^lanczos: the operator returned non-finite values at Lanczos iteration 0 /);
    expect(() => perLayerCurvature(model, { x, targets: [0, 1] }, { batchNorm: 'eval', seed: 0, probes: 4, iterations: 3 })).toThrow(/^hutchinsonTrace: the operator returned non-finite values at probe 0 /);
  });
});
