/**
 * quadratic-sums (Patel 2017): the smoke-size mechanics (thresholds at S = n equal to gradient
 * descent's, monotone in S, paired instances), the claim parts' logic on constructed instances,
 * and the missing paper size.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { MAX_SERIES_PER_PLOT, type PresetResult } from '../../packages/lab/src/experiments/preset.js';
import {
  AT_N_MARGIN,
  BUDGETS,
  type Instance,
  judgeQuadraticSums,
  measurePoint,
  type PointOutput,
  quadraticSumsPreset,
  toStabilityProblem,
} from '../../packages/lab/src/experiments/presets/quadratic-sums.js';
import { meanSquareThreshold } from '../../src/analysis/stability.js';
import { quadraticSum } from '../../src/data/synthetic.js';
import { expectWellFormed, runSmoke } from './well-formed.js';

describe('quadratic-sums preset: smoke-size mechanics', () => {
  const seeds = [1, 2, 3];
  const progress: number[] = [];
  let result: PresetResult;
  beforeAll(async () => {
    result = await runSmoke(quadraticSumsPreset, seeds, (f) => progress.push(f));
  }, 120_000);

  it('returns a well-formed result with labelled plots and reports progress', () => {
    expectWellFormed(result, 'quadratic-sums');
    expect(progress.length).toBeGreaterThan(1);
    expect(progress.every((f) => f >= 0 && f <= 1)).toBe(true);
    expect(result.plots.find((p) => p.id === 'thresholds')!.xLog).toBe(true);
    for (const plot of result.plots) expect(plot.series.length).toBeLessThanOrEqual(MAX_SERIES_PER_PLOT);
    // 3 instances × 2 problems × 4 batch sizes × 2 learning rates.
    expect(result.runs.length).toBe(seeds.length * 2 * BUDGETS.smoke.batchSizes.length * 2);
  });

  it('passes its mechanics checks (η* ≤ 2/λ_max, monotone in S, twins share the mean Hessian)', () => {
    for (const [name, ok] of Object.entries(result.checks)) expect(ok, name).toBe(true);
  });

  it('judges four parts, each with an interval and a p-value, the limit at S = n by TOST', () => {
    const ids = ['heterogeneous-lower', 'gd-threshold-at-n', 'sgd-diverges-above', 'sgd-converges-below'];
    expect(result.claims.map((c) => c.id)).toEqual(ids);
    const [lower, atN] = result.claims;
    expect(lower!.effect).toBeLessThan(0);
    expect(lower!.n).toBe(seeds.length);
    // Exact up to rounding: equivalent within ±1e-6 on every instance.
    expect(atN!.verdict).toBe('REPRODUCED');
    expect(atN!.n).toBe(2 * seeds.length);
    expect(Math.abs(atN!.effect)).toBeLessThan(1e-12);
    for (const part of result.claims) {
      expect(Number.isFinite(part.p)).toBe(true);
      expect(part.interval[0]).toBeLessThanOrEqual(part.effect);
      expect(part.interval[1]).toBeGreaterThanOrEqual(part.effect);
    }
    expect(result.budget).toMatch(/Seeds: 1, 2, 3\./);
  });

  it('the thresholds at S = n equal gradient descent 2/λ_max(A) and are banded over instances', () => {
    const thresholds = result.plots.find((p) => p.id === 'thresholds')!;
    const gd = thresholds.series.find((s) => s.label.startsWith('gradient descent'))!;
    const banded = thresholds.series.filter((s) => s.band !== undefined);
    expect(banded).toHaveLength(2);
    const n = BUDGETS.smoke.n;
    for (const s of banded) {
      expect(s.x[s.x.length - 1]).toBe(n);
      s.y.forEach((y, j) => {
        expect(s.band!.lower[j]!).toBeLessThanOrEqual(y * (1 + 1e-12));
        expect(s.band!.upper[j]!).toBeGreaterThanOrEqual(y * (1 - 1e-12));
      });
    }
    // Every instance has the same mean Hessian diag(eigenvalues): one 2/λ_max for all.
    const atN = result.runs.filter((r) => r.config.S === n).map((r) => r.metrics.etaStar!);
    for (const eta of atN) expect(Math.abs(eta - gd.y[0]!) / gd.y[0]!).toBeLessThan(1e-9);
    const ratio = result.plots.find((p) => p.id === 'threshold-ratio')!;
    const perInstance = ratio.series.find((s) => s.style === 'points')!;
    expect(perInstance.y).toHaveLength(seeds.length * BUDGETS.smoke.batchSizes.length);
  });

  it('pairs instances across the two problems and names the divergence notion', () => {
    for (const r of result.runs) expect(r.config.divergence).toBe('mean-square');
    const key = (r: PresetResult['runs'][number]) => `${r.config.S}/${r.config.instance}/${r.config.etaOverThreshold}`;
    const het = result.runs.filter((r) => r.config.problem === 'heterogeneous').map(key);
    const hom = result.runs.filter((r) => r.config.problem === 'homogenized').map(key);
    expect(het).toEqual(hom);
  });

  it('a task is a pure function of its input (the preset’s numbers again)', () => {
    const point = measurePoint({ seed: 2, problem: 'heterogeneous', S: 2, size: 'smoke', extras: false });
    const run = result.runs.find((r) => r.id === 'instance2-heterogeneous-S2-above')!;
    expect(point.etaStar).toBe(run.metrics.etaStar);
    expect(point.above.growthRate).toBe(run.metrics.meanSquareGrowthRate);
  });

  it('has no paper size: Patel gives no numerical configuration for the quadratic sums', async () => {
    expect(BUDGETS.paper).toBeUndefined();
    const run = quadraticSumsPreset.run({ size: 'paper', seeds: [1], progress: () => {}, map: async () => [] });
    await expect(run).rejects.toThrow(/declares no paper-size configuration/);
  });
});

describe('quadratic-sums: the threshold of a heterogeneous problem directly', () => {
  it('is at most the homogenized one at S = 1, and equal at S = n', () => {
    const het = toStabilityProblem(quadraticSum({ n: 12, d: 3, seed: 4, heterogeneity: 1 }));
    const hom = toStabilityProblem(quadraticSum({ n: 12, d: 3, seed: 4, heterogeneity: 0 }));
    const opts = { sampling: 'without-replacement' as const };
    expect(meanSquareThreshold(het, 1, opts)).toBeLessThanOrEqual(meanSquareThreshold(hom, 1, opts));
    expect(Math.abs(meanSquareThreshold(het, 12, opts) - meanSquareThreshold(hom, 12, opts))).toBeLessThan(1e-9);
  });
});

// ---- the claim parts on constructed instances -------------------------------------------------

const S = [1, 10, 100];
const GD = 2;

function point(etaStar: number, above: number, below: number): PointOutput {
  const run = (factor: number, growthRate: number) => {
    return { factor, eta: factor * etaStar, growthRate, meanSquaredNorm: 1 };
  };
  const reported = { etaStarWith: Number.NaN, etaAs: Number.NaN };
  return { etaStar, gdThreshold: GD, ...reported, above: run(1.5, above), below: run(0.8, below) };
}

/** Instance s: thresholds het/hom at S = 1 and 10 from `small(s)`, both 2·(1 + gap) at S = n. */
function instances(
  count: number,
  small: (s: number) => [number, number],
  options: { gap?: number; diverges?: (s: number) => boolean } = {},
): Instance[] {
  const { gap = 1e-16, diverges = () => true } = options;
  return Array.from({ length: count }, (_, s) => {
    const [het, hom] = small(s);
    const growth = diverges(s) ? 0.1 : -0.01;
    const pointsOf = (eta: number) => [
      point(eta, growth, -0.2),
      point((eta + GD) / 2, growth, -0.2),
      point(GD * (1 + gap), 0.5, -0.3),
    ];
    return { seed: s + 1, points: { heterogeneous: pointsOf(het), homogenized: pointsOf(hom) } };
  });
}

