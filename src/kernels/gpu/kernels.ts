/**
 * The GPU.js kernel sources: one plain function per op, shared by every GPU.js mode. GPU.js
 * reads each function's source text and transpiles it — to JavaScript (`cpu`), WebAssembly
 * (`webasm`) or GLSL (`headlessgl`, `webgl`, `webgl2`) — so these functions obey GPU.js's
 * rules, not ordinary TypeScript's:
 *
 * - each call computes ONE output element, chosen by `this.thread` (x fastest, then y, z);
 * - shapes and geometry are `this.constants`, baked into the compiled kernel (so loop bounds
 *   are compile-time constants, which GLSL requires);
 * - operands are packed float32 arrays read as `[z][y][x]` (see `input()` in ops.ts): a 4-D
 *   NCHW tensor is passed as 3-D `[N·C][H][W]`;
 * - no closures, no calls to our own helpers, no `continue`: only arithmetic, `Math`, `if`
 *   and constant-bound `for`.
 *
 * Integer arithmetic happens in float32 on the GPU modes, so:
 * - a quotient of integers is taken as `Math.floor((a + 0.5) / b)`: the exact quotient sits
 *   at least 0.5/b away from the next integer, so float rounding can never cross it (plain
 *   `Math.floor(a / b)` can return q − 1 when a/b rounds to just below q);
 * - divisibility is tested by multiplying back (`q * s === t`), not with `%` (GLSL's `mod` and
 *   JavaScript's `%` disagree on negative operands).
 */

/** The part of GPU.js's kernel `this` these kernels use. */
export interface KernelThis<C> {
  /** Which output element this call computes. */
  readonly thread: {
    /** Index along the output's fastest axis. */
    readonly x: number;
    /** Index along the middle axis. */
    readonly y: number;
    /** Index along the slowest axis. */
    readonly z: number;
  };
  /** The constants baked into the compiled kernel (shapes, geometry). */
  readonly constants: C;
}

/** A packed operand as a kernel sees it: `[z][y][x]`. */
export type Grid = number[][][];

// ---- matmul ----------------------------------------------------------------------------

/** The constants of matmulKernel. */
export interface MatmulConstants {
  /** Inner dimension. */
  K: number;
  /** 1 if a has one matrix per batch entry, 0 if one matrix is shared by all. */
  aStep: number;
  /** Likewise for b. */
  bStep: number;
}

/** out[t][i][j] = Σ_k a[t][i][k] · b[t][k][j]; output [N, M, batch]. */
export function matmulKernel(this: KernelThis<MatmulConstants>, a: Grid, b: Grid): number {
  const t = this.thread.z;
  const i = this.thread.y;
  const j = this.thread.x;
  const ta = t * this.constants.aStep;
  const tb = t * this.constants.bStep;
  let sum = 0;
  for (let k = 0; k < this.constants.K; k++) {
    sum += a[ta][i][k] * b[tb][k][j];
  }
  return sum;
}

// ---- convolution -----------------------------------------------------------------------

/** Everything a convolution kernel needs, all integers (see convConstants in ops.ts). */
export interface ConvConstants {
  /** Batch size. */
  N: number;
  /** Input channels. */
  Cin: number;
  /** Output channels. */
  Cout: number;
  /** Input channels per group (= weight.shape[1]). */
  Cg: number;
  /** Output channels per group. */
  CoutG: number;
  /** Input height. */
  H: number;
  /** Input width. */
  W: number;
  /** Kernel height. */
  KH: number;
  /** Kernel width. */
  KW: number;
  /** Output height. */
  Ho: number;
  /** Output width. */
  Wo: number;
  /** Stride along H. */
  sh: number;
  /** Stride along W. */
  sw: number;
  /** Padding along H (each side). */
  ph: number;
  /** Padding along W (each side). */
  pw: number;
  /** Dilation along H. */
  dh: number;
  /** Dilation along W. */
  dw: number;
}

/**
 * conv2d: out[n, co, oh, ow] = Σ_{c, kh, kw} x[n, g·Cg + c, ih, iw] · w[co, c, kh, kw], with
 * ih = oh·sh − ph + kh·dh (likewise iw) and g = co's group; taps in the padding add nothing.
 * x is [N·Cin][H][W], w is [Cout·Cg][KH][KW]; output [Wo, Ho, N·Cout].
 */
