/**
 * The stability preset (Wu & Su 2023): the smoke run's mechanics, the diagonal network's and the
 * two-layer ReLU student's arithmetic (J against the engine, G against a finite-difference
 * Hessian), the claim parts' verdicts on constructed task outputs (supportive, opposite, noise,
 * divergence), and the paper-size configuration run for two steps.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { gramSpectrum, gramSpectrumOf } from '../../src/analysis/gram.js';
import { Sequential } from '../../src/nn/container.js';
import { Linear } from '../../src/nn/linear.js';
import { ReLU } from '../../src/nn/activations.js';
import { tensor } from '../../src/tensor/creation.js';
import {
  MAX_SERIES_PER_PLOT,
  type Preset,
  type PresetResult,
  type Size,
} from '../../packages/lab/src/experiments/preset.js';
import { inlinePool } from '../../packages/lab/src/experiments/task-pool.js';
import {
  diagonalBudget,
  diagonalGram,
  diagonalInit,
  diagonalRun,
  diagonalSwitch,
  stabilityPreset,
  trainDiagonal,
  type DiagonalRunInput,
  type DiagonalRunOutput,
  type DiagonalSwitchInput,
  type DiagonalSwitchOutput,
} from '../../packages/lab/src/experiments/presets/stability.js';
import { logLogSlope, logRatioTest } from '../../packages/lab/src/experiments/presets/stability-parts.js';
import {
  judgeRelu,
  pathNorm,
  reluBudget,
  reluGram,
  reluInit,
  reluInputs,
  reluJacobian,
  reluOutput,
  reluRun,
  reluSquareLoss,
  trainRelu,
  type RegressionData,
  type ReluNet,
  type ReluRunInput,
  type ReluRunOutput,
} from '../../packages/lab/src/experiments/presets/stability-relu.js';
import { expectWellFormed, runSmoke } from './well-formed.js';

const TREND_PARTS = ['diag-l1-falls', 'diag-test-error-falls', 'relu-path-norm-falls', 'relu-test-error-falls'];

const PART_IDS = [
  'diag-sgd-trace-bound',
  'diag-gd-lambda-bound',
  'diag-gd-trace-exceeds',
  'diag-l1-falls',
  'diag-test-error-falls',
  'diag-sgd-beats-gd',
  'switch-escapes',
  'switch-settles-flat',
  'switch-large-batch-stays',
  'relu-sgd-trace-bound',
  'relu-gd-lambda-bound',
  'relu-gd-trace-exceeds',
  'relu-path-norm-falls',
  'relu-test-error-falls',
  'relu-sgd-beats-gd',
];

/** Run the preset with the given task functions standing in for its own (constructed outputs). */
function runWith(
  fakes: Record<string, (input: never) => unknown>,
  seeds: readonly number[],
  size: Size = 'full',
): Promise<PresetResult> {
  const map = <I, O>(task: string, inputs: readonly I[]) =>
    Promise.resolve(inputs.map((i) => (fakes[task] as (x: I) => O)(i)));
  return Promise.resolve(stabilityPreset.run({ size, seeds, progress: () => {}, map }));
}

