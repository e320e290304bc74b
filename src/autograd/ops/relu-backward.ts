/**
 * reluBackward(g; y) = g · [y > 0], relu's backward: g is the gradient of relu's output and
 * y (an attr, never differentiated) the saved output. Linear in g: ∂/∂g = [y > 0], so its own
 * backward and its JVP are reluBackward again; the mask is a step function of y, whose
 * derivative is 0 almost everywhere, which is why y is an attr and not an input.
 * NOTE: a primitive for speed, not for the math: relu's backward was `g.mul(y.gt(0))`, a
 * comparison that writes a mask array and a product that reads it back. One zip with the scalar
 * function BINARY.reluBackward, g·+(y > 0), gives the same values bit for bit (0·∞ = NaN and
 * the 0 at y = 0 included) in one pass without the mask: 1.5–2× faster on a [128, 256]
 * hidden layer (bench/micro/elementwise.mjs).
 */
import type { Tensor } from '../../tensor/tensor.js';
import { binaryOperands } from '../operands.js';
import { apply, defineOp } from '../op.js';
import { alignForBroadcast } from '../rules.js';
import { zipTensors } from './_kernels.js';

export const reluBackwardOp = defineOp<{
  /** relu's output (or anything whose positive entries select g), broadcast with g; never differentiated. */
  y: Tensor;
}>({
  name: 'reluBackward',
  forward: ([g], { y }) => zipTensors('reluBackward', 'reluBackward', g!, y),
  // Saved (not only held in attrs) so that an in-place change of y before backward is caught.
  save: (_inputs, _output, { y }) => [y],
  backward: (ctx, gradOut) => {
    const [y] = ctx.saved;
    return [reluBackward(gradOut, y!)];
  },
  jvp: ({ tangents: [t], attrs: { y } }) => reluBackward(t!, y),
  // y is usually batched with g (both come from the same relu); line the two up like the
  // operands of a binary elementwise op.
  batch: ({ inputs: [g], dims: [d], attrs: { y }, unwrap }) => {
    const mask = unwrap(y);
    const [ag, ay] = alignForBroadcast([g!, mask.value], [d!, mask.dim]);
    return { value: reluBackward(ag!, ay!), dim: 0 };
  },
});

/**
 * g · [y > 0] elementwise with broadcasting (float tensors of one dtype): the gradient of
 * relu(x) for the output gradient g, given y = relu(x). Differentiable in g (again
 * reluBackward); y is never differentiated.
 * @example reluBackward(tensor([1, 1, 1]), tensor([2, 0, 3])) // [1, 0, 1]
 */
export function reluBackward(g: Tensor, y: Tensor): Tensor {
  const [gt, yt] = binaryOperands('reluBackward', g, y);
  return apply(reluBackwardOp, [gt], { y: yt });
}
