/**
 * Geometry of 2-D convolution and pooling windows (NCHW layout, PyTorch semantics), shared by
 * every backend and by the autograd ops that validate arguments.
 *
 *   out = floor((in + 2·padding − dilation·(kernel − 1) − 1) / stride) + 1     (per axis)
 */

/** [height, width] pairs. */
export type Pair = readonly [number, number];

/** A number means the same value for height and width. */
export function toPair(v: number | Pair): Pair {
  return typeof v === 'number' ? [v, v] : v;
}

export interface Conv2dGeometry {
  stride: Pair;
  padding: Pair;
  dilation: Pair;
  groups: number;
}

export interface PoolGeometry {
  kernel: Pair;
  stride: Pair;
  padding: Pair;
  dilation: Pair;
}

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
  N: number;
  Cin: number;
  H: number;
  W: number;
  Cout: number;
  KH: number;
  KW: number;
  Ho: number;
  Wo: number;
  groups: number;
  /** Input channels per group (= weight.shape[1]). */
  Cg: number;
  /** Output channels per group. */
  Coutg: number;
  /** Rows of a column matrix: Cg·KH·KW. */
  kdim: number;
  /** Output positions per image: Ho·Wo. */
  P: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  dh: number;
  dw: number;
}

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
