/**
 * stability: Wu & Su 2023, "The implicit regularization of dynamical stability in stochastic gradient
 * descent" (docs/research.md §4). At an interpolating minimum of the square loss H = G = JᵀJ/n; GD is
 * linearly stable iff λ_max(G) ≤ 2/η, while batch-1 SGD stability forces Tr G ≤ 2/η. For a diagonal
 * linear network f(x) = ⟨a ⊙ b, x⟩, Tr G ≥ 2‖a ⊙ b‖₁·(feature scale), so stable SGD minima have
 * small ℓ₁ norm, the more so at larger η: sparse, with a smaller test error.
 *
 * The network is two parameter vectors a, b trained by plain float64 arithmetic (no autograd:
 * ∂L/∂a = b ⊙ g, ∂L/∂b = a ⊙ g with g = (1/|I|) Σ_{i∈I} rᵢ xᵢ); the per-sample output gradients
 * jᵢ = [b ⊙ xᵢ, a ⊙ xᵢ] form J, whose spectrum (Tr G, ‖G‖_F, λ_max(G)) comes from gramSpectrumOf.
 * GD and SGD runs of one seed start from the same init (paired seeds). Three experiments:
 *
 * - the grid: GD and batch-1 SGD from the init at every η of a grid below SGD's divergence edge;
 * - the switch test: GD to a minimum at an η where that minimum has Tr G > 2/η, then batch-1 SGD
 *   and a larger batch continue from it at the same η. Batch-1 SGD must leave it AND settle at a
 *   minimum with Tr G ≤ 2/η (at a larger η it only diverges, which says nothing about where it
 *   settles), while the larger batch, whose bound is about 2B/η, stays;
 * - the two-layer ReLU teacher–student (stability-relu.ts): the same claim with the path norm.
 *
 * Every claim part is a test over seeds (stability-parts.ts); a diverged run supplies no value and is
 * counted in its parts. Every independent run is a task (`diagonalRun`, `diagonalSwitch`,
 * `reluRun`), a pure function of its input (size, seed, η, method, --max-steps).
 */
import { diagonalLinear, gramSpectrumOf, tensor, uniformStream } from 'gradscope';
import { directionalPart } from '../claims.js';
import type { ClaimPart, Plot, Preset, RunRecord, Series, Size, SizeTable } from '../preset.js';
import { definePreset, defineTasks } from '../skeleton.js';
import { mean, signTest } from '../stats.js';
import { bandSeries, pairedRatioPart, ratioPart, slopePart, type SeedCurve } from './stability-parts.js';
import {
  judgeRelu,
  reluInputs,
  reluReport,
  reluRule,
  reluRun,
  RELU_BUDGETS,
  type ReluBudget,
  type ReluRunOutput,
} from './stability-relu.js';

/** The diagonal linear network's experiments at one size. */
export interface DiagonalBudget {
  nTrain: number;
  nTest: number;
  d: number;
  sparsity: number;
  dataSeed: number;
  /** Init: a = initScale·(1 + 0.1 z), b = 0.1·initScale·z' (z, z' standard normal from the seed). */
  initScale: number;
  /** The grid's η (GD and batch-1 SGD from the init); contains `compareEta`. */
  etas: number[];
  /** The η where SGD's and GD's minima from one init are compared (test error). */
  compareEta: number;
  /** Steps of every grid run and of the switch test's GD phase. */
  steps: number;
  /** GD stops once its training loss is below this (it is then at its minimum to many digits). */
  gdStopLoss: number;
  /** The switch test: η (where GD's minimum has Tr G·η/2 > 1), continuation steps, the larger batch. */
  switchEta: number;
  switchSteps: number;
  largeBatch: number;
  /** A continuation "left" the GD minimum when its training loss rose above this. */
  escapeLoss: number;
  /** The larger batch "stayed" when Tr G changed by at most this fraction (and it never left). */
  stayTolerance: number;
  /** A run is at a minimum when it did not diverge and ends with training loss below this. */
  lossTolerance: number;
}

/** The preset's budget: both networks. */
export interface StabilityBudget {
  diagonal: DiagonalBudget;
  relu: ReluBudget;
}

/**
 * Full: 40 samples in 100 dimensions from a 5-sparse ±1 teacher. The init has Tr G ≈ 97, so GD
 * barely moves from it (Tr G·η/2 ≈ 48η) while batch-1 SGD must flatten to converge; SGD converges
 * on every seed we tried up to η = 0.03 and on most at 0.035 (above it diverges), so SGD and GD are
 * compared at 0.03. At the switch η = 0.025 GD's minimum has Tr G·η/2 ≈ 1.25, and batch-1 SGD
 * started there leaves it (its loss rises to 3–8) and re-converges; at 0.03 the excursion reaches a
 * loss of 25 and occasionally diverges, and at 0.05, the old switch η, it diverged on every seed.
 */
