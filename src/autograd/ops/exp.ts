/** exp(x) = eˣ;  d/dx = eˣ, so the OUTPUT is saved rather than recomputed (and ṫ = t·eˣ). */
import { Tensor } from '../../tensor/tensor.js';
import { floatOperand } from '../operands.js';
import { apply, defineOp } from '../op.js';
import { elementwiseBatch, unaryJvp } from '../rules.js';
import { mapTensor } from './_kernels.js';

export const expOp = defineOp({
  name: 'exp',
  forward: ([x]) => mapTensor('exp', x!),
  save: (_inputs, y) => [y],
  backward: (ctx, gradOut) => {
    const [y] = ctx.saved;
    return [gradOut.mul(y!)];
  },
  jvp: unaryJvp((_x, y) => y),
  batch: elementwiseBatch(([x]) => exp(x!)),
});

/** Elementwise eˣ (float x); differentiable, with the output saved for backward. */
export function exp(x: Tensor): Tensor {
  return apply(expOp, [floatOperand('exp', x)], undefined);
}
