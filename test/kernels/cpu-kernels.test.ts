/**
 * The fast CPU kernels against naive references, case by case:
 * - matmul and the packed GEMM under it, against a triple loop: odd sizes, tall-skinny,
 *   vectors, batches with broadcast (stride-0) batch axes, every transpose variant through
 *   strided views, offsets into NaN-filled buffers, K = 0, NaN and ±Infinity propagation —
 *   under the default cache blocking and under a tiny one that splits every dimension;
 * - conv2d and its two backward convolutions, against the direct loops of
 *   test/reference/conv-pool.ts: stride, padding, dilation, groups, depthwise, batch 1, 1×1
 *   kernels, kernel = input, non-contiguous operands;
 * - max / avg pooling and the avg-pool gradient, against the same reference;
 * - the contiguous and broadcast fast paths of the elementwise and reduction loops.
 *
 * float64 results must match to 1e-12 relative to Σ|terms| (the natural scale of a re-ordered
 * sum), float32 ones to 1e-5.
 */
import { describe, expect, it } from 'vitest';
import type { DType, TypedArray } from '../../src/tensor/dtype.js';
import type { View } from '../../src/tensor/storage.js';
import type { AvgPoolGeometry, Conv2dGeometry, PoolGeometry } from '../../src/kernels/geometry.js';
import { cpuBackend as cpu } from '../../src/kernels/cpu/index.js';
import { blocking, gemm } from '../../src/kernels/cpu/gemm.js';
import * as reference from '../reference/conv-pool.js';
import { mulberry32 } from '../arbitraries.js';

const FLOATS: readonly DType[] = ['float64', 'float32'];
const RTOL: Record<string, number> = { float64: 1e-12, float32: 1e-5 };

// ---- building strided views ---------------------------------------------------------------

interface Stored {
  view: View;
  /** The logical values in row-major order (as stored, i.e. already rounded for float32). */
  values: Float64Array;
}

interface LayoutOptions {
  /** Storage order of the logical axes (storage axis i holds logical axis order[i]). */
  order?: readonly number[];
  /** Unused elements after each innermost storage row (filled with NaN). */
  pad?: number;
  /** Unused elements before the first one (NaN). */
  offset?: number;
  /** Logical axes read with stride 0 (values constant along them). */
  broadcast?: readonly number[];
}

function sizeOf(shape: readonly number[]): number {
  return shape.reduce((p, d) => p * d, 1);
}

/**
 * A view of `shape` with random values in [-1, 1) laid out as `options` says, inside a buffer
 * whose unused elements are NaN — so reading outside the view shows up as a NaN result.
 */
function stored(shape: readonly number[], dtype: DType, rng: () => number, options: LayoutOptions = {}): Stored {
  const rank = shape.length;
  const order = options.order ?? shape.map((_, d) => d);
  const pad = options.pad ?? 0;
  const offset = options.offset ?? 0;
  const broadcast = new Set(options.broadcast ?? []);
  // Storage sizes: broadcast axes take no room.
  const storedSize = order.map((d) => (broadcast.has(d) ? 1 : shape[d]!));
  const storageStrides = new Array<number>(rank).fill(0);
  let step = 1;
  for (let i = rank - 1; i >= 0; i--) {
    storageStrides[i] = step;
    step *= i === rank - 1 ? storedSize[i]! + pad : storedSize[i]!;
  }
  const strides = new Array<number>(rank).fill(0);
  order.forEach((d, i) => (strides[d] = broadcast.has(d) ? 0 : storageStrides[i]!));
  const data = dtype === 'float32' ? new Float32Array(offset + Math.max(step, 1)) : new Float64Array(offset + Math.max(step, 1));
  data.fill(NaN);
  const values = new Float64Array(sizeOf(shape));
  const idx = new Array<number>(rank).fill(0);
  for (let k = 0; k < values.length; k++) {
    let o = offset;
    for (let d = 0; d < rank; d++) o += idx[d]! * strides[d]!;
    if (Number.isNaN(data[o])) data[o] = 2 * rng() - 1;
    values[k] = data[o]!;
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d]! < shape[d]!) break;
      idx[d] = 0;
    }
  }
  return { view: { data, shape: shape.slice(), strides, offset }, values };
}

