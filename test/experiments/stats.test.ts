/**
 * The statistics the presets' verdicts are computed with (packages/lab/src/experiments/stats.ts),
 * checked against SciPy. Every reference value below was printed by Python 3 with SciPy 1.17.1 /
 * NumPy 2.4.6 (the call is named above each table or beside each value) and pasted here, so the
 * test needs no Python: e.g. `scipy.stats.t.cdf(-1.5, 5)`, `scipy.stats.ttest_1samp(x, 0.1)` and its
 * `.confidence_interval(0.95)`, `scipy.stats.binomtest(k, n, 0.5).proportion_ci(0.95, method='exact')`.
 * Exact permutation p-values that SciPy's `permutation_test` defines differently (its two-sided p is
 * twice the smaller tail, which differs from the share of |ρ| ≥ |ρ_obs| when ρ's permutation
 * distribution is not symmetric, as with ties) were counted in Python over every permutation
 * (`itertools.permutations`) with `scipy.stats.spearmanr` as the statistic.
 */
import { describe, expect, it } from 'vitest';
import {
  EXACT_PERMUTATIONS_UP_TO,
  betaQuantile,
  binomialCdf,
  incompleteBeta,
  logGamma,
  mean,
  median,
  normalQuantile,
  pairedTTest,
  ranks,
  sampleVariance,
  signTest,
  spearman,
  spearmanTest,
  studentTCdf,
  studentTQuantile,
  tTest,
  tost,
} from '../../packages/lab/src/experiments/stats.js';

/** |actual − expected| ≤ rel·|expected| + abs: a relative bound with a floor near zero. */
function close(actual: number, expected: number, rel = 1e-9, abs = 1e-12): void {
  expect(Math.abs(actual - expected), `${actual} vs ${expected}`).toBeLessThanOrEqual(rel * Math.abs(expected) + abs);
}

