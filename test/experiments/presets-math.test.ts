import { beforeAll, describe, expect, it } from 'vitest';
import type { PresetResult } from '../../packages/lab/src/experiments/preset.js';
import { meanSquareThreshold } from '../../src/analysis/stability.js';
import { quadraticSum } from '../../src/data/synthetic.js';
import { expectWellFormed, runSmoke } from './well-formed.js';
import { quadraticSumsPreset, toStabilityProblem } from '../../packages/lab/src/experiments/presets/quadratic-sums.js';
import { diagonalGram, diagonalInit, stabilityPreset, trainDiagonal } from '../../packages/lab/src/experiments/presets/stability.js';
import { reluStabilityConfig } from '../../packages/lab/src/experiments/presets/stability-relu.js';

describe('quadratic-sums preset (Patel 2017)', () => {
  const progress: number[] = [];
  let result: PresetResult;
  beforeAll(async () => {
    result = await runSmoke(quadraticSumsPreset, [1, 2], (f) => progress.push(f));
  });

  it('returns a well-formed result with labelled plots and reports progress', () => {
    expectWellFormed(result, 'quadratic-sums');
    expect(progress.length).toBeGreaterThan(1);
    expect(progress.every((f) => f >= 0 && f <= 1)).toBe(true);
    expect(result.plots.find((p) => p.id === 'thresholds')!.xLog).toBe(true);
    // 2 problems × 4 batch sizes × 2 seeds × 2 learning rates.
    expect(result.runs.length).toBe(32);
  });

  it('the mean-square thresholds at S = n equal gradient descent 2/λ_max(A)', () => {
    expect(result.checks.thresholdAtNEqualsGD).toBe(true);
    const thresholds = result.plots.find((p) => p.id === 'thresholds')!;
    const gd = thresholds.series.find((s) => s.label.startsWith('gradient descent'))!;
    for (const label of ['heterogeneous: mean-square, without replacement', 'homogenized: mean-square, without replacement']) {
      const s = thresholds.series.find((x) => x.label === label)!;
      expect(s.x[s.x.length - 1]).toBe(24);
      expect(Math.abs(s.y[s.y.length - 1]! - gd.y[0]!) / gd.y[0]!).toBeLessThan(1e-9);
    }
  });

  it('the heterogeneous threshold is at most the homogenized one at S = 1 (same mean Hessian)', () => {
    expect(result.checks.heterogeneousAtMostHomogenizedAtS1).toBe(true);
    const het = toStabilityProblem(quadraticSum({ n: 12, d: 3, seed: 4, heterogeneity: 1 }));
    const hom = toStabilityProblem(quadraticSum({ n: 12, d: 3, seed: 4, heterogeneity: 0 }));
    const opts = { sampling: 'without-replacement' as const };
    expect(meanSquareThreshold(het, 1, opts)).toBeLessThanOrEqual(meanSquareThreshold(hom, 1, opts));
    expect(Math.abs(meanSquareThreshold(het, 12, opts) - meanSquareThreshold(hom, 12, opts))).toBeLessThan(1e-9);
  });

  it('pairs seeds across the two problems and names the divergence notion', () => {
    for (const r of result.runs) expect(r.config.divergence).toBe('mean-square');
    const het = result.runs.filter((r) => r.config.problem === 'heterogeneous').map((r) => `${r.config.S}/${r.config.seed}/${r.config.etaOverThreshold}`);
    const hom = result.runs.filter((r) => r.config.problem === 'homogenized').map((r) => `${r.config.S}/${r.config.seed}/${r.config.etaOverThreshold}`);
    expect(het).toEqual(hom);
  });
});

