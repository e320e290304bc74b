/**
 * reshape(x, shape): the same elements in row-major order with a new shape;
 * ∂/∂x = gradOut reshaped back. A view when the strides allow it, otherwise a copy.
 */
import { getBackend } from '../../kernels/registry.js';
import { allocate } from '../../tensor/dtype.js';
import { contiguousStrides, inferReshape, shapesEqual, viewStrides } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { apply, defineOp } from '../op.js';
import { linearJvp, shiftedBatch } from '../rules.js';
import { tensorArgument } from '../operands.js';

export const reshapeOp = defineOp<{
  /** The target shape, with any −1 already resolved. */
  shape: number[];
}>({
  name: 'reshape',
  forward: ([x], { shape }) => {
    const strides = viewStrides(x!.shape, x!.strides, shape);
    if (strides) return Tensor.viewOf(x!, shape, strides, x!.offset);
    const data = allocate(x!.dtype, x!.size);
    getBackend().copyInto(x!, { data, shape: x!.shape, strides: contiguousStrides(x!.shape), offset: 0 });
    return Tensor.fromData(data, shape);
  },
  backward: (ctx, gradOut) => [gradOut.reshape(ctx.inputShapes[0]!)],
  jvp: linearJvp((t, { shape }) => t.reshape(shape)),
  batch: shiftedBatch((x, { shape }) => x.reshape(shape), ({ shape }, size) => ({ shape: [size, ...shape] })),
  describe: ({ shape }) => `shape=[${shape}]`,
});

/**
 * The same elements in row-major order under a new shape (one entry may be −1, inferred);
 * a view when the strides allow it (as torch.reshape), otherwise a contiguous copy. Returns x
 * itself when the shape is unchanged. Differentiable; throws ShapeError if the sizes differ.
 * @example arange(6).reshape([2, -1]) // shape [2, 3]
 */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const target = inferReshape('reshape', tensorArgument('reshape', x).shape, shape);
  if (shapesEqual(target, x.shape)) return x;
  return apply(reshapeOp, [x], { shape: target });
}
