/**
 * maxPool2dBackward(g): the transpose of picking the window maxima — each element of
 * g [N, C, Ho, Wo] added into zeros of `inputShape` at the flat in-plane index h·W + w saved
 * for it (summed where windows overlap). With P the 0/1 matrix that selects each window's
 * maximum, this is Pᵀ·g: linear in g, so
 *
 *   ∂/∂g = P·gradOut = gradOut gathered at the saved indices (maxPool2dOp applied to it)
 *
 * and the tangent is the tangent spread alike (Pᵀ·ġ). Together with maxPool2dOp, whose
 * backward this is, max pooling is differentiable to any order; PyTorch's
 * max_pool2d_with_indices_backward and its double backward are the same pair.
 */
import { getBackend } from '../../kernels/registry.js';
import type { PoolGeometry } from '../../kernels/geometry.js';
import type { Shape } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { apply, defineOp, type Batched } from '../op.js';
import { geometryOf, maxPool2dOp } from './max-pool2d.js';
import { mergeBatchIntoLeading, splitLeading, toFrontExpanded } from '../rules.js';

/** The primitive: g added into zeros of `inputShape` at the saved indices; its backward gathers (maxPool2dOp). */
export const maxPool2dBackwardOp = defineOp<PoolGeometry & {
  /** int32 [N, C, Ho, Wo], g's shape: the flat in-plane index of each window's maximum (a constant). */
  indices: Tensor;
  /** Shape [N, C, H, W] of the pooled input, which is this op's output shape. */
  inputShape: number[];
}>({
  name: 'maxPool2dBackward',
  forward: ([g], a) =>
    Tensor.fromData(getBackend().maxPool2dBackward(g!, a.indices, a.inputShape, geometryOf(a), g!.dtype), a.inputShape),
  backward: (ctx, gradOut) => [apply(maxPool2dOp, [gradOut], { ...geometryOf(ctx.attrs), indices: ctx.attrs.indices })],
  // Linear in g (the indices are a constant attr): the tangent is scattered alike.
  jvp: ({ tangents: [t], attrs }): Tensor => apply(maxPool2dBackwardOp, [t!], attrs),
  // Samples are independent images: g and the indices merge their batch axes into N (an
  // unbatched one broadcast to the batch size first), and the result splits off again.
  batch: ({ inputs: [g], dims: [d], attrs, size, unwrap }): Batched => {
    const index = unwrap(attrs.indices);
    const gs = mergeBatchIntoLeading(toFrontExpanded(g!, d!, size), 0);
    const indices = mergeBatchIntoLeading(toFrontExpanded(index.value, index.dim, size), 0);
    const [n, ...rest] = attrs.inputShape;
    const merged: Tensor = apply(maxPool2dBackwardOp, [gs], { ...geometryOf(attrs), indices, inputShape: [size * n!, ...rest] });
    return { value: splitLeading(merged, size), dim: 0 };
  },
  describe: (a) => `kernel=[${a.kernel}], stride=[${a.stride}], input=[${a.inputShape}]`,
});

/**
 * The gradient of max pooling with respect to its input: g [N, C, Ho, Wo] added into zeros of
 * `inputShape` at the flat in-plane index h·W + w of each window's maximum (`indices`, int32,
 * as maxPool2d returns them), summed where windows overlap. Linear in g and differentiable to
 * any order (its derivative gathers at the same indices). Arguments are not validated: it is
 * meant for backward rules, with maxPool2d's geometry and indices.
 */
export function maxPool2dBackward(g: Tensor, indices: Tensor, inputShape: Shape, geometry: PoolGeometry): Tensor {
  return apply(maxPool2dBackwardOp, [g], { ...geometryOf(geometry), indices, inputShape: inputShape.slice() });
}
