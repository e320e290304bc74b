/**
 * Geometry of 2-D convolution and pooling windows (NCHW layout, PyTorch semantics), shared by
 * every backend and by the autograd ops that validate arguments.
 *
 *   out = floor((in + 2·padding − dilation·(kernel − 1) − 1) / stride) + 1     (per axis)
 */

/** A [height, width] pair: a kernel size, stride, padding or dilation per spatial axis. */
export type Pair = readonly [number, number];

/** A number means the same value for height and width. */
export function toPair(v: number | Pair): Pair {
  return typeof v === 'number' ? [v, v] : v;
}

/**
 * The window of conv2d with every default applied (torch.nn.functional.conv2d's arguments);
 * the kernel size is the weight's [kh, kw].
 */
export interface Conv2dGeometry {
  /** Step of the window in input pixels, integers ≥ 1. */
  stride: Pair;
  /** Zero padding on each side of H and W, integers ≥ 0. */
  padding: Pair;
  /** Spacing between kernel taps, integers ≥ 1 (1: a dense kernel). */
  dilation: Pair;
  /** Channel groups, dividing Cin and Cout; the weight is [Cout, Cin/groups, kh, kw]. */
  groups: number;
}

/** The window of a pooling op with every default applied (stride already resolved from the kernel). */
export interface PoolGeometry {
  /** [kh, kw] of the window, integers ≥ 1. */
  kernel: Pair;
  /** Step of the window, integers ≥ 1. */
  stride: Pair;
  /** Padding on each side of H and W, at most half the kernel (−∞ for max, zeros for average pooling). */
  padding: Pair;
  /** Spacing between window taps, integers ≥ 1. */
  dilation: Pair;
}

/** A PoolGeometry plus how average pooling divides. */
export interface AvgPoolGeometry extends PoolGeometry {
  /** Divide by kh·kw (true) or by the number of window elements inside the unpadded input. */
  countIncludePad: boolean;
}

/** Output size of one axis of a sliding window. */
export function windowOutput(size: number, kernel: number, stride: number, padding: number, dilation: number): number {
  return Math.floor((size + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1;
}

/** [N, Cout, Ho, Wo] of conv2d(x [N, Cin, H, W], w [Cout, Cin/groups, kh, kw]). */
export function conv2dOutputShape(x: readonly number[], w: readonly number[], g: Conv2dGeometry): number[] {
  return [
    x[0]!,
    w[0]!,
    windowOutput(x[2]!, w[2]!, g.stride[0], g.padding[0], g.dilation[0]),
    windowOutput(x[3]!, w[3]!, g.stride[1], g.padding[1], g.dilation[1]),
  ];
}

/** [N, C, Ho, Wo] of a pooling window over x [N, C, H, W]. */
export function poolOutputShape(x: readonly number[], g: PoolGeometry): number[] {
  return [
    x[0]!,
    x[1]!,
    windowOutput(x[2]!, g.kernel[0], g.stride[0], g.padding[0], g.dilation[0]),
    windowOutput(x[3]!, g.kernel[1], g.stride[1], g.padding[1], g.dilation[1]),
  ];
}

/** Every size and step of one convolution, named once. */
export interface ConvDims {
  /** Batch size. */
  N: number;
  /** Input channels. */
  Cin: number;
  /** Input height. */
  H: number;
  /** Input width. */
  W: number;
  /** Output channels (= weight.shape[0]). */
  Cout: number;
  /** Kernel height. */
  KH: number;
  /** Kernel width. */
  KW: number;
  /** Output height. */
  Ho: number;
  /** Output width. */
  Wo: number;
  /** Channel groups. */
  groups: number;
  /** Input channels per group (= weight.shape[1]). */
  Cg: number;
  /** Output channels per group. */
  Coutg: number;
  /** Rows of a column matrix: Cg·KH·KW. */
  kdim: number;
  /** Output positions per image: Ho·Wo. */
  P: number;
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

/** The ConvDims of conv2d(x [N, Cin, H, W], w [Cout, Cin/groups, kh, kw]) under `g` (shapes not checked). */
export function convDims(xShape: readonly number[], wShape: readonly number[], g: Conv2dGeometry): ConvDims {
  const [N, Cin, H, W] = xShape as [number, number, number, number];
  const [Cout, Cg, KH, KW] = wShape as [number, number, number, number];
  const [, , Ho, Wo] = conv2dOutputShape(xShape, wShape, g) as [number, number, number, number];
  return {
    N, Cin, H, W, Cout, KH, KW, Ho, Wo,
    groups: g.groups,
    Cg,
    Coutg: Cout / g.groups,
    kdim: Cg * KH * KW,
    P: Ho * Wo,
    sh: g.stride[0], sw: g.stride[1],
    ph: g.padding[0], pw: g.padding[1],
    dh: g.dilation[0], dw: g.dilation[1],
  };
}