export const DIAGONAL_BUDGETS: SizeTable<DiagonalBudget> = {
  smoke: {
    nTrain: 20, nTest: 200, d: 40, sparsity: 3, dataSeed: 5, initScale: 1, etas: [0.02, 0.04, 0.06], compareEta: 0.04,
    steps: 6000, gdStopLoss: 1e-12, switchEta: 0.06, switchSteps: 2000, largeBatch: 10, escapeLoss: 1e-2,
    stayTolerance: 0.05, lossTolerance: 1e-4,
  },
  full: {
    nTrain: 40, nTest: 1000, d: 100, sparsity: 5, dataSeed: 5, initScale: 1,
    etas: [0.01, 0.015, 0.02, 0.025, 0.03, 0.035], compareEta: 0.03, steps: 40000, gdStopLoss: 1e-12, switchEta: 0.025,
    switchSteps: 20000, largeBatch: 20, escapeLoss: 1e-2, stayTolerance: 0.05, lossTolerance: 1e-4,
  },
  paper: {
    nTrain: 100, nTest: 5000, d: 200, sparsity: 10, dataSeed: 5, initScale: 1,
    etas: [0.005, 0.0075, 0.01, 0.0125, 0.015, 0.0175], compareEta: 0.015, steps: 200000, gdStopLoss: 1e-12,
    switchEta: 0.0125,
    switchSteps: 100000, largeBatch: 50, escapeLoss: 1e-2, stayTolerance: 0.05, lossTolerance: 1e-4,
  },
};

const BUDGETS: SizeTable<StabilityBudget> = {
  smoke: { diagonal: DIAGONAL_BUDGETS.smoke, relu: RELU_BUDGETS.smoke },
  full: { diagonal: DIAGONAL_BUDGETS.full, relu: RELU_BUDGETS.full },
  paper: { diagonal: DIAGONAL_BUDGETS.paper!, relu: RELU_BUDGETS.paper! },
};

/** The diagonal budget at `size` (every size declares one). */
export function diagonalBudget(size: Size): DiagonalBudget {
  return DIAGONAL_BUDGETS[size]!;
}

function gaussian(random: () => number): number {
  const u = Math.max(random(), 1e-300);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/** The diagonal linear network's parameters. */
export interface DiagonalNet {
  a: Float64Array;
  b: Float64Array;
}

/** The seeded init (the same for every method of a seed: paired seeds). */
export function diagonalInit(d: number, scale: number, seed: number): DiagonalNet {
  const random = uniformStream(seed * 7919 + 1);
  const a = Float64Array.from({ length: d }, () => scale * (1 + 0.1 * gaussian(random)));
  const b = Float64Array.from({ length: d }, () => 0.1 * scale * gaussian(random));
  return { a, b };
}

interface Data {
  x: Float64Array;
  y: Float64Array;
  n: number;
  d: number;
}

function predict(net: DiagonalNet, data: Data, i: number): number {
  let s = 0;
  const o = i * data.d;
  for (let j = 0; j < data.d; j++) s += net.a[j]! * net.b[j]! * data.x[o + j]!;
  return s;
}

/** ½ mean (f − y)². */
export function squareLoss(net: DiagonalNet, data: Data): number {
  let s = 0;
  for (let i = 0; i < data.n; i++) s += (predict(net, data, i) - data.y[i]!) ** 2;
  return (0.5 * s) / data.n;
}

/** G = JᵀJ/n at `net` on `data`: jᵢ = [b ⊙ xᵢ, a ⊙ xᵢ]. */
export function diagonalGram(net: DiagonalNet, data: Data): { traceG: number; frobeniusG: number; lambdaMaxG: number } {
  const { n, d } = data;
  const J = new Float64Array(n * 2 * d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      J[i * 2 * d + j] = net.b[j]! * data.x[i * d + j]!;
      J[i * 2 * d + d + j] = net.a[j]! * data.x[i * d + j]!;
    }
  }
  const g = gramSpectrumOf(tensor(J, { shape: [n, 2 * d], dtype: 'float64' }));
  return { traceG: g.traceG, frobeniusG: g.frobeniusG, lambdaMaxG: g.lambdaMaxG };
}

export interface TrainResult {
  net: DiagonalNet;
  diverged: boolean;
  finalLoss: number;
  /** The largest training loss seen at a check (every 50 steps and at the end). */
  maxLoss: number;
  /** The steps taken (fewer than asked when the loss fell below `stopLoss`, or it diverged). */
  steps: number;
}

/**
 * Minibatch SGD with batch size B (B = n: full-batch GD), batches without replacement from a
 * seeded reshuffle each epoch. Diverged when the loss is not finite or exceeds 1e8 (checked every
 * 50 steps and at the end). With `stopLoss` the run stops at the first check whose loss is below it
 * (GD only: a batch-1 run at a minimum it cannot stay at has a tiny loss before the instability
 * shows). `start` is not modified.
 */
