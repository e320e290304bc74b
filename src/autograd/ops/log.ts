/** log(x) = ln x;  d/dx = 1/x.  (log 0 = −∞ and log of a negative number is NaN, as in IEEE.) */
import { Tensor } from '../../tensor/tensor.js';
import { floatOperand } from '../operands.js';
import { apply, defineOp } from '../op.js';
import { elementwiseBatch } from '../rules.js';
import { mapTensor } from './_kernels.js';

export const logOp = defineOp({
  name: 'log',
  forward: ([x]) => mapTensor('log', x!),
  save: ([x]) => [x!],
  backward: (ctx, gradOut) => {
    const [x] = ctx.saved;
    return [gradOut.div(x!)];
  },
  // ṫ = t / x, a division as in backward (not t·(1/x): one rounding, and no 1/x overflow).
  jvp: ({ inputs: [x], tangents: [t] }) => t!.div(x!),
  batch: elementwiseBatch(([x]) => log(x!)),
});

/**
 * Elementwise natural logarithm ln x (float x); differentiable (1/x). log 0 = −∞ and the log
 * of a negative number is NaN, as in IEEE 754.
 */
export function log(x: Tensor): Tensor {
  return apply(logOp, [floatOperand('log', x)], undefined);
}
