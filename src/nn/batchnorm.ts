/**
 * BatchNorm1d ([N, C] or [N, C, L]) and BatchNorm2d ([N, C, H, W]) with PyTorch semantics:
 *
 *   train:  y = (x − μ_B) / √(σ²_B + ε) · γ + β,  μ_B and the BIASED σ²_B over every axis but 1;
 *           running_mean ← (1 − m)·running_mean + m·μ_B
 *           running_var  ← (1 − m)·running_var  + m·σ²_B · n/(n − 1)   (the UNBIASED variance)
 *   eval:   y = (x − running_mean) / √(running_var + ε) · γ + β  (computed as x·s + t, below)
 *
 * with momentum m = 0.1 and ε = 1e-5 by default, γ = 1 and β = 0 initially (affine), running
 * statistics 0 and 1. In train mode the gradient includes the paths through μ_B and σ²_B (so
 * samples of a batch interact). The running statistics are buffers: `saveStats()` /
 * `restoreStats()` on any module keep them as a value (docs/design.md §8).
 *
 * Train mode is one fused primitive, batchNormTrain (src/autograd/ops/batch-norm.ts): two
 * passes over the data forward and two backward, differentiable to any order; it also returns
 * μ_B and σ²_B for the running statistics. Eval mode is y = x·s + t with s and t per channel
 * computed from the buffers, one primitive too (channelAffine: one pass forward, two backward).
 */
import { noGrad } from '../autograd/mode.js';
import { batchNormTrain } from '../autograd/ops/batch-norm.js';
import { channelAffine } from '../autograd/ops/channel-affine.js';
import { rsqrt } from '../autograd/ops/rsqrt.js';
import { ones, zeros } from '../tensor/creation.js';
import { assertSameDType, type FloatDType } from '../tensor/dtype.js';
import { ValueError, assertShape, formatShape } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { Module } from './module.js';
import { boolArgument, finiteArgument, floatDTypeArgument, intArgument, optionsArgument } from '../tensor/arguments.js';

/** Options of BatchNorm1d and BatchNorm2d (torch.nn.BatchNorm2d's, in camelCase). */
export interface BatchNormOptions {
  /**
   * Weight m of the batch statistics in the running averages (default 0.1; any finite
   * number is accepted, [0, 1] is what makes sense): running ← (1 − m)·running + m·batch,
   * as torch.nn.BatchNorm2d's momentum (Keras calls 1 − m the momentum).
   */
  momentum?: number;
  /** Added to the variance before the square root, for stability (default 1e-5). */
  eps?: number;
  /** Learnable γ and β (default true). */
  affine?: boolean;
  /** dtype of γ, β and the running statistics (default 'float32'); the input should match. */
  dtype?: FloatDType;
  /**
   * Inside vmap in train mode, normalise each sample by its own statistics and leave the
   * running statistics alone (what functorch's replace_all_batch_norm_modules_ arranges).
   * Default false: train mode inside vmap is refused, since the batch statistics couple samples.
   */
  perSampleStatistics?: boolean;
}

abstract class BatchNorm extends Module {
  /** Weight of the batch statistics in the running averages (BatchNormOptions.momentum). */
  readonly momentum: number;
  /** Added to the variance before the square root (BatchNormOptions.eps). */
  readonly eps: number;
  /** Whether the layer has the parameters 'weight' (γ) and 'bias' (β), each [C]. */
  readonly affine: boolean;
  /** See BatchNormOptions.perSampleStatistics; may be switched on an existing model. */
  perSampleStatistics: boolean;

  constructor(
    /** C, the number of channels: the size of the input's axis 1 and of every parameter and buffer. */
    readonly numFeatures: number,
    private readonly ranks: readonly number[],
    options: BatchNormOptions,
  ) {
    super();
    const op = this.constructor.name;
    intArgument(op, 'numFeatures', numFeatures, 1);
    optionsArgument(op, options);
    const momentum = finiteArgument(op, 'momentum', options.momentum, 0.1);
    const eps = finiteArgument(op, 'eps', options.eps, 1e-5);
    const affine = boolArgument(op, 'affine', options.affine, true);
    const dtype = floatDTypeArgument(op, options.dtype, 'float32');
    this.momentum = momentum;
    this.eps = eps;
    this.affine = affine;
    this.perSampleStatistics = boolArgument(op, 'perSampleStatistics', options.perSampleStatistics, false);
    if (affine) {
      this.registerParameter('weight', ones([numFeatures], { dtype }));
      this.registerParameter('bias', zeros([numFeatures], { dtype }));
    }
    this.registerBuffer('running_mean', zeros([numFeatures], { dtype }));
    this.registerBuffer('running_var', ones([numFeatures], { dtype }));
  }

