/**
 * conv2d and its two backward convolutions (float32 or float64) on the WebAssembly GEMM, as implicit
 * GEMMs over the whole batch at once.
 *
 * For group g, with k = (c, kh, kw) a kernel tap and j = (n, oh, ow) an output position of any
 * image, the im2col matrix is
 *
 *   col[k, j] = x[n, g·Cg + c, oh·sh − ph + kh·dh, ow·sw − pw + kw·dw]     (0 in the padding)
 *
 * a [Cg·KH·KW, N·Ho·Wo] matrix, and the three convolutions are three products:
 *
 *   forward          Y_g  [Coutg, N·P] = W_g [Coutg, kdim] · col [kdim, N·P]
 *   weight gradient  ∂W_g [Coutg, kdim] = G_g [Coutg, N·P] · colᵀ [N·P, kdim]
 *   input gradient   ∂col [kdim, N·P]   = W_gᵀ [kdim, Coutg] · G_g [Coutg, N·P],  then col2im
 *
 * Every operand is a `TableMatrix` (gemm.ts): col[k, j] = data[tap[k] + position[j]], where
 * tap[k] is where tap k sits relative to a window's corner and position[j] where window j's
 * corner is. So the column matrix is read straight from the image while packing and never
 * exists; any strides work (channels-last inputs, permuted weights, broadcast gradients); and
 * stacking the batch into the columns gives the micro-kernel one wide product instead of N
 * thin ones (LeNet's first layer would otherwise be 6×25 · 25×784 per image). Only padding
 * needs a copy: a zero-bordered copy of the input, because a table cannot point at
 * zeros.
 *
 * Depthwise convolutions (one channel in and out per group) would be 1-row products, all
 * padding for a 4×8 tile; the backend keeps them on the pure-TypeScript direct loops.
 */
import type { Shape } from '../../tensor/shape.js';
import type { View } from '../../tensor/storage.js';
import { allocate, dtypeOf, type FloatArray, type TypedArray } from '../../tensor/dtype.js';
import { convDims, type Conv2dGeometry, type ConvDims } from '../geometry.js';
import { copyOut, multiply, transposed, type GemmRunner, type Product, type TableMatrix } from './gemm.js';
import { SMALL_PRODUCT } from './matmul.js';
import type { WasmRuntime } from './runtime.js';

/**
 * Whether the wasm path takes this convolution: not depthwise, nothing empty, and more
 * multiply-adds than the matmul crossover (SMALL_PRODUCT in matmul.ts).
 */
export function wasmConvApplies(xShape: Shape, wShape: Shape, g: Conv2dGeometry): boolean {
  const d = convDims(xShape, wShape, g);
  const macs = d.N * d.Cout * d.P * d.kdim;
  return !(d.Cg === 1 && d.Coutg === 1) && macs > SMALL_PRODUCT && d.N * d.Cin * d.H * d.W > 0;
}

/**
 * The input as something the column tables can point into: x itself when there is no padding,
 * else a zero-bordered copy [N, Cin, H + 2·ph, W + 2·pw]. Strides of the result per
 * axis (n, c, h, w) and the offset of element (0, 0, 0, 0) of the *padded* frame.
 */
interface Source {
  data: TypedArray;
  offset: number;
  strides: [number, number, number, number];
}

function inputSource(x: View, d: ConvDims): Source {
  if (d.ph === 0 && d.pw === 0) return { data: x.data, offset: x.offset, strides: x.strides as [number, number, number, number] };
  const Hp = d.H + 2 * d.ph;
  const Wp = d.W + 2 * d.pw;
  const padded = allocate(dtypeOf(x.data), d.N * d.Cin * Hp * Wp);
  const [s0, s1, s2, s3] = x.strides as [number, number, number, number];
  for (let n = 0; n < d.N; n++) {
    for (let c = 0; c < d.Cin; c++) {
      for (let h = 0; h < d.H; h++) {
        let s = x.offset + n * s0 + c * s1 + h * s2;
        let t = ((n * d.Cin + c) * Hp + h + d.ph) * Wp + d.pw;
        for (const end = t + d.W; t < end; t++, s += s3) padded[t] = x.data[s]!;
      }
    }
  }
  return { data: padded, offset: 0, strides: [d.Cin * Hp * Wp, Hp * Wp, Wp, 1] };
}

