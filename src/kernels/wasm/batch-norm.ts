/**
 * BatchNorm's train-mode kernels (Backend.batchNormForward / batchNormBackward) for contiguous
 * float32 x [N, C, S…] with S a whole number of vectors — BatchNorm2d after a convolution — as
 * SIMD on the runtime's memory: the same two passes as the cpu kernels (kernels/cpu/batch-norm.ts
 * has the algebra and the shifted sums), each row of S numbers of one (sample, channel) read
 * four floats at a time and computed in float64 lanes (f64x2), so that the sums accumulate in
 * float64 as the backend contract asks and pass 2 rounds once, to float32, on its store.
 * Inside tidy, x, g and the result are read and written in the heap where they are resident
 * tensors (placement.ts) instead of copied.
 *
 * Why: the JavaScript loops of the cpu kernels run at ≈ 1 ns a number and were a fifth of a
 * LeNet-5 + BatchNorm training step; here the staging copies and the vector loops take a
 * fraction of that.
 *
 * Pass 2 computes exactly what the cpu loop does (the same double-precision expression, one
 * rounding to float32). Pass 1's sums are the same float64 sums in another order (two lanes,
 * two chains each), so μ and σ² agree with the cpu kernel's to float64 rounding (≈ 1e-16
 * relative), not bit for bit; forward and backward here use the very same loop, so they agree
 * with each other exactly.
 */
import { allocateUnfilled } from '../../tensor/dtype.js';
import { isContiguous } from '../../tensor/shape.js';
import type { View } from '../../tensor/storage.js';
import { channelValues, finishMoments } from '../cpu/batch-norm.js';
import { F64, FunctionBuilder, I32, V128, type ValueType } from './emitter.js';
import { Placement } from './placement.js';
import { kernelModule, type KernelMemory } from './runtime.js';

/** SIMD opcodes used here (WebAssembly SIMD, §5.4.8). */
const OP = {
  f64x2Splat: 0x14,
  f64x2ExtractLane: 0x21,
  f32x4DemoteF64x2Zero: 0x5e,
  f64x2PromoteLowF32x4: 0x5f,
  f64x2Add: 0xf0,
  f64x2Sub: 0xf1,
  f64x2Mul: 0xf2,
} as const;

/** Lanes 2 and 3 of a vector moved to 0 and 1 (for the promotion of the upper half). */
export const HIGH_HALF = [8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15];
/** Lanes 0, 1 of the first vector then 0, 1 of the second (two demoted halves joined). */
const JOIN_HALVES = [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23];

class RowBuilder extends FunctionBuilder {
  /** Replace the f32x4 in local `v` by its two halves in float64: locals lo, hi. */
  promote(v: number, lo: number, hi: number): this {
    this.localGet(v).simdOp(OP.f64x2PromoteLowF32x4).localSet(lo);
    return this.localGet(v).localGet(v).i8x16Shuffle(HIGH_HALF).simdOp(OP.f64x2PromoteLowF32x4).localSet(hi);
  }

  /** Pop two f64x2 (lo, hi) and push the f32x4 of their four values, each rounded once. */
  demoteJoin(): this {
    const hi = this.local(V128);
    this.simdOp(OP.f32x4DemoteF64x2Zero).localSet(hi);
    return this.simdOp(OP.f32x4DemoteF64x2Zero).localGet(hi).i8x16Shuffle(JOIN_HALVES);
  }

  /** Push lane 0 + lane 1 of the f64x2 in local `v`. */
  laneSum(v: number): this {
    return this.localGet(v).simdOp(OP.f64x2ExtractLane, 0).localGet(v).simdOp(OP.f64x2ExtractLane, 1).f64Add();
  }
}

/**
 * `moments(x, S, k, out)` and, with the gradient, `momentsGrad(x, g, S, k, out)`: for the row of
 * S float32 at x (and g), out[0..] = Σd, Σd² (, Σg, Σg·d) in float64, d = x − k. Two chains per
 * sum (the vector's lower and upper halves), added at the end.
 */
