/**
 * GroupNorm (Wu & He 2018) with PyTorch semantics: x [N, C, *] is normalised per sample over
 * each of G groups of C/G consecutive channels (and every position), with the biased variance,
 *
 *   y = (x − μ_{n,g}) / √(σ²_{n,g} + ε) · γ_c + β_c,
 *
 * ε = 1e-5 by default, γ = 1 and β = 0 initially (affine). There are no running statistics and
 * no train/eval difference: each sample is normalised by its own values, so per-sample
 * gradients and vmap go through it. The computation is the groupNorm composite
 * (src/autograd/composite/group-norm.ts).
 */
import { groupNorm } from '../autograd/composite/group-norm.js';
import { ones, zeros } from '../tensor/creation.js';
import type { FloatDType } from '../tensor/dtype.js';
import { ValueError, assertShape, formatShape } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { Module } from './module.js';
import { boolArgument, finiteArgument, floatDTypeArgument, intArgument, optionsArgument } from '../tensor/arguments.js';

/** Options of GroupNorm (torch.nn.GroupNorm's, in camelCase). */
export interface GroupNormOptions {
  /** Added to the variance before the square root, for stability (default 1e-5). */
  eps?: number;
  /** Learnable per-channel γ ('weight') and β ('bias'), each [C] (default true). */
  affine?: boolean;
  /** dtype of γ and β (default 'float32'); the input should match. */
  dtype?: FloatDType;
}

/**
 * Group normalisation of x [N, C, *] (torch.nn.GroupNorm): statistics per sample and per group
 * of C/numGroups channels; parameters 'weight' (γ, ones) and 'bias' (β, zeros), each [C],
 * unless `affine: false`. The formula is in the file comment.
 * @example new GroupNorm(2, 6).forward(x) // x [N, 6, H, W]: two groups of three channels
 */
export class GroupNorm extends Module {
  /** Added to the variance before the square root (GroupNormOptions.eps). */
  readonly eps: number;
  /** Whether the layer has the parameters 'weight' and 'bias'. */
  readonly affine: boolean;

  constructor(
    /** G, the number of groups; it must divide numChannels. */
    readonly numGroups: number,
    /** C, the channels of the input (axis 1) and the size of 'weight' and 'bias'. */
    readonly numChannels: number,
    options: GroupNormOptions = {},
  ) {
    super();
    intArgument('GroupNorm', 'numGroups', numGroups, 1);
    intArgument('GroupNorm', 'numChannels', numChannels, 1);
    if (numChannels % numGroups !== 0) {
      throw new ValueError(`GroupNorm: numChannels = ${numChannels} must be divisible by numGroups = ${numGroups}`);
    }
    optionsArgument('GroupNorm', options);
    this.eps = finiteArgument('GroupNorm', 'eps', options.eps, 1e-5);
    this.affine = boolArgument('GroupNorm', 'affine', options.affine, true);
    const dtype = floatDTypeArgument('GroupNorm', options.dtype, 'float32');
    if (this.affine) {
      this.registerParameter('weight', ones([numChannels], { dtype }));
      this.registerParameter('bias', zeros([numChannels], { dtype }));
    }
  }

  override describe(): string {
    return `GroupNorm(${this.numGroups}, ${this.numChannels}${this.affine ? '' : ', no affine'})`;
  }

  forward(x: Tensor): Tensor {
    assertShape(
      this.input(x).rank >= 2 && x.shape[1] === this.numChannels,
      () => `${this.describe()}: expected input [N, ${this.numChannels}, *] (rank ≥ 2); got ${formatShape(x.shape)}`,
    );
    return this.affine ? groupNorm(x, this.numGroups, this.param('weight'), this.param('bias'), this.eps) : groupNorm(x, this.numGroups, null, null, this.eps);
  }
}
