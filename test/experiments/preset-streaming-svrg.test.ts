/**
 * streaming-svrg (Defazio & Bottou 2019, Fig. 4): the smoke-size mechanics (w = w̃ at the first inner
 * step, R_0 exactly (b/B)(N − B)/(N − b), B = factor·b, fixed inner counts, step order), the claim
 * parts' logic on constructed runs, and the paper-size configuration for two steps on generated
 * CIFAR-format files.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_SERIES_PER_PLOT, type PresetResult } from '../../packages/lab/src/experiments/preset.js';
import {
  BUDGETS,
  exactFirstStepRatio,
  FACTORS,
  FIRST_STEP_MARGIN,
  judgeStreaming,
  logRise,
  measureStreaming,
  METHODS,
  RISE_STEP,
  type StepMeasurement,
  type StreamingMethod,
  type StreamingRun,
  streamingSvrgPreset,
} from '../../packages/lab/src/experiments/presets/streaming-svrg.js';
import { expectWellFormed, runSmoke } from './well-formed.js';
import { writeCifar } from './fixtures/cifar.js';

describe('streaming-svrg preset: smoke-size mechanics', () => {
  let result: PresetResult;
  beforeAll(async () => {
    result = await runSmoke(streamingSvrgPreset, [1, 2]);
    // ≈ 7 s of CPU; the long timeout is for a loaded machine.
  }, 300_000);

  it('passes its mechanics checks (w = w̃ at step 0, B = factor·b, fixed inner counts, step order)', () => {
    for (const [name, ok] of Object.entries(result.checks)) expect(ok, name).toBe(true);
  });

  it('lists every seed × method × B run with R_0 = (b/B)(N − B)/(N − b) and R_1 off it', () => {
    expectWellFormed(result, 'streaming-svrg');
    expect(result.runs).toHaveLength(2 * METHODS.length * FACTORS.length);
    for (const run of result.runs) {
      expect(run.metrics.B).toBe((run.config.factor as number) * (run.metrics.b as number));
      const { b, B, N } = run.metrics as { b: number; B: number; N: number };
      expect(run.metrics.R_0).toBeCloseTo(((b / B) * (N - B)) / (N - b), 12);
      // One step later w ≠ w̃: the measurement moves off the exact step-0 value.
      expect(run.metrics.R_1).not.toBe(run.metrics.R_0);
    }
  });

  it('judges one first-step part and one rise part per method and B, each with an interval and a p-value', () => {
    expect(result.claims.map((c) => c.id)).toEqual([
      'first-step-b-over-B',
      ...METHODS.flatMap((m) => FACTORS.map((f) => `rise-${m}-B${f}b`)),
    ]);
    const first = result.claims[0]!;
    // The identity is exact, so TOST shows it within the margin even at smoke size.
    expect(first.verdict).toBe('REPRODUCED');
    expect(Math.abs(first.effect)).toBeLessThan(1e-12);
    for (const part of result.claims.slice(1)) {
      expect(part.n).toBe(2);
      expect(Number.isFinite(part.p)).toBe(true);
      expect(part.interval[0]).toBeLessThanOrEqual(part.effect);
      expect(part.interval[1]).toBeGreaterThanOrEqual(part.effect);
    }
    expect(streamingSvrgPreset.rule).toMatch(/t-test over seeds/);
    expect(result.budget).toMatch(/Seeds: 1, 2\./);
    expect(result.scaleDown).toMatch(/CIFAR-10/);
  });

  it('draws bands over seeds and per-seed points, at most 10 series a plot', () => {
    for (const plot of result.plots) expect(plot.series.length).toBeLessThanOrEqual(MAX_SERIES_PER_PLOT);
    const main = result.plots.find((p) => p.id === 'streaming-variance')!;
    expect(main.yLog).toBe(true);
    const banded = main.series.filter((s) => s.band !== undefined);
    expect(banded).toHaveLength(METHODS.length * FACTORS.length);
    for (const s of banded) {
      s.y.forEach((y, k) => {
        expect(s.band!.lower[k]!).toBeLessThanOrEqual(y);
        expect(s.band!.upper[k]!).toBeGreaterThanOrEqual(y);
      });
    }
    expect(main.series.some((s) => s.label.startsWith('reference b/B'))).toBe(true);
    const perSeed = result.plots.find((p) => p.id === 'rise-per-seed')!;
    const points = perSeed.series.filter((s) => s.style === 'points');
    expect(points).toHaveLength(METHODS.length);
    for (const s of points) expect(s.y).toHaveLength(2 * FACTORS.length);
  });

  it('is deterministic (a task rerun gives the preset’s numbers) and the estimators differ after step 0', () => {
    const again = measureStreaming({ seed: 1, method: 'streaming-svrg', factor: FACTORS[0], size: 'smoke' });
    const run = result.runs.find((r) => r.id === `streaming-svrg-B${FACTORS[0]}b-seed1`)!;
    for (let k = 0; k < 3; k++) {
      const own = again.measurements.filter((m) => m.k === k);
      expect(own.reduce((s, m) => s + m.ratio, 0) / own.length).toBe(run.metrics[`R_${k}`]);
    }
    expect(logRise(again)).toBe(run.metrics[`log(R_${RISE_STEP}/R_0)`]);
    // Same data, init and batch order; different estimators: the same exact R_0 (up to rounding of
    // f(N,B)·V / f(N,b)·V with each run's own V), different R_1.
    const other = result.runs.find((r) => r.id === `scsg-fixed10-B${FACTORS[0]}b-seed1`)!;
    expect(other.metrics.R_0).toBeCloseTo(run.metrics.R_0!, 14);
    expect(other.metrics.R_1).not.toBe(run.metrics.R_1);
  }, 60_000);
});

// ---- the claim parts on constructed runs ------------------------------------------------------

const N = 2048;
const b = 16;

/** A run whose mega-batches have R_0 = exact·(1 + r0Error) and R_RISE = R_0·rises[c]. */
function constructedRun(factor: number, rises: readonly number[], r0Error = 0): StreamingRun {
  const B = factor * b;
  const r0 = exactFirstStepRatio({ N, b, B }) * (1 + r0Error);
  const measurements: StepMeasurement[] = rises.flatMap((rise, cycle) =>
    Array.from({ length: RISE_STEP + 1 }, (_, k) => {
      const ratio = k === 0 ? r0 : r0 * rise ** (k / RISE_STEP);
      const step = 100 + cycle * 10 + k;
      const parts = { innerPart: 0, megaPart: ratio, crossPart: 0, vDifference: 0 };
      return { cycle, k, step, ratio, vSgd: 1, vStreaming: ratio, ...parts, distance: k };
    }),
  );
  const sizes = { N, b, B, parameters: 1, steps: 100 + 10 * rises.length };
  const cycles = { cycleLengths: rises.map(() => 10), megaBatchSizes: rises.map(() => B), firstStepMismatch: 0 };
  return { measurements, ...cycles, ...sizes, diverged: false, lastLoss: 1 };
}

