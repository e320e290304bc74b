/** sqrt(x) = √x;  d/dx = 1 / (2√x), computed from the saved output. */
import { Tensor } from '../../tensor/tensor.js';
import { floatOperand } from '../operands.js';
import { apply, defineOp } from '../op.js';
import { elementwiseBatch } from '../rules.js';
import { mapTensor } from './_kernels.js';

export const sqrtOp = defineOp({
  name: 'sqrt',
  forward: ([x]) => mapTensor('sqrt', x!),
  save: (_inputs, y) => [y],
  backward: (ctx, gradOut) => {
    const [y] = ctx.saved;
    return [gradOut.div(y!.mul(2))];
  },
  jvp: ({ tangents: [t], output: y }) => t!.div(y.mul(2)),
  batch: elementwiseBatch(([x]) => sqrt(x!)),
});

/** Elementwise √x (float x); differentiable, 1/(2√x), which is +∞ at 0. NaN below 0. */
export function sqrt(x: Tensor): Tensor {
  return apply(sqrtOp, [floatOperand('sqrt', x)], undefined);
}