/** col [kdim, N·P] of group g over `src` (see the file comment). */
function columns(src: Source, g: number, d: ConvDims): TableMatrix {
  const [s0, s1, s2, s3] = src.strides;
  const taps = new Int32Array(d.kdim);
  for (let c = 0, k = 0; c < d.Cg; c++) {
    for (let kh = 0; kh < d.KH; kh++) {
      for (let kw = 0; kw < d.KW; kw++, k++) taps[k] = (g * d.Cg + c) * s1 + kh * d.dh * s2 + kw * d.dw * s3;
    }
  }
  return { data: src.data, rows: taps, cols: positions(src.offset, s0, s2 * d.sh, s3 * d.sw, d) };
}

/** For j = (n, oh, ow): offset + n·s0 + oh·sh + ow·sw, N·P entries. */
function positions(offset: number, s0: number, sh: number, sw: number, d: ConvDims): Int32Array {
  const table = new Int32Array(d.N * d.P);
  for (let n = 0, j = 0; n < d.N; n++) {
    for (let oh = 0; oh < d.Ho; oh++) {
      for (let ow = 0, o = offset + n * s0 + oh * sh; ow < d.Wo; ow++, j++, o += sw) table[j] = o;
    }
  }
  return table;
}

/** W_g as a [Coutg, kdim] matrix (any strides). */
function weightMatrix(w: View, g: number, d: ConvDims): TableMatrix {
  const [s0, s1, s2, s3] = w.strides as [number, number, number, number];
  const rows = new Int32Array(d.Coutg);
  for (let co = 0; co < d.Coutg; co++) rows[co] = w.offset + (g * d.Coutg + co) * s0;
  const cols = new Int32Array(d.kdim);
  for (let c = 0, k = 0; c < d.Cg; c++) {
    for (let kh = 0; kh < d.KH; kh++) for (let kw = 0; kw < d.KW; kw++, k++) cols[k] = c * s1 + kh * s2 + kw * s3;
  }
  return { data: w.data, rows, cols };
}

/** G_g, the output gradient of group g, as a [Coutg, N·P] matrix (any strides). */
function gradMatrix(gy: View, g: number, d: ConvDims): TableMatrix {
  const [s0, s1, s2, s3] = gy.strides as [number, number, number, number];
  const rows = new Int32Array(d.Coutg);
  for (let co = 0; co < d.Coutg; co++) rows[co] = gy.offset + (g * d.Coutg + co) * s1;
  return { data: gy.data, rows, cols: positions(0, s0, s2, s3, d) };
}

/** out[rows[i] + cols[j]] for an NCHW output [N, C, P]: channel rows of group g, (n, p) columns. */
function outputTables(g: number, channelsPerGroup: number, channels: number, d: ConvDims): [Int32Array, Int32Array] {
  const rows = new Int32Array(channelsPerGroup);
  for (let c = 0; c < channelsPerGroup; c++) rows[c] = (g * channelsPerGroup + c) * d.P;
  const cols = new Int32Array(d.N * d.P);
  for (let n = 0, j = 0; n < d.N; n++) for (let p = 0; p < d.P; p++, j++) cols[j] = n * channels * d.P + p;
  return [rows, cols];
}

// ---- the three convolutions (null: too large for the memory; the caller falls back) -------

/** Backend.conv2d on the GEMM module, per group; null when the product does not fit the memory (the caller falls back to cpu). */
export function wasmConv2d(rt: WasmRuntime, run: GemmRunner, x: View, w: View, geometry: Conv2dGeometry): TypedArray | null {
  const d = convDims(x.shape, w.shape, geometry);
  const out = allocate(dtypeOf(x.data), d.N * d.Cout * d.P);
  const src = inputSource(x, d);
  for (let g = 0; g < d.groups; g++) {
    const p = multiply(rt, d.Coutg, d.N * d.P, d.kdim, weightMatrix(w, g, d), columns(src, g, d), run);
    if (!p) return null;
    const [rows, cols] = outputTables(g, d.Coutg, d.Cout, d);
    copyOut(rt, p, out, rows, cols);
  }
  return out;
}

