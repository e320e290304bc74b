/**
 * powScalar(x, p) = xᵖ for a constant exponent p;  d/dx = p·xᵖ⁻¹.
 * Any real p; negative bases give NaN for non-integer p, as Math.pow does.
 */
import { Tensor } from '../../tensor/tensor.js';
import { floatOperand } from '../operands.js';
import { apply, defineOp } from '../op.js';
import { elementwiseBatch } from '../rules.js';
import { mapTensor } from './_kernels.js';
import { numberArgument } from '../../tensor/arguments.js';

export const powScalarOp = defineOp<{
  /** The constant exponent p, any number (±∞ and NaN follow Math.pow). */
  exponent: number;
}>({
  name: 'powScalar',
  forward: ([x], { exponent }) => mapTensor('powScalar', x!, exponent),
  save: ([x]) => [x!],
  backward: (ctx, gradOut) => {
    const [x] = ctx.saved;
    return [gradOut.mul(slope(x!, ctx.attrs.exponent))];
  },
  jvp: ({ inputs: [x], tangents: [t], attrs }) => t!.mul(slope(x!, attrs.exponent)),
  batch: elementwiseBatch(([x], { exponent }) => powScalar(x!, exponent)),
  describe: ({ exponent }) => `exponent=${exponent}`,
});

/** p·xᵖ⁻¹, or the number 0 for p = 0 (p·x^(p−1) would give 0·∞ = NaN at x = 0). */
function slope(x: Tensor, p: number): Tensor | number {
  return p === 0 ? 0 : powScalar(x, p - 1).mul(p);
}

/**
 * Elementwise xᵖ for a constant number p (float x); differentiable in x only (p·xᵖ⁻¹, and 0
 * for p = 0). Negative bases with non-integer p give NaN, as Math.pow does.
 */
export function powScalar(x: Tensor, exponent: number): Tensor {
  return apply(powScalarOp, [floatOperand('pow', x)], { exponent: numberArgument('pow', 'the exponent', exponent) });
}
