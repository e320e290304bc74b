/**
 * softmax(x; axis)ᵢ = e^{xᵢ − m} / Σⱼ e^{xⱼ − m} along one axis, m the line's maximum (a
 * constant shift: neither the value nor the gradient depends on it). With y the output and g
 * its cotangent, ∂/∂x = y·(g − Σ g·y), the fused softmaxBackward (softmax-backward.ts), and the
 * tangent is ẏ = y·(ẋ − Σ y·ẋ): the same map, since the Jacobian diag(y) − y·yᵀ is symmetric.
 * NOTE: a primitive for speed: the composite ran max, shift, exp, sum and divide as five passes
 * over the tensor forward and about twice as many backward (softmax was ≈ 50 ms of the 138 ms
 * of scaled dot-product attention on scores [32, 4, 128, 128]); this is one kernel each way,
 * with the same max shift (stable for any magnitude; NaN spreads over its line; a line of −∞
 * gives NaN), in float64 the composite's values bit for bit, in float32 rounded once.
 * logSoftmax stays a composite (see composite/reduce.ts).
 */
import { getBackend } from '../../kernels/registry.js';
import { Tensor } from '../../tensor/tensor.js';
import { apply, defineOp, type OpDef } from '../op.js';
import { toFront } from '../rules.js';
import { softmaxBackward, type SoftmaxAttrs } from './softmax-backward.js';

export const softmaxOp: OpDef<SoftmaxAttrs> = defineOp<SoftmaxAttrs>({
  name: 'softmax',
  forward: ([x], { axis }) => Tensor.fromData(getBackend().softmax(x!, axis, x!.dtype), x!.shape),
  save: (_inputs, y) => [y],
  backward: (ctx, gradOut) => [softmaxBackward(ctx.saved[0]!, gradOut, ctx.attrs.axis)],
  jvp: ({ tangents: [t], output, attrs: { axis } }) => softmaxBackward(output, t!, axis),
  // The batch axis first; the softmax axis moves one place on.
  batch: ({ inputs: [x], dims: [d], attrs: { axis } }) => ({ value: apply(softmaxOp, [toFront(x!, d!)], { axis: axis + 1 }), dim: 0 }),
  describe: ({ axis }) => `axis=${axis}`,
});

/**
 * The fused softmax of a float x along a normalized `axis`, differentiable to any order.
 * Arguments are the caller's to check (the public entry point is softmax in
 * composite/reduce.ts); a 0-d x is treated as [1].
 */
export function fusedSoftmax(x: Tensor, axis: number): Tensor {
  return x.rank === 0 ? apply(softmaxOp, [x.reshape([1])], { axis: 0 }).reshape([]) : apply(softmaxOp, [x], { axis });
}
