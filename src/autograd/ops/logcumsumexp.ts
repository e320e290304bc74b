/**
 * logcumsumexp(x, axis): yₖ = log Σ_{j ≤ k} exp xⱼ along `axis` (torch.logcumsumexp; with
 * `reverse`, j ≥ k). The kernel keeps a running maximum, yₖ = m + log1p(e^(−|yₖ₋₁ − xₖ|)) with
 * m = max(yₖ₋₁, xₖ), so offsets of ±800 neither overflow nor underflow.
 *
 * Derivative: ∂yₖ/∂xⱼ = exp(xⱼ − yₖ) for j ≤ k (softmax weights of the prefix), so
 *   ∂L/∂xⱼ = Σ_{k ≥ j} gₖ·exp(xⱼ − yₖ) = exp(xⱼ − yⱼ) · uⱼ,   uⱼ = Σ_{k ≥ j} gₖ·exp(yⱼ − yₖ),
 * and u is a reversed linear scan: uⱼ = gⱼ + exp(yⱼ − yⱼ₊₁)·uⱼ₊₁. Every exponent here is ≤ 0
 * (y is non-decreasing along the scan and yⱼ ≥ xⱼ), so nothing overflows, and the differences
 * yⱼ − yⱼ₊₁ of neighbouring outputs are formed before exponentiating, so large offsets cancel
 * exactly instead of being rounded at magnitude 800. The JVP is the forward scan
 *   ẏₖ = exp(xₖ − yₖ)·ẋₖ + exp(yₖ₋₁ − yₖ)·ẏₖ₋₁.
 * NOTE: PyTorch (after TensorFlow) writes the gradient as exp(x + revlogcumsumexp(log g± − y))
 * for the positive and negative parts g± of g. That form subtracts two exponentials (losing
 * precision when they nearly cancel), rounds log-domain values of magnitude ~800 before
 * exponentiating (a relative error ~800·ε), and its derivative through log|g| is 0/0 where
 * g = 0. The recurrence has none of these, and it is itself differentiable (exp, slices and
 * the linearScan primitive), so Hessian-vector products go through it.
 * NOTE: as in PyTorch, a −∞ at the start of the scan (where y is still −∞) gets a NaN
 * gradient (exp(−∞ − (−∞))); a −∞ after a finite value gets 0.
 * A primitive because the running maximum needs the kernel: a composite m + log cumsum(exp(x − m))
 * with one shift m per line underflows to log 0 = −∞ wherever the prefix is far below m.
 */
import { getBackend } from '../../kernels/registry.js';
import { boolArgument } from '../../tensor/arguments.js';
import { normalizeAxis } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { floatOperand } from '../operands.js';
import { apply, defineOp, type OpDef } from '../op.js';
import { shiftedBatch } from '../rules.js';
import type { ScanAttrs } from './cumsum.js';
import { linearScan } from './linear-scan.js';

/**
 * The coefficients exp(y_earlier − y_later) ≤ 1 between neighbouring outputs, placed for a scan
 * in direction `scanReverse`: at each position, the coefficient that multiplies the scan's
 * value at its previous position (0 at the scan's first position, where it is never read).
 */
function neighbourWeights(y: Tensor, axis: number, reverse: boolean, scanReverse: boolean): Tensor {
  const n = y.shape[axis]!;
  const lower = y.slice(y.shape.map((_, d) => (d === axis ? ([0, n - 1] as const) : null)));
  const upper = y.slice(y.shape.map((_, d) => (d === axis ? ([1, n] as const) : null)));
  // Along a forward scan the earlier output is the lower index; along a reversed one, the upper.
  const weights = (reverse ? upper.sub(lower) : lower.sub(upper)).exp();
  return weights.pad(y.shape.map((_, d): [number, number] => (d === axis ? (scanReverse ? [0, 1] : [1, 0]) : [0, 0])));
}

export const logcumsumexpOp: OpDef<ScanAttrs> = defineOp<ScanAttrs>({
  name: 'logcumsumexp',
  forward: ([x], { axis, reverse }) => Tensor.fromData(getBackend().scan('logaddexp', x!, axis, reverse, x!.dtype), x!.shape),
  save: ([x], output) => [x!, output],
  backward: (ctx, gradOut) => {
    const [x, y] = ctx.saved;
    const { axis, reverse } = ctx.attrs;
    const u = linearScan(neighbourWeights(y!, axis, reverse, !reverse), gradOut, axis, !reverse);
    return [x!.sub(y!).exp().mul(u)];
  },
  jvp: ({ inputs: [x], tangents: [t], output: y, attrs: { axis, reverse } }) =>
    linearScan(neighbourWeights(y, axis, reverse, reverse), x!.sub(y).exp().mul(t!), axis, reverse),
  batch: shiftedBatch((x, attrs): Tensor => apply(logcumsumexpOp, [x], attrs), ({ axis, reverse }) => ({ axis: axis + 1, reverse })),
  describe: ({ axis, reverse }) => `axis=${axis}${reverse ? ', reverse' : ''}`,
});

/**
 * log Σ_{j ≤ k} exp(x[j]) along `axis` (negative counts from the end), as
 * torch.logcumsumexp(x, dim), computed with a running maximum so that large or small values
 * (±800) neither overflow nor underflow; with `reverse`, the sum runs over j ≥ k.
 * Differentiable to any order, with a stable gradient (softmax weights of each prefix).
 * A 0-d x is returned as a copy of itself. Float x only; throws ValueError for an axis out of range.
 * @example logcumsumexp(tensor([0, 0]), 0) // [0, log 2]
 */
export function logcumsumexp(x: Tensor, axis: number, reverse = false): Tensor {
  floatOperand('logcumsumexp', x);
  const ax = normalizeAxis('logcumsumexp', axis, x.rank);
  const rev = boolArgument('logcumsumexp', 'reverse', reverse, false);
  if (x.rank === 0) return apply(logcumsumexpOp, [x.reshape([1])], { axis: 0, reverse: rev }).reshape([]);
  if (x.shape[ax] === 0) return x.clone();
  return apply(logcumsumexpOp, [x], { axis: ax, reverse: rev });
}
