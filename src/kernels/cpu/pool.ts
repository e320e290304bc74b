/**
 * Max and average pooling on the CPU (NCHW), forward and average-pool backward. The max-pool
 * gradient needs no kernel of its own: autograd routes it with scatterAdd through the indices.
 *
 * All three walk the same loop nest: every (image, channel) plane, every output position, and
 * the window's taps that fall inside the input. Which taps those are depends only on the output
 * row (for kh) and column (for kw), so the ranges are computed once per call; the loops then
 * do no bounds tests and no index decoding per element.
 */
import { allocate, type DType, type TypedArray } from '../../tensor/dtype.js';
import { sizeOf, type Shape } from '../../tensor/shape.js';
import type { View } from '../../tensor/storage.js';
import { poolOutputShape, type AvgPoolGeometry, type PoolGeometry } from '../geometry.js';

/**
 * For each output position o of one axis, the taps k in [lo[o], hi[o]) whose input position
 * o·stride − padding + k·dilation lies inside [0, size).
 */
interface WindowRanges {
  lo: Int32Array;
  hi: Int32Array;
}

function windowRanges(count: number, kernel: number, stride: number, padding: number, dilation: number, size: number): WindowRanges {
  const lo = new Int32Array(count);
  const hi = new Int32Array(count);
  for (let o = 0; o < count; o++) {
    const start = o * stride - padding;
    lo[o] = start >= 0 ? 0 : Math.min(kernel, Math.ceil(-start / dilation));
    hi[o] = Math.max(lo[o]!, Math.min(kernel, Math.floor((size - 1 - start) / dilation) + 1));
  }
  return { lo, hi };
}

/** Sizes, strides and tap ranges of one pooling call. */
interface PoolPlan {
  planes: number;
  C: number;
  H: number;
  W: number;
  Ho: number;
  Wo: number;
  rows: WindowRanges;
  cols: WindowRanges;
}

function planPool(shape: Shape, g: PoolGeometry): PoolPlan {
  const [N, C, H, W] = shape as [number, number, number, number];
  const [, , Ho, Wo] = poolOutputShape(shape, g) as [number, number, number, number];
  return {
    planes: N * C,
    C, H, W, Ho, Wo,
    rows: windowRanges(Ho, g.kernel[0], g.stride[0], g.padding[0], g.dilation[0], H),
    cols: windowRanges(Wo, g.kernel[1], g.stride[1], g.padding[1], g.dilation[1], W),
  };
}

// NOTE: the loops below copy every size and range array into a local first. Stores into a
// typed array could alias any other typed array as far as V8 knows, so a property read such as
// `p.rows.lo` inside the loop would be repeated at every step.

/** Offset of plane (n, c) of a view, for the flat plane number n·C + c. */
function planeOffset(v: View, plane: number, C: number): number {
  const n = Math.floor(plane / C);
  return v.offset + n * v.strides[0]! + (plane - n * C) * v.strides[1]!;
}

/** Backend.maxPool2d: each window's maximum and the flat in-plane index of its first occurrence. */
export function maxPool2d(
  x: View,
  g: PoolGeometry,
  dtype: DType,
): {
  /** The maxima, [N, C, Ho, Wo]. */
  values: TypedArray;
  /** The flat index h·W + w of each maximum within its (n, c) plane of x. */
  indices: Int32Array;
} {
  const p = planPool(x.shape, g);
  const values = allocate(dtype, p.planes * p.Ho * p.Wo);
  const indices = new Int32Array(values.length);
  const [kh, kw] = g.kernel;
  if (kh === 2 && kw === 2 && g.padding[0] === 0 && g.padding[1] === 0 && g.dilation[0] === 1 && g.dilation[1] === 1) {
    maxPool2x2(x, p, g.stride[0], g.stride[1], values, indices);
  } else {
    maxPoolAnyWindow(x, p, g, values, indices);
  }
  return { values, indices };
}

/**
 * The common 2×2 window without padding: four loads and three comparisons, no inner loops
 * (≈ 2–4× faster than the general loop, whose cost for tiny windows is loop control).
 */
