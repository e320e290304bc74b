/**
 * Shape and indexing ops against plain-JS references, on random layouts, with gradient checks:
 * reshape (views vs copies), flatten, transpose, permute, expand/broadcastTo, squeeze,
 * unsqueeze, slice (Python semantics), concat, stack, pad, gather, scatterAdd.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concat, noGrad, scatterAdd, stack, tensor } from '../src/index.js';
import {
  broadcastValues,
  materialize,
  ravel,
  shape,
  sizeOf,
  specOf,
  unravel,
  valuesOf,
  type Shape,
  type TensorSpec,
} from './arbitraries.js';
import { expectAllClose, gradcheck, gradgradcheck } from './gradcheck.js';

const RUNS = 40;
const EXACT = { rtol: 0, atol: 0 };

const anySpec = shape(0, 4).chain((s) => specOf(s));
const rankedSpec = (min: number) => shape(min, 4).chain((s) => specOf(s));

/** Values of `spec` permuted: out[t] = x[b] with b[dims[i]] = t[i]. */
function refPermute(spec: TensorSpec, dims: readonly number[]): { shape: Shape; values: number[] } {
  const out = dims.map((d) => spec.shape[d]!);
  const values = Array.from({ length: sizeOf(out) }, (_, k) => {
    const t = unravel(k, out);
    const b = new Array<number>(dims.length);
    dims.forEach((d, i) => (b[d] = t[i]!));
    return spec.values[ravel(b, spec.shape)]!;
  });
  return { shape: out, values };
}

/** A random shape with `n` elements built from the dims of `s` (regrouped, with 1s). */
function sameSizeShape(s: Shape): fc.Arbitrary<{ target: number[]; arg: number[] }> {
  return fc
    .record({
      order: fc.shuffledSubarray(s, { minLength: s.length, maxLength: s.length }),
      merges: fc.array(fc.boolean(), { minLength: s.length, maxLength: s.length }),
      ones: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 2 }),
      infer: fc.option(fc.nat(), { nil: undefined }),
    })
    .map(({ order, merges, ones, infer }) => {
      const target: number[] = [];
      order.forEach((d, i) => {
        if (merges[i] && target.length > 0) target[target.length - 1] *= d;
        else target.push(d);
      });
      for (const pos of ones) target.splice(Math.min(pos, target.length), 0, 1);
      const arg = target.slice();
      if (infer !== undefined && arg.length > 0) arg[infer % arg.length] = -1;
      return { target, arg };
    });
}

