/**
 * Conv2d: 2-D cross-correlation of x [N, Cin, H, W] with W [Cout, Cin/groups, kh, kw], plus a
 * bias [Cout] (PyTorch's layout and semantics).
 */
import { conv2d } from '../autograd/ops/conv2d.js';
import type { Pair } from '../kernels/geometry.js';
import { assertShape, assertValue, formatShape } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { initBias, initWeight, layerInit, type InitOptions } from './init.js';
import { Module } from './module.js';
import { boolArgument, intArgument, pairArgument } from '../tensor/arguments.js';

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
    intArgument('Conv2d', 'inChannels', inChannels, 1);
    intArgument('Conv2d', 'outChannels', outChannels, 1);
    const [kh, kw] = pairArgument('Conv2d', 'the kernel size', kernelSize, 1);
    const { keys, scheme, dtype } = layerInit('Conv2d', options);
    const bias = boolArgument('Conv2d', 'bias', options.bias, true);
    const stride = options.stride === undefined ? 1 : options.stride;
    const padding = options.padding === undefined ? 0 : options.padding;
    const dilation = options.dilation === undefined ? 1 : options.dilation;
    pairArgument('Conv2d', 'stride', stride, 1);
    pairArgument('Conv2d', 'padding', padding, 0);
    pairArgument('Conv2d', 'dilation', dilation, 1);
    const groups = options.groups === undefined ? 1 : options.groups;
    assertValue(
      Number.isInteger(groups) && groups >= 1 && inChannels % groups === 0 && outChannels % groups === 0,
      () => `Conv2d(${inChannels} → ${outChannels}): groups must be an integer ≥ 1 dividing both channel counts; got groups=${groups}`,
    );
    const shape = [outChannels, inChannels / groups, kh, kw];
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
      this.input(x).rank === 4 && x.shape[1] === this.inChannels,
      () => `${this.describe()}: expected input [N, ${this.inChannels}, H, W]; got ${formatShape(x.shape)}`,
    );
    const y = conv2d(x, this.param('weight'), this.geometry);
    return this.hasBias ? y.add(this.param('bias').reshape([1, this.outChannels, 1, 1])) : y;
  }
}
