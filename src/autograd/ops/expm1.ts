/**
 * eˣ − 1;  d/dx = eˣ, from the saved input (y + 1 would lose the digits of eˣ for x ≪ 0).
 * NOTE: a primitive, not exp(x) − 1, which cancels for small x.
 */
import { Tensor } from '../../tensor/tensor.js';
import { floatOperand } from '../operands.js';
import { apply, defineOp } from '../op.js';
import { elementwiseBatch, unaryJvp } from '../rules.js';
import { mapTensor } from './_kernels.js';

export const expm1Op = defineOp({
  name: 'expm1',
  forward: ([x]) => mapTensor('expm1', x!),
  save: ([x]) => [x!],
  backward: (ctx, gradOut) => {
    const [x] = ctx.saved;
    return [gradOut.mul(slope(x!))];
  },
  jvp: unaryJvp((x) => slope(x)),
  batch: elementwiseBatch(([x]) => expm1(x!)),
});

/** d expm1 / dx = eˣ. */
const slope = (x: Tensor): Tensor => x.exp();

/** Elementwise eˣ − 1 (float x), accurate for small x, as torch.expm1; differentiable (eˣ). A function, not a Tensor method. */
export function expm1(x: Tensor): Tensor {
  return apply(expm1Op, [floatOperand('expm1', x)], undefined);
}