describe('stability preset (Wu & Su 2023): smoke run', () => {
  const seeds = [1, 2];
  let result: PresetResult;
  beforeAll(async () => {
    result = await runSmoke(stabilityPreset, seeds);
  });

  it('returns a well-formed result: fifteen judged parts, labelled plots of at most 10 series, per-seed points', () => {
    expectWellFormed(result, 'stability');
    expect(result.claims.map((c) => c.id)).toEqual(PART_IDS);
    expect(result.alpha).toBe(0.05);
    for (const c of result.claims) {
      expect(c.alpha).toBe(0.05);
      expect(c.claim.length).toBeGreaterThan(0);
      expect(c.effectLabel.length).toBeGreaterThan(0);
      expect(['REPRODUCED', 'NOT REPRODUCED', 'INCONCLUSIVE']).toContain(c.verdict);
    }
    const ids = result.plots.map((p) => p.id);
    for (const id of ['sharpness-vs-eta', 'l1-norm-vs-eta', 'test-error-vs-eta', 'switch-test', 'relu-sharpness-vs-eta',
      'relu-path-norm-vs-eta', 'relu-test-error-vs-eta', 'relu-trace-vs-path-norm']) {
      expect(ids).toContain(id);
    }
    for (const plot of result.plots) {
      expect(plot.series.length).toBeLessThanOrEqual(MAX_SERIES_PER_PLOT);
      // A series that holds one value per seed is drawn as points, never joined by a line.
      for (const s of plot.series) {
        if (s.label.includes('each seed') || s.label.includes('each run')) expect(s.style).toBe('points');
      }
      for (const s of plot.series) if (s.band) expect(s.band.lower.length).toBe(s.x.length);
    }
    const sharp = result.plots.find((p) => p.id === 'relu-sharpness-vs-eta')!;
    expect(sharp.xLog && sharp.yLog).toBe(true);
    expect(result.budget).toContain('Seeds: 1, 2.');
    expect(result.scaleDown.length).toBeGreaterThan(0);
  });

  it('lists every run, diverged ones with NaN metrics, and keeps its mechanics checks', () => {
    const diag = diagonalBudget('smoke');
    const relu = reluBudget('smoke');
    const grid = result.runs.filter((r) => r.config.phase === undefined && r.config.part === undefined);
    expect(grid.length).toBe(seeds.length * diag.etas.length * 2);
    const switchRuns = result.runs.filter((r) => String(r.id).startsWith('switch-')).length;
    expect([seeds.length, 3 * seeds.length]).toContain(switchRuns);
    const reluRuns = result.runs.filter((r) => r.config.part === 'relu');
    expect(reluRuns.length).toBe(seeds.length * (relu.sgdEtas.length + 2 * relu.gdEtas.length));
    for (const seed of seeds) {
      expect(new Set(reluRuns.filter((r) => r.config.seed === seed).map((r) => r.metrics.initialLoss)).size).toBe(1);
    }
    for (const r of result.runs) {
      if (r.diverged) expect(Number.isNaN(r.metrics.traceG)).toBe(true);
      else expect(Number.isFinite(r.metrics.traceG)).toBe(true);
    }
    expect(result.checks).toEqual({
      traceAtLeastLambdaMax: true,
      frobeniusAtMostTrace: true,
      everyRunListed: true,
      pairedInitsIdentical: true,
      divergedRunsHaveNaNMetrics: true,
      reluPairedStartsIdentical: true,
      reluEveryRunListed: true,
    });
  });

  it('Tr G ≥ λ_max(G) and ‖G‖_F ≤ Tr G for every converged run (G is PSD)', () => {
    for (const r of result.runs.filter((x) => !x.diverged)) {
      expect(r.metrics.traceG).toBeGreaterThanOrEqual(r.metrics.lambdaMaxG! * (1 - 1e-12));
      expect(r.metrics.frobeniusG).toBeLessThanOrEqual(r.metrics.traceG! * (1 + 1e-12));
      expect(r.metrics.lambdaMaxG).toBeLessThanOrEqual(r.metrics.frobeniusG! * (1 + 1e-12));
    }
  });

  it('the tasks give the same result when run again (a task is a pure function of its input)', () => {
    const eta = reluBudget('smoke').sgdEtas[1]!;
    const relu = reluRun({ size: 'smoke', seed: 1, eta, method: 'SGD' });
    const run = result.runs.find((r) => r.id === `relu-SGD-eta${eta}-seed1`)!;
    expect(relu.metrics.traceG).toBe(run.metrics.traceG);
    expect(relu.metrics.pathNorm).toBe(run.metrics.pathNorm);
    const dEta = diagonalBudget('smoke').etas[0]!;
    const diag = diagonalRun({ size: 'smoke', seed: 2, eta: dEta, method: 'SGD' });
    expect(diag.metrics.traceG).toBe(result.runs.find((r) => r.id === `SGD-eta${dEta}-seed2`)!.metrics.traceG);
  });
});