export function trainDiagonal(
  start: DiagonalNet,
  data: Data,
  options: { eta: number; batch: number; steps: number; seed: number; stopLoss?: number },
): TrainResult {
  const { n, d } = data;
  const a = Float64Array.from(start.a);
  const b = Float64Array.from(start.b);
  const net = { a, b };
  const random = uniformStream(options.seed * 104729 + 3);
  const order = Array.from({ length: n }, (_, i) => i);
  let cursor = n;
  const g = new Float64Array(d);
  let maxLoss = squareLoss(net, data);
  const B = Math.min(options.batch, n);
  for (let step = 0; step < options.steps; step++) {
    g.fill(0);
    for (let k = 0; k < B; k++) {
      if (cursor >= n) {
        for (let i = n - 1; i > 0; i--) {
          const j = Math.floor(random() * (i + 1));
          [order[i], order[j]] = [order[j]!, order[i]!];
        }
        cursor = 0;
      }
      const i = B === n ? k : order[cursor++]!;
      const r = predict(net, data, i) - data.y[i]!;
      for (let j = 0; j < d; j++) g[j] += (r * data.x[i * d + j]!) / B;
    }
    for (let j = 0; j < d; j++) {
      const aj = a[j]!;
      a[j] = aj - options.eta * b[j]! * g[j]!;
      b[j] = b[j]! - options.eta * aj * g[j]!;
    }
    if (step % 50 === 49 || step === options.steps - 1) {
      const loss = squareLoss(net, data);
      if (!Number.isFinite(loss) || loss > 1e8) {
        return { net, diverged: true, finalLoss: NaN, maxLoss: Infinity, steps: step + 1 };
      }
      maxLoss = Math.max(maxLoss, loss);
      if (options.stopLoss !== undefined && loss < options.stopLoss) {
        return { net, diverged: false, finalLoss: loss, maxLoss, steps: step + 1 };
      }
    }
  }
  return { net, diverged: false, finalLoss: squareLoss(net, data), maxLoss, steps: options.steps };
}

function l1Product(net: DiagonalNet): number {
  let s = 0;
  for (let j = 0; j < net.a.length; j++) s += Math.abs(net.a[j]! * net.b[j]!);
  return s;
}

/** The seeded train/test split of one sparse teacher, its ℓ₁ norm and the test labels' variance. */
function splitData(cfg: DiagonalBudget): { train: Data; test: Data; teacherL1: number; testLabelVariance: number } {
  const all = diagonalLinear({ n: cfg.nTrain + cfg.nTest, d: cfg.d, sparsity: cfg.sparsity, seed: cfg.dataSeed });
  const d = cfg.d;
  const train = { x: all.features.slice(0, cfg.nTrain * d), y: all.targets.slice(0, cfg.nTrain), n: cfg.nTrain, d };
  const test = { x: all.features.slice(cfg.nTrain * d), y: all.targets.slice(cfg.nTrain), n: cfg.nTest, d };
  let teacherL1 = 0;
  for (const w of all.teacher.w!) teacherL1 += Math.abs(w);
  const labelMean = mean(Array.from(test.y));
  const testLabelVariance = mean(Array.from(test.y, (v) => (v - labelMean) ** 2));
  return { train, test, teacherL1, testLabelVariance };
}

function runMetrics(result: TrainResult, train: Data, test: Data, eta: number): Record<string, number> {
  const twoOverEta = 2 / eta;
  if (result.diverged) {
    const nan = Number.NaN;
    return { trainLoss: nan, testError: nan, traceG: nan, frobeniusG: nan, lambdaMaxG: nan, twoOverEta, l1Norm: nan };
  }
  const g = diagonalGram(result.net, train);
  return {
    trainLoss: result.finalLoss,
    testError: 2 * squareLoss(result.net, test),
    traceG: g.traceG,
    frobeniusG: g.frobeniusG,
    lambdaMaxG: g.lambdaMaxG,
    twoOverEta,
    l1Norm: l1Product(result.net),
  };
}

/** Σ of the init's parameters: equal across the runs of a seed exactly when their inits are. */
function initChecksum(net: DiagonalNet): number {
  let s = 0;
  for (const v of net.a) s += v;
  for (const v of net.b) s += v;
  return s;
}

/** One grid point of the diagonal part (the input of the `diagonalRun` task). */
export interface DiagonalRunInput {
  size: Size;
  seed: number;
  eta: number;
  method: 'GD' | 'SGD';
  /** `--max-steps`: every run stops after this many steps. */
  maxSteps?: number;
}

export interface DiagonalRunOutput {
  diverged: boolean;
  steps: number;
  initChecksum: number;
  metrics: Record<string, number>;
}

/** The `diagonalRun` task: GD (batch n) or batch-1 SGD at one η from the seed's init. */
export function diagonalRun(input: DiagonalRunInput): DiagonalRunOutput {
  const cfg = diagonalBudget(input.size);
  const { train, test } = splitData(cfg);
  const init = diagonalInit(cfg.d, cfg.initScale, input.seed);
  const gd = input.method === 'GD';
  const steps = Math.min(cfg.steps, input.maxSteps ?? Infinity);
  const result = trainDiagonal(init, train, {
    eta: input.eta,
    batch: gd ? cfg.nTrain : 1,
    steps,
    seed: input.seed,
    ...(gd ? { stopLoss: cfg.gdStopLoss } : {}),
  });
  const metrics = runMetrics(result, train, test, input.eta);
  return { diverged: result.diverged, steps: result.steps, initChecksum: initChecksum(init), metrics };
}

