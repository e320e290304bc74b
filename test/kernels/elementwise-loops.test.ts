/**
 * The CPU backend's elementwise loops (src/kernels/cpu/loops.ts, elementwise.ts) and the
 * branch-free scalar functions (src/kernels/scalar.ts):
 *
 *   1. relu, on every special value (±0, ±∞, NaN of either sign, subnormals, ±max), through
 *      the float32 bit path, the float64 float form and strided views, is bit for bit
 *      `x <= 0 ? 0 : x`; sigmoid is bit for bit the two-branch form; reluBackward is exactly
 *      g · (y > 0) of a separate comparison and product;
 *   2. rowPeriod classifies contiguous, scalar, row-broadcast and other layouts;
 *   3. property: map, zip, where, copyInto and reduce on random shapes where every operand
 *      has a random layout (contiguous, offset, scalar, rows, columns, permuted, sliced) equal
 *      a naive index-by-index reference, in float32 and float64 — one process runs every
 *      layout and element type through the same compiled loops, as a real program does.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cpuBackend as cpu } from '../../src/kernels/cpu/index.js';
import { rowPeriod } from '../../src/kernels/cpu/loops.js';
import { BINARY, UNARY, type BinaryFn, type UnaryFn } from '../../src/kernels/scalar.js';
import type { TypedArray } from '../../src/tensor/dtype.js';
import type { View } from '../../src/tensor/storage.js';
import { mulberry32, ravel, unravel } from '../arbitraries.js';

type Float = 'float32' | 'float64';
const FLOATS: readonly Float[] = ['float32', 'float64'];
const arrayOf = (dtype: Float, n: number | ArrayLike<number>): TypedArray =>
  dtype === 'float32' ? new Float32Array(n as number) : new Float64Array(n as number);
const contiguous = (data: TypedArray, shape: number[], offset = 0): View => ({
  data,
  shape,
  offset,
  strides: shape.map((_, d) => shape.slice(d + 1).reduce((p, s) => p * s, 1)),
});

/** NaN with its sign bit set (x86's default NaN, what 0/0 gives there), in each width. */
function negativeNaN(dtype: Float): number {
  const a = arrayOf(dtype, 1);
  const words = new Int32Array(a.buffer);
  if (dtype === 'float32') words[0] = 0xffc00000 | 0;
  else words[1] = 0xfff80000 | 0;
  return a[0]!;
}

const SPECIAL = [0, -0, 1, -1, 0.5, -0.5, Infinity, -Infinity, NaN, 1e-40, -1e-40, 1e-310, -1e-310, 5e-324, -5e-324, 3.4e38, -3.4e38, 1.7e308, -1.7e308];

/**
 * Every element as a string that tells −0 from +0 and any NaN from a number (NaN payloads and
 * signs carry no meaning: the hardware's 0·∞ and JavaScript's NaN constant differ there).
 */
function bits(a: TypedArray): string[] {
  return Array.from(a, (v) => (Number.isNaN(v) ? 'NaN' : Object.is(v, -0) ? '-0' : String(v)));
}

describe('branch-free relu and its backward', () => {
  for (const dtype of FLOATS) {
    const values = arrayOf(dtype, [...SPECIAL, negativeNaN(dtype)]);
    const reference = arrayOf(dtype, Array.from(values, (x) => (x <= 0 ? 0 : x)));

    it(`relu is x <= 0 ? 0 : x bit for bit in ${dtype} (contiguous, at an offset, and strided)`, () => {
      expect(bits(cpu.map('relu', contiguous(values, [values.length]), dtype))).toEqual(bits(reference));
      // The same values at an offset into a larger buffer (the bit path reads from there).
      const padded = arrayOf(dtype, values.length + 3);
      padded.set(values, 3);
      expect(bits(cpu.map('relu', contiguous(padded, [values.length], 3), dtype))).toEqual(bits(reference));
      // Every other element of a buffer: a strided view runs the scalar form.
      const spread = arrayOf(dtype, 2 * values.length).fill(Number.NaN);
      values.forEach((v, i) => (spread[2 * i] = v));
      const strided: View = { data: spread, shape: [values.length], strides: [2], offset: 0 };
      expect(bits(cpu.map('relu', strided, dtype))).toEqual(bits(reference));
      // The scalar function itself, as GPU-side or other loops would call it.
      const direct = arrayOf(dtype, Array.from(values, (x) => UNARY.relu(x, 0, 0)));
      expect(bits(direct)).toEqual(bits(reference));
      expect(Object.is(cpu.map('relu', contiguous(arrayOf(dtype, [-0]), [1]), dtype)[0], 0)).toBe(true);
    });

    it(`reluBackward is g · (y > 0) of a mask and a product, in ${dtype}`, () => {
      const n = SPECIAL.length;
      const g = arrayOf(dtype, n * n);
      const y = arrayOf(dtype, n * n);
      SPECIAL.forEach((a, i) => SPECIAL.forEach((b, j) => ((g[i * n + j] = a), (y[i * n + j] = b))));
      const zero = { data: arrayOf(dtype, 1), shape: [n * n], strides: [0], offset: 0 };
      const mask = cpu.zip('gt', contiguous(y, [n * n]), zero, dtype);
      const product = cpu.zip('mul', contiguous(g, [n * n]), contiguous(mask, [n * n]), dtype);
      expect(bits(cpu.zip('reluBackward', contiguous(g, [n * n]), contiguous(y, [n * n]), dtype))).toEqual(bits(product));
    });
  }
});

