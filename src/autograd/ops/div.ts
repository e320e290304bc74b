/**
 * div(a, b) = a / b;  ∂/∂a = 1/b, ∂/∂b = −a/b² = −(a/b)/b.
 * NOTE: a primitive (not a · b⁻¹) for one pass and one rounding instead of two.
 * NOTE: ∂/∂b is computed as −(a/b)/b, from the saved quotient, never with b·b: b² overflows
 * (float32 b = 2e20) or underflows (b = 1e-25) long before the derivative itself does.
 */
import { Tensor } from '../../tensor/tensor.js';
import { binaryOperands } from '../operands.js';
import { apply, defineOp } from '../op.js';
import { elementwiseBatch, sumTangents } from '../rules.js';
import { zipTensors } from './_kernels.js';

export const divOp = defineOp({
  name: 'div',
  forward: ([a, b]) => zipTensors('div', 'div', a!, b!),
  save: ([, b], y) => [b!, y],
  backward: (ctx, gradOut) => {
    const [b, y] = ctx.saved;
    return [
      ctx.needsInputGrad[0] ? gradOut.div(b!) : null,
      ctx.needsInputGrad[1] ? gradOut.mul(y!.div(b!)).neg() : null,
    ];
  },
  // ṫ = t_a / b − t_b·(a/b)/b, from the output as in backward (never b·b).
  jvp: ({ inputs: [, b], tangents: [ta, tb], output: y }) =>
    sumTangents(y, [ta ? ta.div(b!) : null, tb ? tb.mul(y.div(b!)).neg() : null]),
  batch: elementwiseBatch(([a, b]) => div(a!, b!)),
});

/**
 * Elementwise true division a / b with NumPy broadcasting. The operands are float tensors of
 * one dtype (no promotion; a number takes the other operand's dtype). Differentiable in both.
 * Division by 0 follows IEEE 754 (±∞, or NaN for 0/0), as torch.div does for floats.
 * @example div(1, tensor([2, 4])) // [0.5, 0.25]
 */
export function div(a: Tensor | number, b: Tensor | number): Tensor {
  return apply(divOp, binaryOperands('div', a, b), undefined);
}
