/**
 * cast(x, dtype): the same values in another dtype;  d/dx = 1, with the gradient cast back
 * to x's dtype.
 */
import { allocate, assertFloat, type DType } from '../../tensor/dtype.js';
import { contiguousStrides } from '../../tensor/shape.js';
import { ValueError } from '../../tensor/errors.js';
import { Tensor } from '../../tensor/tensor.js';
import { getBackend } from '../../kernels/registry.js';
import { apply, defineOp } from '../op.js';
import { elementwiseBatch, sumTangents } from '../rules.js';
import { tensorArgument } from '../operands.js';
import { dtypeArgument } from '../../tensor/arguments.js';

export const castOp = defineOp<{
  /** The dtype converted to. */
  dtype: DType;
}>({
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
  // The tangent cast alike; an int32 result has no derivative (tangent zero), and truncating
  // the tangent to an integer would be wrong.
  jvp: ({ tangents: [t], output, attrs: { dtype } }) => (dtype === 'int32' ? sumTangents(output, []) : cast(t!, dtype)),
  batch: elementwiseBatch(([x], { dtype }) => cast(x!, dtype)),
  describe: ({ dtype }) => `to ${dtype}`,
});

/**
 * x converted to `dtype` (returns x itself when it already has that dtype). To int32, values
 * are truncated toward zero as in PyTorch; NaN, ±∞ and values outside int32's range have no
 * int32 and are refused (a typed-array store would silently make them 0 or wrap them).
 */
export function cast(x: Tensor, dtype: DType): Tensor {
  tensorArgument('cast', x);
  dtypeArgument('cast', dtype);
  if (x.dtype === dtype) return x;
  if (x.requiresGrad) assertFloat('cast', dtype);
  // Under vmap the values are checked by the batching rule, on the physical tensor.
  if (dtype === 'int32' && !x.isBatched) {
    const values = x.toTypedArray();
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (!(v > -2147483649 && v < 2147483648)) {
        throw new ValueError(`cast: ${v} at flat index ${i} has no int32 value (int32 holds integers in [-2147483648, 2147483647])`);
      }
    }
  }
  return apply(castOp, [x], { dtype });
}
