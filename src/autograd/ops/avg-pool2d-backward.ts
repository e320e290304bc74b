/**
 * avgPool2dBackward(g): the transpose of avgPool2d — each output gradient spread evenly over
 * its window, into a tensor of `inputShape`. Linear, so ∂/∂g = avgPool2d(gradOut) and the
 * tangent is the tangent spread alike.
 */
import { getBackend } from '../../kernels/registry.js';
import type { AvgPoolGeometry } from '../../kernels/geometry.js';
import type { Shape } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { apply, defineOp, type Batched } from '../op.js';
import { avgPool2dOp } from './avg-pool2d.js';
import { mergeBatchIntoLeading, splitLeading } from '../rules.js';

export const avgPool2dBackwardOp = defineOp<AvgPoolGeometry & {
  /** Shape [N, C, H, W] of the pooled input, which is this op's output shape. */
  inputShape: number[];
}>({
  name: 'avgPool2dBackward',
  forward: ([g], attrs) => Tensor.fromData(getBackend().avgPool2dBackward(g!, attrs.inputShape, attrs, g!.dtype), attrs.inputShape),
  backward: (ctx, gradOut) => [apply(avgPool2dOp, [gradOut], ctx.attrs)],
  jvp: ({ tangents: [t], attrs }): Tensor => apply(avgPool2dBackwardOp, [t!], attrs),
  // As avgPool2d: the batch axis rides along in N.
  batch: ({ inputs: [g], dims: [d], attrs, size }): Batched => {
    const [n, ...rest] = attrs.inputShape;
    const merged: Tensor = apply(avgPool2dBackwardOp, [mergeBatchIntoLeading(g!, d!)], { ...attrs, inputShape: [size * n!, ...rest] });
    return { value: splitLeading(merged, size), dim: 0 };
  },
  describe: (a) => `kernel=[${a.kernel}], input=[${a.inputShape}]`,
});

/**
 * The transpose of avgPool2d: each element of g [N, C, Ho, Wo] spread evenly over its window
 * (divided by the same count as the forward) into a tensor of `inputShape`. Linear and
 * differentiable (its derivative is avgPool2d). Arguments are not validated: it is meant for
 * backward rules.
 */
export function avgPool2dBackward(g: Tensor, inputShape: Shape, geometry: AvgPoolGeometry): Tensor {
  return apply(avgPool2dBackwardOp, [g], { ...geometry, inputShape: inputShape.slice() });
}