describe('diagonal linear network (stability preset)', () => {
  it('paired seeds give identical inits; different seeds differ', () => {
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

  it('GD stops once the loss is below stopLoss; a huge η diverges', () => {
    const net = { a: Float64Array.from([1, 1]), b: Float64Array.from([0.1, 0.2]) };
    const data = { x: Float64Array.from([1, 0, 0, 1]), y: Float64Array.from([0.5, -0.3]), n: 2, d: 2 };
    const full = trainDiagonal(net, data, { eta: 0.2, batch: 2, steps: 20000, seed: 1 });
    const early = trainDiagonal(net, data, { eta: 0.2, batch: 2, steps: 20000, seed: 1, stopLoss: 1e-10 });
    expect(full.steps).toBe(20000);
    expect(early.steps).toBeLessThan(20000);
    expect(early.finalLoss).toBeLessThan(1e-10);
    expect(early.diverged).toBe(false);
    const blown = trainDiagonal(net, data, { eta: 50, batch: 1, steps: 2000, seed: 1 });
    expect(blown.diverged).toBe(true);
    expect(Number.isNaN(blown.finalLoss)).toBe(true);
  });

  it('the switch task continues from GD’s minimum and flags leaving and settling from the losses', () => {
    const out = diagonalSwitch({ size: 'smoke', seed: 1 });
    const cfg = diagonalBudget('smoke');
    expect(out.gd.diverged).toBe(false);
    expect(out.continuations.map((c) => [c.label, c.batch])).toEqual([['batch1', 1], ['largeBatch', cfg.largeBatch]]);
    for (const c of out.continuations) {
      expect(c.left).toBe(c.diverged || c.metrics.maxTrainLoss! > cfg.escapeLoss);
      expect(c.settled).toBe(!c.diverged && c.metrics.trainLoss! < cfg.lossTolerance);
    }
    // The larger batch started at a GD minimum that is stable for it stays put.
    const large = out.continuations[1]!;
    expect(large.left).toBe(false);
    expect(Math.abs(large.metrics.relativeTraceChange!)).toBeLessThan(cfg.stayTolerance);
  });

  it('honours --max-steps in every task', () => {
    expect(diagonalRun({ size: 'smoke', seed: 1, eta: 0.02, method: 'SGD', maxSteps: 3 }).steps).toBe(3);
    const sw = diagonalSwitch({ size: 'smoke', seed: 1, maxSteps: 3 });
    expect(sw.gd.steps).toBe(3);
    expect(reluRun({ size: 'smoke', seed: 1, eta: 0.03, method: 'GD', maxSteps: 3 }).steps).toBe(3);
  });
});

describe('claim-part helpers', () => {
  it('logRatioTest reports the geometric mean and an interval on the ratio scale, against 1', () => {
    const r = logRatioTest([0.5, 0.6, 0.55, 0.58], 0.05);
    expect(r.effect).toBeCloseTo(Math.exp((Math.log(0.5) + Math.log(0.6) + Math.log(0.55) + Math.log(0.58)) / 4), 12);
    expect(r.nullValue).toBe(1);
    expect(r.interval[0]).toBeLessThan(r.effect);
    expect(r.interval[1]).toBeGreaterThan(r.effect);
    expect(r.p).toBeLessThan(0.001);
  });

  it('logLogSlope is the elasticity: y = c·x^k gives k', () => {
    expect(logLogSlope([0.01, 0.02, 0.04], [3, 3 * 2 ** -0.7, 3 * 4 ** -0.7])).toBeCloseTo(-0.7, 12);
    expect(Number.isNaN(logLogSlope([0.01], [1]))).toBe(true);
  });
});

/** Knobs of the constructed task outputs (see `fakes`). */
interface Scenario {
  /** SGD's Tr G·η/2 at its minima. */
  sgdRatio: number;
  /** The exponent of SGD's ℓ₁ / path norm and test error in η (negative: falls with η). */
  slope: number;
  /** Per-seed noise added to that exponent (a seed-dependent ± pattern). */
  slopeNoise?: number;
  /** What batch 1 does from GD's minimum in the switch test. */
  batch1: 'settles' | 'diverges' | 'stays';
  /** SGD (grid) diverges at every η above this. */
  sgdDivergesAbove?: number;
}

/** A deterministic per-seed jitter in [−1, 1]. */
const jitter = (seed: number, salt: number) => Math.sin(seed * 12.9898 + salt * 78.233) * 0.999;

function fakes(s: Scenario): Record<string, (input: never) => unknown> {
  const nan = Number.NaN;
  const diverged = (eta: number) => eta > (s.sgdDivergesAbove ?? Infinity);
  const slope = (seed: number) => s.slope + (s.slopeNoise ?? 0) * jitter(seed, 1);
  const diag = diagonalBudget('full');
  const gdMetrics = (eta: number, seed: number) => ({
    trainLoss: 1e-13, testError: 3 * (1 + 0.01 * jitter(seed, 2)), traceG: 97 * (1 + 0.01 * jitter(seed, 3)),
    frobeniusG: 60, lambdaMaxG: 6, twoOverEta: 2 / eta, l1Norm: 12,
  });
  const diagonalRunFake = (input: DiagonalRunInput): DiagonalRunOutput => {
    const { eta, seed } = input;
    if (input.method === 'GD') {
      return { diverged: false, steps: 100, initChecksum: seed, metrics: gdMetrics(eta, seed) };
    }
    if (diverged(eta)) {
      const metrics = {
        trainLoss: nan, testError: nan, traceG: nan, frobeniusG: nan, lambdaMaxG: nan, twoOverEta: 2 / eta, l1Norm: nan,
      };
      return { diverged: true, steps: 50, initChecksum: seed, metrics };
    }
    const trace = (s.sgdRatio * (1 + 0.02 * jitter(seed, 4)) * 2) / eta;
    const scale = (eta / 0.01) ** slope(seed);
    return {
      diverged: false, steps: diag.steps, initChecksum: seed,
      metrics: {
        trainLoss: 1e-20, testError: 2.5 * scale, traceG: trace, frobeniusG: 0.5 * trace, lambdaMaxG: 0.2 * trace,
        twoOverEta: 2 / eta, l1Norm: 11 * scale,
      },
    };
  };
  const diagonalSwitchFake = (input: DiagonalSwitchInput): DiagonalSwitchOutput => {
    const eta = diag.switchEta;
    const gd = gdMetrics(eta, input.seed);
    const at = (ratio: number) => ({ ...gd, traceG: (ratio * 2) / eta, trainLoss: 1e-25 });
    const one = { label: 'batch1' as const, batch: 1, steps: 100 };
    const diverging = {
      ...one, diverged: true, left: true, settled: false,
      metrics: {
        ...gd, trainLoss: nan, traceG: nan, lambdaMaxG: nan, frobeniusG: nan,
        maxTrainLoss: Infinity, relativeTraceChange: nan,
      },
    };
    const staying = {
      ...one, diverged: false, left: false, settled: true,
      metrics: { ...gd, maxTrainLoss: 1e-13, relativeTraceChange: 0 },
    };
    const settling = {
      ...one, diverged: false, left: true, settled: true,
      metrics: { ...at(0.45 * (1 + 0.05 * jitter(input.seed, 5))), maxTrainLoss: 10, relativeTraceChange: -0.7 },
    };
    const batch1 = s.batch1 === 'diverges' ? diverging : s.batch1 === 'stays' ? staying : settling;
    const large = {
      label: 'largeBatch' as const, batch: diag.largeBatch, steps: 100, diverged: false, left: false, settled: true,
      metrics: { ...gd, maxTrainLoss: 1e-13, relativeTraceChange: 1e-9 },
    };
    const start = { diverged: false, steps: 100, initChecksum: input.seed, metrics: gd };
    return { gd: start, continuations: [batch1, large] };
  };
  return {
    diagonalRun: diagonalRunFake,
    diagonalSwitch: diagonalSwitchFake,
    reluRun: (input: ReluRunInput) => fakeRelu(s, input),
  };
}

function fakeRelu(s: Scenario, input: ReluRunInput): ReluRunOutput {
  const cfg = reluBudget('full');
  const { eta, seed, method } = input;
  const batch = method === 'GD' ? cfg.nTrain : method === 'SGD' ? 1 : cfg.largeBatch;
  const base = { batch, diverged: false, initialLoss: 1, initChecksum: seed, steps: 100 };
  const bounds = { twoOverEta: 2 / eta, twoBOverEta: (2 * batch) / eta };
  if (method !== 'SGD') {
    const trace = 27 * (1 + 0.01 * jitter(seed, 6));
    const metrics = { trainLoss: 1e-8, testError: 0.037, traceG: trace, frobeniusG: trace / 2, lambdaMaxG: trace / 3 };
    return { ...base, metrics: { ...metrics, pathNorm: 5.3, ...bounds } };
  }
  if (eta > (s.sgdDivergesAbove ?? Infinity)) {
    const nan = Number.NaN;
    const metrics = { trainLoss: nan, testError: nan, traceG: nan, frobeniusG: nan, lambdaMaxG: nan, pathNorm: nan };
    return { ...base, diverged: true, metrics: { ...metrics, ...bounds } };
  }
  const scale = (eta / 0.03) ** (s.slope + (s.slopeNoise ?? 0) * jitter(seed, 7));
  const trace = (s.sgdRatio * (1 + 0.02 * jitter(seed, 8)) * 2) / eta;
  const metrics = { trainLoss: 1e-6, testError: 0.03 * scale, traceG: trace, frobeniusG: trace / 2 };
  return { ...base, metrics: { ...metrics, lambdaMaxG: trace / 3, pathNorm: 5 * scale, ...bounds } };
}

describe('the stability claim parts on constructed task outputs', () => {
  const seeds = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const verdicts = (r: PresetResult) => Object.fromEntries(r.claims.map((c) => [c.id, c.verdict]));

  it('supportive outputs reproduce every part, with intervals and p-values far below α', async () => {
    const r = await runWith(fakes({ sgdRatio: 0.6, slope: -0.8, batch1: 'settles' }), seeds);
    expect(r.claims.map((c) => c.id)).toEqual(PART_IDS);
    for (const c of r.claims) {
      expect(c.verdict, c.id).toBe('REPRODUCED');
      expect(c.p, c.id).toBeLessThan(0.005);
      expect(c.interval[0]).toBeLessThanOrEqual(c.interval[1]);
      expect(c.n).toBe(seeds.length);
    }
    expect(r.verdict).toBe('REPRODUCED');
  });

  it('SGD minima above 2/η and norms that grow with η are NOT REPRODUCED, and so is the preset', async () => {
    const r = await runWith(fakes({ sgdRatio: 1.5, slope: 0.8, batch1: 'settles' }), seeds);
    const v = verdicts(r);
    const against = ['diag-sgd-trace-bound', 'relu-sgd-trace-bound', ...TREND_PARTS];
    for (const id of against) {
      expect(v[id], id).toBe('NOT REPRODUCED');
    }
    expect(v['diag-gd-lambda-bound']).toBe('REPRODUCED');
    expect(r.verdict).toBe('NOT REPRODUCED');
  });

  it('slopes that are noise around zero leave the trend parts INCONCLUSIVE', async () => {
    const r = await runWith(fakes({ sgdRatio: 0.6, slope: 0, slopeNoise: 0.5, batch1: 'settles' }), seeds);
    const v = verdicts(r);
    for (const id of TREND_PARTS) expect(v[id], id).toBe('INCONCLUSIVE');
    expect(r.verdict).toBe('INCONCLUSIVE');
  });

  it('a batch-1 continuation that diverges is counted against the switch test, never for it', async () => {
    const r = await runWith(fakes({ sgdRatio: 0.6, slope: -0.8, batch1: 'diverges' }), seeds);
    const escape = r.claims.find((c) => c.id === 'switch-escapes')!;
    expect(escape.verdict).toBe('NOT REPRODUCED');
    expect(escape.effect).toBe(0);
    expect(escape.detail).toContain('10 of 10 batch-1 continuations diverged');
    const settled = r.claims.find((c) => c.id === 'switch-settles-flat')!;
    expect(settled.verdict).toBe('INCONCLUSIVE');
    expect(settled.n).toBe(0);
    expect(r.verdict).toBe('NOT REPRODUCED');
    // A batch 1 that never leaves the sharp minimum fails the escape too.
    const stays = await runWith(fakes({ sgdRatio: 0.6, slope: -0.8, batch1: 'stays' }), seeds);
    expect(verdicts(stays)['switch-escapes']).toBe('NOT REPRODUCED');
  });

  it('SGD runs that diverge give no value and are counted in the parts’ details', async () => {
    const r = await runWith(fakes({ sgdRatio: 0.6, slope: -0.8, batch1: 'settles', sgdDivergesAbove: 0.01 }), seeds);
    const l1 = r.claims.find((c) => c.id === 'diag-l1-falls')!;
    // Only η = 0.01 converges: no seed has two points, so no slope.
    expect(l1.verdict).toBe('INCONCLUSIVE');
    expect(l1.detail).toContain('diverged');
    const inputs = reluInputs('full', seeds);
    const scenario: Scenario = { sgdRatio: 0.6, slope: -0.8, batch1: 'settles', sgdDivergesAbove: 0.05 };
    const relu = judgeRelu('full', seeds, inputs, inputs.map((i) => fakeRelu(scenario, i)), 0.05);
    const path = relu.find((c) => c.id === 'relu-path-norm-falls')!;
    expect(path.verdict).toBe('REPRODUCED');
    expect(path.detail).toContain(`${2 * seeds.length} of ${5 * seeds.length} SGD runs diverged`);
    expect(relu.find((c) => c.id === 'relu-sgd-beats-gd')!.verdict).toBe('INCONCLUSIVE');
  });
});

describe('stability at paper size', () => {
  it('plans the larger configuration and runs it for two steps (no --data needed)', async () => {
    const pool = inlinePool();
    const preset: Preset = stabilityPreset;
    const map = <I, O>(task: string, inputs: readonly I[]) => pool.map<I, O>(preset, task, inputs, () => {});
    // One seed: each paper-size task builds its data and G at full scale even for two steps.
    const r = await preset.run({ size: 'paper', seeds: [1], maxSteps: 2, progress: () => {}, map });
    expect(r.size).toBe('paper');
    expect(r.budget).toContain('200 dimensions');
    expect(r.scaleDown).toContain('not available');
    for (const run of r.runs) expect(run.config.steps).toBeLessThanOrEqual(2);
    // Two steps reach no minimum: every part is untestable or undecided, never reproduced.
    expect(r.claims.every((c) => c.verdict !== 'REPRODUCED')).toBe(true);
    expect(r.verdict).not.toBe('REPRODUCED');
  }, 60000);
});

/** A tiny problem: m = 3 hidden units, d = 2, n = 4 inputs, labels from `labelNet` (interpolated by it). */
function tiny(labelNet?: ReluNet): { net: ReluNet; data: RegressionData } {
  const net = reluInit(2, 3, 1, 9);
  const x = Float64Array.from([1.0, 0.3, -0.4, 1.1, 0.7, -0.9, -1.2, -0.5]);
  const data: RegressionData = { x, y: new Float64Array(4), n: 4, d: 2 };
  for (let i = 0; i < 4; i++) data.y[i] = reluOutput(labelNet ?? net, x, i);
  return { net, data };
}

/** Flatten (W, a) to one vector and back. */
const flat = (net: ReluNet) => Float64Array.from([...net.W, ...net.a]);
const unflat = (v: Float64Array, m: number, d: number): ReluNet => ({ W: v.slice(0, m * d), a: v.slice(m * d), m, d });
describe('two-layer ReLU student (stability preset, ReLU part)', () => {
  it('J matches the engine’s per-sample gradients of Linear(d→m, no bias) → ReLU → Linear(m→1, no bias)', () => {
    const { net, data } = tiny();
    const model = new Sequential(
      new Linear(2, 3, { seed: 1, bias: false, dtype: 'float64' }),
      new ReLU(),
      new Linear(3, 1, { seed: 2, bias: false, dtype: 'float64' }),
    );
    model.assignParameters([
      tensor(net.W, { shape: [3, 2], dtype: 'float64' }),
      tensor(net.a, { shape: [1, 3], dtype: 'float64' }),
    ]);
    const x = tensor(data.x, { shape: [4, 2], dtype: 'float64' });
    const engine = gramSpectrum(model, x, { batchNorm: 'eval' });
    const J = engine.jacobian.contiguous().toTypedArray();
    const ours = reluJacobian(net, data);
    expect(J.length).toBe(ours.length);
    ours.forEach((v, k) => expect(v).toBeCloseTo(J[k]!, 12));
    const g = reluGram(net, data);
    expect(g.traceG).toBeCloseTo(engine.traceG, 12);
    expect(g.frobeniusG).toBeCloseTo(engine.frobeniusG, 12);
    expect(g.lambdaMaxG).toBeCloseTo(engine.lambdaMaxG, 12);
  });

  it('at an interpolating point G equals the finite-difference Hessian of ½·mean (f − y)²', () => {
    const { net, data } = tiny();
    expect(reluSquareLoss(net, data)).toBe(0);
    // Keep away from the ReLU kinks, where the finite difference would cross a kink.
    const pre = new Float64Array(3);
    for (let i = 0; i < 4; i++) {
      reluOutput(net, data.x, i, pre);
      for (const p of pre) expect(Math.abs(p)).toBeGreaterThan(0.05);
    }
    const theta = flat(net);
    const P = theta.length;
    const loss = (v: Float64Array) => reluSquareLoss(unflat(v, 3, 2), data);
    const h = 1e-4;
    const H = new Float64Array(P * P);
    for (let p = 0; p < P; p++) {
      for (let q = 0; q < P; q++) {
        const at = (sp: number, sq: number) => {
          const v = Float64Array.from(theta);
          v[p] += sp * h;
          v[q] += sq * h;
          return loss(v);
        };
        H[p * P + q] = (at(1, 1) - at(1, -1) - at(-1, 1) + at(-1, -1)) / (4 * h * h);
      }
    }
    const J = reluJacobian(net, data);
    for (let p = 0; p < P; p++) {
      for (let q = 0; q < P; q++) {
        let g = 0;
        for (let i = 0; i < 4; i++) g += (J[i * P + p]! * J[i * P + q]!) / 4;
        expect(H[p * P + q]).toBeCloseTo(g, 6);
      }
    }
    // Away from interpolation the Hessian differs from G (the residual term r·∇²f is not zero).
    const { data: other } = tiny(reluInit(2, 3, 1, 10));
    const lossOther = (v: Float64Array) => reluSquareLoss(unflat(v, 3, 2), other);
    const mixed = (p: number, q: number) => {
      const at = (sp: number, sq: number) => {
        const v = Float64Array.from(theta);
        v[p] += sp * h;
        v[q] += sq * h;
        return lossOther(v);
      };
      return (at(1, 1) - at(1, -1) - at(-1, 1) + at(-1, -1)) / (4 * h * h);
    };
    const Jo = reluJacobian(net, other);
    // ∂²f/∂a_j∂w_jq ≠ 0 for an active unit: pick unit 0's a and its first weight.
    let g = 0;
    for (let i = 0; i < 4; i++) g += (Jo[i * P + 6]! * Jo[i * P + 0]!) / 4;
    expect(Math.abs(mixed(6, 0) - g)).toBeGreaterThan(1e-3);
  });

  it('a full-batch step is θ − η·Jᵀr/n; training does not modify the start', () => {
    const { net: start } = tiny();
    const { data } = tiny(reluInit(2, 3, 1, 10));
    const before = flat(start);
    const eta = 0.1;
    const stepped = trainRelu(start, data, { eta, batch: 4, steps: 1, seed: 1 });
    expect(Array.from(flat(start))).toEqual(Array.from(before));
    const J = reluJacobian(start, data);
    const P = before.length;
    const expected = Float64Array.from(before);
    for (let i = 0; i < 4; i++) {
      const r = reluOutput(start, data.x, i) - data.y[i]!;
      for (let p = 0; p < P; p++) expected[p] -= (eta * r * J[i * P + p]!) / 4;
    }
    flat(stepped.net).forEach((v, p) => expect(v).toBeCloseTo(expected[p]!, 14));
    expect(stepped.initialLoss).toBe(reluSquareLoss(start, data));
  });

  it('GD stops early once the loss is below stopLoss, and reports the steps it took', () => {
    const { net } = tiny();
    const { data: other } = tiny(reluInit(2, 3, 1, 10));
    const full = trainRelu(net, other, { eta: 0.1, batch: 4, steps: 3000, seed: 1 });
    const early = trainRelu(net, other, { eta: 0.1, batch: 4, steps: 3000, seed: 1, stopLoss: full.initialLoss / 2 });
    expect(full.steps).toBe(3000);
    expect(early.steps).toBeLessThan(3000);
    expect(early.finalLoss).toBeLessThan(full.initialLoss / 2);
  });

  it('marks a blown-up run as diverged (even when NaN weights make the output 0)', () => {
    const { net } = tiny();
    const { data } = tiny(reluInit(2, 3, 1, 10));
    const r = trainRelu(net, data, { eta: 1e3, batch: 1, steps: 200, seed: 1 });
    expect(r.diverged).toBe(true);
    expect(Number.isNaN(r.finalLoss)).toBe(true);
  });

  it('the path norm is invariant under the ReLU rescaling (a_j·c, w_j/c), and so is f', () => {
    const { net, data } = tiny();
    const c = [2, 0.5, 3];
    const W = net.W.map((v, t) => v / c[Math.floor(t / 2)]!);
    const scaled: ReluNet = { ...net, W, a: net.a.map((v, j) => v * c[j]!) };
    expect(pathNorm(scaled)).toBeCloseTo(pathNorm(net), 12);
    for (let i = 0; i < 4; i++) expect(reluOutput(scaled, data.x, i)).toBeCloseTo(reluOutput(net, data.x, i), 12);
    const manual = [0, 1, 2].reduce(
      (s, j) => s + Math.abs(net.a[j]!) * Math.hypot(net.W[2 * j]!, net.W[2 * j + 1]!),
      0,
    );
    expect(pathNorm(net)).toBeCloseTo(manual, 14);
    // Tr G is not rescaling-invariant: the Gram numbers are those of the explicit J.
    const g = reluGram(scaled, data);
    const direct = gramSpectrumOf(tensor(reluJacobian(scaled, data), { shape: [4, 9], dtype: 'float64' }));
    expect(g.traceG).toBeCloseTo(direct.traceG, 12);
  });

  it('GD, batch-1 SGD and the larger batch of one seed start from the same init and loss', () => {
    const cfg = reluBudget('smoke');
    const eta = cfg.sgdEtas[0]!;
    const methods = ['GD', 'SGD', 'SGD-large-batch'] as const;
    const outs = methods.map((method) => reluRun({ size: 'smoke', seed: 3, eta, method }));
    expect(outs.map((o) => o.batch)).toEqual([cfg.nTrain, 1, cfg.largeBatch]);
    for (const o of outs) {
      expect(o.initialLoss).toBe(outs[0]!.initialLoss);
      expect(o.initChecksum).toBe(outs[0]!.initChecksum);
      expect(o.diverged).toBe(false);
      expect(o.metrics.trainLoss).toBeLessThan(o.initialLoss);
      expect(o.metrics.twoOverEta).toBe(2 / eta);
    }
    const other = reluRun({ size: 'smoke', seed: 4, eta, method: 'GD' });
    expect(other.initChecksum).not.toBe(outs[0]!.initChecksum);
  });
});
