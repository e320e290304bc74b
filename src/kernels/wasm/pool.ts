/**
 * Max pooling over 2×2 windows at stride 2 — the pooling of nearly every CNN — on the
 * convolution module (conv-module.ts, `maxPool2x2`): the input copied into the runtime's
 * memory as contiguous planes, the maxima and their indices computed L windows at a time with
 * vector comparisons and bitselects, both copied out.
 *
 * NOTE: the pure-TypeScript loop for this window is bound by branch mispredictions, not by
 * memory: which of four values is the largest is unpredictable, ≈ 2 ns a window on random
 * data, and JavaScript has no select instruction. Here there is no branch, and the two copies
 * cost less than the mispredictions did. Every other window stays on the cpu kernel.
 */
import { allocate, dtypeOf, type TypedArray } from '../../tensor/dtype.js';
import type { Shape } from '../../tensor/shape.js';
import type { View } from '../../tensor/storage.js';
import { isPlain2x2Stride2 } from '../cpu/pool.js';
import { poolOutputShape, type PoolGeometry } from '../geometry.js';
import { convExports } from './conv-module.js';
import { Layout, writeImage } from './conv.js';
import type { WasmRuntime } from './runtime.js';

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
  const values = allocate(dtypeOf(x.data), count);
  values.set(rt.elements().subarray(dst / E, dst / E + count));
  const indices = new Int32Array(count);
  indices.set(new Int32Array(rt.memory.buffer, idx, count));
  return { values, indices };
}
