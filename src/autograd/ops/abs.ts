/**
 * abs(x) = |x|;  d/dx = sign(x).
 * NOTE: at x = 0 the derivative is taken as sign(0) = 0, as PyTorch does.
 */
import { Tensor } from '../../tensor/tensor.js';
import { floatOperand } from '../operands.js';
import { apply, defineOp } from '../op.js';
import { elementwiseBatch, unaryJvp } from '../rules.js';
import { mapTensor } from './_kernels.js';

export const absOp = defineOp({
  name: 'abs',
  forward: ([x]) => mapTensor('abs', x!),
  save: ([x]) => [x!],
  backward: (ctx, gradOut) => {
    const [x] = ctx.saved;
    return [gradOut.mul(x!.sign())];
  },
  jvp: unaryJvp((x) => x.sign()),
  batch: elementwiseBatch(([x]) => abs(x!)),
});

/** Elementwise |x| (float x); differentiable, with derivative sign(x) (0 at x = 0, as PyTorch). */
export function abs(x: Tensor): Tensor {
  return apply(absOp, [floatOperand('abs', x)], undefined);
}
