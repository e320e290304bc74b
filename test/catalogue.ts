/**
 * ONE catalogue of elementwise ops (minitorch's MathTest). Every entry enrols its op in the
 * forward, gradient, second-order, broadcasting and float32 properties of ops.property.test.ts.
 *
 * Each entry gives:
 * - `ref`: the scalar function in plain JavaScript math, applied per element (with NumPy
 *   broadcasting done by the test, not by gradscope);
 * - `fn`: the same function on gradscope tensors;
 * - `domain`: one map per argument from a raw value in [-10, 10] into the op's SAFE domain,
 *   i.e. away from kinks (relu, abs, clamp bounds), poles (1/x, log, sqrt) and ties
 *   (maximum/minimum) by at least 0.1, which is 10⁵ times the finite-difference step.
 */
import { where, type Tensor } from '../src/index.js';
import * as M from '../src/index.js';
import { refErf, refErfc, refGelu } from './math-reference.js';

/** Maps a raw value in [-10, 10] into an argument's safe domain. */
export type Domain = (raw: number) => number;

export interface OpEntry {
  name: string;
  arity: number;
  ref: (...xs: number[]) => number;
  fn: (...xs: Tensor[]) => Tensor;
  domain: Domain[];
  /** False for ops whose derivative is zero almost everywhere (comparisons, sign). */
  differentiable: boolean;
}

export const RAW_MIN = -10;
export const RAW_MAX = 10;

/** The raw value unchanged. */
export const anywhere: Domain = (x) => x;

/** Linear map of [-10, 10] onto [lo, hi]. */
export function interval(lo: number, hi: number): Domain {
  return (x) => lo + ((x - RAW_MIN) / (RAW_MAX - RAW_MIN)) * (hi - lo);
}

/** Keep at least `gap` away from each point (values inside the gap are pushed to its edge). */
export function awayFrom(points: readonly number[], gap: number): Domain {
  return (x) => {
    for (const p of points) {
      if (Math.abs(x - p) < gap) return x >= p ? p + gap : p - gap;
    }
    return x;
  };
}

/**
 * Integers plus `offset`. Two arguments with offsets +0.25 and −0.25 always differ by at least
 * 0.5, yet either can be the larger — the domain of maximum/minimum, whose gradient jumps at ties.
 */
export function grid(offset: number): Domain {
  return (x) => Math.round(x) + offset;
}

function unary(name: string, ref: (x: number) => number, fn: (x: Tensor) => Tensor, domain: Domain = anywhere): OpEntry {
  return { name, arity: 1, ref, fn, domain: [domain], differentiable: true };
}

function binary(
  name: string,
  ref: (a: number, b: number) => number,
  fn: (a: Tensor, b: Tensor) => Tensor,
  domain: [Domain, Domain] = [anywhere, anywhere],
  differentiable = true,
): OpEntry {
  return { name, arity: 2, ref, fn: fn as OpEntry['fn'], domain, differentiable };
}

const powExponents = [2, 3, -1, 0.5, 2.5, 0, -2.5];

function refSoftplus(beta: number, threshold: number): (x: number) => number {
  // PyTorch: linear where βx > threshold, else log(1 + e^{βx}) / β.
  return (x) => (beta * x > threshold ? x : Math.log1p(Math.exp(beta * x)) / beta);
}

function refClamp(min: number | null, max: number | null): (x: number) => number {
  return (x) => {
    let y = x;
    if (min !== null && y < min) y = min;
    if (max !== null && y > max) y = max;
    return y;
  };
}

