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
  // ---- math ops (docs/ops-math.md): Math's own functions, except where noted ----
  /** sin x. */
  sin: function sin(x: number, _p: number, _q: number): number {
    return Math.sin(x);
  },
  /** cos x. */
  cos: function cos(x: number, _p: number, _q: number): number {
    return Math.cos(x);
  },
  /** tan x. */
  tan: function tan(x: number, _p: number, _q: number): number {
    return Math.tan(x);
  },
  /** arcsin x: NaN outside [−1, 1]. */
  asin: function asin(x: number, _p: number, _q: number): number {
    return Math.asin(x);
  },
  /** arccos x: NaN outside [−1, 1]. */
  acos: function acos(x: number, _p: number, _q: number): number {
    return Math.acos(x);
  },
  /** arctan x. */
  atan: function atan(x: number, _p: number, _q: number): number {
    return Math.atan(x);
  },
  /** sinh x. */
  sinh: function sinh(x: number, _p: number, _q: number): number {
    return Math.sinh(x);
  },
  /** cosh x. */
  cosh: function cosh(x: number, _p: number, _q: number): number {
    return Math.cosh(x);
  },
  /** arsinh x. */
  asinh: function asinh(x: number, _p: number, _q: number): number {
    return Math.asinh(x);
  },
  /** arcosh x: NaN below 1. */
  acosh: function acosh(x: number, _p: number, _q: number): number {
    return Math.acosh(x);
  },
  /** artanh x: ±∞ at ±1, NaN outside [−1, 1]. */
  atanh: function atanh(x: number, _p: number, _q: number): number {
    return Math.atanh(x);
  },
  /** ln(1 + x), accurate near 0. */
  log1p: function log1p(x: number, _p: number, _q: number): number {
    return Math.log1p(x);
  },
  /** eˣ − 1, accurate near 0. */
  expm1: function expm1(x: number, _p: number, _q: number): number {
    return Math.expm1(x);
  },
  /** 1/√x: +∞ at 0, NaN below 0 (two roundings, ≤ 1.5 ulp). */
  rsqrt: function rsqrt(x: number, _p: number, _q: number): number {
    return 1 / Math.sqrt(x);
  },
  /**
   * log σ(x) = min(x, 0) − ln(1 + e^−|x|): e^−|x| ≤ 1 never overflows, and no 1 − σ cancels.
   */
  logSigmoid: function logSigmoid(x: number, _p: number, _q: number): number {
    return Math.min(x, 0) - Math.log1p(Math.exp(-Math.abs(x)));
  },
  /**
   * GELU's tanh form ½x(1 + tanh u), u = √(2/π)(x + 0.044715x³), written x·σ(2u): the same value,
   * but 1 + tanh u cancels for x ≪ 0 and σ(2u) = e^{2u}/(1 + e^{2u}) does not.
   */
  geluTanh: function geluTanh(x: number, _p: number, _q: number): number {
    const u = 1.5957691216057308 * (x + 0.044715 * x * x * x); // 2·√(2/π)·(x + 0.044715x³)
    if (u >= 0) return x / (1 + Math.exp(-u));
    const e = Math.exp(u);
    return (x * e) / (1 + e);
  },
  /**
   * The error-function family in one body (scalar functions cannot call one another): p = 0
   * gives erf x, p = 1 erfc x, p = 2 exact GELU x·Φ(x) = ½x·erfc(−x/√2). Relative error
   * ≤ 1e-15 for erf and erfc over the whole line (erfc down to its underflow near x = 26.5);
   * test/math-ops.test.ts checks it against an independent BigInt reference.
   *
   * |z| < ½: the Taylor series erf z = (2/√π) Σ (−1)ⁿ z^{2n+1} / (n!(2n+1)), 14 terms (the first
   * one left out is below 2⁻⁶⁸ of the sum), and erfc = 1 − erf there (≥ 0.47: no cancellation).
   * |z| ≥ ½: erfc a = t·exp(−a² + g(2t − 1)) with t = 3/(3 + a) (a = |z|), g a degree-27
   * polynomial: the Chebyshev expansion of ln(erfc(a)/t) + a² in 2t − 1 ∈ (−1, 1], truncated
   * where its coefficients fall below 1e-17, in monomial form (Σ|coefficient| = 2.1, so Horner
   * adds ≤ 3e-16), each coefficient written with the fewest digits that keep it within 4e-19 of
   * its exact value. The form is that of Numerical Recipes' erfccheb (3rd ed.), with K = 3 for
   * its 2; the coefficients were computed for gradscope with mpmath (docs/ops-math.md has the
   * script). Then erf = ±(1 − erfc), erfc(−a) = 2 − erfc(a): no subtraction cancels. e^{−a²} is
   * taken as e^{−h²}·e^{−(a+h)(a−h)} with h = a rounded to 26 bits, so that h² is exact: a
   * rounded a² would cost a relative error of a²·2⁻⁵³ (1e-13 at a = 26).
   */
  errorFunction: function errorFunction(x: number, p: number, _q: number): number {
    const z = p === 2 ? x * -0.7071067811865476 : x;
    const a = Math.abs(z);
    if (a < 0.5) {
      const z2 = z * z;
      let term = 1;
      let sum = 0;
      for (let n = 1; n < 14; n++) {
        term *= -z2 / n;
        sum += term / (2 * n + 1);
      }
      const e = 1.1283791670955126 * (z + z * sum); // erf z (z + z·sum keeps erf(−0) = −0)
      return p === 0 ? e : p === 1 ? 1 - e : 0.5 * x * (1 - e);
    }
    // Past 27.5 erfc has underflowed (erfc 26.6 ≈ 2e-309); the split below would give ∞ − ∞.
    if (a > 27.5) return p === 0 ? (z > 0 ? 1 : -1) : p === 1 ? (z > 0 ? 0 : 2) : z > 0 ? 0 * x : x;
    const t = 3 / (3 + a);
    const u = 2 * t - 1;
    const g = -1.0272158614211673 + u * (0.8225221340194065 + u * (0.21128598913594848 + u * (0.022541182217695264 +
      u * (-0.020113320406139744 + u * (-0.011957869713248186 + u * (-8.3967003267646e-5 + u * (0.00280019636292743 +
      u * (0.000927360787333763 + u * (-0.000450623451717915 + u * (-0.000375251692457169 + u * (2.1723887038899e-5 +
      u * (0.000106714091798498 + u * (1.9474809629051e-5 + u * (-2.3860223020617e-5 + u * (-1.0275581777903e-5 +
      u * (3.889427625323e-6 + u * (3.382433317129e-6 + u * (-2.22562152231e-7 + u * (-8.53997437148e-7 +
      u * (-1.371031687315e-7 + u * (1.654013717246e-7 + u * (6.4262435123e-8 + u * (-2.20243569525e-8 +
      u * (-1.4625769781e-8 + u * (1.402651657e-9 + u * (1.5355970915e-9 +
      u * 3.0905274e-11))))))))))))))))))))))))));
    const s = a * 134217729; // 2²⁷ + 1: Dekker's split
    const h = s - (s - a);
    const c = t * Math.exp(-h * h) * Math.exp(g - (a + h) * (a - h)); // erfc a
    if (p === 0) return z >= 0 ? 1 - c : c - 1;
    const erfcZ = z >= 0 ? c : 2 - c;
    return p === 1 ? erfcZ : 0.5 * x * erfcZ;
  },
  /** floor x (not differentiable). */
  floor: function floor(x: number, _p: number, _q: number): number {
    return Math.floor(x);
  },
  /** ceil x (not differentiable). */
  ceil: function ceil(x: number, _p: number, _q: number): number {
    return Math.ceil(x);
  },
  /**
   * x rounded to the nearest integer, halves to even as torch.round (Math.round rounds halves
   * up: 2.5 → 3, −2.5 → −2); −0 stays −0, NaN and ±∞ pass through.
   */
  round: function round(x: number, _p: number, _q: number): number {
    const r = Math.round(x);
    return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
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
  /** atan2(a, b): the angle of the point (b, a) in (−π, π], as torch.atan2(input=a, other=b). */
  atan2: function atan2(a: number, b: number): number {
    return Math.atan2(a, b);
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
