/**
 * cast(x, dtype): the same values in another dtype;  d/dx = 1, with the gradient cast back
 * to x's dtype.
 */
import { allocate, assertFloat, type DType } from '../../tensor/dtype.js';
import { contiguousStrides } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { getBackend } from '../../kernels/registry.js';
import { apply, defineOp } from '../op.js';

export const castOp = defineOp<{ dtype: DType }>({
  name: 'cast',
  forward: ([x], { dtype }) => {
    const data = allocate(dtype, x!.size);
    getBackend().copyInto(x!, { data, shape: x!.shape, strides: contiguousStrides(x!.shape), offset: 0 });
    return Tensor.fromData(data, x!.shape);
  },
  backward: (ctx, gradOut) => {
    const source = ctx.inputDTypes[0]!;
    return [cast(gradOut, source)];
  },
  describe: ({ dtype }) => `to ${dtype}`,
});

/** x converted to `dtype` (returns x itself when it already has that dtype). */
export function cast(x: Tensor, dtype: DType): Tensor {
  if (x.dtype === dtype) return x;
  if (x.requiresGrad) assertFloat('cast', dtype);
  return apply(castOp, [x], { dtype });
}
