/**
 * softmaxBackward(y, g; axis) = y·(g − s), s = Σ_axis g·y: the gradient of y = softmax(x)
 * along `axis` (softmax.ts) for the cotangent g, from the output y (one shape). For a
 * cotangent u of the result (sums along the axis):
 *   ∂/∂g = y·(u − Σ u·y) = softmaxBackward(y, u)   (the map is symmetric in g),
 *   ∂/∂y = u·(g − s) − g·Σ u·y,
 * and the tangent is softmaxBackward(y, ġ) + ẏ·(g − s) − y·Σ g·ẏ.
 * NOTE: a primitive for speed (one kernel instead of the composite's backward chain through
 * divide, sum, exp and the shift). Its own rules are written in differentiable ops, and y stays
 * connected to x through the softmax, so gradients of any order (grad of grad, HVPs) follow.
 */
import { getBackend } from '../../kernels/registry.js';
import { Tensor } from '../../tensor/tensor.js';
import { apply, defineOp } from '../op.js';
import { sumTangents, toFrontExpanded } from '../rules.js';

/** The attrs of softmax and its gradient: the normalized axis (the input has rank ≥ 1). */
export interface SoftmaxAttrs {
  /** The axis the softmax runs along, 0 … rank − 1. */
  axis: number;
}

export const softmaxBackwardOp = defineOp<SoftmaxAttrs>({
  name: 'softmaxBackward',
  forward: ([y, g], { axis }) => Tensor.fromData(getBackend().softmaxBackward(y!, g!, axis, y!.dtype), y!.shape),
  save: ([y, g]) => [y!, g!],
  backward: (ctx, u) => {
    const [y, g] = ctx.saved as [Tensor, Tensor];
    const a = ctx.attrs.axis;
    return [
      ctx.needsInputGrad[0] ? u.mul(g.sub(g.mul(y).sum(a, true))).sub(g.mul(u.mul(y).sum(a, true))) : null,
      ctx.needsInputGrad[1] ? softmaxBackward(y, u, a) : null,
    ];
  },
  jvp: ({ inputs: [y, g], tangents: [ty, tg], output, attrs: { axis: a } }) => {
    const fromY = ty ? ty.mul(g!.sub(g!.mul(y!).sum(a, true))).sub(y!.mul(g!.mul(ty).sum(a, true))) : null;
    return sumTangents(output, [tg ? softmaxBackward(y!, tg, a) : null, fromY]);
  },
  // Both operands with the batch axis first (an unbatched one broadcast); the axis moves one place on.
  batch: ({ inputs: [y, g], dims: [dy, dg], attrs: { axis }, size }) => ({
    value: softmaxBackward(toFrontExpanded(y!, dy!, size), toFrontExpanded(g!, dg!, size), axis + 1),
    dim: 0,
  }),
  describe: ({ axis }) => `axis=${axis}`,
});

/**
 * y·(g − Σ_axis g·y): the gradient of y = softmax(x) along a normalized `axis` for the
 * cotangent g (y's shape and dtype), differentiable in y and g.
 */
export function softmaxBackward(y: Tensor, g: Tensor, axis: number): Tensor {
  return apply(softmaxBackwardOp, [y, g], { axis });
}
