/**
 * The two sums every backward pass of a CNN or MLP takes — a bias gradient summed over the
 * batch (and the positions) — on float32 input, accumulated in float64 as the backend contract
 * asks, as SIMD on a staged copy (or in place where the input is a resident tensor, placement.ts):
 *
 * - over the leading axes of a contiguous [R, P] (a dense bias: P kept): `columnSums` adds
 *   each row into P float64 accumulators, two lanes at a time — for every output the same
 *   additions in the same order as the cpu loop, so the result is the cpu kernel's to the bit;
 * - over the outer and inner axes of a contiguous [R, C, S] with S a whole number of vectors
 *   (a convolution's bias: C kept): the row sums of BatchNorm's `moments` kernel
 *   (batch-norm.ts), added per channel — the same float64 sum in another order.
 *
 * Why: the JavaScript reduction loop runs at ≈ 0.6 ns a number; a LeNet-5 step spends 4 % of its
 * time in it.
 */
import { isContiguous, type Shape } from '../../tensor/shape.js';
import type { View } from '../../tensor/storage.js';
import { channelRowSums, HIGH_HALF } from './batch-norm.js';
import { FunctionBuilder, I32, V128 } from './emitter.js';
import { Placement } from './placement.js';
import { kernelModule, type KernelMemory } from './runtime.js';

/** Below this many numbers the JavaScript loop is cheaper than staging. */
export const WASM_SUM_MIN = 4096;

const F64X2_PROMOTE_LOW_F32X4 = 0x5f;
const F64X2_ADD = 0xf0;

/** `columnSums(acc, x, rows, P)`: acc[j] += x[i, j] (float64 acc, float32 x) for i < rows, j < P (P a multiple of 4). */
function emitColumnSums(): FunctionBuilder {
  const f = new FunctionBuilder('columnSums', [I32, I32, I32, I32]);
  const [acc, x, rows, P] = [0, 1, 2, 3];
  const [a, k, v] = [f.local(I32), f.local(I32), f.local(V128)];
  f.countedLoop(rows, () => {
    f.localGet(acc).localSet(a);
    f.localGet(P).i32Const(2).i32ShrU().localSet(k);
    f.countedLoop(k, () => {
      f.localGet(x).v128Load().localSet(v);
      // acc[j], acc[j + 1] += x[j], x[j + 1]; then the upper pair
      f.localGet(a).localGet(a).v128Load().localGet(v);
      f.simdOp(F64X2_PROMOTE_LOW_F32X4);
      f.simdOp(F64X2_ADD);
      f.v128Store();
      f.localGet(a).localGet(a).v128Load(16).localGet(v).localGet(v).i8x16Shuffle(HIGH_HALF);
      f.simdOp(F64X2_PROMOTE_LOW_F32X4);
      f.simdOp(F64X2_ADD);
      f.v128Store(16);
      f.bump(a, 32);
      f.bump(x, 16);
    });
  });
  return f;
}

interface SumExports {
  columnSums(acc: number, x: number, rows: number, P: number): void;
}

const instances = new WeakMap<KernelMemory, SumExports>();
const sumExports = (rt: KernelMemory) => kernelModule(instances, rt, () => [emitColumnSums()]);

/**
 * The sum this path takes, as [R, C, S] with the middle block kept: axes = every axis before
 * and after a run of kept axes, x contiguous float32; null for anything else.
 */
export function sumLayout(x: View, axes: readonly number[], dtype: string): { R: number; C: number; S: number } | null {
  const shape: Shape = x.shape;
  if (dtype !== 'float32' || !(x.data instanceof Float32Array) || axes.length === 0 || !isContiguous(shape, x.strides)) return null;
  const kept = shape.map((_, d) => d).filter((d) => !axes.includes(d));
  if (kept.length === 0 || kept.some((d, i) => i > 0 && d !== kept[i - 1]! + 1)) return null;
  const size = (from: number, to: number) => shape.slice(from, to).reduce((p, d) => p * d, 1);
  const dims = { R: size(0, kept[0]!), C: size(kept[0]!, kept.at(-1)! + 1), S: size(kept.at(-1)! + 1, shape.length) };
  const n = dims.R * dims.C * dims.S;
  const fits = dims.S === 1 ? dims.C % 4 === 0 : dims.S % 4 === 0;
  return n >= WASM_SUM_MIN && fits ? dims : null;
}

/** Backend.reduce('sum') for a layout sumLayout accepts, in float32; null when the memory cannot hold it. */
export function wasmSum(rt: KernelMemory, x: View, dims: { R: number; C: number; S: number }): Float32Array | null {
  const { R, C, S } = dims;
  const n = R * C * S;
  const p = new Placement(rt, [x.data]);
  const [xAt, accAt] = [p.input(x, n), p.layout.take(8 * Math.max(C, 4))];
  if (!p.ready()) return null;
  const mem = p.mem;
  let sums: Float64Array;
  if (S === 1) {
    sums = new Float64Array(mem.memory.buffer, accAt, C).fill(0);
    sumExports(mem).columnSums(accAt, xAt, R, C);
  } else {
    sums = channelRowSums(mem, xAt, R, C, S, accAt);
  }
  return Float32Array.from(sums);
}