/** The same view over |data| (NaN stays NaN): its products give Σ|terms| for tolerances. */
function absView(v: View): View {
  return { ...v, data: v.data.map(Math.abs) };
}

/** |got − want| ≤ rtol·scale elementwise, with `scale` = Σ|terms| of each entry. */
function expectClose(got: TypedArray, want: ArrayLike<number>, scale: ArrayLike<number>, rtol: number, what: string): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  for (let i = 0; i < got.length; i++) {
    const ok = Math.abs(got[i]! - want[i]!) <= rtol * scale[i]! + 1e-300 || (Number.isNaN(got[i]) && Number.isNaN(want[i]));
    if (!ok) throw new Error(`${what}: element ${i}: got ${got[i]}, expected ${want[i]} (scale ${scale[i]}, rtol ${rtol})`);
  }
}

// ---- matmul ---------------------------------------------------------------------------------

/** The naive triple loop over logical values: C and Σ|a·b| per entry, batch by batch. */
function naiveMatmul(a: Float64Array, b: Float64Array, batches: number, M: number, K: number, N: number) {
  const c = new Float64Array(batches * M * N);
  const scale = new Float64Array(batches * M * N);
  for (let t = 0; t < batches; t++)
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        let s = 0;
        let abs = 0;
        for (let k = 0; k < K; k++) {
          const p = a[t * M * K + i * K + k]! * b[t * K * N + k * N + j]!;
          s += p;
          abs += Math.abs(p);
        }
        c[t * M * N + i * N + j] = s;
        scale[t * M * N + i * N + j] = abs;
      }
  return { c, scale };
}

interface MatmulCase {
  name: string;
  batch?: number[];
  M: number;
  K: number;
  N: number;
  a?: LayoutOptions;
  b?: LayoutOptions;
}

/** [..., M, K] stored transposed: the last two axes swapped in memory. */
const T2 = (rank: number): LayoutOptions => ({ order: [...Array(rank - 2).keys(), rank - 1, rank - 2] });

const MATMUL_CASES: MatmulCase[] = [
  { name: '1×1×1', M: 1, K: 1, N: 1 },
  { name: '2×3×4 (tiny loop)', M: 2, K: 3, N: 4 },
  { name: '37×53×29', M: 37, K: 53, N: 29 },
  { name: 'tall-skinny 1000×3×2', M: 1000, K: 3, N: 2 },
  { name: 'wide 2×3×1000', M: 2, K: 3, N: 1000 },
  { name: 'row vector 1×300×50', M: 1, K: 300, N: 50 },
  { name: 'column vector 50×300×1', M: 50, K: 300, N: 1 },
  { name: 'outer product 31×1×17', M: 31, K: 1, N: 17 },
  { name: 'K = 0', M: 5, K: 0, N: 7 },
  { name: 'M = 0', M: 0, K: 4, N: 3 },
  { name: 'deep 9×1100×11 (two K blocks)', M: 9, K: 1100, N: 11 },
  { name: 'Aᵀ·B 37×53×29', M: 37, K: 53, N: 29, a: T2(2) },
  { name: 'A·Bᵀ 37×53×29', M: 37, K: 53, N: 29, b: T2(2) },
  { name: 'Aᵀ·Bᵀ 37×53×29', M: 37, K: 53, N: 29, a: T2(2), b: T2(2) },
  { name: 'padded rows and offsets 23×19×21', M: 23, K: 19, N: 21, a: { pad: 3, offset: 5 }, b: { pad: 1, offset: 2 } },
  { name: 'transposed, padded, offset', M: 23, K: 19, N: 21, a: { ...T2(2), pad: 2, offset: 1 }, b: { ...T2(2), pad: 4, offset: 3 } },
  { name: 'batched [3] 13×7×11', batch: [3], M: 13, K: 7, N: 11 },
  { name: 'batched [2,3], A broadcast over axis 0 (stride 0)', batch: [2, 3], M: 6, K: 9, N: 5, a: { broadcast: [0] } },
  { name: 'batched [4], B broadcast (stride 0), Aᵀ', batch: [4], M: 10, K: 8, N: 7, a: T2(3), b: { broadcast: [0] } },
  { name: 'batched [3], both transposed, padded', batch: [3], M: 5, K: 14, N: 6, a: { ...T2(3), pad: 1 }, b: { ...T2(3), pad: 2 } },
  { name: 'batch-major permuted [2]', batch: [2], M: 7, K: 5, N: 9, a: { order: [1, 0, 2] }, b: { order: [2, 1, 0] } },
];

