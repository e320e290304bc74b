/**
 * Property tests driven by the op catalogue (test/catalogue.ts). For every elementwise op:
 *   1. forward equals the scalar reference at every index (float64), on random layouts
 *      (permuted strides, strided slices, expanded views) and with broadcasting;
 *   2. the gradient matches central differences (float64);
 *   3. the gradient of the gradient matches finite differences of the gradient;
 *   4. backward un-broadcasts: the same check with inputs of reduced shapes (0-d, missing
 *      leading axes, size-1 dims) that broadcast against each other or are expanded;
 *   5. float32 forward agrees with float64 forward within float32 rounding.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { grad, tensor, where, type Tensor } from '../src/index.js';
import {
  broadcastableShapes,
  broadcastShape,
  broadcastSource,
  describeTensor,
  mapSpec,
  materialize,
  shape,
  sizeOf,
  specOf,
  unravel,
  type Shape,
  type TensorSpec,
} from './arbitraries.js';
import { CATALOGUE, type OpEntry } from './catalogue.js';
import { expectAllClose, gradcheck, gradgradcheck } from './gradcheck.js';

const RUNS = { forward: 50, grad: 40, gradgrad: 25, broadcast: 30, float32: 40 };

/** Specs for the op's arguments, one per shape, each mapped into its argument's safe domain. */
function inputSpecs(entry: OpEntry, shapes: fc.Arbitrary<Shape[]>): fc.Arbitrary<TensorSpec[]> {
  return shapes.chain((ss) => fc.tuple(...ss.map((s) => specOf(s)))).map((specs) => specs.map((s, k) => mapSpec(s, entry.domain[k]!)));
}

const sameShapes = (n: number): fc.Arbitrary<Shape[]> => shape().map((s) => Array.from({ length: n }, () => s.slice()));
const broadcastShapes = (n: number): fc.Arbitrary<Shape[]> => (n === 1 ? shape().map((s) => [s]) : broadcastableShapes(n));

/** The reference output: entry.ref applied per element, with NumPy broadcasting. */
function reference(entry: OpEntry, specs: readonly TensorSpec[]): { shape: Shape; values: number[] } {
  const out = broadcastShape(...specs.map((s) => s.shape))!;
  const values = Array.from({ length: sizeOf(out) }, (_, k) => {
    const idx = unravel(k, out);
    return entry.ref(...specs.map((s) => s.values[broadcastSource(idx, s.shape)]!));
  });
  return { shape: out, values };
}

const layouts = (ts: readonly Tensor[]) => ts.map(describeTensor).join('; ');

describe.each(CATALOGUE.map((e) => [e.name, e] as const))('%s forward', (_name, entry) => {
  it('forward equals the scalar reference at every index (float64, random layouts, broadcasting)', () => {
    fc.assert(
      fc.property(inputSpecs(entry, broadcastShapes(entry.arity)), (specs) => {
        const inputs = specs.map((s) => materialize(s));
        const out = entry.fn(...inputs);
        const expected = reference(entry, specs);
        expect(out.dtype).toBe('float64');
        expectAllClose(out, expected.values, { shape: expected.shape, rtol: 1e-12, atol: 0, what: `${entry.name} on ${layouts(inputs)}` });
        // The op never writes to its inputs.
        specs.forEach((s, k) => expectAllClose(inputs[k]!, s.values, { rtol: 0, atol: 0, what: `${entry.name}: input ${k} unchanged` }));
      }),
      { numRuns: RUNS.forward },
    );
  });

  it('float32 forward agrees with float64 forward within float32 rounding', () => {
    fc.assert(
      fc.property(inputSpecs(entry, broadcastShapes(entry.arity)), (specs) => {
        // Both runs see the same (float32-representable) inputs, so the results may differ only
        // by the float32 rounding of the output and of composite intermediates: a few ulps
        // (ulp = 2^-23 ≈ 1.2e-7 relative). atol 1e-37 admits float32 subnormal results.
        const rounded = specs.map((s) => mapSpec(s, Math.fround));
        const out32 = entry.fn(...rounded.map((s) => materialize(s, { dtype: 'float32' })));
        const out64 = entry.fn(...rounded.map((s) => materialize(s, { dtype: 'float64' })));
        expect(out32.dtype).toBe('float32');
        expect(out32.shape).toEqual(out64.shape);
        expectAllClose(out32, Array.from(out64.toTypedArray()), { rtol: 5e-7, atol: 1e-37, what: `${entry.name} float32 vs float64` });
      }),
      { numRuns: RUNS.float32 },
    );
  });
});