/** Backend.conv2dBackwardWeight on the GEMM module, per group; null when the product does not fit the memory. */
export function wasmConv2dBackwardWeight(rt: WasmRuntime, run: GemmRunner, x: View, gy: View, weightShape: Shape, geometry: Conv2dGeometry): TypedArray | null {
  const d = convDims(x.shape, weightShape, geometry);
  const out = allocate(dtypeOf(x.data), d.Cout * d.kdim);
  const src = inputSource(x, d);
  for (let g = 0; g < d.groups; g++) {
    const p = multiply(rt, d.Coutg, d.kdim, d.N * d.P, gradMatrix(gy, g, d), transposed(columns(src, g, d)), run);
    if (!p) return null;
    const rows = new Int32Array(d.Coutg);
    for (let co = 0; co < d.Coutg; co++) rows[co] = (g * d.Coutg + co) * d.kdim;
    const cols = new Int32Array(d.kdim);
    for (let k = 0; k < d.kdim; k++) cols[k] = k;
    copyOut(rt, p, out, rows, cols);
  }
  return out;
}

/** Backend.conv2dBackwardInput on the GEMM module, per group; null when the product does not fit the memory. */
export function wasmConv2dBackwardInput(rt: WasmRuntime, run: GemmRunner, gy: View, w: View, inputShape: Shape, geometry: Conv2dGeometry): TypedArray | null {
  const d = convDims(inputShape, w.shape, geometry);
  const dx = allocate(dtypeOf(gy.data), d.N * d.Cin * d.H * d.W);
  for (let g = 0; g < d.groups; g++) {
    const p = multiply(rt, d.kdim, d.N * d.P, d.Coutg, transposed(weightMatrix(w, g, d)), gradMatrix(gy, g, d), run);
    if (!p) return null;
    col2im(rt.elements(), p, g, d, dx);
  }
  return dx;
}

/**
 * Add each entry of ∂col [kdim, N·P] (in the memory, as the product `p` left it) onto the
 * input pixel it was unfolded from; taps that fall into the padding are dropped. For each tap
 * only the output rows and columns that land inside the input are visited, so there is no
 * bounds test per element.
 */
function col2im(mem: FloatArray, p: Product, g: number, d: ConvDims, dx: TypedArray): void {
  // Entry (k, j) of ∂col sits at p.c + k·kStep + j·jStep, whichever orientation was computed.
  const kStep = p.transposed ? 1 : p.ldc;
  const jStep = p.transposed ? p.ldc : 1;
  const range = (k: number, stride: number, pad: number, dil: number, size: number, count: number): [number, number] => {
    const start = k * dil - pad;
    const lo = start >= 0 ? 0 : Math.ceil(-start / stride);
    const hi = Math.min(count, Math.floor((size - 1 - start) / stride) + 1);
    return [Math.min(lo, count), Math.max(Math.min(lo, count), hi)];
  };
  for (let c = 0, k = 0; c < d.Cg; c++) {
    for (let kh = 0; kh < d.KH; kh++) {
      const [ohLo, ohHi] = range(kh, d.sh, d.ph, d.dh, d.H, d.Ho);
      const hStart = kh * d.dh - d.ph;
      for (let kw = 0; kw < d.KW; kw++, k++) {
        const [owLo, owHi] = range(kw, d.sw, d.pw, d.dw, d.W, d.Wo);
        const wStart = kw * d.dw - d.pw;
        for (let n = 0; n < d.N; n++) {
          const plane = (n * d.Cin + g * d.Cg + c) * d.H * d.W;
          for (let oh = ohLo; oh < ohHi; oh++) {
            let t = plane + (oh * d.sh + hStart) * d.W + owLo * d.sw + wStart;
            let s = p.c + k * kStep + (n * d.P + oh * d.Wo + owLo) * jStep;
            for (let ow = owLo; ow < owHi; ow++, t += d.sw, s += jStep) dx[t] += mem[s]!;
          }
        }
      }
    }
  }
}