function checkMatmul(c: MatmulCase, dtype: DType, seed: number): void {
  const rng = mulberry32(seed);
  const batch = c.batch ?? [];
  const batches = sizeOf(batch);
  const a = stored([...batch, c.M, c.K], dtype, rng, c.a);
  const b = stored([...batch, c.K, c.N], dtype, rng, c.b);
  const got = cpu.matmul(a.view, b.view, dtype);
  const want = naiveMatmul(a.values, b.values, batches, c.M, c.K, c.N);
  expect(got).toBeInstanceOf(dtype === 'float32' ? Float32Array : Float64Array);
  expectClose(got, want.c, want.scale, RTOL[dtype]!, `${c.name} (${dtype})`);
}

describe('matmul against the naive triple loop', () => {
  for (const dtype of FLOATS) {
    it.each(MATMUL_CASES.map((c) => [c.name, c] as const))(`%s (${dtype})`, (_, c) => checkMatmul(c, dtype, 7));
  }

  it('gives the same results when every dimension spans several cache blocks', () => {
    const saved = { ...blocking };
    // Tiny blocks: every dimension is split several times, with uneven edges.
    Object.assign(blocking, { kc: 5, mc: 8, nc: 7 });
    try {
      for (const c of MATMUL_CASES) for (const dtype of FLOATS) checkMatmul(c, dtype, 11);
    } finally {
      Object.assign(blocking, saved);
    }
  });

  it('crosses the default block sizes (MC, KC, NC) with uneven edges', () => {
    checkMatmul({ name: 'large', M: 133, K: 531, N: 1025, a: T2(2) }, 'float64', 3);
  });

  it('propagates NaN and ±Infinity like the triple loop (no skipping of zeros)', () => {
    const M = 6, K = 5, N = 7;
    const a = new Float64Array(M * K).fill(0);
    const b = new Float64Array(K * N).fill(1);
    a[2 * K + 3] = NaN; // row 2 → all NaN
    a[4 * K + 1] = Infinity; // row 4 → +∞ …
    b[1 * N + 5] = 0; // … except column 5, where ∞·0 = NaN
    const out = cpu.matmul(
      { data: a, shape: [M, K], strides: [K, 1], offset: 0 },
      { data: b, shape: [K, N], strides: [N, 1], offset: 0 },
      'float64',
    );
    for (let j = 0; j < N; j++) {
      expect(out[2 * N + j]).toBeNaN();
      expect(out[4 * N + j]).toBe(j === 5 ? NaN : Infinity);
      expect(out[0 * N + j]).toBe(0);
    }
  });
});

describe('gemm', () => {
  it('accumulates into C through any strides when asked, and overwrites otherwise', () => {
    const rng = mulberry32(5);
    const M = 9, K = 13, N = 10;
    const a = stored([M, K], 'float64', rng);
    const b = stored([K, N], 'float64', rng, T2(2));
    const want = naiveMatmul(a.values, b.values, 1, M, K, N);
    // C column-major at offset 3 inside a larger buffer, pre-filled with 1.
    const c = new Float64Array(3 + M * N + 4).fill(1);
    const am = { data: a.view.data, offset: a.view.offset, rowStride: a.view.strides[0]!, colStride: a.view.strides[1]! };
    const bm = { data: b.view.data, offset: b.view.offset, rowStride: b.view.strides[0]!, colStride: b.view.strides[1]! };
    gemm(M, N, K, am, bm, c, 3, 1, M, true);
    const colMajor = (x: ArrayLike<number>, add: number) => Float64Array.from({ length: M * N }, (_, o) => x[(o % M) * N + Math.floor(o / M)]! + add);
    expectClose(c.subarray(3, 3 + M * N), colMajor(want.c, 1), colMajor(want.scale, 1), 1e-12, 'accumulate');
    gemm(M, N, K, am, bm, c, 3, 1, M, false);
    expectClose(c.subarray(3, 3 + M * N), colMajor(want.c, 0), colMajor(want.scale, 0), 1e-12, 'overwrite');
    expect([c[0], c[1], c[2], c[3 + M * N]]).toEqual([1, 1, 1, 1]);
  });
});

