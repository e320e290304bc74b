/**
 * prod (and the cumulative products under it) and norm: values against scalar references on
 * random shapes and strided layouts, PyTorch's gradients at the kinks (zeros of prod, the zero
 * vector and tied maxima of norm), float64 finite differences of gradients and of gradients of
 * gradients, vmap and per-sample gradients, and errors. The PyTorch oracle cases of both run in
 * test/scan-ops.test.ts (float64 and float32).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GradError, gradients, norm, ones, perSampleGradients, prod, randn, tensor, vmap, type Tensor } from '../src/index.js';
import { jvp, jvpByDoubleVjp } from '../src/autograd/transforms.js';
import { expectAllClose, gradcheck, gradgradcheck } from './gradcheck.js';
import { mulberry32, ravel, unravel } from './arbitraries.js';

const f64 = { dtype: 'float64' as const };

/** Random float64 values in ±[lo, hi] (so |x| stays off 0 where a test needs that). */
function randomInput(shape: number[], seed: number, permuted: boolean, lo = 0.5, hi = 1.5): Tensor {
  const rng = mulberry32(seed);
  const n = shape.reduce((p, d) => p * d, 1);
  const values = Float64Array.from({ length: n }, () => (rng() < 0.5 ? -1 : 1) * (lo + (hi - lo) * rng()));
  if (!permuted || shape.length < 2) return tensor(values, { shape, ...f64 });
  const rev = shape.slice().reverse();
  return tensor(values, { shape: rev, ...f64 }).permute(rev.map((_, i) => rev.length - 1 - i));
}

/** Reduce the logical values over `axes` with `f` (keepdim shape), element by element. */
function reduceReference(x: Tensor, axes: number[], f: (vs: number[]) => number): number[] {
  const values = Array.from(x.contiguous().toTypedArray());
  const outShape = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const groups = new Map<number, number[]>();
  values.forEach((v, flat) => {
    const key = ravel(unravel(flat, x.shape).map((c, i) => (axes.includes(i) ? 0 : c)), outShape);
    groups.set(key, [...(groups.get(key) ?? []), v]);
  });
  return Array.from({ length: outShape.reduce((p, d) => p * d, 1) }, (_, k) => f(groups.get(k) ?? []));
}

const shapeAndAxes = fc
  .array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 })
  .chain((shape) =>
    fc.record({
      shape: fc.constant(shape),
      axes: fc.subarray(shape.map((_, i) => i), { minLength: 1 }),
      keepdim: fc.boolean(),
      permuted: fc.boolean(),
      seed: fc.integer({ min: 1, max: 1e6 }),
    }),
  );

const reducedShape = (shape: number[], axes: number[], keepdim: boolean) =>
  keepdim ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_, i) => !axes.includes(i));

// ---- prod ---------------------------------------------------------------------------------------

