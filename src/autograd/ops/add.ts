/** add(a, b) = a + b (broadcasting);  ∂/∂a = 1, ∂/∂b = 1. The engine sums broadcast axes. */
import { Tensor } from '../../tensor/tensor.js';
import { binaryOperands } from '../operands.js';
import { apply, defineOp } from '../op.js';
import { elementwiseBatch, sumTangents } from '../rules.js';
import { zipTensors } from './_kernels.js';

export const addOp = defineOp({
  name: 'add',
  forward: ([a, b]) => zipTensors('add', 'add', a!, b!),
  backward: (_ctx, gradOut) => [gradOut, gradOut],
  jvp: ({ tangents, output }) => sumTangents(output, tangents),
  batch: elementwiseBatch(([a, b]) => add(a!, b!)),
});

/**
 * Elementwise a + b with NumPy broadcasting, like torch.add without `alpha`. The operands are
 * float tensors of one dtype (no promotion; a number takes the other operand's dtype).
 * Differentiable in both; each gradient is summed back to its operand's shape.
 * @example add(tensor([1, 2]), 10) // [11, 12]
 */
export function add(a: Tensor | number, b: Tensor | number): Tensor {
  return apply(addOp, binaryOperands('add', a, b), undefined);
}