// ---- convolution ----------------------------------------------------------------------------

interface ConvCase {
  name: string;
  x: [number, number, number, number];
  w: [number, number, number, number];
  stride?: [number, number];
  padding?: [number, number];
  dilation?: [number, number];
  groups?: number;
  xLayout?: LayoutOptions;
  wLayout?: LayoutOptions;
  gLayout?: LayoutOptions;
}

const CONV_CASES: ConvCase[] = [
  { name: 'basic 2×3×7×6 → 4, k3', x: [2, 3, 7, 6], w: [4, 3, 3, 3] },
  { name: 'stride 2, padding 1', x: [2, 3, 9, 8], w: [5, 3, 3, 3], stride: [2, 2], padding: [1, 1] },
  { name: 'dilation 2, padding 2', x: [2, 2, 9, 10], w: [3, 2, 3, 3], dilation: [2, 2], padding: [2, 2] },
  { name: 'asymmetric kernel, stride, padding, dilation', x: [2, 3, 11, 9], w: [4, 3, 2, 3], stride: [2, 1], padding: [1, 0], dilation: [1, 2] },
  { name: 'stride 3 larger than the kernel', x: [1, 2, 10, 11], w: [2, 2, 2, 2], stride: [3, 3] },
  { name: 'padding larger than the kernel reach', x: [1, 2, 4, 5], w: [3, 2, 2, 2], padding: [3, 2] },
  { name: 'groups 2', x: [2, 4, 7, 7], w: [6, 2, 3, 3], groups: 2, padding: [1, 1] },
  { name: 'groups 3, stride 2', x: [1, 6, 8, 9], w: [9, 2, 3, 2], groups: 3, stride: [2, 2] },
  { name: 'depthwise', x: [2, 3, 8, 7], w: [3, 1, 3, 3], groups: 3, padding: [1, 1] },
  { name: 'depthwise, stride 2, dilation 2', x: [2, 4, 11, 10], w: [4, 1, 3, 3], groups: 4, stride: [2, 2], dilation: [2, 2], padding: [2, 1] },
  { name: 'depthwise multiplier 2', x: [2, 3, 6, 6], w: [6, 1, 3, 3], groups: 3, padding: [1, 1] },
  { name: 'batch 1', x: [1, 3, 7, 7], w: [2, 3, 3, 3] },
  { name: '1×1 pointwise', x: [2, 5, 6, 7], w: [4, 5, 1, 1] },
  { name: '1×1 with groups', x: [2, 6, 4, 5], w: [4, 3, 1, 1], groups: 2 },
  { name: '1×1 stride 2 (not pointwise)', x: [2, 3, 7, 6], w: [4, 3, 1, 1], stride: [2, 2] },
  { name: 'kernel = input', x: [3, 2, 5, 5], w: [4, 2, 5, 5] },
  { name: 'LeNet-like 2×1×12×12 → 6, k5', x: [2, 1, 12, 12], w: [6, 1, 5, 5] },
  { name: 'non-contiguous x (NHWC storage), padded w', x: [2, 3, 6, 5], w: [4, 3, 3, 3], padding: [1, 1], xLayout: { order: [0, 2, 3, 1] }, wLayout: { pad: 2, offset: 3 } },
  { name: 'permuted w, transposed gradient', x: [2, 3, 6, 7], w: [4, 3, 3, 2], wLayout: { order: [1, 2, 3, 0] }, gLayout: { order: [0, 1, 3, 2] } },
  { name: 'pointwise on NHWC input', x: [2, 4, 3, 5], w: [3, 4, 1, 1], xLayout: { order: [0, 2, 3, 1] }, gLayout: { order: [1, 0, 2, 3] } },
  { name: 'broadcast gradient (stride 0)', x: [2, 2, 5, 5], w: [3, 2, 3, 3], gLayout: { broadcast: [0, 2, 3] } },
  { name: 'depthwise on strided views', x: [2, 3, 6, 6], w: [3, 1, 2, 2], groups: 3, xLayout: { order: [3, 2, 1, 0] }, wLayout: { pad: 1 }, gLayout: { pad: 2, offset: 1 } },
];

