/**
 * arccos(x);  d/dx = −1/√((1 − x)(1 + x)) (see asin.ts for the factored form).
 * NOTE: a primitive, not π/2 − arcsin x, which loses the relative precision of acos near x = 1.
 */
import { Tensor } from '../../tensor/tensor.js';
import { floatOperand } from '../operands.js';
import { apply, defineOp } from '../op.js';
import { elementwiseBatch, unaryJvp } from '../rules.js';
import { mapTensor } from './_kernels.js';
import { rsqrt } from './rsqrt.js';

export const acosOp = defineOp({
  name: 'acos',
  forward: ([x]) => mapTensor('acos', x!),
  save: ([x]) => [x!],
  backward: (ctx, gradOut) => {
    const [x] = ctx.saved;
    return [gradOut.mul(slope(x!))];
  },
  jvp: unaryJvp((x) => slope(x)),
  batch: elementwiseBatch(([x]) => acos(x!)),
});

/** d arccos / dx = −1/√((1 − x)(1 + x)). */
const slope = (x: Tensor): Tensor => rsqrt(x.neg().add(1).mul(x.add(1))).neg();

/** Elementwise arccosine (float x, NaN outside [−1, 1]), as torch.acos; differentiable (−1/√(1 − x²)). A function, not a Tensor method. */
export function acos(x: Tensor): Tensor {
  return apply(acosOp, [floatOperand('acos', x)], undefined);
}
