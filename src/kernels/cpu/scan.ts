/**
 * Scans (inclusive prefix operations) along one axis, for cumsum, logcumsumexp and the
 * first-order linear recurrence behind cumprod and prod.
 *
 * Each kernel walks the lines of the input along `axis` — one line per position of the other
 * axes, found with an odometer — and runs the recurrence down the line (from the end when
 * `reverse`), accumulating in float64 whatever the storage dtype and storing each prefix
 * rounded to it. Inputs are strided views (a stride-0 coefficient view costs nothing);
 * outputs are contiguous, of the input's shape.
 */
import { allocate, type DType, type TypedArray } from '../../tensor/dtype.js';
import { contiguousStrides, sizeOf } from '../../tensor/shape.js';
import type { View } from '../../tensor/storage.js';
import type { ScanFn } from '../backend.js';

/**
 * log(eᵃ + eᵇ) with the larger argument factored out: m + log1p(e^(−|a − b|)), so neither
 * ±800 offsets overflow nor far-apart values underflow. −∞ is the identity; ∞ absorbs
 * everything but NaN.
 */
function logAddExp(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  // With a NaN operand neither comparison holds and the NaN reaches the result through m or d.
  const m = a > b ? a : b;
  if (m === Infinity && a === a && b === b) return Infinity;
  const d = a > b ? b - a : a - b;
  return m + Math.log1p(Math.exp(d));
}

/**
 * Visit every line along `axis`: `visit(offsets)` gets, for each view, the index in its data
 * of the line's first element (position 0 along the axis).
 */
function forEachLine(shape: readonly number[], axis: number, views: readonly { offset: number; strides: readonly number[] }[], visit: (bases: number[]) => void): void {
  const kept = shape.map((_, d) => d).filter((d) => d !== axis);
  const lines = sizeOf(kept.map((d) => shape[d]!));
  const idx = new Array<number>(kept.length).fill(0);
  const bases = views.map((v) => v.offset);
  for (let line = 0; line < lines; line++) {
    visit(bases);
    for (let k = kept.length - 1; k >= 0; k--) {
      const d = kept[k]!;
      if (++idx[k]! < shape[d]!) {
        views.forEach((v, i) => (bases[i]! += v.strides[d]!));
        break;
      }
      idx[k] = 0;
      views.forEach((v, i) => (bases[i]! -= (shape[d]! - 1) * v.strides[d]!));
    }
  }
}

/** The output's layout: contiguous strides of x's shape, as a view-like offset/strides pair. */
function outputLayout(shape: readonly number[]): { offset: number; strides: readonly number[] } {
  return { offset: 0, strides: contiguousStrides(shape) };
}

/**
 * Backend.scan: 'sum' gives out[k] = Σ_{j ≤ k} x[j], 'logaddexp' gives out[k] = log Σ_{j ≤ k} exp x[j]
 * with a running maximum (stable for any magnitude); j ≥ k instead when `reverse`.
 */
export function scan(fn: ScanFn, x: View, axis: number, reverse: boolean, dtype: DType): TypedArray {
  const out = allocate(dtype, sizeOf(x.shape));
  const n = x.shape[axis]!;
  if (out.length === 0) return out;
  const layout = outputLayout(x.shape);
  const xs = x.strides[axis]!;
  const os = layout.strides[axis]!;
  const first = reverse ? n - 1 : 0;
  const step = reverse ? -1 : 1;
  const data = x.data;
  // The choice of fn is made per line, not per element: one tight loop each.
  const sum = fn === 'sum';
  forEachLine(x.shape, axis, [x, layout], ([xb, ob]) => {
    let acc = sum ? 0 : -Infinity;
    if (sum) for (let k = first, i = 0; i < n; i++, k += step) out[ob! + k * os] = acc += data[xb! + k * xs]!;
    else for (let k = first, i = 0; i < n; i++, k += step) out[ob! + k * os] = acc = logAddExp(acc, data[xb! + k * xs]!);
  });
  return out;
}

/**
 * Backend.linearScan: the first-order linear recurrence h[k] = a[k]·h[k−1] + b[k] with
 * h[−1] = 0 along `axis` (h[k] = a[k]·h[k+1] + b[k], h[n] = 0, when `reverse`); a and b have
 * one shape.
 */
export function linearScan(a: View, b: View, axis: number, reverse: boolean, dtype: DType): TypedArray {
  const out = allocate(dtype, sizeOf(b.shape));
  const n = b.shape[axis]!;
  if (out.length === 0) return out;
  const layout = outputLayout(b.shape);
  const as = a.strides[axis]!;
  const bs = b.strides[axis]!;
  const os = layout.strides[axis]!;
  const first = reverse ? n - 1 : 0;
  const step = reverse ? -1 : 1;
  forEachLine(b.shape, axis, [a, b, layout], ([ab, bb, ob]) => {
    let h = 0;
    for (let i = 0, k = first; i < n; i++, k += step) {
      // The first step never reads a: h[−1] = 0, so 0·a stays 0 even for an infinite a.
      h = i === 0 ? b.data[bb! + k * bs]! : a.data[ab! + k * as]! * h + b.data[bb! + k * bs]!;
      out[ob! + k * os] = h;
    }
  });
  return out;
}
