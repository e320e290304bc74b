/**
 * log σ(x) = −softplus(−x) = min(x, 0) − ln(1 + e^−|x|);  d/dx = σ(−x) = 1 − σ(x).
 * NOTE: a primitive because both composites fail somewhere: log(sigmoid(x)) gives −∞ for
 * x < −745 (σ underflows), and −softplus(−x) is linear past softplus' threshold (x < −20),
 * where it drops the term −e^x (relative error 1e-10 at x = −20). PyTorch's kernel uses the
 * same stable form. The derivative is σ(−x), not 1 − σ(x), which cancels for x ≫ 0.
 */
import { Tensor } from '../../tensor/tensor.js';
import { floatOperand } from '../operands.js';
import { apply, defineOp } from '../op.js';
import { elementwiseBatch, unaryJvp } from '../rules.js';
import { mapTensor } from './_kernels.js';
import { where } from './where.js';

export const logSigmoidOp = defineOp({
  name: 'logSigmoid',
  forward: ([x]) => mapTensor('logSigmoid', x!),
  save: ([x]) => [x!],
  backward: (ctx, gradOut) => {
    const [x] = ctx.saved;
    return [gradOut.mul(slope(x!))];
  },
  jvp: unaryJvp((x) => slope(x)),
  batch: elementwiseBatch(([x]) => logSigmoid(x!)),
});

/**
 * d log σ / dx = σ(−x), as σ(−x) for x > 0 and 1 − σ(x) for x ≤ 0: the same values (no
 * cancellation on either side), but sigmoid's own derivative y(1 − y) is then always taken
 * where y ≤ ½, so that the second derivative −σ(x)σ(−x) keeps its digits for |x| ≫ 1 too
 * (σ(40) rounds to 1, and 1 − y to 0).
 */
const slope = (x: Tensor): Tensor => where(x.gt(0), x.neg().sigmoid(), x.sigmoid().neg().add(1));

/**
 * Elementwise log σ(x) (float x), stable for any |x| (no overflow, no cancellation), as
 * torch.nn.functional.logsigmoid; differentiable (σ(−x)). A function, not a Tensor method.
 */
export function logSigmoid(x: Tensor): Tensor {
  return apply(logSigmoidOp, [floatOperand('logSigmoid', x)], undefined);
}
