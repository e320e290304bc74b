/**
 * div(a, b) = a / b;  ∂/∂a = 1/b, ∂/∂b = −a/b².
 * NOTE: a primitive (not a · b⁻¹) for one pass and one rounding instead of two.
 */
import { Tensor } from '../../tensor/tensor.js';
import { binaryOperands } from '../operands.js';
import { apply, defineOp } from '../op.js';
import { zipTensors } from './_kernels.js';

export const divOp = defineOp({
  name: 'div',
  forward: ([a, b]) => zipTensors('div', 'div', a!, b!),
  save: ([a, b]) => [a!, b!],
  backward: (ctx, gradOut) => {
    const [a, b] = ctx.saved;
    return [
      ctx.needsInputGrad[0] ? gradOut.div(b!) : null,
      ctx.needsInputGrad[1] ? gradOut.mul(a!).div(b!.mul(b!)).neg() : null,
    ];
  },
});

export function div(a: Tensor | number, b: Tensor | number): Tensor {
  return apply(divOp, binaryOperands('div', a, b), undefined);
}
