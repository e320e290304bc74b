/**
 * arcosh(x), x ≥ 1;  d/dx = 1/√((x − 1)(x + 1)), factored so that x − 1 keeps its digits near 1.
 * NOTE: a primitive, not ln(x + √(x² − 1)), which loses the relative precision of arcosh near 1.
 */
import { Tensor } from '../../tensor/tensor.js';
import { floatOperand } from '../operands.js';
import { apply, defineOp } from '../op.js';
import { elementwiseBatch, unaryJvp } from '../rules.js';
import { mapTensor } from './_kernels.js';
import { rsqrt } from './rsqrt.js';

export const acoshOp = defineOp({
  name: 'acosh',
  forward: ([x]) => mapTensor('acosh', x!),
  save: ([x]) => [x!],
  backward: (ctx, gradOut) => {
    const [x] = ctx.saved;
    return [gradOut.mul(slope(x!))];
  },
  jvp: unaryJvp((x) => slope(x)),
  batch: elementwiseBatch(([x]) => acosh(x!)),
});

/** d arcosh / dx = 1/√((x − 1)(x + 1)). */
const slope = (x: Tensor): Tensor => rsqrt(x.sub(1).mul(x.add(1)));

/** Elementwise inverse hyperbolic cosine (float x, NaN below 1), as torch.acosh; differentiable (1/√(x² − 1), +∞ at 1). A function, not a Tensor method. */
export function acosh(x: Tensor): Tensor {
  return apply(acoshOp, [floatOperand('acosh', x)], undefined);
}