export function conv2dKernel(this: KernelThis<ConvConstants>, x: Grid, w: Grid): number {
  const z = this.thread.z;
  const n = Math.floor((z + 0.5) / this.constants.Cout);
  const co = z - n * this.constants.Cout;
  const firstIn = Math.floor((co + 0.5) / this.constants.CoutG) * this.constants.Cg;
  const oh = this.thread.y;
  const ow = this.thread.x;
  let sum = 0;
  for (let c = 0; c < this.constants.Cg; c++) {
    const xPlane = n * this.constants.Cin + firstIn + c;
    const wPlane = co * this.constants.Cg + c;
    for (let kh = 0; kh < this.constants.KH; kh++) {
      const ih = oh * this.constants.sh - this.constants.ph + kh * this.constants.dh;
      if (ih >= 0 && ih < this.constants.H) {
        for (let kw = 0; kw < this.constants.KW; kw++) {
          const iw = ow * this.constants.sw - this.constants.pw + kw * this.constants.dw;
          if (iw >= 0 && iw < this.constants.W) {
            sum += x[xPlane][ih][iw] * w[wPlane][kh][kw];
          }
        }
      }
    }
  }
  return sum;
}

/**
 * The gradient of conv2d with respect to x, gathered per input element: every output position
 * whose window reads x[n, ci, ih, iw] through tap (kh, kw) — oh = (ih + ph − kh·dh) / sh when
 * that is a whole number in [0, Ho) — adds gy[n, co, oh, ow] · w[co, c, kh, kw], over the output
 * channels co of ci's group. gy is [N·Cout][Ho][Wo]; output [W, H, N·Cin].
 */
export function conv2dBackwardInputKernel(this: KernelThis<ConvConstants>, gy: Grid, w: Grid): number {
  const z = this.thread.z;
  const n = Math.floor((z + 0.5) / this.constants.Cin);
  const ci = z - n * this.constants.Cin;
  const group = Math.floor((ci + 0.5) / this.constants.Cg);
  const c = ci - group * this.constants.Cg;
  const ih = this.thread.y;
  const iw = this.thread.x;
  let sum = 0;
  for (let kh = 0; kh < this.constants.KH; kh++) {
    const th = ih + this.constants.ph - kh * this.constants.dh;
    const oh = Math.floor((th + 0.5) / this.constants.sh);
    if (th >= 0 && oh * this.constants.sh === th && oh < this.constants.Ho) {
      for (let kw = 0; kw < this.constants.KW; kw++) {
        const tw = iw + this.constants.pw - kw * this.constants.dw;
        const ow = Math.floor((tw + 0.5) / this.constants.sw);
        if (tw >= 0 && ow * this.constants.sw === tw && ow < this.constants.Wo) {
          for (let j = 0; j < this.constants.CoutG; j++) {
            const co = group * this.constants.CoutG + j;
            sum += gy[n * this.constants.Cout + co][oh][ow] * w[co * this.constants.Cg + c][kh][kw];
          }
        }
      }
    }
  }
  return sum;
}

/**
 * The gradient of conv2d with respect to w: dw[co, c, kh, kw] = Σ_{n, oh, ow}
 * x[n, g·Cg + c, ih, iw] · gy[n, co, oh, ow] over the positions where the tap is inside x.
 * Output [KW, KH, Cout·Cg].
 */
export function conv2dBackwardWeightKernel(this: KernelThis<ConvConstants>, x: Grid, gy: Grid): number {
  const z = this.thread.z;
  const co = Math.floor((z + 0.5) / this.constants.Cg);
  const c = z - co * this.constants.Cg;
  const ci = Math.floor((co + 0.5) / this.constants.CoutG) * this.constants.Cg + c;
  const kh = this.thread.y;
  const kw = this.thread.x;
  let sum = 0;
  for (let n = 0; n < this.constants.N; n++) {
    const xPlane = n * this.constants.Cin + ci;
    const gPlane = n * this.constants.Cout + co;
    for (let oh = 0; oh < this.constants.Ho; oh++) {
      const ih = oh * this.constants.sh - this.constants.ph + kh * this.constants.dh;
      if (ih >= 0 && ih < this.constants.H) {
        for (let ow = 0; ow < this.constants.Wo; ow++) {
          const iw = ow * this.constants.sw - this.constants.pw + kw * this.constants.dw;
          if (iw >= 0 && iw < this.constants.W) {
            sum += x[xPlane][ih][iw] * gy[gPlane][oh][ow];
          }
        }
      }
    }
  }
  return sum;
}

