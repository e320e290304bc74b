/**
 * pow(a, b) = aᵇ elementwise (broadcasting);  ∂/∂a = b·aᵇ⁻¹, ∂/∂b = aᵇ·ln a.
 * ∂/∂b needs a > 0; it is only computed when b requires a gradient. A number exponent goes to
 * the cheaper powScalar.
 * At a = 0, as PyTorch: ∂/∂a = 0 where b = 0 too (b·aᵇ⁻¹ would be 0·∞), and ∂/∂b = 0 where
 * b ≥ 0 (aᵇ·ln a would be 0·(−∞)). Both are made so by evaluating the formula at a = 1 at just
 * those points (through where: elsewhere the rule, and its own derivatives, are untouched).
 */
import { Tensor } from '../../tensor/tensor.js';
import { binaryOperands } from '../operands.js';
import { apply, defineOp } from '../op.js';
import { zipTensors } from './_kernels.js';
import { powScalar } from './pow-scalar.js';
import { where } from './where.js';

export const powOp = defineOp({
  name: 'pow',
  forward: ([a, b]) => zipTensors('pow', 'pow', a!, b!),
  save: ([a, b], y) => [a!, b!, y],
  backward: (ctx, gradOut) => {
    const [a, b, y] = ctx.saved;
    const aIsZero = a!.eq(0);
    const da = () => gradOut.mul(b!).mul(pow(where(aIsZero.mul(b!.eq(0)), 1, a!), b!.sub(1)));
    const db = () => gradOut.mul(y!).mul(where(aIsZero.mul(b!.ge(0)), 1, a!).log());
    return [ctx.needsInputGrad[0] ? da() : null, ctx.needsInputGrad[1] ? db() : null];
  },
});

export function pow(a: Tensor | number, b: Tensor | number): Tensor {
  if (a instanceof Tensor && typeof b === 'number') return powScalar(a, b);
  return apply(powOp, binaryOperands('pow', a, b), undefined);
}
