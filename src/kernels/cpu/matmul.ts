/**
 * Batched matrix product on the CPU: one GEMM (gemm.ts) per batch matrix.
 *
 * Each batch's A and B are read in place through their strides, so transposed views (the
 * Aᵀ·G and G·Bᵀ of every backward pass) and broadcast batches (stride 0: the same matrix
 * for every batch) are multiplied without copies. Results accumulate in float64: a float64
 * output is written by the GEMM directly, a float32 one goes through a float64 scratch
 * matrix and is rounded once at the end.
 */
import { allocate, type DType, type TypedArray } from '../../tensor/dtype.js';
import { sizeOf } from '../../tensor/shape.js';
import type { View } from '../../tensor/storage.js';
import { gemm, type StridedMatrix } from './gemm.js';
import { workspace } from './workspace.js';

/**
 * Up to this many multiply-adds per matrix a plain dot-product loop beats packing (measured
 * with bench/micro/small-crossover.mjs: the loop wins at 5³, the GEMM from 6³ on).
 */
const SMALL_PRODUCT = 160;

/**
 * Backend.matmul: a [...batch, M, K] · b [...batch, K, N], one GEMM per batch matrix (a dot
 * loop for tiny ones), accumulated in float64 and rounded once to `dtype`.
 */
export function matmul(a: View, b: View, dtype: DType): TypedArray {
  const rank = a.shape.length;
  const M = a.shape[rank - 2]!;
  const K = a.shape[rank - 1]!;
  const N = b.shape[rank - 1]!;
  const batchShape = a.shape.slice(0, rank - 2);
  const batches = sizeOf(batchShape);
  const out = allocate(dtype, batches * M * N);
  if (out.length === 0) return out;
  // Matrix·vector and vector·matrix products also take the loop: a 4×3 register tile would be
  // mostly padding there, and each element is used once, so packing buys nothing (the loop
  // measured 15–30 % faster on 1×784×256 and 1000×1000×1).
  const small = M * N * K <= SMALL_PRODUCT || M === 1 || N === 1;
  // float32 results are accumulated in a float64 matrix, rounded once per batch.
  const direct = out instanceof Float64Array;
  const acc = direct ? out : workspace('matmul.c', M * N);
  const batchIdx = new Array<number>(batchShape.length).fill(0);
  for (let t = 0; t < batches; t++) {
    let oa = a.offset;
    let ob = b.offset;
    for (let d = 0; d < batchShape.length; d++) {
      oa += batchIdx[d]! * a.strides[d]!;
      ob += batchIdx[d]! * b.strides[d]!;
    }
    const am: StridedMatrix = { data: a.data, offset: oa, rowStride: a.strides[rank - 2]!, colStride: a.strides[rank - 1]! };
    const bm: StridedMatrix = { data: b.data, offset: ob, rowStride: b.strides[rank - 2]!, colStride: b.strides[rank - 1]! };
    const co = direct ? t * M * N : 0;
    if (small) smallProduct(M, N, K, am, bm, acc, co);
    else gemm(M, N, K, am, bm, acc, co, N, 1, false);
    if (!direct) out.set(acc.subarray(0, M * N), t * M * N);
    // Advance the batch odometer.
    for (let d = batchShape.length - 1; d >= 0; d--) {
      if (++batchIdx[d]! < batchShape[d]!) break;
      batchIdx[d] = 0;
    }
  }
  return out;
}

/** C = A·B for tiny matrices: one strided dot product per entry, no packing. */
function smallProduct(M: number, N: number, K: number, a: StridedMatrix, b: StridedMatrix, c: Float64Array, co: number): void {
  const ad = a.data;
  const bd = b.data;
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      let ia = a.offset + i * a.rowStride;
      let ib = b.offset + j * b.colStride;
      for (let p = 0; p < K; p++, ia += a.colStride, ib += b.rowStride) s += ad[ia]! * bd[ib]!;
      c[co + i * N + j] = s;
    }
  }
}
