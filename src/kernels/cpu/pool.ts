/**
 * Max and average pooling on the CPU (NCHW): both forwards, the average-pool backward and the
 * max-pool backward (each output gradient added onto the input position its window's maximum
 * came from, through the saved indices).
 *
 * All of them walk the same loop nest: every (image, channel) plane, every output position, and
 * the window's taps that fall inside the input. Which taps those are depends only on the output
 * row (for kh) and column (for kw), so the ranges are computed once per call; the loops then
 * do no bounds tests and no index decoding per element. The 2×2 window without padding — the
 * pooling of nearly every CNN — has loops of its own with the four taps written out, and for
 * stride 2 over rows that are contiguous in memory, running offsets instead of multiplications.
 */
import { allocate, type DType, type TypedArray } from '../../tensor/dtype.js';
import { ValueError } from '../../tensor/errors.js';
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
  if (sh === 2 && sw === 2 && x.strides[3] === 1) {
    maxPool2x2Stride2(x, p, values, indices);
    return;
  }
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

/**
 * 2×2 windows at stride 2 over rows contiguous in memory (W stride 1): the window's top-left
 * tap and its in-plane index advance by 2 per output column, so the loop is additions only.
 * Same comparisons, in the same order, as maxPool2x2.
 *
 * NOTE: what remains is mostly branch mispredictions (which of four random values is the
 * largest is unpredictable), ≈ 2 ns per window here; without a select instruction JavaScript
 * cannot avoid them.
 */
