/**
 * Vector norms over axes, torch.linalg.vector_norm semantics, as composites of sum, abs, sqrt
 * and where (no rules of their own):
 *
 *   ord 1:  Σ|x|            ∂/∂x = sign(x)                 (0 at x = 0, as PyTorch)
 *   ord 2:  √(Σx²)          ∂/∂x = x / ‖x‖₂                (0 where ‖x‖₂ = 0, as PyTorch)
 *   ord ∞:  max|x|          ∂/∂x = sign(x)·[|x| = max]/count (ties split evenly, as PyTorch)
 *
 * NOTE (ord 2): √s has an infinite derivative at s = 0, and ∞·0 would make the gradient of a
 * zero vector NaN. The sum is therefore passed through where(s > 0, s, 1) before the square
 * root and the result selected back to 0, so a zero vector gets PyTorch's (sub)gradient 0.
 * Like PyTorch's CPU kernel, Σx² is not rescaled: |x| beyond ~1e154 (float64) overflows.
 * NOTE (ord ∞): the maximum m of |x| is found as a constant (no graph), and the value is
 * Σ w·|x| with the constant weights w = [|x| = m]/count: exactly m for a unique maximum (to
 * rounding for three or more ties), ∞ where some |x| is ∞ and NaN where some x is NaN, while
 * the gradient is split evenly among the tied maxima (the gradient of torch.amax and of
 * PyTorch's inf-norm).
 */
import { assertValue, describeValue, formatShape } from '../../tensor/errors.js';
import { boolArgument } from '../../tensor/arguments.js';
import { normalizeAxes, sizeOf } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { constantMax, eq, gt } from '../nondiff.js';
import { floatOperand } from '../operands.js';
import { sum } from '../ops/sum.js';
import { where } from '../ops/where.js';

/** The orders `norm` computes: 1 (Σ|x|), 2 (√Σx²) and Infinity (max|x|). */
export type NormOrder = 1 | 2 | typeof Infinity;

/**
 * The vector norm of x over `axis` (a number, a list, or all axes when null/undefined), as
 * torch.linalg.vector_norm(x, ord, dim, keepdim): ord 1 is Σ|x|, ord 2 (the default) √(Σx²),
 * ord Infinity max|x|. The reduced axes are dropped unless `keepdim`. Differentiable, with
 * PyTorch's gradients at the kinks: sign(x) (0 at 0) for ord 1, 0 for a zero vector under
 * ord 2, and for ord ∞ the gradient split evenly among tied maxima. Float x only; throws
 * ValueError for another ord (the string 'inf' included: pass Infinity), an axis out of range,
 * or ord ∞ over an empty axis.
 * @example norm(tensor([3, -4]))            // 5
 * @example norm(tensor([[1, -2], [3, 0]]), Infinity, 1) // [2, 3]
 */
export function norm(x: Tensor, ord: NormOrder = 2, axis?: number | readonly number[] | null, keepdim = false): Tensor {
  floatOperand('norm', x);
  assertValue(
    ord === 1 || ord === 2 || ord === Infinity,
    () => `norm: ord must be 1, 2 or Infinity; got ${typeof ord === 'string' ? `'${ord}'${ord === 'inf' ? ' (pass Infinity)' : ''}` : describeValue(ord)}`,
  );
  const keep = boolArgument('norm', 'keepdim', keepdim, false);
  const axes = normalizeAxes('norm', axis, x.rank);
  if (ord === 1) return sum(x.abs(), axes, keep);
  if (ord === 2) {
    const s = sum(x.mul(x), axes, keep);
    const positive = gt(s, 0);
    return where(positive, where(positive, s, 1).sqrt(), 0);
  }
  assertValue(
    sizeOf(axes.map((a) => x.shape[a]!)) > 0,
    () => `norm: cannot take the Infinity norm over an empty axis of shape ${formatShape(x.shape)} (there is no maximum)`,
  );
  const a = x.abs();
  const ties = eq(a, constantMax(a, axes));
  return sum(a.mul(ties.div(sum(ties, axes, true))), axes, keep);
}
