/**
 * The one table of scalar math. Every backend lifts these functions into its loops: the CPU
 * backend compiles each into a specialised loop (so V8 can inline it), the GPU.js backend
 * registers them with `addFunction`. They must therefore stay closure-free `function`
 * expressions that use only their arguments and `Math`.
 *
 * Unary functions take `(x, p, q)`: `p` and `q` are optional numeric parameters (the exponent
 * of powScalar, ELU's alpha, softplus' beta and threshold). Binary functions take `(a, b)`.
 */

/** The unary scalar functions `(x, p, q) => y` that `Backend.map` applies, by name. */
export const UNARY = {
  /** x. */
  identity: function identity(x: number, _p: number, _q: number): number {
    return x;
  },
  /** −x. */
  neg: function neg(x: number, _p: number, _q: number): number {
    return -x;
  },
  /** eˣ. */
  exp: function exp(x: number, _p: number, _q: number): number {
    return Math.exp(x);
  },
  /** Natural logarithm: NaN for x < 0, −∞ at 0. */
  log: function log(x: number, _p: number, _q: number): number {
    return Math.log(x);
  },
  /** √x: NaN for x < 0. */
  sqrt: function sqrt(x: number, _p: number, _q: number): number {
    return Math.sqrt(x);
  },
  /** |x|. */
  abs: function abs(x: number, _p: number, _q: number): number {
    return Math.abs(x);
  },
  /** sign(0) = 0, as in PyTorch (so |x|' = 0 at 0). NaN stays NaN. */
  sign: function sign(x: number, _p: number, _q: number): number {
    return x > 0 ? 1 : x < 0 ? -1 : x === 0 ? 0 : x;
  },
  /** NOTE: `x > 0 ? x : 0` would turn NaN into 0; this form lets NaN through. */
  relu: function relu(x: number, _p: number, _q: number): number {
    return x <= 0 ? 0 : x;
  },
  /** Two branches so that exp never overflows: for x < 0 use e^x / (1 + e^x). */
  sigmoid: function sigmoid(x: number, _p: number, _q: number): number {
    if (x >= 0) return 1 / (1 + Math.exp(-x));
    const e = Math.exp(x);
    return e / (1 + e);
  },
  /** tanh(x). */
  tanh: function tanh(x: number, _p: number, _q: number): number {
    return Math.tanh(x);
  },
  /** ELU with alpha = p; expm1 keeps precision near 0. */
  elu: function elu(x: number, p: number, _q: number): number {
    return x > 0 ? x : p * Math.expm1(x);
  },
  /** softplus with beta = p and threshold = q (PyTorch: linear above the threshold). */
  softplus: function softplus(x: number, p: number, q: number): number {
    const bx = p * x;
    return bx > q ? x : Math.log1p(Math.exp(bx)) / p;
  },
  /** x^p for a constant exponent p. */
  powScalar: function powScalar(x: number, p: number, _q: number): number {
    return Math.pow(x, p);
  },
} as const;

/** The binary scalar functions `(a, b) => y` that `Backend.zip` applies, by name; comparisons give 1 or 0. */
export const BINARY = {
  /** a + b. */
  add: function add(a: number, b: number): number {
    return a + b;
  },
  /** a − b. */
  sub: function sub(a: number, b: number): number {
    return a - b;
  },
  /** a · b. */
  mul: function mul(a: number, b: number): number {
    return a * b;
  },
  /** a / b (IEEE: ±∞ or NaN for b = 0). */
  div: function div(a: number, b: number): number {
    return a / b;
  },
  /** a^b (Math.pow: NaN for a < 0 and non-integer b). */
  pow: function pow(a: number, b: number): number {
    return Math.pow(a, b);
  },
  /** NaN-propagating, like PyTorch's maximum. */
  maximum: function maximum(a: number, b: number): number {
    return a > b || a !== a ? a : b;
  },
  /** NaN-propagating, like PyTorch's minimum. */
  minimum: function minimum(a: number, b: number): number {
    return a < b || a !== a ? a : b;
  },
  // NOTE: comparisons are written `+(a > b)`, not `a > b ? 1 : 0`: V8 compiles the former
  // without a branch, which matters on random-sign data (relu's backward mask) where the
  // branch mispredicts half the time (measured ≈ 1.5 vs 6–7 ns per element).
  /** 1 where a = b, else 0 (so NaN = NaN is 0). */
  eq: function eq(a: number, b: number): number {
    return +(a === b);
  },
  /** 1 where a ≠ b, else 0 (so NaN ≠ NaN is 1). */
  ne: function ne(a: number, b: number): number {
    return +(a !== b);
  },
  /** 1 where a < b, else 0. */
  lt: function lt(a: number, b: number): number {
    return +(a < b);
  },
  /** 1 where a ≤ b, else 0. */
  le: function le(a: number, b: number): number {
    return +(a <= b);
  },
  /** 1 where a > b, else 0. */
  gt: function gt(a: number, b: number): number {
    return +(a > b);
  },
  /** 1 where a ≥ b, else 0. */
  ge: function ge(a: number, b: number): number {
    return +(a >= b);
  },
} as const;

/** The name of a unary scalar function (a key of UNARY), as `Backend.map` takes it. */
export type UnaryFn = keyof typeof UNARY;
/** The name of a binary scalar function (a key of BINARY), as `Backend.zip` takes it. */
export type BinaryFn = keyof typeof BINARY;
/**
 * A reduction of `Backend.reduce`: sum (accumulated in float64), or max / min, which propagate
 * NaN as torch.amax / torch.amin do.
 */
export type ReduceFn = 'sum' | 'max' | 'min';
/** An index reduction of `Backend.argReduce`: the index of the first maximum or minimum (NaN counts as one). */
export type ArgReduceFn = 'argmax' | 'argmin';