describe('prod', () => {
  it('equals the product along an axis or over everything, with keepdim, on any layout (property)', () => {
    fc.assert(
      fc.property(shapeAndAxes, fc.boolean(), ({ shape, axes, keepdim, permuted, seed }, all) => {
        const x = randomInput(shape, seed, permuted);
        const axis = axes[0]!;
        const used = all ? shape.map((_, i) => i) : [axis];
        const y = all ? prod(x, null, keepdim) : prod(x, axis - (seed % 2 === 0 ? shape.length : 0), keepdim);
        expectAllClose(y, reduceReference(x, used, (vs) => vs.reduce((p, v) => p * v, 1)), { rtol: 1e-13, atol: 1e-13, shape: reducedShape(shape, used, keepdim) });
      }),
      { numRuns: 60 },
    );
  });

  it('of ones is one, whatever the shape (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 4 }), (shape) => {
        expect(prod(ones(shape, f64)).item()).toBe(1);
      }),
      { numRuns: 30 },
    );
  });

  it('has PyTorch gradients at zeros: the product of the others at one zero, 0 with two zeros', () => {
    const x = tensor([[2, 0, 3, 0.5], [0, 1.5, 0, 2], [1, 2, 3, 4]], f64).requireGrad();
    const [g] = gradients([prod(x, 1).sum()], [x]);
    expect(Array.from(g!.toTypedArray())).toEqual([0, 3, 0, 0, 0, 0, 0, 0, 24, 12, 8, 6]);
    const all = tensor([1.5, -2, 0, 4], f64).requireGrad();
    const [ga] = gradients([prod(all)], [all]);
    expect(Array.from(ga!.toTypedArray())).toEqual([0, 0, -12, 0]);
  });

  it('has the exact Hessian at zeros: ∂²/∂xₖ∂xₘ = Π of the others, nonzero even where the gradient is 0', () => {
    const x = tensor([0, 2, 0, 3], f64).requireGrad();
    const [g] = gradients([prod(x)], [x], { createGraph: true });
    // Row k of the Hessian: the gradient of gₖ.
    const hessian = [0, 1, 2, 3].map((k) => Array.from(gradients([g!.slice([[k, k + 1]]).sum()], [x], { retainGraph: true, allowUnused: true })[0]!.toTypedArray()));
    expect(hessian).toEqual([
      [0, 0, 6, 0],
      [0, 0, 0, 0],
      [6, 0, 0, 0],
      [0, 0, 0, 0],
    ]);
  });

  it('has gradients and gradients of gradients equal to finite differences, zeros included', () => {
    const x = tensor([[1.2, 0, -0.7, 1.1], [0, 0.9, 0, -1.3], [0.8, -1.4, 1.05, 0.6]], f64);
    for (const axis of [0, 1, -1]) {
      gradcheck((t) => prod(t, axis), [x], { name: `prod axis ${axis}`, samples: 12 });
      gradgradcheck((t) => prod(t, axis), [x], { name: `prod axis ${axis}`, samples: 12 });
    }
    gradcheck((t) => prod(t), [x.slice([[2, 3]])], { name: 'prod of all', samples: 4 });
    gradgradcheck((t) => prod(t, null, true), [x.slice([[1, 3]])], { name: 'prod of all, keepdim', samples: 8 });
  });

  it('keeps shapes as torch.prod: empty axes give 1, a 0-d tensor is its own product', () => {
    expect(prod(randn([2, 3, 4], { seed: 1, ...f64 }), 1, true).shape).toEqual([2, 1, 4]);
    expect(prod(randn([2, 3], { seed: 2, ...f64 }), null, true).shape).toEqual([1, 1]);
    expect(prod(randn([2, 3], { seed: 3, ...f64 })).shape).toEqual([]);
    const empty = prod(tensor(new Float64Array(0), { shape: [2, 0], ...f64 }), 1);
    expect(Array.from(empty.toTypedArray())).toEqual([1, 1]);
    expect(prod(tensor(new Float64Array(0), { shape: [0], ...f64 })).item()).toBe(1);
    expect(prod(tensor(2.5, f64)).item()).toBe(2.5);
    expect(prod(tensor(2.5, f64), 0).item()).toBe(2.5);
    expect(prod(tensor([2, 3])).dtype).toBe('float32');
  });

  it('jvp equals the double-vjp reference, zeros included', () => {
    const x = tensor([[1.2, 0, -0.7], [0, 0.9, 0]], f64);
    const t = randomInput([2, 3], 5, false);
    for (const f of [(u: Tensor) => prod(u, 1), (u: Tensor) => prod(u)]) {
      const [, dy] = jvp(f, [x], [t]);
      const [, dyRef] = jvpByDoubleVjp(f, [x], [t]);
      expectAllClose(dy, Array.from(dyRef.toTypedArray()), { rtol: 1e-13, atol: 1e-14 });
    }
  });

  it('vmap equals a loop, and per-sample gradients through it sum to the batch gradient', () => {
    const xs = randomInput([3, 2, 4], 7, true);
    const out = vmap((x: Tensor) => prod(x, 1))(xs);
    for (let b = 0; b < 3; b++) expectAllClose(out.slice([[b, b + 1]]).squeeze(0), Array.from(prod(xs.slice([[b, b + 1]]).squeeze(0), 1).toTypedArray()), { rtol: 1e-14, atol: 0 });
    const all = vmap((x: Tensor) => prod(x))(xs);
    expect(all.shape).toEqual([3]);

    const x = randn([4, 3], { seed: 8, ...f64 });
    const w = randn([3, 3], { seed: 9, ...f64 }).requireGrad();
    const program = (input: Tensor) => prod(input.matmul(w), 1);
    const input = x.detach().requireGrad();
    const [rows] = perSampleGradients(program(input), [w], input);
    const [batch] = gradients([program(x).sum()], [w]);
    expectAllClose(rows!.sum(0), Array.from(batch!.toTypedArray()), { rtol: 1e-12, atol: 1e-13 });
    for (let i = 0; i < 4; i++) {
      const [g] = gradients([program(x.slice([[i, i + 1]])).sum()], [w]);
      expectAllClose(rows!.slice([[i, i + 1]]).squeeze(0), Array.from(g!.toTypedArray()), { rtol: 1e-12, atol: 1e-13 });
    }
    const over = x.detach().requireGrad();
    expect(() => perSampleGradients(prod(over.matmul(w), 0), [w], over)).toThrow(GradError);
  });

  it('errors name prod, what was expected and what was given', () => {
    expect(() => prod(tensor([1, 2]), 1)).toThrow(/prod: axis 1 is out of range for a tensor of rank 1/);
    expect(() => prod(tensor([1, 2]), [0] as unknown as number)).toThrow(/prod: expected an integer axis; got/);
    expect(() => prod(tensor([1, 2]), 0, 1 as unknown as boolean)).toThrow(/prod: expected keepdim to be true or false/);
    expect(() => prod('x' as unknown as Tensor)).toThrow(/prod: expected a Tensor; got/);
    expect(() => prod(tensor([1, 2], { dtype: 'int32' }))).toThrow(/prod/);
  });
});

