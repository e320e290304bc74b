/**
 * conv2dBackwardInput(g, w): the gradient of conv2d with respect to its input (a transposed
 * convolution of g [N, Cout, Ho, Wo] with w), of shape `inputShape`. Bilinear in (g, w):
 *   ⟨u, conv2dBackwardInput(g, w)⟩ = ⟨conv2d(u, w), g⟩ = ⟨w, conv2dBackwardWeight(u, g)⟩,
 * so  ∂/∂g = conv2d(gradOut, w)  and  ∂/∂w = conv2dBackwardWeight(gradOut, g).
 */
import { getBackend } from '../../kernels/registry.js';
import type { Conv2dGeometry } from '../../kernels/geometry.js';
import type { Shape } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { apply, defineOp, type Batched } from '../op.js';
import { conv2dBackwardWeight } from './conv2d-backward-weight.js';
import { conv2dOp, describeGeometry } from './conv2d.js';
import { mergeBatchIntoChannels, mergeBatchIntoLeading, splitChannels, splitLeading, sumTangents } from '../rules.js';

export const conv2dBackwardInputOp = defineOp<Conv2dGeometry & {
  /** Shape [N, Cin, H, W] of the conv2d input, which is the shape of this op's output. */
  inputShape: number[];
}>({
  name: 'conv2dBackwardInput',
  forward: ([g, w], attrs) =>
    Tensor.fromData(getBackend().conv2dBackwardInput(g!, w!, attrs.inputShape, attrs, g!.dtype), attrs.inputShape),
  save: ([g, w]) => [g!, w!],
  backward: (ctx, gradOut) => {
    const [g, w] = ctx.saved;
    return [
      ctx.needsInputGrad[0] ? apply(conv2dOp, [gradOut, w!], ctx.attrs) : null,
      ctx.needsInputGrad[1] ? conv2dBackwardWeight(gradOut, g!, w!.shape, ctx.attrs) : null,
    ];
  },
  // Bilinear: d conv2dBackwardInput(g, w) = conv2dBackwardInput(dg, w) + conv2dBackwardInput(g, dw).
  jvp: ({ inputs: [g, w], tangents: [tg, tw], output, attrs }): Tensor =>
    sumTangents(output, [
      tg ? apply(conv2dBackwardInputOp, [tg, w!], attrs) : null,
      tw ? apply(conv2dBackwardInputOp, [g!, tw], attrs) : null,
    ]),
  batch: ({ inputs: [g, w], dims: [dg, dw], attrs, size }): Batched => {
    const [n, cin, ...hw] = attrs.inputShape as [number, number, number, number];
    if (dw === null) {
      // One weight for all: the batch rides along in N.
      const merged: Tensor = apply(conv2dBackwardInputOp, [mergeBatchIntoLeading(g!, dg!), w!], { ...attrs, inputShape: [size * n, cin, ...hw] });
      return { value: splitLeading(merged, size), dim: 0 };
    }
    // A batched weight: the transpose of conv2d's grouped rule — B·groups groups, sample b's
    // output gradient and weight in group block b, its input gradient in channel block b.
    const gs = mergeBatchIntoChannels(g!, dg!, size);
    const ws = mergeBatchIntoLeading(w!, dw);
    const grouped: Tensor = apply(conv2dBackwardInputOp, [gs, ws], { ...attrs, groups: attrs.groups * size, inputShape: [n, size * cin, ...hw] });
    return { value: splitChannels(grouped, size), dim: 1 };
  },
  describe: (a) => `${describeGeometry(a)}, input=[${a.inputShape}]`,
});

/**
 * The gradient of conv2d with respect to its input: the transposed convolution of the output
 * gradient g [N, Cout, Ho, Wo] with w, of shape `inputShape` (what torch calls
 * conv_transpose2d with the forward's geometry). Differentiable in g and w to any order.
 * Arguments are not validated: it is meant for backward rules, with conv2d's geometry.
 */
export function conv2dBackwardInput(g: Tensor, w: Tensor, inputShape: Shape, geometry: Conv2dGeometry): Tensor {
  return apply(conv2dBackwardInputOp, [g, w], { ...geometry, inputShape: inputShape.slice() });
}
