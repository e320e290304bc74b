/**
 * sum(x, axes, keepdim) = Σ over `axes`;  ∂/∂x = 1 at every summed position, so the
 * gradient is gradOut (with the summed axes re-inserted as size 1) expanded back to x's shape.
 */
import { getBackend } from '../../kernels/registry.js';
import { normalizeAxes, reducedShape } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { floatOperand } from '../operands.js';
import { apply, defineOp } from '../op.js';
import { linearJvp, shiftAxes, shiftedBatch } from '../rules.js';
import { boolArgument } from '../../tensor/arguments.js';

export const sumOp = defineOp<{
  /** The summed axes, normalised to 0 … rank−1 (all axes for a full reduction). */
  axes: number[];
  /** Keep the summed axes as size 1 (torch's keepdim) rather than dropping them. */
  keepdim: boolean;
}>({
  name: 'sum',
  forward: ([x], { axes, keepdim }) => {
    const data = getBackend().reduce('sum', x!, axes, x!.dtype);
    return Tensor.fromData(data, reducedShape(x!.shape, axes, keepdim));
  },
  backward: (ctx, gradOut) => {
    const shape = ctx.inputShapes[0]!;
    return [gradOut.reshape(reducedShape(shape, ctx.attrs.axes, true)).expand(shape)];
  },
  jvp: linearJvp((t, { axes, keepdim }) => sum(t, axes, keepdim)),
  batch: shiftedBatch((x, { axes, keepdim }) => sum(x, axes, keepdim), ({ axes, keepdim }) => ({ axes: shiftAxes(axes), keepdim })),
  describe: ({ axes, keepdim }) => `axes=[${axes}]${keepdim ? ', keepdim' : ''}`,
});

/**
 * Sum over `axis` (a number, a list, or null/undefined for all axes; negative axes count from
 * the end), dropping the summed axes unless `keepdim`; like torch.sum(dim, keepdim).
 * Differentiable: the gradient is gradOut broadcast back over the summed axes. Float x only.
 * @example tensor([[1, 2], [3, 4]]).sum(0) // [4, 6]
 */
export function sum(x: Tensor, axis?: number | readonly number[] | null, keepdim = false): Tensor {
  floatOperand('sum', x);
  return apply(sumOp, [x], { axes: normalizeAxes('sum', axis, x.rank), keepdim: boolArgument('sum', 'keepdim', keepdim, false) });
}
