/**
 * Batched matmul (float32 or float64) on the WebAssembly GEMM (gemm.ts).
 *
 * Each batch's A and B are read in place through their strides (a transposed view is just
 * another table), so Aᵀ·B and A·Bᵀ cost the same as A·B. When B is the same matrix for every
 * batch (stride 0 on every batch axis: x @ W with a batched x) the batches are stacked into
 * one tall product, so W is packed once and the micro-kernel sees one large M.
 *
 * `wasmMatmulApplies` says which products belong on this path (not tiny, not matrix-vector);
 * `wasmMatmul` computes any product, and returns null only when it would not fit in the memory.
 * In both cases the backend runs the pure-TypeScript matmul instead.
 */
import { allocate, allocateUnfilled, dtypeOf, type TypedArray } from '../../tensor/dtype.js';
import { sizeOf } from '../../tensor/shape.js';
import type { View } from '../../tensor/storage.js';
import { arithmetic, copyOutContiguous, multiply, stridedMatrix, type GemmRunner, type TableMatrix } from './gemm.js';
import type { WasmRuntime } from './runtime.js';

/**
 * Products of at most this many multiply-adds stay on the pure-TypeScript backend, whose
 * small-product loop has no packing or copy-out to pay for (measured with
 * bench/micro/wasm-crossover.mjs, best of 40: wasm 7–14 % slower at 10³–13³, 18 % faster at
 * 16³, 2.2× faster at 37×53×29, 4× at 64³).
 */
export const SMALL_PRODUCT = 3000;

/** Where every batch's matrix starts, for an operand [...batch, rows, cols] and its strides. */
function batchOffsets(v: View, batchShape: readonly number[]): Int32Array {
  const offsets = new Int32Array(sizeOf(batchShape));
  const index = new Array<number>(batchShape.length).fill(0);
  for (let t = 0; t < offsets.length; t++) {
    let o = v.offset;
    for (let d = 0; d < batchShape.length; d++) o += index[d]! * v.strides[d]!;
    offsets[t] = o;
    for (let d = batchShape.length - 1; d >= 0; d--) {
      if (++index[d]! < batchShape[d]!) break;
      index[d] = 0;
    }
  }
  return offsets;
}

/**
 * Whether a product is worth the wasm path: more multiply-adds per matrix than SMALL_PRODUCT,
 * and not matrix-vector (M or N = 1: each element is used once, so packing buys nothing and
 * a 4×8 tile would be mostly padding; the pure-TypeScript loop handles those).
 */
export function wasmMatmulApplies(a: View, b: View): boolean {
  const rank = a.shape.length;
  const [M, K, N] = [a.shape[rank - 2]!, a.shape[rank - 1]!, b.shape[rank - 1]!];
  return M * N * K > SMALL_PRODUCT && M > 1 && N > 1;
}

/**
 * Backend.matmul on the GEMM module: one product per batch matrix, or one stacked product when
 * every batch shares B. Null when a product does not fit the memory (the caller falls back to cpu).
 */
export function wasmMatmul(rt: WasmRuntime, run: GemmRunner, a: View, b: View): TypedArray | null {
  const rank = a.shape.length;
  const M = a.shape[rank - 2]!;
  const K = a.shape[rank - 1]!;
  const N = b.shape[rank - 1]!;
  const batchShape = a.shape.slice(0, rank - 2);
  const batches = sizeOf(batchShape);
  const dtype = dtypeOf(a.data);
  if (batches * M * N === 0 || K === 0) return allocate(dtype, batches * M * N); // empty sums are 0
  const [ars, acs] = [a.strides[rank - 2]!, a.strides[rank - 1]!];
  const [brs, bcs] = [b.strides[rank - 2]!, b.strides[rank - 1]!];
  const aAt = batchOffsets(a, batchShape);
  const bAt = batchOffsets(b, batchShape);
  const out = allocateUnfilled(dtype, batches * M * N);

  if (batches > 1 && bAt.every((o) => o === bAt[0])) {
    // One B for every batch: stack the batches of A into a (batches·M)×K matrix.
    const rows = new Int32Array(batches * M);
    for (let t = 0; t < batches; t++) for (let i = 0; i < M; i++) rows[t * M + i] = aAt[t]! + i * ars;
    const stacked: TableMatrix = { data: a.data, rows, cols: arithmetic(K, 0, acs) };
    const p = multiply(rt, batches * M, N, K, stacked, stridedMatrix(b.data, bAt[0]!, K, N, brs, bcs), run);
    if (!p) return null;
    copyOutContiguous(rt, p, batches * M, N, out, 0);
    return out;
  }
  for (let t = 0; t < batches; t++) {
    const am = stridedMatrix(a.data, aAt[t]!, M, K, ars, acs);
    const bm = stridedMatrix(b.data, bAt[t]!, K, N, brs, bcs);
    const p = multiply(rt, M, N, K, am, bm, run);
    if (!p) return null;
    copyOutContiguous(rt, p, M, N, out, t * M * N);
  }
  return out;
}
