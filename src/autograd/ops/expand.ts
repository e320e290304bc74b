/**
 * expand(x, shape): x broadcast to a larger shape (a view with stride 0 on broadcast axes);
 * ∂/∂x = gradOut summed over the broadcast axes — which is exactly what the engine's
 * unbroadcast does, so the rule itself just passes gradOut on. Linear: the tangent is
 * expanded alike.
 */
import { assertShape, describeValue, formatShape } from '../../tensor/errors.js';
import { broadcastShapes, broadcastStrides, shapesEqual } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { apply, defineOp } from '../op.js';
import { tensorArgument } from '../operands.js';
import { linearJvp, toFront } from '../rules.js';

export const expandOp = defineOp<{
  /** The broadcast target shape, with any −1 already replaced by the input's size. */
  shape: number[];
}>({
  name: 'expand',
  forward: ([x], { shape }) => Tensor.viewOf(x!, shape, broadcastStrides(x!.shape, x!.strides, shape), x!.offset),
  backward: (_ctx, gradOut) => [gradOut],
  jvp: linearJvp((t, { shape }) => t.expand(shape)),
  batch: ({ inputs: [x], dims: [d], attrs: { shape }, size }) => {
    // Batch axis first, then the leading axes the expansion adds (size 1) go AFTER it, so that
    // broadcasting lines the per-sample axes up on the right as it does for one sample.
    const front = toFront(x!, d!);
    const added = shape.length - (front.rank - 1);
    const lifted = added > 0 ? front.reshape([size, ...new Array<number>(added).fill(1), ...front.shape.slice(1)]) : front;
    return { value: lifted.expand([size, ...shape]), dim: 0 };
  },
  describe: ({ shape }) => `shape=[${shape}]`,
});

/**
 * Broadcast x to `shape` (new leading axes, size-1 axes stretched; −1 keeps x's size), as
 * torch.expand: a view with stride 0 on the broadcast axes, so do not write into it in place.
 * Differentiable (the gradient is summed over the broadcast axes). Throws ShapeError if x
 * does not broadcast to `shape`.
 * @example tensor([1, 2]).expand([3, 2]) // [[1, 2], [1, 2], [1, 2]]
 */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  tensorArgument('expand', x);
  assertShape(Array.isArray(shape), () => `expand: expected the target shape as a list of integers; got ${describeValue(shape)}`);
  // A -1 keeps the input's size on that axis, as in PyTorch.
  const lead = shape.length - x.rank;
  const target = shape.map((d, i) => (d === -1 && i >= lead ? x.shape[i - lead]! : d));
  assertShape(
    target.length >= x.rank &&
      target.every((d) => Number.isInteger(d) && d >= 0) &&
      shapesEqual(broadcastShapes('expand', x.shape, target), target),
    () => `expand: cannot expand shape ${formatShape(x.shape)} to ${formatShape(shape)}`,
  );
  if (shapesEqual(target, x.shape)) return x;
  return apply(expandOp, [x], { shape: target });
}