// ---- norm ---------------------------------------------------------------------------------------

const NORMS: [1 | 2 | typeof Infinity, (vs: number[]) => number][] = [
  [1, (vs) => vs.reduce((s, v) => s + Math.abs(v), 0)],
  [2, (vs) => Math.sqrt(vs.reduce((s, v) => s + v * v, 0))],
  [Infinity, (vs) => Math.max(...vs.map(Math.abs))],
];

describe('norm', () => {
  it.each(NORMS)('ord %s equals the reference over any axes, with keepdim, on any layout (property)', (ord, ref) => {
    fc.assert(
      fc.property(shapeAndAxes, fc.boolean(), ({ shape, axes, keepdim, permuted, seed }, all) => {
        const x = randomInput(shape, seed, permuted, 0, 2);
        const used = all ? shape.map((_, i) => i) : axes;
        const y = norm(x, ord, all ? null : used.map((a) => (seed % 2 === 0 ? a - shape.length : a)), keepdim);
        expectAllClose(y, reduceReference(x, used, ref), { rtol: 1e-14, atol: 1e-15, shape: reducedShape(shape, used, keepdim) });
      }),
      { numRuns: 40 },
    );
  });

  it('defaults to ord 2 over every axis, and takes one axis as a number', () => {
    const x = tensor([[3, -4], [0, 12]], f64);
    expect(norm(x).item()).toBe(13);
    expect(Array.from(norm(x, 2, 1).toTypedArray())).toEqual([5, 12]);
    expect(Array.from(norm(x, Infinity, 0, true).toTypedArray())).toEqual([3, 12]);
    expect(norm(x, Infinity, 0, true).shape).toEqual([1, 2]);
    expect(norm(tensor(-2.5, f64), 1).item()).toBe(2.5);
  });

  it('has gradients equal to finite differences, and gradients of gradients for ord 2', () => {
    const x = randomInput([3, 4, 2], 3, true, 0.1, 1.5);
    for (const axes of [null, [1], [0, 2]] as const) {
      for (const [ord] of NORMS) gradcheck((t) => norm(t, ord, axes), [x], { name: `norm ord ${ord} over ${axes}`, samples: 24 });
      gradgradcheck((t) => norm(t, 2, axes, true), [x], { name: `norm ord 2 over ${axes}`, samples: 24 });
    }
  });

  it('ord 1 and ∞ are piecewise linear: their gradients are constants (no graph), so Hessian-vector products are 0', () => {
    const x = randomInput([3, 3], 4, false, 0.1, 1.5).requireGrad();
    for (const ord of [1, Infinity] as const) {
      const [g] = gradients([norm(x, ord, 1).sum()], [x], { createGraph: true });
      expect(g!.requiresGrad).toBe(false);
    }
    const [g2] = gradients([norm(x, 2, 1).sum()], [x], { createGraph: true });
    expect(g2!.requiresGrad).toBe(true);
  });

  it('follows PyTorch at the kinks: 0 for a zero vector (ord 2), sign(0) = 0 (ord 1), ties split evenly (ord ∞)', () => {
    const zero = tensor([[0, 0, 0], [3, 0, -4]], f64).requireGrad();
    const [g2] = gradients([norm(zero, 2, 1).sum()], [zero]);
    expectAllClose(g2!, [0, 0, 0, 0.6, 0, -0.8], { rtol: 1e-15, atol: 0 });
    const [g1] = gradients([norm(zero, 1, 1).sum()], [zero]);
    expect(Array.from(g1!.toTypedArray())).toEqual([0, 0, 0, 1, 0, -1]);
    const ties = tensor([3, -3, 1, 3], f64).requireGrad();
    const y = norm(ties, Infinity);
    expect(y.item()).toBe(3);
    const [gi] = gradients([y], [ties]);
    expect(Array.from(gi!.toTypedArray())).toEqual([1 / 3, -1 / 3, 0, 1 / 3]);
  });

  it('propagates ∞ and NaN like PyTorch', () => {
    expect(norm(tensor([1, -Infinity, 2], f64), Infinity).item()).toBe(Infinity);
    expect(norm(tensor([1, -Infinity, 2], f64), 2).item()).toBe(Infinity);
    expect(Number.isNaN(norm(tensor([1, NaN, 2], f64), Infinity).item())).toBe(true);
    expect(Number.isNaN(norm(tensor([1, NaN, 2], f64), 1).item())).toBe(true);
  });

  it('jvp equals the double-vjp reference', () => {
    const x = randomInput([3, 4], 6, false, 0.1, 1.5);
    const t = randomInput([3, 4], 7, false);
    for (const [ord] of NORMS) {
      const f = (u: Tensor) => norm(u, ord, 1);
      const [, dy] = jvp(f, [x], [t]);
      const [, dyRef] = jvpByDoubleVjp(f, [x], [t]);
      expectAllClose(dy, Array.from(dyRef.toTypedArray()), { rtol: 1e-13, atol: 1e-14 });
    }
  });

  it('vmap equals a loop, and per-sample gradients through it sum to the batch gradient', () => {
    const xs = randomInput([3, 2, 4], 8, true, 0.1, 1.5);
    for (const [ord] of NORMS) {
      const out = vmap((x: Tensor) => norm(x, ord, [0, 1]), { inAxes: 1 })(xs);
      for (let b = 0; b < 2; b++) {
        const sample = xs.slice([null, [b, b + 1]]).squeeze(1);
        expectAllClose(out.slice([[b, b + 1]]).squeeze(0), [norm(sample, ord).item()], { rtol: 1e-14, atol: 0 });
      }
    }
    const x = randn([5, 3], { seed: 9, ...f64 });
    const w = randn([3, 4], { seed: 10, ...f64 }).requireGrad();
    for (const [ord] of NORMS) {
      const program = (input: Tensor) => norm(input.matmul(w), ord, 1);
      const input = x.detach().requireGrad();
      const [rows] = perSampleGradients(program(input), [w], input);
      const [batch] = gradients([program(x).sum()], [w]);
      expectAllClose(rows!.sum(0), Array.from(batch!.toTypedArray()), { rtol: 1e-12, atol: 1e-13 });
      const [first] = gradients([program(x.slice([[0, 1]])).sum()], [w]);
      expectAllClose(rows!.slice([[0, 1]]).squeeze(0), Array.from(first!.toTypedArray()), { rtol: 1e-12, atol: 1e-13 });
      const over = x.detach().requireGrad();
      expect(() => perSampleGradients(norm(over.matmul(w), ord, 0), [w], over)).toThrow(GradError);
    }
  });

  it('errors name norm, what was expected and what was given', () => {
    const x = tensor([[1, 2], [3, 4]]);
    expect(() => norm(x, 'inf' as unknown as number as 1)).toThrow(/norm: ord must be 1, 2 or Infinity; got 'inf' \(pass Infinity\)/);
    expect(() => norm(x, 3 as 1)).toThrow(/norm: ord must be 1, 2 or Infinity; got 3/);
    expect(() => norm(x, 2, 2)).toThrow(/norm: axis 2 is out of range for a tensor of rank 2/);
    expect(() => norm(x, 2, [0, 0])).toThrow(/norm: repeated axis/);
    expect(() => norm(x, 2, null, 'no' as unknown as boolean)).toThrow(/norm: expected keepdim to be true or false/);
    expect(() => norm(tensor(new Float32Array(0), { shape: [2, 0] }), Infinity, 1)).toThrow(/norm: cannot take the Infinity norm over an empty axis of shape \[2, ?0\]/);
    expect(Array.from(norm(tensor(new Float32Array(0), { shape: [2, 0] }), 2, 1).toTypedArray())).toEqual([0, 0]);
    expect(Array.from(norm(tensor(new Float32Array(0), { shape: [2, 0] }), 1, 1).toTypedArray())).toEqual([0, 0]);
  });
});