function geometryOf(c: ConvCase): Conv2dGeometry {
  return { stride: c.stride ?? [1, 1], padding: c.padding ?? [0, 0], dilation: c.dilation ?? [1, 1], groups: c.groups ?? 1 };
}

/** All three convolutions of one case against the reference. */
function checkConv(c: ConvCase, dtype: DType): void {
  const rng = mulberry32(17);
  const g = geometryOf(c);
  const x = stored(c.x, dtype, rng, c.xLayout).view;
  const w = stored(c.w, dtype, rng, c.wLayout).view;
  const outShape = [c.x[0], c.w[0], ...outputSpatial(c)];
  const gy = stored(outShape, dtype, rng, c.gLayout).view;
  const rtol = RTOL[dtype]!;
  const what = `${c.name} (${dtype})`;
  expectClose(cpu.conv2d(x, w, g, dtype), reference.conv2d(x, w, g, 'float64'), reference.conv2d(absView(x), absView(w), g, 'float64'), rtol, `${what} forward`);
  expectClose(
    cpu.conv2dBackwardInput(gy, w, c.x, g, dtype),
    reference.conv2dBackwardInput(gy, w, c.x, g, 'float64'),
    reference.conv2dBackwardInput(absView(gy), absView(w), c.x, g, 'float64'),
    rtol,
    `${what} input gradient`,
  );
  expectClose(
    cpu.conv2dBackwardWeight(x, gy, c.w, g, dtype),
    reference.conv2dBackwardWeight(x, gy, c.w, g, 'float64'),
    reference.conv2dBackwardWeight(absView(x), absView(gy), c.w, g, 'float64'),
    rtol,
    `${what} weight gradient`,
  );
}

describe('conv2d and its backward convolutions against the direct loops', () => {
  for (const dtype of FLOATS) {
    it.each(CONV_CASES.map((c) => [c.name, c] as const))(`%s (${dtype})`, (_, c) => checkConv(c, dtype));
  }

  it('gives the same results when the products span several cache blocks', () => {
    const saved = { ...blocking };
    // Partial slivers and K blocks that start mid-way through the unfolded image.
    Object.assign(blocking, { kc: 5, mc: 8, nc: 7 });
    try {
      for (const c of CONV_CASES.slice(0, 8)) checkConv(c, 'float64');
    } finally {
      Object.assign(blocking, saved);
    }
  });

  it('propagates NaN from one input pixel to exactly the outputs that read it', () => {
    const g: Conv2dGeometry = { stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1 };
    const x = stored([1, 1, 5, 5], 'float64', mulberry32(1)).view;
    (x.data as Float64Array)[2 * 5 + 2] = NaN; // the centre pixel
    const w = { data: new Float64Array(9), shape: [1, 1, 3, 3], strides: [9, 9, 3, 1], offset: 0 }; // all zero weights
    const out = cpu.conv2d(x, w, g, 'float64');
    for (let h = 0; h < 5; h++)
      for (let v = 0; v < 5; v++) {
        const reads = Math.abs(h - 2) <= 1 && Math.abs(v - 2) <= 1;
        expect(Number.isNaN(out[h * 5 + v]), `output (${h}, ${v})`).toBe(reads);
      }
  });
});

function outputSpatial(c: ConvCase): [number, number] {
  const g = geometryOf(c);
  const size = (i: number) => Math.floor((c.x[2 + i]! + 2 * g.padding[i]! - g.dilation[i]! * (c.w[2 + i]! - 1) - 1) / g.stride[i]!) + 1;
  return [size(0), size(1)];
}

