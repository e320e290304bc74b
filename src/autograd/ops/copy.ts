/** copy(x): the same values in new contiguous storage;  d/dx = 1. Backs clone() and contiguous(). */
import { getBackend } from '../../kernels/registry.js';
import { allocate } from '../../tensor/dtype.js';
import { contiguousStrides } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { apply, defineOp } from '../op.js';
import { elementwiseBatch } from '../rules.js';
import { tensorArgument } from '../operands.js';

export const copyOp = defineOp({
  name: 'copy',
  forward: ([x]) => {
    const data = allocate(x!.dtype, x!.size);
    getBackend().copyInto(x!, { data, shape: x!.shape, strides: contiguousStrides(x!.shape), offset: 0 });
    return Tensor.fromData(data, x!.shape);
  },
  backward: (_ctx, gradOut) => [gradOut],
  // The tangent is a value of its own (never written in place by the engine): no copy needed.
  jvp: ({ tangents: [t] }) => t!,
  batch: elementwiseBatch(([x]) => clone(x!)),
});

/** A copy of x that owns its storage (in-place writes to it never affect x). */
export function clone(x: Tensor): Tensor {
  return apply(copyOp, [tensorArgument('clone', x)], undefined);
}

/** x itself if its elements are contiguous in row-major order, otherwise a contiguous copy. */
export function contiguous(x: Tensor): Tensor {
  return tensorArgument('contiguous', x).isContiguous() ? x : clone(x);
}
