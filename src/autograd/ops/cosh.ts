/**
 * cosh(x);  d/dx = sinh x.
 * NOTE: a primitive, not (eˣ + e⁻ˣ)/2: eˣ overflows at x ≈ 709.78, cosh only at ≈ 710.48.
 */
import { Tensor } from '../../tensor/tensor.js';
import { floatOperand } from '../operands.js';
import { apply, defineOp } from '../op.js';
import { elementwiseBatch, unaryJvp } from '../rules.js';
import { mapTensor } from './_kernels.js';
import { sinh } from './sinh.js';

export const coshOp = defineOp({
  name: 'cosh',
  forward: ([x]) => mapTensor('cosh', x!),
  save: ([x]) => [x!],
  backward: (ctx, gradOut) => {
    const [x] = ctx.saved;
    return [gradOut.mul(slope(x!))];
  },
  jvp: unaryJvp((x) => slope(x)),
  batch: elementwiseBatch(([x]) => cosh(x!)),
});

/** d cosh / dx = sinh x. */
const slope = (x: Tensor): Tensor => sinh(x);

/** Elementwise hyperbolic cosine (float x), as torch.cosh; differentiable (sinh x). A function, not a Tensor method. */
export function cosh(x: Tensor): Tensor {
  return apply(coshOp, [floatOperand('cosh', x)], undefined);
}
