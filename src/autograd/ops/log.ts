/** log(x) = ln x;  d/dx = 1/x.  (log 0 = −∞ and log of a negative number is NaN, as in IEEE.) */
import { Tensor } from '../../tensor/tensor.js';
import { floatOperand } from '../operands.js';
import { apply, defineOp } from '../op.js';
import { mapTensor } from './_kernels.js';

export const logOp = defineOp({
  name: 'log',
  forward: ([x]) => mapTensor('log', x!),
  save: ([x]) => [x!],
  backward: (ctx, gradOut) => {
    const [x] = ctx.saved;
    return [gradOut.div(x!)];
  },
});

export function log(x: Tensor): Tensor {
  return apply(logOp, [floatOperand('log', x)], undefined);
}