/** One continuation of the switch test from GD's minimum. */
export interface SwitchContinuation {
  label: 'batch1' | 'largeBatch';
  batch: number;
  diverged: boolean;
  /** The training loss rose above `escapeLoss` at some check: the run left the GD minimum. */
  left: boolean;
  /** Not diverged and the final training loss is below `lossTolerance`: it is at a minimum again. */
  settled: boolean;
  steps: number;
  metrics: Record<string, number>;
}

export interface DiagonalSwitchInput {
  size: Size;
  seed: number;
  maxSteps?: number;
}

export interface DiagonalSwitchOutput {
  gd: DiagonalRunOutput;
  /** Empty when the GD run diverged. */
  continuations: SwitchContinuation[];
}

/**
 * The `diagonalSwitch` task: GD to a minimum at switchEta, then continue from it with batch 1 and
 * with the larger batch (same η, shuffles seeded by seed + 100).
 */
export function diagonalSwitch(input: DiagonalSwitchInput): DiagonalSwitchOutput {
  const cfg = diagonalBudget(input.size);
  const { train, test } = splitData(cfg);
  const { seed } = input;
  const eta = cfg.switchEta;
  const cap = input.maxSteps ?? Infinity;
  const init = diagonalInit(cfg.d, cfg.initScale, seed);
  const steps = Math.min(cfg.steps, cap);
  const start = trainDiagonal(init, train, { eta, batch: cfg.nTrain, steps, seed, stopLoss: cfg.gdStopLoss });
  const startMetrics = runMetrics(start, train, test, eta);
  const gd = { diverged: start.diverged, steps: start.steps, initChecksum: initChecksum(init), metrics: startMetrics };
  if (start.diverged) return { gd, continuations: [] };
  const switchSteps = Math.min(cfg.switchSteps, cap);
  const continuations = ([['batch1', 1], ['largeBatch', cfg.largeBatch]] as const).map(([label, batch]) => {
    const cont = trainDiagonal(start.net, train, { eta, batch, steps: switchSteps, seed: seed + 100 });
    const metrics = runMetrics(cont, train, test, eta);
    const relativeTraceChange = cont.diverged ? NaN : (metrics.traceG! - startMetrics.traceG!) / startMetrics.traceG!;
    return {
      label,
      batch,
      diverged: cont.diverged,
      left: cont.diverged || cont.maxLoss > cfg.escapeLoss,
      settled: !cont.diverged && cont.finalLoss < cfg.lossTolerance,
      steps: cont.steps,
      metrics: { ...metrics, maxTrainLoss: cont.maxLoss, relativeTraceChange },
    };
  });
  return { gd, continuations };
}

const tasks = defineTasks({ diagonalRun, diagonalSwitch, reluRun });

/** Everything the tasks returned, with their inputs. */
interface Measured {
  grid: DiagonalRunInput[];
  gridOut: DiagonalRunOutput[];
  switches: DiagonalSwitchInput[];
  switchOut: DiagonalSwitchOutput[];
  relu: ReturnType<typeof reluInputs>;
  reluOut: ReluRunOutput[];
}

const atMinimum = (out: DiagonalRunOutput | SwitchContinuation, cfg: DiagonalBudget) =>
  !out.diverged && out.metrics.trainLoss! < cfg.lossTolerance;

function diagonalRule(cfg: DiagonalBudget): string {
  const B = cfg.largeBatch;
  return (
    'Diagonal linear network (a run is at a minimum when it did not diverge and ends with training loss < ' +
    `${cfg.lossTolerance}; other runs give no value and are counted): (D1) batch-1 SGD obeys Tr G ≤ 2/η — per seed ` +
    'the largest Tr G·η/2 over its grid minima, t-test of ln(ratio) over seeds, claimed < 0; (D2) GD obeys ' +
    'λ_max(G) ≤ 2/η — the same over its grid minima, claimed < 0; (D3) GD is not held to the trace bound — per seed ' +
    `Tr G·η/2 of GD's minimum at η = ${cfg.etas[cfg.etas.length - 1]}, claimed > 1; (D4) SGD's ‖a ⊙ b‖₁ falls ` +
    'with η — per seed the slope of ln ‖a ⊙ b‖₁ on ln η over its minima, t-test of the slopes, claimed < 0; ' +
    `(D5) SGD's test error falls with η — the same on ln(test MSE); (D6) SGD generalizes better than GD — per ` +
    `seed ln(test MSE SGD / GD) at η = ${cfg.compareEta} from the same init, t-test, claimed < 0. Switch test, ` +
    `from GD's minimum at η = ${cfg.switchEta}: (S1) batch-1 SGD escapes and re-converges — a seed succeeds ` +
    `when GD's minimum has Tr G·η/2 > 1, batch 1 raises the training loss above ${cfg.escapeLoss} and ends at a ` +
    'minimum again (diverging is a failure), exact sign test over seeds, claimed share > 1/2; (S2) where it ' +
    're-converges it settles under the SGD bound — Tr G·η/2 of the new minimum, t-test of ln(ratio), claimed ' +
    `< 0; (S3) batch ${B} stays — a seed succeeds when batch ${B} never raises the loss above ${cfg.escapeLoss}, ` +
    `ends at a minimum and changes Tr G by at most ${cfg.stayTolerance * 100} %, exact sign test, claimed share ` +
    '> 1/2.'
  );
}

