import { beforeAll, describe, expect, it } from 'vitest';
import type { PresetResult } from '../../packages/lab/src/experiments/preset.js';
import { FACTORS, measureStreaming, METHODS, streamingSvrgPreset } from '../../packages/lab/src/experiments/presets/streaming-svrg.js';
import { convergencePreset, errorAtCost } from '../../packages/lab/src/experiments/presets/convergence.js';
import { expectWellFormed, runSmoke } from './well-formed.js';

describe('streaming-svrg preset (Defazio & Bottou Fig. 4): mechanics', () => {
  let result: PresetResult;
  beforeAll(async () => {
    result = await runSmoke(streamingSvrgPreset, [1]);
    if (process.env.GRADSCOPE_DEBUG) console.log(JSON.stringify({ verdict: result.verdict, detail: result.verdictDetail, numbers: result.numbers, checks: result.checks }, null, 1));
  }, 120_000);

  it('passes its mechanics checks (w = w̃ at the first inner step, B = factor·b, fixed inner counts, step order)', () => {
    for (const [name, ok] of Object.entries(result.checks)) expect(ok, name).toBe(true);
  });

  it('lists every method × B run with R_0 ≈ b/B and labelled log-y plots', () => {
    expectWellFormed(result, 'streaming-svrg');
    expect(result.runs).toHaveLength(METHODS.length * FACTORS.length);
    for (const run of result.runs) {
      expect(run.metrics.B).toBe((run.config.factor as number) * (run.metrics.b as number));
      // The exact finite-population value (b/B)(N − B)/(N − b), within a factor 2 of b/B.
      const { b, B, N } = run.metrics as { b: number; B: number; N: number };
      expect(run.metrics.R_0).toBeCloseTo(((b / B) * (N - B)) / (N - b), 9);
      // One step later w ≠ w̃: the measurement moves off the exact step-0 value.
      expect(run.metrics.R_1).not.toBe(run.metrics.R_0);
    }
    const main = result.plots.find((p) => p.id === 'streaming-variance')!;
    expect(main.yLog).toBe(true);
    expect(main.series.some((s) => s.label.startsWith('reference b/B'))).toBe(true);
  });

  it('is deterministic (a task rerun gives the preset’s numbers) and the estimators differ after step 0', () => {
    const again = measureStreaming({ seed: 1, method: 'streaming-svrg', factor: FACTORS[0], size: 'smoke' });
    const run = result.runs.find((r) => r.id === `streaming-svrg-B${FACTORS[0]}b-seed1`)!;
    for (let k = 0; k < 3; k++) {
      const own = again.measurements.filter((m) => m.k === k);
      expect(own.reduce((s, m) => s + m.ratio, 0) / own.length).toBe(run.metrics[`R_${k}`]);
    }
    // Same data, init and batch order; different estimators: equal R_0 (exact), different R_1.
    const other = result.runs.find((r) => r.id === `scsg-fixed10-B${FACTORS[0]}b-seed1`)!;
    expect(other.metrics.R_0).toBe(run.metrics.R_0);
    expect(other.metrics.R_1).not.toBe(run.metrics.R_1);
  }, 60_000);
});

describe('convergence preset (Defazio & Bottou Fig. 5): mechanics', () => {
  let result: PresetResult;
  beforeAll(async () => {
    result = await runSmoke(convergencePreset, [1]);
    if (process.env.GRADSCOPE_DEBUG) console.log(JSON.stringify({ verdict: result.verdict, detail: result.verdictDetail, numbers: result.numbers, checks: result.checks }, null, 1));
  }, 120_000);

  it('passes its mechanics checks (paired start, honest gradient-evaluation counts, monotone costs)', () => {
    for (const [name, ok] of Object.entries(result.checks)) expect(ok, name).toBe(true);
  });

  it('lists every method × seed run, with per-epoch and log-x per-evaluation plots', () => {
    expectWellFormed(result, 'convergence');
    expect(result.runs.map((r) => r.id).sort()).toEqual(['scsg-seed1', 'sgd-long-seed1', 'sgd-seed1', 'svrg-seed1']);
    const sgd = result.runs.find((r) => r.id === 'sgd-seed1')!;
    const svrgRun = result.runs.find((r) => r.id === 'svrg-seed1')!;
    const long = result.runs.find((r) => r.id === 'sgd-long-seed1')!;
    // SVRG's epoch costs 3N (N snapshot + 2N steps) against SGD's N; SGD-long does SVRG's work.
    expect(svrgRun.metrics.gradientEvaluations).toBe(3 * sgd.metrics.gradientEvaluations!);
    expect(long.metrics.gradientEvaluations).toBe(svrgRun.metrics.gradientEvaluations);
    // At C* = SGD's total the SGD error is its final error; the verdict's equal-work gap is SVRG − SGD-long.
    expect(sgd.metrics.testErrorAtCStar).toBe(sgd.metrics.finalTestError);
    expect(result.numbers['seed 1: SVRG − SGD-long final test error (equal work)']).toBe(svrgRun.metrics.finalTestError! - long.metrics.finalTestError!);
    const perEval = result.plots.find((p) => p.id === 'test-error-evaluations')!;
    expect(perEval.xLog).toBe(true);
    for (const s of perEval.series) expect(s.x.every((x) => x > 0)).toBe(true);
    const perRun = result.plots.find((p) => p.id === 'test-error-epoch-runs')!;
    expect(perRun.series).toHaveLength(result.runs.length);
  });

  it('errorAtCost takes the last evaluation point within the budget', () => {
    const run = { points: [{ epoch: 0, cost: 0, testError: 0.9 }, { epoch: 1, cost: 10, testError: 0.5 }, { epoch: 2, cost: 20, testError: 0.3 }], epochLoss: [], diverged: false, N: 10, b: 1, stepsPerEpoch: 10 };
    expect(errorAtCost(run, 19)).toBe(0.5);
    expect(errorAtCost(run, 20)).toBe(0.3);
    expect(errorAtCost(run, -1)).toBeNaN();
  });
});
