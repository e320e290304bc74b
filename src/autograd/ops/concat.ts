/**
 * concat([x₀, x₁, …], axis): the inputs joined along `axis` (torch.cat);
 * ∂/∂xₖ = the slice of gradOut that xₖ occupies; linear, so the tangent is the tangents
 * concatenated.
 */
import { getBackend } from '../../kernels/registry.js';
import { allocate, assertSameDType } from '../../tensor/dtype.js';
import { assertShape, assertValue, formatShape } from '../../tensor/errors.js';
import { contiguousStrides, normalizeAxis, sizeOf } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { apply, defineOp, type Batched } from '../op.js';
import { tensorListArgument } from '../operands.js';
import { zeros } from '../../tensor/creation.js';
import { toFrontExpanded } from '../rules.js';

export const concatOp = defineOp<{
  /** The joining axis, normalised to 0 … rank−1. */
  axis: number;
}>({
  name: 'concat',
  forward: (inputs, { axis }) => {
    const shape = inputs[0]!.shape.slice();
    shape[axis] = inputs.reduce((n, t) => n + t.shape[axis]!, 0);
    const data = allocate(inputs[0]!.dtype, sizeOf(shape));
    const strides = contiguousStrides(shape);
    let start = 0;
    for (const t of inputs) {
      getBackend().copyInto(t, { data, shape: t.shape, strides, offset: start * strides[axis]! });
      start += t.shape[axis]!;
    }
    return Tensor.fromData(data, shape);
  },
  backward: (ctx, gradOut) => {
    const axis = ctx.attrs.axis;
    let start = 0;
    return ctx.inputShapes.map((shape, k) => {
      const spec = shape.map((_, d) => (d === axis ? ([start, start + shape[axis]!] as const) : null));
      start += shape[axis]!;
      return ctx.needsInputGrad[k] ? gradOut.slice(spec) : null;
    });
  },
  // Linear in all inputs at once: the tangents concatenated, a zero block for a constant input.
  jvp: ({ inputs, tangents, attrs }): Tensor =>
    apply(
      concatOp,
      tangents.map((t, k) => t ?? zeros(inputs[k]!.shape, { dtype: inputs[k]!.dtype })),
      attrs,
    ),
  // Every input batch-first (an unbatched one broadcast to the batch size), joined on axis + 1.
  batch: ({ inputs, dims, attrs: { axis }, size }): Batched => ({
    value: apply(
      concatOp,
      inputs.map((x, k) => toFrontExpanded(x, dims[k]!, size)),
      { axis: axis + 1 },
    ),
    dim: 0,
  }),
  describe: ({ axis }) => `axis=${axis}`,
});

/**
 * Join tensors of one dtype and rank along an existing `axis` (default 0), as torch.cat; all
 * other axes must match. Differentiable in every input. Returns the tensor itself for a list
 * of one; throws ValueError for an empty list or 0-d tensors (use stack), ShapeError or
 * DTypeError on a mismatch.
 * @example concat([ones([2, 1]), zeros([2, 2])], 1) // shape [2, 3]
 */
export function concat(tensors: readonly Tensor[], axis = 0): Tensor {
  tensorListArgument('concat', tensors);
  assertValue(tensors.length > 0, () => 'concat: expected at least one tensor; got an empty list');
  const first = tensors[0]!;
  assertValue(first.rank > 0, () => 'concat: cannot concatenate 0-d tensors (use stack)');
  const ax = normalizeAxis('concat', axis, first.rank);
  for (const [k, t] of tensors.entries()) {
    assertSameDType('concat', first.dtype, t.dtype);
    assertShape(
      t.rank === first.rank && t.shape.every((d, i) => i === ax || d === first.shape[i]),
      () =>
        `concat: tensor ${k} has shape ${formatShape(t.shape)} but tensor 0 has ${formatShape(first.shape)}; ` +
        `shapes must match except on axis ${ax}`,
    );
  }
  if (tensors.length === 1) return first;
  return apply(concatOp, tensors, { axis: ax });
}