describe('stability preset (Wu & Su 2023)', () => {
  const seeds = [1, 2];
  let result: PresetResult;
  beforeAll(async () => {
    result = await runSmoke(stabilityPreset, seeds);
  });

  it('returns a well-formed result with labelled plots', () => {
    expectWellFormed(result, 'stability');
    for (const id of ['sharpness-vs-eta', 'generalization-vs-eta', 'relu-sharpness-vs-eta', 'relu-path-norm-vs-eta', 'relu-test-error-vs-eta', 'relu-trace-vs-path-norm']) {
      expect(result.plots.map((p) => p.id)).toContain(id);
    }
    const sharp = result.plots.find((p) => p.id === 'relu-sharpness-vs-eta')!;
    const etas = reluStabilityConfig('smoke').etas;
    expect(sharp.series.find((s) => s.label === '2/η')!.y).toEqual(etas.map((e) => 2 / e));
    expect(sharp.xLog && sharp.yLog).toBe(true);
  });

  it('the tasks give the same result as running them in this order (a task is a pure function of its input)', () => {
    const input = { size: 'smoke' as const, seed: 1, eta: reluStabilityConfig('smoke').etas[1]!, method: 'SGD' as const };
    const again = stabilityPreset.tasks!.reluRun as (i: typeof input) => { metrics: Record<string, number> };
    const run = result.runs.find((r) => r.id === `relu-SGD-eta${input.eta}-seed1`)!;
    const out = again(input);
    expect(out.metrics.traceG).toBe(run.metrics.traceG);
    expect(out.metrics.pathNorm).toBe(run.metrics.pathNorm);
  });

  it('lists every run, diverged ones with NaN metrics', () => {
    const grid = 3 * 2 * seeds.length;
    const switchRuns = result.runs.filter((r) => String(r.id).startsWith('switch-')).length;
    const reluRuns = result.runs.filter((r) => String(r.id).startsWith('relu-'));
    expect(result.runs.length - switchRuns - reluRuns.length).toBe(grid);
    expect([seeds.length, 3 * seeds.length]).toContain(switchRuns);
    // ReLU part: every seed × η × {GD, batch 1, larger batch}, each a paired start.
    const relu = reluStabilityConfig('smoke');
    expect(reluRuns.length).toBe(seeds.length * relu.etas.length * 3);
    expect(reluRuns.every((r) => r.config.part === 'relu')).toBe(true);
    expect(result.checks.reluEveryRunListed).toBe(true);
    expect(result.checks.reluPairedStartsIdentical).toBe(true);
    for (const seed of seeds) {
      const starts = new Set(reluRuns.filter((r) => r.config.seed === seed).map((r) => r.metrics.initialLoss));
      expect(starts.size).toBe(1);
    }
    expect(result.checks.everyRunListed).toBe(true);
    for (const r of result.runs) {
      if (r.diverged) expect(Number.isNaN(r.metrics.traceG)).toBe(true);
      else expect(Number.isFinite(r.metrics.traceG)).toBe(true);
    }
  });

  it('Tr G ≥ λ_max(G) and ‖G‖_F ≤ Tr G for every converged run (G is PSD)', () => {
    expect(result.checks.traceAtLeastLambdaMax).toBe(true);
    expect(result.checks.frobeniusAtMostTrace).toBe(true);
    for (const r of result.runs.filter((x) => !x.diverged)) {
      expect(r.metrics.traceG).toBeGreaterThanOrEqual(r.metrics.lambdaMaxG! * (1 - 1e-12));
      expect(r.metrics.frobeniusG).toBeLessThanOrEqual(r.metrics.traceG! * (1 + 1e-12));
      expect(r.metrics.lambdaMaxG).toBeLessThanOrEqual(r.metrics.frobeniusG! * (1 + 1e-12));
    }
  });

  it('paired seeds give identical inits; different seeds differ', () => {
    expect(result.checks.pairedInitsIdentical).toBe(true);
    const a = diagonalInit(10, 1, 3);
    const b = diagonalInit(10, 1, 3);
    const c = diagonalInit(10, 1, 4);
    expect(Array.from(a.a)).toEqual(Array.from(b.a));
    expect(Array.from(a.b)).toEqual(Array.from(b.b));
    expect(Array.from(a.a)).not.toEqual(Array.from(c.a));
  });

  it('the analytic Gram matrix matches Tr G = (1/n) Σ ‖jᵢ‖² and GD does not modify its init', () => {
    const net = { a: Float64Array.from([1, 2]), b: Float64Array.from([0.5, -1]) };
    const data = { x: Float64Array.from([1, 0, 0, 2]), y: Float64Array.from([0, 0]), n: 2, d: 2 };
    // j₁ = [b⊙x₁, a⊙x₁] = [0.5, 0, 1, 0]; j₂ = [0, −2, 0, 4]: Tr G = (1.25 + 20)/2.
    const g = diagonalGram(net, data);
    expect(g.traceG).toBeCloseTo(21.25 / 2, 12);
    expect(g.lambdaMaxG).toBeCloseTo(10, 12);
    const before = Array.from(net.a);
    trainDiagonal(net, data, { eta: 0.01, batch: 2, steps: 10, seed: 1 });
    expect(Array.from(net.a)).toEqual(before);
  });
});
