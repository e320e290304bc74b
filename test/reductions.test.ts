/**
 * Reductions against plain-JS references, on random layouts, over any set of axes (negative
 * axes included) with and without keepdim, plus central-difference gradient checks and the
 * numerically hard cases (values ≈ +1000 and ≈ −700).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { grad, tensor, type Tensor } from '../src/index.js';
import { distinctSpecOf, materialize, ravel, shape, sizeOf, specOf, unravel, type Shape, type TensorSpec } from './arbitraries.js';
import { expectAllClose, gradcheck, gradgradcheck } from './gradcheck.js';

// ---- references ------------------------------------------------------------------------------

/** Group the elements of `spec` by their position outside `axes` (sorted, non-negative). */
function groups(spec: TensorSpec, axes: readonly number[]): { outShape: Shape; lanes: number[][] } {
  const kept = spec.shape.filter((_, d) => !axes.includes(d));
  const lanes: number[][] = Array.from({ length: sizeOf(kept) }, () => []);
  spec.values.forEach((v, k) => {
    const idx = unravel(k, spec.shape).filter((_, d) => !axes.includes(d));
    lanes[ravel(idx, kept)]!.push(v); // pushed in row-major order of the reduced axes
  });
  return { outShape: kept, lanes };
}

function keptShape(s: Shape, axes: readonly number[], keepdim: boolean): Shape {
  return keepdim ? s.map((d, i) => (axes.includes(i) ? 1 : d)) : s.filter((_, i) => !axes.includes(i));
}

function refReduce(spec: TensorSpec, axes: readonly number[], keepdim: boolean, f: (lane: number[]) => number): { shape: Shape; values: number[] } {
  const { lanes } = groups(spec, axes);
  return { shape: keptShape(spec.shape, axes, keepdim), values: lanes.map(f) };
}

const jsSum = (xs: number[]) => xs.reduce((p, x) => p + x, 0);
const jsMean = (xs: number[]) => jsSum(xs) / xs.length;
const jsVar = (c: number) => (xs: number[]) => {
  const m = jsMean(xs);
  return jsSum(xs.map((x) => (x - m) ** 2)) / Math.max(xs.length - c, 0);
};
/** First index of the maximum (NaN wins), as torch.max(dim) reports it. */
const jsArgmax = (xs: number[]) => {
  let best = 0;
  for (let i = 0; i < xs.length; i++) {
    if (Number.isNaN(xs[i]!)) return i;
    if (xs[i]! > xs[best]!) best = i;
  }
  return best;
};
const jsArgmin = (xs: number[]) => jsArgmax(xs.map((x) => -x));
const jsLogsumexp = (xs: number[]) => {
  const m = Math.max(...xs);
  if (!Number.isFinite(m)) return m;
  return m + Math.log(jsSum(xs.map((x) => Math.exp(x - m))));
};

/** softmax / logSoftmax along one axis, in the spec's shape. */
function refAlongAxis(spec: TensorSpec, axis: number, f: (lane: number[]) => number[]): number[] {
  const out = new Array<number>(spec.values.length);
  const laneIdx: number[][] = [];
  const { lanes } = groups(spec, [axis]);
  const kept = spec.shape.filter((_, d) => d !== axis);
  spec.values.forEach((_, k) => {
    const li = ravel(unravel(k, spec.shape).filter((_, d) => d !== axis), kept);
    (laneIdx[li] ??= []).push(k);
  });
  lanes.forEach((lane, li) => f(lane).forEach((v, j) => (out[laneIdx[li]![j]!] = v)));
  return out;
}
const jsLogSoftmax = (xs: number[]) => {
  const l = jsLogsumexp(xs);
  return xs.map((x) => x - l);
};
const jsSoftmax = (xs: number[]) => jsLogSoftmax(xs).map(Math.exp);

// ---- arbitraries -------------------------------------------------------------------------------

/** A set of axes of a rank-`rank` tensor: sorted canonical axes plus how to pass them. */
interface AxesChoice {
  axes: number[];
  /** The argument given to gradscope: a number, a list (with some negative axes), or null. */
  arg: number | number[] | null;
  keepdim: boolean;
}

