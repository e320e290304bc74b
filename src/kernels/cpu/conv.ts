/**
 * conv2d and its two backward convolutions on the CPU, as matrix products (im2col + GEMM).
 *
 * For one image n and one group g, unfold the input patch under every output position into a
 * column ("im2col"):
 *
 *   col[(c, kh, kw), (oh, ow)] = x[n, g·Cg + c, oh·sh − ph + kh·dh, ow·sw − pw + kw·dw]  (0 in the padding)
 *
 * a [Cg·KH·KW, Ho·Wo] matrix. With W_g the group's weights as a [Cout/G, Cg·KH·KW] matrix and
 * Y, G the output and its gradient as [Cout/G, Ho·Wo] matrices, the three convolutions are:
 *
 *   forward          Y_n,g  = W_g · col_n,g
 *   weight gradient  ∂W_g   = Σ_n G_n,g · col_n,gᵀ
 *   input gradient   ∂x_n,g = col2im(W_gᵀ · G_n,g)      (col2im adds each column entry back
 *                                                       onto the input pixel it came from)
 *
 * so all three run on the packed GEMM of gemm.ts, whose strided operands make the transposes
 * free. The column matrix is never written out: it is a `MatrixSource` whose entries the GEMM
 * reads from a zero-padded copy of the image while packing ("implicit GEMM"), which saves a
 * pass over a matrix KH·KW times the size of the input. Two shapes skip the unfolding: a 1×1
 * convolution with stride 1 and no padding, whose columns are the input itself, and depthwise
 * convolutions (one input and one output channel per group), whose 1-row products are faster
 * as direct loops.
 *
 * Everything accumulates in float64; float32 results are rounded once at the end.
 */
import { allocate, type DType, type TypedArray } from '../../tensor/dtype.js';
import { contiguousStrides, sizeOf, type Shape } from '../../tensor/shape.js';
import type { View } from '../../tensor/storage.js';
import { convDims, type Conv2dGeometry, type ConvDims } from '../geometry.js';
import { copyInto } from './elementwise.js';
import { gemm, transposed, type GemmOperand, type MatrixSource, type StridedMatrix } from './gemm.js';
import { workspace } from './workspace.js';

// ---- the three convolutions --------------------------------------------------------------

/** Backend.conv2d: Y = W_g · col per image and group, accumulated in float64. */
export function conv2d(x: View, w: View, g: Conv2dGeometry, dtype: DType): TypedArray {
  const d = convDims(x.shape, w.shape, g);
  const out = allocate(dtype, d.N * d.Cout * d.P);
  if (out.length === 0) return out;
  const acc = float64Target(out);
  if (isDepthwise(d)) {
    acc.fill(0, 0, out.length);
    depthwiseForward(x, w, d, acc);
    return finish(out, acc);
  }
  const wm = flatView(w, 1);
  const plan = unfoldPlan(d);
  for (let n = 0; n < d.N; n++) {
    for (let gi = 0; gi < d.groups; gi++) {
      // Y_n,g [Coutg, P] = W_g [Coutg, kdim] · col_n,g [kdim, P]
      const cols = columns(x, n, gi * d.Cg, d, plan);
      gemm(d.Coutg, d.P, d.kdim, weightMatrix(wm, gi, d), cols, acc, (n * d.Cout + gi * d.Coutg) * d.P, d.P, 1, false);
    }
  }
  return finish(out, acc);
}

/** Backend.conv2dBackwardInput: col2im(W_gᵀ · G) per image and group, accumulated in float64. */
export function conv2dBackwardInput(gy: View, w: View, inputShape: Shape, g: Conv2dGeometry, dtype: DType): TypedArray {
  const d = convDims(inputShape, w.shape, g);
  const out = allocate(dtype, sizeOf(inputShape));
  if (out.length === 0) return out;
  const acc = float64Target(out);
  acc.fill(0, 0, out.length);
  if (isDepthwise(d)) {
    depthwiseBackwardInput(gy, w, d, acc);
    return finish(out, acc);
  }
  const wm = flatView(w, 1);
  const gm = flatView(gy, 2);
  const unit = isPointwise(d);
  // The column-gradient matrix of one image and group (unused by 1×1 convolutions).
  const dcol = unit ? acc : workspace('conv.columns', d.kdim * d.P);
  const ranges = convRanges(d);
  for (let n = 0; n < d.N; n++) {
    for (let gi = 0; gi < d.groups; gi++) {
      // ∂col [kdim, P] = W_gᵀ [kdim, Coutg] · G_n,g [Coutg, P]
      const wt = transposed(weightMatrix(wm, gi, d));
      const gmat = gradMatrix(gm, n, gi, d);
      if (unit) {
        // 1×1, stride 1, no padding: the column matrix is the input plane itself.
        gemm(d.kdim, d.P, d.Coutg, wt, gmat, acc, (n * d.Cin + gi * d.Cg) * d.P, d.P, 1, false);
      } else {
        gemm(d.kdim, d.P, d.Coutg, wt, gmat, dcol, 0, d.P, 1, false);
        col2im(dcol, n, gi * d.Cg, d, ranges, acc);
      }
    }
  }
  return finish(out, acc);
}