describe('rowPeriod', () => {
  it('tells contiguous (n), scalar (0), rows (the block size) and other layouts (−1) apart', () => {
    expect(rowPeriod([4, 5], [5, 1])).toBe(20);
    expect(rowPeriod([], [])).toBe(1);
    expect(rowPeriod([4, 5], [0, 0])).toBe(0);
    expect(rowPeriod([4, 5], [0, 1])).toBe(5); // a bias row
    expect(rowPeriod([2, 3, 4], [0, 4, 1])).toBe(12);
    expect(rowPeriod([2, 3, 4], [0, 0, 1])).toBe(4);
    expect(rowPeriod([4, 5], [1, 0])).toBe(-1); // a column
    expect(rowPeriod([2, 3, 4], [0, 1, 0])).toBe(-1); // a channel bias
    expect(rowPeriod([4, 5], [1, 4])).toBe(-1); // a transpose
    expect(rowPeriod([4, 5], [10, 1])).toBe(-1); // rows with gaps
    // Size-1 axes never matter.
    expect(rowPeriod([1, 4, 1, 5], [99, 5, 7, 1])).toBe(20);
    expect(rowPeriod([4, 1, 5], [0, 3, 1])).toBe(5);
    expect(rowPeriod([1, 1], [3, 3])).toBe(1);
  });
});

// ---- random layouts -----------------------------------------------------------------------

const KINDS = ['contiguous', 'offset', 'scalar', 'rows', 'columns', 'permuted', 'sliced'] as const;
type Kind = (typeof KINDS)[number];

interface Operand {
  view: View;
  /** The element at a logical index. */
  at(idx: readonly number[]): number;
}

/**
 * A view of `shape` laid out as `kind` in a NaN-filled buffer (a wrong index reads NaN), with
 * values from `draw`. 'rows' broadcasts a trailing block along the leading axes (`split` of
 * them), 'columns' the other way round; 'permuted' stores the axes reversed; 'sliced' takes
 * every other element of a buffer twice as long on each axis.
 */
