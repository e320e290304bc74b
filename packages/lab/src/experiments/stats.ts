/**
 * The statistics the presets' verdicts are computed with: every claim part is a test declared
 * before the run (claims.ts turns a test's result into a verdict). All intervals and p-values are
 * two-sided, so a part's verdict can be read off its interval: the claim is supported when the
 * (1 − α) interval lies wholly on the claimed side of the null value, contradicted when it lies
 * wholly on the other side, and undecided when it covers the null.
 *
 * - `tTest`: the mean of paired differences (one value per seed, methods sharing the seed's data,
 *   initialisation and batch order) or of one-sample values against a null value; Student's t.
 * - `signTest`: an exact binomial test of a count of successes among n trials against 1/2, with a
 *   Clopper–Pearson interval for the proportion; for small counts (seeds on which a claim holds).
 * - `spearmanTest`: Spearman's ρ with a permutation p-value (exact up to 8 points, else 20,000
 *   seeded permutations) and a Fisher-z interval with the Bonett–Wright variance.
 * - `tost`: two one-sided t-tests for an equivalence claim within ±margin, with the (1 − 2α)
 *   interval that TOST's decision reads.
 *
 * The special functions (log Γ, the regularised incomplete beta function, Student's t and the
 * binomial distribution) are computed here: the lab has no statistics dependency, and these are
 * the textbook algorithms (Lanczos' log Γ; the incomplete beta's continued fraction by the modified
 * Lentz method), checked in test/experiments/stats.test.ts against values printed by SciPy.
 */
import { foldIn, keyedPermutation, makeKey } from 'gradscope';

/** The arithmetic mean; NaN for no values. The one mean every preset uses. */
export function mean(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

/** The unbiased sample variance (n − 1 in the denominator); NaN below two values. */
export function sampleVariance(values: readonly number[]): number {
  if (values.length < 2) return Number.NaN;
  const m = mean(values);
  let sum = 0;
  for (const v of values) sum += (v - m) ** 2;
  return sum / (values.length - 1);
}

/** The median (the mean of the two middle values for an even count); NaN for no values. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

// ---- special functions ---------------------------------------------------------------------

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** log Γ(x) for x > 0 (Lanczos, g = 7, n = 9: ≈ 15 significant digits). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const z = x - 1;
  let a = LANCZOS[0]!;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i]! / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** The continued fraction of the incomplete beta function (modified Lentz). */
function betaContinuedFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 500; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return h;
}

/** The regularised incomplete beta function I_x(a, b), for a, b > 0 and 0 ≤ x ≤ 1. */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  // The continued fraction converges fast for x < (a + 1)/(a + b + 2); use the symmetry otherwise.
  if (x < (a + 1) / (a + b + 2)) return (front * betaContinuedFraction(a, b, x)) / a;
  return 1 - (front * betaContinuedFraction(b, a, 1 - x)) / b;
}

/** P(T ≤ t) for Student's t with `df` degrees of freedom. */
export function studentTCdf(t: number, df: number): number {
  if (Number.isNaN(t)) return Number.NaN;
  if (t === Number.POSITIVE_INFINITY) return 1;
  if (t === Number.NEGATIVE_INFINITY) return 0;
  const tail = 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5);
  return t > 0 ? 1 - tail : tail;
}

