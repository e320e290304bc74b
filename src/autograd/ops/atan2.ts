/**
 * atan2(a, b): the angle of the point (b, a) in (−π, π], as torch.atan2(input=a, other=b);
 *   ∂/∂a = b/(a² + b²),  ∂/∂b = −a/(a² + b²)   (NaN at the origin, as in PyTorch).
 * NOTE: a primitive, not atan(a/b), which has the wrong quadrant for b < 0 and divides by 0 on
 * the a axis.
 */
import { Tensor } from '../../tensor/tensor.js';
import { binaryOperands } from '../operands.js';
import { apply, defineOp } from '../op.js';
import { elementwiseBatch, sumTangents } from '../rules.js';
import { zipTensors } from './_kernels.js';

export const atan2Op = defineOp({
  name: 'atan2',
  forward: ([a, b]) => zipTensors('atan2', 'atan2', a!, b!),
  save: ([a, b]) => [a!, b!],
  backward: (ctx, gradOut) => {
    const [a, b] = ctx.saved;
    const r2 = a!.mul(a!).add(b!.mul(b!));
    return [ctx.needsInputGrad[0] ? gradOut.mul(b!).div(r2) : null, ctx.needsInputGrad[1] ? gradOut.mul(a!).neg().div(r2) : null];
  },
  jvp: ({ inputs: [a, b], tangents: [ta, tb], output }) => {
    const r2 = a!.mul(a!).add(b!.mul(b!));
    return sumTangents(output, [ta ? ta.mul(b!).div(r2) : null, tb ? tb.mul(a!).neg().div(r2) : null]);
  },
  batch: elementwiseBatch(([a, b]) => atan2(a!, b!)),
});

/**
 * Elementwise atan2(a, b) with broadcasting, as torch.atan2(a, b): the angle of the point
 * (b, a), in (−π, π]. Differentiable in both operands. A function, not a Tensor method.
 */
export function atan2(a: Tensor | number, b: Tensor | number): Tensor {
  return apply(atan2Op, binaryOperands('atan2', a, b), undefined);
}