  override describe(): string {
    return `${this.constructor.name}(${this.numFeatures})`;
  }

  forward(x: Tensor): Tensor {
    assertShape(
      this.ranks.includes(this.input(x).rank) && x.shape[1] === this.numFeatures,
      () => `${this.describe()}: expected input of rank ${this.ranks.join(' or ')} with ${this.numFeatures} channels on axis 1; got ${formatShape(x.shape)}`,
    );
    if (this.training) {
      if (x.isBatched && !this.perSampleStatistics) {
        throw new ValueError(
          `${this.describe()}: train mode inside vmap: batch statistics couple the samples, so there is no per-sample function ` +
            "to map; use perSampleJacobian (exact rows of a train-mode batch), eval() (running statistics) or perSampleStatistics (per-sample ones)",
        );
      }
      const n = x.size / this.numFeatures;
      assertShape(n > 1, () => `${this.describe()}: train mode needs more than one value per channel; got input ${formatShape(x.shape)}`);
      // One fused primitive (src/autograd/ops/batch-norm.ts): two passes forward, two backward.
      const { output, mean, variance } = this.affine
        ? batchNormTrain(x, this.param('weight'), this.param('bias'), this.eps)
        : batchNormTrain(x, null, null, this.eps);
      // Per-sample statistics inside vmap describe one sample each: not the running average's.
      if (!x.isBatched) this.updateRunningStats(mean, variance, n);
      return output;
    }
    // Eval: one scale and one shift per channel, computed on [C] — s = γ/√(σ² + ε), t = β − μ·s —
    // then y = x·s + t in one pass (channelAffine), as PyTorch's CPU kernel computes it.
    const invStd = rsqrt(this.buffer('running_var').add(this.eps));
    const scale = this.affine ? this.param('weight').mul(invStd) : invStd;
    const shifted = this.buffer('running_mean').mul(scale).neg();
    const shift = this.affine ? this.param('bias').add(shifted) : shifted;
    // channelAffine leaves its operands unchecked (backward rules call it too); `input` checked
    // that x is float, and here its dtype must be the layer's.
    assertSameDType(this.describe(), x.dtype, scale.dtype);
    return channelAffine(x, scale, shift);
  }

  private updateRunningStats(mean: Tensor, biasedVar: Tensor, n: number): void {
    const m = this.momentum;
    noGrad(() => {
      const runningMean = this.buffer('running_mean');
      const runningVar = this.buffer('running_var');
      const batchMean = mean.reshape([this.numFeatures]);
      const unbiased = biasedVar.reshape([this.numFeatures]).mul(n / (n - 1));
      this.setBuffer('running_mean', runningMean.mul(1 - m).add(batchMean.mul(m)));
      this.setBuffer('running_var', runningVar.mul(1 - m).add(unbiased.mul(m)));
    });
  }
}

/**
 * Batch normalisation of x [N, C] or [N, C, L] per channel C, with statistics over N (and L):
 * torch.nn.BatchNorm1d. Parameters 'weight' (γ) and 'bias' (β), buffers 'running_mean' and
 * 'running_var', each [C]; the formulas are in the file comment.
 * @example const bn = new BatchNorm1d(120); bn.forward(x); // x [N, 120]
 */
export class BatchNorm1d extends BatchNorm {
  /**
   * @param numFeatures C, the size of the input's axis 1 (an integer ≥ 1)
   * @param options momentum, eps, affine, dtype, perSampleStatistics
   */
  constructor(numFeatures: number, options: BatchNormOptions = {}) {
    super(numFeatures, [2, 3], options);
  }
}

/**
 * Batch normalisation of x [N, C, H, W] per channel C, with statistics over N, H and W:
 * torch.nn.BatchNorm2d. Parameters 'weight' (γ) and 'bias' (β), buffers 'running_mean' and
 * 'running_var', each [C]; the formulas are in the file comment.
 */
export class BatchNorm2d extends BatchNorm {
  /**
   * @param numFeatures C, the number of channels of the input (an integer ≥ 1)
   * @param options momentum, eps, affine, dtype, perSampleStatistics
   */
  constructor(numFeatures: number, options: BatchNormOptions = {}) {
    super(numFeatures, [4], options);
  }
}
