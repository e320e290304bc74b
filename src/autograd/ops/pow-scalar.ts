/**
 * powScalar(x, p) = xᵖ for a constant exponent p;  d/dx = p·xᵖ⁻¹.
 * Any real p; negative bases give NaN for non-integer p, as Math.pow does.
 */
import { Tensor } from '../../tensor/tensor.js';
import { floatOperand } from '../operands.js';
import { apply, defineOp } from '../op.js';
import { mapTensor } from './_kernels.js';
import { numberArgument } from '../../tensor/arguments.js';

export const powScalarOp = defineOp<{ exponent: number }>({
  name: 'powScalar',
  forward: ([x], { exponent }) => mapTensor('powScalar', x!, exponent),
  save: ([x]) => [x!],
  backward: (ctx, gradOut) => {
    const [x] = ctx.saved;
    const p = ctx.attrs.exponent;
    // NOTE: p = 0 has derivative 0 everywhere; p·x^(p−1) would give 0·∞ = NaN at x = 0.
    if (p === 0) return [gradOut.mul(0)];
    return [gradOut.mul(powScalar(x!, p - 1).mul(p))];
  },
  describe: ({ exponent }) => `exponent=${exponent}`,
});

export function powScalar(x: Tensor, exponent: number): Tensor {
  return apply(powScalarOp, [floatOperand('pow', x)], { exponent: numberArgument('pow', 'the exponent', exponent) });
}