/** The diagonal network's claim parts (D1–D6, S1–S3 of `diagonalRule`). */
function judgeDiagonal(m: Measured, size: Size, seeds: readonly number[], alpha: number): ClaimPart[] {
  const cfg = diagonalBudget(size);
  const cells = m.grid.map((input, k) => ({ input, output: m.gridOut[k]! }));
  type Cell = (typeof cells)[number];
  const minima = (seed: number, method: 'GD' | 'SGD') =>
    cells.filter((c) => c.input.seed === seed && c.input.method === method && atMinimum(c.output, cfg));
  const ratio = (c: Cell, key: 'traceG' | 'lambdaMaxG') => (c.output.metrics[key]! * c.input.eta) / 2;
  const largest = (values: number[]) => (values.length === 0 ? undefined : Math.max(...values));
  const lost = (method: 'GD' | 'SGD') => {
    const own = cells.filter((c) => c.input.method === method);
    const diverged = own.filter((c) => c.output.diverged).length;
    const short = own.filter((c) => !c.output.diverged && !atMinimum(c.output, cfg)).length;
    const parts = [
      diverged > 0 ? `${diverged} of ${own.length} ${method} grid runs diverged` : '',
      short > 0 ? `${short} ended with training loss ≥ ${cfg.lossTolerance}` : '',
    ].filter((s) => s !== '');
    return parts.length === 0 ? '' : `${parts.join('; ')} (no value from those).`;
  };
  const curve = (seed: number, key: string): SeedCurve => {
    const own = minima(seed, 'SGD');
    return { eta: own.map((c) => c.input.eta), value: own.map((c) => c.output.metrics[key]!) };
  };
  const at = (seed: number, method: 'GD' | 'SGD', eta: number) => minima(seed, method).find((c) => c.input.eta === eta);
  const eta = cfg.switchEta;
  const gdTop = cfg.etas[cfg.etas.length - 1]!;
  const compare = cfg.compareEta;
  const gdStart = (s: number) => m.switchOut[s]!.gd;
  const cont = (s: number, label: SwitchContinuation['label']) =>
    m.switchOut[s]!.continuations.find((c) => c.label === label);
  const sharpStart = (s: number) => atMinimum(gdStart(s), cfg) && (gdStart(s).metrics.traceG! * eta) / 2 > 1;
  const escaped = seeds.map((_, s) => {
    const c = cont(s, 'batch1');
    return sharpStart(s) && c !== undefined && c.left && c.settled;
  });
  const stayed = seeds.map((_, s) => {
    const c = cont(s, 'largeBatch');
    const small = c !== undefined && Math.abs(c.metrics.relativeTraceChange!) <= cfg.stayTolerance;
    return atMinimum(gdStart(s), cfg) && c !== undefined && !c.left && c.settled && small;
  });
  const batch1Diverged = seeds.filter((_, s) => cont(s, 'batch1')?.diverged === true).length;
  const notSharp = seeds.filter((_, s) => !sharpStart(s)).length;
  const switchNote =
    `${batch1Diverged} of ${seeds.length} batch-1 continuations diverged (counted as failures)` +
    (notSharp > 0 ? `; on ${notSharp} seed(s) GD's start was not a minimum with Tr G·η/2 > 1 (failures).` : '.');
  const count = (flags: boolean[]) => flags.filter(Boolean).length;
  const withNote = (part: ClaimPart, note: string) => ({ ...part, detail: `${part.detail} ${note}` });
  return [
    ratioPart(
      { id: 'diag-sgd-trace-bound', claim: 'Diagonal: batch-1 SGD\'s minima obey Tr G ≤ 2/η.',
        effectLabel: 'geometric mean over seeds of max over η of Tr G·η/2 (SGD; 1 = on the bound)' },
      seeds.map((s) => largest(minima(s, 'SGD').map((c) => ratio(c, 'traceG')))),
      'less', alpha, lost('SGD'),
    ),
    ratioPart(
      { id: 'diag-gd-lambda-bound', claim: 'Diagonal: GD\'s minima obey λ_max(G) ≤ 2/η.',
        effectLabel: 'geometric mean over seeds of max over η of λ_max(G)·η/2 (GD; 1 = on the bound)' },
      seeds.map((s) => largest(minima(s, 'GD').map((c) => ratio(c, 'lambdaMaxG')))),
      'less', alpha, lost('GD'),
    ),
    ratioPart(
      { id: 'diag-gd-trace-exceeds',
        claim: `Diagonal: GD's minimum at η = ${gdTop} has Tr G > 2/η (only λ_max binds GD).`,
        effectLabel: `geometric mean over seeds of Tr G·η/2 of GD at η = ${gdTop} (1 = the SGD bound)` },
      seeds.map((s) => {
        const c = at(s, 'GD', gdTop);
        return c === undefined ? undefined : ratio(c, 'traceG');
      }),
      'greater', alpha, lost('GD'),
    ),
    slopePart(
      { id: 'diag-l1-falls', claim: 'Diagonal: a larger η leaves batch-1 SGD at a smaller ‖a ⊙ b‖₁.',
        effectLabel: 'mean over seeds of the slope d ln‖a ⊙ b‖₁/d ln η (SGD)' },
      seeds.map((s) => curve(s, 'l1Norm')), alpha, lost('SGD'),
    ),
    slopePart(
      { id: 'diag-test-error-falls', claim: 'Diagonal: a larger η gives batch-1 SGD a smaller test error.',
        effectLabel: 'mean over seeds of the slope d ln(test MSE)/d ln η (SGD)' },
      seeds.map((s) => curve(s, 'testError')), alpha, lost('SGD'),
    ),
    pairedRatioPart(
      { id: 'diag-sgd-beats-gd', claim: `Diagonal: at η = ${compare}, SGD's minimum generalizes better than GD's.`,
        effectLabel: `geometric mean over seeds of test MSE SGD / GD at η = ${compare} (same init)` },
      seeds.map((s) => ({
        a: at(s, 'SGD', compare)?.output.metrics.testError,
        b: at(s, 'GD', compare)?.output.metrics.testError,
      })),
      alpha, [lost('SGD'), lost('GD')].filter((x) => x !== '').join(' '),
    ),
    withNote(
      directionalPart(
        { id: 'switch-escapes',
          claim: `Switch test: from GD's minimum with Tr G > 2/η (η = ${eta}), batch-1 SGD escapes and re-converges.`,
          effectLabel: 'share of seeds where batch 1 left the GD minimum and settled at a minimum again' },
        signTest(count(escaped), seeds.length, alpha), 'greater', alpha,
      ),
      switchNote,
    ),
    ratioPart(
      { id: 'switch-settles-flat',
        claim: 'Switch test: where batch-1 SGD re-converges, its new minimum obeys Tr G ≤ 2/η.',
        effectLabel: `geometric mean over seeds of Tr G·η/2 of the re-converged minimum (η = ${eta})` },
      seeds.map((_, s) => {
        const c = cont(s, 'batch1');
        return c !== undefined && c.settled ? (c.metrics.traceG! * eta) / 2 : undefined;
      }),
      'less', alpha, switchNote,
    ),
    directionalPart(
      { id: 'switch-large-batch-stays', claim: `Switch test: batch ${cfg.largeBatch} stays at GD's minimum.`,
        effectLabel: `share of seeds where batch ${cfg.largeBatch} stayed (|ΔTr G| ≤ ${cfg.stayTolerance * 100} %)` },
      signTest(count(stayed), seeds.length, alpha), 'greater', alpha,
    ),
  ];
}

