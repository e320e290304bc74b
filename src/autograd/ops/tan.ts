/** tan(x);  d/dx = 1 + tan² x, from the saved output. */
import { Tensor } from '../../tensor/tensor.js';
import { floatOperand } from '../operands.js';
import { apply, defineOp } from '../op.js';
import { elementwiseBatch, unaryJvp } from '../rules.js';
import { mapTensor } from './_kernels.js';

export const tanOp = defineOp({
  name: 'tan',
  forward: ([x]) => mapTensor('tan', x!),
  save: (_inputs, y) => [y],
  backward: (ctx, gradOut) => {
    const [y] = ctx.saved;
    return [gradOut.mul(slope(y!))];
  },
  jvp: unaryJvp((_x, y) => slope(y)),
  batch: elementwiseBatch(([x]) => tan(x!)),
});

/** d tan / dx = 1 + y², y = tan x. */
const slope = (y: Tensor): Tensor => y.mul(y).add(1);

/** Elementwise tangent (float x), as torch.tan; differentiable (1 + tan² x). A function, not a Tensor method. */
export function tan(x: Tensor): Tensor {
  return apply(tanOp, [floatOperand('tan', x)], undefined);
}
