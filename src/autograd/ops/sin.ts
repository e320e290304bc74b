/** sin(x);  d/dx = cos x. */
import { Tensor } from '../../tensor/tensor.js';
import { floatOperand } from '../operands.js';
import { apply, defineOp } from '../op.js';
import { elementwiseBatch, unaryJvp } from '../rules.js';
import { mapTensor } from './_kernels.js';
import { cos } from './cos.js';

export const sinOp = defineOp({
  name: 'sin',
  forward: ([x]) => mapTensor('sin', x!),
  save: ([x]) => [x!],
  backward: (ctx, gradOut) => {
    const [x] = ctx.saved;
    return [gradOut.mul(slope(x!))];
  },
  jvp: unaryJvp((x) => slope(x)),
  batch: elementwiseBatch(([x]) => sin(x!)),
});

/** d sin / dx = cos x. */
const slope = (x: Tensor): Tensor => cos(x);

/**
 * Elementwise sine (float x), as torch.sin; differentiable (cos x). A function, not a Tensor
 * method (as in jax.numpy): `import { sin } from 'gradscope'`.
 */
export function sin(x: Tensor): Tensor {
  return apply(sinOp, [floatOperand('sin', x)], undefined);
}