function describeBudget(b: StabilityBudget): string {
  const g = b.diagonal;
  const r = b.relu;
  return (
    `Diagonal linear network on ${g.nTrain} samples in ${g.d} dimensions from a ${g.sparsity}-sparse teacher (test ` +
    `${g.nTest}): GD and batch-1 SGD at η ∈ {${g.etas.join(', ')}}, ${g.steps} steps (GD stops at loss ` +
    `${g.gdStopLoss}); switch test at η = ${g.switchEta}, ${g.switchSteps} steps of batch 1 and batch ` +
    `${g.largeBatch}. Two-layer ReLU student of width ${r.width} on ${r.nTrain} points in ${r.d} dimensions from a ` +
    `${r.teacherHidden}-unit teacher (test ${r.nTest}): batch-1 SGD at η ∈ {${r.sgdEtas.join(', ')}}, GD and batch ` +
    `${r.largeBatch} at η ∈ {${r.gdEtas.join(', ')}}, ${r.steps} steps (GD stops at loss ${r.gdStopLoss}). Float64, ` +
    'hand-written gradients.'
  );
}

function scaleDown(size: Size): string {
  const unknown =
    'Wu & Su’s exact sample sizes, dimensions, widths and η grids were not available to us (only the abstract), so ' +
    'the configuration is our own';
  if (size === 'paper') return `${unknown}: a larger version of the full-size experiment (more samples, dimensions).`;
  const what =
    size === 'smoke'
      ? 'a smoke-test miniature'
      : '40 samples in 100 dimensions (diagonal network), 64 points in 8 dimensions at width 48 (ReLU student)';
  return `${unknown}, small enough for seconds per run: ${what}, with η grids below batch-1 SGD’s divergence edge.`;
}

