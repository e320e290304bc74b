/**
 * batchNormTrain(x, γ, β): BatchNorm's train-mode normalization as one primitive, for
 * x [N, C] or [N, C, …] with statistics per channel (axis 1) over every other axis:
 *
 *   y = γ·x̂ + β,   x̂ = (x − μ)·r,   μ = M[x],   σ² = M[(x − μ)²] (biased),   r = (σ² + ε)^(−1/2)
 *
 * where M[·] is the mean over a channel's n values. Differentiating μ and σ² too (samples of
 * a batch interact), with the projection P(z) = z − M[z] − x̂·M[x̂ z]:
 *
 *   ∂/∂x = γ r P(g),   ∂/∂γ = Σ g x̂,   ∂/∂β = Σ g
 *
 * — all three at once by the primitive batchNormTrainBackward (batch-norm-backward.ts), whose
 * own rules are differentiable, so grad of grad and HVPs go through BatchNorm. Forward mode:
 * ẏ = γ r P(ẋ) + γ̇ x̂ + β̇ (the first term is batchNormTrainBackward on the tangent, since P is
 * self-adjoint). vmap: each sample is normalised by its own statistics (the samples' channels
 * laid side by side as B·C channels), which is what BatchNorm's `perSampleStatistics` asks for.
 *
 * NOTE: a primitive for speed (issue #17): the composite took ≈10 passes over the data forward
 * and ≈20 backward; the fused kernels take two each. An op has one output, so the batch mean
 * and variance the kernel also computes (for the running statistics) are handed to
 * `batchNormTrain` on the side, keyed by the output tensor; they carry no gradient.
 */
import { getBackend } from '../../kernels/registry.js';
import { assertSameDType } from '../../tensor/dtype.js';
import { assertShape, formatShape } from '../../tensor/errors.js';
import { Tensor } from '../../tensor/tensor.js';
import { finiteArgument } from '../../tensor/arguments.js';
import { noGrad } from '../mode.js';
import { floatOperand, tensorArgument } from '../operands.js';
import { apply, defineOp, type Batched } from '../op.js';
import { mergeBatchIntoChannels, splitChannels, sumTangents } from '../rules.js';
import {
  batchNormTrainBackward,
  channelShape,
  mergeChannelParameter,
  statisticAxes,
  unpackGradients,
} from './batch-norm-backward.js';

/** The batch statistics of each forward call, by output (see the NOTE in the file comment). */
const STATISTICS = new WeakMap<Tensor, { mean: Float64Array; variance: Float64Array }>();

/** The batchNormTrain primitive: inputs [x, γ, β] (affine) or [x]; see the file comment. */
export const batchNormTrainOp = defineOp<{
  /** Added to the variance before the square root. */
  eps: number;
  /** Whether γ and β are inputs; without them γ = 1 and β = 0. */
  affine: boolean;
}>({
  name: 'batchNormTrain',
  forward: ([x, w, b], { eps, affine }) => {
    const r = getBackend().batchNormForward(x!, affine ? w! : null, affine ? b! : null, eps, x!.dtype);
    const y = Tensor.fromData(r.y, x!.shape);
    STATISTICS.set(y, { mean: r.mean, variance: r.variance });
    return y;
  },
  save: ([x, w], _output, { affine }) => (affine ? [x!, w!] : [x!]),
  backward: (ctx, gradOut) => {
    const [x, w] = ctx.saved;
    const { eps, affine } = ctx.attrs;
    const [dx, dw, db] = unpackGradients(batchNormTrainBackward(x!, gradOut, affine ? w! : null, eps), x!.shape, affine);
    // NOTE: ∂γ and ∂β are copied out of the packed vector (2·C numbers), so that a kept
    // parameter gradient does not keep the whole ∂x buffer alive.
    const needs = ctx.needsInputGrad;
    if (!affine) return [dx];
    return [needs[0] ? dx : null, needs[1] ? dw!.clone() : null, needs[2] ? db!.clone() : null];
  },
  jvp: ({ inputs: [x, w], tangents: [tx, tw, tb], output, attrs }): Tensor => {
    const chan = channelShape(x!.shape);
    const { eps, affine } = attrs;
    const terms: (Tensor | null)[] = [
      tx ? unpackGradients(batchNormTrainBackward(x!, tx, affine ? w! : null, eps), x!.shape, affine)[0] : null,
      tw ? apply(batchNormTrainOp, [x!], { eps, affine: false }).mul(tw.reshape(chan)) : null,
      tb ? tb.reshape(chan) : null,
    ];
    return sumTangents(output, terms);
  },
  // Per-sample statistics: sample b's channels become channels b·C … b·C + C − 1 of one batch.
  batch: ({ inputs: [x, w, b], dims: [dx, dw, db], attrs, size }): Batched => {
    const xs = mergeBatchIntoChannels(x!, dx!, size);
    const params = attrs.affine ? [mergeChannelParameter(w!, dw!, size), mergeChannelParameter(b!, db!, size)] : [];
    const y: Tensor = apply(batchNormTrainOp, [xs, ...params], attrs);
    return { value: splitChannels(y, size), dim: 1 };
  },
  describe: ({ eps, affine }) => `eps=${eps}${affine ? '' : ', no affine'}`,
});