/** The q-quantile of Student's t with `df` degrees of freedom (bisection on the CDF). */
export function studentTQuantile(q: number, df: number): number {
  if (!(q > 0 && q < 1)) throw new RangeError(`studentTQuantile: q must be in (0, 1); got ${q}`);
  // Widen the bracket until it holds the quantile: with 1 or 2 degrees of freedom the tails are
  // heavy enough that small α puts it far beyond any fixed bound (t₁ at 0.99995 is 6366).
  let hi = 1e3;
  while (studentTCdf(hi, df) < Math.max(q, 1 - q) && hi < 1e300) hi *= 16;
  let lo = -hi;
  for (let i = 0; i < 200 && hi - lo > 1e-13 * Math.max(1, Math.abs(lo)); i++) {
    const mid = (lo + hi) / 2;
    if (studentTCdf(mid, df) < q) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** P(X ≤ k) for X ~ Binomial(n, p), summed exactly in log space. */
export function binomialCdf(k: number, n: number, p: number): number {
  if (k < 0) return 0;
  if (k >= n) return 1;
  // The log-space sum would take log(0) (0 · −∞ = NaN) at the degenerate probabilities.
  if (p <= 0) return 1;
  if (p >= 1) return 0;
  let sum = 0;
  for (let i = 0; i <= k; i++) sum += Math.exp(logChoose(n, i) + i * Math.log(p) + (n - i) * Math.log1p(-p));
  return Math.min(1, sum);
}

function logChoose(n: number, k: number): number {
  return logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1);
}

/** The standard normal quantile (Acklam's rational approximation: relative error below 1.2e-9). */
export function normalQuantile(q: number): number {
  if (!(q > 0 && q < 1)) throw new RangeError(`normalQuantile: q must be in (0, 1); got ${q}`);
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239,
  ];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const tail = (r: number) =>
    (((((c[0]! * r + c[1]!) * r + c[2]!) * r + c[3]!) * r + c[4]!) * r + c[5]!) /
    ((((d[0]! * r + d[1]!) * r + d[2]!) * r + d[3]!) * r + 1);
  if (q < 0.02425) return tail(Math.sqrt(-2 * Math.log(q)));
  if (q > 1 - 0.02425) return -tail(Math.sqrt(-2 * Math.log(1 - q)));
  const u = q - 0.5;
  const r = u * u;
  return ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * u) /
    (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
}

// ---- tests ---------------------------------------------------------------------------------

/** What every test returns: an estimate, its interval, a two-sided p-value and the sample size. */
export interface TestResult {
  /** The estimate (a mean difference, a proportion, a correlation). */
  effect: number;
  /** The interval at the level the test was asked for (1 − α; 1 − 2α for TOST). */
  interval: [number, number];
  /** Two-sided p-value against the null value (TOST: the larger of its two one-sided p-values). */
  p: number;
  /** The number of values (seeds, trials, points) the test used. */
  n: number;
  /** The value the effect is tested against (0 for a difference, 1/2 for a sign test). */
  nullValue: number;
  /** The test's name and settings, as the report prints it. */
  test: string;
}

function checkAlpha(alpha: number, where: string): void {
  if (!(alpha > 0 && alpha < 0.5)) throw new RangeError(`${where}: alpha must be in (0, 0.5); got ${alpha}`);
}

function checkFinite(values: readonly number[], where: string): void {
  const bad = values.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new RangeError(`${where}: value ${bad} is ${values[bad]}; every value must be finite`);
}

/**
 * Student's t-test of mean(values) against `nullValue` (one-sample), or of the mean of paired
 * differences when called as `tTest(differences, 0)`; the (1 − α) interval of the mean.
 * With no spread (every value equal) the interval is a point and p is 0 or 1.
 */
export function tTest(values: readonly number[], nullValue = 0, alpha = 0.05): TestResult {
  checkAlpha(alpha, 'tTest');
  checkFinite(values, 'tTest');
  const n = values.length;
  if (n < 2) throw new RangeError(`tTest: needs at least 2 values; got ${n}`);
  const m = mean(values);
  const se = Math.sqrt(sampleVariance(values) / n);
  const test = `t-test, n = ${n}, two-sided`;
  if (se === 0) return { effect: m, interval: [m, m], p: m === nullValue ? 1 : 0, n, nullValue, test };
  const t = (m - nullValue) / se;
  const p = Math.min(1, 2 * studentTCdf(-Math.abs(t), n - 1));
  const half = studentTQuantile(1 - alpha / 2, n - 1) * se;
  return { effect: m, interval: [m - half, m + half], p, n, nullValue, test };
}

