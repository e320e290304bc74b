/**
 * High-precision references for the math ops, computed here independently of gradscope's
 * kernels: BigInt fixed-point arithmetic with enough guard bits that every result is exact to
 * far below float64's precision, then rounded to the nearest float64 (up to 2⁻⁶⁴ relative).
 *
 *   - π from Machin's formula π = 16·atan(1/5) − 4·atan(1/239), √ by Newton's method on BigInt;
 *   - erf from its Taylor series (2/√π) Σ (−1)ⁿ x^{2n+1} / (n!(2n+1)), summed until the terms
 *     vanish, with P = 160 + 2x²/ln 2 fractional bits: the terms grow to ≈ e^{x²} before they
 *     shrink (the alternating sum cancels that many bits), and erfc = 1 − erf is as small as
 *     e^{−x²} (it needs that many more to keep 160 significant bits);
 *   - erfc = 1 − erf in the same fixed point (exact subtraction: no cancellation error there).
 *
 * gradscope's kernel (kernels/scalar.ts' errorFunction) uses neither method — a Chebyshev
 * expansion of ln(erfc(x)/t) + x² and a short Taylor sum near 0 — so agreement is a real check.
 */

/** x as an exact fixed-point BigInt with P fractional bits (x finite; exact when P covers its last bit). */
export function toFixed(x: number, P: number): bigint {
  if (!Number.isFinite(x)) throw new Error(`toFixed: ${x} is not finite`);
  if (x === 0) return 0n;
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const biased = (hi >>> 20) & 0x7ff;
  let mantissa = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let exponent: number;
  if (biased === 0) exponent = -1074; // subnormal
  else {
    mantissa |= 1n << 52n;
    exponent = biased - 1075;
  }
  const shift = exponent + P;
  const magnitude = shift >= 0 ? mantissa << BigInt(shift) : mantissa >> BigInt(-shift);
  return x < 0 ? -magnitude : magnitude;
}

/** A fixed-point BigInt with P fractional bits, rounded to float64 (to 2⁻⁶⁴ relative, then to nearest). */
export function fromFixed(v: bigint, P: number): number {
  if (v === 0n) return 0;
  const negative = v < 0n;
  let m = negative ? -v : v;
  const bits = m.toString(2).length;
  let e = -P;
  if (bits > 64) {
    m >>= BigInt(bits - 64);
    e += bits - 64;
  }
  // Two factors so that neither power of two overflows or underflows on its own.
  const e1 = Math.trunc(e / 2);
  const y = Number(m) * 2 ** e1 * 2 ** (e - e1);
  return negative ? -y : y;
}

/** ⌊√n⌋ for n ≥ 0 (Newton's method from above). */
export function isqrt(n: bigint): bigint {
  if (n < 2n) return n;
  let x = 1n << BigInt(Math.ceil(n.toString(2).length / 2));
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

/** atan(1/k)·2^P by its series Σ (−1)ⁿ / ((2n+1) k^{2n+1}). */
function atanInverse(k: bigint, P: number): bigint {
  const k2 = k * k;
  let power = (1n << BigInt(P)) / k;
  let sum = 0n;
  for (let n = 0n; power !== 0n; n++) {
    const term = power / (2n * n + 1n);
    sum += n % 2n === 0n ? term : -term;
    power /= k2;
  }
  return sum;
}

const piCache = new Map<number, bigint>();

/** π·2^P (Machin), cached per precision. */
export function piFixed(P: number): bigint {
  let pi = piCache.get(P);
  if (pi === undefined) {
    const guard = 32;
    pi = (16n * atanInverse(5n, P + guard) - 4n * atanInverse(239n, P + guard)) >> BigInt(guard);
    piCache.set(P, pi);
  }
  return pi;
}

const sqrtPiCache = new Map<number, bigint>();

/** √π·2^P, cached per precision. */
function sqrtPiFixed(P: number): bigint {
  let r = sqrtPiCache.get(P);
  if (r === undefined) {
    r = isqrt(piFixed(P) << BigInt(P));
    sqrtPiCache.set(P, r);
  }
  return r;
}

/** Fractional bits for erf/erfc at |x| (see the file comment). */
function precisionFor(x: number): number {
  // Rounded up to a multiple of 256, so that the caches of π and √π are hit.
  return Math.ceil((160 + (2 * x * x) / Math.LN2) / 256) * 256;
}

/** Extra fractional bits so that a tiny x (down to the subnormals) keeps 64 significant bits. */
function tinyBits(x: number): number {
  return x === 0 || Math.abs(x) >= 1 ? 0 : Math.ceil((64 - Math.log2(Math.abs(x))) / 256) * 256;
}

/** erf(X)·2^P for a fixed-point argument X (P fractional bits). */
function erfFixed(X: bigint, P: number): bigint {
  const one = 1n << BigInt(P);
  const X2 = (X * X) >> BigInt(P);
  let term = X; // x^{2n+1}/n!
  let sum = X;
  for (let n = 1n; term !== 0n; n++) {
    term = (term * X2) / (n << BigInt(P));
    const t = term / (2n * n + 1n);
    sum += n % 2n === 0n ? t : -t;
  }
  return (2n * sum * one) / sqrtPiFixed(P);
}

/** erf(x), correctly rounded up to 2⁻⁶⁴ relative (finite x). */
export function refErf(x: number): number {
  if (Math.abs(x) > 7) return Math.sign(x); // |1 − erf| < 5e-23: rounds to ±1
  const P = precisionFor(x) + tinyBits(x);
  return fromFixed(erfFixed(toFixed(x, P), P), P);
}

/** erfc(x) = 1 − erf(x), correctly rounded up to 2⁻⁶⁴ relative (finite x ≤ 27). */
export function refErfc(x: number): number {
  const P = precisionFor(x);
  return fromFixed((1n << BigInt(P)) - erfFixed(toFixed(x, P), P), P);
}

/** Exact GELU x·Φ(x) = ½x(1 + erf(x/√2)) (finite x, |x| ≤ 38). */
export function refGelu(x: number): number {
  const P = precisionFor(x / Math.SQRT2) + tinyBits(x);
  const one = 1n << BigInt(P);
  const X = toFixed(x, P);
  const sqrt2 = isqrt(2n * one * one);
  const y = (X * one) / sqrt2;
  // ½x(1 + erf y): the product in fixed point, then one rounding.
  return fromFixed((X * (one + erfFixed(y, P))) >> BigInt(P + 1), P);
}