export const CATALOGUE: readonly OpEntry[] = [
  unary('neg', (x) => -x, (x) => x.neg()),
  unary('exp', (x) => Math.exp(x), (x) => x.exp()),
  unary('log', (x) => Math.log(x), (x) => x.log(), interval(0.05, 20)),
  unary('sqrt', (x) => Math.sqrt(x), (x) => x.sqrt(), interval(0.05, 20)),
  unary('abs', (x) => Math.abs(x), (x) => x.abs(), awayFrom([0], 0.1)),
  unary('tanh', (x) => Math.tanh(x), (x) => x.tanh()),
  unary('sigmoid', (x) => 1 / (1 + Math.exp(-x)), (x) => x.sigmoid()),
  unary('relu', (x) => (x > 0 ? x : 0), (x) => x.relu(), awayFrom([0], 0.1)),
  unary('elu', (x) => (x > 0 ? x : Math.exp(x) - 1), (x) => x.elu(), awayFrom([0], 0.1)),
  unary('elu(alpha=0.5)', (x) => (x > 0 ? x : 0.5 * (Math.exp(x) - 1)), (x) => x.elu(0.5), awayFrom([0], 0.1)),
  unary('elu(alpha=2)', (x) => (x > 0 ? x : 2 * (Math.exp(x) - 1)), (x) => x.elu(2), awayFrom([0], 0.1)),
  unary('softplus', refSoftplus(1, 20), (x) => x.softplus()),
  // βx > threshold switches to the identity: a (small) jump at x = 2.5 that the domain avoids.
  unary('softplus(beta=2, threshold=5)', refSoftplus(2, 5), (x) => x.softplus(2, 5), awayFrom([2.5], 0.1)),
  unary('softplus(beta=0.5)', refSoftplus(0.5, 20), (x) => x.softplus(0.5)),
  ...powExponents.map((p) =>
    unary(
      `powScalar(${p})`,
      (x) => Math.pow(x, p),
      (x) => x.pow(p),
      // Integer exponents ≥ 0 accept any base; others need a positive base (non-integer p)
      // or a base away from 0 (negative p).
      Number.isInteger(p) && p >= 0 ? anywhere : Number.isInteger(p) ? awayFrom([0], 0.5) : interval(0.1, 8),
    ),
  ),
  unary('square', (x) => x * x, (x) => x.square()),
  unary('reciprocal', (x) => 1 / x, (x) => x.reciprocal(), awayFrom([0], 0.5)),
  unary('clamp(-2, 3)', refClamp(-2, 3), (x) => x.clamp(-2, 3), awayFrom([-2, 3], 0.1)),
  unary('clamp(null, 1)', refClamp(null, 1), (x) => x.clamp(null, 1), awayFrom([1], 0.1)),
  unary('clamp(0, null)', refClamp(0, null), (x) => x.clamp(0, null), awayFrom([0], 0.1)),

  // Math ops (docs/ops-math.md). erf, erfc and exact GELU are checked against the BigInt
  // references of math-reference.ts, the others against Math's functions or their definition.
  unary('sin', (x) => Math.sin(x), (x) => M.sin(x)),
  unary('cos', (x) => Math.cos(x), (x) => M.cos(x)),
  unary('tan', (x) => Math.tan(x), (x) => M.tan(x), interval(-1.2, 1.2)),
  unary('asin', (x) => Math.asin(x), (x) => M.asin(x), interval(-0.9, 0.9)),
  unary('acos', (x) => Math.acos(x), (x) => M.acos(x), interval(-0.9, 0.9)),
  unary('atan', (x) => Math.atan(x), (x) => M.atan(x)),
  unary('sinh', (x) => Math.sinh(x), (x) => M.sinh(x)),
  unary('cosh', (x) => Math.cosh(x), (x) => M.cosh(x)),
  unary('asinh', (x) => Math.asinh(x), (x) => M.asinh(x)),
  unary('acosh', (x) => Math.acosh(x), (x) => M.acosh(x), interval(1.1, 20)),
  unary('atanh', (x) => Math.atanh(x), (x) => M.atanh(x), interval(-0.9, 0.9)),
  unary('erf', refErf, (x) => M.erf(x)),
  unary('erfc', refErfc, (x) => M.erfc(x)),
  unary('log1p', (x) => Math.log1p(x), (x) => M.log1p(x), interval(-0.9, 20)),
  unary('expm1', (x) => Math.expm1(x), (x) => M.expm1(x)),
  unary('rsqrt', (x) => 1 / Math.sqrt(x), (x) => M.rsqrt(x), interval(0.05, 20)),
  unary('logSigmoid', (x) => -Math.log1p(Math.exp(-x)), (x) => M.logSigmoid(x)),
  unary('gelu', refGelu, (x) => M.gelu(x)),
  // ½x(1 + tanh u) = x/(1 + e^{−2u}): the form without cancellation for x ≪ 0.
  unary('gelu(tanh)', (x) => x / (1 + Math.exp(-1.5957691216057308 * (x + 0.044715 * x ** 3))), (x) => M.gelu(x, 'tanh')),
  unary('silu', (x) => x / (1 + Math.exp(-x)), (x) => M.silu(x)),
  unary('mish', (x) => x * Math.tanh(Math.log1p(Math.exp(x))), (x) => M.mish(x)),
  // softsign'' jumps at 0 (±2): kept off the kink for the second-order check.
  unary('softsign', (x) => x / (1 + Math.abs(x)), (x) => M.softsign(x), awayFrom([0], 0.1)),
  unary('leakyRelu', (x) => (x > 0 ? x : 0.01 * x), (x) => M.leakyRelu(x), awayFrom([0], 0.1)),
  unary('leakyRelu(0.2)', (x) => (x > 0 ? x : 0.2 * x), (x) => M.leakyRelu(x, 0.2), awayFrom([0], 0.1)),
  unary('hardtanh', refClamp(-1, 1), (x) => M.hardtanh(x), awayFrom([-1, 1], 0.1)),
  unary('hardtanh(-0.5, 2)', refClamp(-0.5, 2), (x) => M.hardtanh(x, -0.5, 2), awayFrom([-0.5, 2], 0.1)),

  binary('add', (a, b) => a + b, (a, b) => a.add(b)),
  binary('sub', (a, b) => a - b, (a, b) => a.sub(b)),
  binary('mul', (a, b) => a * b, (a, b) => a.mul(b)),
  binary('div', (a, b) => a / b, (a, b) => a.div(b), [anywhere, awayFrom([0], 0.5)]),
  binary('pow', (a, b) => Math.pow(a, b), (a, b) => a.pow(b), [interval(0.5, 3), interval(-3, 3)]),
  binary('maximum', (a, b) => Math.max(a, b), (a, b) => a.maximum(b), [grid(0.25), grid(-0.25)]),
  binary('minimum', (a, b) => Math.min(a, b), (a, b) => a.minimum(b), [grid(0.25), grid(-0.25)]),
  // atan2 jumps by 2π across its branch cut (a = 0, b < 0): a is kept off 0, which also keeps
  // the point (b, a) away from the origin.
  binary('atan2', (a, b) => Math.atan2(a, b), (a, b) => M.atan2(a, b), [awayFrom([0], 0.5), anywhere]),
  {
    // where(cond, a, b): the condition is a float tensor tested with > 0, kept 0.5 away from 0
    // so that a perturbation never flips it (its derivative is then exactly 0, as gradscope says).
    name: 'where',
    arity: 3,
    ref: (c, a, b) => (c! > 0 ? a! : b!),
    fn: (c, a, b) => where(c!.gt(0), a!, b!),
    domain: [awayFrom([0], 0.5), anywhere, anywhere],
    differentiable: true,
  },

  // Non-differentiable elementwise ops: forward only. Integer-valued inputs make ties common.
  binary('eq', (a, b) => (a === b ? 1 : 0), (a, b) => a.eq(b), [grid(0), grid(0)], false),
  binary('ne', (a, b) => (a !== b ? 1 : 0), (a, b) => a.ne(b), [grid(0), grid(0)], false),
  binary('lt', (a, b) => (a < b ? 1 : 0), (a, b) => a.lt(b), [grid(0), grid(0)], false),
  binary('le', (a, b) => (a <= b ? 1 : 0), (a, b) => a.le(b), [grid(0), grid(0)], false),
  binary('gt', (a, b) => (a > b ? 1 : 0), (a, b) => a.gt(b), [grid(0), grid(0)], false),
  binary('ge', (a, b) => (a >= b ? 1 : 0), (a, b) => a.ge(b), [grid(0), grid(0)], false),
  { ...unary('sign', (x) => (x > 0 ? 1 : x < 0 ? -1 : 0), (x) => x.sign(), (x) => Math.round(x / 4)), differentiable: false },
  // Halves and integers as well as general values (x/2 rounded to quarters): ties to even for round.
  { ...unary('floor', (x) => Math.floor(x), (x) => M.floor(x), (x) => Math.round(x * 2) / 4), differentiable: false },
  { ...unary('ceil', (x) => Math.ceil(x), (x) => M.ceil(x), (x) => Math.round(x * 2) / 4), differentiable: false },
  {
    ...unary('round', (x) => (Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : Math.round(x)), (x) => M.round(x), (x) => Math.round(x * 2) / 4),
    differentiable: false,
  },
];
