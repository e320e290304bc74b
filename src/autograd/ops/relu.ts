/**
 * relu(x) = max(x, 0);  d/dx = 1 if x > 0 else 0.
 * NOTE: the derivative at exactly 0 is taken as 0 (PyTorch's choice). The mask (y > 0) is a
 * constant, so every higher derivative is 0 almost everywhere — which is the truth. The
 * backward is `reluBackward(gradOut; y)`, gradOut·[y > 0] in one pass (relu-backward.ts), and
 * differentiable in gradOut, so HVPs through relu work as they did with gradOut.mul(y.gt(0)).
 */
import { Tensor } from '../../tensor/tensor.js';
import { floatOperand } from '../operands.js';
import { apply, defineOp } from '../op.js';
import { elementwiseBatch } from '../rules.js';
import { reluBackward } from './relu-backward.js';
import { where } from './where.js';
import { mapTensor } from './_kernels.js';

export const reluOp = defineOp({
  name: 'relu',
  forward: ([x]) => mapTensor('relu', x!),
  save: (_inputs, y) => [y],
  backward: (ctx, gradOut) => {
    const [y] = ctx.saved;
    return [reluBackward(gradOut, y!)];
  },
  // The tangent is selected by the mask (PyTorch's threshold_backward), so a NaN or infinite
  // tangent where x ≤ 0 gives 0 rather than 0·∞ = NaN.
  jvp: ({ tangents: [t], output: y }) => where(y.gt(0), t!, 0),
  batch: elementwiseBatch(([x]) => relu(x!)),
});

/** Elementwise max(x, 0) (float x); differentiable, with derivative 0 at x = 0 (PyTorch's choice). */
export function relu(x: Tensor): Tensor {
  return apply(reluOp, [floatOperand('relu', x)], undefined);
}
