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
import { elementwiseBatch, sumTangents } from '../rules.js';
import { zipTensors } from './_kernels.js';
import { powScalar } from './pow-scalar.js';
import { where } from './where.js';

export const powOp = defineOp({
  name: 'pow',
  forward: ([a, b]) => zipTensors('pow', 'pow', a!, b!),
  save: ([a, b], y) => [a!, b!, y],
  backward: (ctx, gradOut) => {
    const [a, b, y] = ctx.saved;
    return [ctx.needsInputGrad[0] ? gradOut.mul(slopeA(a!, b!)) : null, ctx.needsInputGrad[1] ? gradOut.mul(slopeB(a!, b!, y!)) : null];
  },
  jvp: ({ inputs: [a, b], tangents: [ta, tb], output: y }) =>
    sumTangents(y, [ta ? ta.mul(slopeA(a!, b!)) : null, tb ? tb.mul(slopeB(a!, b!, y)) : null]),
  batch: elementwiseBatch(([a, b]) => pow(a!, b!)),
});

/** ∂y/∂a = b·aᵇ⁻¹, with a = 1 where a = b = 0 (see the file comment). */
function slopeA(a: Tensor, b: Tensor): Tensor {
  return b.mul(pow(where(a.eq(0).mul(b.eq(0)), 1, a), b.sub(1)));
}

/** ∂y/∂b = aᵇ·ln a, with a = 1 where a = 0 and b ≥ 0 (see the file comment). */
function slopeB(a: Tensor, b: Tensor, y: Tensor): Tensor {
  return y.mul(where(a.eq(0).mul(b.ge(0)), 1, a).log());
}

/**
 * Elementwise aᵇ with broadcasting; differentiable in both operands (∂/∂b = aᵇ·ln a needs
 * a > 0, and takes PyTorch's values at a = 0). A number exponent dispatches to powScalar.
 * @example pow(tensor([1, 2, 3]), 2) // [1, 4, 9]
 */
export function pow(a: Tensor | number, b: Tensor | number): Tensor {
  if (a instanceof Tensor && typeof b === 'number') return powScalar(a, b);
  return apply(powOp, binaryOperands('pow', a, b), undefined);
}
