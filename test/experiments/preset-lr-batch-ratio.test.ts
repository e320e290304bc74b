/**
 * lr-batch-ratio (Jastrzębski et al. 2018): the declared parts judged on constructed per-seed
 * summaries (paper-like, opposite, noise), the per-seed correlation test, the budgets, a two-seed
 * smoke run with its mechanics checks, and the paper-size (CIFAR-10, VGG-11) configuration.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verdictFromParts } from '../../packages/lab/src/experiments/claims.js';
import { MAX_SERIES_PER_PLOT, type PresetResult } from '../../packages/lab/src/experiments/preset.js';
import { MissingDataError } from '../../packages/lab/src/experiments/presets/datasets.js';
import {
  ACCURACY_MARGIN, judgeParts, lrBatchRatioPreset, type SeedSummary, seedCorrelationTest, SHARPNESS_MARGIN,
} from '../../packages/lab/src/experiments/presets/lr-batch-ratio.js';
import { BUDGET, loadData, runSgd, vgg11 } from '../../packages/lab/src/experiments/presets/lr-batch-ratio-parts.js';
import { tTest } from '../../packages/lab/src/experiments/stats.js';
import { inlinePool } from '../../packages/lab/src/experiments/task-pool.js';
import { expectWellFormed, runSmoke } from './well-formed.js';
import { cifarBatch } from './fixtures/cifar.js';

const PART_IDS = [
  'flatter-lambda', 'flatter-frobenius', 'better-generalization', 'equal-ratio-accuracy', 'equal-ratio-sharpness',
  'linear-scaling', 'line-asymmetry',
];

/** Six seeds' summaries: `centre` plus a small seed-to-seed wobble (±spread), for every quantity. */
function summaries(centre: Omit<SeedSummary, 'seed'>, spread: number): SeedSummary[] {
  const wobble = [-1, 0.4, -0.3, 0.8, -0.6, 0.7];
  return wobble.map((w, i) => {
    const s: SeedSummary = { ...centre, seed: i + 1 };
    for (const key of Object.keys(centre) as (keyof Omit<SeedSummary, 'seed'>)[]) {
      s[key] = centre[key] + w * spread * Math.max(1e-3, Math.abs(centre[key]));
    }
    return s;
  });
}

const paperLike: Omit<SeedSummary, 'seed'> = {
  rhoLambda: -0.9, rhoFrobenius: -0.85, rhoAccuracy: 0.7, rhoTrace: -0.9, rhoTrainLoss: 0.1, rhoWeightNorm: 0.9,
  diagonalAccuracyDifference: 0.001, diagonalLogLambdaRatio: 0.05, scalingGapDifference: 0.02,
  midAccuracyDifference: 0, midLogLambdaRatio: 0, midScalingGapDifference: 0, lineRiseDifference: 0.5,
  cyclicAccuracyDifference: 0,
};

