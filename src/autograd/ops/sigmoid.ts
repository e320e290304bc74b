/** sigmoid(x) = σ(x) = 1 / (1 + e⁻ˣ);  d/dx = σ(x)·(1 − σ(x)), from the saved output. */
import { Tensor } from '../../tensor/tensor.js';
import { floatOperand } from '../operands.js';
import { apply, defineOp } from '../op.js';
import { elementwiseBatch } from '../rules.js';
import { mapTensor } from './_kernels.js';

export const sigmoidOp = defineOp({
  name: 'sigmoid',
  forward: ([x]) => mapTensor('sigmoid', x!),
  save: (_inputs, y) => [y],
  backward: (ctx, gradOut) => {
    const [y] = ctx.saved;
    return [gradOut.mul(y!).mul(y!.neg().add(1))];
  },
  jvp: ({ tangents: [t], output: y }) => t!.mul(y).mul(y.neg().add(1)),
  batch: elementwiseBatch(([x]) => sigmoid(x!)),
});

/** Elementwise logistic σ(x) = 1 / (1 + e⁻ˣ) (float x); differentiable, σ(x)·(1 − σ(x)). */
export function sigmoid(x: Tensor): Tensor {
  return apply(sigmoidOp, [floatOperand('sigmoid', x)], undefined);
}
