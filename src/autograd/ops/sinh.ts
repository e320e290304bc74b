/**
 * sinh(x);  d/dx = cosh x.
 * NOTE: a primitive, not (eˣ − e⁻ˣ)/2, which cancels near 0 (relative error ≈ ε/|x|).
 */
import { Tensor } from '../../tensor/tensor.js';
import { floatOperand } from '../operands.js';
import { apply, defineOp } from '../op.js';
import { elementwiseBatch, unaryJvp } from '../rules.js';
import { mapTensor } from './_kernels.js';
import { cosh } from './cosh.js';

export const sinhOp = defineOp({
  name: 'sinh',
  forward: ([x]) => mapTensor('sinh', x!),
  save: ([x]) => [x!],
  backward: (ctx, gradOut) => {
    const [x] = ctx.saved;
    return [gradOut.mul(slope(x!))];
  },
  jvp: unaryJvp((x) => slope(x)),
  batch: elementwiseBatch(([x]) => sinh(x!)),
});

/** d sinh / dx = cosh x. */
const slope = (x: Tensor): Tensor => cosh(x);

/** Elementwise hyperbolic sine (float x), as torch.sinh; differentiable (cosh x). A function, not a Tensor method. */
export function sinh(x: Tensor): Tensor {
  return apply(sinhOp, [floatOperand('sinh', x)], undefined);
}