describe('lr-batch-ratio: the declared parts on constructed per-seed summaries', () => {
  it('reproduces every part when the seeds agree with the paper', () => {
    const parts = judgeParts(summaries(paperLike, 0.1));
    expect(parts.map((p) => p.id)).toEqual(PART_IDS);
    for (const p of parts) expect(p.verdict, `${p.id}: ${p.detail}`).toBe('REPRODUCED');
    expect(verdictFromParts(parts).verdict).toBe('REPRODUCED');
    for (const p of parts) expect(p.p).toBeLessThan(0.005);
  });

  it('is NOT REPRODUCED, part by part, when the seeds go the other way', () => {
    const opposite = summaries(
      {
        ...paperLike, rhoLambda: 0.8, rhoFrobenius: 0.8, rhoAccuracy: -0.7,
        diagonalAccuracyDifference: -0.09, diagonalLogLambdaRatio: 1.5, scalingGapDifference: -0.03,
        lineRiseDifference: -0.4,
      },
      0.1,
    );
    const parts = judgeParts(opposite);
    for (const p of parts) expect(p.verdict, `${p.id}: ${p.detail}`).toBe('NOT REPRODUCED');
    expect(verdictFromParts(parts).verdict).toBe('NOT REPRODUCED');
  });

  it('is INCONCLUSIVE on noise around zero, and an equivalence whose interval reaches past its margin', () => {
    // Symmetric around 0 with a spread far above the effect: no test rejects, no TOST shows equivalence.
    const noise = [-1, 1, -0.5, 0.5, -0.8, 0.8].map((w, i): SeedSummary => ({
      seed: i + 1, rhoLambda: 0.5 * w, rhoFrobenius: -0.5 * w, rhoAccuracy: 0.4 * w,
      rhoTrace: 0, rhoTrainLoss: 0, rhoWeightNorm: 0,
      diagonalAccuracyDifference: 3 * ACCURACY_MARGIN * w, diagonalLogLambdaRatio: 3 * SHARPNESS_MARGIN * w,
      scalingGapDifference: 0.02 * w, lineRiseDifference: 0.3 * w, cyclicAccuracyDifference: 0,
      midAccuracyDifference: 0, midLogLambdaRatio: 0, midScalingGapDifference: 0,
    }));
    const parts = judgeParts(noise);
    for (const p of parts) expect(p.verdict, `${p.id}: ${p.detail}`).toBe('INCONCLUSIVE');
    expect(verdictFromParts(parts).verdict).toBe('INCONCLUSIVE');
  });

  it('cannot judge from one seed, or from seeds whose quantity is missing (a diverged run)', () => {
    const one = judgeParts(summaries(paperLike, 0.1).slice(0, 1));
    for (const p of one) expect(p.verdict).toBe('INCONCLUSIVE');
    expect(one[0]!.test).toMatch(/needs ≥ 2 seeds, got 1/);
    const missing = summaries(paperLike, 0.1).map((s, i) => ({
      ...s,
      lineRiseDifference: i < 5 ? Number.NaN : s.lineRiseDifference,
    }));
    const line = judgeParts(missing).find((p) => p.id === 'line-asymmetry')!;
    expect(line.verdict).toBe('INCONCLUSIVE');
    expect(line.n).toBe(1);
  });

  it('combines per-seed correlations by a t-test on Fisher z, the effect back-transformed', () => {
    const rhos = [-0.9, -0.8, -0.95, -0.85];
    const z = rhos.map(Math.atanh);
    const expected = tTest(z, 0, 0.05);
    const result = seedCorrelationTest(rhos, 0.05);
    expect(result.p).toBeCloseTo(expected.p, 12);
    expect(result.effect).toBeCloseTo(Math.tanh(z.reduce((a, b) => a + b, 0) / 4), 12);
    expect(result.interval[0]).toBeCloseTo(Math.tanh(expected.interval[0]), 12);
    expect(result.interval[1]).toBeCloseTo(Math.tanh(expected.interval[1]), 12);
    expect(result.interval[0]).toBeLessThan(result.effect);
    expect(result.interval[1]).toBeGreaterThan(result.effect);
    // A seed whose ρ is ±1 stays finite (clamped), and a NaN seed (too few grid points) is left out.
    expect(Number.isFinite(seedCorrelationTest([-1, -0.9, Number.NaN]).p)).toBe(true);
    expect(seedCorrelationTest([-1, -0.9, Number.NaN]).n).toBe(2);
  });
});

describe('lr-batch-ratio: budgets', () => {
  it('every size has a grid whose diagonal has equal η/S, and whole batches for BatchNorm', () => {
    for (const budget of [BUDGET.smoke, BUDGET.full, BUDGET.paper!]) {
      const ratios = budget.lrs.map((lr, k) => lr / budget.batches[k]!);
      for (const r of ratios) expect(r).toBeCloseTo(ratios[0]!, 12);
      expect((budget.alphas - 1) % 4).toBe(0);
      expect(budget.n % Math.max(...budget.batches)).toBe(0);
      expect(budget.cyclic.low).toBeLessThan(budget.cyclic.high);
      expect(budget.lastEpochs).toBeLessThanOrEqual(budget.epochs);
    }
  });

  it('paper size is the paper’s CIFAR-10 setting: VGG-11, Fig. 3’s η and S ranges, 200 epochs, Fig. 1’s cycle', () => {
    const paper = BUDGET.paper!;
    expect(paper.data).toBe('cifar10');
    expect(paper.model).toBe('vgg11');
    expect(paper.epochs).toBe(200);
    for (const lr of paper.lrs) expect(lr >= 0.005 && lr <= 0.1).toBe(true);
    for (const S of paper.batches) expect(S >= 25 && S <= 1000).toBe(true);
    expect(paper.cyclic).toEqual({ lr: 0.005, low: 128, high: 640 });
  });
});

