/**
 * Linear: y = x Wᵀ + b, with W [out, in] and b [out] (PyTorch's layout). x may have any
 * number of leading axes; the last must be `in`.
 */
import { matmul } from '../autograd/ops/matmul.js';
import { assertShape, formatShape } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { initBias, initWeight, layerInit, type InitOptions } from './init.js';
import { Module } from './module.js';
import { boolArgument, intArgument } from '../tensor/arguments.js';

export interface LinearOptions extends InitOptions {
  bias?: boolean;
}

export class Linear extends Module {
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    options: LinearOptions,
  ) {
    super();
    intArgument('Linear', 'inFeatures', inFeatures, 1);
    intArgument('Linear', 'outFeatures', outFeatures, 1);
    const { keys, scheme, dtype } = layerInit('Linear', options);
    const bias = boolArgument('Linear', 'bias', options.bias, true);
    const shape = [outFeatures, inFeatures];
    this.registerParameter('weight', initWeight(shape, scheme, keys.weight, dtype));
    if (bias) this.registerParameter('bias', initBias(outFeatures, shape, scheme, keys.bias, dtype));
    this.hasBias = bias;
  }

  private readonly hasBias: boolean;

  override describe(): string {
    return `Linear(${this.inFeatures} → ${this.outFeatures}${this.hasBias ? '' : ', no bias'})`;
  }

  forward(x: Tensor): Tensor {
    assertShape(
      this.input(x).rank >= 1 && x.shape[x.rank - 1] === this.inFeatures,
      () => `${this.describe()}: expected input [..., ${this.inFeatures}]; got ${formatShape(x.shape)}`,
    );
    const y = matmul(x, this.param('weight').transpose());
    return this.hasBias ? y.add(this.param('bias')) : y;
  }
}
