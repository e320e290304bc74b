/**
 * Packing operands for GPU.js.
 *
 * GPU.js kernels read dense float32 arrays, so every operand is first copied — in one pass
 * on the CPU — into a contiguous row-major Float32Array. That one copy is where arbitrary
 * strides (transposed, permuted, sliced, expanded views), offsets and float64 storage are all
 * dealt with, so no kernel ever sees a stride, and kernels are compiled per shape only, not per
 * stride pattern. A real GPU needs a dense upload anyway; on the CPU modes the copy is O(size)
 * beside an O(size · work) kernel.
 */
import { isContiguous, sizeOf } from '../../tensor/shape.js';
import type { View } from '../../tensor/storage.js';

/** The elements of `view` in row-major order as a new Float32Array (any strides, any dtype). */
export function packFloat32(view: View): Float32Array {
  const { data, shape, strides, offset } = view;
  const size = sizeOf(shape);
  const out = new Float32Array(size);
  if (size === 0) return out;
  if (isContiguous(shape, strides)) {
    // One bulk copy; `set` also converts float64 to float32.
    out.set(data.subarray(offset, offset + size));
    return out;
  }
  const rank = shape.length;
  const inner = shape[rank - 1]!;
  const innerStride = strides[rank - 1]!;
  const index = new Array<number>(rank).fill(0);
  let base = offset;
  let o = 0;
  for (let row = 0; row < size / inner; row++) {
    for (let j = 0, p = base; j < inner; j++, p += innerStride) out[o++] = data[p]!;
    // Odometer over the outer axes.
    for (let d = rank - 2; d >= 0; d--) {
      base += strides[d]!;
      if (++index[d]! < shape[d]!) break;
      base -= strides[d]! * shape[d]!;
      index[d] = 0;
    }
  }
  return out;
}

/** A batched matrix operand, packed as `count` contiguous rows×cols matrices. */
export interface PackedBatch {
  /** The `count` matrices, each row-major and contiguous, one after another. */
  data: Float32Array;
  /** 1 or the batch size. */
  count: number;
  /** 1 if matrix t belongs to batch entry t; 0 if the one matrix serves every batch entry. */
  step: 0 | 1;
}

/**
 * Pack a `[...batch, rows, cols]` operand. When every batch axis is broadcast (stride 0, as
 * for `x @ w` with a weight shared by the batch) the single matrix is packed once and read
 * with step 0 instead of being copied once per batch entry. Partly broadcast batches are
 * packed in full.
 */
export function packBatch(view: View): PackedBatch {
  const rank = view.shape.length;
  const batchStrides = view.strides.slice(0, rank - 2);
  const batchShape = view.shape.slice(0, rank - 2);
  const shared = batchStrides.every((s, d) => s === 0 || batchShape[d] === 1);
  if (shared) {
    const matrix: View = { data: view.data, shape: view.shape.slice(rank - 2), strides: view.strides.slice(rank - 2), offset: view.offset };
    return { data: packFloat32(matrix), count: 1, step: 0 };
  }
  return { data: packFloat32(view), count: sizeOf(batchShape), step: 1 };
}
