/**
 * Batched matrix product on the CPU.
 *
 * Each operand matrix is first packed into a contiguous row-major Float64Array (reading any
 * strides, so a transposed view costs one pass instead of a materialised copy), then an
 * i-k-j loop accumulates rows of C in float64. Packing makes the inner loop unit-stride for
 * every layout. This is the simple reference kernel; the packed, register-blocked kernel of
 * the performance work plugs in behind the same signature.
 */
import { allocate, type DType, type TypedArray } from '../../tensor/dtype.js';
import { sizeOf } from '../../tensor/shape.js';
import type { View } from '../../tensor/storage.js';

/** Copy the rows×cols matrix starting at `offset` with strides (rs, cs) into row-major `dst`. */
function pack(src: View, offset: number, rows: number, cols: number, rs: number, cs: number, dst: Float64Array): void {
  const data = src.data;
  let k = 0;
  for (let i = 0; i < rows; i++) {
    let o = offset + i * rs;
    for (let j = 0; j < cols; j++, o += cs) dst[k++] = data[o]!;
  }
}

export function matmul(a: View, b: View, dtype: DType): TypedArray {
  const rank = a.shape.length;
  const M = a.shape[rank - 2]!;
  const K = a.shape[rank - 1]!;
  const N = b.shape[rank - 1]!;
  const batchShape = a.shape.slice(0, rank - 2);
  const batches = sizeOf(batchShape);
  const out = allocate(dtype, batches * M * N);
  const pa = new Float64Array(M * K);
  const pb = new Float64Array(K * N);
  const row = new Float64Array(N);
  const batchIdx = new Array<number>(batchShape.length).fill(0);
  for (let t = 0; t < batches; t++) {
    let oa = a.offset;
    let ob = b.offset;
    for (let d = 0; d < batchShape.length; d++) {
      oa += batchIdx[d]! * a.strides[d]!;
      ob += batchIdx[d]! * b.strides[d]!;
    }
    pack(a, oa, M, K, a.strides[rank - 2]!, a.strides[rank - 1]!, pa);
    pack(b, ob, K, N, b.strides[rank - 2]!, b.strides[rank - 1]!, pb);
    const base = t * M * N;
    for (let i = 0; i < M; i++) {
      row.fill(0);
      for (let k = 0; k < K; k++) {
        const aik = pa[i * K + k]!;
        const bk = k * N;
        for (let j = 0; j < N; j++) row[j] += aik * pb[bk + j]!;
      }
      for (let j = 0; j < N; j++) out[base + i * N + j] = row[j]!;
    }
    for (let d = batchShape.length - 1; d >= 0; d--) {
      if (++batchIdx[d]! < batchShape[d]!) break;
      batchIdx[d] = 0;
    }
  }
  return out;
}
