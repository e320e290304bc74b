/**
 * variance-ratio (Defazio & Bottou 2019, Fig. 2–3): the smoke-size mechanics, the claim parts'
 * logic on constructed per-seed statistics and runs, and the paper-size configuration (LeNet-5
 * for two steps on generated CIFAR-format files; the wide ResNet-8 only built, it is too heavy to
 * train in a test; the refusal without --data).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_SERIES_PER_PLOT, type PresetResult } from '../../packages/lab/src/experiments/preset.js';
import { MissingDataError } from '../../packages/lab/src/experiments/presets/datasets.js';
import {
  judgeParts,
  type Measurement,
  measureRun,
  POSITIONS,
  type SeedStatistics,
  seedStatistics,
  varianceRatioPreset,
  type VarianceRun,
} from '../../packages/lab/src/experiments/presets/variance-ratio.js';
import { inlinePool } from '../../packages/lab/src/experiments/task-pool.js';
import { expectWellFormed, runSmoke } from './well-formed.js';
import { writeCifar } from './fixtures/cifar.js';

describe('variance-ratio preset: smoke-size mechanics', () => {
  let result: PresetResult;
  beforeAll(async () => {
    result = await runSmoke(varianceRatioPreset, [1, 2]);
    // ≈ 20 s of CPU; minutes on a loaded machine.
  }, 600_000);

  it('measures R = 0 exactly at the snapshot, and 2 % is a step after it', () => {
    expect(result.checks.ratioZeroAtSnapshot).toBe(true);
    expect(result.checks['2 % is a step after the snapshot']).toBe(true);
    for (const run of result.runs) expect(Math.abs(run.metrics.ratioAtSnapshot!)).toBeLessThanOrEqual(1e-12);
  });

  it('judges all eight parts with an interval and a p-value, and lists every run', () => {
    expectWellFormed(result, 'variance-ratio');
    expect(result.runs.map((r) => r.id).sort()).toEqual(['large-seed1', 'large-seed2', 'small-seed1', 'small-seed2']);
    expect(result.claims.map((c) => c.id)).toEqual([
      'snapshot-reduction',
      'larger-above-one',
      'larger-less-reduction',
      'stale-snapshot',
      'distance-grows',
      'larger-moves-farther',
      'curvature-highest-at-start',
      'curvature-similar',
    ]);
    for (const c of result.claims) {
      expect(c.n).toBe(2);
      expect(Number.isFinite(c.p) && c.p >= 0 && c.p <= 1).toBe(true);
      expect(c.interval[0]).toBeLessThanOrEqual(c.interval[1]);
    }
    expect(result.alpha).toBe(0.05);
    expect(result.budget).toContain('learning rate 0.1');
  });

  it('plots means with 95 % bands on log axes, never more than the allowed series', () => {
    const ratio = result.plots.find((p) => p.id === 'variance-ratio')!;
    expect(ratio.yLog).toBe(true);
    // Two models × (epochs × positions) points, the epochs laid side by side.
    const small = ratio.series[0]!;
    expect(small.x).toHaveLength(3 * POSITIONS.length);
    expect(small.band!.lower.every((lo, k) => lo <= small.y[k]! && small.y[k]! <= small.band!.upper[k]!)).toBe(true);
    expect(result.plots.map((p) => p.id)).toEqual(['variance-ratio', 'stale-snapshot', 'distance', 'curvature']);
    for (const plot of result.plots) expect(plot.series.length).toBeLessThanOrEqual(MAX_SERIES_PER_PLOT);
    for (const run of result.runs) {
      expect(Number.isFinite(run.metrics['R e0 @2%']!)).toBe(true);
      expect(run.metrics['distance e0 @2%']!).toBeGreaterThan(0);
    }
  });
});

const stats = (seed: number, sign: number, noise: number): SeedStatistics => ({
  seed,
  // sign 1: the paper's side for every part; sign −1: the other side.
  smallLnRAtFirst: Math.log(0.5) - sign * 1.5 + noise,
  largeLateLnR: sign * 0.5 + noise,
  lnRLargeMinusSmall: sign * 0.8 + noise,
  largeStaleLnR: sign * 0.6 + noise,
  lnDistanceGrowth: sign * 2 + noise,
  lnDistanceLargeOverSmall: sign * 0.4 + noise,
  lnCurvatureStartOverEnd: sign * 1.5 + noise,
  // Equivalence: 0.1 is well inside ±ln 2, 3 well outside, 0 ± noise undecided.
  lnCurvatureLargeOverSmall: (sign > 0 ? 0.1 : sign < 0 ? 3 : 0) + noise,
});
const wobble = [0.05, -0.03, 0.02, -0.04, 0.01];

describe('variance-ratio preset: the claim parts on constructed statistics', () => {
  it('REPRODUCES every part when each effect is strongly on the paper’s side', () => {
    const parts = judgeParts(wobble.map((w, i) => stats(i + 1, 1, w)), 0.05);
    expect(parts.map((p) => p.verdict)).toEqual(Array(8).fill('REPRODUCED'));
    expect(parts.every((p) => p.p < 0.005)).toBe(true);
  });

  it('does NOT reproduce a part whose effect is strongly on the other side', () => {
    const parts = judgeParts(wobble.map((w, i) => stats(i + 1, -1, w)), 0.05);
    expect(parts.map((p) => p.verdict)).toEqual(Array(8).fill('NOT REPRODUCED'));
  });

  it('is INCONCLUSIVE when the per-seed effects are noise around the null', () => {
    const noise = [0.9, -1.1, 0.7, -0.6, 0.2];
    const parts = judgeParts(noise.map((w, i) => stats(i + 1, 0, w)), 0.05);
    const byId = Object.fromEntries(parts.map((p) => [p.id, p.verdict]));
    for (const id of ['larger-above-one', 'larger-less-reduction', 'stale-snapshot', 'distance-grows']) {
      expect(byId[id]).toBe('INCONCLUSIVE');
    }
    // Around ln ½ for the snapshot part, and a spread too wide for the ±ln 2 equivalence.
    expect(byId['snapshot-reduction']).toBe('INCONCLUSIVE');
    expect(byId['curvature-similar']).toBe('INCONCLUSIVE');
  });
});

/** A run with R, distance and curvature given per (epoch, position) by f, over three epochs. */
type Values = { ratio: number; stale: number; distance: number; curvature: number };
function constructedRun(f: (epoch: number, p: number) => Values): VarianceRun {
  const measurements: Measurement[] = [];
  for (let epoch = 0; epoch < 3; epoch++) {
    for (const p of [0, ...POSITIONS]) {
      const v = p === 0 ? { ratio: 0, stale: Number.NaN, distance: 0, curvature: Number.NaN } : f(epoch, p);
      const staleRatio = epoch === 0 ? Number.NaN : v.stale;
      const { ratio, distance, curvature } = v;
      const position = p;
      measurements.push({ epoch, nominal: p, position, vSgd: 1, vSvrg: ratio, ratio, staleRatio, distance, curvature });
    }
  }
  return { measurements, finalLoss: 0.1, steps: 192 };
}

