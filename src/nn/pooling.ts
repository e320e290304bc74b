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

export interface PoolLayerOptions {
  stride?: number | Pair;
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

export class MaxPool2d extends Module {
  constructor(
    readonly kernelSize: number | Pair,
    readonly options: PoolLayerOptions & { dilation?: number | Pair } = {},
  ) {
    super();
    checkPoolLayer('MaxPool2d', kernelSize, options);
  }
  forward(x: Tensor): Tensor {
    assertShape(this.input(x).rank === 4, () => `MaxPool2d: expected input [N, C, H, W]; got ${formatShape(x.shape)}`);
    return maxPool2d(x, this.kernelSize, this.options).values;
  }
}

export class AvgPool2d extends Module {
  constructor(
    readonly kernelSize: number | Pair,
    readonly options: PoolLayerOptions & { countIncludePad?: boolean } = {},
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

export class GlobalAvgPool2d extends Module {
  forward(x: Tensor): Tensor {
    assertShape(this.input(x).rank === 4, () => `GlobalAvgPool2d: expected input [N, C, H, W]; got ${formatShape(x.shape)}`);
    return x.mean([2, 3]);
  }
}
