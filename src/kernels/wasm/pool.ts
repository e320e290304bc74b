/**
 * Max pooling over 2×2 windows at stride 2 — the pooling of nearly every CNN — on the
 * convolution module (conv-module.ts, `maxPool2x2`): the input copied into the runtime's
 * memory as contiguous planes, the maxima and their indices computed L windows at a time with
 * vector comparisons and bitselects, both copied out. Its backward, for any window, is a
 * scatter-add of the output gradient to the winners' positions on a module of its own here
 * (`scatterPlanes`): the same float32 additions in the same order as the cpu loop, without
 * JavaScript's per-element float conversions (≈ 4 ns a number there on LeNet-5's pooling); its
 * gradient and result are used in place where they are resident tensors (placement.ts).
 *
 * NOTE: the pure-TypeScript loop for this window is bound by branch mispredictions, not by
 * memory: which of four values is the largest is unpredictable, ≈ 2 ns a window on random
 * data, and JavaScript has no select instruction. Here there is no branch, and the two copies
 * cost less than the mispredictions did. Every other window stays on the cpu kernel.
 */
import { allocateUnfilled, dtypeOf, type TypedArray } from '../../tensor/dtype.js';
import { isContiguous, type Shape } from '../../tensor/shape.js';
import type { View } from '../../tensor/storage.js';
import { isPlain2x2Stride2 } from '../cpu/pool.js';
import { poolOutputShape, type PoolGeometry } from '../geometry.js';
import { convExports } from './conv-module.js';
import { Layout, writeImage } from './conv.js';
import { FunctionBuilder, I32 } from './emitter.js';
import { Placement } from './placement.js';
import { kernelModule, type KernelMemory, type WasmRuntime } from './runtime.js';

/** Whether the wasm kernel takes this pooling: 2×2 windows, stride 2, no padding or dilation, something to pool. */
export function wasmMaxPoolApplies(xShape: Shape, g: PoolGeometry): boolean {
  return isPlain2x2Stride2(g) && xShape[0]! * xShape[1]! > 0;
}

/**
 * Backend.maxPool2d for a window wasmMaxPoolApplies accepts; null when the memory cannot hold
 * the call (the caller falls back to cpu). Same values and indices as the cpu kernel.
 */
export function wasmMaxPool2d(
  rt: WasmRuntime,
  x: View,
  g: PoolGeometry,
): {
  /** The maxima, [N, C, Ho, Wo]. */
  values: TypedArray;
  /** The flat in-plane index of each maximum. */
  indices: Int32Array;
} | null {
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const [, , Ho, Wo] = poolOutputShape(x.shape, g) as [number, number, number, number];
  const E = rt.elementBytes;
  const planes = N * C;
  const count = planes * Ho * Wo;
  const layout = new Layout();
  const src = layout.take(E * planes * H * W);
  const dst = layout.take(E * count);
  const idx = layout.take(4 * count);
  if (!rt.reserve(layout.end)) return null;
  writeImage(rt.elements(), src / E, x, 0, 0);
  convExports(rt).maxPool2x2(dst, idx, src, planes, H, W, Ho, Wo);
  const values = allocateUnfilled(dtypeOf(x.data), count);
  values.set(rt.elements().subarray(dst / E, dst / E + count));
  const indices = allocateUnfilled('int32', count) as Int32Array;
  indices.set(new Int32Array(rt.memory.buffer, idx, count));
  return { values, indices };
}

/**
 * `scatterPlanes(out, g, idx, planes, L, HW) → 0 | 1`: for each of `planes` planes of HW float32
 * at out, out[idx[j]] += g[j] for the plane's L gradients g and int32 indices idx (all
 * contiguous, byte addresses); 1, with the memory half-written, at the first index outside
 * [0, HW).
 */
function emitScatterPlanes(): FunctionBuilder {
  const f = new FunctionBuilder('scatterPlanes', [I32, I32, I32, I32, I32, I32], [I32]);
  const [out, g, idx, planes, L, HW] = [0, 1, 2, 3, 4, 5];
  const [j, i, at] = [f.local(I32), f.local(I32), f.local(I32)];
  const raw = (...bytes: number[]) => f.bytes.push(...bytes);
  f.countedLoop(planes, () => {
    f.localGet(L).localSet(j);
    f.countedLoop(j, () => {
      f.localGet(idx);
      raw(0x28, 2, 0); // i32.load
      f.localTee(i).localGet(HW);
      raw(0x4f); // i32.ge_u: also catches a negative index
      f.if().i32Const(1).return().end();
      f.localGet(out).localGet(i).i32Const(2);
      raw(0x74); // i32.shl
      f.i32Add().localTee(at).localGet(at).f32Load().localGet(g).f32Load().f32Add().f32Store();
      f.bump(idx, 4);
      f.bump(g, 4);
    });
    f.localGet(out).localGet(HW).i32Const(2);
    raw(0x74);
    f.i32Add().localSet(out);
  });
  f.i32Const(0);
  return f;
}

interface ScatterExports {
  scatterPlanes(out: number, g: number, idx: number, planes: number, L: number, HW: number): number;
}

const scatterInstances = new WeakMap<KernelMemory, ScatterExports>();
const scatterExports = (rt: KernelMemory) => kernelModule(scatterInstances, rt, () => [emitScatterPlanes()]);

/** Whether the wasm scatter takes this backward: float32, gy and indices contiguous, something to scatter. */
export function wasmMaxPoolBackwardApplies(gy: View, indices: View, dtype: string): boolean {
  const contiguous = isContiguous(gy.shape, gy.strides) && isContiguous(indices.shape, indices.strides);
  return dtype === 'float32' && gy.data instanceof Float32Array && gy.shape[0]! * gy.shape[1]! > 0 && contiguous;
}

/**
 * Backend.maxPool2dBackward for a call wasmMaxPoolBackwardApplies accepts: zeros of inputShape
 * with gy added at the winners; null when the memory cannot hold it or an index is out of
 * range (the cpu kernel then runs, and throws the ValueError that names it).
 */
export function wasmMaxPool2dBackward(rt: KernelMemory, gy: View, indices: View, inputShape: Shape): Float32Array | null {
  const [N, C, H, W] = inputShape as [number, number, number, number];
  const planes = N * C;
  const count = gy.shape[2]! * gy.shape[3]!;
  const out = allocateUnfilled('float32', planes * H * W) as Float32Array;
  const p = new Placement(rt, [gy.data, out]);
  const [outAt, gAt, idxAt] = [p.output(out), p.input(gy, planes * count), p.layout.take(4 * planes * count)];
  if (!p.ready()) return null;
  const mem = p.mem;
  (mem.elements() as Float32Array).fill(0, outAt / 4, outAt / 4 + planes * H * W);
  new Int32Array(mem.memory.buffer, idxAt, planes * count).set(indices.data.subarray(indices.offset, indices.offset + planes * count));
  if (scatterExports(mem).scatterPlanes(outAt, gAt, idxAt, planes, count, H * W) !== 0) return null;
  p.finish();
  return out;
}