function operand(shape: number[], kind: Kind, dtype: Float, draw: () => number, split: number): Operand {
  const rank = shape.length;
  const sized = (dims: number[]) => dims.reduce((p, d) => p * d, 1);
  const fill = (n: number) => arrayOf(dtype, n).fill(Number.NaN);
  switch (kind) {
    case 'contiguous':
    case 'offset': {
      const offset = kind === 'offset' ? 2 : 0;
      const data = fill(sized(shape) + offset + 1);
      for (let k = 0; k < sized(shape); k++) data[offset + k] = draw();
      return { view: contiguous(data, shape, offset), at: (idx) => data[offset + ravel(idx, shape)]! };
    }
    case 'scalar': {
      const data = fill(3);
      data[1] = draw();
      return { view: { data, shape, strides: shape.map(() => 0), offset: 1 }, at: () => data[1]! };
    }
    case 'rows':
    case 'columns': {
      // 'rows': axes < split are broadcast; 'columns': axes ≥ split are.
      const kept = shape.map((_, d) => (kind === 'rows' ? d >= split : d < split));
      const base = shape.map((s, d) => (kept[d] ? s : 1));
      const data = fill(sized(base));
      for (let k = 0; k < data.length; k++) data[k] = draw();
      const strides = contiguous(data, base).strides.map((s, d) => (kept[d] ? s : 0));
      return { view: { data, shape, strides, offset: 0 }, at: (idx) => data[ravel(idx.map((i, d) => (kept[d] ? i : 0)), base)]! };
    }
    case 'permuted': {
      const reversed = shape.slice().reverse();
      const data = fill(sized(shape));
      for (let k = 0; k < data.length; k++) data[k] = draw();
      const rs = contiguous(data, reversed).strides;
      const strides = shape.map((_, d) => rs[rank - 1 - d]!);
      return { view: { data, shape, strides, offset: 0 }, at: (idx) => data[ravel(idx.slice().reverse(), reversed)]! };
    }
    case 'sliced': {
      const big = shape.map((s) => 2 * s);
      const data = fill(sized(big));
      const strides = contiguous(data, big).strides.map((s) => 2 * s);
      for (let k = 0; k < sized(shape); k++) data[ravel(unravel(k, shape).map((i) => 2 * i), big)] = draw();
      return { view: { data, shape, strides, offset: 0 }, at: (idx) => data[ravel(idx.map((i) => 2 * i), big)]! };
    }
  }
}

/** Values: mostly ordinary, sometimes special (so NaN, ±0 and ±∞ go through every path). */
function drawer(rng: () => number): () => number {
  return () => (rng() < 0.1 ? SPECIAL[Math.floor(rng() * SPECIAL.length)]! : Math.round((rng() - 0.5) * 64) / 8);
}

const loopCase = fc.record({
  shape: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 0, maxLength: 4 }),
  kinds: fc.array(fc.constantFrom(...KINDS), { minLength: 3, maxLength: 3 }),
  splits: fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 3, maxLength: 3 }),
  dtype: fc.constantFrom(...FLOATS),
  seed: fc.nat(),
});

const UNARIES: UnaryFn[] = ['relu', 'neg', 'exp', 'sigmoid'];
const BINARIES: BinaryFn[] = ['add', 'sub', 'mul', 'gt', 'reluBackward', 'maximum'];

