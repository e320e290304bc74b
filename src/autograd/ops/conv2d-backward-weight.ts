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
import { apply, defineOp } from '../op.js';
import { conv2dBackwardInput } from './conv2d-backward-input.js';
import { conv2dOp, describeGeometry } from './conv2d.js';

export const conv2dBackwardWeightOp = defineOp<Conv2dGeometry & { weightShape: number[] }>({
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
  describe: (a) => `${describeGeometry(a)}, weight=[${a.weightShape}]`,
});

export function conv2dBackwardWeight(x: Tensor, g: Tensor, weightShape: Shape, geometry: Conv2dGeometry): Tensor {
  return apply(conv2dBackwardWeightOp, [x, g], { ...geometry, weightShape: weightShape.slice() });
}