// ---- pooling --------------------------------------------------------------------------------

interface PoolCase {
  name: string;
  x: [number, number, number, number];
  kernel: [number, number];
  stride?: [number, number];
  padding?: [number, number];
  dilation?: [number, number];
  layout?: LayoutOptions;
}

const POOL_CASES: PoolCase[] = [
  { name: '2×2 stride 2', x: [2, 3, 8, 8], kernel: [2, 2] },
  { name: '2×2 stride 2, odd size', x: [2, 2, 7, 9], kernel: [2, 2] },
  { name: '3×3 stride 1 (overlapping)', x: [1, 2, 6, 7], kernel: [3, 3], stride: [1, 1] },
  { name: '3×3 stride 2 padding 1', x: [2, 2, 9, 8], kernel: [3, 3], stride: [2, 2], padding: [1, 1] },
  { name: 'asymmetric 2×3, stride (1, 2), padding (1, 1)', x: [1, 3, 6, 9], kernel: [2, 3], stride: [1, 2], padding: [1, 1] },
  { name: 'dilation 2', x: [2, 2, 9, 9], kernel: [2, 2], stride: [1, 1], dilation: [2, 2] },
  { name: 'kernel = input', x: [3, 2, 5, 5], kernel: [5, 5] },
  { name: 'batch 1, 1×1 window', x: [1, 2, 4, 3], kernel: [1, 1] },
  { name: 'NHWC storage', x: [2, 3, 6, 6], kernel: [2, 2], layout: { order: [0, 2, 3, 1] } },
  { name: 'padded rows and offset', x: [2, 2, 5, 6], kernel: [3, 2], stride: [2, 2], padding: [1, 1], layout: { pad: 3, offset: 7 } },
];

function poolGeometryOf(c: PoolCase): PoolGeometry {
  return { kernel: c.kernel, stride: c.stride ?? c.kernel, padding: c.padding ?? [0, 0], dilation: c.dilation ?? [1, 1] };
}

describe('pooling against the direct loops', () => {
  for (const dtype of FLOATS) {
    it.each(POOL_CASES.map((c) => [c.name, c] as const))(`%s (${dtype})`, (_, c) => {
      const rng = mulberry32(23);
      const g = poolGeometryOf(c);
      const x = stored(c.x, dtype, rng, c.layout).view;
      const what = `${c.name} (${dtype})`;
      const max = cpu.maxPool2d(x, g, dtype);
      const maxRef = reference.maxPool2d(x, g, dtype);
      expect(Array.from(max.indices), `${what} max indices`).toEqual(Array.from(maxRef.indices));
      expect(Array.from(max.values), `${what} max values`).toEqual(Array.from(maxRef.values));
      for (const countIncludePad of [true, false]) {
        const ga: AvgPoolGeometry = { ...g, countIncludePad };
        const avg = cpu.avgPool2d(x, ga, dtype);
        expectClose(avg, reference.avgPool2d(x, ga, 'float64'), reference.avgPool2d(absView(x), ga, 'float64'), RTOL[dtype]!, `${what} avg (countIncludePad ${countIncludePad})`);
        const [ho, wo] = poolOutputSpatial(c);
        const outShape = [c.x[0], c.x[1], ho, wo];
        const gy = stored(outShape, dtype, rng, { order: [0, 1, 3, 2], pad: 1 }).view;
        expectClose(
          cpu.avgPool2dBackward(gy, c.x, ga, dtype),
          reference.avgPool2dBackward(gy, c.x, ga, 'float64'),
          reference.avgPool2dBackward(absView(gy), c.x, ga, 'float64'),
          RTOL[dtype]!,
          `${what} avg backward (countIncludePad ${countIncludePad})`,
        );
      }
    });
  }

  it('max pooling lets NaN win and keeps the first of equal maxima', () => {
    const data = new Float64Array([1, 5, 5, 2, NaN, 0, 3, 3, 7, 7, 7, 7, -1, -2, -3, -4]);
    const x = { data, shape: [1, 1, 4, 4], strides: [16, 16, 4, 1], offset: 0 };
    const { values, indices } = cpu.maxPool2d(x, { kernel: [2, 2], stride: [2, 2], padding: [0, 0], dilation: [1, 1] }, 'float64');
    expect(Array.from(values)).toEqual([NaN, 5, 7, 7]);
    expect(Array.from(indices)).toEqual([4, 2, 8, 10]);
  });
});

