/**
 * minimum(a, b) elementwise;  ∂/∂a = [a < b] + ½[a = b], ∂/∂b = [b < a] + ½[a = b].
 * NOTE: at ties the gradient is split evenly, as PyTorch does. NaN propagates.
 */
import { Tensor } from '../../tensor/tensor.js';
import { binaryOperands } from '../operands.js';
import { apply, defineOp } from '../op.js';
import { elementwiseBatch, sumTangents } from '../rules.js';
import { zipTensors } from './_kernels.js';

export const minimumOp = defineOp({
  name: 'minimum',
  forward: ([a, b]) => zipTensors('minimum', 'minimum', a!, b!),
  save: ([a, b]) => [a!, b!],
  backward: (ctx, gradOut) => {
    const [a, b] = ctx.saved;
    const tie = a!.eq(b!).mul(0.5);
    return [
      ctx.needsInputGrad[0] ? gradOut.mul(a!.lt(b!).add(tie)) : null,
      ctx.needsInputGrad[1] ? gradOut.mul(b!.lt(a!).add(tie)) : null,
    ];
  },
  // The same weights as backward: at a tie the output moves by the mean of the two tangents.
  jvp: ({ inputs: [a, b], tangents: [ta, tb], output }) => {
    const tie = a!.eq(b!).mul(0.5);
    return sumTangents(output, [ta ? ta.mul(a!.lt(b!).add(tie)) : null, tb ? tb.mul(b!.lt(a!).add(tie)) : null]);
  },
  batch: elementwiseBatch(([a, b]) => minimum(a!, b!)),
});

/**
 * Elementwise min(a, b) with broadcasting (torch.minimum); differentiable in both operands,
 * the gradient split ½/½ at ties. NaN in either operand propagates.
 */
export function minimum(a: Tensor | number, b: Tensor | number): Tensor {
  return apply(minimumOp, binaryOperands('minimum', a, b), undefined);
}