/** What batchNormTrain returns. */
export interface BatchNormTrainResult {
  /** y = (x − μ)/√(σ² + ε)·γ + β, x's shape; differentiable in x, γ and β. */
  output: Tensor;
  /** The batch mean μ of each channel, [C] of x's dtype, without gradient. */
  mean: Tensor;
  /** The BIASED batch variance σ² = Σ(x − μ)²/n of each channel, [C] of x's dtype, without gradient. */
  variance: Tensor;
}

/**
 * BatchNorm's train-mode normalization of x [N, C, …] (float) by the batch statistics of each
 * channel (axis 1), over every other axis — torch.nn.functional.batch_norm(training=True)
 * without the running statistics, which the layer updates from the returned mean and biased
 * variance. `weight` (γ) and `bias` (β) are [C] tensors of x's dtype, both or neither (null:
 * γ = 1, β = 0). Differentiable in x, γ and β to any order; the statistics carry no gradient.
 * Throws ShapeError for a bad shape, DTypeError for mixed dtypes.
 * @example const { output, mean, variance } = batchNormTrain(x, gamma, beta, 1e-5);
 */
export function batchNormTrain(x: Tensor, weight: Tensor | null, bias: Tensor | null, eps: number): BatchNormTrainResult {
  floatOperand('batchNormTrain', x);
  finiteArgument('batchNormTrain', 'eps', eps);
  assertShape(x.rank >= 2, () => `batchNormTrain: expected input [N, C, …] of rank ≥ 2; got ${formatShape(x.shape)}`);
  const C = x.shape[1]!;
  assertShape((weight === null) === (bias === null), () => 'batchNormTrain: expected both weight and bias, or neither');
  for (const [name, p] of [['weight', weight], ['bias', bias]] as const) {
    if (p === null) continue;
    tensorArgument('batchNormTrain', p, `the ${name} to be a Tensor or null`);
    assertSameDType('batchNormTrain', x.dtype, p.dtype);
    assertShape(p.rank === 1 && p.shape[0] === C, () => `batchNormTrain: expected ${name} [${C}] for input ${formatShape(x.shape)}; got ${formatShape(p.shape)}`);
  }
  const affine = weight !== null;
  const output = apply(batchNormTrainOp, affine ? [x, weight, bias!] : [x], { eps, affine });
  const stats = STATISTICS.get(output);
  if (!stats) {
    // The forward ran through a batching rule (vmap): the statistics are x's own, per sample.
    const axes = statisticAxes(x.rank);
    return noGrad(() => ({ output, mean: x.mean(axes), variance: x.var(axes, { correction: 0 }) }));
  }
  STATISTICS.delete(output);
  const asTensor = (v: Float64Array) => Tensor.fromData(x.dtype === 'float64' ? v : Float32Array.from(v), [C]);
  return { output, mean: asTensor(stats.mean), variance: asTensor(stats.variance) };
}
