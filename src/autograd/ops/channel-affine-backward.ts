/**
 * channelAffineBackward(g, x, s): channelAffine's three gradients in one pass over g and x,
 * packed like batchNormTrainBackward's:
 *
 *   [∂x | ∂s | ∂t] = [g·s[c] | Σ g·x | Σ g]      (∂x row-major, then [C] and [C])
 *
 * Linear in g, bilinear in (g, x) and (g, s), so its rules are the other two primitives', with
 * u = [u₀ | u₁ | u₂] the output's gradient:
 *
 *   ∂g = channelAffine(u₀, s) + channelAffine(x, u₁, u₂),   ∂x = channelAffine(g, u₁),
 *   ∂s = Σ u₀·g  (channelSums(u₀, g), first half)
 *   jvp: [ġ·s + g·ṡ | Σ ġ·x + g·ẋ | Σ ġ]
 *   vmap: the samples' channels side by side, [N, B·C, …], sorted back into one packed row each
 *
 * NOTE: a primitive for speed (issue #17): channelAffine(g, s) and channelSums(g, x) each read g
 * (and staged it into WebAssembly memory); this reads g and x once.
 */
import { getBackend } from '../../kernels/registry.js';
import { Tensor } from '../../tensor/tensor.js';
import { apply, defineOp, type Batched } from '../op.js';
import { scalarTensor } from '../operands.js';
import { mergeBatchIntoChannels } from '../rules.js';
import { mergeChannelParameter, splitPackedGradients, statisticAxes, unpackGradients } from './batch-norm-backward.js';
import { channelAffine } from './channel-affine.js';
import { channelSums } from './channel-sums.js';
import { concat } from './concat.js';

/** The channelAffineBackward primitive: inputs [g, x, s]. */
export const channelAffineBackwardOp = defineOp<undefined>({
  name: 'channelAffineBackward',
  forward: ([g, x, s]) => Tensor.fromData(getBackend().channelAffineBackward(g!, x!, s!, x!.dtype), [x!.size + 2 * s!.size]),
  save: ([g, x, s]) => [g!, x!, s!],
  backward: (ctx, gradOut) => {
    const [g, x, s] = ctx.saved;
    const [u0, u1, u2] = unpackGradients(gradOut, x!.shape, true) as [Tensor, Tensor, Tensor];
    const [needG, needX, needS] = ctx.needsInputGrad;
    const C = s!.shape[0]!;
    return [
      needG ? channelAffine(u0, s!, null).add(channelAffine(x!, u1, u2)) : null,
      needX ? channelAffine(g!, u1, null) : null,
      needS ? channelSums(u0, g!).slice([[0, C]]) : null,
    ];
  },
  jvp: ({ inputs: [g, x, s], tangents: [tg, tx, ts] }): Tensor => {
    const C = s!.shape[0]!;
    const terms: Tensor[] = tg ? [channelAffineBackward(tg, x!, s!)] : [];
    if (tx || ts) {
      const zero = scalarTensor(0, x!.dtype).expand([C]);
      const dx = ts ? channelAffine(g!, ts, null).reshape([x!.size]) : scalarTensor(0, x!.dtype).expand([x!.size]);
      terms.push(concat([dx, tx ? g!.mul(tx).sum(statisticAxes(x!.rank)) : zero, zero], 0));
    }
    return terms.length === 2 ? terms[0]!.add(terms[1]!) : terms[0]!;
  },
  batch: ({ inputs: [g, x, s], dims: [dg, dx, ds], size }): Batched => {
    const gs = mergeBatchIntoChannels(g!, dg!, size);
    const packed: Tensor = apply(channelAffineBackwardOp, [gs, mergeBatchIntoChannels(x!, dx!, size), mergeChannelParameter(s!, ds!, size)], undefined);
    return splitPackedGradients(packed, gs.shape, size, true);
  },
});

/**
 * The packed [∂x | ∂s | ∂t] of channelAffine(x, s, t) for the output gradient g (x's shape).
 * Differentiable to any order. Not validated: meant for backward rules.
 */
export function channelAffineBackward(g: Tensor, x: Tensor, s: Tensor): Tensor {
  return apply(channelAffineBackwardOp, [g, x, s], undefined);
}
