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
  /**
   * max(x, 0), with relu(NaN) = NaN and relu(−0) = +0, as `x <= 0 ? 0 : x`.
   * NOTE: that branch mispredicts on random signs (a hidden layer's pre-activations: ≈ 40 % of
   * relu's time). t = x·[x > 0] + 0 is x or +0 without a branch except where it gives NaN —
   * x = NaN (keep it) or x = −∞ (0·∞; relu is 0) — which is rare and predicted. On random-sign
   * float64 data up to 1.25× faster than the branch (bench/micro/elementwise.mjs; less when the
   * sibling hardware thread is busy). On contiguous float32 data the CPU backend uses the
   * bit-level form in SIGN_MASKS instead.
   */
  relu: function relu(x: number, _p: number, _q: number): number {
    const t = x * +(x > 0) + 0;
    return t === t ? t : x === -Infinity ? 0 : x;
  },
  /**
   * Two branches so that exp never overflows: for x < 0 use e^x / (1 + e^x).
   * NOTE: a branch-free form with the same results, (s + (1 − s)·e) / (1 + e) with s = [x ≥ 0]
   * and e = e^−|x|, measured no faster on random signs (0.95–1.05×): Math.exp's own argument
   * reduction branches on the range of x either way, and costs ten times the select.
   */
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
  /**
   * relu's backward: the gradient g where the saved output y is > 0, else g·0 — exactly
   * `g · (y > 0)` of a separate comparison and product, in one pass (no mask array).
   */
  reluBackward: function reluBackward(g: number, y: number): number {
    return g * +(y > 0);
  },
} as const;

/**
 * Bit-level forms of the unary functions that only keep or clear ALL of a float32's bits, for
 * backends that can read a float32 array's words as integers. Each entry gives, from the 32
 * bits of x, a mask to AND them with: all ones keeps x, zero gives +0. Integer ops on the bits
 * never branch and need no float conversion: on random-sign float32 data this runs relu
 * 1.15–1.25× faster than the branch `x <= 0 ? 0 : x` and than UNARY.relu's float form (which
 * is the faster one for float64, whose two words make the bit form slower). The results are
 * identical, NaN and −0 included (test/kernels/elementwise-loops.test.ts checks every special
 * value).
 */
export const SIGN_MASKS = {
  /**
   * relu: clear a negative float32 (sign bit set and not NaN; −0 and −∞ included) to +0.
   * NaN is |bits| > 0x7f800000, the bits of +∞.
   */
  relu: function reluMask(bits: number): number {
    return ~((bits >> 31) & (((bits & 0x7fffffff) - 0x7f800001) >> 31));
  },
} as const;

/** The name of a unary function with a bit-level form (a key of SIGN_MASKS). */
export type SignMaskFn = keyof typeof SIGN_MASKS;

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
