/**
 * tanh(x);  d/dx = 1 − tanh²(x), from the saved output.
 * NOTE: a primitive rather than 2σ(2x) − 1, which loses precision near 0.
 */
import { Tensor } from '../../tensor/tensor.js';
import { floatOperand } from '../operands.js';
import { apply, defineOp } from '../op.js';
import { elementwiseBatch, unaryJvp } from '../rules.js';
import { mapTensor } from './_kernels.js';

export const tanhOp = defineOp({
  name: 'tanh',
  forward: ([x]) => mapTensor('tanh', x!),
  save: (_inputs, y) => [y],
  backward: (ctx, gradOut) => {
    const [y] = ctx.saved;
    return [gradOut.mul(y!.mul(y!).neg().add(1))];
  },
  jvp: unaryJvp((_x, y) => y.mul(y).neg().add(1)),
  batch: elementwiseBatch(([x]) => tanh(x!)),
});

/** Elementwise hyperbolic tangent (float x); differentiable, 1 − tanh²(x). */
export function tanh(x: Tensor): Tensor {
  return apply(tanhOp, [floatOperand('tanh', x)], undefined);
}