function maxPool2x2(x: View, p: PoolPlan, sh: number, sw: number, values: TypedArray, indices: Int32Array): void {
  const xd = x.data;
  const hs = x.strides[2]!;
  const ws = x.strides[3]!;
  const { planes, C, W, Ho, Wo } = p;
  let o = 0;
  for (let plane = 0; plane < planes; plane++) {
    const base = planeOffset(x, plane, C);
    for (let oh = 0; oh < Ho; oh++) {
      const h = oh * sh;
      for (let ow = 0; ow < Wo; ow++, o++) {
        const w = ow * sw;
        const s = base + h * hs + w * ws;
        // Same rule as the general loop: larger or NaN replaces, the first NaN stays.
        let best = xd[s]!;
        let at = 0;
        const b = xd[s + ws]!;
        if (!(b <= best) && best === best) {
          best = b;
          at = 1;
        }
        const c = xd[s + hs]!;
        if (!(c <= best) && best === best) {
          best = c;
          at = W;
        }
        const d = xd[s + hs + ws]!;
        if (!(d <= best) && best === best) {
          best = d;
          at = W + 1;
        }
        values[o] = best;
        indices[o] = h * W + w + at;
      }
    }
  }
}

function maxPoolAnyWindow(x: View, p: PoolPlan, g: PoolGeometry, values: TypedArray, indices: Int32Array): void {
  const xd = x.data;
  const hs = x.strides[2]!;
  const ws = x.strides[3]!;
  const [sh, sw] = g.stride;
  const [ph, pw] = g.padding;
  const [dh, dw] = g.dilation;
  const { planes, C, W, Ho, Wo } = p;
  const { lo: khFirst, hi: khEnd } = p.rows;
  const { lo: kwFirst, hi: kwEnd } = p.cols;
  let o = 0;
  for (let plane = 0; plane < planes; plane++) {
    const base = planeOffset(x, plane, C);
    for (let oh = 0; oh < Ho; oh++) {
      const h0 = oh * sh - ph;
      const khLo = khFirst[oh]!;
      const khHi = khEnd[oh]!;
      for (let ow = 0; ow < Wo; ow++, o++) {
        const w0 = ow * sw - pw;
        const kwLo = kwFirst[ow]!;
        const kwHi = kwEnd[ow]!;
        // Implicit −∞ padding; index 0 if nothing beats it (as the reference does).
        let best = -Infinity;
        let bestIndex = 0;
        window: for (let kh = khLo; kh < khHi; kh++) {
          const h = h0 + kh * dh;
          for (let kw = kwLo; kw < kwHi; kw++) {
            const w = w0 + kw * dw;
            const v = xd[base + h * hs + w * ws]!;
            // One comparison per element: true for a larger value and for NaN. NaN wins, as
            // in PyTorch, and the first NaN ends the window; otherwise the first maximum.
            if (!(v <= best)) {
              best = v;
              bestIndex = h * W + w;
              if (v !== v) break window;
            }
          }
        }
        values[o] = best;
        indices[o] = bestIndex;
      }
    }
  }
}

/**
 * The divisor of each output position (the same for every plane): kh·kw with countIncludePad
 * (PyTorch counts padded positions, but not those beyond the padded input), else the number of
 * window positions inside the input.
 *
 * NOTE: the avgPool2d op always passes dilation 1 (PyTorch's avg_pool2d has none). Should a
 * caller pass another, the window honours it but the divisor counts the undilated window, as
 * the direct-loop reference in test/reference/conv-pool.ts does.
 */
function windowCounts(p: PoolPlan, g: AvgPoolGeometry): Float64Array {
  const counts = new Float64Array(p.Ho * p.Wo);
  const span = (o: number, stride: number, padding: number, kernel: number, size: number) => {
    const start = o * stride - padding;
    if (g.countIncludePad) return Math.min(start + kernel, size + padding) - start;
    return Math.max(0, Math.min(start + kernel, size) - Math.max(start, 0));
  };
  for (let oh = 0; oh < p.Ho; oh++) {
    const rows = span(oh, g.stride[0], g.padding[0], g.kernel[0], p.H);
    for (let ow = 0; ow < p.Wo; ow++) counts[oh * p.Wo + ow] = rows * span(ow, g.stride[1], g.padding[1], g.kernel[1], p.W);
  }
  return counts;
}

