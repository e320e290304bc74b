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

/** Options of Linear: the initialisation (a required seed) and whether there is a bias. */
export interface LinearOptions extends InitOptions {
  /** Add a learnable bias [out] (default true). */
  bias?: boolean;
}

/**
 * A fully connected layer (torch.nn.Linear): y = x Wᵀ + b for x [..., in] → [..., out].
 * Parameters 'weight' [out, in] and, unless `bias: false`, 'bias' [out], initialised from the
 * seed (PyTorch's default scheme unless `scheme` says otherwise).
 * @example const fc = new Linear(784, 10, { seed: 0 }); fc.forward(x); // x [N, 784] → [N, 10]
 */
export class Linear extends Module {
  constructor(
    /** The size of the input's last axis; an integer ≥ 1. */
    readonly inFeatures: number,
    /** The size of the output's last axis; an integer ≥ 1. */
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
    // NOTE: the bias add is not fused with a following ReLU. A fused loop measured 1.1–1.3×
    // the two kernels (bench/micro/elementwise.mjs), 10–35 µs per [128, 256] layer: under 1 % of
    // an MLP gradient. A layer cannot see the module after it, a user's x.matmul(w).add(b).relu()
    // would not take it, and per-sample gradients would need a rule of their own for it. The
    // add's row-broadcast loop and the branch-free relu (kernels/cpu) took the gain instead.
    return this.hasBias ? y.add(this.param('bias')) : y;
  }
}