/** Cells for every method and factor, seed s getting rises perSeed(s). */
function cells(perSeed: (seed: number) => number[], seeds = 6, r0Error = 0) {
  return METHODS.flatMap((method: StreamingMethod) =>
    FACTORS.map((factor) => {
      const runs = Array.from({ length: seeds }, (_, s) => constructedRun(factor, perSeed(s), r0Error));
      return { method, factor, runs };
    }),
  );
}

describe('streaming-svrg: the claim parts', () => {
  it('a strong rise on every seed is REPRODUCED, with the exact first step', () => {
    const parts = judgeStreaming(cells((s) => [3 + 0.3 * s, 4 - 0.2 * s]), 0.05);
    for (const part of parts) expect(part.verdict, part.id).toBe('REPRODUCED');
    const rise = parts.find((p) => p.id === `rise-streaming-svrg-B${FACTORS[0]}b`)!;
    expect(rise.n).toBe(6);
    expect(rise.p).toBeLessThan(0.005);
    expect(rise.effect).toBeGreaterThan(Math.log(3));
  });

  it('a fall on every seed is NOT REPRODUCED; a rise that is noise around 0 is INCONCLUSIVE', () => {
    const falling = judgeStreaming(cells((s) => [0.3 + 0.02 * s, 0.4]), 0.05);
    for (const part of falling.slice(1)) expect(part.verdict, part.id).toBe('NOT REPRODUCED');
    const noise = judgeStreaming(cells((s) => [s % 2 === 0 ? 1.5 : 1 / 1.4]), 0.05);
    for (const part of noise.slice(1)) expect(part.verdict, part.id).toBe('INCONCLUSIVE');
  });

  it('R_0 off its exact value by more than the margin is NOT REPRODUCED; by rounding, REPRODUCED', () => {
    const off = judgeStreaming(cells(() => [3], 6, 0.05), 0.05)[0]!;
    expect(off.verdict).toBe('NOT REPRODUCED');
    expect(off.effect).toBeCloseTo(0.05, 12);
    const rounding = judgeStreaming(cells(() => [3], 6, 1e-15), 0.05)[0]!;
    expect(rounding.verdict).toBe('REPRODUCED');
    expect(FIRST_STEP_MARGIN).toBeLessThan(0.07);
  });

  it('a seed whose mega-batches never reach the rise step drops out; below two seeds the part is untested', () => {
    const short = constructedRun(FACTORS[0], [3]);
    short.measurements = short.measurements.filter((m) => m.k < RISE_STEP);
    expect(logRise(short)).toBeNaN();
    const runs = [short, constructedRun(FACTORS[0], [3])];
    const parts = judgeStreaming([{ method: 'scsg-geometric', factor: FACTORS[0], runs }], 0.05);
    expect(parts[1]!.verdict).toBe('INCONCLUSIVE');
    expect(parts[1]!.test).toBe('not run');
    expect(parts[1]!.n).toBe(1);
  });
});

