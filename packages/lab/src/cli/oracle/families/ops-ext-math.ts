/**
 * The math ops of oracle family 8 (`ops_ext.json`, packages/lab/oracle/README.md "Family 8"):
 * elementwise functions and activations, keyed by the cases' `config.op` (PyTorch's names).
 * ops-ext.ts runs them and computes `out`, `grad_*` and `hvp_*`; each entry only maps the
 * case's operands (in `config.operands` order) and attributes to the gradscope function.
 */
import * as F from 'gradscope';
import type { Tensor } from 'gradscope';

type OpFn = (xs: Tensor[], c: Record<string, any>) => Tensor;

// A Map, not an object literal: `'constructor' in {}` is true through Object.prototype.
export const MATH_OPS: ReadonlyMap<string, OpFn> = new Map(Object.entries({
  sin: ([x]) => F.sin(x!),
  cos: ([x]) => F.cos(x!),
  tan: ([x]) => F.tan(x!),
  asin: ([x]) => F.asin(x!),
  acos: ([x]) => F.acos(x!),
  atan: ([x]) => F.atan(x!),
  sinh: ([x]) => F.sinh(x!),
  cosh: ([x]) => F.cosh(x!),
  asinh: ([x]) => F.asinh(x!),
  acosh: ([x]) => F.acosh(x!),
  atanh: ([x]) => F.atanh(x!),
  erf: ([x]) => F.erf(x!),
  erfc: ([x]) => F.erfc(x!),
  log1p: ([x]) => F.log1p(x!),
  expm1: ([x]) => F.expm1(x!),
  reciprocal: ([x]) => F.reciprocal(x!),
  rsqrt: ([x]) => F.rsqrt(x!),
  square: ([x]) => F.square(x!),
  gelu: ([x], c) => F.gelu(x!, c.approximate),
  silu: ([x]) => F.silu(x!),
  mish: ([x]) => F.mish(x!),
  log_sigmoid: ([x]) => F.logSigmoid(x!),
  softsign: ([x]) => F.softsign(x!),
  leaky_relu: ([x], c) => F.leakyRelu(x!, c.negative_slope),
  hardtanh: ([x], c) => F.hardtanh(x!, c.min_val, c.max_val),
  atan2: ([a, b]) => F.atan2(a!, b!),
  // Piecewise constant: zero gradient and HVP (the list, beyond the visible cases).
  sign: ([x]) => F.sign(x!),
  floor: ([x]) => F.floor(x!),
  ceil: ([x]) => F.ceil(x!),
  round: ([x]) => F.round(x!),
} satisfies Record<string, OpFn>));
