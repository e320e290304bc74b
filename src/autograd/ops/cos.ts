/**
 * cos(x);  d/dx = −sin x.
 * NOTE: a primitive, not sin(π/2 − x): π/2 − x rounds away the digits that cos keeps near π/2
 * (at x = fl(π/2) the composite gives 0 instead of 6.1e-17, and relative precision is lost
 * throughout the neighbourhood).
 */
import { Tensor } from '../../tensor/tensor.js';
import { floatOperand } from '../operands.js';
import { apply, defineOp } from '../op.js';
import { elementwiseBatch, unaryJvp } from '../rules.js';
import { mapTensor } from './_kernels.js';
import { sin } from './sin.js';

export const cosOp = defineOp({
  name: 'cos',
  forward: ([x]) => mapTensor('cos', x!),
  save: ([x]) => [x!],
  backward: (ctx, gradOut) => {
    const [x] = ctx.saved;
    return [gradOut.mul(slope(x!))];
  },
  jvp: unaryJvp((x) => slope(x)),
  batch: elementwiseBatch(([x]) => cos(x!)),
});

/** d cos / dx = −sin x. */
const slope = (x: Tensor): Tensor => sin(x).neg();

/** Elementwise cosine (float x), as torch.cos; differentiable (−sin x). A function, not a Tensor method. */
export function cos(x: Tensor): Tensor {
  return apply(cosOp, [floatOperand('cos', x)], undefined);
}