// ---- paper size ------------------------------------------------------------------------------


describe('streaming-svrg preset: paper size (CIFAR-10, Fig. 4)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gradscope-streaming-cifar-'));
  // 5 × 256 = 1280 training images: exactly one mega-batch of B = 10 × 128.
  beforeAll(() => writeCifar(dir, 256, 2024));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('declares Fig. 4’s setting: LeNet on CIFAR-10, b = 128, B = 10b, lr 0.1, momentum 0.9, epoch 50', () => {
    const paper = BUDGETS.paper!;
    expect(paper.data).toBe('cifar10');
    expect(paper.batch).toBe(128);
    expect(paper.factors).toEqual([10]);
    expect(paper.methods).toEqual(['streaming-svrg']);
    expect([paper.lr, paper.momentum, paper.K]).toEqual([0.1, 0.9, 10]);
    expect(paper.warmupSteps).toBe(49 * Math.ceil(50_000 / 128));
  });

  it('refuses without --data, naming the flag', async () => {
    const run = streamingSvrgPreset.run({ size: 'paper', seeds: [1], progress: () => {}, map: async () => [] });
    await expect(run).rejects.toThrow(/--data DIR/);
  });

  it('runs two steps of the paper configuration on CIFAR-format files (nothing measured yet)', async () => {
    const pool = (await import('../../packages/lab/src/experiments/task-pool.js')).inlinePool();
    const map = <I, O>(task: string, inputs: readonly I[]) => pool.map<I, O>(streamingSvrgPreset, task, inputs);
    const context = { size: 'paper' as const, seeds: [1], progress: () => {}, map, dataDir: dir, maxSteps: 2 };
    const result = await streamingSvrgPreset.run(context);
    expect(result.size).toBe('paper');
    expect(result.scaleDown).toMatch(/DenseNet/);
    expect(result.runs).toHaveLength(1);
    const run = result.runs[0]!;
    expect(run.diverged).toBe(false);
    expect(run.metrics.steps).toBe(2);
    expect([run.metrics.N, run.metrics.b, run.metrics.B]).toEqual([1280, 128, 1280]);
    // LeNet-5 for 3×32×32: 62,006 weights and biases plus 452 BatchNorm affine parameters.
    expect(run.metrics.parameters).toBe(62_458);
    expect(result.claims.every((c) => c.verdict === 'INCONCLUSIVE' && c.test === 'not run')).toBe(true);
    expect(result.verdict).toBe('INCONCLUSIVE');
  }, 120_000);
});