/** The diagonal part's plots, run records, numbers and checks. */
function diagonalReport(m: Measured, size: Size, seeds: readonly number[], alpha: number) {
  const cfg = diagonalBudget(size);
  const { teacherL1, testLabelVariance } = splitData(cfg);
  const runs: RunRecord[] = [];
  m.grid.forEach((input, k) => {
    const out = m.gridOut[k]!;
    const batch = input.method === 'GD' ? cfg.nTrain : 1;
    runs.push({
      id: `${input.method}-eta${input.eta}-seed${input.seed}`,
      config: { method: input.method, eta: input.eta, batch, seed: input.seed, steps: out.steps },
      diverged: out.diverged,
      metrics: out.metrics,
    });
  });
  const eta = cfg.switchEta;
  seeds.forEach((seed, s) => {
    const { gd, continuations } = m.switchOut[s]!;
    runs.push({
      id: `switch-GD-eta${eta}-seed${seed}`,
      config: { method: 'GD', phase: 'switch-start', eta, batch: cfg.nTrain, seed, steps: gd.steps },
      diverged: gd.diverged,
      metrics: gd.metrics,
    });
    for (const c of continuations) {
      runs.push({
        id: `switch-${c.label}-eta${eta}-seed${seed}`,
        config: {
          method: c.label === 'batch1' ? 'SGD' : 'SGD-large-batch',
          phase: 'switch-continue',
          eta,
          batch: c.batch,
          seed,
          steps: c.steps,
        },
        diverged: c.diverged,
        metrics: { ...c.metrics, left: c.left ? 1 : 0, settled: c.settled ? 1 : 0 },
      });
    }
  });
  const cells = m.grid.map((input, k) => ({ input, output: m.gridOut[k]! }));
  const valuesAt = (method: 'GD' | 'SGD', key: string) =>
    cfg.etas.map((e) =>
      cells
        .filter((c) => c.input.method === method && c.input.eta === e && atMinimum(c.output, cfg))
        .map((c) => c.output.metrics[key]!),
    );
  const band = (method: 'GD' | 'SGD', key: string, what: string) =>
    bandSeries(`${method}: ${what}`, cfg.etas, valuesAt(method, key), alpha, 'log');
  const points = (method: 'GD' | 'SGD', key: string, what: string): Series => {
    const own = cells.filter((c) => c.input.method === method && atMinimum(c.output, cfg));
    const y = own.map((c) => c.output.metrics[key]!);
    return { label: `${method}: ${what}, each seed`, x: own.map((c) => c.input.eta), y, style: 'points' };
  };
  type Pick = (o: DiagonalSwitchOutput) => DiagonalRunOutput | SwitchContinuation | undefined;
  const switchPoints = (label: string, pick: Pick): Series => {
    const xs: number[] = [];
    const ys: number[] = [];
    seeds.forEach((seed, s) => {
      const o = pick(m.switchOut[s]!);
      xs.push(seed);
      ys.push(o !== undefined && atMinimum(o, cfg) ? (o.metrics.traceG! * eta) / 2 : Number.NaN);
    });
    return { label, x: xs, y: ys, style: 'points' };
  };
  const plots: Plot[] = [
    {
      id: 'sharpness-vs-eta',
      title: 'Diagonal linear network: sharpness of the final minima against 2/η (geometric mean, 95 % band)',
      xLabel: 'learning rate η',
      yLabel: 'Tr G, λ_max(G)',
      xLog: true,
      yLog: true,
      series: [
        { label: '2/η', x: [...cfg.etas], y: cfg.etas.map((e) => 2 / e) },
        band('SGD', 'traceG', 'Tr G'),
        points('SGD', 'traceG', 'Tr G'),
        band('SGD', 'lambdaMaxG', 'λ_max(G)'),
        band('GD', 'traceG', 'Tr G'),
        band('GD', 'lambdaMaxG', 'λ_max(G)'),
      ],
    },
    {
      id: 'l1-norm-vs-eta',
      title: 'Diagonal linear network: ‖a ⊙ b‖₁ of the final minima against η (geometric mean, 95 % band)',
      xLabel: 'learning rate η',
      yLabel: '‖a ⊙ b‖₁',
      xLog: true,
      series: [
        band('SGD', 'l1Norm', '‖a ⊙ b‖₁'),
        points('SGD', 'l1Norm', '‖a ⊙ b‖₁'),
        band('GD', 'l1Norm', '‖a ⊙ b‖₁'),
        { label: 'teacher ‖w*‖₁', x: [...cfg.etas], y: cfg.etas.map(() => teacherL1) },
      ],
    },
    {
      id: 'test-error-vs-eta',
      title: 'Diagonal linear network: test mean squared error against η (geometric mean, 95 % band over seeds)',
      xLabel: 'learning rate η',
      yLabel: 'test MSE',
      xLog: true,
      yLog: true,
      series: [
        band('SGD', 'testError', 'test MSE'),
        points('SGD', 'testError', 'test MSE'),
        band('GD', 'testError', 'test MSE'),
        { label: 'predict 0 (label variance)', x: [...cfg.etas], y: cfg.etas.map(() => testLabelVariance) },
      ],
    },
    {
      id: 'switch-test',
      title: `Switch test at η = ${eta}: Tr G·η/2 of GD's minimum and of where each continuation ended (each seed)`,
      xLabel: 'seed',
      yLabel: 'Tr G·η/2 (1 = the batch-1 bound; missing = diverged or not at a minimum)',
      series: [
        { label: 'batch-1 bound', x: [...seeds], y: seeds.map(() => 1) },
        switchPoints('GD minimum (start)', (o) => o.gd),
        switchPoints('after batch 1', (o) => o.continuations.find((c) => c.label === 'batch1')),
        switchPoints(`after batch ${cfg.largeBatch}`, (o) => o.continuations.find((c) => c.label === 'largeBatch')),
      ],
    },
  ];
  const numbers: Record<string, number> = {
    nTrain: cfg.nTrain, d: cfg.d, sparsity: cfg.sparsity, teacherL1, testLabelVariance,
  };
  for (const method of ['GD', 'SGD'] as const) {
    numbers[`${method}.grid.diverged`] = cells.filter((c) => c.input.method === method && c.output.diverged).length;
  }
  for (const label of ['batch1', 'largeBatch'] as const) {
    const own = m.switchOut.map((o) => o.continuations.find((c) => c.label === label));
    numbers[`switch.${label}.diverged`] = own.filter((c) => c?.diverged === true).length;
    numbers[`switch.${label}.left`] = own.filter((c) => c?.left === true).length;
    numbers[`switch.${label}.settled`] = own.filter((c) => c?.settled === true).length;
  }
  const converged = runs.filter((r) => !r.diverged);
  const switchRuns = m.switchOut.reduce((s, o) => s + 1 + o.continuations.length, 0);
  const pairedInits = seeds.every((seed, s) => {
    const own = cells.filter((c) => c.input.seed === seed).map((c) => c.output.initChecksum);
    return own.every((v) => v === m.switchOut[s]!.gd.initChecksum);
  });
  const checks = {
    traceAtLeastLambdaMax: converged.every((r) => r.metrics.traceG! >= r.metrics.lambdaMaxG! * (1 - 1e-12)),
    frobeniusAtMostTrace: converged.every((r) => r.metrics.frobeniusG! <= r.metrics.traceG! * (1 + 1e-12)),
    everyRunListed: runs.length === seeds.length * cfg.etas.length * 2 + switchRuns,
    pairedInitsIdentical: pairedInits,
    divergedRunsHaveNaNMetrics: runs.filter((r) => r.diverged).every((r) => Number.isNaN(r.metrics.traceG)),
  };
  return { runs, plots, numbers, checks };
}

