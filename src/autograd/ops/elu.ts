/**
 * elu(x) = x if x > 0 else α(eˣ − 1);  d/dx = 1 if x > 0 else αeˣ = y + α.
 * NOTE: a primitive, not where(x > 0, x, α(eˣ − 1)): in that composite the unused branch's
 * eˣ overflows for large x and its backward turns 0·∞ into NaN.
 */
import { Tensor } from '../../tensor/tensor.js';
import { floatOperand } from '../operands.js';
import { apply, defineOp } from '../op.js';
import { mapTensor } from './_kernels.js';
import { where } from './where.js';

export const eluOp = defineOp<{ alpha: number }>({
  name: 'elu',
  forward: ([x], { alpha }) => mapTensor('elu', x!, alpha),
  save: ([x], y) => [x!, y],
  backward: (ctx, gradOut) => {
    const [x, y] = ctx.saved;
    return [gradOut.mul(where(x!.gt(0), 1, y!.add(ctx.attrs.alpha)))];
  },
  describe: ({ alpha }) => `alpha=${alpha}`,
});

export function elu(x: Tensor, alpha = 1): Tensor {
  return apply(eluOp, [floatOperand('elu', x)], { alpha });
}