function emitMoments(withGrad: boolean): FunctionBuilder {
  const f = new RowBuilder(withGrad ? 'momentsGrad' : 'moments', withGrad ? [I32, I32, I32, F64, I32] : [I32, I32, F64, I32]);
  const [x, g, S, k, out] = withGrad ? [0, 1, 2, 3, 4] : [0, -1, 1, 2, 3];
  const count = f.local(I32);
  const K = f.local(V128);
  const [v, lo, hi] = [f.local(V128), f.local(V128), f.local(V128)];
  const [gv, glo, ghi] = [f.local(V128), f.local(V128), f.local(V128)];
  const sums = Array.from({ length: withGrad ? 8 : 4 }, () => f.local(V128)); // [Σd, Σd², Σg, Σg·d] × (lo, hi)
  f.localGet(k).simdOp(OP.f64x2Splat).localSet(K);
  f.localGet(S).i32Const(2).i32ShrU().localSet(count);
  f.countedLoop(count, () => {
    f.localGet(x).v128Load().localSet(v);
    f.promote(v, lo, hi);
    // d = x − k, for each half
    for (const half of [lo, hi]) f.localGet(half).localGet(K).simdOp(OP.f64x2Sub).localSet(half);
    [lo, hi].forEach((d, h) => {
      f.localGet(sums[h]!).localGet(d).simdOp(OP.f64x2Add).localSet(sums[h]!);
      f.localGet(sums[2 + h]!).localGet(d).localGet(d).simdOp(OP.f64x2Mul).simdOp(OP.f64x2Add).localSet(sums[2 + h]!);
    });
    if (withGrad) {
      f.localGet(g).v128Load().localSet(gv);
      f.promote(gv, glo, ghi);
      [glo, ghi].forEach((gh, h) => {
        f.localGet(sums[4 + h]!).localGet(gh).simdOp(OP.f64x2Add).localSet(sums[4 + h]!);
        f.localGet(sums[6 + h]!).localGet(gh).localGet([lo, hi][h]!).simdOp(OP.f64x2Mul).simdOp(OP.f64x2Add).localSet(sums[6 + h]!);
      });
      f.bump(g, 16);
    }
    f.bump(x, 16);
  });
  for (let s = 0; s < sums.length / 2; s++) {
    f.localGet(out).laneSum(sums[2 * s]!).laneSum(sums[2 * s + 1]!).f64Add().f64Store(8 * s);
  }
  return f;
}

/**
 * `normalize(y, x, S, mu, a, b)`: y = (x − μ)·a + b over a row of S float32, in float64, each
 * value rounded once to float32 (the cpu loop's expression). `gradInput(o, x, g, S, a, mg, dd, mu)`:
 * o = a·(g − mg) − (x − μ)·dd, likewise.
 */
