/**
 * BatchNorm's train-mode kernels (issue #17): the whole normalization, and the whole of its
 * gradient, each in two passes over the data instead of the ≈10 forward and ≈20 backward
 * elementwise and reduction passes of the composite.
 *
 * Notation, per channel c of x [N, C, …] (the statistics run over N and every axis after C,
 * n values per channel):  μ = Σx / n,  σ² = Σ(x − μ)² / n (biased),  r = 1/√(σ² + ε),
 * x̂ = (x − μ)·r.
 *
 * - forward:  pass 1 accumulates Σ(x − K) and Σ(x − K)² per channel in float64; pass 2 writes
 *   y = (x − μ)·(γ r) + β.
 * - backward: pass 1 accumulates the same two sums plus Σg and Σg·(x − K); pass 2 writes
 *   ∂/∂x = γ r (g − Σg/n − x̂·Σg x̂/n). ∂/∂γ = Σ g x̂ and ∂/∂β = Σ g come out of pass 1.
 *
 * NOTE: K is the channel's first element, a shift that keeps the one-pass variance
 * Σ(x − K)²/n − (Σ(x − K)/n)² from cancelling catastrophically when |μ| ≫ σ (the classic
 * "shifted data" algorithm): the error then scales with (μ − K)²/σ², not μ²/σ². The backward
 * pass recomputes μ and σ² with the very same loop, so both passes agree bit for bit.
 *
 * Inputs are any views whose axes after C merge into one stride (contiguous, channel-sliced,
 * broadcast gradients with stride 0); anything else is copied to a contiguous float64 array
 * first. Outputs are contiguous in the requested dtype.
 */
import { allocate, type DType, type TypedArray } from '../../tensor/dtype.js';
import { contiguousStrides, sizeOf } from '../../tensor/shape.js';
import type { View } from '../../tensor/storage.js';
import type { Backend } from '../backend.js';
import { copyInto } from './elementwise.js';

/** x [N, C, …] seen as N × C rows of S values each, with one stride per level. */
export interface ChannelView {
  readonly data: TypedArray;
  readonly offset: number;
  readonly N: number;
  readonly C: number;
  /** The product of the axes after C (1 for [N, C]). */
  readonly S: number;
  readonly strideN: number;
  readonly strideC: number;
  /** Step between consecutive values of one (n, c) row (0 when broadcast). */
  readonly strideS: number;
}

/** The (n, c, s) view of x, or of a contiguous copy when its trailing axes do not merge. */
export function channelView(x: View): ChannelView {
  const shape = x.shape;
  let S = 1;
  let strideS = 0;
  let merges = true;
  for (let d = shape.length - 1; d >= 2 && merges; d--) {
    const size = shape[d]!;
    if (size === 1) continue;
    if (S === 1) {
      strideS = x.strides[d]!;
      S = size;
    } else if (x.strides[d] === strideS * S) {
      S *= size;
    } else {
      merges = false;
    }
  }
  if (!merges) {
    const copy: View = { data: new Float64Array(sizeOf(shape)), shape, strides: contiguousStrides(shape), offset: 0 };
    copyInto(x, copy);
    return channelView(copy);
  }
  return { data: x.data, offset: x.offset, N: shape[0]!, C: shape[1]!, S, strideN: x.strides[0]!, strideC: x.strides[1]!, strideS };
}

/** Element c of a [C] view (γ or β), or `fallback` when there is none. */
export function channelValues(v: View | null, C: number, fallback: number): Float64Array {
  const out = new Float64Array(C).fill(fallback);
  if (v) for (let c = 0; c < C; c++) out[c] = v.data[v.offset + c * v.strides[0]!]!;
  return out;
}

/** Per-channel μ and σ² from the shifted sums s1 = Σ(x − K), s2 = Σ(x − K)² over n values. */
export function finishMoments(shift: Float64Array, s1: Float64Array, s2: Float64Array, n: number): { mean: Float64Array; variance: Float64Array } {
  const C = shift.length;
  const mean = new Float64Array(C);
  const variance = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    const m = s1[c]! / n;
    mean[c] = shift[c]! + m;
    // Rounding can take a constant channel's variance a hair below 0.
    variance[c] = Math.max(s2[c]! / n - m * m, 0);
  }
  return { mean, variance };
}

/** K per channel: the channel's first element (0 for an empty tensor). */
function shifts(v: ChannelView): Float64Array {
  const shift = new Float64Array(v.C);
  if (v.N * v.S > 0) for (let c = 0; c < v.C; c++) shift[c] = v.data[v.offset + c * v.strideC]!;
  return shift;
}

/**
 * Backend.batchNormForward: y = (x − μ)/√(σ² + ε)·γ + β per channel of x [N, C, …], with the
 * batch mean μ and biased variance σ² (returned too, in float64). γ and β are [C] views, or
 * null for 1 and 0.
 */
