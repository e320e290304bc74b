/**
 * conv2dBackwardWeight(x, g): the gradient of conv2d with respect to its weight, of shape
 * `weightShape`, from the input x and the output gradient g. Bilinear in (x, g):
 *   ⟨u, conv2dBackwardWeight(x, g)⟩ = ⟨conv2d(x, u), g⟩ = ⟨x, conv2dBackwardInput(g, u)⟩,
 * so  ∂/∂x = conv2dBackwardInput(g, gradOut)  and  ∂/∂g = conv2d(x, gradOut).
 */
import { getBackend } from '../../kernels/registry.js';
import type { Conv2dGeometry } from '../../kernels/geometry.js';
import type { Shape } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { apply, defineOp, type Batched } from '../op.js';
import { conv2dBackwardInput } from './conv2d-backward-input.js';
import { conv2dOp, describeGeometry } from './conv2d.js';
import { mergeBatchIntoChannels, splitLeading, sumTangents } from '../rules.js';

export const conv2dBackwardWeightOp = defineOp<Conv2dGeometry & {
  /** Shape [Cout, Cin/groups, kh, kw] of the conv2d weight, which is this op's output shape. */
  weightShape: number[];
}>({
  name: 'conv2dBackwardWeight',
  forward: ([x, g], attrs) =>
    Tensor.fromData(getBackend().conv2dBackwardWeight(x!, g!, attrs.weightShape, attrs, x!.dtype), attrs.weightShape),
  save: ([x, g]) => [x!, g!],
  backward: (ctx, gradOut) => {
    const [x, g] = ctx.saved;
    return [
      ctx.needsInputGrad[0] ? conv2dBackwardInput(g!, gradOut, x!.shape, ctx.attrs) : null,
      ctx.needsInputGrad[1] ? apply(conv2dOp, [x!, gradOut], ctx.attrs) : null,
    ];
  },
  // Bilinear: d conv2dBackwardWeight(x, g) = conv2dBackwardWeight(dx, g) + conv2dBackwardWeight(x, dg).
  jvp: ({ inputs: [x, g], tangents: [tx, tg], output, attrs }): Tensor =>
    sumTangents(output, [
      tx ? apply(conv2dBackwardWeightOp, [tx, g!], attrs) : null,
      tg ? apply(conv2dBackwardWeightOp, [x!, tg], attrs) : null,
    ]),
  // B weight gradients (each summed over its sample's N images) are one weight gradient with
  // B·groups groups over the samples laid side by side as channels (per-sample.ts does the
  // same for per-sample gradients); an unbatched operand is broadcast to the batch size.
  batch: ({ inputs: [x, g], dims: [dx, dg], attrs, size }): Batched => {
    const xs = mergeBatchIntoChannels(x!, dx!, size);
    const gs = mergeBatchIntoChannels(g!, dg!, size);
    const [cout, ...rest] = attrs.weightShape;
    const grouped: Tensor = apply(conv2dBackwardWeightOp, [xs, gs], { ...attrs, groups: attrs.groups * size, weightShape: [size * cout!, ...rest] });
    return { value: splitLeading(grouped, size), dim: 0 };
  },
  describe: (a) => `${describeGeometry(a)}, weight=[${a.weightShape}]`,
});

/**
 * The gradient of conv2d with respect to its weight, from the input x [N, Cin, H, W] and the
 * output gradient g [N, Cout, Ho, Wo], summed over N, of shape `weightShape`. Differentiable
 * in x and g to any order. Arguments are not validated: it is meant for backward rules.
 */
export function conv2dBackwardWeight(x: Tensor, g: Tensor, weightShape: Shape, geometry: Conv2dGeometry): Tensor {
  return apply(conv2dBackwardWeightOp, [x, g], { ...geometry, weightShape: weightShape.slice() });
}