describe('reshape / flatten', () => {
  it('reshape keeps row-major order; -1 is inferred; a contiguous input gives a view', () => {
    fc.assert(
      fc.property(
        anySpec.chain((spec) => fc.tuple(fc.constant(spec), sameSizeShape(spec.shape))),
        ([spec, { target, arg }]) => {
          const x = materialize(spec);
          const y = x.reshape(arg);
          expectAllClose(y, spec.values, { ...EXACT, shape: target, what: `reshape [${spec.shape}] → [${arg}]` });
          if (x.isContiguous()) expect(y.storage, 'reshape of a contiguous tensor must be a view').toBe(x.storage);
          // View or copy, the result never changes when the source is later written (if a copy)
          // or always follows it (if a view): check that the two agree with what the storage says.
          const before = valuesOf(y);
          // (An expanded source cannot be written in place: its elements share memory.)
          const expanded = x.shape.some((d, i) => d > 1 && x.strides[i] === 0);
          if (expanded) return;
          noGrad(() => x.storage.data.length > 0 && x.add_(1));
          const after = valuesOf(y);
          const shared = y.storage === x.storage;
          expectAllClose(after, before.map((v) => (shared ? v + 1 : v)), { rtol: 1e-15, atol: 1e-15, what: `reshape ${shared ? 'view' : 'copy'} after the source changed` });
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('golden: reshaping a transpose copies; inserting unit axes into it stays a view', () => {
    const x = tensor([[1, 2, 3], [4, 5, 6]], { dtype: 'float64' });
    const t = x.transpose();
    const flat = t.reshape([-1]);
    expect(flat.toArray()).toEqual([1, 4, 2, 5, 3, 6]);
    expect(flat.storage).not.toBe(x.storage);
    const unit = t.reshape([3, 1, 2]);
    expect(unit.toArray()).toEqual([[[1, 4]], [[2, 5]], [[3, 6]]]);
    expect(unit.storage).toBe(x.storage);
    // A slice with step along the outer axis can still be merged with nothing: [2,3] sliced to
    // rows 0 and 2 of a [3,3] is not contiguous, so flattening copies but stays correct.
    const y = tensor([[1, 2, 3], [4, 5, 6], [7, 8, 9]], { dtype: 'float64' }).slice([[0, null, 2]]);
    expect(y.reshape([6]).toArray()).toEqual([1, 2, 3, 7, 8, 9]);
    expect(y.reshape([2, 3, 1]).storage).toBe(y.storage);
    // An expanded view: [1,3] → [2,3] reshaped to [6].
    expect(tensor([[1, 2, 3]], { dtype: 'float64' }).expand([2, 3]).reshape([6]).toArray()).toEqual([1, 2, 3, 1, 2, 3]);
  });

  it('flatten(start, end) merges the axes start…end (negative axes allowed); 0-d becomes [1]', () => {
    fc.assert(
      fc.property(
        rankedSpec(1).chain((spec) => {
          const r = spec.shape.length;
          return fc.tuple(fc.constant(spec), fc.integer({ min: 0, max: r - 1 }), fc.integer({ min: 0, max: r - 1 }), fc.boolean());
        }),
        ([spec, a, b, negative]) => {
          const [s, e] = a <= b ? [a, b] : [b, a];
          const r = spec.shape.length;
          const target = [...spec.shape.slice(0, s), sizeOf(spec.shape.slice(s, e + 1)), ...spec.shape.slice(e + 1)];
          const y = materialize(spec).flatten(negative ? s - r : s, negative ? e - r : e);
          expectAllClose(y, spec.values, { ...EXACT, shape: target });
        },
      ),
      { numRuns: RUNS },
    );
    expect(tensor(5, { dtype: 'float64' }).flatten().shape).toEqual([1]);
    expect(tensor([[1, 2], [3, 4]], { dtype: 'float64' }).flatten().toArray()).toEqual([1, 2, 3, 4]);
  });

  it('reshape and flatten gradients', () => {
    fc.assert(
      fc.property(anySpec.chain((spec) => fc.tuple(fc.constant(spec), sameSizeShape(spec.shape))), fc.nat(), ([spec, { arg }], seed) => {
        gradcheck((t) => t.reshape(arg).mul(t.reshape(arg)), [materialize(spec)], { name: `reshape [${arg}]`, seed });
        gradcheck((t) => t.flatten(), [materialize(spec)], { name: 'flatten', seed });
      }),
      { numRuns: 25 },
    );
  });
});

describe('transpose / permute', () => {
  const withPerm = rankedSpec(0).chain((spec) =>
    fc.tuple(fc.constant(spec), fc.shuffledSubarray(spec.shape.map((_, i) => i), { minLength: spec.shape.length, maxLength: spec.shape.length }), fc.boolean()),
  );

  it('permute matches the reference (negative dims allowed) and is a view', () => {
    fc.assert(
      fc.property(withPerm, ([spec, dims, negative]) => {
        const x = materialize(spec);
        const y = x.permute(negative ? dims.map((d) => d - dims.length) : dims);
        const ref = refPermute(spec, dims);
        expectAllClose(y, ref.values, { ...EXACT, shape: ref.shape, what: `permute [${dims}]` });
        expect(y.storage).toBe(x.storage);
      }),
      { numRuns: RUNS },
    );
  });

  it('transpose(a, b) swaps two axes; the default swaps the last two', () => {
    fc.assert(
      fc.property(
        rankedSpec(2).chain((spec) => {
          const r = spec.shape.length;
          return fc.tuple(fc.constant(spec), fc.integer({ min: -r, max: r - 1 }), fc.integer({ min: -r, max: r - 1 }));
        }),
        ([spec, a, b]) => {
          const r = spec.shape.length;
          const dims = spec.shape.map((_, i) => i);
          const [na, nb] = [a < 0 ? a + r : a, b < 0 ? b + r : b];
          [dims[na], dims[nb]] = [dims[nb]!, dims[na]!];
          const ref = refPermute(spec, dims);
          expectAllClose(materialize(spec).transpose(a, b), ref.values, { ...EXACT, shape: ref.shape });
          const last = spec.shape.map((_, i) => i);
          [last[r - 2], last[r - 1]] = [last[r - 1]!, last[r - 2]!];
          const refLast = refPermute(spec, last);
          expectAllClose(materialize(spec).transpose(), refLast.values, { ...EXACT, shape: refLast.shape });
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('permute and transpose gradients (first and second order)', () => {
    fc.assert(
      fc.property(withPerm, fc.nat(), ([spec, dims], seed) => {
        gradcheck((t) => t.permute(dims), [materialize(spec)], { name: `permute [${dims}]`, seed });
        gradgradcheck((t) => t.permute(dims).mul(t.permute(dims)), [materialize(spec)], { name: `permute [${dims}]²`, seed });
      }),
      { numRuns: 25 },
    );
  });
});

describe('expand / broadcastTo / squeeze / unsqueeze', () => {
  const expandCase = shape(0, 4).chain((target) =>
    fc
      .record({
        ones: fc.array(fc.boolean(), { minLength: target.length, maxLength: target.length }),
        drop: fc.integer({ min: 0, max: target.length }),
        minusOne: fc.boolean(),
      })
      .chain(({ ones, drop, minusOne }) => {
        const small = target.map((d, i) => (ones[i] ? 1 : d)).slice(drop);
        // -1 keeps the input's size on an axis the input has.
        const arg = minusOne ? target.map((d, i) => (i >= drop && !ones[i] ? -1 : d)) : target;
        return specOf(small).map((spec) => ({ spec, target, arg }));
      }),
  );

  it('expand and broadcastTo match the broadcast reference and are views', () => {
    fc.assert(
      fc.property(expandCase, ({ spec, target, arg }) => {
        const x = materialize(spec);
        const ref = broadcastValues(spec.values, spec.shape, target);
        const y = x.expand(arg);
        expectAllClose(y, ref, { ...EXACT, shape: target, what: `expand [${spec.shape}] → [${arg}]` });
        expect(y.storage).toBe(x.storage);
        expectAllClose(x.broadcastTo(target), ref, { ...EXACT, shape: target });
      }),
      { numRuns: RUNS },
    );
  });

  it('expand gradient sums over the copies (first and second order)', () => {
    fc.assert(
      fc.property(expandCase, fc.nat(), ({ spec, target }, seed) => {
        gradcheck((t) => t.expand(target), [materialize(spec)], { name: `expand [${spec.shape}] → [${target}]`, seed });
        gradgradcheck((t) => t.expand(target).square(), [materialize(spec)], { name: `expand² [${target}]`, seed });
      }),
      { numRuns: 25 },
    );
  });

  it('squeeze removes size-1 axes (all, one, or a list; listed axes of another size stay)', () => {
    fc.assert(
      fc.property(
        rankedSpec(1).chain((spec) => fc.tuple(fc.constant(spec), fc.subarray(spec.shape.map((_, i) => i)), fc.boolean(), fc.boolean())),
        ([spec, axes, negative, asNumber]) => {
          const x = materialize(spec);
          const r = spec.shape.length;
          expectAllClose(x.squeeze(), spec.values, { ...EXACT, shape: spec.shape.filter((d) => d !== 1) });
          const given = axes.map((a) => (negative ? a - r : a));
          const arg = asNumber && given.length === 1 ? given[0]! : given;
          const expected = spec.shape.filter((d, i) => d !== 1 || !axes.includes(i));
          expectAllClose(x.squeeze(arg), spec.values, { ...EXACT, shape: expected, what: `squeeze(${JSON.stringify(arg)})` });
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('unsqueeze inserts a unit axis at any position (−1 appends)', () => {
    fc.assert(
      fc.property(
        rankedSpec(0).chain((spec) => fc.tuple(fc.constant(spec), fc.integer({ min: -(spec.shape.length + 1), max: spec.shape.length }))),
        ([spec, axis]) => {
          const r = spec.shape.length;
          const at = axis < 0 ? axis + r + 1 : axis;
          const expected = [...spec.shape.slice(0, at), 1, ...spec.shape.slice(at)];
          expectAllClose(materialize(spec).unsqueeze(axis), spec.values, { ...EXACT, shape: expected, what: `unsqueeze(${axis})` });
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('squeeze / unsqueeze gradients', () => {
    fc.assert(
      fc.property(rankedSpec(0), fc.nat(), (spec, seed) => {
        gradcheck((t) => t.squeeze().unsqueeze(0).exp(), [materialize(spec)], { name: 'squeeze/unsqueeze', seed });
      }),
      { numRuns: 20 },
    );
  });
});

// ---- slice ----------------------------------------------------------------------------------------

type Bound = number | null;

/** CPython's slice.indices() for step > 0, written out. */
function pySliceIndices(start: Bound, stop: Bound, step: number, length: number): number[] {
  const adjust = (v: Bound, dflt: number) => {
    if (v === null) return dflt;
    if (v < 0) return Math.max(v + length, 0);
    return Math.min(v, length);
  };
  const out: number[] = [];
  for (let i = adjust(start, 0); i < adjust(stop, length); i += step) out.push(i);
  return out;
}

const bound = fc.option(fc.integer({ min: -5, max: 5 }), { nil: null, freq: 4 });
const sliceArg = fc.option(fc.tuple(bound, bound, fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined })), { nil: null, freq: 5 });

function refSlice(spec: TensorSpec, specs: readonly ([Bound, Bound, number | undefined] | null)[]): { shape: Shape; values: number[] } {
  const picks = spec.shape.map((d, i) => {
    const s = specs[i];
    return s ? pySliceIndices(s[0], s[1], s[2] ?? 1, d) : Array.from({ length: d }, (_, j) => j);
  });
  const out = picks.map((p) => p.length);
  const values = Array.from({ length: sizeOf(out) }, (_, k) => spec.values[ravel(unravel(k, out).map((j, d) => picks[d]![j]!), spec.shape)]!);
  return { shape: out, values };
}

describe('slice', () => {
  const sliceCase = rankedSpec(1).chain((spec) => fc.tuple(fc.constant(spec), fc.array(sliceArg, { maxLength: spec.shape.length })));

  it('follows Python semantics: negative bounds count from the end, out-of-range bounds clamp, step ≥ 1', () => {
    fc.assert(
      fc.property(sliceCase, ([spec, specs]) => {
        const x = materialize(spec);
        const ref = refSlice(spec, specs);
        const y = x.slice(specs);
        expectAllClose(y, ref.values, { ...EXACT, shape: ref.shape, what: `slice ${JSON.stringify(specs)} of [${spec.shape}]` });
        expect(y.storage, 'slice is a view').toBe(x.storage);
      }),
      { numRuns: 60 },
    );
  });

  it('golden: arange(10) slices', () => {
    const x = tensor(Float64Array.from({ length: 10 }, (_, i) => i));
    expect(x.slice([[1, 8, 3]]).toArray()).toEqual([1, 4, 7]);
    expect(x.slice([[-3, null]]).toArray()).toEqual([7, 8, 9]);
    expect(x.slice([[null, -7]]).toArray()).toEqual([0, 1, 2]);
    expect(x.slice([[-100, 100, 4]]).toArray()).toEqual([0, 4, 8]);
    expect(x.slice([[7, 3]]).toArray()).toEqual([]);
    expect(x.slice([[20, null]]).shape).toEqual([0]);
    expect(x.slice([[null, null, 2]]).slice([[1, null, 2]]).toArray()).toEqual([2, 6]);
  });

  it('slice gradient (scattered back, zero elsewhere; first and second order)', () => {
    fc.assert(
      fc.property(sliceCase, fc.nat(), ([spec, specs], seed) => {
        fc.pre(sizeOf(refSlice(spec, specs).shape) > 0);
        gradcheck((t) => t.slice(specs), [materialize(spec)], { name: `slice ${JSON.stringify(specs)}`, seed });
        gradgradcheck((t) => t.slice(specs).square(), [materialize(spec)], { name: `slice² ${JSON.stringify(specs)}`, seed });
      }),
      { numRuns: 30 },
    );
  });
});

// ---- concat / stack / pad -----------------------------------------------------------------------

describe('concat / stack / pad', () => {
  const concatCase = shape(1, 4).chain((s) =>
    fc.tuple(fc.integer({ min: 0, max: s.length - 1 }), fc.boolean(), fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 3 })).chain(([axis, negative, sizes]) =>
      fc.tuple(...sizes.map((n) => specOf(s.map((d, i) => (i === axis ? n : d))))).map((specs) => ({ axis, arg: negative ? axis - s.length : axis, specs })),
    ),
  );

  function refConcat(specs: readonly TensorSpec[], axis: number): { shape: Shape; values: number[] } {
    const out = specs[0]!.shape.slice();
    out[axis] = specs.reduce((n, s) => n + s.shape[axis]!, 0);
    const values = Array.from({ length: sizeOf(out) }, (_, k) => {
      const idx = unravel(k, out);
      let j = idx[axis]!;
      let which = 0;
      while (j >= specs[which]!.shape[axis]!) j -= specs[which++]!.shape[axis]!;
      idx[axis] = j;
      return specs[which]!.values[ravel(idx, specs[which]!.shape)]!;
    });
    return { shape: out, values };
  }

  it('concat matches the reference along any axis', () => {
    fc.assert(
      fc.property(concatCase, ({ axis, arg, specs }) => {
        const ref = refConcat(specs, axis);
        expectAllClose(concat(specs.map((s) => materialize(s)), arg), ref.values, { ...EXACT, shape: ref.shape, what: `concat axis ${arg}` });
      }),
      { numRuns: RUNS },
    );
  });

  it('concat gradient routes each slice to its input', () => {
    fc.assert(
      fc.property(concatCase, fc.nat(), ({ arg, specs }, seed) => {
        gradcheck((...ts) => concat(ts, arg).square(), specs.map((s) => materialize(s)), { name: `concat axis ${arg}`, seed });
      }),
      { numRuns: 25 },
    );
  });

  const stackCase = shape(0, 3).chain((s) =>
    fc.tuple(fc.integer({ min: -(s.length + 1), max: s.length }), fc.integer({ min: 1, max: 3 })).chain(([axis, n]) =>
      fc.tuple(...Array.from({ length: n }, () => specOf(s))).map((specs) => ({ axis, specs })),
    ),
  );

  it('stack inserts a new axis (negative axes allowed) and its gradient unstacks', () => {
    fc.assert(
      fc.property(stackCase, fc.nat(), ({ axis, specs }, seed) => {
        const r = specs[0]!.shape.length;
        const at = axis < 0 ? axis + r + 1 : axis;
        const out = [...specs[0]!.shape.slice(0, at), specs.length, ...specs[0]!.shape.slice(at)];
        const ref = Array.from({ length: sizeOf(out) }, (_, k) => {
          const idx = unravel(k, out);
          const which = idx.splice(at, 1)[0]!;
          return specs[which]!.values[ravel(idx, specs[0]!.shape)]!;
        });
        expectAllClose(stack(specs.map((s) => materialize(s)), axis), ref, { ...EXACT, shape: out, what: `stack axis ${axis}` });
        gradcheck((...ts) => stack(ts, axis).tanh(), specs.map((s) => materialize(s)), { name: `stack axis ${axis}`, seed });
      }),
      { numRuns: RUNS },
    );
  });

  const padCase = rankedSpec(1).chain((spec) =>
    fc.tuple(
      fc.constant(spec),
      fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })), { maxLength: spec.shape.length }),
      fc.constantFrom(0, -1.5, 7),
    ),
  );

  it('pad adds constant borders on the leading axes listed (np.pad order) and its gradient slices back', () => {
    fc.assert(
      fc.property(padCase, fc.nat(), ([spec, widths, value], seed) => {
        const w = spec.shape.map((_, i) => widths[i] ?? [0, 0]);
        const out = spec.shape.map((d, i) => d + w[i]![0] + w[i]![1]);
        const ref = Array.from({ length: sizeOf(out) }, (_, k) => {
          const idx = unravel(k, out).map((j, d) => j - w[d]![0]);
          const inside = idx.every((j, d) => j >= 0 && j < spec.shape[d]!);
          return inside ? spec.values[ravel(idx, spec.shape)]! : value;
        });
        expectAllClose(materialize(spec).pad(widths, value), ref, { ...EXACT, shape: out, what: `pad ${JSON.stringify(widths)}` });
        gradcheck((t) => t.pad(widths, value).square(), [materialize(spec)], { name: `pad ${JSON.stringify(widths)}`, seed });
      }),
      { numRuns: RUNS },
    );
  });
});

// ---- gather / scatterAdd ---------------------------------------------------------------------------

describe('gather / scatterAdd', () => {
  /** x of shape s, an axis, and an int32 index whose dims fit x's (any size along the axis). */
  const gatherCase = shape(1, 3).chain((s) =>
    fc.tuple(specOf(s), fc.integer({ min: 0, max: s.length - 1 }), fc.boolean()).chain(([spec, axis, negative]) =>
      fc
        .tuple(...s.map((d, i) => (i === axis ? fc.integer({ min: 1, max: 4 }) : fc.integer({ min: 1, max: d }))))
        .chain((ishape) =>
          fc
            .tuple(
              specOf(ishape, { kinds: ['contiguous', 'permuted', 'sliced', 'permuted-sliced'] }),
              fc.array(fc.integer({ min: 0, max: s[axis]! - 1 }), { minLength: sizeOf(ishape), maxLength: sizeOf(ishape) }),
            )
            // The index keeps the random (non-contiguous) layout of the spec, with integer values.
            .map(([ispec, ints]) => ({ spec, axis, arg: negative ? axis - s.length : axis, index: { ...ispec, values: ints } })),
        ),
    ),
  );

  const indexTensor = (index: TensorSpec) => materialize(index, { dtype: 'int32' });

  function refGather(spec: TensorSpec, axis: number, index: TensorSpec): number[] {
    return index.values.map((i, k) => {
      const idx = unravel(k, index.shape);
      idx[axis] = i;
      return spec.values[ravel(idx, spec.shape)]!;
    });
  }

  it('gather picks x[…, index[…], …] along the axis (torch.gather), with non-contiguous indices', () => {
    fc.assert(
      fc.property(gatherCase, ({ spec, axis, arg, index }) => {
        const idx = indexTensor(index);
        expect(idx.dtype).toBe('int32');
        expectAllClose(materialize(spec).gather(arg, idx), refGather(spec, axis, index), { ...EXACT, shape: index.shape, what: `gather axis ${arg}` });
      }),
      { numRuns: RUNS },
    );
  });

  it('scatterAdd adds src at the indexed positions (repeated indices accumulate)', () => {
    fc.assert(
      fc.property(gatherCase, ({ spec, axis, arg, index }) => {
        const src = index.values.map((_, k) => k + 0.5);
        const ref = new Array<number>(sizeOf(spec.shape)).fill(0);
        index.values.forEach((i, k) => {
          const idx = unravel(k, index.shape);
          idx[axis] = i;
          ref[ravel(idx, spec.shape)] += src[k]!;
        });
        const out = scatterAdd(tensor(Float64Array.from(src), { shape: index.shape }), arg, indexTensor(index), spec.shape);
        expectAllClose(out, ref, { ...EXACT, shape: spec.shape, what: `scatterAdd axis ${arg}` });
      }),
      { numRuns: RUNS },
    );
  });

  it('gather and scatterAdd gradients (first and second order)', () => {
    fc.assert(
      fc.property(gatherCase, fc.nat(), ({ spec, arg, index }, seed) => {
        const idx = indexTensor(index);
        gradcheck((t) => t.gather(arg, idx), [materialize(spec)], { name: `gather axis ${arg}`, seed });
        gradgradcheck((t) => t.gather(arg, idx).square(), [materialize(spec)], { name: `gather² axis ${arg}`, seed });
        const src = materialize({ ...index, values: index.values.map((v) => v * 0.7 - 1), layout: { ...index.layout, kind: 'contiguous' } });
        gradcheck((s) => scatterAdd(s, arg, idx, spec.shape).square(), [src], { name: `scatterAdd axis ${arg}`, seed });
      }),
      { numRuns: 25 },
    );
  });

  it('golden: gather example from the docs, and repeated indices receive both gradients', () => {
    const x = tensor([[1, 2], [3, 4]], { dtype: 'float64' });
    const idx = tensor([[1], [0]], { dtype: 'int32' });
    expect(x.gather(1, idx).toArray()).toEqual([[2], [3]]);
    const twice = tensor([[0, 0, 1]], { dtype: 'int32' });
    const g = noGrad(() => scatterAdd(tensor([[1, 2, 4]], { dtype: 'float64' }), 1, twice, [1, 2]));
    expect(g.toArray()).toEqual([[3, 4]]);
  });
});

describe('clone / contiguous', () => {
  it('clone owns its storage; contiguous copies only non-contiguous views', () => {
    fc.assert(
      fc.property(anySpec, (spec) => {
        const x = materialize(spec);
        const c = x.clone();
        expect(c.storage).not.toBe(x.storage);
        expect(c.isContiguous()).toBe(true);
        expectAllClose(c, spec.values, EXACT);
        const k = x.contiguous();
        expect(k.isContiguous()).toBe(true);
        expectAllClose(k, spec.values, EXACT);
        if (x.isContiguous()) expect(k).toBe(x);
        else expect(k.storage).not.toBe(x.storage);
      }),
      { numRuns: RUNS },
    );
  });
});
