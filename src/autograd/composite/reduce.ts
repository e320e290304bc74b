/**
 * Reduction composites. None has a backward of its own: each is built from sum, gather,
 * exp/log and arithmetic, so its gradient (of any order) follows from theirs.
 */
import { assertValue, formatShape } from '../../tensor/errors.js';
import { normalizeAxes, normalizeAxis, sizeOf } from '../../tensor/shape.js';
import type { Tensor } from '../../tensor/tensor.js';
import { argmax, argmin, stopGradientMax } from '../nondiff.js';
import { floatOperand } from '../operands.js';
import { gather } from '../ops/gather.js';
import { reshape } from '../ops/reshape.js';
import { sum } from '../ops/sum.js';
import { boolArgument, finiteArgument, optionsArgument } from '../../tensor/arguments.js';

/**
 * Arithmetic mean over `axis` (a number, a list, or all axes when null/undefined), as
 * torch.mean(dim, keepdim); differentiable (sum divided by the count). Float x only.
 */
export function mean(x: Tensor, axis?: number | readonly number[] | null, keepdim = false): Tensor {
  floatOperand('mean', x);
  boolArgument('mean', 'keepdim', keepdim, false);
  const axes = normalizeAxes('mean', axis, x.rank);
  const count = sizeOf(axes.map((a) => x.shape[a]!));
  return sum(x, axes, keepdim).div(count);
}

/** Options of `variance` (Tensor.var), as torch.var's `correction` and `keepdim`. */
export interface VarOptions {
  /** Subtracted from the count in the divisor: 1 (default) is the unbiased estimate, 0 the biased one. */
  correction?: number;
  /** Keep the reduced axes as size 1 (default false). */
  keepdim?: boolean;
}

/**
 * Variance over `axis` (all axes when null/undefined): Σ(x − mean)² / max(n − correction, 0),
 * with correction 1 (unbiased) by default, as torch.var; differentiable. A divisor of 0 gives
 * ∞ or NaN, as in PyTorch.
 */
export function variance(x: Tensor, axis?: number | readonly number[] | null, options: VarOptions = {}): Tensor {
  floatOperand('var', x);
  const { correction: c, keepdim: k } = optionsArgument('var', options);
  const correction = finiteArgument('var', 'correction', c, 1);
  const keepdim = boolArgument('var', 'keepdim', k, false);
  const axes = normalizeAxes('var', axis, x.rank);
  const count = sizeOf(axes.map((a) => x.shape[a]!));
  const centered = x.sub(mean(x, axes, true));
  return sum(centered.mul(centered), axes, keepdim).div(Math.max(count - correction, 0));
}

/** The values and int32 indices of max/min. */
export interface ValuesIndices {
  /** The extreme values, differentiable (the gradient reaches the first extremum only). */
  values: Tensor;
  /** int32 position of each extremum along the axis (the flat index for a full reduction); no gradient. */
  indices: Tensor;
}

function extremum(op: 'max' | 'min', x: Tensor, axis: number | null | undefined, keepdim: boolean): ValuesIndices {
  floatOperand(op, x);
  boolArgument(op, 'keepdim', keepdim, false);
  const arg = op === 'max' ? argmax : argmin;
  // A 0-d tensor has one element: reducing "along axis 0" reduces everything.
  if (x.rank === 0 && axis !== null && axis !== undefined) normalizeAxis(op, axis, 0);
  if (axis === null || axis === undefined || x.rank === 0) {
    assertValue(x.size > 0, () => `${op}: cannot reduce an empty tensor of shape ${formatShape(x.shape)}`);
    const indices = arg(x, null, false);
    const values = reshape(gather(reshape(x, [x.size]), 0, reshape(indices, [1])), keepdim ? x.shape.map(() => 1) : []);
    return { values, indices: keepdim ? reshape(indices, x.shape.map(() => 1)) : indices };
  }
  const a = normalizeAxis(op, axis, x.rank);
  const indices = arg(x, a, true);
  const values = gather(x, a, indices);
  return keepdim ? { values, indices } : { values: values.squeeze(a), indices: indices.squeeze(a) };
}

/**
 * Maximum along `axis` (or over everything) with its int32 indices. The gradient flows to the
 * first maximum only (through gather), as torch.max(dim) does.
 */
export function max(x: Tensor, axis?: number | null, keepdim = false): ValuesIndices {
  return extremum('max', x, axis, keepdim);
}

/** Minimum along `axis` (or over everything) with its int32 indices; see max. */
export function min(x: Tensor, axis?: number | null, keepdim = false): ValuesIndices {
  return extremum('min', x, axis, keepdim);
}

/**
 * log Σ exp(x) over `axis`, computed as m + log Σ exp(x − m) with m the (constant) maximum, so
 * that neither overflow (x ≈ 1000) nor underflow (x ≈ −700) loses the result. Treating m as a
 * constant is exact: ∂/∂m of the expression is 1 − Σ softmax = 0.
 */
export function logsumexp(x: Tensor, axis?: number | readonly number[] | null, keepdim = false): Tensor {
  floatOperand('logsumexp', x);
  boolArgument('logsumexp', 'keepdim', keepdim, false);
  const axes = normalizeAxes('logsumexp', axis, x.rank);
  const m = stopGradientMax(x, axes);
  const out = sum(x.sub(m).exp(), axes, true).log().add(m);
  return keepdim ? out : out.squeeze(axes);
}

/**
 * log softmax along `axis`: s − log Σ exp(s) with s = x − max(x) (a constant shift, so the
 * gradient is unchanged). NOTE: x − logsumexp(x) would round logsumexp ≈ 1000.4 to the
 * dtype first and lose ~1e-5 relative accuracy in float32; x − max is exact for the largest
 * entries.
 */
export function logSoftmax(x: Tensor, axis: number): Tensor {
  floatOperand('logSoftmax', x);
  const a = normalizeAxis('logSoftmax', axis, x.rank);
  const s = x.sub(stopGradientMax(x, a));
  return s.sub(sum(s.exp(), a, true).log());
}

/** softmax along `axis`: exp(s) / Σ exp(s) with s = x − max(x), stable for any magnitude. */
export function softmax(x: Tensor, axis: number): Tensor {
  floatOperand('softmax', x);
  const a = normalizeAxis('softmax', axis, x.rank);
  const e = x.sub(stopGradientMax(x, a)).exp();
  return e.div(sum(e, a, true));
}
