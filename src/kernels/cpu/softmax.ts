/**
 * Fused softmax along one axis of the CPU backend, and its gradient: one kernel each way
 * instead of the composite's max, shift, exp, sum and divide (five passes over the tensor
 * forward, more backward).
 *
 * The tensor is walked line by line along the axis (any strides; a contiguous tensor reduced
 * along its last axis reads each line as one run). Each line is shifted by its maximum m,
 * computed as `reduce('max')` computes it (NaN wins) and replaced by 0 when it is not finite,
 * exactly as the composite's stopGradientMax does, so a NaN spreads over its line and a line
 * of −∞ gives NaN (0/0) as before. Everything is computed in float64 and rounded once; the
 * sum of exponentials accumulates in line order. In float64 the output is therefore the
 * composite's e^(x − m) / Σ e^(x − m), bit for bit (where its sum runs in the same order).
 */
import { allocate, type DType, type TypedArray } from '../../tensor/dtype.js';
import type { View } from '../../tensor/storage.js';

/** The number of elements of one slice after `axis`: the output's step along it. */
function sizeAfter(shape: readonly number[], axis: number): number {
  let size = 1;
  for (let d = axis + 1; d < shape.length; d++) size *= shape[d]!;
  return size;
}

/**
 * The index in `v.data` of the first element of every line along `axis` of a tensor of v's
 * shape, lines in row-major order of the other axes: line L = o·inner + i (o over the axes
 * before `axis`, i over those after it), whose output starts at o·n·inner + i.
 */
function lineStarts(v: View, axis: number): number[] {
  const { shape, strides } = v;
  const inner = sizeAfter(shape, axis);
  let outer = 1;
  for (let d = 0; d < axis; d++) outer *= shape[d]!;
  const starts: number[] = [];
  for (let line = 0; line < outer * inner; line++) {
    // The line's multi-index (every axis but `axis`), mapped through the strides.
    let base = v.offset;
    let r = line;
    for (let d = shape.length - 1; d >= 0; d--) {
      if (d === axis) continue;
      const k = r % shape[d]!;
      r = (r - k) / shape[d]!;
      base += k * strides[d]!;
    }
    starts.push(base);
  }
  return starts;
}

/**
 * Backend.softmax: out = e^(x − m) / Σ e^(x − m) along `axis`, m the line's maximum (0 where
 * that is not finite); contiguous, x's shape.
 */
export function softmax(x: View, axis: number, dtype: DType): TypedArray {
  const n = x.shape[axis]!;
  const inner = sizeAfter(x.shape, axis);
  const out = allocate(dtype, x.shape.reduce((p, d) => p * d, 1), 'softmax');
  const data = x.data;
  const step = x.strides[axis]!;
  const e = new Float64Array(n);
  const starts = lineStarts(x, axis);
  for (let line = 0; line < starts.length; line++) {
    const xb = starts[line]!;
    const i = line % inner;
    const ob = (line - i) * n + i;
    let m = -Infinity;
    for (let j = 0, p = xb; j < n; j++, p += step) {
      const v = data[p]!;
      if (v > m || v !== v) m = v;
    }
    if (m - m !== 0) m = 0;
    let sum = 0;
    for (let j = 0, p = xb; j < n; j++, p += step) {
      const v = Math.exp(data[p]! - m);
      e[j] = v;
      sum += v;
    }
    for (let j = 0, q = ob; j < n; j++, q += inner) out[q] = e[j]! / sum;
  }
  return out;
}

/**
 * Backend.softmaxBackward: out = y·(g − Σ g·y) along `axis` for y = softmax(x) and its
 * cotangent g (one shape, any strides; g is often a broadcast); the sum accumulates in
 * float64; contiguous, y's shape.
 */
export function softmaxBackward(y: View, g: View, axis: number, dtype: DType): TypedArray {
  const n = y.shape[axis]!;
  const inner = sizeAfter(y.shape, axis);
  const out = allocate(dtype, y.shape.reduce((p, d) => p * d, 1), 'softmaxBackward');
  const yd = y.data;
  const gd = g.data;
  const ys = y.strides[axis]!;
  const gs = g.strides[axis]!;
  const yStarts = lineStarts(y, axis);
  const gStarts = lineStarts(g, axis);
  const unit = inner === 1 && ys === 1 && gs === 1;
  for (let line = 0; line < yStarts.length; line++) {
    const yb = yStarts[line]!;
    const gb = gStarts[line]!;
    const i = line % inner;
    const ob = (line - i) * n + i;
    let s = 0;
    if (unit) {
      // The attention case: both operands and the output walk the line contiguously.
      for (let j = 0; j < n; j++) s += gd[gb + j]! * yd[yb + j]!;
      for (let j = 0; j < n; j++) out[ob + j] = yd[yb + j]! * (gd[gb + j]! - s);
    } else {
      for (let j = 0, p = yb, r = gb; j < n; j++, p += ys, r += gs) s += gd[r]! * yd[p]!;
      for (let j = 0, p = yb, r = gb, q = ob; j < n; j++, p += ys, r += gs, q += inner) out[q] = yd[p]! * (gd[r]! - s);
    }
  }
  return out;
}