export function batchNormForward(x: View, weight: View | null, bias: View | null, eps: number, dtype: DType): ReturnType<Backend['batchNormForward']> {
  const v = channelView(x);
  const { data, offset, N, C, S, strideN, strideC, strideS } = v;
  const n = N * S;
  // Pass 1: shifted sum and sum of squares per channel.
  const shift = shifts(v);
  const s1 = new Float64Array(C);
  const s2 = new Float64Array(C);
  for (let i = 0; i < N; i++) {
    for (let c = 0; c < C; c++) {
      const base = offset + i * strideN + c * strideC;
      const k = shift[c]!;
      let a1 = 0;
      let a2 = 0;
      for (let s = 0; s < S; s++) {
        const d = data[base + s * strideS]! - k;
        a1 += d;
        a2 += d * d;
      }
      s1[c] += a1;
      s2[c] += a2;
    }
  }
  const { mean, variance } = finishMoments(shift, s1, s2, n);
  // Pass 2: y = (x − μ)·(γ r) + β, written row-major.
  const scale = channelValues(weight, C, 1);
  const beta = channelValues(bias, C, 0);
  for (let c = 0; c < C; c++) scale[c] = scale[c]! / Math.sqrt(variance[c]! + eps);
  const y = allocate(dtype, N * C * S);
  let o = 0;
  for (let i = 0; i < N; i++) {
    for (let c = 0; c < C; c++) {
      const base = offset + i * strideN + c * strideC;
      const mu = mean[c]!;
      const a = scale[c]!;
      const b = beta[c]!;
      if (strideS === 1) {
        for (let s = 0; s < S; s++) y[o++] = (data[base + s]! - mu) * a + b;
      } else {
        for (let s = 0; s < S; s++) y[o++] = (data[base + s * strideS]! - mu) * a + b;
      }
    }
  }
  return { y, mean, variance };
}

/**
 * Backend.batchNormBackward: the gradient of batchNormForward's y for the output gradient gy
 * (x's shape), packed into one array: ∂/∂x (row-major, x's size), then, when `weight` is
 * given, ∂/∂γ = Σ g x̂ and ∂/∂β = Σ g ([C] each). μ and σ² are recomputed from x.
 */
export function batchNormBackward(x: View, gy: View, weight: View | null, eps: number, dtype: DType): TypedArray {
  const v = channelView(x);
  const g = channelView(gy);
  const { data, offset, N, C, S, strideN, strideC, strideS } = v;
  const { data: gd, offset: gOffset, strideN: gN, strideC: gC, strideS: gS } = g;
  const n = N * S;
  const total = N * C * S;
  // Pass 1: Σ(x − K), Σ(x − K)² (as in the forward, bit for bit), Σg and Σg·(x − K).
  const shift = shifts(v);
  const s1 = new Float64Array(C);
  const s2 = new Float64Array(C);
  const sg = new Float64Array(C);
  const sgd = new Float64Array(C);
  for (let i = 0; i < N; i++) {
    for (let c = 0; c < C; c++) {
      const base = offset + i * strideN + c * strideC;
      const gBase = gOffset + i * gN + c * gC;
      const k = shift[c]!;
      let a1 = 0;
      let a2 = 0;
      let b1 = 0;
      let b2 = 0;
      for (let s = 0; s < S; s++) {
        const d = data[base + s * strideS]! - k;
        const gv = gd[gBase + s * gS]!;
        a1 += d;
        a2 += d * d;
        b1 += gv;
        b2 += gv * d;
      }
      s1[c] += a1;
      s2[c] += a2;
      sg[c] += b1;
      sgd[c] += b2;
    }
  }
  const { mean, variance } = finishMoments(shift, s1, s2, n);
  const gamma = channelValues(weight, C, 1);
  // ∂/∂x = A·(g − Σg/n) − (x − μ)·D with A = γ r and D = γ r²·Σg x̂/n per channel.
  const A = new Float64Array(C);
  const meanG = new Float64Array(C);
  const D = new Float64Array(C);
  const sumGXhat = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    const r = 1 / Math.sqrt(variance[c]! + eps);
    // Σ g (x − μ) = Σ g (x − K) − (μ − K)·Σ g.
    sumGXhat[c] = r * (sgd[c]! - (s1[c]! / n) * sg[c]!);
    A[c] = gamma[c]! * r;
    meanG[c] = sg[c]! / n;
    D[c] = (A[c]! * r * sumGXhat[c]!) / n;
  }
  const out = allocate(dtype, total + (weight ? 2 * C : 0));
  // Pass 2: ∂/∂x, row-major.
  let o = 0;
  for (let i = 0; i < N; i++) {
    for (let c = 0; c < C; c++) {
      const base = offset + i * strideN + c * strideC;
      const gBase = gOffset + i * gN + c * gC;
      const a = A[c]!;
      const mg = meanG[c]!;
      const dd = D[c]!;
      const mu = mean[c]!;
      for (let s = 0; s < S; s++) out[o++] = a * (gd[gBase + s * gS]! - mg) - (data[base + s * strideS]! - mu) * dd;
    }
  }
  if (weight) {
    for (let c = 0; c < C; c++) {
      out[total + c] = sumGXhat[c]!;
      out[total + C + c] = sg[c]!;
    }
  }
  return out;
}