describe('quadratic-sums: the claim parts', () => {
  it('a heterogeneous threshold well below the homogenized one on every instance: every part REPRODUCED', () => {
    const parts = judgeQuadraticSums(instances(10, (s) => [0.1 + 0.01 * s, 0.5 - 0.01 * s]), S, 100, 0.05);
    for (const part of parts) expect(part.verdict, part.id).toBe('REPRODUCED');
    expect(parts[0]!.p).toBeLessThan(0.005);
    expect(parts[2]!.effect).toBe(1);
    expect(parts[2]!.p).toBeCloseTo(2 / 2 ** 10, 12);
  });

  it('a heterogeneous threshold above the homogenized one: NOT REPRODUCED; a coin flip: INCONCLUSIVE', () => {
    const above = judgeQuadraticSums(instances(10, (s) => [0.5 + 0.01 * s, 0.1]), S, 100, 0.05);
    expect(above[0]!.verdict).toBe('NOT REPRODUCED');
    const noise = judgeQuadraticSums(instances(10, (s) => (s % 2 === 0 ? [0.2, 0.22] : [0.22, 0.2])), S, 100, 0.05);
    expect(noise[0]!.verdict).toBe('INCONCLUSIVE');
  });

  it('a limit off 2/λ_max by more than the margin is NOT REPRODUCED', () => {
    const off = judgeQuadraticSums(instances(10, () => [0.1, 0.5], { gap: 1e-3 }), S, 100, 0.05);
    expect(off[1]!.verdict).toBe('NOT REPRODUCED');
    expect(off[1]!.effect).toBeCloseTo(1e-3, 12);
    expect(AT_N_MARGIN).toBeLessThan(1e-3);
  });

  it('divergence above η* on half the instances is INCONCLUSIVE; on none, NOT REPRODUCED', () => {
    const everyOther = { diverges: (s: number) => s % 2 === 0 };
    const half = judgeQuadraticSums(instances(10, () => [0.1, 0.5], everyOther), S, 100, 0.05);
    expect(half[2]!.verdict).toBe('INCONCLUSIVE');
    expect(half[2]!.effect).toBe(0.5);
    const none = judgeQuadraticSums(instances(10, () => [0.1, 0.5], { diverges: () => false }), S, 100, 0.05);
    expect(none[2]!.verdict).toBe('NOT REPRODUCED');
  });

  it('divergence is judged from the second batch size on: a slow S = 1 alone does not count against it', () => {
    const slowAtOne = instances(10, () => [0.1, 0.5]).map((i) => {
      i.points.heterogeneous[0] = point(0.1, -0.01, -0.2);
      return i;
    });
    const parts = judgeQuadraticSums(slowAtOne, S, 100, 0.05);
    expect(parts[2]!.verdict).toBe('REPRODUCED');
    expect(parts[2]!.effect).toBe(1);
  });

  it('refuses a batch-size grid that does not end at S = n', () => {
    const judge = () => judgeQuadraticSums(instances(3, () => [0.1, 0.5]), S, 50, 0.05);
    expect(judge).toThrow(/must end at S = n = 50/);
  });
});