function poolOutputSpatial(c: PoolCase): [number, number] {
  const g = poolGeometryOf(c);
  const size = (i: number) => Math.floor((c.x[2 + i]! + 2 * g.padding[i]! - g.dilation[i]! * (g.kernel[i]! - 1) - 1) / g.stride[i]!) + 1;
  return [size(0), size(1)];
}

// ---- elementwise and reduction fast paths ----------------------------------------------------

describe('elementwise and reduction fast paths', () => {
  const rng = mulberry32(31);
  const a = stored([16, 24], 'float32', rng);
  const b = stored([16, 24], 'float32', rng);
  const bias = stored([16, 24], 'float32', rng, { broadcast: [0] });

  it('adds contiguous tensors and broadcasts a bias row', () => {
    expect(Array.from(cpu.zip('add', a.view, b.view, 'float32'))).toEqual(Array.from(a.values, (v, i) => Math.fround(v + b.values[i]!)));
    expect(Array.from(cpu.zip('add', a.view, bias.view, 'float32'))).toEqual(Array.from(a.values, (v, i) => Math.fround(v + bias.values[i]!)));
    expect(Array.from(cpu.map('relu', a.view, 'float32'))).toEqual(Array.from(a.values, (v) => (v <= 0 ? 0 : v)));
  });

  it('handles offsets into a buffer (a row slice) and rank 0', () => {
    const rows = { ...a.view, shape: [5, 24], offset: 3 * 24 };
    expect(Array.from(cpu.map('neg', rows, 'float64'))).toEqual(Array.from(a.values.slice(72, 192), (v) => -v));
    const scalar = { data: new Float64Array([2, 7]), shape: [], strides: [], offset: 1 };
    expect(Array.from(cpu.zip('mul', scalar, scalar, 'float64'))).toEqual([49]);
  });

  it('keeps NaN and the extremum when reducing along the inner axis', () => {
    const data = new Float64Array([1, 5, -2, 3, NaN, 4, -7, 0, 2]);
    const m = { data, shape: [3, 3], strides: [3, 1], offset: 0 };
    expect(Array.from(cpu.reduce('max', m, [1], 'float64'))).toEqual([5, NaN, 2]);
    expect(Array.from(cpu.reduce('min', m, [1], 'float64'))).toEqual([-2, NaN, -7]);
    expect(Array.from(cpu.reduce('max', m, [0], 'float64'))).toEqual([3, NaN, 4]);
  });

  it('sums over either axis of a matrix, and over a transposed view', () => {
    const rowSums = Array.from({ length: 16 }, (_, i) => a.values.slice(i * 24, i * 24 + 24).reduce((s, v) => s + v, 0));
    const colSums = Array.from({ length: 24 }, (_, j) => Array.from({ length: 16 }, (_, i) => a.values[i * 24 + j]!).reduce((s, v) => s + v, 0));
    expectClose(cpu.reduce('sum', a.view, [1], 'float64'), rowSums, rowSums.map(() => 24), 1e-14, 'sum axis 1');
    expectClose(cpu.reduce('sum', a.view, [0], 'float64'), colSums, colSums.map(() => 16), 1e-14, 'sum axis 0');
    const t = { ...a.view, shape: [24, 16], strides: [1, 24] };
    expectClose(cpu.reduce('sum', t, [0], 'float64'), rowSums, rowSums.map(() => 24), 1e-14, 'sum axis 0 of the transpose');
    expectClose(cpu.reduce('sum', a.view, [0, 1], 'float64'), [rowSums.reduce((s, v) => s + v, 0)], [384], 1e-14, 'sum of all');
  });
});
