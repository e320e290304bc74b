/**
 * ln(1 + x);  d/dx = 1/(1 + x).
 * NOTE: a primitive, not log(1 + x): 1 + x rounds away the digits of a small x.
 */
import { Tensor } from '../../tensor/tensor.js';
import { floatOperand } from '../operands.js';
import { apply, defineOp } from '../op.js';
import { elementwiseBatch, unaryJvp } from '../rules.js';
import { mapTensor } from './_kernels.js';

export const log1pOp = defineOp({
  name: 'log1p',
  forward: ([x]) => mapTensor('log1p', x!),
  save: ([x]) => [x!],
  backward: (ctx, gradOut) => {
    const [x] = ctx.saved;
    return [gradOut.mul(slope(x!))];
  },
  jvp: unaryJvp((x) => slope(x)),
  batch: elementwiseBatch(([x]) => log1p(x!)),
});

/** d log1p / dx = 1/(1 + x). */
const slope = (x: Tensor): Tensor => x.add(1).reciprocal();

/** Elementwise ln(1 + x) (float x), accurate for small x, as torch.log1p; differentiable (1/(1 + x)). A function, not a Tensor method. */
export function log1p(x: Tensor): Tensor {
  return apply(log1pOp, [floatOperand('log1p', x)], undefined);
}
