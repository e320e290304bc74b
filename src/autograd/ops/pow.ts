/**
 * pow(a, b) = aᵇ elementwise (broadcasting);  ∂/∂a = b·aᵇ⁻¹, ∂/∂b = aᵇ·ln a.
 * ∂/∂b needs a > 0; it is only computed when b requires a gradient. A number exponent goes to
 * the cheaper powScalar.
 */
import { Tensor } from '../../tensor/tensor.js';
import { binaryOperands } from '../operands.js';
import { apply, defineOp } from '../op.js';
import { zipTensors } from './_kernels.js';
import { powScalar } from './pow-scalar.js';

export const powOp = defineOp({
  name: 'pow',
  forward: ([a, b]) => zipTensors('pow', 'pow', a!, b!),
  save: ([a, b], y) => [a!, b!, y],
  backward: (ctx, gradOut) => {
    const [a, b, y] = ctx.saved;
    return [
      ctx.needsInputGrad[0] ? gradOut.mul(b!).mul(pow(a!, b!.sub(1))) : null,
      ctx.needsInputGrad[1] ? gradOut.mul(y!).mul(a!.log()) : null,
    ];
  },
});

export function pow(a: Tensor | number, b: Tensor | number): Tensor {
  if (a instanceof Tensor && typeof b === 'number') return powScalar(a, b);
  return apply(powOp, binaryOperands('pow', a, b), undefined);
}
