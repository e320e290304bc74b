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

export interface PoolLayerOptions {
  stride?: number | Pair;
  padding?: number | Pair;
}

export class MaxPool2d extends Module {
  constructor(
    readonly kernelSize: number | Pair,
    readonly options: PoolLayerOptions & { dilation?: number | Pair } = {},
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    assertShape(x.rank === 4, () => `MaxPool2d: expected input [N, C, H, W]; got ${formatShape(x.shape)}`);
    return maxPool2d(x, this.kernelSize, this.options).values;
  }
}

export class AvgPool2d extends Module {
  constructor(
    readonly kernelSize: number | Pair,
    readonly options: PoolLayerOptions & { countIncludePad?: boolean } = {},
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    assertShape(x.rank === 4, () => `AvgPool2d: expected input [N, C, H, W]; got ${formatShape(x.shape)}`);
    return avgPool2d(x, this.kernelSize, this.options);
  }
}

export class GlobalAvgPool2d extends Module {
  forward(x: Tensor): Tensor {
    assertShape(x.rank === 4, () => `GlobalAvgPool2d: expected input [N, C, H, W]; got ${formatShape(x.shape)}`);
    return x.mean([2, 3]);
  }
}
