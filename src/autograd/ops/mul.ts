/** mul(a, b) = a·b;  ∂/∂a = b, ∂/∂b = a. */
import { Tensor } from '../../tensor/tensor.js';
import { binaryOperands } from '../operands.js';
import { apply, defineOp } from '../op.js';
import { elementwiseBatch, sumTangents } from '../rules.js';
import { zipTensors } from './_kernels.js';

export const mulOp = defineOp({
  name: 'mul',
  forward: ([a, b]) => zipTensors('mul', 'mul', a!, b!),
  save: ([a, b]) => [a!, b!],
  backward: (ctx, gradOut) => {
    const [a, b] = ctx.saved;
    return [ctx.needsInputGrad[0] ? gradOut.mul(b!) : null, ctx.needsInputGrad[1] ? gradOut.mul(a!) : null];
  },
  jvp: ({ inputs: [a, b], tangents: [ta, tb], output }) => sumTangents(output, [ta ? ta.mul(b!) : null, tb ? tb.mul(a!) : null]),
  batch: elementwiseBatch(([a, b]) => mul(a!, b!)),
});

/**
 * Elementwise (Hadamard) product a·b with NumPy broadcasting. The operands are float tensors
 * of one dtype (no promotion; a number takes the other operand's dtype). Differentiable in both.
 * @example mul(tensor([1, 2, 3]), 2) // [2, 4, 6]
 */
export function mul(a: Tensor | number, b: Tensor | number): Tensor {
  return apply(mulOp, binaryOperands('mul', a, b), undefined);
}
