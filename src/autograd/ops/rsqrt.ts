/**
 * rsqrt(x) = 1/√x;  d/dx = −½ x^(−3/2) = −½y³, from the saved output.
 * NOTE: a primitive (one kernel, 1/Math.sqrt: ≤ 1.5 ulp) rather than sqrt then reciprocal (two
 * kernels) or powScalar(−0.5); asin, acos, asinh and acosh use it in their derivatives.
 */
import { Tensor } from '../../tensor/tensor.js';
import { floatOperand } from '../operands.js';
import { apply, defineOp } from '../op.js';
import { elementwiseBatch, unaryJvp } from '../rules.js';
import { mapTensor } from './_kernels.js';

export const rsqrtOp = defineOp({
  name: 'rsqrt',
  forward: ([x]) => mapTensor('rsqrt', x!),
  save: (_inputs, y) => [y],
  backward: (ctx, gradOut) => {
    const [y] = ctx.saved;
    return [gradOut.mul(slope(y!))];
  },
  jvp: unaryJvp((_x, y) => slope(y)),
  batch: elementwiseBatch(([x]) => rsqrt(x!)),
});

/** d rsqrt / dx = −½y³, y = 1/√x. */
const slope = (y: Tensor): Tensor => y.mul(y).mul(y).mul(-0.5);

/** Elementwise 1/√x (float x; +∞ at 0, NaN below), as torch.rsqrt; differentiable (−½x^(−3/2)). A function, not a Tensor method. */
export function rsqrt(x: Tensor): Tensor {
  return apply(rsqrtOp, [floatOperand('rsqrt', x)], undefined);
}