function emitRowMap(withGrad: boolean): FunctionBuilder {
  const params: ValueType[] = withGrad ? [I32, I32, I32, I32, F64, F64, F64, F64] : [I32, I32, I32, F64, F64, F64];
  const f = new RowBuilder(withGrad ? 'gradInput' : 'normalize', params);
  const [o, x] = [0, 1];
  const g = withGrad ? 2 : -1;
  const S = withGrad ? 3 : 2;
  const scalars = withGrad ? [4, 5, 6, 7] : [3, 4, 5]; // a, mg, dd, mu  |  mu, a, b
  const splats = scalars.map(() => f.local(V128));
  const count = f.local(I32);
  const [v, lo, hi, gv, glo, ghi] = Array.from({ length: 6 }, () => f.local(V128));
  scalars.forEach((p, i) => f.localGet(p).simdOp(OP.f64x2Splat).localSet(splats[i]!));
  f.localGet(S).i32Const(2).i32ShrU().localSet(count);
  f.countedLoop(count, () => {
    f.localGet(o);
    f.localGet(x).v128Load().localSet(v);
    f.promote(v, lo, hi);
    if (withGrad) {
      f.localGet(g).v128Load().localSet(gv);
      f.promote(gv, glo, ghi);
    }
    [lo, hi].forEach((half, h) => {
      if (withGrad) {
        const [a, mg, dd, mu] = splats as [number, number, number, number];
        f.localGet(a).localGet([glo, ghi][h]!).localGet(mg).simdOp(OP.f64x2Sub).simdOp(OP.f64x2Mul);
        f.localGet(half).localGet(mu).simdOp(OP.f64x2Sub).localGet(dd).simdOp(OP.f64x2Mul).simdOp(OP.f64x2Sub);
      } else {
        const [mu, a, b] = splats as [number, number, number];
        f.localGet(half).localGet(mu).simdOp(OP.f64x2Sub).localGet(a).simdOp(OP.f64x2Mul).localGet(b).simdOp(OP.f64x2Add);
      }
    });
    f.demoteJoin().v128Store();
    f.bump(o, 16).bump(x, 16);
    if (withGrad) f.bump(g, 16);
  });
  return f;
}

interface BatchNormExports {
  moments(x: number, S: number, k: number, out: number): void;
  momentsGrad(x: number, g: number, S: number, k: number, out: number): void;
  normalize(y: number, x: number, S: number, mu: number, a: number, b: number): void;
  gradInput(o: number, x: number, g: number, S: number, a: number, mg: number, dd: number, mu: number): void;
}

const instances = new WeakMap<KernelMemory, BatchNormExports>();
const batchNormExports = (rt: KernelMemory) =>
  kernelModule(instances, rt, () => [emitMoments(false), emitMoments(true), emitRowMap(false), emitRowMap(true)]);

/** x [N, C, …] as N·C rows of S numbers (S: the product of the axes after C). */
export interface ChannelDims {
  readonly N: number;
  readonly C: number;
  readonly S: number;
}

/** [N, C, S] of x when these kernels take it: contiguous float32, rank ≥ 3, S a positive multiple of 4; else null. */
export function wasmBatchNormDims(x: View, dtype: string): ChannelDims | null {
  if (dtype !== 'float32' || !(x.data instanceof Float32Array) || x.shape.length < 3 || !isContiguous(x.shape, x.strides)) return null;
  const S = x.shape.slice(2).reduce((p, d) => p * d, 1);
  return S > 0 && S % 4 === 0 ? { N: x.shape[0]!, C: x.shape[1]!, S } : null;
}

/**
 * The per-channel shifted sums of the rows of x (and g) staged at xAt (gAt), and the shifts K:
 * each channel's first number of x, or 0 when x is null. `sumsAt` is 32 free bytes.
 */
function channelSums(rt: KernelMemory, ex: BatchNormExports, x: View | null, dims: ChannelDims, xAt: number, gAt: number | null, sumsAt: number) {
  const { N, C, S } = dims;
  const shift = new Float64Array(C);
  if (x && N > 0) for (let c = 0; c < C; c++) shift[c] = x.data[x.offset + c * S]!;
  const sums = Array.from({ length: gAt === null ? 2 : 4 }, () => new Float64Array(C));
  const out = new Float64Array(rt.memory.buffer, sumsAt, 4);
  for (let i = 0; i < N; i++) {
    for (let c = 0; c < C; c++) {
      const row = 4 * (i * C + c) * S;
      if (gAt === null) ex.moments(xAt + row, S, shift[c]!, sumsAt);
      else ex.momentsGrad(xAt + row, gAt + row, S, shift[c]!, sumsAt);
      for (let s = 0; s < sums.length; s++) sums[s]![c] += out[s]!;
    }
  }
  return { shift, sums };
}