/** Backend.avgPool2d: each window's mean (zero padding; divisor as `countIncludePad` says). */
export function avgPool2d(x: View, g: AvgPoolGeometry, dtype: DType): TypedArray {
  const p = planPool(x.shape, g);
  const counts = windowCounts(p, g);
  const out = allocate(dtype, p.planes * p.Ho * p.Wo);
  const xd = x.data;
  const hs = x.strides[2]!;
  const ws = x.strides[3]!;
  const [sh, sw] = g.stride;
  const [ph, pw] = g.padding;
  const [dh, dw] = g.dilation;
  const { planes, C, Ho, Wo } = p;
  const { lo: khFirst, hi: khEnd } = p.rows;
  const { lo: kwFirst, hi: kwEnd } = p.cols;
  let o = 0;
  for (let plane = 0; plane < planes; plane++) {
    const base = planeOffset(x, plane, C);
    for (let oh = 0, q = 0; oh < Ho; oh++) {
      const h0 = oh * sh - ph;
      const khLo = khFirst[oh]!;
      const khHi = khEnd[oh]!;
      for (let ow = 0; ow < Wo; ow++, o++, q++) {
        const w0 = ow * sw - pw;
        const kwLo = kwFirst[ow]!;
        const kwHi = kwEnd[ow]!;
        let sum = 0;
        for (let kh = khLo; kh < khHi; kh++) {
          let s = base + (h0 + kh * dh) * hs + (w0 + kwLo * dw) * ws;
          for (let kw = kwLo; kw < kwHi; kw++, s += dw * ws) sum += xd[s]!;
        }
        out[o] = sum / counts[q]!;
      }
    }
  }
  return out;
}

/** Backend.avgPool2dBackward: each gy element divided by its window's divisor and added onto the window's taps. */
export function avgPool2dBackward(gy: View, inputShape: Shape, g: AvgPoolGeometry, dtype: DType): TypedArray {
  const p = planPool(inputShape, g);
  const counts = windowCounts(p, g);
  // Accumulate in float64 (windows overlap when stride < kernel), round once at the end.
  const acc = new Float64Array(sizeOf(inputShape));
  const gd = gy.data;
  const gh = gy.strides[2]!;
  const gw = gy.strides[3]!;
  const [sh, sw] = g.stride;
  const [ph, pw] = g.padding;
  const [dh, dw] = g.dilation;
  const { planes, C, H, W, Ho, Wo } = p;
  const { lo: khFirst, hi: khEnd } = p.rows;
  const { lo: kwFirst, hi: kwEnd } = p.cols;
  for (let plane = 0; plane < planes; plane++) {
    const base = planeOffset(gy, plane, C);
    const inPlane = plane * H * W;
    for (let oh = 0, q = 0; oh < Ho; oh++) {
      const h0 = oh * sh - ph;
      const khLo = khFirst[oh]!;
      const khHi = khEnd[oh]!;
      for (let ow = 0; ow < Wo; ow++, q++) {
        const w0 = ow * sw - pw;
        const kwLo = kwFirst[ow]!;
        const kwHi = kwEnd[ow]!;
        // Each input position of the window receives an equal share of the output's gradient.
        const share = gd[base + oh * gh + ow * gw]! / counts[q]!;
        for (let kh = khLo; kh < khHi; kh++) {
          let t = inPlane + (h0 + kh * dh) * W + w0 + kwLo * dw;
          for (let kw = kwLo; kw < kwHi; kw++, t += dw) acc[t] += share;
        }
      }
    }
  }
  if (dtype === 'float64') return acc;
  const out = allocate(dtype, acc.length);
  out.set(acc);
  return out;
}