// scipy.stats.t.cdf(t, df): [t, df, P(T ≤ t)]
const T_CDF: [number, number, number][] = [
  [-3.0, 1, 0.10241638234956672],
  [-3.0, 2, 0.04773298313335456],
  [-3.0, 5, 0.015049623948731293],
  [-3.0, 9, 0.007478181955207111],
  [-3.0, 30, 0.0026949820328259727],
  [-1.5, 1, 0.18716704181099886],
  [-1.5, 2, 0.13619656244550055],
  [-1.5, 5, 0.09695184012123664],
  [-1.5, 9, 0.08392532802853753],
  [-1.5, 30, 0.072032964564323],
  [0.5, 1, 0.6475836176504333],
  [0.5, 2, 0.6666666666666666],
  [0.5, 5, 0.6808505641795355],
  [0.5, 9, 0.6854643500869868],
  [0.5, 30, 0.6896384975574363],
  [2.0, 1, 0.8524163823495667],
  [2.0, 2, 0.908248290463863],
  [2.0, 5, 0.9490302605850708],
  [2.0, 9, 0.9617235881146495],
  [2.0, 30, 0.9726874775185085],
  [4.0, 1, 0.9220208696226306],
  [4.0, 2, 0.9714045207910317],
  [4.0, 5, 0.9948382922595843],
  [4.0, 9, 0.9984447858448071],
  [4.0, 30, 0.9998090771819581],
];
// scipy.stats.t.ppf(q, df): [q, df, quantile]
const T_QUANTILE: [number, number, number][] = [
  [0.975, 1, 12.706204736174694],
  [0.975, 2, 4.302652729749462],
  [0.975, 4, 2.7764451051977934],
  [0.975, 9, 2.262157162798205],
  [0.975, 29, 2.045229642132703],
  [0.975, 100, 1.9839715185235518],
  [0.95, 1, 6.313751514675037],
  [0.95, 2, 2.9199855803537242],
  [0.95, 4, 2.1318467863266495],
  [0.95, 9, 1.833112932656237],
  [0.95, 29, 1.6991270265334972],
  [0.95, 100, 1.6602343260853392],
  [0.995, 1, 63.656741162871526],
  [0.995, 2, 9.924843200918287],
  [0.995, 4, 4.604094871349992],
  [0.995, 9, 3.249835541592126],
  [0.995, 29, 2.756385903670605],
  [0.995, 100, 2.6258905214380173],
  [0.025, 1, -12.706204736174705],
  [0.025, 2, -4.302652729749464],
  [0.025, 4, -2.7764451051977943],
  [0.025, 9, -2.2621571627982053],
  [0.025, 29, -2.045229642132704],
  [0.025, 100, -1.983971518523552],
];
// scipy.special.gammaln(x): [x, log Γ(x)]
const LOG_GAMMA: [number, number][] = [
  [0.1, 2.252712651734206],
  [0.5, 0.5723649429247],
  [1.0, 0.0],
  [2.5, 0.2846828704729192],
  [7.0, 6.579251212010101],
  [30.5, 72.9534711841694],
  [171.3, 708.1149470389971],
];
// scipy.special.betainc(a, b, x): [x, a, b, I_x(a, b)]
const INCOMPLETE_BETA: [number, number, number, number][] = [
  [0.3, 2, 3, 0.34829999999999994],
  [0.9, 0.5, 0.5, 0.7951672353008665],
  [0.01, 5, 1.5, 2.695727676868528e-10],
  [0.5, 10, 10, 0.5],
  [0.7, 4.5, 0.5, 0.08112618884584057],
];
// scipy.stats.binom.cdf(k, n, p): [k, n, p, P(X ≤ k)]
const BINOMIAL_CDF: [number, number, number, number][] = [
  [0, 10, 0.5, 0.0009765625],
  [3, 10, 0.5, 0.171875],
  [7, 20, 0.3, 0.7722717974181608],
  [50, 100, 0.5, 0.5397946186935889],
  [2, 5, 0.9, 0.008559999999999995],
];
// scipy.stats.norm.ppf(q): [q, quantile]
const NORMAL_QUANTILE: [number, number][] = [
  [0.001, -3.090232306167813],
  [0.01, -2.3263478740408408],
  [0.025, -1.9599639845400545],
  [0.2, -0.8416212335729142],
  [0.5, 0.0],
  [0.8, 0.8416212335729143],
  [0.975, 1.959963984540054],
  [0.999, 3.090232306167813],
];
// scipy.stats.binomtest(k, n, 0.5): [k, n, pvalue, proportion_ci(0.95, method='exact').low, .high]
const SIGN_TESTS: [number, number, number, number, number][] = [
  [0, 5, 0.0625, 0.0, 0.5218237501049814],
  [1, 10, 0.021484375, 0.0025285785444625728, 0.44501611702819543],
  [8, 10, 0.109375, 0.4439045376923585, 0.9747892736731665],
  [10, 10, 0.001953125, 0.6915028921812371, 1.0],
  [7, 12, 0.7744140625, 0.2766696856821058, 0.8483477701915653],
  [3, 3, 0.25, 0.2924017738212867, 1.0],
  [15, 20, 0.04138946533203125, 0.5089541282920425, 0.9134285308985655],
];
// scipy.stats.ttest_1samp(x, 0.1): pvalue, confidence_interval(0.95) and (0.99); p0 = ttest_1samp(x, 0).pvalue
const ONE_SAMPLE = {
  x: [0.31, -0.12, 0.54, 0.08, 0.47, 0.22, -0.05, 0.39],
  null: 0.1,
  mean: 0.23,
  p: 0.17211853617708045,
  lo: 0.027867597285506057,
  hi: 0.43213240271449394,
  lo99: -0.06914222806275708,
  hi99: 0.5291422280627571,
  p0: 0.031057383820343343,
};
// scipy.stats.ttest_rel(a, b): pvalue and confidence_interval(0.95)
const PAIRED = {
  a: [2.1, 1.8, 2.5, 2.2, 1.9, 2.4, 2.0, 2.3, 2.6, 1.7],
  b: [1.9, 1.9, 2.1, 2.0, 1.6, 2.3, 2.1, 1.9, 2.2, 1.8],
  mean: 0.16999999999999998,
  p: 0.0313580047758708,
  lo: 0.019001127056859246,
  hi: 0.3209988729431407,
};
// scipy.stats.spearmanr(x, y).statistic; p = permutation_test((y,), ρ, permutation_type="pairings",
// n_resamples=inf).pvalue; lo, hi = tanh(atanh ρ ∓ norm.ppf(0.975)·√((1 + ρ²/2)/(n − 3)))
const SPEARMAN = {
  x: [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
  y: [2.3, 1.1, 4.5, 3.9, 6.2, 5.0, 7.7],
  rho: 0.8928571428571429,
  p: 0.012301587301587301,
  lo: 0.27002488119504514,
  hi: 0.9889130842592109,
};
// spearmanr(x, y).statistic (ties in x and y); p = share of all 720 permutations of y with |ρ| ≥ |ρ_obs|
const SPEARMAN_TIES = {
  x: [1.0, 2.0, 2.0, 3.0, 5.0, 5.0],
  y: [0.5, 0.7, 0.6, 0.9, 1.4, 1.4],
  rho: 0.985184366143778,
  p: 0.005555555555555556,
};
// a negative ρ; p over all 120 permutations of y as above
const SPEARMAN_NEGATIVE = {
  x: [0.2, 0.4, 0.1, 0.9, 0.5],
  y: [-3.0, -1.0, -2.0, -5.0, -4.0],
  rho: -0.7,
  p: 0.23333333333333334,
};
// spearmanr(x, y).statistic; p_exact = share of all 10! permutations of y with |ρ| ≥ |ρ_obs| (NumPy)
const SPEARMAN_10 = {
  x: [0.1, 0.5, 0.3, 0.9, 0.7, 0.2, 0.8, 0.4, 0.6, 1.0],
  y: [1.2, 2.0, 0.9, 2.2, 1.1, 1.8, 2.5, 1.0, 1.6, 1.9],
  rho: 0.5636363636363636,
  p_exact: 0.09627865961199294,
};
// TOST, margin 0.1: p = max(ttest_1samp(x, -0.1, alternative="greater").pvalue, ttest_1samp(x, 0.1,
// alternative="less").pvalue); lo, hi = ttest_1samp(x, 0).confidence_interval(0.90)
const TOST_INSIDE = {
  x: [0.02, -0.05, 0.01, 0.04, -0.02, 0.03, 0.0, -0.01],
  margin: 0.1,
  p: 1.5417263696103905e-05,
  lo: -0.017028869262053672,
  hi: 0.022028869262053663,
  mean: 0.0024999999999999996,
};
// the same for an effect beside the margin
const TOST_BESIDE = {
  x: [0.12, 0.08, 0.15, 0.11, 0.09, 0.14],
  margin: 0.1,
  p: 0.8812903449683752,
  lo: 0.0924710742963849,
  hi: 0.13752892570361508,
};

describe('special functions against SciPy', () => {
  it('log Γ (Lanczos) to ~1e-13 relative', () => {
    for (const [x, expected] of LOG_GAMMA) close(logGamma(x), expected, 1e-12, 1e-13);
  });

  it('the regularised incomplete beta function', () => {
    for (const [x, a, b, expected] of INCOMPLETE_BETA) close(incompleteBeta(x, a, b), expected, 1e-10, 1e-14);
    expect(incompleteBeta(0, 2, 3)).toBe(0);
    expect(incompleteBeta(1, 2, 3)).toBe(1);
  });

  it("Student's t CDF at several t and df", () => {
    for (const [t, df, expected] of T_CDF) close(studentTCdf(t, df), expected, 1e-10, 1e-14);
    expect(studentTCdf(0, 7)).toBeCloseTo(0.5, 14);
    expect(studentTCdf(Number.POSITIVE_INFINITY, 3)).toBe(1);
    expect(studentTCdf(Number.NEGATIVE_INFINITY, 3)).toBe(0);
    expect(studentTCdf(Number.NaN, 3)).toBeNaN();
  });

  it("Student's t quantiles (the intervals' multipliers)", () => {
    for (const [q, df, expected] of T_QUANTILE) close(studentTQuantile(q, df), expected, 1e-9);
    // Far tails at 1 and 2 df (scipy.stats.t.ppf), beyond the ±1000 a fixed bracket once stopped at.
    close(studentTQuantile(0.99995, 1), 6366.197671316637, 1e-9);
    close(studentTQuantile(0.00005, 2), -99.99249984374454, 1e-9);
    close(studentTQuantile(0.9999995, 1), 636619.7724194303, 1e-9);
    expect(() => studentTQuantile(1, 3)).toThrow(/studentTQuantile: q must be in \(0, 1\); got 1/);
  });

  it('the binomial CDF', () => {
    for (const [k, n, p, expected] of BINOMIAL_CDF) close(binomialCdf(k, n, p), expected, 1e-11, 1e-15);
    expect(binomialCdf(-1, 5, 0.5)).toBe(0);
    expect(binomialCdf(5, 5, 0.5)).toBe(1);
    // Degenerate probabilities: every trial fails (p = 0) or succeeds (p = 1).
    expect(binomialCdf(2, 5, 0)).toBe(1);
    expect(binomialCdf(2, 5, 1)).toBe(0);
  });

  it('the normal quantile (Acklam: relative error below 1.2e-9)', () => {
    for (const [q, expected] of NORMAL_QUANTILE) close(normalQuantile(q), expected, 1.2e-9, 1e-12);
    expect(() => normalQuantile(0)).toThrow(/normalQuantile: q must be in \(0, 1\); got 0/);
  });

  it('beta quantiles invert the incomplete beta function', () => {
    for (const [q, a, b] of [[0.025, 3, 8], [0.5, 0.5, 0.5], [0.975, 10, 2]] as const) {
      close(incompleteBeta(betaQuantile(q, a, b), a, b), q, 1e-12, 1e-14);
    }
  });
});

describe('descriptive statistics', () => {
  it('mean, sample variance (n − 1) and median, NaN where undefined', () => {
    expect(mean([1, 2, 3, 6])).toBe(3);
    expect(mean([])).toBeNaN();
    expect(sampleVariance([1, 2, 3, 6])).toBeCloseTo(14 / 3, 14);
    expect(sampleVariance([4])).toBeNaN();
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });

  it('ranks from 1, ties given their mean rank (scipy.stats.rankdata)', () => {
    // scipy.stats.rankdata([3, 1, 4, 1, 5, 9, 2, 6, 5]) = [4, 1.5, 5, 1.5, 6.5, 9, 3, 8, 6.5]
    expect(ranks([3, 1, 4, 1, 5, 9, 2, 6, 5])).toEqual([4, 1.5, 5, 1.5, 6.5, 9, 3, 8, 6.5]);
  });
});

describe("t-tests against scipy.stats.ttest_1samp / ttest_rel", () => {
  it('one-sample: mean, two-sided p and the t interval at 95 % and 99 %', () => {
    const r = tTest(ONE_SAMPLE.x, ONE_SAMPLE.null);
    close(r.effect, ONE_SAMPLE.mean, 1e-14);
    close(r.p, ONE_SAMPLE.p, 1e-9);
    close(r.interval[0], ONE_SAMPLE.lo, 1e-9);
    close(r.interval[1], ONE_SAMPLE.hi, 1e-9);
    expect(r.n).toBe(8);
    expect(r.nullValue).toBe(0.1);
    expect(r.test).toBe('t-test, n = 8, two-sided');
    const r99 = tTest(ONE_SAMPLE.x, ONE_SAMPLE.null, 0.01);
    close(r99.interval[0], ONE_SAMPLE.lo99, 1e-9);
    close(r99.interval[1], ONE_SAMPLE.hi99, 1e-9);
    close(tTest(ONE_SAMPLE.x).p, ONE_SAMPLE.p0, 1e-9);
    // A tiny α with 1 degree of freedom: scipy.stats.ttest_1samp([1, 1.5], 0).confidence_interval(0.9999).
    const wide = tTest([1, 1.5], 0, 1e-4);
    close(wide.interval[0], -1590.2994178291592, 1e-9);
    close(wide.interval[1], 1592.7994178291592, 1e-9);
  });

  it('paired: the t-test of a − b, with its interval', () => {
    const r = pairedTTest(PAIRED.a, PAIRED.b);
    close(r.effect, PAIRED.mean, 1e-12);
    close(r.p, PAIRED.p, 1e-9);
    close(r.interval[0], PAIRED.lo, 1e-9);
    close(r.interval[1], PAIRED.hi, 1e-9);
    expect(r.test).toBe('paired t-test, n = 10, two-sided');
  });

  it('no spread: a point interval, p 1 at the null value and 0 elsewhere', () => {
    expect(tTest([2, 2, 2], 2)).toMatchObject({ effect: 2, interval: [2, 2], p: 1 });
    expect(tTest([2, 2, 2], 0)).toMatchObject({ effect: 2, interval: [2, 2], p: 0 });
    expect(pairedTTest([1, 2, 3], [1, 2, 3]).p).toBe(1);
  });

  it('refuses bad input, naming the test and the value', () => {
    expect(() => tTest([1])).toThrow(/tTest: needs at least 2 values; got 1/);
    expect(() => tTest([1, Number.NaN, 3])).toThrow(/tTest: value 1 is NaN; every value must be finite/);
    expect(() => tTest([1, 2], 0, 0.5)).toThrow(/tTest: alpha must be in \(0, 0\.5\); got 0\.5/);
    expect(() => pairedTTest([1, 2], [1])).toThrow(/pairedTTest: 2 values against 1; pairs need equal counts/);
  });
});

describe('the exact sign test against scipy.stats.binomtest', () => {
  it('two-sided p and the Clopper–Pearson interval', () => {
    for (const [k, n, p, lo, hi] of SIGN_TESTS) {
      const r = signTest(k, n);
      close(r.p, p, 1e-10, 1e-15);
      close(r.interval[0], lo, 1e-9, 1e-14);
      close(r.interval[1], hi, 1e-9, 1e-14);
      expect(r.effect).toBe(k / n);
      expect(r.nullValue).toBe(0.5);
      expect(r.test).toBe(`exact sign test, ${k} of ${n}`);
    }
  });

  it('refuses counts that are not counts', () => {
    expect(() => signTest(1, 0)).toThrow(/signTest: trials must be a positive integer; got 0/);
    expect(() => signTest(4, 3)).toThrow(/signTest: successes must be an integer from 0 to 3; got 4/);
    expect(() => signTest(1.5, 3)).toThrow(/successes must be an integer/);
  });
});

describe("Spearman's ρ and its permutation test", () => {
  it('ρ equals scipy.stats.spearmanr, ties included', () => {
    close(spearman(SPEARMAN.x, SPEARMAN.y), SPEARMAN.rho, 1e-12);
    close(spearman(SPEARMAN_TIES.x, SPEARMAN_TIES.y), SPEARMAN_TIES.rho, 1e-12);
    expect(() => spearman([1, 2], [1])).toThrow(/spearman: 2 x values against 1 y values/);
  });

  it('exact permutation p up to 8 points: scipy.stats.permutation_test without ties, every permutation with', () => {
    const r = spearmanTest(SPEARMAN.x, SPEARMAN.y);
    close(r.effect, SPEARMAN.rho, 1e-12);
    close(r.p, SPEARMAN.p, 1e-12);
    expect(r.test).toBe('Spearman ρ, exact permutation test, n = 7');
    close(spearmanTest(SPEARMAN_TIES.x, SPEARMAN_TIES.y).p, SPEARMAN_TIES.p, 1e-12);
    const negative = spearmanTest(SPEARMAN_NEGATIVE.x, SPEARMAN_NEGATIVE.y);
    close(negative.effect, SPEARMAN_NEGATIVE.rho, 1e-12);
    close(negative.p, SPEARMAN_NEGATIVE.p, 1e-12);
    expect(EXACT_PERMUTATIONS_UP_TO).toBe(8);
  });

  it('the Fisher-z interval with the Bonett–Wright variance (1 + ρ²/2)/(n − 3)', () => {
    const r = spearmanTest(SPEARMAN.x, SPEARMAN.y);
    close(r.interval[0], SPEARMAN.lo, 1e-8);
    close(r.interval[1], SPEARMAN.hi, 1e-8);
    expect(spearmanTest([1, 2, 3], [3, 1, 2]).interval).toEqual([-1, 1]); // below 4 points
  });

  it('above 8 points: 20,000 seeded permutations, within Monte Carlo error of the exact p, the same each call', () => {
    const r = spearmanTest(SPEARMAN_10.x, SPEARMAN_10.y);
    close(r.effect, SPEARMAN_10.rho, 1e-12);
    // The exact p (all 10! permutations) is 0.0963; the standard error of 20,001 draws is 0.0021.
    expect(Math.abs(r.p - SPEARMAN_10.p_exact)).toBeLessThan(0.01);
    expect(spearmanTest(SPEARMAN_10.x, SPEARMAN_10.y).p).toBe(r.p);
    expect(r.test).toBe('Spearman ρ, permutation test (20000 permutations), n = 10');
  });

  it('a constant variable has no ρ: NaN, p = 1, the whole interval', () => {
    const r = spearmanTest([1, 2, 3, 4], [5, 5, 5, 5]);
    expect(r.effect).toBeNaN();
    expect(r.p).toBe(1);
    expect(r.interval).toEqual([-1, 1]);
    expect(r.test).toMatch(/a constant variable/);
  });

  it('refuses too few or non-finite points', () => {
    expect(() => spearmanTest([1, 2], [2, 1])).toThrow(/spearmanTest: needs at least 3 points; got 2/);
    expect(() => spearmanTest([1, 2, Infinity], [2, 1, 3])).toThrow(/spearmanTest \(x\): value 2 is Infinity/);
    expect(() => spearmanTest([1, 2, 3, 4], [1, 2, 3])).toThrow(/spearmanTest: 4 x values against 3 y values/);
  });
});

describe('TOST against two one-sided scipy.stats.ttest_1samp', () => {
  it('equivalent within the margin: p = the larger one-sided p, the 90 % interval inside ±margin', () => {
    const r = tost(TOST_INSIDE.x, TOST_INSIDE.margin);
    close(r.p, TOST_INSIDE.p, 1e-8);
    close(r.interval[0], TOST_INSIDE.lo, 1e-9);
    close(r.interval[1], TOST_INSIDE.hi, 1e-9);
    close(r.effect, TOST_INSIDE.mean, 1e-12);
    expect(r.interval[0]).toBeGreaterThan(-TOST_INSIDE.margin);
    expect(r.interval[1]).toBeLessThan(TOST_INSIDE.margin);
    expect(r.test).toBe('TOST, margin ±0.1, n = 8');
  });

  it('not equivalent: an effect beside the margin gives a large p', () => {
    const r = tost(TOST_BESIDE.x, TOST_BESIDE.margin);
    close(r.p, TOST_BESIDE.p, 1e-9);
    close(r.interval[0], TOST_BESIDE.lo, 1e-9);
    close(r.interval[1], TOST_BESIDE.hi, 1e-9);
  });

  it('no spread, and bad input', () => {
    expect(tost([0.01, 0.01], 0.1)).toMatchObject({ interval: [0.01, 0.01], p: 0 });
    expect(tost([0.2, 0.2], 0.1).p).toBe(1);
    expect(() => tost([1, 2], 0)).toThrow(/tost: margin must be positive; got 0/);
    expect(() => tost([1], 1)).toThrow(/tost: needs at least 2 values; got 1/);
  });
});