describe('lr-batch-ratio preset (Jastrzębski et al. Fig. 1–4): smoke run, two seeds', () => {
  let result: PresetResult;
  beforeAll(async () => {
    result = await runSmoke(lrBatchRatioPreset, [1, 2]);
  }, 240_000);

  it('is well formed, lists every run and passes its mechanics checks', () => {
    expectWellFormed(result, 'lr-batch-ratio');
    const ids = result.runs.filter((r) => r.config.seed === 1).map((r) => r.id).sort();
    expect(ids).toEqual([
      'cyclic-batch-seed1', 'cyclic-lr-seed1', 'grid-lr0.05-S16-seed1', 'grid-lr0.05-S64-seed1', 'grid-lr0.2-S16-seed1',
      'grid-lr0.2-S64-seed1', 'sqrt-lr0.1-S64-seed1',
    ]);
    for (const [name, ok] of Object.entries(result.checks)) expect(ok, name).toBe(true);
  });

  it('measures finite curvature on every grid run and judges every declared part', () => {
    for (const run of result.runs.filter((r) => !r.diverged && !String(r.config.role).startsWith('cyclic'))) {
      expect(run.metrics.lambdaMax!).toBeGreaterThan(0);
      expect(Number.isFinite(run.metrics.trace!)).toBe(true);
      expect(run.metrics.frobenius!).toBeGreaterThan(0);
      expect(run.metrics.endValidationAccuracy!).toBeGreaterThan(0.1); // better than chance after a few epochs
    }
    expect(result.claims.map((c) => c.id)).toEqual(PART_IDS);
    expect(result.verdict).toBe(verdictFromParts(result.claims).verdict);
    for (const c of result.claims) {
      expect(c.n, c.id).toBe(2);
      expect(Number.isFinite(c.p), c.id).toBe(true);
      expect(c.alpha).toBe(0.05);
    }
    expect(result.budget).toMatch(/Fashion-MNIST.*Seeds: 1, 2\./);
    expect(result.scaleDown).toMatch(/200 epochs/);
  });

  it('plots means over seeds with bands, against η/S on a log axis, and the line over α ∈ [−0.5, 1.5]', () => {
    for (const plot of result.plots) expect(plot.series.length).toBeLessThanOrEqual(MAX_SERIES_PER_PLOT);
    for (const id of ['lambda-max', 'frobenius', 'trace', 'validation-accuracy']) {
      const plot = result.plots.find((p) => p.id === id)!;
      expect(plot.xLog).toBe(true);
      expect(plot.series).toHaveLength(2); // one per batch size
      for (const s of plot.series) expect(s.band!.lower.length).toBe(s.x.length);
    }
    const line = result.plots.find((p) => p.id === 'line')!;
    expect(line.series[0]!.x[0]).toBe(-0.5);
    expect(line.series[0]!.x.at(-1)).toBe(1.5);
    for (const s of line.series) {
      for (let i = 0; i < s.x.length; i++) expect(s.band!.lower[i]!).toBeLessThanOrEqual(s.y[i]! + 1e-12);
    }
    for (const id of ['equal-ratio-accuracy', 'cyclic-accuracy', 'scaling-curves', 'scaling-accuracy']) {
      expect(result.plots.some((p) => p.id === id)).toBe(true);
    }
  });
});

// ---- paper size ------------------------------------------------------------------------------


describe('lr-batch-ratio: paper size (CIFAR-10, VGG-11)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'lr-batch-cifar-'));
    for (let b = 1; b <= 5; b++) writeFileSync(join(dir, `data_batch_${b}.bin`), cifarBatch(1, b));
    writeFileSync(join(dir, 'test_batch.bin'), cifarBatch(2, 0));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses clearly when --data is missing, before any run', async () => {
    const pool = inlinePool();
    const map = <I, O>(task: string, inputs: readonly I[]) =>
      pool.map<I, O>(lrBatchRatioPreset, task, inputs, () => {});
    const run = () =>
      Promise.resolve().then(() => lrBatchRatioPreset.run({ size: 'paper', seeds: [1], progress: () => {}, map }));
    await expect(run()).rejects.toThrow(MissingDataError);
    await expect(run()).rejects.toThrow(/--size paper of 'lr-batch-ratio' trains on CIFAR-10.*--data DIR/);
  });

  it('VGG-11 with the CIFAR-10 head has 9,231,114 parameters; the CIFAR folder gives 3×32×32 images', () => {
    const model = vgg11(1);
    const count = model.parameters().reduce((n, p) => n + p.size, 0);
    expect(count).toBe(9_231_114);
    const { validation } = loadData(BUDGET.paper!, dir);
    expect(validation.sampleShape).toEqual([3, 32, 32]);
  });

  it('trains VGG-11 on generated CIFAR-format batches for two steps with --max-steps 2', () => {
    // 5 training records: fewer than one batch of 25, so one step per epoch; the curvature (30 Hessian-vector
    // products through VGG-11) is left to the smoke run, which measures it on the MLP with the same code.
    const epochs = BUDGET.paper!.epochs;
    const lrByEpoch = Array.from({ length: epochs }, () => 0.00625);
    const batchByEpoch = Array.from({ length: epochs }, () => 25);
    const input = { size: 'paper' as const, seed: 1, lrByEpoch, batchByEpoch, dataDir: dir, maxSteps: 2 };
    const out = runSgd({ ...input, curvature: false, keepParameters: false });
    expect(out.stopped).toBe(true);
    expect(out.diverged).toBe(false);
    expect(out.steps).toBe(2);
    // Evaluated before training and after epochs 1 and 2; the epochs not run are NaN.
    expect(out.validationAccuracy.slice(0, 3).every(Number.isFinite)).toBe(true);
    expect(out.validationAccuracy.slice(3).every(Number.isNaN)).toBe(true);
    expect(Number.isFinite(out.curvatureBatchLoss)).toBe(true);
  }, 60_000);
});