function axesChoice(rank: number): fc.Arbitrary<AxesChoice> {
  const all = Array.from({ length: rank }, (_, i) => i);
  return fc
    .record({
      all: fc.boolean(),
      subset: fc.subarray(all),
      negative: fc.array(fc.boolean(), { minLength: rank, maxLength: rank }),
      asNumber: fc.boolean(),
      keepdim: fc.boolean(),
      shuffle: fc.boolean(),
    })
    .map(({ all: everything, subset, negative, asNumber, keepdim, shuffle }) => {
      if (everything) return { axes: all, arg: null, keepdim };
      const given = subset.map((a) => (negative[a] ? a - rank : a));
      if (shuffle) given.reverse();
      const arg = asNumber && given.length === 1 ? given[0]! : given;
      return { axes: subset.slice().sort((a, b) => a - b), arg, keepdim };
    });
}

/** One axis (possibly negative) of a tensor of rank ≥ 1. */
function oneAxis(rank: number): fc.Arbitrary<{ axis: number; arg: number }> {
  return fc.record({ axis: fc.integer({ min: 0, max: rank - 1 }), negative: fc.boolean() }).map(({ axis, negative }) => ({ axis, arg: negative ? axis - rank : axis }));
}

const specWithAxes = shape(0, 4).chain((s) => fc.tuple(specOf(s), axesChoice(s.length)));
const specWithAxis = shape(1, 4).chain((s) => fc.tuple(specOf(s), oneAxis(s.length), fc.boolean()));
const distinctWithAxis = shape(1, 4).chain((s) => fc.tuple(distinctSpecOf(s), oneAxis(s.length), fc.boolean()));

const RUNS = 40;
const SUM_TOL = { rtol: 1e-12, atol: 1e-12 };

// ---- forward -------------------------------------------------------------------------------------

describe('sum / mean / var forward', () => {
  it('sum over any axes matches the reference', () => {
    fc.assert(
      fc.property(specWithAxes, ([spec, c]) => {
        const ref = refReduce(spec, c.axes, c.keepdim, jsSum);
        expectAllClose(materialize(spec).sum(c.arg, c.keepdim), ref.values, { ...SUM_TOL, shape: ref.shape, what: `sum(${JSON.stringify(c.arg)}, ${c.keepdim})` });
      }),
      { numRuns: RUNS },
    );
  });

  it('mean over any axes matches the reference', () => {
    fc.assert(
      fc.property(specWithAxes, ([spec, c]) => {
        const ref = refReduce(spec, c.axes, c.keepdim, jsMean);
        expectAllClose(materialize(spec).mean(c.arg, c.keepdim), ref.values, { ...SUM_TOL, shape: ref.shape, what: `mean(${JSON.stringify(c.arg)})` });
      }),
      { numRuns: RUNS },
    );
  });

  it('var with correction 0, 1 (default) and 2 matches the reference (n − c ≤ 0 gives inf/NaN, as PyTorch)', () => {
    fc.assert(
      fc.property(specWithAxes, fc.constantFrom(0, 1, 2, undefined), ([spec, c], correction) => {
        const ref = refReduce(spec, c.axes, c.keepdim, jsVar(correction ?? 1));
        const out = materialize(spec).var(c.arg, correction === undefined ? { keepdim: c.keepdim } : { correction, keepdim: c.keepdim });
        expectAllClose(out, ref.values, { rtol: 1e-10, atol: 1e-10, shape: ref.shape, what: `var(${JSON.stringify(c.arg)}, correction ${correction})` });
      }),
      { numRuns: RUNS },
    );
  });

  it('golden: sum of an empty axis is 0; mean of nothing is NaN; var of one element is NaN', () => {
    expect(tensor(new Float64Array(0), { shape: [0, 3] }).sum(0).toArray()).toEqual([0, 0, 0]);
    expect(tensor(new Float64Array(0)).mean().item()).toBeNaN();
    expect(tensor([5], { dtype: 'float64' }).var().item()).toBeNaN();
    expect(tensor([5], { dtype: 'float64' }).var(null, { correction: 0 }).item()).toBe(0);
    expect(tensor([[1, 2], [3, 5]], { dtype: 'float64' }).var(-1, { keepdim: true }).toArray()).toEqual([[0.5], [2]]);
  });
});

