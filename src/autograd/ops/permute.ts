/**
 * permute(x, dims): out.shape[i] = x.shape[dims[i]] (a view: strides are permuted);
 * ∂/∂x = gradOut permuted by the inverse permutation. Linear: the tangent is permuted alike.
 */
import { assertValue, describeValue } from '../../tensor/errors.js';
import { normalizeAxis } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { apply, defineOp } from '../op.js';
import { tensorArgument } from '../operands.js';
import { linearJvp, shiftAxes, shiftedBatch } from '../rules.js';

export const permuteOp = defineOp<{
  /** The permutation, normalised to 0 … rank−1: output axis i is input axis dims[i]. */
  dims: number[];
}>({
  name: 'permute',
  forward: ([x], { dims }) =>
    Tensor.viewOf(
      x!,
      dims.map((d) => x!.shape[d]!),
      dims.map((d) => x!.strides[d]!),
      x!.offset,
    ),
  backward: (ctx, gradOut) => {
    const inverse = new Array<number>(ctx.attrs.dims.length);
    ctx.attrs.dims.forEach((d, i) => (inverse[d] = i));
    return [gradOut.permute(inverse)];
  },
  jvp: linearJvp((t, { dims }) => t.permute(dims)),
  // The batch axis stays first; every per-sample axis moves one place right.
  batch: shiftedBatch((x, { dims }) => x.permute(dims), ({ dims }) => ({ dims: [0, ...shiftAxes(dims)] })),
  describe: ({ dims }) => `dims=[${dims}]`,
});

/**
 * Reorder the axes: output axis i is input axis `dims[i]` (negative axes allowed), as
 * torch.permute. A view (strides permuted, nothing copied); differentiable. Throws ValueError
 * unless `dims` is a permutation of all rank axes.
 * @example randn([2, 3, 4], { seed: 0 }).permute([2, 0, 1]).shape // [4, 2, 3]
 */
export function permute(x: Tensor, dims: readonly number[]): Tensor {
  tensorArgument('permute', x);
  assertValue(Array.isArray(dims), () => `permute: expected dims as a list of axes; got ${describeValue(dims)}`);
  assertValue(
    dims.length === x.rank,
    () => `permute: expected ${x.rank} dims for a tensor of shape [${x.shape}]; got [${dims}]`,
  );
  const normal = dims.map((d) => normalizeAxis('permute', d, x.rank));
  assertValue(new Set(normal).size === normal.length, () => `permute: dims must be a permutation; got [${dims}]`);
  if (normal.every((d, i) => d === i)) return x;
  return apply(permuteOp, [x], { dims: normal });
}
