/**
 * relu(x) = max(x, 0);  d/dx = 1 if x > 0 else 0.
 * NOTE: the derivative at exactly 0 is taken as 0 (PyTorch's choice). The mask (y > 0) is a
 * constant, so every higher derivative is 0 almost everywhere — which is the truth.
 */
import { Tensor } from '../../tensor/tensor.js';
import { floatOperand } from '../operands.js';
import { apply, defineOp } from '../op.js';
import { mapTensor } from './_kernels.js';

export const reluOp = defineOp({
  name: 'relu',
  forward: ([x]) => mapTensor('relu', x!),
  save: (_inputs, y) => [y],
  backward: (ctx, gradOut) => {
    const [y] = ctx.saved;
    return [gradOut.mul(y!.gt(0))];
  },
});

export function relu(x: Tensor): Tensor {
  return apply(reluOp, [floatOperand('relu', x)], undefined);
}