/** Backend.conv2dBackwardWeight: Σ_n G · colᵀ per group, accumulated in float64. */
export function conv2dBackwardWeight(x: View, gy: View, weightShape: Shape, g: Conv2dGeometry, dtype: DType): TypedArray {
  const d = convDims(x.shape, weightShape, g);
  const out = allocate(dtype, sizeOf(weightShape));
  if (out.length === 0) return out;
  const acc = float64Target(out);
  acc.fill(0, 0, out.length);
  if (isDepthwise(d)) {
    depthwiseBackwardWeight(x, gy, d, acc);
    return finish(out, acc);
  }
  const gm = flatView(gy, 2);
  const plan = unfoldPlan(d);
  for (let n = 0; n < d.N; n++) {
    for (let gi = 0; gi < d.groups; gi++) {
      // ∂W_g [Coutg, kdim] += G_n,g [Coutg, P] · col_n,gᵀ [P, kdim]
      const cols = columns(x, n, gi * d.Cg, d, plan);
      gemm(d.Coutg, d.kdim, d.P, gradMatrix(gm, n, gi, d), transposed(cols), acc, gi * d.Coutg * d.kdim, d.kdim, 1, true);
    }
  }
  return finish(out, acc);
}

// ---- operands as strided matrices --------------------------------------------------------

/** Where a result is accumulated: the output itself if it is float64, else a scratch buffer. */
function float64Target(out: TypedArray): Float64Array {
  return out instanceof Float64Array ? out : workspace('conv.acc', out.length);
}

/** Round a float64 accumulator into a float32 output (nothing to do for float64). */
function finish(out: TypedArray, acc: Float64Array): TypedArray {
  if (acc !== out) out.set(acc.subarray(0, out.length));
  return out;
}

/**
 * A view whose axes from `from` on can be read as one flattened axis with a single stride
 * (any contiguous tensor, also a broadcast one with stride 0). Anything else — a permuted
 * weight, say — is copied into a contiguous array first, which is cheap next to the products.
 */
interface FlatView {
  readonly data: TypedArray;
  readonly offset: number;
  readonly strides: readonly number[];
  /** The stride of the flattened trailing axes. */
  readonly inner: number;
}

function flatView(v: View, from: number): FlatView {
  const inner = flatStride(v.shape, v.strides, from);
  if (inner !== null) return { data: v.data, offset: v.offset, strides: v.strides, inner };
  const copy = new Float64Array(sizeOf(v.shape));
  const strides = contiguousStrides(v.shape);
  copyInto(v, { data: copy, shape: v.shape, strides, offset: 0 });
  return { data: copy, offset: 0, strides, inner: 1 };
}

/** s if strides[d] = s · (product of the later sizes) for every axis d ≥ from, else null. */
function flatStride(shape: Shape, strides: readonly number[], from: number): number | null {
  let inner: number | null = null;
  let span = 1;
  for (let d = shape.length - 1; d >= from; d--) {
    if (shape[d] !== 1) {
      if (inner === null) inner = strides[d]! / span;
      else if (strides[d] !== inner * span) return null;
    }
    span *= shape[d]!;
  }
  return inner ?? 1;
}

/** W_g as a [Coutg, kdim] matrix. */
function weightMatrix(w: FlatView, group: number, d: ConvDims): StridedMatrix {
  return { data: w.data, offset: w.offset + group * d.Coutg * w.strides[0]!, rowStride: w.strides[0]!, colStride: w.inner };
}