/** The paired t-test of a − b (one pair per seed). */
export function pairedTTest(a: readonly number[], b: readonly number[], alpha = 0.05): TestResult {
  if (a.length !== b.length) {
    throw new RangeError(`pairedTTest: ${a.length} values against ${b.length}; pairs need equal counts`);
  }
  const result = tTest(
    a.map((x, i) => x - b[i]!),
    0,
    alpha,
  );
  return { ...result, test: `paired t-test, n = ${a.length}, two-sided` };
}

/**
 * The exact two-sided binomial test of `successes` out of `trials` against 1/2, with the
 * Clopper–Pearson (1 − α) interval of the success proportion.
 */
export function signTest(successes: number, trials: number, alpha = 0.05): TestResult {
  checkAlpha(alpha, 'signTest');
  if (!Number.isInteger(trials) || trials < 1) {
    throw new RangeError(`signTest: trials must be a positive integer; got ${trials}`);
  }
  if (!Number.isInteger(successes) || successes < 0 || successes > trials) {
    throw new RangeError(`signTest: successes must be an integer from 0 to ${trials}; got ${successes}`);
  }
  const lowerTail = binomialCdf(successes, trials, 0.5);
  const upperTail = 1 - binomialCdf(successes - 1, trials, 0.5);
  const p = Math.min(1, 2 * Math.min(lowerTail, upperTail));
  const interval: [number, number] = [
    successes === 0 ? 0 : betaQuantile(alpha / 2, successes, trials - successes + 1),
    successes === trials ? 1 : betaQuantile(1 - alpha / 2, successes + 1, trials - successes),
  ];
  const test = `exact sign test, ${successes} of ${trials}`;
  return { effect: successes / trials, interval, p, n: trials, nullValue: 0.5, test };
}

