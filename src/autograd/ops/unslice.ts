/**
 * unslice(g, shape, slice): the transpose of slice — a zero tensor of `shape` with g written at
 * the positions the slice selected. ∂/∂g = slice of gradOut with the same attrs.
 * Used as the backward of slice; it exists as a primitive so that slicing stays differentiable
 * to any order. Linear: the tangent is unsliced alike.
 */
import { getBackend } from '../../kernels/registry.js';
import { allocate } from '../../tensor/dtype.js';
import { contiguousStrides, sizeOf, type Shape } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { apply, defineOp } from '../op.js';
import { shiftedBatch } from '../rules.js';
import { shiftSlice, sliceOp, type SliceAttrs } from './slice.js';

export const unsliceOp = defineOp<{
  /** Shape of the full (zero-filled) output: the shape of the tensor that was sliced. */
  shape: number[];
  /** The slice whose positions receive g. */
  slice: SliceAttrs;
}>({
  name: 'unslice',
  forward: ([g], { shape, slice }) => {
    const data = allocate(g!.dtype, sizeOf(shape));
    const strides = contiguousStrides(shape);
    let offset = 0;
    slice.starts.forEach((s, d) => (offset += s * strides[d]!));
    const target = { data, shape: slice.shape, strides: slice.steps.map((s, d) => s * strides[d]!), offset };
    getBackend().copyInto(g!, target);
    return Tensor.fromData(data, shape);
  },
  backward: (ctx, gradOut) => [apply(sliceOp, [gradOut], ctx.attrs.slice)],
  jvp: ({ tangents: [t], attrs }): Tensor => apply(unsliceOp, [t!], attrs),
  batch: shiftedBatch(
    (g, attrs): Tensor => apply(unsliceOp, [g], attrs),
    ({ shape, slice }, size) => ({ shape: [size, ...shape], slice: shiftSlice(slice, size) }),
  ),
  describe: ({ shape }) => `shape=[${shape}]`,
});

/**
 * The transpose of slice: zeros of `shape` with g written at the positions `slice` selects
 * (g has shape `slice.shape`). Differentiable (its derivative is the slice again); it is
 * slice's backward, kept primitive so slicing is differentiable to any order.
 */
export function unslice(g: Tensor, shape: Shape, slice: SliceAttrs): Tensor {
  return apply(unsliceOp, [g], { shape: shape.slice(), slice });
}
