/**
 * channelSums(g, x): per channel c (axis 1) of g and x [N, C, …] (one shape), the packed [2C]
 *
 *   [Σ g·x | Σ g]
 *
 * over every axis but 1: the gradients of channelAffine's scale and shift. Linear in g and in
 * x, so its rules are channelAffine's, with u = [u₁ | u₂] the output's gradient:
 *
 *   ∂g = channelAffine(x, u₁, u₂),   ∂x = channelAffine(g, u₁)
 *   jvp: [Σ ġ·x + g·ẋ | Σ ġ]
 *   vmap: the samples' channels side by side, [N, B·C, …], sorted back into [B, 2C]
 */
import { getBackend } from '../../kernels/registry.js';
import { Tensor } from '../../tensor/tensor.js';
import { apply, defineOp, type Batched } from '../op.js';
import { scalarTensor } from '../operands.js';
import { mergeBatchIntoChannels } from '../rules.js';
import { statisticAxes } from './batch-norm-backward.js';
import { channelAffine } from './channel-affine.js';
import { concat } from './concat.js';

/** The channelSums primitive: inputs [g, x]. */
export const channelSumsOp = defineOp<undefined>({
  name: 'channelSums',
  forward: ([g, x]) => {
    const sums = getBackend().channelSums(g!, x!, x!.dtype);
    return Tensor.fromData(x!.dtype === 'float64' ? sums : Float32Array.from(sums), [sums.length]);
  },
  save: ([g, x]) => [g!, x!],
  backward: (ctx, gradOut) => {
    const [g, x] = ctx.saved;
    const C = x!.shape[1]!;
    const [u1, u2] = [gradOut.slice([[0, C]]), gradOut.slice([[C, 2 * C]])];
    return [ctx.needsInputGrad[0] ? channelAffine(x!, u1, u2) : null, ctx.needsInputGrad[1] ? channelAffine(g!, u1, null) : null];
  },
  jvp: ({ inputs: [g, x], tangents: [tg, tx] }): Tensor => {
    const C = x!.shape[1]!;
    const fromG = tg ? channelSums(tg, x!) : null;
    if (!tx) return fromG!;
    const fromX = concat([g!.mul(tx).sum(statisticAxes(x!.rank)), scalarTensor(0, x!.dtype).expand([C])], 0);
    return fromG ? fromG.add(fromX) : fromX;
  },
  batch: ({ inputs: [g, x], dims: [dg, dx], size }): Batched => {
    const gs = mergeBatchIntoChannels(g!, dg!, size);
    const packed: Tensor = apply(channelSumsOp, [gs, mergeBatchIntoChannels(x!, dx!, size)], undefined);
    const C = gs.shape[1]! / size;
    return { value: packed.reshape([2, size, C]).permute([1, 0, 2]).reshape([size, 2 * C]), dim: 0 };
  },
});

/** [Σ g·x | Σ g] per channel (axis 1) of g and x [N, C, …], of x's dtype. Not validated: meant for backward rules. */
export function channelSums(g: Tensor, x: Tensor): Tensor {
  return apply(channelSumsOp, [g, x], undefined);
}