/** The output gradient of image n, group g, as a [Coutg, P] matrix. */
function gradMatrix(gy: FlatView, n: number, group: number, d: ConvDims): StridedMatrix {
  const offset = gy.offset + n * gy.strides[0]! + group * d.Coutg * gy.strides[1]!;
  return { data: gy.data, offset, rowStride: gy.strides[1]!, colStride: gy.inner };
}

/** 1×1 kernel, stride 1, no padding: every column is one input pixel, unchanged. */
function isPointwise(d: ConvDims): boolean {
  return d.KH === 1 && d.KW === 1 && d.sh === 1 && d.sw === 1 && d.ph === 0 && d.pw === 0;
}

/** One input and one output channel per group. */
function isDepthwise(d: ConvDims): boolean {
  return d.Cg === 1 && d.Coutg === 1;
}

// ---- the column matrix -----------------------------------------------------------------------

/**
 * Where each entry of the column matrix lives in a zero-padded copy of the input planes
 * [Cg, H + 2·ph, W + 2·pw]: entry (k, q) is padded[taps[k] + positions[q]]. The two tables
 * depend only on the geometry, so they are built once per call.
 */
interface UnfoldPlan {
  /** For each row k = (c, kh, kw): the offset of that tap in the padded planes. */
  taps: Int32Array;
  /** For each column q = (oh, ow): the offset of its window's corner. */
  positions: Int32Array;
  paddedH: number;
  paddedW: number;
}

function unfoldPlan(d: ConvDims): UnfoldPlan {
  const paddedH = d.H + 2 * d.ph;
  const paddedW = d.W + 2 * d.pw;
  const taps = new Int32Array(d.kdim);
  for (let c = 0, k = 0; c < d.Cg; c++) {
    for (let kh = 0; kh < d.KH; kh++) {
      for (let kw = 0; kw < d.KW; kw++, k++) taps[k] = (c * paddedH + kh * d.dh) * paddedW + kw * d.dw;
    }
  }
  const positions = new Int32Array(d.P);
  for (let oh = 0, q = 0; oh < d.Ho; oh++) {
    for (let ow = 0; ow < d.Wo; ow++, q++) positions[q] = oh * d.sh * paddedW + ow * d.sw;
  }
  return { taps, positions, paddedH, paddedW };
}

/**
 * The [kdim, P] column matrix of image n, channels c0 … c0+Cg−1, as a GEMM operand: for a
 * pointwise convolution whose input planes are flat, the input itself (no copy); otherwise an
 * `UnfoldedImage` over a zero-padded float64 copy of the planes (in the 'conv.padded' workspace).
 */
function columns(x: View, n: number, c0: number, d: ConvDims, plan: UnfoldPlan): GemmOperand {
  const base = x.offset + n * x.strides[0]! + c0 * x.strides[1]!;
  if (isPointwise(d)) {
    const inner = flatStride(x.shape, x.strides, 2);
    if (inner !== null) return { data: x.data, offset: base, rowStride: x.strides[1]!, colStride: inner };
  }
  const padded = workspace('conv.padded', d.Cg * plan.paddedH * plan.paddedW);
  padPlanes(x, base, d, plan, padded);
  return new UnfoldedImage(padded, plan.taps, plan.positions);
}

/** Copy Cg input planes from `base` into `padded` [Cg, H + 2·ph, W + 2·pw], zeros around them. */
function padPlanes(x: View, base: number, d: ConvDims, plan: UnfoldPlan, padded: Float64Array): void {
  const { paddedH, paddedW } = plan;
  const xd = x.data;
  const cs = x.strides[1]!;
  const hs = x.strides[2]!;
  const ws = x.strides[3]!;
  if (d.ph > 0 || d.pw > 0) padded.fill(0, 0, d.Cg * paddedH * paddedW);
  for (let c = 0; c < d.Cg; c++) {
    for (let h = 0; h < d.H; h++) {
      let s = base + c * cs + h * hs;
      let t = (c * paddedH + h + d.ph) * paddedW + d.pw;
      for (const end = t + d.W; t < end; t++, s += ws) padded[t] = xd[s]!;
    }
  }
}

/**
 * The im2col matrix of one image and group, entry (k, q) = padded[taps[k] + positions[q]],
 * packed straight into GEMM panels. Its lines are taps and its steps positions when packed by
 * rows, the other way round when packed by columns; either way a sliver is R offsets held in
 * registers plus one table read per step.
 */
