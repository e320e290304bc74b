/**
 * channelAffine(x, s, t): a per-channel affine map of x [N, C, …] (channel axis 1),
 *
 *   y = x·s[c] + t[c]        (t absent: y = x·s[c])
 *
 * BatchNorm's eval mode as one pass: s = γ/√(σ²_run + ε) and t = β − μ_run·s are computed on
 * [C] first (batchnorm.ts). Its rules, with g the output's gradient:
 *
 *   ∂x = channelAffine(g, s),   [∂s | ∂t] = channelSums(g, x) = [Σ g·x | Σ g]   (channel-sums.ts)
 *   (all three at once: channelAffineBackward, channel-affine-backward.ts, one pass over g and x)
 *   jvp: ẏ = channelAffine(ẋ, s) + channelAffine(x, ṡ, ṫ)
 *   vmap: sample b's channels become channels b·C … b·C + C − 1 of one batch [N, B·C, …]
 *
 * and the rules of channelSums and channelAffineBackward are channelAffine and channelSums
 * again, so gradients of any order stay fused.
 *
 * NOTE: a primitive for speed (issue #17): the composite x·s + t took two passes forward and
 * four backward (g·s, g·x, Σ g·x, Σ g), each with a result array of x's size; this takes one
 * forward and one backward. In float32 it rounds once (x·s + t in float64), the composite twice.
 */
import { getBackend } from '../../kernels/registry.js';
import { Tensor } from '../../tensor/tensor.js';
import { apply, defineOp, type Batched } from '../op.js';
import { mergeBatchIntoChannels, splitChannels, sumTangents } from '../rules.js';
import { channelShape, mergeChannelParameter, unpackGradients } from './batch-norm-backward.js';
import { channelAffineBackward } from './channel-affine-backward.js';
import { channelSums } from './channel-sums.js';

/** The channelAffine primitive: inputs [x, s, t], or [x, s] without a shift. */
export const channelAffineOp = defineOp<{
  /** Whether t is an input. */
  shifted: boolean;
}>({
  name: 'channelAffine',
  forward: ([x, s, t], { shifted }) => Tensor.fromData(getBackend().channelAffine(x!, s!, shifted ? t! : null, x!.dtype), x!.shape),
  save: ([x, s]) => [x!, s!],
  backward: (ctx, gradOut) => {
    const [x, s] = ctx.saved;
    const [needX, needS, needT] = ctx.needsInputGrad;
    const C = s!.shape[0]!;
    let [dx, ds, dt]: (Tensor | null)[] = [null, null, null];
    if (needX && (needS || needT)) {
      // NOTE: the [C] gradients are copied out of the packed vector, so that a kept parameter
      // gradient does not keep the whole ∂x buffer alive.
      const [packedX, packedS, packedT] = unpackGradients(channelAffineBackward(gradOut, x!, s!), x!.shape, true);
      [dx, ds, dt] = [packedX, needS ? packedS!.clone() : null, needT ? packedT!.clone() : null];
    } else if (needX) {
      dx = channelAffine(gradOut, s!, null);
    } else if (needS || needT) {
      const sums = channelSums(gradOut, x!);
      [ds, dt] = [needS ? sums.slice([[0, C]]) : null, needT ? sums.slice([[C, 2 * C]]) : null];
    }
    return ctx.attrs.shifted ? [dx, ds, dt] : [dx, ds];
  },
  jvp: ({ inputs: [x, s], tangents: [tx, ts, tt], output }): Tensor => {
    const terms = [tx ? channelAffine(tx, s!, null) : null];
    if (ts) terms.push(channelAffine(x!, ts, tt ?? null));
    else if (tt) terms.push(tt.reshape(channelShape(x!.shape)));
    return sumTangents(output, terms);
  },
  batch: ({ inputs: [x, s, t], dims: [dx, ds, dt], attrs, size }): Batched => {
    const inputs = [mergeBatchIntoChannels(x!, dx!, size), mergeChannelParameter(s!, ds!, size)];
    if (attrs.shifted) inputs.push(mergeChannelParameter(t!, dt!, size));
    return { value: splitChannels(apply(channelAffineOp, inputs, attrs), size), dim: 1 };
  },
  describe: ({ shifted }) => (shifted ? 'x·s + t' : 'x·s'),
});

/**
 * y = x·scale[c] + shift[c] per channel c (axis 1) of x [N, C, …]; scale and shift are [C]
 * tensors of x's dtype, shift null for none. Differentiable in all three to any order.
 * Arguments are not validated: it is meant for BatchNorm and for backward rules.
 */
export function channelAffine(x: Tensor, scale: Tensor, shift: Tensor | null): Tensor {
  return apply(channelAffineOp, shift ? [x, scale, shift] : [x, scale], { shifted: shift !== null });
}