describe.each(CATALOGUE.filter((e) => e.differentiable).map((e) => [e.name, e] as const))('%s gradients', (_name, entry) => {
  it('gradient matches central differences (float64)', () => {
    fc.assert(
      fc.property(inputSpecs(entry, sameShapes(entry.arity)), fc.nat(), (specs, seed) => {
        gradcheck(entry.fn, specs.map((s) => materialize(s)), { name: entry.name, seed });
      }),
      { numRuns: RUNS.grad },
    );
  });

  it('second derivative matches finite differences of the gradient', () => {
    fc.assert(
      fc.property(inputSpecs(entry, sameShapes(entry.arity)), fc.nat(), (specs, seed) => {
        gradgradcheck(entry.fn, specs.map((s) => materialize(s)), { name: entry.name, seed });
      }),
      { numRuns: RUNS.gradgrad },
    );
  });

  it('backward sums broadcast axes back to reduced input shapes', () => {
    if (entry.arity === 1) {
      // A reduced-shape input expanded inside f: its gradient is the sum over the copies.
      const arb = shape(0, 4)
        .chain((target) =>
          fc.record({
            target: fc.constant(target),
            ones: fc.array(fc.boolean(), { minLength: target.length, maxLength: target.length }),
            drop: fc.integer({ min: 0, max: target.length }),
          }),
        )
        .chain(({ target, ones, drop }) => {
          const small = target.map((d, i) => (ones[i] ? 1 : d)).slice(drop);
          return specOf(small).map((spec) => ({ target, spec: mapSpec(spec, entry.domain[0]!) }));
        });
      fc.assert(
        fc.property(arb, fc.nat(), ({ target, spec }, seed) => {
          gradcheck((t) => entry.fn(t.expand(target)), [materialize(spec)], { name: `${entry.name}(x.expand([${target}])) with x [${spec.shape}]`, seed });
        }),
        { numRuns: RUNS.broadcast },
      );
      return;
    }
    fc.assert(
      fc.property(inputSpecs(entry, broadcastableShapes(entry.arity)), fc.nat(), (specs, seed) => {
        gradcheck(entry.fn, specs.map((s) => materialize(s)), { name: `${entry.name} with shapes ${specs.map((s) => `[${s.shape}]`).join(', ')}`, seed });
      }),
      { numRuns: RUNS.broadcast },
    );
  });
});

describe('the checkers themselves', () => {
  const x = () => tensor([0.5, -1.2, 2], { dtype: 'float64' });

  it('gradcheck rejects a wrong gradient and names the function, argument, index and both values', () => {
    // x.detach()·x: the analytic gradient treats one factor as a constant (x), the true one is 2x.
    expect(() => gradcheck((t) => t.detach().mul(t), [x()], { name: 'wrong', argNames: ['t'] })).toThrow(
      /gradcheck failed for wrong: argument t \(shape \[3\]\) at index 0 \[0\] \(value 0.5\): analytic 0\.\d+, numeric 0\.\d+/,
    );
    expect(() => gradcheck((t) => t.square(), [x()])).not.toThrow();
  });

  it('gradgradcheck rejects a correct gradient whose own derivative is wrong', () => {
    // (x − x̄ + 1)·e^x̄ with x̄ = x.detach() equals e^x with the right first derivative e^x̄, but
    // that derivative is recorded as a constant: second derivative 0 instead of e^x.
    const f = (t: Tensor) => t.sub(t.detach()).add(1).mul(t.detach().exp());
    expect(() => gradcheck(f, [x()])).not.toThrow();
    expect(() => gradgradcheck(f, [x()], { name: 'fake exp' })).toThrow(/gradcheck failed for grad of fake exp/);
    expect(() => gradgradcheck((t) => t.exp(), [x()])).not.toThrow();
  });
});

