/**
 * cumsum(x, axis): the inclusive prefix sums yₖ = Σ_{j ≤ k} xⱼ along `axis` (torch.cumsum;
 * with `reverse`, the suffix sums Σ_{j ≥ k} xⱼ).
 * Linear, with ∂yₖ/∂xⱼ = [j ≤ k], so the gradient is the REVERSED cumsum of gradOut,
 * ∂L/∂xⱼ = Σ_{k ≥ j} gₖ, and the tangent is the cumsum of the tangent.
 * NOTE: a primitive (a backend scan) rather than a composite: as a composite it would be a
 * matmul with a triangular matrix of ones, O(n²) work and memory per line.
 */
import { getBackend } from '../../kernels/registry.js';
import { boolArgument } from '../../tensor/arguments.js';
import { normalizeAxis } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { floatOperand } from '../operands.js';
import { apply, defineOp, type OpDef } from '../op.js';
import { linearJvp, shiftedBatch } from '../rules.js';

/** The attributes of a scan along one axis (cumsum, logcumsumexp). */
export interface ScanAttrs {
  /** The scanned axis, normalised to 0 … rank−1 (0 for a 0-d tensor, which has one element). */
  axis: number;
  /** Scan from the end: suffix sums instead of prefix sums. */
  reverse: boolean;
}

export const cumsumOp: OpDef<ScanAttrs> = defineOp<ScanAttrs>({
  name: 'cumsum',
  forward: ([x], { axis, reverse }) => Tensor.fromData(getBackend().scan('sum', x!, axis, reverse, x!.dtype), x!.shape),
  backward: (ctx, gradOut) => [apply(cumsumOp, [gradOut], { axis: ctx.attrs.axis, reverse: !ctx.attrs.reverse })],
  jvp: linearJvp((t, attrs) => apply(cumsumOp, [t], attrs)),
  batch: shiftedBatch((x, attrs): Tensor => apply(cumsumOp, [x], attrs), ({ axis, reverse }) => ({ axis: axis + 1, reverse })),
  describe: ({ axis, reverse }) => `axis=${axis}${reverse ? ', reverse' : ''}`,
});

/**
 * Cumulative sum along `axis` (negative counts from the end), as torch.cumsum(x, dim): element
 * k is the sum of elements 0 … k. With `reverse`, element k is the sum of elements k … n−1.
 * Differentiable (the gradient is the reversed cumsum of the output's gradient). A 0-d x gives a
 * copy of itself. Float x only;
 * throws ValueError for an axis out of range.
 * @example cumsum(tensor([1, 2, 3]), 0) // [1, 3, 6]
 */
export function cumsum(x: Tensor, axis: number, reverse = false): Tensor {
  floatOperand('cumsum', x);
  const attrs = { axis: normalizeAxis('cumsum', axis, x.rank), reverse: boolArgument('cumsum', 'reverse', reverse, false) };
  // A 0-d tensor is scanned as the one element of a [1] (the op itself sees rank ≥ 1 only).
  return x.rank === 0 ? apply(cumsumOp, [x.reshape([1])], attrs).reshape([]) : apply(cumsumOp, [x], attrs);
}
