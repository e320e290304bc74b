/**
 * groupNorm(x, G, γ, β): group normalisation (Wu & He 2018) of x [N, C, *], as
 * torch.nn.functional.group_norm. The C channels are split into G consecutive groups of C/G;
 * each (sample, group) is normalised over its C/G channels and all spatial positions:
 *
 *   y = (x − μ) / √(σ² + ε) · γ_c + β_c,   μ = M[x],  σ² = M[(x − μ)²] (biased)
 *
 * with M[·] the mean over the group's m = (C/G)·Π spatial values, and γ, β per channel [C].
 *
 * A composite of reshape, mean and elementwise ops (two-pass variance, as BatchNorm's eval
 * path), so every derivative order, the JVP and vmap follow from those primitives. NOTE: not
 * BatchNorm's fused primitive on x viewed as [1, N·G, m], although the statistics are the
 * same: that view merges the batch axis into the channels, which per-sample gradients
 * (autograd/batch-axis.ts) cannot follow. Here x becomes [N, G, m] — the batch axis stays axis
 * 0, the statistics never reduce over it, and γ and β meet the batch in ordinary broadcasting
 * products, whose per-sample rule the engine has.
 */
import { assertSameDType } from '../../tensor/dtype.js';
import { assertShape, formatShape } from '../../tensor/errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import { finiteArgument, intArgument } from '../../tensor/arguments.js';
import { floatOperand } from '../operands.js';
import { reshape } from '../ops/reshape.js';
import { mean } from './reduce.js';

/**
 * Group normalisation, as torch.nn.functional.group_norm: x [N, C, *] (rank ≥ 2) with C
 * divisible by `numGroups`; mean and biased variance over each sample's group of C/numGroups
 * channels (and every position), then the optional per-channel `weight` and `bias` [C].
 * Differentiable in all three to any order. Throws ShapeError for a rank below 2, channels not
 * divisible by the groups, or a weight/bias not of shape [C]; ValueError for a bad numGroups
 * or eps.
 * @example groupNorm(x, 2, weight, bias) // x [N, 6, H, W]: groups of 3 channels, weight and bias [6]
 */
export function groupNorm(x: Tensor, numGroups: number, weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  floatOperand('groupNorm', x);
  intArgument('groupNorm', 'numGroups', numGroups, 1);
  finiteArgument('groupNorm', 'eps', eps);
  assertShape(x.rank >= 2, () => `groupNorm: expected input [N, C, *] of rank ≥ 2; got ${formatShape(x.shape)}`);
  const [n, c] = x.shape as [number, number];
  assertShape(
    c % numGroups === 0,
    () => `groupNorm: the C = ${c} channels of input ${formatShape(x.shape)} are not divisible by numGroups = ${numGroups}`,
  );
  for (const [name, p] of [['weight', weight], ['bias', bias]] as const) {
    if (p === undefined || p === null) continue;
    floatOperand('groupNorm', p, `the ${name} to be a Tensor`);
    assertSameDType('groupNorm', x.dtype, p.dtype);
    assertShape(p.rank === 1 && p.shape[0] === c, () => `groupNorm: expected ${name} of shape [${c}] (C); got ${formatShape(p.shape)}`);
  }
  const m = (c / numGroups) * x.shape.slice(2).reduce((a, b) => a * b, 1);
  const grouped = reshape(x, [n, numGroups, m]);
  const centered = grouped.sub(mean(grouped, 2, true));
  const variance = mean(centered.mul(centered), 2, true);
  let y = reshape(centered.div(variance.add(eps).sqrt()), x.shape);
  // Per-channel affine parameters broadcast as [1, C, 1, …].
  const channelShape = x.shape.map((d, i) => (i === 1 ? d : 1));
  if (weight) y = y.mul(reshape(weight, channelShape));
  if (bias) y = y.add(reshape(bias, channelShape));
  return y;
}