// ---- pooling ---------------------------------------------------------------------------

/** Window geometry of a pooling kernel over planes of H × W. */
export interface PoolConstants {
  /** Input height. */
  H: number;
  /** Input width. */
  W: number;
  /** Window height. */
  KH: number;
  /** Window width. */
  KW: number;
  /** Output height. */
  Ho: number;
  /** Output width. */
  Wo: number;
  /** Stride along H. */
  sh: number;
  /** Stride along W. */
  sw: number;
  /** Padding along H (each side). */
  ph: number;
  /** Padding along W (each side). */
  pw: number;
  /** Dilation along H. */
  dh: number;
  /** Dilation along W. */
  dw: number;
}

/**
 * The flat index h·W + w (within its plane) of the first maximum of each window; a NaN beats
 * every number and the first NaN wins, as in the CPU backend. The values are then read from x
 * at these indices on the CPU, so they are exactly x's values. x is [N·C][H][W]; output
 * [Wo, Ho, N·C] of whole numbers (exact in float32 below 2^24).
 */
export function maxPoolIndexKernel(this: KernelThis<PoolConstants>, x: Grid): number {
  const plane = this.thread.z;
  const oh = this.thread.y;
  const ow = this.thread.x;
  let best = 0;
  // -1 until the first in-bounds element; every window has one, since padding ≤ kernel / 2.
  let bestIndex = -1;
  for (let kh = 0; kh < this.constants.KH; kh++) {
    const h = oh * this.constants.sh - this.constants.ph + kh * this.constants.dh;
    if (h >= 0 && h < this.constants.H) {
      for (let kw = 0; kw < this.constants.KW; kw++) {
        const w = ow * this.constants.sw - this.constants.pw + kw * this.constants.dw;
        if (w >= 0 && w < this.constants.W) {
          const v = x[plane][h][w];
          // NOTE: v !== v is the NaN test; GLSL compilers may fold it away, so NaN ordering
          // is only guaranteed on the cpu and webasm modes.
          if (bestIndex < 0 || v > best || (v !== v && best === best)) {
            best = v;
            bestIndex = h * this.constants.W + w;
          }
        }
      }
    }
  }
  return bestIndex;
}

/**
 * avgPool2d: the sum of each window's in-bounds elements over its divisor (divisor[oh][ow],
 * computed on the CPU because it depends only on the geometry). Output [Wo, Ho, N·C].
 */
export function avgPoolKernel(this: KernelThis<PoolConstants>, x: Grid, divisor: number[][]): number {
  const plane = this.thread.z;
  const oh = this.thread.y;
  const ow = this.thread.x;
  let sum = 0;
  for (let kh = 0; kh < this.constants.KH; kh++) {
    const h = oh * this.constants.sh - this.constants.ph + kh * this.constants.dh;
    if (h >= 0 && h < this.constants.H) {
      for (let kw = 0; kw < this.constants.KW; kw++) {
        const w = ow * this.constants.sw - this.constants.pw + kw * this.constants.dw;
        if (w >= 0 && w < this.constants.W) {
          sum += x[plane][h][w];
        }
      }
    }
  }
  return sum / divisor[oh][ow];
}

/**
 * avgPool2d's transpose, gathered per input element: the windows (oh, ow) that contain (h, w)
 * each give gy[oh][ow] / divisor[oh][ow]. gy is [N·C][Ho][Wo]; output [W, H, N·C].
 */
export function avgPoolBackwardKernel(this: KernelThis<PoolConstants>, gy: Grid, divisor: number[][]): number {
  const plane = this.thread.z;
  const h = this.thread.y;
  const w = this.thread.x;
  let sum = 0;
  for (let kh = 0; kh < this.constants.KH; kh++) {
    const th = h + this.constants.ph - kh * this.constants.dh;
    const oh = Math.floor((th + 0.5) / this.constants.sh);
    if (th >= 0 && oh * this.constants.sh === th && oh < this.constants.Ho) {
      for (let kw = 0; kw < this.constants.KW; kw++) {
        const tw = w + this.constants.pw - kw * this.constants.dw;
        const ow = Math.floor((tw + 0.5) / this.constants.sw);
        if (tw >= 0 && ow * this.constants.sw === tw && ow < this.constants.Wo) {
          sum += gy[plane][oh][ow] / divisor[oh][ow];
        }
      }
    }
  }
  return sum;
}