/** The q-quantile of Beta(a, b) (bisection on the incomplete beta function). */
export function betaQuantile(q: number, a: number, b: number): number {
  let lo = 0;
  let hi = 1;
  for (let i = 0; i < 100; i++) {
    const mid = (lo + hi) / 2;
    if (incompleteBeta(mid, a, b) < q) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** Ranks from 1, ties given their mean rank. */
export function ranks(values: readonly number[]): number[] {
  const order = values.map((v, i) => [v, i] as const).sort((x, y) => x[0] - y[0]);
  const out = new Array<number>(values.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && order[j + 1]![0] === order[i]![0]) j++;
    for (let k = i; k <= j; k++) out[order[k]![1]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return out;
}

function pearson(x: readonly number[], y: readonly number[]): number {
  const mx = mean(x);
  const my = mean(y);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < x.length; i++) {
    sxy += (x[i]! - mx) * (y[i]! - my);
    sxx += (x[i]! - mx) ** 2;
    syy += (y[i]! - my) ** 2;
  }
  return sxx === 0 || syy === 0 ? Number.NaN : sxy / Math.sqrt(sxx * syy);
}

/** Spearman's rank correlation (Pearson's on the ranks; ties take mean ranks). */
export function spearman(x: readonly number[], y: readonly number[]): number {
  if (x.length !== y.length) throw new RangeError(`spearman: ${x.length} x values against ${y.length} y values`);
  return pearson(ranks(x), ranks(y));
}

/** Every permutation of 0 … n−1 (Heap's algorithm), passed to `visit` in one reused array. */
function forEachPermutation(n: number, visit: (p: ArrayLike<number>) => void): void {
  const p = Array.from({ length: n }, (_, i) => i);
  const c = new Array<number>(n).fill(0);
  visit(p);
  for (let i = 0; i < n; ) {
    if (c[i]! < i) {
      const j = i % 2 === 0 ? 0 : c[i]!;
      [p[j], p[i]] = [p[i]!, p[j]!];
      visit(p);
      c[i]!++;
      i = 0;
    } else {
      c[i] = 0;
      i++;
    }
  }
}

/** Points up to which spearmanTest enumerates every permutation (8! = 40,320). */
export const EXACT_PERMUTATIONS_UP_TO = 8;
const RANDOM_PERMUTATIONS = 20000;

/**
 * Spearman's ρ(x, y) with a two-sided permutation p-value (the share of permutations of y whose
 * |ρ| reaches the observed |ρ|: exact up to 8 points, else 20,000 seeded random permutations,
 * counted with the observed one) and a (1 − α) Fisher-z interval with the Bonett–Wright variance
 * (1 + ρ²/2)/(n − 3) ([−1, 1] below 4 points).
 */
export function spearmanTest(x: readonly number[], y: readonly number[], alpha = 0.05, seed = 1): TestResult {
  checkAlpha(alpha, 'spearmanTest');
  checkFinite(x, 'spearmanTest (x)');
  checkFinite(y, 'spearmanTest (y)');
  if (x.length !== y.length) throw new RangeError(`spearmanTest: ${x.length} x values against ${y.length} y values`);
  const n = x.length;
  if (n < 3) throw new RangeError(`spearmanTest: needs at least 3 points; got ${n}`);
  const rx = ranks(x);
  const ry = ranks(y);
  const rho = pearson(rx, ry);
  const test =
    n <= EXACT_PERMUTATIONS_UP_TO
      ? `Spearman ρ, exact permutation test, n = ${n}`
      : `Spearman ρ, permutation test (${RANDOM_PERMUTATIONS} permutations), n = ${n}`;
  if (Number.isNaN(rho)) {
    return { effect: Number.NaN, interval: [-1, 1], p: 1, n, nullValue: 0, test: `${test} (a constant variable)` };
  }
  const observed = Math.abs(rho) - 1e-12;
  let extreme = 0;
  let total = 0;
  const permuted = new Array<number>(n);
  const count = (perm: ArrayLike<number>) => {
    for (let i = 0; i < n; i++) permuted[i] = ry[perm[i]!]!;
    if (Math.abs(pearson(rx, permuted)) >= observed) extreme++;
    total++;
  };
  if (n <= EXACT_PERMUTATIONS_UP_TO) forEachPermutation(n, count);
  else {
    // Random permutations from the engine's keyed generator: the same p on every run.
    const key = makeKey(seed);
    extreme = 1; // the observed arrangement itself
    total = 1;
    for (let r = 0; r < RANDOM_PERMUTATIONS; r++) count(keyedPermutation(n, foldIn(key, r)));
  }
  let interval: [number, number] = [-1, 1];
  if (n > 3) {
    const z = Math.atanh(Math.max(-0.999999, Math.min(0.999999, rho)));
    const half = normalQuantile(1 - alpha / 2) * Math.sqrt((1 + (rho * rho) / 2) / (n - 3));
    interval = [Math.tanh(z - half), Math.tanh(z + half)];
  }
  return { effect: rho, interval, p: extreme / total, n, nullValue: 0, test };
}

/**
 * Two one-sided t-tests (TOST) of |mean(values)| < margin: p is the larger of the two one-sided
 * p-values, and the interval is the (1 − 2α) interval of the mean, which lies inside (−margin,
 * margin) exactly when TOST concludes equivalence at level α.
 */
export function tost(values: readonly number[], margin: number, alpha = 0.05): TestResult {
  checkAlpha(alpha, 'tost');
  checkFinite(values, 'tost');
  if (!(margin > 0)) throw new RangeError(`tost: margin must be positive; got ${margin}`);
  const n = values.length;
  if (n < 2) throw new RangeError(`tost: needs at least 2 values; got ${n}`);
  const m = mean(values);
  const se = Math.sqrt(sampleVariance(values) / n);
  const test = `TOST, margin ±${margin}, n = ${n}`;
  if (se === 0) return { effect: m, interval: [m, m], p: Math.abs(m) < margin ? 0 : 1, n, nullValue: 0, test };
  const pLower = 1 - studentTCdf((m + margin) / se, n - 1); // H0: mean ≤ −margin
  const pUpper = studentTCdf((m - margin) / se, n - 1); // H0: mean ≥ +margin
  const half = studentTQuantile(1 - alpha, n - 1) * se;
  return { effect: m, interval: [m - half, m + half], p: Math.max(pLower, pUpper), n, nullValue: 0, test };
}
