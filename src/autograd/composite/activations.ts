/**
 * Activation functions built from primitives (no backward of their own: autograd differentiates
 * the composition, to any order). Each is a composite because its composition is as accurate as
 * a kernel would be — every step is well conditioned, so the result is within a few ulps in
 * float64 and float32 alike — and costs only speed; the ones that are NOT (GELU, log-sigmoid)
 * are primitives in ops/ and say why there.
 */
import { ValueError } from '../../tensor/errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import { finiteArgument } from '../../tensor/arguments.js';
import { abs } from '../ops/abs.js';
import { div } from '../ops/div.js';
import { mul } from '../ops/mul.js';
import { sigmoid } from '../ops/sigmoid.js';
import { softplus } from '../ops/softplus.js';
import { tanh } from '../ops/tanh.js';
import { where } from '../ops/where.js';
import { floatOperand } from '../operands.js';

/**
 * SiLU (swish) x·σ(x), as torch.nn.functional.silu (float x); differentiable. A function, not a
 * Tensor method. (σ is computed without overflow on both sides, and the product of two accurate
 * factors is accurate: no reason for a kernel of its own.)
 */
export function silu(x: Tensor): Tensor {
  return mul(floatOperand('silu', x), sigmoid(x));
}

/**
 * Mish x·tanh(softplus(x)), as torch.nn.functional.mish (float x); differentiable. A function,
 * not a Tensor method. softplus is linear above x = 20 (PyTorch's threshold), where tanh is 1
 * to 17 digits anyway.
 */
export function mish(x: Tensor): Tensor {
  return mul(floatOperand('mish', x), tanh(softplus(x)));
}

/**
 * Softsign x/(1 + |x|), as torch.nn.functional.softsign (float x); differentiable
 * (1/(1 + |x|)², 1 at 0: |x|' = 0 there, which is the right value). A function, not a Tensor
 * method.
 */
export function softsign(x: Tensor): Tensor {
  return div(floatOperand('softsign', x), abs(x).add(1));
}

/**
 * Leaky ReLU: x where x > 0, else negativeSlope·x, as torch.nn.functional.leaky_relu (float x,
 * default slope 0.01); the gradient at x = 0 is negativeSlope, as PyTorch's. NaN passes through.
 * A function, not a Tensor method. Throws ValueError for a non-finite slope.
 */
export function leakyRelu(x: Tensor, negativeSlope = 0.01): Tensor {
  floatOperand('leakyRelu', x);
  finiteArgument('leakyRelu', 'negativeSlope', negativeSlope);
  return where(x.gt(0), x, x.mul(negativeSlope));
}

/**
 * HardTanh: x clamped into [minVal, maxVal], as torch.nn.functional.hardtanh (float x, defaults
 * −1 and 1). The gradient is 1 strictly inside and 0 outside AND at the bounds, as PyTorch's
 * hardtanh_backward (unlike clamp, whose gradient is 1 at the bounds too). NaN passes through.
 * A function, not a Tensor method. Throws ValueError unless minVal ≤ maxVal, both finite.
 */
export function hardtanh(x: Tensor, minVal = -1, maxVal = 1): Tensor {
  floatOperand('hardtanh', x);
  finiteArgument('hardtanh', 'minVal', minVal);
  finiteArgument('hardtanh', 'maxVal', maxVal);
  if (!(minVal <= maxVal)) throw new ValueError(`hardtanh: expected minVal ≤ maxVal; got minVal ${minVal} > maxVal ${maxVal}`);
  // The comparisons are ≤ and ≥, so that x at a bound takes the constant branch (gradient 0).
  return where(x.le(minVal), minVal, where(x.ge(maxVal), maxVal, x));
}
