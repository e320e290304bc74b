/**
 * scatterAdd(src, axis, index, shape): zeros of `shape` with src[…, i, …] added at position
 * index[…, i, …] along `axis` — the transpose of gather. ∂/∂src = gather of gradOut; linear,
 * so the tangent is scattered alike.
 */
import { getBackend } from '../../kernels/registry.js';
import { assertShape, formatShape } from '../../tensor/errors.js';
import { shapesEqual, type Shape } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { apply, defineOp, type Batched } from '../op.js';
import { batchFirstWithIndex, checkIndex, gather } from './gather.js';
import { tensorArgument } from '../operands.js';
import { shapeArgument } from '../../tensor/arguments.js';

export const scatterAddOp = defineOp<{
  /** The scattered axis, normalised to 0 … rank−1. */
  axis: number;
  /** int32 target positions along `axis`, with src's shape; a constant (never differentiated). */
  index: Tensor;
  /** Shape of the zero-initialised output. */
  shape: number[];
}>({
  name: 'scatterAdd',
  forward: ([src], { axis, index, shape }) =>
    Tensor.fromData(getBackend().scatterAdd(src!, axis, index, shape, src!.dtype), shape),
  backward: (ctx, gradOut) => [gather(gradOut, ctx.attrs.axis, ctx.attrs.index)],
  // Linear in src (the index is a constant attr): the tangent is scattered alike.
  jvp: ({ tangents: [t], attrs }): Tensor => apply(scatterAddOp, [t!], attrs),
  batch: (args): Batched => {
    const { x, index, axis } = batchFirstWithIndex(args);
    return { value: apply(scatterAddOp, [x], { axis, index, shape: [args.size, ...args.attrs.shape] }), dim: 0 };
  },
  describe: ({ axis, shape }) => `axis=${axis}, shape=[${shape}]`,
});

/**
 * The transpose of gather: zeros of `shape` with each `src` element added at its `index`
 * position along `axis` (duplicates accumulate), like `torch.zeros(shape).scatter_add(axis,
 * index, src)` but out of place. `src` and the int32 `index` share one shape. Differentiable
 * in src (the gradient is gather of gradOut). Throws ValueError for an index outside
 * [0, shape[axis]).
 */
export function scatterAdd(src: Tensor, axis: number, index: Tensor, shape: Shape): Tensor {
  tensorArgument('scatterAdd', src, 'src to be a Tensor');
  shape = shapeArgument('scatterAdd', shape);
  const ax = checkIndex('scatterAdd', shape, axis, index);
  assertShape(
    shapesEqual(src.shape, index.shape),
    () => `scatterAdd: src of shape ${formatShape(src.shape)} must have the index's shape ${formatShape(index.shape)}`,
  );
  if (shape.length === 0) return scatterAdd(src.reshape([1]), 0, index.reshape([1]), [1]).reshape([]);
  return apply(scatterAddOp, [src], { axis: ax, index, shape: shape.slice() });
}