/**
 * Σ over the rows of [R, C, S] float32 staged at byte xAt, per channel (float64): the row sums
 * of `moments` with no shift (sums.ts takes a convolution's bias gradient this way). `scratchAt`
 * is 32 free bytes.
 */
export function channelRowSums(rt: KernelMemory, xAt: number, R: number, C: number, S: number, scratchAt: number): Float64Array {
  return channelSums(rt, batchNormExports(rt), null, { N: R, C, S }, xAt, null, scratchAt).sums[0]!;
}

/** Backend.batchNormForward for x that wasmBatchNormDims accepts; null when the memory cannot hold it. */
export function wasmBatchNormForward(rt: KernelMemory, x: View, weight: View | null, bias: View | null, eps: number, dims: ChannelDims) {
  const { N, C, S } = dims;
  const total = N * C * S;
  const y = allocateUnfilled('float32', total) as Float32Array;
  const p = new Placement(rt, [x.data, y]);
  const [xAt, yAt, sumsAt] = [p.input(x, total), p.output(y), p.layout.take(32)];
  if (!p.ready()) return null;
  const ex = batchNormExports(p.mem);
  const { shift, sums } = channelSums(p.mem, ex, x, dims, xAt, null, sumsAt);
  const { mean, variance } = finishMoments(shift, sums[0]!, sums[1]!, N * S);
  const scale = channelValues(weight, C, 1);
  const beta = channelValues(bias, C, 0);
  for (let c = 0; c < C; c++) scale[c] = scale[c]! / Math.sqrt(variance[c]! + eps);
  for (let i = 0; i < N; i++) {
    for (let c = 0; c < C; c++) {
      const row = 4 * (i * C + c) * S;
      ex.normalize(yAt + row, xAt + row, S, mean[c]!, scale[c]!, beta[c]!);
    }
  }
  p.finish();
  return { y, mean, variance };
}

/**
 * x and g ([N, C, S] float32) placed in memory (placement.ts), with the first N·C·S numbers of
 * `out` (taken already) after them, and their per-channel shifted sums (channelSums above);
 * null when g is not contiguous float32 or the memory cannot hold them.
 */
function placedSums(rt: KernelMemory, x: View, g: View, dims: ChannelDims, out: Float32Array | null) {
  if (!(g.data instanceof Float32Array) || !isContiguous(g.shape, g.strides)) return null;
  const total = dims.N * dims.C * dims.S;
  const p = new Placement(rt, out ? [x.data, g.data, out] : [x.data, g.data]);
  const [xAt, gAt, oAt, sumsAt] = [p.input(x, total), p.input(g, total), out ? p.output(out, total) : 0, p.layout.take(32)];
  if (!p.ready()) return null;
  const ex = batchNormExports(p.mem);
  return { p, ex, xAt, gAt, oAt, ...channelSums(p.mem, ex, x, dims, xAt, gAt, sumsAt) };
}

/** Backend.batchNormBackward for x that wasmBatchNormDims accepts and a contiguous float32 gy; null otherwise. */
export function wasmBatchNormBackward(rt: KernelMemory, x: View, gy: View, weight: View | null, eps: number, dims: ChannelDims): Float32Array | null {
  const { N, C, S } = dims;
  const total = N * C * S;
  const n = N * S;
  const out = allocateUnfilled('float32', total + (weight ? 2 * C : 0)) as Float32Array;
  const staged = placedSums(rt, x, gy, dims, out);
  if (!staged) return null;
  const { ex, xAt, gAt, oAt, shift, sums } = staged;
  const [s1, s2, sg, sgd] = sums as [Float64Array, Float64Array, Float64Array, Float64Array];
  const { mean, variance } = finishMoments(shift, s1, s2, n);
  const gamma = channelValues(weight, C, 1);
  // The per-channel constants of the cpu kernel: ∂/∂x = A·(g − Σg/n) − (x − μ)·D.
  for (let c = 0; c < C; c++) {
    const r = 1 / Math.sqrt(variance[c]! + eps);
    const sumGXhat = r * (sgd[c]! - (s1[c]! / n) * sg[c]!);
    const A = gamma[c]! * r;
    const D = (A * r * sumGXhat) / n;
    for (let i = 0; i < N; i++) {
      const row = 4 * (i * C + c) * S;
      ex.gradInput(oAt + row, xAt + row, gAt + row, S, A, sg[c]! / n, D, mean[c]!);
    }
    if (weight) {
      out[total + c] = sumGXhat;
      out[total + C + c] = sg[c]!;
    }
  }
  staged.p.finish();
  return out;
}