describe('elementwise loops on every layout', () => {
  /** Row-major reference values of `f` at every index of `shape`, rounded to `dtype`. */
  const reference = (shape: number[], dtype: Float, f: (idx: number[]) => number) => {
    const n = shape.reduce((p, d) => p * d, 1);
    return arrayOf(dtype, Array.from({ length: n }, (_, k) => f(unravel(k, shape))));
  };

  it('map, zip and where equal the index-by-index reference (fast, rows and general loops alike)', () => {
    fc.assert(
      fc.property(loopCase, ({ shape, kinds, splits, dtype, seed }) => {
        const draw = drawer(mulberry32(seed));
        const [a, b, c] = kinds.map((k, i) => operand(shape, k, dtype, draw, Math.min(splits[i]!, shape.length)));
        for (const fn of UNARIES) {
          const want = reference(shape, dtype, (idx) => UNARY[fn](a!.at(idx), 0, 0));
          expect(bits(cpu.map(fn, a!.view, dtype)), `map ${fn} ${kinds[0]}`).toEqual(bits(want));
        }
        for (const fn of BINARIES) {
          const want = reference(shape, dtype, (idx) => BINARY[fn](a!.at(idx), b!.at(idx)));
          expect(bits(cpu.zip(fn, a!.view, b!.view, dtype)), `zip ${fn} ${kinds.slice(0, 2)}`).toEqual(bits(want));
        }
        const want = reference(shape, dtype, (idx) => (a!.at(idx) !== 0 ? b!.at(idx) : c!.at(idx)));
        expect(bits(cpu.where(a!.view, b!.view, c!.view, dtype)), `where ${kinds}`).toEqual(bits(want));
      }),
      { numRuns: 300 },
    );
  });

  it('copyInto writes through any destination layout, and reduce sums and maxes over any axes', () => {
    fc.assert(
      fc.property(loopCase, fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }), ({ shape, kinds, splits, dtype, seed }, reduced) => {
        const draw = drawer(mulberry32(seed));
        const src = operand(shape, kinds[0]!, dtype, draw, Math.min(splits[0]!, shape.length));
        // Destinations that hold each element once (no broadcast views).
        const dstKind = (['contiguous', 'offset', 'permuted', 'sliced'] as const)[seed % 4]!;
        const dst = operand(shape, dstKind, dtype, draw, 0);
        cpu.copyInto(src.view, dst.view);
        const n = shape.reduce((p, d) => p * d, 1);
        for (let k = 0; k < n; k++) {
          const idx = unravel(k, shape);
          expect(Object.is(dst.at(idx), arrayOf(dtype, [src.at(idx)])[0]), `copyInto ${kinds[0]} → ${dstKind} at ${idx}`).toBe(true);
        }
        const axes = shape.map((_, d) => d).filter((d) => reduced[d]);
        const outShape = shape.filter((_, d) => !reduced[d]);
        const sums = new Float64Array(outShape.reduce((p, d) => p * d, 1));
        const maxes = new Float64Array(sums.length).fill(-Infinity);
        for (let k = 0; k < n; k++) {
          const idx = unravel(k, shape);
          const o = ravel(idx.filter((_, d) => !reduced[d]), outShape);
          const v = src.at(idx);
          sums[o] += v;
          if (v > maxes[o]! || v !== v) maxes[o] = v;
        }
        if (n > 0) {
          expect(bits(cpu.reduce('sum', src.view, axes, dtype)), `sum over ${axes} of ${kinds[0]}`).toEqual(bits(arrayOf(dtype, sums)));
          expect(bits(cpu.reduce('max', src.view, axes, dtype)), `max over ${axes} of ${kinds[0]}`).toEqual(bits(arrayOf(dtype, maxes)));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('copyInto across dtypes converts as an element-by-element store, on the contiguous (TypedArray.set) path and the strided loop alike', () => {
    const values = [...SPECIAL, 3.7, -3.7, 2 ** 31, -(2 ** 31) - 1, 2 ** 32 + 5, 0.1, 16777217];
    const sources = [Float64Array.from(values), Float32Array.from(values), Int32Array.from(values)];
    const n = values.length;
    for (const src of sources) {
      for (const Target of [Float64Array, Float32Array, Int32Array]) {
        const want = new Target(n);
        for (let i = 0; i < n; i++) want[i] = src[i]!;
        // Contiguous at an offset on both sides: one set.
        const flat = new Target(n + 3);
        cpu.copyInto({ data: src, shape: [n], strides: [1], offset: 0 }, { data: flat, shape: [n], strides: [1], offset: 3 });
        expect(Array.from(flat.subarray(3)), `${src.constructor.name} → ${Target.name}, contiguous`).toEqual(Array.from(want));
        // Every other element of a destination twice as long: the loop.
        const strided = new Target(2 * n);
        cpu.copyInto({ data: src, shape: [n], strides: [1], offset: 0 }, { data: strided, shape: [n], strides: [2], offset: 0 });
        expect(Array.from(strided.filter((_, i) => i % 2 === 0)), `${src.constructor.name} → ${Target.name}, strided`).toEqual(Array.from(want));
        expect(strided.filter((_, i) => i % 2 === 1).every((v) => v === 0)).toBe(true);
      }
    }
  });

  it('a bias row over a batch, a scalar and the same shape give the plain loops’ results in both dtypes, in turn', () => {
    // The same compiled loop sees float32 and float64 and three layouts, interleaved: each
    // combination has its own specialised function, and none may disturb another.
    for (let round = 0; round < 3; round++) {
      for (const dtype of FLOATS) {
        const x = arrayOf(dtype, Array.from({ length: 24 }, (_, i) => i - 11.5));
        const bias = arrayOf(dtype, [0.5, -1, 2, 4, -8, 16]);
        const rows = cpu.zip('add', contiguous(x, [4, 6]), { data: bias, shape: [4, 6], strides: [0, 1], offset: 0 }, dtype);
        expect(Array.from(rows)).toEqual(Array.from(x, (v, i) => v + bias[i % 6]!));
        const scaled = cpu.zip('mul', contiguous(x, [4, 6]), { data: arrayOf(dtype, [3]), shape: [4, 6], strides: [0, 0], offset: 0 }, dtype);
        expect(Array.from(scaled)).toEqual(Array.from(x, (v) => 3 * v));
        const same = cpu.zip('sub', contiguous(x, [4, 6]), contiguous(x, [4, 6]), dtype);
        expect(Array.from(same)).toEqual(Array.from(x, () => 0));
      }
    }
  });
});
