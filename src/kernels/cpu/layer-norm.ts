/**
 * LayerNorm's kernels: the normalization of every row, and its gradient, each in one kernel
 * instead of the ≈8 forward and ≈20 backward elementwise and reduction passes of the composite.
 *
 * x is seen as rows of n values (the flattened last k axes). Per row, in float64:
 *   μ = Σx / n,  σ² = Σ(x − μ)² / n (biased, two passes: no cancellation when |μ| ≫ σ),
 *   r = 1/√(σ² + ε),  x̂ = (x − μ)·r.
 *
 * - forward:  y = x̂·γ + β (γ, β of n values each, optional).
 * - backward: ∂/∂x = r (h − Σh/n − x̂·Σh x̂/n) with h = γ·g for the output gradient g, and,
 *   with γ, ∂/∂γ = Σ g x̂ and ∂/∂β = Σ g over the rows in the same pass, packed after ∂/∂x. μ
 *   and r are recomputed by the very same loop (one op has one output, so none are kept).
 *
 * A row is cache-sized in practice (the model width), so the extra passes over it are cheap.
 * Inputs that are not contiguous (a permuted view, a broadcast gradient) are copied to a
 * contiguous float64 array first. Outputs are contiguous in the requested dtype.
 */
import { allocate, type DType, type TypedArray } from '../../tensor/dtype.js';
import { contiguousStrides, isContiguous, sizeOf } from '../../tensor/shape.js';
import type { View } from '../../tensor/storage.js';
import { copyInto } from './elementwise.js';

/** x's data and the offset of its first value, copied to contiguous float64 when strided. */
function rows(x: View): [TypedArray, number] {
  if (isContiguous(x.shape, x.strides)) return [x.data, x.offset];
  const copy: View = { data: new Float64Array(sizeOf(x.shape)), shape: x.shape, strides: contiguousStrides(x.shape), offset: 0 };
  copyInto(x, copy);
  return [copy.data, 0];
}

/** γ or β (a view of the normalized shape) as n float64 values; null stays null. */
function rowParameter(v: View | null): Float64Array | null {
  if (!v) return null;
  const [data, offset] = rows(v);
  return Float64Array.from(data.subarray(offset, offset + sizeOf(v.shape)));
}

/** μ and r = 1/√(σ² + ε) of the row of n values at xb: two passes, in float64. */
function moments(data: TypedArray, xb: number, n: number, eps: number): [number, number] {
  const end = xb + n;
  let s = 0;
  for (let j = xb; j < end; j++) s += data[j]!;
  const mu = s / n;
  let q = 0;
  for (let j = xb; j < end; j++) {
    const d = data[j]! - mu;
    q += d * d;
  }
  return [mu, 1 / Math.sqrt(q / n + eps)];
}

/**
 * Backend.layerNormForward: y = (x − μ)/√(σ² + ε)·γ + β per row of the last n values of x,
 * γ and β views of n values or null (1 and 0).
 */
export function layerNormForward(x: View, weight: View | null, bias: View | null, n: number, eps: number, dtype: DType): TypedArray {
  const [data, offset] = rows(x);
  const w = rowParameter(weight);
  const b = rowParameter(bias);
  const total = sizeOf(x.shape);
  const y = allocate(dtype, total);
  for (let base = 0; base < total; base += n) {
    const xb = offset + base;
    const [mu, r] = moments(data, xb, n, eps);
    if (w && b) {
      for (let j = 0; j < n; j++) y[base + j] = (data[xb + j]! - mu) * r * w[j]! + b[j]!;
    } else {
      for (let j = 0; j < n; j++) y[base + j] = (data[xb + j]! - mu) * r * (w ? w[j]! : 1) + (b ? b[j]! : 0);
    }
  }
  return y;
}

/**
 * Backend.layerNormBackward: for the output gradient gy (x's shape) and h = γ·gy,
 * ∂/∂x = r (h − Σh/n − x̂·Σh x̂/n) per row; with `weight` given, packed with
 * ∂/∂γ = Σ gy x̂ and ∂/∂β = Σ gy (sums over the rows, n values each) after it.
 */
export function layerNormBackward(x: View, gy: View, weight: View | null, n: number, eps: number, dtype: DType): TypedArray {
  const [data, offset] = rows(x);
  const [gd, gOffset] = rows(gy);
  const w = rowParameter(weight);
  const total = sizeOf(x.shape);
  const out = allocate(dtype, total + (w ? 2 * n : 0));
  const dw = new Float64Array(n);
  const db = new Float64Array(n);
  for (let base = 0; base < total; base += n) {
    const xb = offset + base;
    const gb = gOffset + base;
    const [mu, r] = moments(data, xb, n, eps);
    let sh = 0;
    let shx = 0;
    for (let j = 0; j < n; j++) {
      const g = gd[gb + j]!;
      const d = data[xb + j]! - mu;
      const h = w ? g * w[j]! : g;
      sh += h;
      shx += h * d;
      if (w) {
        dw[j] += g * d * r;
        db[j] += g;
      }
    }
    const mh = sh / n;
    // x̂·Σh x̂/n = (x − μ)·r²·Σh(x − μ)/n.
    const c = r * r * (shx / n);
    if (w) {
      for (let j = 0; j < n; j++) out[base + j] = r * (gd[gb + j]! * w[j]! - mh - (data[xb + j]! - mu) * c);
    } else {
      for (let j = 0; j < n; j++) out[base + j] = r * (gd[gb + j]! - mh - (data[xb + j]! - mu) * c);
    }
  }
  if (w) {
    out.set(dw, total);
    out.set(db, total + n);
  }
  return out;
}
