/**
 * where(cond, a, b) = a where cond ≠ 0, else b (all three broadcast together; cond may have
 * any dtype);
 * ∂/∂a = [cond], ∂/∂b = 1 − [cond]. The condition is never differentiated.
 * NOTE: the gradient is routed with where, not multiplied by a 0/1 mask, so an infinite or
 * NaN gradient in the branch that was not taken cannot leak through as 0·∞ = NaN.
 */
import { getBackend } from '../../kernels/registry.js';
import { broadcastShapes } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { binaryOperands, scalarTensor, tensorArgument } from '../operands.js';
import { apply, defineOp } from '../op.js';
import { alignForBroadcast, sumTangents } from '../rules.js';
import { broadcastView } from './_kernels.js';

export const whereOp = defineOp<{
  /** The selector, any dtype, broadcast with a and b: nonzero picks a, zero picks b. Never differentiated. */
  cond: Tensor;
}>({
  name: 'where',
  forward: ([a, b], { cond }) => {
    const shape = broadcastShapes('where', broadcastShapes('where', cond.shape, a!.shape), b!.shape);
    const data = getBackend().where(broadcastView(cond, shape), broadcastView(a!, shape), broadcastView(b!, shape), a!.dtype);
    return Tensor.fromData(data, shape);
  },
  backward: (ctx, gradOut) => {
    const { cond } = ctx.attrs;
    const zero = scalarTensor(0, gradOut.dtype);
    return [
      ctx.needsInputGrad[0] ? where(cond, gradOut, zero) : null,
      ctx.needsInputGrad[1] ? where(cond, zero, gradOut) : null,
    ];
  },
  // Selected like the values (a null tangent is zero), by where for the reason above.
  jvp: ({ tangents: [ta, tb], output, attrs: { cond } }) => {
    const zero = scalarTensor(0, output.dtype);
    return sumTangents(output, [where(cond, ta ?? zero, tb ?? zero)]);
  },
  // The condition may be batched too (it is usually computed from batched values): it is
  // lined up with a and b like a third operand.
  batch: ({ inputs: [a, b], dims: [da, db], attrs: { cond }, unwrap }) => {
    const c = unwrap(cond);
    const [ca, aa, ab] = alignForBroadcast([c.value, a!, b!], [c.dim, da!, db!]);
    return { value: where(ca!, aa!, ab!), dim: 0 };
  },
});

/**
 * Elementwise selection: a where `cond` is nonzero, else b, with cond, a and b broadcast
 * together (torch.where / jnp.where). Differentiable in a and b (the gradient is routed, not
 * masked, so a NaN in the untaken branch does not leak); cond may have any dtype.
 * @example where(x.gt(0), x, 0) // relu
 */
export function where(cond: Tensor, a: Tensor | number, b: Tensor | number): Tensor {
  tensorArgument('where', cond, 'the condition to be a Tensor');
  const [ta, tb] = binaryOperands('where', a, b);
  return apply(whereOp, [ta, tb], { cond });
}