describe('golden examples', () => {
  it('NaN propagates through relu, maximum, minimum, abs and where-based clamp', () => {
    const x = tensor([Number.NaN, 1, -1], { dtype: 'float64' });
    expect(x.relu().toArray()).toEqual([Number.NaN, 1, 0]);
    expect(x.abs().toArray()).toEqual([Number.NaN, 1, 1]);
    expect(x.maximum(0).toArray()).toEqual([Number.NaN, 1, 0]);
    expect(x.minimum(0).toArray()).toEqual([Number.NaN, 0, -1]);
    expect(x.clamp(-0.5, 0.5).toArray()).toEqual([Number.NaN, 0.5, -0.5]);
    expect(x.sign().toArray()).toEqual([Number.NaN, 1, -1]);
  });

  it('sigmoid, softplus and elu stay finite at ±1000 (no overflow in the unused branch)', () => {
    const x = tensor([-1000, 1000], { dtype: 'float64' });
    expect(x.sigmoid().toArray()).toEqual([0, 1]);
    expect(x.softplus().toArray()).toEqual([0, 1000]);
    expect(x.elu().toArray()).toEqual([-1, 1000]);
    expect(grad((t: Tensor) => t.elu().sum())(x).toArray()).toEqual([0, 1]);
    expect(grad((t: Tensor) => t.softplus().sum())(x).toArray()).toEqual([0, 1]);
    expect(grad((t: Tensor) => t.sigmoid().sum())(x).toArray()).toEqual([0, 0]);
  });

  it('where routes an infinite gradient only to the branch that was taken (no 0·∞ = NaN)', () => {
    const cond = tensor([0, 1], { dtype: 'float64' });
    const a = tensor([1, 2], { dtype: 'float64' });
    const b = tensor([3, 4], { dtype: 'float64' });
    const w = tensor([Number.POSITIVE_INFINITY, 1], { dtype: 'float64' });
    const [ga, gb] = grad((x: Tensor, y: Tensor) => where(cond, x, y).mul(w).sum(), { argnums: [0, 1] })(a, b);
    expect(ga!.toArray()).toEqual([0, 1]);
    expect(gb!.toArray()).toEqual([Number.POSITIVE_INFINITY, 0]);
  });

  it('where takes any nonzero condition as true, and the condition may broadcast both branches', () => {
    const cond = tensor([[0], [2], [-0.5]], { dtype: 'float64' });
    const out = where(cond, tensor([1, 2], { dtype: 'float64' }), tensor(9, { dtype: 'float64' }));
    expect(out.toArray()).toEqual([[9, 9], [1, 2], [1, 2]]);
    const [ga, gb] = grad((a: Tensor, b: Tensor) => where(cond, a, b).sum(), { argnums: [0, 1] })(
      tensor([1, 2], { dtype: 'float64' }),
      tensor(9, { dtype: 'float64' }),
    );
    expect(ga!.toArray()).toEqual([2, 2]);
    expect(gb!.toArray()).toBe(2);
  });

  it('clamp with min > max sets every element to max (PyTorch: min(max(x, min), max))', () => {
    const x = tensor([0, 4, 10], { dtype: 'float64' });
    expect(x.clamp(5, 3).toArray()).toEqual([3, 3, 3]);
  });

  it('relu, abs and maximum use the documented subgradients at the kink', () => {
    const zero = tensor([0, 0], { dtype: 'float64' });
    expect(grad((t: Tensor) => t.relu().sum())(zero).toArray()).toEqual([0, 0]);
    expect(grad((t: Tensor) => t.abs().sum())(zero).toArray()).toEqual([0, 0]);
    // maximum splits the gradient evenly at a tie; clamp passes it inside the closed interval.
    const [ga, gb] = grad((a: Tensor, b: Tensor) => a.maximum(b).sum(), { argnums: [0, 1] })(zero, zero.clone());
    expect(ga!.toArray()).toEqual([0.5, 0.5]);
    expect(gb!.toArray()).toEqual([0.5, 0.5]);
    expect(grad((t: Tensor) => t.clamp(0, 1).sum())(tensor([0, 1, 2], { dtype: 'float64' })).toArray()).toEqual([1, 1, 0]);
  });
});
