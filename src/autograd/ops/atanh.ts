/**
 * artanh(x), |x| < 1;  d/dx = 1/((1 − x)(1 + x)), factored so that 1 − x keeps its digits near 1.
 * NOTE: a primitive, not ½ ln((1 + x)/(1 − x)), which loses the relative precision of artanh near 0.
 */
import { Tensor } from '../../tensor/tensor.js';
import { floatOperand } from '../operands.js';
import { apply, defineOp } from '../op.js';
import { elementwiseBatch, unaryJvp } from '../rules.js';
import { mapTensor } from './_kernels.js';

export const atanhOp = defineOp({
  name: 'atanh',
  forward: ([x]) => mapTensor('atanh', x!),
  save: ([x]) => [x!],
  backward: (ctx, gradOut) => {
    const [x] = ctx.saved;
    return [gradOut.mul(slope(x!))];
  },
  jvp: unaryJvp((x) => slope(x)),
  batch: elementwiseBatch(([x]) => atanh(x!)),
});

/** d artanh / dx = 1/((1 − x)(1 + x)). */
const slope = (x: Tensor): Tensor => x.neg().add(1).mul(x.add(1)).reciprocal();

/** Elementwise inverse hyperbolic tangent (float x; ±∞ at ±1, NaN beyond), as torch.atanh; differentiable (1/(1 − x²)). A function, not a Tensor method. */
export function atanh(x: Tensor): Tensor {
  return apply(atanhOp, [floatOperand('atanh', x)], undefined);
}
