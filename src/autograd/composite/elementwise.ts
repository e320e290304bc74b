/**
 * Elementwise composites: built from primitives, so they need no backward of their own.
 * square (x·x) and reciprocal (1/x) are one correctly rounded operation each, so a kernel of
 * their own would buy nothing in accuracy; their derivatives (2x, −1/x²) come from mul's and
 * div's rules, to any order.
 */
import type { Tensor } from '../../tensor/tensor.js';
import { div } from '../ops/div.js';
import { mul } from '../ops/mul.js';
import { where } from '../ops/where.js';
import { floatOperand } from '../operands.js';
import { numberArgument } from '../../tensor/arguments.js';

/** Elementwise x² (float x), as x·x; differentiable. */
export function square(x: Tensor): Tensor {
  return mul(floatOperand('square', x), x);
}

/** Elementwise 1/x (float x), as 1 / x; differentiable; ±∞ at 0. */
export function reciprocal(x: Tensor): Tensor {
  return div(1, floatOperand('reciprocal', x));
}

/**
 * Clamp into [min, max] (either bound may be null for no bound), as torch.clamp; float x,
 * number bounds. The gradient is 1 inside the closed
 * interval and 0 outside, as in PyTorch; NaN passes through.
 */
export function clamp(x: Tensor, min: number | null, max: number | null): Tensor {
  floatOperand('clamp', x);
  if (min !== null && min !== undefined) numberArgument('clamp', 'min to be a number or null', min);
  if (max !== null && max !== undefined) numberArgument('clamp', 'max to be a number or null', max);
  let y = x;
  if (min !== null && min !== undefined) y = where(x.lt(min), min, y);
  if (max !== null && max !== undefined) y = where(y.gt(max), max, y);
  return y;
}
