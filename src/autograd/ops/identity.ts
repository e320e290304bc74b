/**
 * identity(x) = x;  d/dx = 1.
 *
 * A new graph node over the same storage. Function transforms (grad, vjp, …) call it on their
 * arguments so that each transform differentiates with respect to its own node, even when the
 * argument is itself being differentiated by an outer transform.
 */
import { apply, defineOp } from '../op.js';
import { elementwiseBatch } from '../rules.js';
import { Tensor } from '../../tensor/tensor.js';
import { tensorArgument } from '../operands.js';

export const identityOp = defineOp({
  name: 'identity',
  forward: ([x]) => Tensor.viewOf(x!, x!.shape, x!.strides, x!.offset),
  backward: (_ctx, gradOut) => [gradOut],
  jvp: ({ tangents: [t] }) => t!,
  // A new node over the physical value too, so that a transform outside vmap sees its own node.
  batch: elementwiseBatch(([x]) => identity(x!)),
});

/**
 * x as a new graph node over the same storage (no copy); differentiable with derivative 1.
 * The function transforms use it to give each transform its own node for an argument.
 */
export function identity(x: Tensor): Tensor {
  return apply(identityOp, [tensorArgument('identity', x)], undefined);
}
