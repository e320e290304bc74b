/**
 * Creating tensors and reading them back: tensor() from nested and typed arrays, constant
 * fills, ranges, eye, the default dtype, item/toArray, and int32 tensors.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import {
  arange,
  eye,
  full,
  getDefaultDType,
  linspace,
  ones,
  onesLike,
  rand,
  setDefaultDType,
  tensor,
  zeros,
  zerosLike,
  type NestedArray,
} from '../src/index.js';
import { materialize, shape, specOf } from './arbitraries.js';

afterEach(() => setDefaultDType('float32'));

/** Nested arrays of `shape` filled from `flat` in row-major order (a reference builder). */
function nest(flat: readonly number[], s: readonly number[]): NestedArray {
  if (s.length === 0) return flat[0]!;
  const inner = s.slice(1).reduce((p, d) => p * d, 1);
  return Array.from({ length: s[0]! }, (_, i) => nest(flat.slice(i * inner, (i + 1) * inner), s.slice(1)));
}

describe('tensor()', () => {
  it('from nested arrays: shape, dtype and row-major values round-trip through toArray', () => {
    fc.assert(
      fc.property(shape(0, 4).chain((s) => specOf(s, { kinds: ['contiguous'] })), (spec) => {
        const nested = nest(spec.values, spec.shape);
        const t = tensor(nested, { dtype: 'float64' });
        expect(t.shape).toEqual(spec.shape);
        expect(t.dtype).toBe('float64');
        expect(t.isContiguous()).toBe(true);
        expect(Array.from(t.toTypedArray())).toEqual(spec.values);
        expect(t.toArray()).toEqual(nested);
      }),
      { numRuns: 50 },
    );
  });

  it('toArray / toTypedArray read non-contiguous views in logical order', () => {
    fc.assert(
      fc.property(shape(0, 4).chain((s) => specOf(s)), (spec) => {
        const t = materialize(spec);
        expect(Array.from(t.toTypedArray())).toEqual(spec.values);
        expect(t.toArray()).toEqual(nest(spec.values, spec.shape));
        // toTypedArray returns a copy: writing to it leaves the tensor unchanged.
        const copy = t.toTypedArray();
        if (copy.length > 0) copy[0] = 12345;
        expect(Array.from(t.toTypedArray())).toEqual(spec.values);
      }),
      { numRuns: 50 },
    );
  });

  it('golden: scalars, empty arrays, nested shapes', () => {
    const s = tensor(3.5, { dtype: 'float64' });
    expect(s.shape).toEqual([]);
    expect(s.rank).toBe(0);
    expect(s.size).toBe(1);
    expect(s.item()).toBe(3.5);
    expect(s.toArray()).toBe(3.5);
    expect(tensor([]).shape).toEqual([0]);
    expect(tensor([[]]).shape).toEqual([1, 0]);
    expect(tensor([[1, 2, 3], [4, 5, 6]]).shape).toEqual([2, 3]);
    expect(tensor([[[1], [2]]]).toArray()).toEqual([[[1], [2]]]);
    expect(tensor([1, 2, 3, 4], { shape: [2, 2] }).toArray()).toEqual([[1, 2], [3, 4]]);
  });

  it('from typed arrays: dtype follows the array unless given; the data are copied', () => {
    const f32 = new Float32Array([1.5, 2.5]);
    const f64 = new Float64Array([0.1, 0.2, 0.3, 0.4]);
    const i32 = new Int32Array([7, -8]);
    expect(tensor(f32).dtype).toBe('float32');
    expect(tensor(f64).dtype).toBe('float64');
    expect(tensor(i32).dtype).toBe('int32');
    const t = tensor(f64, { shape: [2, 2] });
    expect(t.toArray()).toEqual([[0.1, 0.2], [0.3, 0.4]]);
    f64[0] = 99;
    expect(t.toArray()).toEqual([[0.1, 0.2], [0.3, 0.4]]);
    // A float64 array read as float32 is rounded.
    expect(Array.from(tensor(new Float64Array([0.1]), { dtype: 'float32' }).toTypedArray())).toEqual([Math.fround(0.1)]);
    expect(tensor(i32, { dtype: 'float64' }).toArray()).toEqual([7, -8]);
  });

  it('item reads one-element views at their offset', () => {
    const t = tensor([[1, 2, 3], [4, 5, 6]], { dtype: 'float64' });
    expect(t.slice([[1, 2], [2, 3]]).item()).toBe(6);
    expect(t.transpose().slice([[2, 3], [0, 1]]).item()).toBe(3);
    expect(t.sum().item()).toBe(21);
    expect(tensor([[7]]).item()).toBe(7);
  });
});

