/**
 * Pooling layers (NCHW). MaxPool2d and AvgPool2d follow torch.nn (stride defaults to the
 * kernel size); GlobalAvgPool2d averages each channel over its whole plane and returns [N, C].
 */
import { avgPool2d } from '../autograd/ops/avg-pool2d.js';
import { maxPool2d } from '../autograd/ops/max-pool2d.js';
import type { Pair } from '../kernels/geometry.js';
import { assertShape, formatShape } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { Module } from './module.js';
import { boolArgument, optionsArgument, pairArgument } from '../tensor/arguments.js';

/** Window options shared by MaxPool2d and AvgPool2d (a number means both H and W). */
export interface PoolLayerOptions {
  /** Step of the window, integers ≥ 1. Default (or null): the kernel size, non-overlapping windows, as in torch.nn. */
  stride?: number | Pair;
  /**
   * Padding on each side of H and W, integers ≥ 0 and at most half the kernel; default 0.
   * Implicit −∞ for MaxPool2d, zeros for AvgPool2d.
   */
  padding?: number | Pair;
}

/** A pooling layer's kernel and options, checked when it is built (not at its first forward). */
function checkPoolLayer(op: string, kernelSize: unknown, options: PoolLayerOptions & { dilation?: number | Pair }): void {
  pairArgument(op, 'the kernel size', kernelSize, 1);
  optionsArgument(op, options);
  // stride null means the kernel size, as in PyTorch.
  if (options.stride !== undefined && options.stride !== null) pairArgument(op, 'stride', options.stride, 1);
  if (options.padding !== undefined) pairArgument(op, 'padding', options.padding, 0);
  if (options.dilation !== undefined) pairArgument(op, 'dilation', options.dilation, 1);
}

/**
 * Max pooling over windows of x [N, C, H, W] → [N, C, Ho, Wo] (torch.nn.MaxPool2d); the
 * gradient goes to the first maximum of each window. The options are checked when the layer is
 * built.
 * @example new MaxPool2d(2) // 2×2 windows, stride 2: [N, C, 28, 28] → [N, C, 14, 14]
 */
export class MaxPool2d extends Module {
  constructor(
    /** [kh, kw] of the window, or one number for a square window; integers ≥ 1. */
    readonly kernelSize: number | Pair,
    /** Stride, padding and dilation of the window, as given (defaults applied per call). */
    readonly options: PoolLayerOptions & {
      /** Spacing between window taps, integers ≥ 1; default 1. */
      dilation?: number | Pair;
    } = {},
  ) {
    super();
    checkPoolLayer('MaxPool2d', kernelSize, options);
  }
  forward(x: Tensor): Tensor {
    assertShape(this.input(x).rank === 4, () => `MaxPool2d: expected input [N, C, H, W]; got ${formatShape(x.shape)}`);
    return maxPool2d(x, this.kernelSize, this.options).values;
  }
}

/**
 * Average pooling over windows of x [N, C, H, W] → [N, C, Ho, Wo] with zero padding
 * (torch.nn.AvgPool2d). The options are checked when the layer is built.
 */
export class AvgPool2d extends Module {
  constructor(
    /** [kh, kw] of the window, or one number for a square window; integers ≥ 1. */
    readonly kernelSize: number | Pair,
    /** Stride, padding and the divisor rule of the window, as given (defaults applied per call). */
    readonly options: PoolLayerOptions & {
      /**
       * Divide by kh·kw, padded zeros included (true, PyTorch's default), or by the number of
       * window elements inside the unpadded input (false).
       */
      countIncludePad?: boolean;
    } = {},
  ) {
    super();
    checkPoolLayer('AvgPool2d', kernelSize, options);
    boolArgument('AvgPool2d', 'countIncludePad', options.countIncludePad, true);
  }
  forward(x: Tensor): Tensor {
    assertShape(this.input(x).rank === 4, () => `AvgPool2d: expected input [N, C, H, W]; got ${formatShape(x.shape)}`);
    return avgPool2d(x, this.kernelSize, this.options);
  }
}

/**
 * The mean of each channel over its whole plane: x [N, C, H, W] → [N, C] (the axes are
 * dropped, as torch.nn.AdaptiveAvgPool2d(1) followed by flatten(1)).
 */
export class GlobalAvgPool2d extends Module {
  forward(x: Tensor): Tensor {
    assertShape(this.input(x).rank === 4, () => `GlobalAvgPool2d: expected input [N, C, H, W]; got ${formatShape(x.shape)}`);
    return x.mean([2, 3]);
  }
}