/** y = x·a[c] + b[c] over the staged rows of [N, C, S] at byte xAt, into yAt: `normalize` with μ = 0. */
function affineRows(ex: BatchNormExports, { N, C, S }: ChannelDims, yAt: number, xAt: number, a: Float64Array, b: Float64Array): void {
  for (let i = 0; i < N; i++) {
    for (let c = 0; c < C; c++) {
      const row = 4 * (i * C + c) * S;
      ex.normalize(yAt + row, xAt + row, S, 0, a[c]!, b[c]!);
    }
  }
}

/**
 * Backend.channelAffine (BatchNorm's eval mode) for x that wasmBatchNormDims accepts: the rows
 * of `normalize` with μ = 0, so y = x·s + t in float64 rounded once, the cpu kernel's bits.
 */
export function wasmChannelAffine(rt: KernelMemory, x: View, scale: View, shift: View | null, dims: ChannelDims): Float32Array | null {
  const { N, C, S } = dims;
  const total = N * C * S;
  const y = allocateUnfilled('float32', total) as Float32Array;
  const p = new Placement(rt, [x.data, y]);
  const [xAt, yAt] = [p.input(x, total), p.output(y)];
  if (!p.ready()) return null;
  affineRows(batchNormExports(p.mem), dims, yAt, xAt, channelValues(scale, C, 1), channelValues(shift, C, 0));
  p.finish();
  return y;
}

/** [Σ g·x | Σ g] per channel into out from `at`, from placedSums' shifted sums: Σg·x = Σg·(x − K) + K·Σg. */
function writeGradSums({ shift, sums }: { shift: Float64Array; sums: Float64Array[] }, out: Float32Array | Float64Array, at: number): void {
  const C = shift.length;
  for (let c = 0; c < C; c++) {
    out[at + c] = sums[3]![c]! + shift[c]! * sums[2]![c]!;
    out[at + C + c] = sums[2]![c]!;
  }
}

/** Backend.channelSums for x that wasmBatchNormDims accepts and a contiguous float32 g: the `momentsGrad` rows. */
export function wasmChannelSums(rt: KernelMemory, g: View, x: View, dims: ChannelDims): Float64Array | null {
  const staged = placedSums(rt, x, g, dims, null);
  if (!staged) return null;
  const out = new Float64Array(2 * dims.C);
  writeGradSums(staged, out, 0);
  return out;
}

/**
 * Backend.channelAffineBackward, likewise: the sums of wasmChannelSums and g·s (the rows of
 * `normalize` on the staged g, μ = 0), packed [g·s | Σ g·x | Σ g] in float32.
 */
export function wasmChannelAffineBackward(rt: KernelMemory, g: View, x: View, scale: View, dims: ChannelDims): Float32Array | null {
  const { C } = dims;
  const total = dims.N * C * dims.S;
  const out = allocateUnfilled('float32', total + 2 * C) as Float32Array;
  const staged = placedSums(rt, x, g, dims, out);
  if (!staged) return null;
  writeGradSums(staged, out, total);
  affineRows(staged.ex, dims, staged.oAt, staged.gAt, channelValues(scale, C, 1), new Float64Array(C));
  staged.p.finish();
  return out;
}
