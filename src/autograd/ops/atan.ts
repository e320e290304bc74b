/** arctan(x);  d/dx = 1/(1 + x²) (0 where x² overflows, as it should). */
import { Tensor } from '../../tensor/tensor.js';
import { floatOperand } from '../operands.js';
import { apply, defineOp } from '../op.js';
import { elementwiseBatch, unaryJvp } from '../rules.js';
import { mapTensor } from './_kernels.js';

export const atanOp = defineOp({
  name: 'atan',
  forward: ([x]) => mapTensor('atan', x!),
  save: ([x]) => [x!],
  backward: (ctx, gradOut) => {
    const [x] = ctx.saved;
    return [gradOut.mul(slope(x!))];
  },
  jvp: unaryJvp((x) => slope(x)),
  batch: elementwiseBatch(([x]) => atan(x!)),
});

/** d arctan / dx = 1/(1 + x²). */
const slope = (x: Tensor): Tensor => x.mul(x).add(1).reciprocal();

/** Elementwise arctangent (float x), as torch.atan; differentiable (1/(1 + x²)). A function, not a Tensor method. */
export function atan(x: Tensor): Tensor {
  return apply(atanOp, [floatOperand('atan', x)], undefined);
}
