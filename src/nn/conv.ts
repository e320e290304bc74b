/**
 * Conv2d: 2-D cross-correlation of x [N, Cin, H, W] with W [Cout, Cin/groups, kh, kw], plus a
 * bias [Cout] (PyTorch's layout and semantics).
 */
import { conv2d } from '../autograd/ops/conv2d.js';
import type { Pair } from '../kernels/geometry.js';
import { assertShape, assertValue, formatShape } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { initBias, initWeight, layerKeys, type InitOptions } from './init.js';
import { Module } from './module.js';

export interface Conv2dLayerOptions extends InitOptions {
  stride?: number | Pair;
  padding?: number | Pair;
  dilation?: number | Pair;
  groups?: number;
  bias?: boolean;
}

export class Conv2d extends Module {
  private readonly hasBias: boolean;
  private readonly geometry: { stride: number | Pair; padding: number | Pair; dilation: number | Pair; groups: number };

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number | Pair,
    options: Conv2dLayerOptions,
  ) {
    super();
    const { scheme = 'pytorch', dtype = 'float32', bias = true, stride = 1, padding = 0, dilation = 1, groups = 1 } = options;
    const [kh, kw] = typeof kernelSize === 'number' ? [kernelSize, kernelSize] : kernelSize;
    assertValue(
      Number.isInteger(groups) && groups >= 1 && inChannels % groups === 0 && outChannels % groups === 0,
      () => `Conv2d(${inChannels} → ${outChannels}): groups must be an integer ≥ 1 dividing both channel counts; got groups=${groups}`,
    );
    const shape = [outChannels, inChannels / groups, kh, kw];
    const keys = layerKeys(options.seed);
    this.registerParameter('weight', initWeight(shape, scheme, keys.weight, dtype));
    if (bias) this.registerParameter('bias', initBias(outChannels, shape, scheme, keys.bias, dtype));
    this.hasBias = bias;
    this.geometry = { stride, padding, dilation, groups };
  }

  override describe(): string {
    return `Conv2d(${this.inChannels} → ${this.outChannels}, k${JSON.stringify(this.kernelSize)})`;
  }

  forward(x: Tensor): Tensor {
    assertShape(
      x.rank === 4 && x.shape[1] === this.inChannels,
      () => `${this.describe()}: expected input [N, ${this.inChannels}, H, W]; got ${formatShape(x.shape)}`,
    );
    const y = conv2d(x, this.param('weight'), this.geometry);
    return this.hasBias ? y.add(this.param('bias').reshape([1, this.outChannels, 1, 1])) : y;
  }
}
