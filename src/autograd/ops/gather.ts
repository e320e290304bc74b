/**
 * gather(x, axis, index): out[…, i, …] = x[…, index[…, i, …], …] along `axis` (torch.gather;
 * index is int32 with x's rank); ∂/∂x = scatterAdd of gradOut at the same indices (positions
 * gathered twice receive both gradients). Linear in x, so the tangent is gathered alike.
 */
import { getBackend } from '../../kernels/registry.js';
import { assertShape, formatShape } from '../../tensor/errors.js';
import { normalizeAxis } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { apply, defineOp, type BatchArgs, type Batched } from '../op.js';
import { scatterAdd } from './scatter-add.js';
import { indexArgument, tensorArgument } from '../operands.js';
import { toFrontExpanded } from '../rules.js';

export const gatherOp = defineOp<{
  /** The indexed axis, normalised to 0 … rank−1. */
  axis: number;
  /** int32 indices along `axis`, same rank as x; a constant (never differentiated). */
  index: Tensor;
}>({
  name: 'gather',
  forward: ([x], { axis, index }) => Tensor.fromData(getBackend().gather(x!, axis, index, x!.dtype), index.shape),
  backward: (ctx, gradOut) => [scatterAdd(gradOut, ctx.attrs.axis, ctx.attrs.index, ctx.inputShapes[0]!)],
  // Linear in x (the index is a constant attr): the tangent is gathered at the same indices.
  jvp: ({ tangents: [t], attrs }): Tensor => apply(gatherOp, [t!], attrs),
  batch: (args): Batched => {
    const { x, index, axis } = batchFirstWithIndex(args);
    return { value: apply(gatherOp, [x], { axis, index }), dim: 0 };
  },
  describe: ({ axis }) => `axis=${axis}`,
});

/**
 * gather's and scatterAdd's batching: the tensor input and the index (which may be batched
 * too, or be the only batched one) both batch-first, the unbatched one broadcast to the batch
 * size, so that sample b reads (or writes) its own row with its own indices; axis + 1.
 */
export function batchFirstWithIndex<A extends { axis: number; index: Tensor }>({ inputs: [x], dims: [d], attrs, size, unwrap }: BatchArgs<A>): {
  x: Tensor;
  index: Tensor;
  axis: number;
} {
  const index = unwrap(attrs.index);
  return { x: toFrontExpanded(x!, d!, size), index: toFrontExpanded(index.value, index.dim, size), axis: attrs.axis + 1 };
}

/** Check an index tensor for gather/scatterAdd against the shape it indexes. */
export function checkIndex(op: string, shape: readonly number[], axis: number, index: Tensor): number {
  indexArgument(op, index);
  const ax = normalizeAxis(op, axis, shape.length);
  assertShape(
    index.rank === shape.length && index.shape.every((d, i) => i === ax || d <= shape[i]!),
    () =>
      `${op}: index of shape ${formatShape(index.shape)} does not fit a tensor of shape ${formatShape(shape)} ` +
      `(same rank, and no larger except on axis ${ax})`,
  );
  return ax;
}

/**
 * torch.gather: `out[i][j] = x[i][index[i][j]]` for axis 1 (and likewise for any axis). The
 * index is int32 with x's rank and no larger than x on the other axes; the output has the
 * index's shape. Differentiable in x (repeated indices accumulate in the gradient, via
 * scatterAdd). Throws DTypeError for a non-int32 index, ShapeError for an ill-fitting one,
 * and ValueError for an index outside [0, x.shape[axis]) (negative indices included).
 * @example tensor([[1, 2], [3, 4]]).gather(1, tensor([[1], [0]], { dtype: 'int32' })) // [[2], [3]]
 */
export function gather(x: Tensor, axis: number, index: Tensor): Tensor {
  const ax = checkIndex('gather', tensorArgument('gather', x).shape, axis, index);
  // A 0-d tensor gathers as the 1-element vector it is (torch: x.gather(0, tensor(0)) is x).
  if (x.rank === 0) return gather(x.reshape([1]), 0, index.reshape([1])).reshape([]);
  return apply(gatherOp, [x], { axis: ax, index });
}