class UnfoldedImage implements MatrixSource {
  constructor(
    private readonly padded: Float64Array,
    private readonly taps: Int32Array,
    private readonly positions: Int32Array,
  ) {}

  packSliver(byRows: boolean, first: number, count: number, k0: number, kc: number, R: number, panels: Float64Array, dst: number): void {
    const img = this.padded;
    const lines = byRows ? this.taps : this.positions;
    const steps = byRows ? this.positions : this.taps;
    if (count === 4 && R === 4) {
      const l0 = lines[first]!, l1 = lines[first + 1]!, l2 = lines[first + 2]!, l3 = lines[first + 3]!;
      for (let p = 0, d = dst; p < kc; p++, d += 4) {
        const s = steps[k0 + p]!;
        panels[d] = img[l0 + s]!;
        panels[d + 1] = img[l1 + s]!;
        panels[d + 2] = img[l2 + s]!;
        panels[d + 3] = img[l3 + s]!;
      }
    } else if (count === 3 && R === 3) {
      const l0 = lines[first]!, l1 = lines[first + 1]!, l2 = lines[first + 2]!;
      for (let p = 0, d = dst; p < kc; p++, d += 3) {
        const s = steps[k0 + p]!;
        panels[d] = img[l0 + s]!;
        panels[d + 1] = img[l1 + s]!;
        panels[d + 2] = img[l2 + s]!;
      }
    } else {
      for (let p = 0, d = dst; p < kc; p++, d += R) {
        const s = steps[k0 + p]!;
        for (let r = 0; r < count; r++) panels[d + r] = img[lines[first + r]! + s]!;
        for (let r = count; r < R; r++) panels[d + r] = 0;
      }
    }
  }
}

// ---- col2im (the input gradient) -------------------------------------------------------------

/**
 * For each kernel tap k of one axis, the output positions o in [lo[k], hi[k]) whose input
 * position o·stride + k·dilation − padding lies inside [0, size); the others read padding.
 * Computed once per call, so col2im and the depthwise loops do no bounds tests per element.
 */
interface TapRanges {
  lo: Int32Array;
  hi: Int32Array;
}

function tapRanges(taps: number, stride: number, padding: number, dilation: number, size: number, count: number): TapRanges {
  const lo = new Int32Array(taps);
  const hi = new Int32Array(taps);
  for (let k = 0; k < taps; k++) {
    const start = k * dilation - padding;
    const first = start >= 0 ? 0 : Math.ceil(-start / stride);
    const end = Math.floor((size - 1 - start) / stride) + 1;
    lo[k] = Math.min(first, count);
    hi[k] = Math.max(lo[k]!, Math.min(end, count));
  }
  return { lo, hi };
}

/** The tap ranges of both axes of a convolution. */
interface ConvRanges {
  rows: TapRanges;
  cols: TapRanges;
}

function convRanges(d: ConvDims): ConvRanges {
  return {
    rows: tapRanges(d.KH, d.sh, d.ph, d.dh, d.H, d.Ho),
    cols: tapRanges(d.KW, d.sw, d.pw, d.dw, d.W, d.Wo),
  };
}

/** Add each entry of dcol [kdim, P] onto the input pixel it was unfolded from (im2col's transpose). */
function col2im(dcol: Float64Array, n: number, c0: number, d: ConvDims, ranges: ConvRanges, dx: Float64Array): void {
  const { rows, cols } = ranges;
  let o = 0;
  for (let c = 0; c < d.Cg; c++) {
    const plane = (n * d.Cin + c0 + c) * d.H * d.W;
    for (let kh = 0; kh < d.KH; kh++) {
      const hStart = kh * d.dh - d.ph;
      for (let kw = 0; kw < d.KW; kw++) {
        const wStart = kw * d.dw - d.pw;
        const owLo = cols.lo[kw]!;
        const count = cols.hi[kw]! - owLo;
        for (let oh = rows.lo[kh]!; oh < rows.hi[kh]!; oh++) {
          let t = plane + (oh * d.sh + hStart) * d.W + owLo * d.sw + wStart;
          let s = o + oh * d.Wo + owLo;
          for (const end = s + count; s < end; s++, t += d.sw) dx[t] += dcol[s]!;
        }
        o += d.P;
      }
    }
  }
}

// ---- depthwise: direct loops ----------------------------------------------------------------
//
// With one channel in and out per group, every product above would be a 1-row matrix, all
// padding for a 4×3 register tile. The direct form instead walks, for each kernel tap, the
// output rows it reaches, with a unit- or `stride`-step inner loop and the tap's weight held
// in a register.

