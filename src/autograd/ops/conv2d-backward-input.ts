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
import { apply, defineOp } from '../op.js';
import { conv2dBackwardWeight } from './conv2d-backward-weight.js';
import { conv2dOp, describeGeometry } from './conv2d.js';

export const conv2dBackwardInputOp = defineOp<Conv2dGeometry & { inputShape: number[] }>({
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
  describe: (a) => `${describeGeometry(a)}, input=[${a.inputShape}]`,
});

export function conv2dBackwardInput(g: Tensor, w: Tensor, inputShape: Shape, geometry: Conv2dGeometry): Tensor {
  return apply(conv2dBackwardInputOp, [g, w], { ...geometry, inputShape: inputShape.slice() });
}