describe('constant fills, ranges, eye', () => {
  it('zeros / ones / full have the shape, dtype and value asked for', () => {
    fc.assert(
      fc.property(shape(0, 4), fc.constantFrom<'float32' | 'float64' | 'int32'>('float32', 'float64', 'int32'), fc.integer({ min: -5, max: 5 }), (s, dtype, v) => {
        const n = s.reduce((p, d) => p * d, 1);
        for (const [t, value] of [[zeros(s, { dtype }), 0], [ones(s, { dtype }), 1], [full(s, v, { dtype }), v]] as const) {
          expect(t.shape).toEqual(s);
          expect(t.dtype).toBe(dtype);
          expect(Array.from(t.toTypedArray())).toEqual(new Array(n).fill(value));
        }
      }),
      { numRuns: 30 },
    );
    const like = full([2, 3], 2.5, { dtype: 'float64' });
    expect(zerosLike(like).shape).toEqual([2, 3]);
    expect(zerosLike(like).dtype).toBe('float64');
    expect(onesLike(like).toArray()).toEqual([[1, 1, 1], [1, 1, 1]]);
    expect(zeros([2], { requiresGrad: true }).requiresGrad).toBe(true);
  });

  it('arange follows NumPy: [start, stop) by step, ceil((stop − start) / step) elements', () => {
    expect(arange(5).toArray()).toEqual([0, 1, 2, 3, 4]);
    expect(arange(2, 5).toArray()).toEqual([2, 3, 4]);
    expect(arange(0, 1, 0.25).toArray()).toEqual([0, 0.25, 0.5, 0.75]);
    expect(arange(5, 0, -2).toArray()).toEqual([5, 3, 1]);
    expect(arange(3, 3).shape).toEqual([0]);
    expect(arange(5, 0).shape).toEqual([0]);
    expect(arange(0, 1, 0.1, { dtype: 'float64' }).size).toBe(10);
    fc.assert(
      fc.property(fc.integer({ min: -20, max: 20 }), fc.integer({ min: -20, max: 20 }), fc.integer({ min: 1, max: 4 }), fc.boolean(), (a, b, step, negative) => {
        const st = negative ? -step : step;
        const expected: number[] = [];
        for (let v = a; negative ? v > b : v < b; v += st) expected.push(v);
        expect(arange(a, b, st, { dtype: 'float64' }).toArray()).toEqual(expected);
      }),
      { numRuns: 50 },
    );
  });

  it('linspace includes both ends exactly', () => {
    expect(linspace(0, 1, 5).toArray()).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(linspace(2, 2, 3).toArray()).toEqual([2, 2, 2]);
    expect(linspace(3, 7, 1).toArray()).toEqual([3]);
    expect(linspace(0, 1, 0).shape).toEqual([0]);
    const t = Array.from(linspace(-1.3, 2.9, 7, { dtype: 'float64' }).toTypedArray());
    expect(t[0]).toBe(-1.3);
    expect(t[6]).toBe(2.9);
    t.forEach((v, i) => expect(v).toBeCloseTo(-1.3 + (i * 4.2) / 6, 14));
  });

  it('eye(n) and eye(n, m)', () => {
    expect(eye(3).toArray()).toEqual([[1, 0, 0], [0, 1, 0], [0, 0, 1]]);
    expect(eye(2, 3).toArray()).toEqual([[1, 0, 0], [0, 1, 0]]);
    expect(eye(3, 1).toArray()).toEqual([[1], [0], [0]]);
    expect(eye(0).shape).toEqual([0, 0]);
  });
});

describe('default dtype', () => {
  it('is float32 unless changed; setDefaultDType changes what creation functions return', () => {
    expect(getDefaultDType()).toBe('float32');
    expect(tensor([1]).dtype).toBe('float32');
    expect(zeros([1]).dtype).toBe('float32');
    expect(rand([1], { seed: 0 }).dtype).toBe('float32');
    setDefaultDType('float64');
    expect(getDefaultDType()).toBe('float64');
    for (const t of [tensor([1]), tensor(2), zeros([1]), ones([1]), full([1], 3), arange(2), linspace(0, 1, 2), eye(2), rand([1], { seed: 0 })]) {
      expect(t.dtype).toBe('float64');
    }
    // Typed arrays keep their own dtype whatever the default.
    expect(tensor(new Float32Array(1)).dtype).toBe('float32');
    setDefaultDType('float32');
    expect(arange(2).dtype).toBe('float32');
  });
});

describe('int32 tensors', () => {
  it('hold integers (truncating toward zero), compare, convert, and index', () => {
    const t = tensor([1.7, -2.2, 3], { dtype: 'int32' });
    expect(t.dtype).toBe('int32');
    expect(t.toArray()).toEqual([1, -2, 3]);
    expect(t.eq(tensor([1, 0, 3], { dtype: 'int32' })).toArray()).toEqual([1, 0, 1]);
    expect(t.gt(0).dtype).toBe('int32');
    const f = t.to('float64');
    expect(f.dtype).toBe('float64');
    expect(f.toArray()).toEqual([1, -2, 3]);
    expect(tensor([2.9, -0.5], { dtype: 'float64' }).to('int32').toArray()).toEqual([2, 0]);
    const x = tensor([[10, 20, 30]], { dtype: 'float64' });
    expect(x.gather(1, tensor([[2, 0]], { dtype: 'int32' })).toArray()).toEqual([[30, 10]]);
    expect(x.argmax(1).dtype).toBe('int32');
    // int32 views work like float views.
    const m = tensor([[1, 2], [3, 4]], { dtype: 'int32' });
    expect(m.transpose().toArray()).toEqual([[1, 3], [2, 4]]);
    expect(m.reshape([4]).toArray()).toEqual([1, 2, 3, 4]);
  });
});