function maxPool2x2Stride2(x: View, p: PoolPlan, values: TypedArray, indices: Int32Array): void {
  const xd = x.data;
  const hs = x.strides[2]!;
  const { planes, C, W, Ho, Wo } = p;
  let o = 0;
  for (let plane = 0; plane < planes; plane++) {
    const base = planeOffset(x, plane, C);
    for (let oh = 0; oh < Ho; oh++) {
      let s = base + 2 * oh * hs; // the window's top-left tap in x
      let at = 2 * oh * W; // its index within the plane
      for (const end = o + Wo; o < end; o++, s += 2, at += 2) {
        let best = xd[s]!;
        let index = at;
        const b = xd[s + 1]!;
        if (!(b <= best) && best === best) {
          best = b;
          index = at + 1;
        }
        const c = xd[s + hs]!;
        if (!(c <= best) && best === best) {
          best = c;
          index = at + W;
        }
        const d = xd[s + hs + 1]!;
        if (!(d <= best) && best === best) {
          best = d;
          index = at + W + 1;
        }
        values[o] = best;
        indices[o] = index;
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
  const out = allocate(dtype, p.planes * p.Ho * p.Wo);
  if (isPlain2x2Stride2(g) && x.strides[3] === 1) {
    avgPool2x2Stride2(x, p, out);
    return out;
  }
  const counts = windowCounts(p, g);
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
  if (isPlain2x2Stride2(g) && gy.strides[3] === 1) {
    const out = allocate(dtype, sizeOf(inputShape));
    avgPool2x2Stride2Backward(gy, p, out);
    return out;
  }
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

/** 2×2 windows, stride 2, no padding, no dilation: each input belongs to at most one window. */
export function isPlain2x2Stride2(g: PoolGeometry): boolean {
  const [kh, kw] = g.kernel;
  return kh === 2 && kw === 2 && g.stride[0] === 2 && g.stride[1] === 2 && g.padding[0] === 0 && g.padding[1] === 0 && g.dilation[0] === 1 && g.dilation[1] === 1;
}

/**
 * avgPool2d for 2×2 windows at stride 2 over rows contiguous in memory: every window lies
 * inside the input, so every divisor is 4 (with or without countIncludePad). The sum runs in
 * the general loop's order (0 + top-left + top-right + bottom-left + bottom-right), so the
 * results are the same to the bit.
 */
function avgPool2x2Stride2(x: View, p: PoolPlan, out: TypedArray): void {
  const xd = x.data;
  const hs = x.strides[2]!;
  const { planes, C, Ho, Wo } = p;
  let o = 0;
  for (let plane = 0; plane < planes; plane++) {
    const base = planeOffset(x, plane, C);
    for (let oh = 0; oh < Ho; oh++) {
      let s = base + 2 * oh * hs;
      for (const end = o + Wo; o < end; o++, s += 2) out[o] = (0 + xd[s]! + xd[s + 1]! + xd[s + hs]! + xd[s + hs + 1]!) / 4;
    }
  }
}

/**
 * avgPool2dBackward for 2×2 windows at stride 2 (gy's rows contiguous): the windows do not
 * overlap, so each input position gets at most one share, gy/4, written straight into the
 * output (0 + share, as the general loop's float64 sum of one term, rounded once to the
 * output's type); positions in no window (an odd last row or column) stay 0.
 */
function avgPool2x2Stride2Backward(gy: View, p: PoolPlan, out: TypedArray): void {
  const gd = gy.data;
  const gh = gy.strides[2]!;
  const { planes, C, H, W, Ho, Wo } = p;
  for (let plane = 0; plane < planes; plane++) {
    const base = planeOffset(gy, plane, C);
    for (let oh = 0; oh < Ho; oh++) {
      let s = base + oh * gh;
      let t = plane * H * W + 2 * oh * W;
      for (let ow = 0; ow < Wo; ow++, s++, t += 2) {
        const share = 0 + gd[s]! / 4;
        out[t] = share;
        out[t + 1] = share;
        out[t + W] = share;
        out[t + W + 1] = share;
      }
    }
  }
}

// ---- max-pool backward ---------------------------------------------------------------------

/**
 * Backend.maxPool2dBackward: dx of `inputShape` with gy [N, C, Ho, Wo] added, element by
 * element, at the flat in-plane index h·W + w that maxPool2d saved for it (`indices`, same
 * layout as gy) — scatterAdd along the flattened plane, the transpose of gathering the maxima.
 * Where windows overlap (stride < kernel) an input can collect several gradients; they are
 * added in row-major order of gy in the output's type, exactly as scatterAdd adds them, so the
 * result equals the gather/scatterAdd formulation to the bit. Throws a ValueError for an index
 * outside [0, H·W).
 */
export function maxPool2dBackward(gy: View, indices: View, inputShape: Shape, g: PoolGeometry, dtype: DType): TypedArray {
  const [N, C, H, W] = inputShape as [number, number, number, number];
  const [, , Ho, Wo] = poolOutputShape(inputShape, g) as [number, number, number, number];
  const out = allocate(dtype, N * C * H * W);
  const HW = H * W;
  const L = Ho * Wo;
  const gd = gy.data;
  const id = indices.data;
  const [gs0, gs1, gs2, gs3] = gy.strides as [number, number, number, number];
  const [is0, is1, is2, is3] = indices.strides as [number, number, number, number];
  const flat = (s: readonly number[]) => s[3] === 1 && s[2] === Wo;
  const flatPlanes = flat(gy.strides) && flat(indices.strides);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const plane = (n * C + c) * HW;
      let g0 = gy.offset + n * gs0 + c * gs1;
      let i0 = indices.offset + n * is0 + c * is1;
      if (flatPlanes) {
        // The common case (both contiguous within a plane): one flat loop over the plane.
        for (const end = i0 + L; i0 < end; i0++, g0++) {
          const i = id[i0]!;
          if (!(i >= 0 && i < HW)) throw indexOutOfRange(i, HW);
          out[plane + i] += gd[g0]!;
        }
        continue;
      }
      for (let oh = 0; oh < Ho; oh++, g0 += gs2, i0 += is2) {
        for (let ow = 0, gi = g0, ii = i0; ow < Wo; ow++, gi += gs3, ii += is3) {
          const i = id[ii]!;
          if (!(i >= 0 && i < HW)) throw indexOutOfRange(i, HW);
          out[plane + i] += gd[gi]!;
        }
      }
    }
  }
  return out;
}

function indexOutOfRange(i: number, size: number): ValueError {
  return new ValueError(`maxPool2dBackward: index ${i} is out of range for an input plane of ${size} elements`);
}