describe('max / min / argmax / argmin forward', () => {
  it('max and min along an axis give the values and the FIRST index of the extremum', () => {
    fc.assert(
      fc.property(specWithAxis, ([spec, { axis, arg }, keepdim]) => {
        const x = materialize(spec);
        for (const [op, jsArg] of [['max', jsArgmax], ['min', jsArgmin]] as const) {
          const r = op === 'max' ? x.maxWithIndices(arg, keepdim) : x.minWithIndices(arg, keepdim);
          const idx = refReduce(spec, [axis], keepdim, jsArg);
          const vals = refReduce(spec, [axis], keepdim, (xs) => xs[jsArg(xs)]!);
          expect(r.indices.dtype).toBe('int32');
          expectAllClose(r.indices, idx.values, { rtol: 0, atol: 0, shape: idx.shape, what: `${op}(${arg}).indices` });
          expectAllClose(r.values, vals.values, { rtol: 0, atol: 0, shape: vals.shape, what: `${op}(${arg}).values` });
          expectAllClose(op === 'max' ? x.max(arg, keepdim) : x.min(arg, keepdim), vals.values, { rtol: 0, atol: 0, shape: vals.shape });
          expectAllClose(op === 'max' ? x.argmax(arg, keepdim) : x.argmin(arg, keepdim), idx.values, { rtol: 0, atol: 0, shape: idx.shape });
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('max/min/argmax/argmin over all elements use the flat row-major index', () => {
    fc.assert(
      fc.property(shape(0, 4).chain((s) => specOf(s)), fc.boolean(), (spec, keepdim) => {
        const x = materialize(spec);
        const ones = spec.shape.map(() => 1);
        const i = jsArgmax(spec.values);
        const j = jsArgmin(spec.values);
        const r = x.maxWithIndices(null, keepdim);
        expectAllClose(r.values, [spec.values[i]!], { rtol: 0, atol: 0, shape: keepdim ? ones : [] });
        expectAllClose(r.indices, [i], { rtol: 0, atol: 0, shape: keepdim ? ones : [] });
        expectAllClose(x.min(), [spec.values[j]!], { rtol: 0, atol: 0, shape: [] });
        expectAllClose(x.argmax(), [i], { rtol: 0, atol: 0, shape: [] });
        expectAllClose(x.argmin(null, keepdim), [j], { rtol: 0, atol: 0, shape: keepdim ? ones : [] });
      }),
      { numRuns: RUNS },
    );
  });

  it('golden: ties give the first index; NaN is the extremum and propagates', () => {
    const x = tensor([[1, 3, 3], [2, 2, 0]], { dtype: 'float64' });
    expect(x.argmax(1).toArray()).toEqual([1, 0]);
    expect(x.argmin(0).toArray()).toEqual([0, 1, 1]);
    expect(x.maxWithIndices(1).indices.toArray()).toEqual([1, 0]);
    const y = tensor([1, Number.NaN, 3], { dtype: 'float64' });
    expect(y.max().item()).toBeNaN();
    expect(y.min().item()).toBeNaN();
    expect(y.argmax().item()).toBe(1);
    expect(y.sum().item()).toBeNaN();
  });

  it('0-d tensors: reductions over everything return the value', () => {
    const x = tensor(3, { dtype: 'float64' });
    expect(x.max().item()).toBe(3);
    expect(x.sum().item()).toBe(3);
    expect(x.argmax().item()).toBe(0);
    expect(x.logsumexp().item()).toBe(3);
  });

  it('0-d tensors: dim 0 is accepted by max/min as by sum and argmax (PyTorch allows dim 0 on a scalar)', () => {
    const x = tensor(3, { dtype: 'float64' });
    expect(x.sum(0).item()).toBe(3);
    expect(x.argmax(0).item()).toBe(0);
    expect(x.max(0).item()).toBe(3);
    expect(x.minWithIndices(0).indices.item()).toBe(0);
  });
});

describe('logsumexp / softmax / logSoftmax forward', () => {
  it('logsumexp over any axes matches the reference', () => {
    fc.assert(
      fc.property(specWithAxes, ([spec, c]) => {
        const ref = refReduce(spec, c.axes, c.keepdim, jsLogsumexp);
        expectAllClose(materialize(spec).logsumexp(c.arg, c.keepdim), ref.values, { ...SUM_TOL, shape: ref.shape, what: `logsumexp(${JSON.stringify(c.arg)})` });
      }),
      { numRuns: RUNS },
    );
  });

  it('softmax and logSoftmax along any axis match the reference', () => {
    fc.assert(
      fc.property(specWithAxis, ([spec, { axis, arg }]) => {
        const x = materialize(spec);
        expectAllClose(x.softmax(arg), refAlongAxis(spec, axis, jsSoftmax), { ...SUM_TOL, shape: spec.shape, what: `softmax(${arg})` });
        expectAllClose(x.logSoftmax(arg), refAlongAxis(spec, axis, jsLogSoftmax), { ...SUM_TOL, shape: spec.shape, what: `logSoftmax(${arg})` });
      }),
      { numRuns: RUNS },
    );
  });

  it('stability: values ≈ +1000 and ≈ −700 neither overflow nor underflow', () => {
    fc.assert(
      fc.property(
        shape(1, 3).chain((s) => fc.tuple(specOf(s, { min: -3, max: 3 }), oneAxis(s.length), fc.constantFrom(1000, -700, 800))),
        ([spec0, { axis, arg }, shift]) => {
          const spec = { ...spec0, values: spec0.values.map((v) => v + shift) };
          const x = materialize(spec);
          const lse = x.logsumexp(arg);
          const ref = refReduce(spec, [axis], false, jsLogsumexp);
          expectAllClose(lse, ref.values, { rtol: 1e-14, atol: 0, shape: ref.shape, what: `logsumexp at ${shift}` });
          const sm = x.softmax(arg);
          expectAllClose(sm, refAlongAxis(spec, axis, jsSoftmax), { rtol: 1e-9, atol: 1e-15, what: `softmax at ${shift}` });
          expectAllClose(x.logSoftmax(arg), refAlongAxis(spec, axis, jsLogSoftmax), { rtol: 1e-9, atol: 1e-9, what: `logSoftmax at ${shift}` });
          // d logsumexp / dx = softmax, also at these magnitudes.
          const g = grad((t: Tensor) => t.logsumexp(arg).sum())(x);
          expectAllClose(g, refAlongAxis(spec, axis, jsSoftmax), { rtol: 1e-9, atol: 1e-15, what: `grad logsumexp at ${shift}` });
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('golden: logsumexp of [1000, 1000] is 1000 + ln 2; of all −∞ is −∞; softmax of [−700, −701]', () => {
    expect(tensor([1000, 1000], { dtype: 'float64' }).logsumexp().item()).toBeCloseTo(1000 + Math.LN2, 12);
    expect(tensor([-Infinity, -Infinity], { dtype: 'float64' }).logsumexp().item()).toBe(-Infinity);
    expect(tensor([Infinity, 0], { dtype: 'float64' }).logsumexp().item()).toBe(Infinity);
    const sm = tensor([-700, -701], { dtype: 'float64' }).softmax(0).toArray() as number[];
    expectAllClose(sm, [1 / (1 + Math.exp(-1)), Math.exp(-1) / (1 + Math.exp(-1))], { rtol: 1e-14 });
    // float32 at +1000 too: no Infinity, no NaN.
    const f32 = tensor([1000, 999, 998], { dtype: 'float32' }).softmax(0).toArray() as number[];
    expect(f32.every(Number.isFinite)).toBe(true);
  });

  it('float32 softmax of logits ≈ 1000 is accurate to float32 precision (as exp(x − max) / Σ exp(x − max) is)', () => {
    // exp(x − logsumexp(x)) rounds logsumexp ≈ 1000.41 to float32 first (ulp 6e-5), which puts
    // a relative error of ≈ 1e-5 into every probability; shifting by the max loses nothing,
    // because x − max is exact for nearby floats.
    const x = [1000, 999, 998];
    const f32 = tensor(x, { dtype: 'float32' }).softmax(0).toArray() as number[];
    expectAllClose(f32, jsSoftmax(x), { rtol: 1e-6, atol: 0, what: 'float32 softmax at 1000' });
  });
});

// ---- gradients ------------------------------------------------------------------------------------

describe('reduction gradients (central differences, float64)', () => {
  it('sum and mean over any axes', () => {
    fc.assert(
      fc.property(specWithAxes, fc.nat(), ([spec, c], seed) => {
        const x = materialize(spec);
        gradcheck((t) => t.sum(c.arg, c.keepdim), [x], { name: `sum(${JSON.stringify(c.arg)})`, seed });
        gradcheck((t) => t.mean(c.arg, c.keepdim), [x], { name: `mean(${JSON.stringify(c.arg)})`, seed });
      }),
      { numRuns: 30 },
    );
  });

  it('var over any axes (first and second order)', () => {
    fc.assert(
      fc.property(specWithAxes, fc.nat(), ([spec, c], seed) => {
        // n − correction must be > 0 for a finite variance.
        const n = sizeOf(c.axes.map((a) => spec.shape[a]!));
        fc.pre(n >= 2);
        const x = materialize(spec);
        gradcheck((t) => t.var(c.arg, { keepdim: c.keepdim }), [x], { name: `var(${JSON.stringify(c.arg)})`, seed });
        gradgradcheck((t) => t.var(c.arg, { correction: 0 }), [x], { name: `var(${JSON.stringify(c.arg)}, correction 0)`, seed });
      }),
      { numRuns: 25 },
    );
  });

  it('max and min along an axis (distinct values), with keepdim and over all elements', () => {
    fc.assert(
      fc.property(distinctWithAxis, fc.nat(), ([spec, { arg }, keepdim], seed) => {
        const x = materialize(spec);
        gradcheck((t) => t.max(arg, keepdim), [x], { name: `max(${arg})`, seed });
        gradcheck((t) => t.min(arg, keepdim), [x], { name: `min(${arg})`, seed });
        gradcheck((t) => t.max(), [x], { name: 'max()', seed });
        gradcheck((t) => t.minWithIndices(null, true).values, [x], { name: 'min(null, keepdim)', seed });
      }),
      { numRuns: 30 },
    );
  });

  it('golden: the max gradient goes to the first maximum only', () => {
    const g = grad((t: Tensor) => t.max(0).sum())(tensor([[1, 5], [1, 5]], { dtype: 'float64' }));
    expect(g.toArray()).toEqual([[1, 1], [0, 0]]);
  });

  it('logsumexp over any axes (first and second order)', () => {
    fc.assert(
      fc.property(specWithAxes, fc.nat(), ([spec, c], seed) => {
        const x = materialize(spec);
        gradcheck((t) => t.logsumexp(c.arg, c.keepdim), [x], { name: `logsumexp(${JSON.stringify(c.arg)})`, seed });
        gradgradcheck((t) => t.logsumexp(c.arg, c.keepdim), [x], { name: `logsumexp(${JSON.stringify(c.arg)})`, seed });
      }),
      { numRuns: 25 },
    );
  });

  it('softmax and logSoftmax along any axis (first and second order)', () => {
    fc.assert(
      fc.property(specWithAxis, fc.nat(), ([spec, { arg }], seed) => {
        const x = materialize(spec);
        gradcheck((t) => t.softmax(arg), [x], { name: `softmax(${arg})`, seed });
        gradcheck((t) => t.logSoftmax(arg), [x], { name: `logSoftmax(${arg})`, seed });
        gradgradcheck((t) => t.softmax(arg), [x], { name: `softmax(${arg})`, seed });
        gradgradcheck((t) => t.logSoftmax(arg), [x], { name: `logSoftmax(${arg})`, seed });
      }),
      { numRuns: 25 },
    );
  });

  it('float32 reductions agree with float64 within float32 rounding', () => {
    fc.assert(
      fc.property(specWithAxes, ([spec0, c]) => {
        const spec = { ...spec0, values: spec0.values.map(Math.fround) };
        const x32 = materialize(spec, { dtype: 'float32' });
        const x64 = materialize(spec, { dtype: 'float64' });
        for (const f of [(t: Tensor) => t.sum(c.arg, c.keepdim), (t: Tensor) => t.mean(c.arg), (t: Tensor) => t.logsumexp(c.arg)]) {
          const a = f(x32);
          expect(a.dtype).toBe('float32');
          // Sums accumulate in float64 and round once; logsumexp rounds at each composite step.
          expectAllClose(a, Array.from(f(x64).toTypedArray()), { rtol: 1e-6, atol: 1e-5 });
        }
      }),
      { numRuns: RUNS },
    );
  });
});
