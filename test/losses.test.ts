/**
 * crossEntropy and mseLoss against plain-JS references, with gradient checks, including
 * logits scaled by 50 (saturated softmax) where a naive log(softmax) would give −∞.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crossEntropy, grad, mseLoss, tensor, type Tensor } from '../src/index.js';
import { materialize, shape, specOf, type TensorSpec } from './arbitraries.js';
import { expectAllClose, gradcheck, gradgradcheck } from './gradcheck.js';

type Reduction = 'mean' | 'sum' | 'none';
/** Just the logical contents of a tensor (shape and row-major values). */
type Values = Pick<TensorSpec, 'shape' | 'values'>;

function rows(spec: Values): number[][] {
  const [n, c] = spec.shape as [number, number];
  return Array.from({ length: n }, (_, i) => spec.values.slice(i * c, (i + 1) * c));
}

function logsumexp(xs: number[]): number {
  const m = Math.max(...xs);
  return m + Math.log(xs.reduce((s, x) => s + Math.exp(x - m), 0));
}

/** −log softmax(row)[target] per row, then reduced. */
function refCrossEntropy(spec: Values, targets: number[], reduction: Reduction): number[] {
  const losses = rows(spec).map((row, i) => logsumexp(row) - row[targets[i]!]!);
  if (reduction === 'none') return losses;
  const total = losses.reduce((s, x) => s + x, 0);
  return [reduction === 'sum' ? total : total / losses.length];
}

/** d mean-CE / d logits = (softmax − onehot) / N. */
function refCrossEntropyGrad(spec: Values, targets: number[]): number[] {
  const r = rows(spec);
  return r.flatMap((row, i) => {
    const l = logsumexp(row);
    return row.map((x, j) => (Math.exp(x - l) - (j === targets[i] ? 1 : 0)) / r.length);
  });
}

const ceCase = fc
  .record({ n: fc.integer({ min: 1, max: 5 }), c: fc.integer({ min: 1, max: 5 }) })
  .chain(({ n, c }) =>
    fc.tuple(specOf([n, c], { min: -5, max: 5 }), fc.array(fc.integer({ min: 0, max: c - 1 }), { minLength: n, maxLength: n }), fc.constantFrom<Reduction>('mean', 'sum', 'none')),
  );

const int32 = (xs: number[]) => tensor(Int32Array.from(xs));

describe('crossEntropy', () => {
  it('matches −log softmax[target] for every reduction and every way of passing targets', () => {
    fc.assert(
      fc.property(ceCase, ([spec, targets, reduction]) => {
        const ref = refCrossEntropy(spec, targets, reduction);
        const shape = reduction === 'none' ? [targets.length] : [];
        const logits = materialize(spec);
        for (const t of [int32(targets), targets, Int32Array.from(targets)]) {
          expectAllClose(crossEntropy(logits, t, reduction), ref, { rtol: 1e-12, atol: 1e-12, shape, what: `crossEntropy ${reduction}` });
        }
      }),
      { numRuns: 40 },
    );
  });

  it('the default reduction is the mean', () => {
    const logits = tensor([[1, 2, 3], [1, 1, 1]], { dtype: 'float64' });
    const ref = refCrossEntropy({ shape: [2, 3], values: [1, 2, 3, 1, 1, 1] }, [2, 0], 'mean');
    expectAllClose(crossEntropy(logits, [2, 0]), ref, { rtol: 1e-14, atol: 0, shape: [] });
  });

  it('logits scaled by 50: finite, matches the reference, and the gradient is (softmax − onehot)/N', () => {
    fc.assert(
      fc.property(ceCase, ([spec0, targets]) => {
        const spec = { ...spec0, values: spec0.values.map((v) => 50 * v) };
        const logits = materialize(spec);
        const loss = crossEntropy(logits, int32(targets), 'none');
        expect((loss.toArray() as number[]).every(Number.isFinite)).toBe(true);
        // Losses reach ≈ 500 when the target's logit is far below the max; ≈ 1e-100 when it is the max.
        expectAllClose(loss, refCrossEntropy(spec, targets, 'none'), { rtol: 1e-12, atol: 1e-12 });
        const g = grad((x: Tensor) => crossEntropy(x, int32(targets)))(logits);
        expectAllClose(g, refCrossEntropyGrad(spec, targets), { rtol: 1e-9, atol: 1e-14, shape: spec.shape, what: 'grad of CE(50·logits)' });
      }),
      { numRuns: 40 },
    );
  });

  it('gradient with respect to the logits (first and second order, every reduction)', () => {
    fc.assert(
      fc.property(ceCase, fc.nat(), ([spec, targets, reduction], seed) => {
        const t = int32(targets);
        gradcheck((x) => crossEntropy(x, t, reduction), [materialize(spec)], { name: `crossEntropy ${reduction}`, seed });
        gradgradcheck((x) => crossEntropy(x, t, reduction), [materialize(spec)], { name: `crossEntropy ${reduction}`, seed });
      }),
      { numRuns: 25 },
    );
  });

  it('float32 agrees with float64 within float32 precision', () => {
    fc.assert(
      fc.property(ceCase, ([spec0, targets, reduction]) => {
        const spec = { ...spec0, values: spec0.values.map(Math.fround) };
        const a = crossEntropy(materialize(spec, { dtype: 'float32' }), targets, reduction);
        const b = crossEntropy(materialize(spec), targets, reduction);
        expect(a.dtype).toBe('float32');
        // Losses are O(1–10): absolute error of a few float32 ulps of the logsumexp (≈ 1e-6).
        expectAllClose(a, Array.from(b.toTypedArray()), { rtol: 1e-6, atol: 2e-6 });
      }),
      { numRuns: 30 },
    );
  });
});

describe('mseLoss', () => {
  const mseCase = shape(0, 4).chain((s) => fc.tuple(specOf(s), specOf(s), fc.constantFrom<Reduction>('mean', 'sum', 'none')));

  it('is (a − b)² reduced by mean (default), sum or none', () => {
    fc.assert(
      fc.property(mseCase, ([a, b, reduction]) => {
        const sq = a.values.map((v, i) => (v - b.values[i]!) ** 2);
        const total = sq.reduce((s, x) => s + x, 0);
        const ref = reduction === 'none' ? sq : [reduction === 'sum' ? total : total / sq.length];
        expectAllClose(mseLoss(materialize(a), materialize(b), reduction), ref, { rtol: 1e-12, atol: 1e-12, shape: reduction === 'none' ? a.shape : [] });
        if (reduction === 'mean') expectAllClose(mseLoss(materialize(a), materialize(b)), ref, { rtol: 1e-12, atol: 1e-12 });
      }),
      { numRuns: 40 },
    );
  });

  it('gradient with respect to both arguments (first and second order)', () => {
    fc.assert(
      fc.property(mseCase, fc.nat(), ([a, b, reduction], seed) => {
        const f = (x: Tensor, y: Tensor) => mseLoss(x, y, reduction);
        gradcheck(f, [materialize(a), materialize(b)], { name: `mseLoss ${reduction}`, argNames: ['input', 'target'], seed });
        gradgradcheck(f, [materialize(a), materialize(b)], { name: `mseLoss ${reduction}`, argNames: ['input', 'target'], seed });
      }),
      { numRuns: 25 },
    );
  });
});
