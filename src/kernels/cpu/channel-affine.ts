/**
 * BatchNorm's eval-mode kernels (issue #17), for x [N, C, …] per channel c (axis 1):
 *
 *   channelAffine:  y = x·s[c] + t[c]          one pass, computed in float64, rounded once
 *   channelSums:    [Σ g·x | Σ g] per channel   one pass over g and x, accumulated in float64
 *   channelAffineBackward: both, g·s and the sums, packed (here two passes; one in wasm)
 *
 * The composite they replace (x·s then + t forward; g·s, Σ g·x and Σ g backward) took two
 * passes forward and four backward, each with its own result array.
 *
 * Inputs are any views whose axes after C merge into one stride (see channelView); outputs are
 * contiguous.
 */
import { allocate, type DType, type TypedArray } from '../../tensor/dtype.js';
import { sizeOf } from '../../tensor/shape.js';
import type { View } from '../../tensor/storage.js';
import { channelValues, channelView } from './batch-norm.js';

/** Backend.channelAffine: y = x·scale[c] + shift[c] (shift null: 0), row-major, of `dtype`. */
export function channelAffine(x: View, scale: View, shift: View | null, dtype: DType): TypedArray {
  const { data, offset, N, C, S, strideN, strideC, strideS } = channelView(x);
  const a = channelValues(scale, C, 1);
  const b = channelValues(shift, C, 0);
  const y = allocate(dtype, N * C * S);
  let o = 0;
  for (let i = 0; i < N; i++) {
    const row = offset + i * strideN;
    // [N, C] (BatchNorm1d after a Linear layer): one value per (sample, channel).
    if (S === 1) {
      for (let c = 0; c < C; c++) y[o++] = data[row + c * strideC]! * a[c]! + b[c]!;
      continue;
    }
    for (let c = 0; c < C; c++) {
      const base = row + c * strideC;
      const ac = a[c]!;
      const bc = b[c]!;
      for (let s = 0; s < S; s++) y[o++] = data[base + s * strideS]! * ac + bc;
    }
  }
  return y;
}

/** Backend.channelSums: [Σ g·x | Σ g] per channel of g and x (one shape), [2C] in float64. */
export function channelSums(g: View, x: View, _dtype: DType): Float64Array {
  const v = channelView(x);
  const w = channelView(g);
  const { N, C, S } = v;
  const sums = new Float64Array(2 * C);
  for (let i = 0; i < N; i++) {
    const xRow = v.offset + i * v.strideN;
    const gRow = w.offset + i * w.strideN;
    if (S === 1) {
      for (let c = 0; c < C; c++) {
        const gv = w.data[gRow + c * w.strideC]!;
        sums[c] += gv * v.data[xRow + c * v.strideC]!;
        sums[C + c] += gv;
      }
      continue;
    }
    for (let c = 0; c < C; c++) {
      const xBase = xRow + c * v.strideC;
      const gBase = gRow + c * w.strideC;
      let gx = 0;
      let gs = 0;
      for (let s = 0; s < S; s++) {
        const gv = w.data[gBase + s * w.strideS]!;
        gx += gv * v.data[xBase + s * v.strideS]!;
        gs += gv;
      }
      sums[c] += gx;
      sums[C + c] += gs;
    }
  }
  return sums;
}

/** Backend.channelAffineBackward: [g·scale[c] (row-major) | Σ g·x | Σ g], packed in `dtype`. */
export function channelAffineBackward(g: View, x: View, scale: View, dtype: DType): TypedArray {
  const total = sizeOf(x.shape);
  const out = allocate(dtype, total + 2 * x.shape[1]!);
  out.set(channelAffine(g, scale, null, dtype));
  out.set(channelSums(g, x, dtype), total);
  return out;
}
