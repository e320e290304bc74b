import { beforeAll, describe, expect, it } from 'vitest';
import type { PresetResult } from '../../packages/lab/src/experiments/preset.js';
import { lrBatchRatioPreset, lrBatchVerdict } from '../../packages/lab/src/experiments/presets/lr-batch-ratio.js';
import { BUDGET, ranks, spearman } from '../../packages/lab/src/experiments/presets/lr-batch-ratio-parts.js';
import { expectWellFormed, runSmoke } from './well-formed.js';

describe('lr-batch-ratio: Spearman correlation and the verdict rule', () => {
  it('ranks average ties; ρ is ±1 for monotone pairs and matches a hand computation with ties', () => {
    expect(ranks([10, 30, 20, 20])).toEqual([1, 4, 2.5, 2.5]);
    expect(spearman([1, 2, 3, 4], [1, 8, 27, 64])).toBeCloseTo(1, 12);
    expect(spearman([1, 2, 3, 4], [5, 3, 2, -1])).toBeCloseTo(-1, 12);
    // x ranks [1, 2.5, 2.5, 4], y ranks [2, 1, 4, 3]: Pearson of the ranks = 0.5 / √(4.5 · 5) …
    const rx = [1, 2.5, 2.5, 4];
    const ry = [2, 1, 4, 3];
    const c = (r: number[]) => r.map((v) => v - 2.5);
    const expected = c(rx).reduce((s, v, i) => s + v * c(ry)[i]!, 0) / Math.sqrt(c(rx).reduce((s, v) => s + v * v, 0) * c(ry).reduce((s, v) => s + v * v, 0));
    expect(spearman([1, 2, 2, 3], [0.2, 0.1, 0.4, 0.3])).toBeCloseTo(expected, 12);
    // Non-finite pairs are dropped; too few pairs give NaN.
    expect(spearman([1, 2, NaN, 3], [1, 2, 5, 3])).toBeCloseTo(1, 12);
    expect(spearman([1, 2], [2, 1])).toBeNaN();
  });

  it('decides the verdict exactly as the declared rule says', () => {
    expect(lrBatchVerdict(-0.5, -0.9, 9)).toBe('REPRODUCED');
    expect(lrBatchVerdict(-0.4, -0.9, 9)).toBe('INCONCLUSIVE');
    expect(lrBatchVerdict(-0.9, 0.1, 9)).toBe('NOT REPRODUCED');
    expect(lrBatchVerdict(0, -0.9, 9)).toBe('NOT REPRODUCED');
    expect(lrBatchVerdict(-0.9, -0.9, 2)).toBe('INCONCLUSIVE');
    expect(lrBatchVerdict(NaN, -0.9, 9)).toBe('INCONCLUSIVE');
  });

  it('the grid diagonal has equal η/S at both sizes (the equal-ratio curves and linear scaling use it)', () => {
    for (const budget of Object.values(BUDGET)) {
      const ratios = budget.lrs.map((lr, k) => lr / budget.batches[k]!);
      for (const r of ratios) expect(r).toBeCloseTo(ratios[0]!, 12);
      expect((budget.alphas - 1) % 4).toBe(0);
      expect(budget.n % Math.max(...budget.batches)).toBe(0); // no short last batch for BatchNorm
    }
  });
});

describe('lr-batch-ratio preset (Jastrzębski et al. Fig. 1–4): smoke run', () => {
  let result: PresetResult;
  beforeAll(async () => {
    result = await runSmoke(lrBatchRatioPreset, [1]);
  }, 120_000);

  it('is well formed, lists every run and passes its mechanics checks', () => {
    expectWellFormed(result, 'lr-batch-ratio');
    const ids = result.runs.map((r) => r.id).sort();
    expect(ids).toEqual(['cyclic-batch-seed1', 'cyclic-lr-seed1', 'grid-lr0.05-S16-seed1', 'grid-lr0.05-S64-seed1', 'grid-lr0.2-S16-seed1', 'grid-lr0.2-S64-seed1', 'sqrt-lr0.1-S64-seed1']);
    for (const [name, ok] of Object.entries(result.checks)) expect(ok, name).toBe(true);
  });

  it('measures finite curvature on every grid run and applies the rule to its own numbers', () => {
    for (const run of result.runs.filter((r) => !r.diverged)) {
      expect(run.metrics.lambdaMax!).toBeGreaterThan(0);
      expect(Number.isFinite(run.metrics.trace!)).toBe(true);
      expect(run.metrics.frobenius!).toBeGreaterThan(0);
      expect(run.metrics.finalValidationAccuracy!).toBeGreaterThan(0.1); // better than chance after a few epochs
    }
    const n = result.numbers;
    expect(result.verdict).toBe(lrBatchVerdict(n['Spearman ρ(η/S, λ_max)']!, n['Spearman ρ(η/S, ‖H‖_F)']!, n['grid points in the correlation']!));
  });

  it('plots the grid against η/S on a log axis and the line over α ∈ [−0.5, 1.5]', () => {
    for (const id of ['lambda-max', 'frobenius', 'trace', 'validation-accuracy']) {
      const plot = result.plots.find((p) => p.id === id)!;
      expect(plot.xLog).toBe(true);
      expect(plot.series).toHaveLength(2); // one per batch size
    }
    const line = result.plots.find((p) => p.id === 'line')!;
    expect(line.series[0]!.x[0]).toBe(-0.5);
    expect(line.series[0]!.x.at(-1)).toBe(1.5);
    for (const id of ['equal-ratio-accuracy', 'cyclic-accuracy', 'scaling-curves', 'scaling-accuracy']) expect(result.plots.some((p) => p.id === id)).toBe(true);
  });
});