describe('variance-ratio preset: per-seed statistics from the measurements', () => {
  const budget = { judged: { from: 1, until: 3 }, measureEvery: 1 };
  // The first epoch, which is not judged, carries values that would flip every statistic.
  const flipped = (p: number): Values => ({ ratio: 9, stale: 0.1, distance: 1 / p, curvature: p });
  const small = constructedRun((e, p) =>
    e === 0 ? flipped(p) : { ratio: p < 0.05 ? 0.1 : 0.8, stale: 1.5, distance: 10 * p, curvature: 1 / p },
  );
  const large = constructedRun((e, p) =>
    e === 0
      ? { ...flipped(p), ratio: 0.01 }
      : { ratio: p < 0.05 ? 0.5 : p < 0.2 ? 0.7 : 2, stale: e === 1 ? 0.5 : 2, distance: 20 * p, curvature: 1 / p },
  );
  const s = seedStatistics(7, small, large, budget);

  it('reads only the judged epochs and positions 2–98 %', () => {
    expect(s.smallLnRAtFirst).toBeCloseTo(Math.log(0.1), 12);
    // R = 2 at 33–98 % (the 2 % and 11 % values do not count).
    expect(s.largeLateLnR).toBeCloseTo(Math.log(2), 12);
    expect(s.lnDistanceGrowth).toBeCloseTo(Math.log(0.98 / 0.02), 12);
    expect(s.lnDistanceLargeOverSmall).toBeCloseTo(Math.log(2), 12);
    expect(s.lnCurvatureStartOverEnd).toBeCloseTo(Math.log(0.98 / 0.02), 12);
    expect(s.lnCurvatureLargeOverSmall).toBeCloseTo(0, 12);
  });

  it('judges the stale control only on epochs whose previous snapshot is not the initialisation', () => {
    // Epoch 1's stale snapshot is epoch 0's (the initialisation, R 0.5 here); epoch 2's is R = 2.
    expect(s.largeStaleLnR).toBeCloseTo(Math.log(2), 12);
  });
});


describe('variance-ratio preset: paper size (CIFAR-10)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gradscope-vr-cifar-'));
  // 5 × 52 = 260 training images: 2 steps of batch 128 per epoch (plus a short third), and 256 for the variance.
  beforeAll(() => writeCifar(dir, 52, 12345));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('trains LeNet-5 for exactly --max-steps steps and measures at the snapshot and after it', () => {
    const run = measureRun({ role: 'small', seed: 1, size: 'paper', dataDir: dir, maxSteps: 2 });
    expect(run.steps).toBe(2);
    expect(run.measurements.length).toBeGreaterThanOrEqual(2);
    const atSnapshot = run.measurements.find((m) => m.nominal === 0)!;
    expect(Math.abs(atSnapshot.ratio)).toBeLessThanOrEqual(1e-6);
    const after = run.measurements.filter((m) => m.position > 0);
    expect(after.length).toBeGreaterThan(0);
    expect(after.every((m) => m.distance > 0 && m.vSgd > 0 && Number.isFinite(m.ratio))).toBe(true);
    // Seconds alone; minutes on a loaded machine.
  }, 300_000);

  it('declares the paper’s schedule and a ≈ 1.2 M-parameter larger model, saying what differs', async () => {
    const { resnet8 } = await import('gradscope');
    expect(resnet8({ seed: 1, width: 64, inChannels: 3 }).numParameters()).toBeGreaterThan(1_000_000);
    const pool = inlinePool();
    const map = <I, O>(task: string, inputs: readonly I[]) => pool.map<I, O>(varianceRatioPreset, task, inputs);
    // Without --data the paper size refuses before any task runs, naming what to pass.
    const paper = () => varianceRatioPreset.run({ size: 'paper', seeds: [1, 2], progress: () => {}, map });
    await expect(paper()).rejects.toThrow(MissingDataError);
    await expect(paper()).rejects.toThrow(/--data DIR/);
  });

  it('refuses one seed: every part is a test over seeds', async () => {
    const pool = inlinePool();
    const map = <I, O>(task: string, inputs: readonly I[]) => pool.map<I, O>(varianceRatioPreset, task, inputs);
    const oneSeed = varianceRatioPreset.run({ size: 'smoke', seeds: [1], progress: () => {}, map });
    await expect(oneSeed).rejects.toThrow(/at least 2 seeds/);
  });
});
