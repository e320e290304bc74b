/**
 * hvp's default mode, the vjp of ∇f with cotangent v, against its definition
 * grad(x ↦ ⟨∇f(x), v⟩): the same bits (the inner product's backward seeds ∇f with 1·v), in
 * float32 and float64, on the zoo's models through the flat parameter vector and on a list of
 * primals; a third derivative through it; and a direction of another dtype refused by name.
 */
import { describe, expect, it } from 'vitest';
import { DTypeError, grad, hvp, lenet5, mlp, randn, type Tensor } from '../../src/index.js';
import { objective } from '../../src/analysis/objective.js';

/** grad(⟨∇f, v⟩), the definition hvp's reverse mode must equal. */
function gradOfInnerProduct(f: (...xs: Tensor[]) => Tensor, xs: Tensor[], vs: Tensor[]): Tensor[] {
  const argnums = xs.map((_, i) => i);
  const gradient = grad(f, { argnums, createGraph: true }) as (...xs: Tensor[]) => Tensor[];
  const inner = (...args: Tensor[]) =>
    gradient(...args)
      .map((g, i) => g.mul(vs[i]!).sum())
      .reduce((a, b) => a.add(b));
  return grad(inner, { argnums })(...xs) as Tensor[];
}

const bits = (t: Tensor) => Array.from(t.toTypedArray());

describe('hvp (reverse): the vjp of the gradient equals grad of the inner product, to the bit', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    it(`MLP 12-16-16-5 through the flat vector, ${dtype}`, () => {
      const model = mlp([12, 16, 16, 5], { seed: 1, dtype });
      const batch = { x: randn([9, 12], { seed: 2, dtype }), targets: new Int32Array(9).map((_, i) => i % 5) };
      const F = objective(model, batch, { batchNorm: 'eval' });
      const w = model.flattenParameters();
      const v = randn([model.numParameters()], { seed: 3, dtype });
      expect(bits(hvp(F, w, v))).toEqual(bits(gradOfInnerProduct(F, [w], [v])[0]!));
    });
  }

  it('LeNet-5 with BatchNorm in train mode, float32', () => {
    const model = lenet5({ seed: 4 });
    const batch = { x: randn([4, 1, 28, 28], { seed: 5 }), targets: new Int32Array([1, 7, 3, 0]) };
    const F = objective(model, batch, { batchNorm: 'train' });
    const w = model.flattenParameters();
    const v = randn([model.numParameters()], { seed: 6 });
    expect(bits(hvp(F, w, v))).toEqual(bits(gradOfInnerProduct(F, [w], [v])[0]!));
  });

  it('a list of primals', () => {
    const x = randn([5, 3], { seed: 7, dtype: 'float64' });
    const f = (a: Tensor, b: Tensor) => x.matmul(a).tanh().matmul(b).pow(2).sum();
    const [a, b] = [randn([3, 4], { seed: 8, dtype: 'float64' }), randn([4, 2], { seed: 9, dtype: 'float64' })];
    const [va, vb] = [randn([3, 4], { seed: 10, dtype: 'float64' }), randn([4, 2], { seed: 11, dtype: 'float64' })];
    expect(hvp(f, [a, b], [va, vb]).map(bits)).toEqual(gradOfInnerProduct(f, [a, b], [va, vb]).map(bits));
  });

  it('differentiates again: d/dx of ⟨v, H(x)·v⟩ for f = Σ x⁴ is 24·x·v² (float64)', () => {
    const x = randn([6], { seed: 12, dtype: 'float64' });
    const v = randn([6], { seed: 13, dtype: 'float64' });
    const f = (u: Tensor) => u.pow(4).sum();
    const third = grad((u: Tensor) => hvp(f, u, v).mul(v).sum())(x);
    const expected = x.mul(v).mul(v).mul(24).toTypedArray();
    Array.from(third.toTypedArray()).forEach((value, i) => expect(value).toBeCloseTo(expected[i]!, 10));
  });

  it('refuses a direction of another dtype, naming both', () => {
    const f = (u: Tensor) => u.pow(3).sum();
    expect(() => hvp(f, randn([3], { seed: 1 }), randn([3], { seed: 2, dtype: 'float64' }))).toThrow(DTypeError);
    expect(() => hvp(f, randn([3], { seed: 1 }), randn([3], { seed: 2, dtype: 'float64' }))).toThrow(/hvp \(direction 0 and its primal\): dtypes must match, got float64 and float32/);
  });
});
