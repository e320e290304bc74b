/**
 * elu(x) = x if x > 0 else α(eˣ − 1);  d/dx = 1 if x > 0 else αeˣ.
 * NOTE: a primitive, not where(x > 0, x, α(eˣ − 1)): in that composite the unused branch's
 * eˣ overflows for large x and its backward turns 0·∞ into NaN.
 * NOTE: αeˣ, not y + α: y + α cancels (float32 at x = −20 gives 0 instead of 2.06e-9). The
 * exponential is taken of min(x, 0) (through where, so x = 0 keeps slope 1) so the branch
 * not taken never overflows, and neither does the second derivative.
 */
import { Tensor } from '../../tensor/tensor.js';
import { floatOperand } from '../operands.js';
import { apply, defineOp } from '../op.js';
import { elementwiseBatch, unaryJvp } from '../rules.js';
import { mapTensor } from './_kernels.js';
import { where } from './where.js';
import { finiteArgument } from '../../tensor/arguments.js';

export const eluOp = defineOp<{
  /** α, the value the negative branch saturates to (−α as x → −∞). */
  alpha: number;
}>({
  name: 'elu',
  forward: ([x], { alpha }) => mapTensor('elu', x!, alpha),
  save: ([x]) => [x!],
  backward: (ctx, gradOut) => {
    const [x] = ctx.saved;
    return [gradOut.mul(slope(x!, ctx.attrs.alpha))];
  },
  jvp: unaryJvp((x, _y, { alpha }) => slope(x, alpha)),
  batch: elementwiseBatch(([x], { alpha }) => elu(x!, alpha)),
  describe: ({ alpha }) => `alpha=${alpha}`,
});

/** d elu / dx: 1 where x > 0, else αe^{min(x, 0)} (see the file comment). */
function slope(x: Tensor, alpha: number): Tensor {
  const positive = x.gt(0);
  const negativePart = where(positive, 0, x);
  return where(positive, 1, negativePart.exp().mul(alpha));
}

/**
 * Elementwise ELU: x for x > 0, α(eˣ − 1) otherwise (torch.nn.functional.elu); differentiable.
 * `alpha` (default 1) must be finite; throws ValueError otherwise.
 */
export function elu(x: Tensor, alpha = 1): Tensor {
  return apply(eluOp, [floatOperand('elu', x)], { alpha: finiteArgument('elu', 'alpha', alpha) });
}