export const stabilityPreset: Preset = definePreset<StabilityBudget, Measured>({
  name: 'stability',
  paper:
    'Wu & Su 2023, "The implicit regularization of dynamical stability in stochastic gradient descent" (diagonal ' +
    'linear network, switch test, two-layer ReLU teacher–student)',
  claim:
    'At an interpolating minimum of the square loss, GD only needs λ_max(G) ≤ 2/η while batch-1 SGD needs ' +
    'Tr G ≤ 2/η, so SGD minima have a small trace — a small ‖a ⊙ b‖₁ for a diagonal linear network, a small path ' +
    'norm for a two-layer ReLU network — and generalize better, the more so at a larger η; from a GD minimum with ' +
    'Tr G > 2/η, batch-1 SGD escapes to a flatter minimum while a large batch stays.',
  rule:
    `Fifteen parts, each a two-sided test over seeds at α = 0.05 (REPRODUCED when p < α with the effect on the ` +
    `claimed side, NOT REPRODUCED when p < α on the other side, INCONCLUSIVE otherwise; the preset is NOT ` +
    `REPRODUCED if any part is, REPRODUCED if all are). ${diagonalRule(DIAGONAL_BUDGETS.full)} ` +
    `${reluRule(RELU_BUDGETS.full)} (The numbers are those of the full size; smoke and paper sizes use their own η.)`,
  // Twelve seeds: an exact sign test of 12 of 12 gives p = 0.0005, and one failure still p = 0.006.
  seeds: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
  alpha: 0.05,
  budgets: BUDGETS,
  describeBudget,
  scaleDown,
  tasks,
  async measure(context) {
    const { size, seeds, maxSteps } = context;
    const cfg = diagonalBudget(size);
    const extra = maxSteps === undefined ? {} : { maxSteps };
    const grid: DiagonalRunInput[] = seeds.flatMap((seed) =>
      cfg.etas.flatMap((eta) => (['GD', 'SGD'] as const).map((method) => ({ size, seed, eta, method, ...extra }))),
    );
    const switches: DiagonalSwitchInput[] = seeds.map((seed) => ({ size, seed, ...extra }));
    const relu = reluInputs(size, seeds, maxSteps);
    const gridOut = await context.run(tasks.diagonalRun, grid, 'diagonal network, GD and SGD');
    const switchOut = await context.run(tasks.diagonalSwitch, switches, 'diagonal network, switch test');
    const reluOut = await context.run(tasks.reluRun, relu, 'two-layer ReLU, GD and SGD');
    return { grid, gridOut, switches, switchOut, relu, reluOut };
  },
  judge(m, context) {
    const { size, seeds, alpha } = context;
    return [...judgeDiagonal(m, size, seeds, alpha), ...judgeRelu(size, seeds, m.relu, m.reluOut, alpha)];
  },
  plot(m, _parts, context) {
    const { size, seeds, alpha } = context;
    const diagonal = diagonalReport(m, size, seeds, alpha);
    const relu = reluReport(size, seeds, m.relu, m.reluOut, alpha);
    return {
      runs: [...diagonal.runs, ...relu.runs],
      plots: [...diagonal.plots, ...relu.plots],
      numbers: { ...diagonal.numbers, ...relu.numbers },
      checks: { ...diagonal.checks, ...relu.checks },
    };
  },
});
