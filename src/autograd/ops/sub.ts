/**
 * sub(a, b) = a − b;  ∂/∂a = 1, ∂/∂b = −1.
 * NOTE: a primitive (not a + (−b)) only to save a pass over the data.
 */
import { Tensor } from '../../tensor/tensor.js';
import { binaryOperands } from '../operands.js';
import { apply, defineOp } from '../op.js';
import { elementwiseBatch, sumTangents } from '../rules.js';
import { zipTensors } from './_kernels.js';

export const subOp = defineOp({
  name: 'sub',
  forward: ([a, b]) => zipTensors('sub', 'sub', a!, b!),
  backward: (ctx, gradOut) => [gradOut, ctx.needsInputGrad[1] ? gradOut.neg() : null],
  jvp: ({ tangents: [ta, tb], output }) => (ta && tb ? sumTangents(output, [ta.sub(tb)]) : sumTangents(output, [ta ?? null, tb ? tb.neg() : null])),
  batch: elementwiseBatch(([a, b]) => sub(a!, b!)),
});

/**
 * Elementwise a − b with NumPy broadcasting. The operands are float tensors of one dtype (no
 * promotion; a number takes the other operand's dtype). Differentiable in both (∂/∂b = −1).
 * @example sub(tensor([[1, 2]]), tensor([[1], [2]])) // shape [2, 2]
 */
export function sub(a: Tensor | number, b: Tensor | number): Tensor {
  return apply(subOp, binaryOperands('sub', a, b), undefined);
}