/**
 * Calls visit for every image n, channel c and kernel tap (kh, kw), with the output rows
 * [ohLo, ohHi) and columns [owLo, owHi) that the tap reaches inside the input (a closure call
 * per tap, not per element).
 */
function forEachDepthwiseTap(
  d: ConvDims,
  visit: (n: number, c: number, kh: number, kw: number, ohLo: number, ohHi: number, owLo: number, owHi: number) => void,
): void {
  const { rows, cols } = convRanges(d);
  for (let n = 0; n < d.N; n++) {
    for (let c = 0; c < d.Cin; c++) {
      for (let kh = 0; kh < d.KH; kh++) {
        for (let kw = 0; kw < d.KW; kw++) visit(n, c, kh, kw, rows.lo[kh]!, rows.hi[kh]!, cols.lo[kw]!, cols.hi[kw]!);
      }
    }
  }
}

function depthwiseForward(x: View, w: View, d: ConvDims, acc: Float64Array): void {
  const [xs0, xs1, xs2, xs3] = x.strides as [number, number, number, number];
  const [ws0, , ws2, ws3] = w.strides as [number, number, number, number];
  forEachDepthwiseTap(d, (n, c, kh, kw, ohLo, ohHi, owLo, owHi) => {
    const weight = w.data[w.offset + c * ws0 + kh * ws2 + kw * ws3]!;
    const hStart = kh * d.dh - d.ph;
    const wStart = kw * d.dw - d.pw;
    const plane = x.offset + n * xs0 + c * xs1;
    const outPlane = (n * d.Cout + c) * d.P;
    for (let oh = ohLo; oh < ohHi; oh++) {
      let s = plane + (oh * d.sh + hStart) * xs2 + (owLo * d.sw + wStart) * xs3;
      const step = d.sw * xs3;
      for (let o = outPlane + oh * d.Wo + owLo, end = o + owHi - owLo; o < end; o++, s += step) acc[o] += weight * x.data[s]!;
    }
  });
}

function depthwiseBackwardInput(gy: View, w: View, d: ConvDims, acc: Float64Array): void {
  const [gs0, gs1, gs2, gs3] = gy.strides as [number, number, number, number];
  const [ws0, , ws2, ws3] = w.strides as [number, number, number, number];
  forEachDepthwiseTap(d, (n, c, kh, kw, ohLo, ohHi, owLo, owHi) => {
    const weight = w.data[w.offset + c * ws0 + kh * ws2 + kw * ws3]!;
    const hStart = kh * d.dh - d.ph;
    const wStart = kw * d.dw - d.pw;
    const gPlane = gy.offset + n * gs0 + c * gs1;
    const inPlane = (n * d.Cin + c) * d.H * d.W;
    for (let oh = ohLo; oh < ohHi; oh++) {
      let s = gPlane + oh * gs2 + owLo * gs3;
      let t = inPlane + (oh * d.sh + hStart) * d.W + owLo * d.sw + wStart;
      for (let ow = owLo; ow < owHi; ow++, s += gs3, t += d.sw) acc[t] += weight * gy.data[s]!;
    }
  });
}

function depthwiseBackwardWeight(x: View, gy: View, d: ConvDims, acc: Float64Array): void {
  const [xs0, xs1, xs2, xs3] = x.strides as [number, number, number, number];
  const [gs0, gs1, gs2, gs3] = gy.strides as [number, number, number, number];
  forEachDepthwiseTap(d, (n, c, kh, kw, ohLo, ohHi, owLo, owHi) => {
    const hStart = kh * d.dh - d.ph;
    const wStart = kw * d.dw - d.pw;
    const plane = x.offset + n * xs0 + c * xs1;
    const gPlane = gy.offset + n * gs0 + c * gs1;
    let sum = 0;
    for (let oh = ohLo; oh < ohHi; oh++) {
      let s = plane + (oh * d.sh + hStart) * xs2 + (owLo * d.sw + wStart) * xs3;
      let t = gPlane + oh * gs2 + owLo * gs3;
      const step = d.sw * xs3;
      for (let ow = owLo; ow < owHi; ow++, s += step, t += gs3) sum += x.data[s]! * gy.data[t]!;
    }
    acc[(c * d.KH + kh) * d.KW + kw] += sum;
  });
}
