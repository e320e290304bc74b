/**
 * The claim-part tests the stability preset (Wu & Su 2023) declares for both of its networks, the
 * diagonal linear network (stability.ts) and the two-layer ReLU student (stability-relu.ts).
 *
 * Every test is over seeds, the unit the preset replicates: each seed draws its own init (and batch
 * order) and yields one number per part, so the seeds are independent samples. Sharpness ratios
 * such as Tr G·η/2 are positive and multiplicative, so they are tested on the log scale (a t-test
 * of ln ratio against 0, reported back as a geometric mean with its interval); trends in η are
 * per-seed elasticities (the least-squares slope of ln value on ln η over the η a seed converged
 * at) tested against 0. A run that diverged has no minimum to measure: it never supplies a value
 * that could support a part, and every part says how many runs it lost that way.
 */
import { directionalPart, type Direction, type PartSpec } from '../claims.js';
import type { ClaimPart, Series } from '../preset.js';
import { mean, tTest, type TestResult } from '../stats.js';

/** A part that could not be tested (fewer than two values): INCONCLUSIVE, with the reason. */
export function untestablePart(spec: PartSpec, alpha: number, n: number, reason: string, note = ''): ClaimPart {
  return {
    ...spec,
    test: 'not run',
    effect: Number.NaN,
    interval: [Number.NaN, Number.NaN],
    p: Number.NaN,
    alpha,
    n,
    verdict: 'INCONCLUSIVE',
    detail: `INCONCLUSIVE: ${reason}.${note === '' ? '' : ` ${note}`}`,
  };
}

/** A test on ln(values) read back on the ratio scale: the geometric mean, its interval, null 1. */
export function logRatioTest(ratios: readonly number[], alpha: number): TestResult {
  const result = tTest(
    ratios.map((r) => Math.log(r)),
    0,
    alpha,
  );
  return {
    ...result,
    effect: Math.exp(result.effect),
    interval: [Math.exp(result.interval[0]), Math.exp(result.interval[1])],
    nullValue: 1,
    test: `t-test of ln(ratio) over seeds, n = ${result.n}, two-sided (geometric mean shown)`,
  };
}

/** Appends `note` to a part's detail (e.g. how many runs diverged). */
function withNote(part: ClaimPart, note: string): ClaimPart {
  return note === '' ? part : { ...part, detail: `${part.detail} ${note}` };
}

/**
 * A sharpness ratio (one positive value per seed) against 1: below 1 for a bound that holds
 * ('less'), above 1 for a bound that is exceeded ('greater'). Seeds without a value (their runs
 * diverged) are left out and named in the detail.
 */
export function ratioPart(
  spec: PartSpec,
  perSeed: readonly (number | undefined)[],
  direction: Direction,
  alpha: number,
  note = '',
): ClaimPart {
  const values = perSeed.filter((v): v is number => v !== undefined && Number.isFinite(v) && v > 0);
  const missing = perSeed.length - values.length;
  const lost =
    missing > 0
      ? `${missing} of ${perSeed.length} seeds gave no value (a run diverged or ended short of a minimum).`
      : '';
  const full = [lost, note].filter((s) => s !== '').join(' ');
  if (values.length < 2) {
    return untestablePart(spec, alpha, values.length, `only ${values.length} seed(s) gave a value`, full);
  }
  return withNote(directionalPart(spec, logRatioTest(values, alpha), direction, alpha), full);
}

/** The least-squares slope of ln y on ln x (the elasticity of y in x); NaN below two distinct x. */
export function logLogSlope(x: readonly number[], y: readonly number[]): number {
  if (x.length < 2) return Number.NaN;
  const lx = x.map(Math.log);
  const ly = y.map(Math.log);
  const mx = mean(lx);
  const my = mean(ly);
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < lx.length; i++) {
    sxy += (lx[i]! - mx) * (ly[i]! - my);
    sxx += (lx[i]! - mx) ** 2;
  }
  return sxx === 0 ? Number.NaN : sxy / sxx;
}

/** One seed's converged points of a quantity against η (diverged η left out). */
export interface SeedCurve {
  eta: number[];
  value: number[];
}

/**
 * "The quantity falls as η grows": per seed, the slope of ln value on ln η over the η the seed
 * converged at (at least two), then a t-test of the slopes against 0, claiming a negative slope.
 */
export function slopePart(spec: PartSpec, curves: readonly SeedCurve[], alpha: number, note = ''): ClaimPart {
  const slopes = curves.map((c) => logLogSlope(c.eta, c.value)).filter(Number.isFinite);
  const missing = curves.length - slopes.length;
  const lost =
    missing > 0 ? `${missing} of ${curves.length} seeds converged at fewer than two η and give no slope.` : '';
  const full = [lost, note].filter((s) => s !== '').join(' ');
  if (slopes.length < 2) {
    return untestablePart(spec, alpha, slopes.length, `only ${slopes.length} seed(s) gave a slope`, full);
  }
  const result = tTest(slopes, 0, alpha);
  return withNote(
    directionalPart(
      spec,
      { ...result, test: `t-test of per-seed slopes d ln(value)/d ln η, n = ${result.n}, two-sided` },
      'less',
      alpha,
    ),
    full,
  );
}

/**
 * "A is below B" for paired positive quantities (one pair per seed, same init): a t-test of
 * ln(A/B) over the seeds where both converged, read back as the geometric-mean ratio A/B against 1.
 */
export function pairedRatioPart(
  spec: PartSpec,
  pairs: readonly { a?: number; b?: number }[],
  alpha: number,
  note = '',
): ClaimPart {
  const ratios = pairs.map((p) =>
    p.a !== undefined && p.b !== undefined && p.a > 0 && p.b > 0 ? p.a / p.b : undefined,
  );
  return ratioPart(spec, ratios, 'less', alpha, note);
}

/**
 * A line through the mean at each x with its 95 % (1 − α) t-interval over seeds as a band; on the
 * 'log' scale the geometric mean and the interval of ln(value) (positive values; the band stays
 * positive on a log axis). Non-finite values are left out; fewer than two values leave no band.
 */
export function bandSeries(
  label: string,
  x: readonly number[],
  valuesAt: readonly (readonly number[])[],
  alpha: number,
  scale: 'linear' | 'log' = 'linear',
): Series {
  const y: number[] = [];
  const lower: number[] = [];
  const upper: number[] = [];
  const into = scale === 'log' ? Math.log : (v: number) => v;
  const back = scale === 'log' ? Math.exp : (v: number) => v;
  for (const values of valuesAt) {
    const finite = values.filter((v) => Number.isFinite(v) && (scale === 'linear' || v > 0)).map(into);
    y.push(finite.length === 0 ? Number.NaN : back(mean(finite)));
    const interval = finite.length >= 2 ? tTest(finite, 0, alpha).interval.map(back) : [Number.NaN, Number.NaN];
    lower.push(interval[0]!);
    upper.push(interval[1]!);
  }
  return { label, x: [...x], y, band: { lower, upper } };
}
