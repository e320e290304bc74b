/**
 * The two-layer ReLU part of the stability preset (Wu & Su 2023, docs/research.md §4).
 *
 * Student f(x) = Σ_j a_j·relu(w_jᵀx) (width m, no biases), trained with the square loss
 * L = ½·mean (f − y)² on n points labelled by a narrower ReLU teacher (reluTeacher), with n
 * small enough for the student to interpolate. At an interpolating minimum the Hessian of L is
 * the Gauss–Newton matrix G = (1/n) Σ ∇fᵢ ∇fᵢᵀ (the residual term (1/n) Σ rᵢ ∇²fᵢ vanishes with
 * rᵢ = 0), so its stability bounds are read off G: λ_max(G) ≤ 2/η for GD, Tr G ≤ 2/η for
 * batch-1 SGD (≈ 2B/η for batch B). Wu & Su tie Tr G to the path norm Σ_j |a_j|·‖w_j‖: here
 * Tr G = (1/n) Σᵢ Σ_{j: pᵢⱼ>0} (a_j²‖xᵢ‖² + pᵢⱼ²) ≥ (2/n) Σᵢ ‖xᵢ‖ Σ_j |a_j|·relu(w_jᵀxᵢ) (AM–GM),
 * a data-weighted path norm, so larger η (a tighter Tr G bound) should leave SGD at a smaller
 * path norm, and so at a smaller test error.
 *
 * Like the diagonal network, the student is trained by plain float64 arithmetic (no autograd):
 * for one sample, with pⱼ = w_jᵀx and r = f(x) − y,
 *   ∂f/∂a_j = relu(pⱼ),   ∂f/∂w_j = a_j·1[pⱼ > 0]·x,   ∂ℓ/∂θ = r·∂f/∂θ.
 * The same per-sample output gradients form the rows of J, and Tr G, ‖G‖_F and λ_max(G) come
 * from the n × n Gram matrix K = JJᵀ/n (gramSpectrumOf). The tests check J against the engine's
 * per-sample gradients and G against a finite-difference Hessian of L at an interpolating point.
 *
 * Batch-1 SGD runs over a grid of η below its divergence edge; GD (and a larger batch, reported
 * against 2B/η) runs at the η where it is compared with SGD and at a larger η where its minimum has
 * Tr G > 2/η. The claim parts this file judges are listed in `judgeRelu`.
 */
import { foldIn, gramSpectrumOf, makeKey, normalFromBits, randomBits, reluTeacher, tensor } from 'gradscope';
import type { ClaimPart, Plot, RunRecord, Series, Size, SizeTable } from '../preset.js';
import { mean } from '../stats.js';
import { bandSeries, pairedRatioPart, ratioPart, slopePart, type SeedCurve } from './stability-parts.js';

/** The ReLU teacher–student experiment at one size. */
export interface ReluBudget {
  nTrain: number;
  nTest: number;
  /** Input dimension, teacher width and student width. */
  d: number;
  teacherHidden: number;
  width: number;
  dataSeed: number;
  /** Init: w_j ~ N(0, initScale²/d · I), a_j ~ N(0, initScale²/m). */
  initScale: number;
  /** Batch-1 SGD's η grid (below the η where it starts to diverge). */
  sgdEtas: number[];
  /** GD's (and the larger batch's) η: `compareEta`, then larger η where GD's Tr G·η/2 > 1. */
  gdEtas: number[];
  /** The η (in both grids) where SGD's and GD's minima from one init are compared. */
  compareEta: number;
  /** Training steps of every run (one step = one update, whatever the batch). */
  steps: number;
  /** GD stops once its training loss is below this (it is then at its minimum to many digits). */
  gdStopLoss: number;
  /** The reported third method: SGD with this batch size (between 1 and n). */
  largeBatch: number;
  /** A converged run ends with a training loss below this. */
  lossTolerance: number;
}

/**
 * The sizes. Full: 64 points in 8 dimensions from a 3-unit teacher, a 48-unit student; batch-1
 * SGD diverges from η ≈ 0.1 on (and on some seeds at 0.08), so its grid stops at 0.08 and SGD is
 * compared with GD at 0.065; GD's minimum passes Tr G = 2/η near η = 0.08 and reaches
 * Tr G·η/2 ≈ 2 at 0.15 with λ_max·η/2 ≈ 0.6. Paper: a larger version of the same experiment
 * (Wu & Su's exact n, d and widths are not in what we could read).
 */
export const RELU_BUDGETS: SizeTable<ReluBudget> = {
  smoke: {
    nTrain: 16, nTest: 1000, d: 4, teacherHidden: 3, width: 24, dataSeed: 11, initScale: 1.5,
    sgdEtas: [0.03, 0.05, 0.07], gdEtas: [0.07, 0.2], compareEta: 0.07, steps: 4000, gdStopLoss: 1e-8,
    largeBatch: 4, lossTolerance: 1e-4,
  },
  full: {
    nTrain: 64, nTest: 4000, d: 8, teacherHidden: 3, width: 48, dataSeed: 11, initScale: 1,
    sgdEtas: [0.03, 0.04, 0.05, 0.065, 0.08], gdEtas: [0.065, 0.15], compareEta: 0.065, steps: 20000,
    gdStopLoss: 1e-8, largeBatch: 8, lossTolerance: 1e-4,
  },
  paper: {
    nTrain: 256, nTest: 10000, d: 16, teacherHidden: 4, width: 128, dataSeed: 11, initScale: 1,
    sgdEtas: [0.02, 0.03, 0.04, 0.05, 0.065], gdEtas: [0.065, 0.15], compareEta: 0.065, steps: 100000,
    gdStopLoss: 1e-8, largeBatch: 16, lossTolerance: 1e-4,
  },
};

/** The ReLU budget at `size` (every size declares one). */
export function reluBudget(size: Size): ReluBudget {
  return RELU_BUDGETS[size]!;
}

/** The student's parameters: W row-major [m, d] (row j is w_j) and a [m]. */
export interface ReluNet {
  W: Float64Array;
  a: Float64Array;
  m: number;
  d: number;
}

export interface RegressionData {
  x: Float64Array;
  y: Float64Array;
  n: number;
  d: number;
}

/** The seeded init; the same for every method of a seed (paired seeds). */
export function reluInit(d: number, m: number, scale: number, seed: number): ReluNet {
  const key = foldIn(makeKey(seed), 0x7e1);
  const normal = (i: number) => {
    const [w0, w1] = randomBits(key, i);
    return normalFromBits(w0, w1);
  };
  const W = Float64Array.from({ length: m * d }, (_, i) => (scale / Math.sqrt(d)) * normal(i));
  const a = Float64Array.from({ length: m }, (_, j) => (scale / Math.sqrt(m)) * normal(m * d + j));
  return { W, a, m, d };
}

export function cloneNet(net: ReluNet): ReluNet {
  return { W: Float64Array.from(net.W), a: Float64Array.from(net.a), m: net.m, d: net.d };
}

/** f(xᵢ); fills `pre` (length m) with the pre-activations w_jᵀxᵢ when given. */
export function reluOutput(net: ReluNet, x: Float64Array, i: number, pre?: Float64Array): number {
  const { m, d, W, a } = net;
  const o = i * d;
  let f = 0;
  for (let j = 0; j < m; j++) {
    let p = 0;
    for (let q = 0; q < d; q++) p += W[j * d + q]! * x[o + q]!;
    if (pre) pre[j] = p;
    if (p > 0) f += a[j]! * p;
  }
  return f;
}

/** ½ mean (f − y)². */
export function reluSquareLoss(net: ReluNet, data: RegressionData): number {
  let s = 0;
  for (let i = 0; i < data.n; i++) s += (reluOutput(net, data.x, i) - data.y[i]!) ** 2;
  return (0.5 * s) / data.n;
}

/**
 * J [n, P] with P = m·d + m: row i is ∇_θ f(xᵢ) in the order (W row-major, then a), the order of
 * the engine's Linear(d → m).weight followed by Linear(m → 1).weight.
 */
export function reluJacobian(net: ReluNet, data: RegressionData): Float64Array {
  const { m, d } = net;
  const P = m * d + m;
  const J = new Float64Array(data.n * P);
  const pre = new Float64Array(m);
  for (let i = 0; i < data.n; i++) {
    reluOutput(net, data.x, i, pre);
    const row = i * P;
    for (let j = 0; j < m; j++) {
      // NOTE: relu'(0) = 0, as in the engine's relu.
      if (pre[j]! > 0) {
        J[row + m * d + j] = pre[j]!;
        const aj = net.a[j]!;
        for (let q = 0; q < d; q++) J[row + j * d + q] = aj * data.x[i * d + q]!;
      }
    }
  }
  return J;
}

export interface GramNumbers {
  traceG: number;
  frobeniusG: number;
  lambdaMaxG: number;
}

/** Tr G, ‖G‖_F and λ_max(G) for G = JᵀJ/n at `net` on `data`. */
export function reluGram(net: ReluNet, data: RegressionData): GramNumbers {
  const P = net.m * net.d + net.m;
  const g = gramSpectrumOf(tensor(reluJacobian(net, data), { shape: [data.n, P], dtype: 'float64' }));
  return { traceG: g.traceG, frobeniusG: g.frobeniusG, lambdaMaxG: g.lambdaMaxG };
}

/** The path norm Σ_j |a_j|·‖w_j‖₂. */
export function pathNorm(net: ReluNet): number {
  let s = 0;
  for (let j = 0; j < net.m; j++) {
    let w2 = 0;
    for (let q = 0; q < net.d; q++) w2 += net.W[j * net.d + q]! ** 2;
    s += Math.abs(net.a[j]!) * Math.sqrt(w2);
  }
  return s;
}

function allFinite(v: Float64Array): boolean {
  for (const x of v) if (!Number.isFinite(x)) return false;
  return true;
}

export interface ReluTrainResult {
  net: ReluNet;
  diverged: boolean;
  initialLoss: number;
  finalLoss: number;
  /** The steps taken (fewer than asked when the loss fell below `stopLoss`). */
  steps: number;
}

/**
 * Minibatch SGD with batch size B (B ≥ n: full-batch GD, samples in order), batches without
 * replacement from a seeded reshuffle each epoch (the shuffle depends on the seed only, so two
 * batch-1 runs of one seed see the same order). Diverged when the loss is not finite or exceeds
 * 1e8, or a parameter is not finite (checked every 50 steps and at the end). With `stopLoss` the
 * run stops at the first check whose loss is below it (used for GD only: a batch-1 run near a
 * minimum it cannot stay at still has a tiny loss before the instability shows). `start` is not
 * modified.
 */
export function trainRelu(
  start: ReluNet,
  data: RegressionData,
  options: { eta: number; batch: number; steps: number; seed: number; stopLoss?: number },
): ReluTrainResult {
  const { n } = data;
  const { m, d } = start;
  const net = cloneNet(start);
  const { W, a } = net;
  const key = foldIn(makeKey(options.seed), 0x5c3d);
  let draws = 0;
  const order = Array.from({ length: n }, (_, i) => i);
  let cursor = n;
  const B = Math.min(options.batch, n);
  const gW = new Float64Array(m * d);
  const ga = new Float64Array(m);
  const pre = new Float64Array(m);
  const initialLoss = reluSquareLoss(net, data);
  for (let step = 0; step < options.steps; step++) {
    gW.fill(0);
    ga.fill(0);
    for (let k = 0; k < B; k++) {
      if (B < n && cursor >= n) {
        for (let i = n - 1; i > 0; i--) {
          const [w0] = randomBits(key, draws++);
          const j = Math.floor((w0 / 4294967296) * (i + 1));
          [order[i], order[j]] = [order[j]!, order[i]!];
        }
        cursor = 0;
      }
      const i = B === n ? k : order[cursor++]!;
      const r = (reluOutput(net, data.x, i, pre) - data.y[i]!) / B;
      for (let j = 0; j < m; j++) {
        const p = pre[j]!;
        if (p <= 0) continue;
        ga[j] += r * p;
        const c = r * a[j]!;
        for (let q = 0; q < d; q++) gW[j * d + q] += c * data.x[i * d + q]!;
      }
    }
    for (let j = 0; j < m; j++) a[j] = a[j]! - options.eta * ga[j]!;
    for (let t = 0; t < m * d; t++) W[t] = W[t]! - options.eta * gW[t]!;
    if (step % 50 === 49 || step === options.steps - 1) {
      // NOTE: the parameters are checked too: a NaN pre-activation fails `p > 0`, so a blown-up
      // network can output 0 everywhere and show a finite loss.
      const loss = reluSquareLoss(net, data);
      if (!Number.isFinite(loss) || loss > 1e8 || !allFinite(W) || !allFinite(a)) {
        return { net, diverged: true, initialLoss, finalLoss: NaN, steps: step + 1 };
      }
      if (options.stopLoss !== undefined && loss < options.stopLoss) {
        return { net, diverged: false, initialLoss, finalLoss: loss, steps: step + 1 };
      }
    }
  }
  return { net, diverged: false, initialLoss, finalLoss: reluSquareLoss(net, data), steps: options.steps };
}

/** The seeded train/test split of one teacher draw, and the teacher's own path norm. */
export function reluSplit(cfg: ReluBudget): {
  train: RegressionData;
  test: RegressionData;
  teacherPathNorm: number;
  testLabelVariance: number;
} {
  const all = reluTeacher({ n: cfg.nTrain + cfg.nTest, d: cfg.d, hidden: cfg.teacherHidden, seed: cfg.dataSeed });
  const d = cfg.d;
  const train = { x: all.features.slice(0, cfg.nTrain * d), y: all.targets.slice(0, cfg.nTrain), n: cfg.nTrain, d };
  const test = { x: all.features.slice(cfg.nTrain * d), y: all.targets.slice(cfg.nTrain), n: cfg.nTest, d };
  const teacher = { W: all.teacher.W!, a: all.teacher.v!, m: cfg.teacherHidden, d };
  const labelMean = mean(Array.from(test.y));
  let variance = 0;
  for (const v of test.y) variance += (v - labelMean) ** 2 / test.n;
  return { train, test, teacherPathNorm: pathNorm(teacher), testLabelVariance: variance };
}

export type ReluMethod = 'GD' | 'SGD' | 'SGD-large-batch';

/** The methods, in the order the report lists them. */
export const RELU_METHODS: readonly ReluMethod[] = ['GD', 'SGD', 'SGD-large-batch'];

/** One grid point of the ReLU part (the input of the `reluRun` task). */
export interface ReluRunInput {
  size: Size;
  seed: number;
  eta: number;
  method: ReluMethod;
  /** `--max-steps`: every run stops after this many steps. */
  maxSteps?: number;
}

export interface ReluRunOutput {
  batch: number;
  diverged: boolean;
  /** The training loss at the init (equal across the methods of a seed: paired starts). */
  initialLoss: number;
  /** Σ of the init's parameters, a cheap fingerprint of the paired init. */
  initChecksum: number;
  /** The steps the run took (GD stops once its loss is below `gdStopLoss`). */
  steps: number;
  metrics: Record<string, number>;
}

/** The batch size of a method: n for GD, 1 for SGD, `largeBatch` for the third. */
export function reluBatch(method: ReluMethod, cfg: ReluBudget): number {
  return method === 'GD' ? cfg.nTrain : method === 'SGD' ? 1 : cfg.largeBatch;
}

/** The `reluRun` task: train one method at one η from the seed's init and measure the minimum. */
export function reluRun(input: ReluRunInput): ReluRunOutput {
  const cfg = reluBudget(input.size);
  const { train, test } = reluSplit(cfg);
  const init = reluInit(cfg.d, cfg.width, cfg.initScale, input.seed);
  let initChecksum = 0;
  for (const v of init.W) initChecksum += v;
  for (const v of init.a) initChecksum += v;
  const batch = reluBatch(input.method, cfg);
  const steps = Math.min(cfg.steps, input.maxSteps ?? Infinity);
  const stopLoss = input.method === 'GD' ? cfg.gdStopLoss : undefined;
  const result = trainRelu(init, train, { eta: input.eta, batch, steps, seed: input.seed, stopLoss });
  const bounds = { twoOverEta: 2 / input.eta, twoBOverEta: (2 * batch) / input.eta };
  const base = { batch, diverged: result.diverged, initialLoss: result.initialLoss, initChecksum, steps: result.steps };
  if (result.diverged) {
    const nan = Number.NaN;
    return {
      ...base,
      metrics: {
        trainLoss: nan, testError: nan, traceG: nan, frobeniusG: nan, lambdaMaxG: nan, pathNorm: nan, ...bounds,
      },
    };
  }
  const g = reluGram(result.net, train);
  const metrics = {
    trainLoss: result.finalLoss,
    // Mean squared error on held-out teacher labels (no label noise).
    testError: 2 * reluSquareLoss(result.net, test),
    traceG: g.traceG,
    frobeniusG: g.frobeniusG,
    lambdaMaxG: g.lambdaMaxG,
    pathNorm: pathNorm(result.net),
    ...bounds,
  };
  return { ...base, metrics };
}

/**
 * The grid of the ReLU part, seed-major: batch-1 SGD at every `sgdEtas`, GD and the larger batch at
 * every `gdEtas`, every method of a seed from the same init.
 */
export function reluInputs(size: Size, seeds: readonly number[], maxSteps?: number): ReluRunInput[] {
  const cfg = reluBudget(size);
  const extra = maxSteps === undefined ? {} : { maxSteps };
  return seeds.flatMap((seed) => [
    ...cfg.sgdEtas.map((eta) => ({ size, seed, eta, method: 'SGD' as const, ...extra })),
    ...cfg.gdEtas.flatMap((eta) =>
      (['GD', 'SGD-large-batch'] as const).map((method) => ({ size, seed, eta, method, ...extra })),
    ),
  ]);
}

/** The ReLU part's declared tests, in words (the preset's rule quotes it). */
export function reluRule(cfg: ReluBudget): string {
  const gdTop = cfg.gdEtas[cfg.gdEtas.length - 1];
  return (
    'Two-layer ReLU teacher–student (a run is at a minimum when it did not diverge and ends with training loss < ' +
    `${cfg.lossTolerance}; other runs give no value): (R1) batch-1 SGD obeys Tr G ≤ 2/η — per seed the largest ` +
    'Tr G·η/2 over its minima, t-test of ln(ratio) over seeds, claimed < 0; (R2) GD obeys λ_max(G) ≤ 2/η — per ' +
    'seed the largest λ_max·η/2 over its minima, same test, claimed < 0; (R3) GD is not held to the trace bound — ' +
    `per seed Tr G·η/2 of GD's minimum at η = ${gdTop}, claimed > 1 (ln > 0); (R4) SGD's path norm Σ|a_j|‖w_j‖ ` +
    'falls with η — per seed the slope of ln(path norm) on ln η over the SGD minima, t-test of the slopes, claimed ' +
    '< 0; (R5) SGD\'s test error falls with η — the same test on ln(test MSE); (R6) SGD generalizes better than GD ' +
    `— per seed ln(test MSE of SGD / test MSE of GD) at η = ${cfg.compareEta} from the same init, t-test, ` +
    'claimed < 0. ' +
    `The batch-${cfg.largeBatch} runs are reported against 2B/η and judged in no part.`
  );
}

/** Whether a run ended at a minimum: not diverged and training loss below the tolerance. */
function atMinimum(out: ReluRunOutput, cfg: ReluBudget): boolean {
  return !out.diverged && out.metrics.trainLoss! < cfg.lossTolerance;
}

/** A run and its input, side by side. */
interface ReluCell {
  input: ReluRunInput;
  output: ReluRunOutput;
}

function cells(inputs: readonly ReluRunInput[], outputs: readonly ReluRunOutput[]): ReluCell[] {
  return inputs.map((input, k) => ({ input, output: outputs[k]! }));
}

/** How many runs of a method diverged or stopped short of a minimum, as a sentence ('' if none). */
function lostRuns(all: readonly ReluCell[], method: ReluMethod, cfg: ReluBudget): string {
  const own = all.filter((c) => c.input.method === method);
  const diverged = own.filter((c) => c.output.diverged).length;
  const short = own.filter((c) => !c.output.diverged && !atMinimum(c.output, cfg)).length;
  const parts = [
    diverged > 0 ? `${diverged} of ${own.length} ${method} runs diverged` : '',
    short > 0 ? `${short} ended with training loss ≥ ${cfg.lossTolerance}` : '',
  ].filter((s) => s !== '');
  return parts.length === 0 ? '' : `${parts.join('; ')} (no value from those).`;
}

/** The ReLU part's claim parts (R1–R6 of `reluRule`), judged at `alpha`. */
export function judgeRelu(
  size: Size,
  seeds: readonly number[],
  inputs: readonly ReluRunInput[],
  outputs: readonly ReluRunOutput[],
  alpha: number,
): ClaimPart[] {
  const cfg = reluBudget(size);
  const all = cells(inputs, outputs);
  const minima = (seed: number, method: ReluMethod) =>
    all.filter((c) => c.input.seed === seed && c.input.method === method && atMinimum(c.output, cfg));
  const largest = (values: number[]) => (values.length === 0 ? undefined : Math.max(...values));
  const ratio = (c: ReluCell, key: 'traceG' | 'lambdaMaxG') => (c.output.metrics[key]! * c.input.eta) / 2;
  const at = (seed: number, method: ReluMethod, eta: number) => minima(seed, method).find((c) => c.input.eta === eta);
  const gdTop = cfg.gdEtas[cfg.gdEtas.length - 1]!;
  const curve = (seed: number, key: string): SeedCurve => {
    const own = minima(seed, 'SGD');
    return { eta: own.map((c) => c.input.eta), value: own.map((c) => c.output.metrics[key]!) };
  };
  const sgdLost = lostRuns(all, 'SGD', cfg);
  const gdLost = lostRuns(all, 'GD', cfg);
  return [
    ratioPart(
      { id: 'relu-sgd-trace-bound', claim: 'ReLU: batch-1 SGD\'s minima obey Tr G ≤ 2/η.',
        effectLabel: 'geometric mean over seeds of max over η of Tr G·η/2 (SGD; 1 = on the bound)' },
      seeds.map((s) => largest(minima(s, 'SGD').map((c) => ratio(c, 'traceG')))),
      'less', alpha, sgdLost,
    ),
    ratioPart(
      { id: 'relu-gd-lambda-bound', claim: 'ReLU: GD\'s minima obey λ_max(G) ≤ 2/η.',
        effectLabel: 'geometric mean over seeds of max over η of λ_max(G)·η/2 (GD; 1 = on the bound)' },
      seeds.map((s) => largest(minima(s, 'GD').map((c) => ratio(c, 'lambdaMaxG')))),
      'less', alpha, gdLost,
    ),
    ratioPart(
      { id: 'relu-gd-trace-exceeds', claim: `ReLU: GD's minimum at η = ${gdTop} has Tr G > 2/η (only λ_max binds GD).`,
        effectLabel: `geometric mean over seeds of Tr G·η/2 of GD at η = ${gdTop} (1 = the SGD bound)` },
      seeds.map((s) => {
        const c = at(s, 'GD', gdTop);
        return c === undefined ? undefined : ratio(c, 'traceG');
      }),
      'greater', alpha, gdLost,
    ),
    slopePart(
      { id: 'relu-path-norm-falls', claim: 'ReLU: a larger η leaves batch-1 SGD at a smaller path norm.',
        effectLabel: 'mean over seeds of the slope d ln(path norm)/d ln η (SGD)' },
      seeds.map((s) => curve(s, 'pathNorm')), alpha, sgdLost,
    ),
    slopePart(
      { id: 'relu-test-error-falls', claim: 'ReLU: a larger η gives batch-1 SGD a smaller test error.',
        effectLabel: 'mean over seeds of the slope d ln(test MSE)/d ln η (SGD)' },
      seeds.map((s) => curve(s, 'testError')), alpha, sgdLost,
    ),
    pairedRatioPart(
      { id: 'relu-sgd-beats-gd', claim: `ReLU: at η = ${cfg.compareEta}, SGD's minimum generalizes better than GD's.`,
        effectLabel: `geometric mean over seeds of test MSE SGD / GD at η = ${cfg.compareEta} (same init)` },
      seeds.map((s) => ({
        a: at(s, 'SGD', cfg.compareEta)?.output.metrics.testError,
        b: at(s, 'GD', cfg.compareEta)?.output.metrics.testError,
      })),
      alpha, [sgdLost, gdLost].filter((x) => x !== '').join(' '),
    ),
  ];
}

/** Run records, plots, numbers and mechanics checks of the ReLU part. */
export interface ReluReport {
  runs: RunRecord[];
  plots: Plot[];
  numbers: Record<string, number>;
  checks: Record<string, boolean>;
}

const METHOD_LABEL = (m: ReluMethod, cfg: ReluBudget) =>
  m === 'SGD-large-batch' ? `SGD B=${cfg.largeBatch}` : m === 'SGD' ? 'SGD B=1' : 'GD';

/** The ReLU part's run records (every run, diverged ones with NaN metrics), plots, numbers and checks. */
export function reluReport(
  size: Size,
  seeds: readonly number[],
  inputs: readonly ReluRunInput[],
  outputs: readonly ReluRunOutput[],
  alpha: number,
): ReluReport {
  const cfg = reluBudget(size);
  const { teacherPathNorm, testLabelVariance } = reluSplit(cfg);
  const all = cells(inputs, outputs);
  const runs: RunRecord[] = all.map(({ input, output }) => ({
    id: `relu-${input.method}-eta${input.eta}-seed${input.seed}`,
    config: {
      part: 'relu', method: input.method, eta: input.eta, batch: output.batch, seed: input.seed, steps: output.steps,
    },
    diverged: output.diverged,
    metrics: { ...output.metrics, initialLoss: output.initialLoss },
  }));
  const label = (m: ReluMethod) => METHOD_LABEL(m, cfg);
  const etasOf = (m: ReluMethod) => (m === 'SGD' ? cfg.sgdEtas : cfg.gdEtas);
  const valuesAt = (m: ReluMethod, key: string) =>
    etasOf(m).map((eta) =>
      all
        .filter((c) => c.input.method === m && c.input.eta === eta && atMinimum(c.output, cfg))
        .map((c) => c.output.metrics[key]!),
    );
  const band = (m: ReluMethod, key: string, what: string) =>
    bandSeries(`${label(m)}: ${what}`, etasOf(m), valuesAt(m, key), alpha, 'log');
  const points = (m: ReluMethod, key: string, what: string): Series => {
    const own = all.filter((c) => c.input.method === m && atMinimum(c.output, cfg));
    const y = own.map((c) => c.output.metrics[key]!);
    return { label: `${label(m)}: ${what}, each seed`, x: own.map((c) => c.input.eta), y, style: 'points' };
  };
  const allEtas = [...new Set([...cfg.sgdEtas, ...cfg.gdEtas])].sort((p, q) => p - q);
  const scatter = (m: ReluMethod): Series => {
    const own = all.filter((c) => c.input.method === m && atMinimum(c.output, cfg));
    // A method with no minimum keeps its legend entry with one missing (NaN) point.
    if (own.length === 0) return { label: `${label(m)} (no run at a minimum)`, x: [NaN], y: [NaN], style: 'points' };
    const x = own.map((c) => c.output.metrics.pathNorm!);
    return { label: `${label(m)}, each run`, x, y: own.map((c) => c.output.metrics.traceG!), style: 'points' };
  };
  const plots: Plot[] = [
    {
      id: 'relu-sharpness-vs-eta',
      title: 'Two-layer ReLU: sharpness of the final minima against 2/η and 2B/η (geometric mean, 95 % band)',
      xLabel: 'learning rate η',
      yLabel: 'Tr G, λ_max(G)',
      xLog: true,
      yLog: true,
      series: [
        { label: '2/η', x: allEtas, y: allEtas.map((e) => 2 / e) },
        { label: `2B/η (B = ${cfg.largeBatch})`, x: cfg.gdEtas, y: cfg.gdEtas.map((e) => (2 * cfg.largeBatch) / e) },
        band('SGD', 'traceG', 'Tr G'),
        band('SGD', 'lambdaMaxG', 'λ_max(G)'),
        band('GD', 'traceG', 'Tr G'),
        band('GD', 'lambdaMaxG', 'λ_max(G)'),
        band('SGD-large-batch', 'traceG', 'Tr G'),
      ],
    },
    {
      id: 'relu-path-norm-vs-eta',
      title: 'Two-layer ReLU: path norm Σ|a_j|‖w_j‖ of the final network against η (geometric mean, 95 % band)',
      xLabel: 'learning rate η',
      yLabel: 'path norm',
      xLog: true,
      series: [
        band('SGD', 'pathNorm', 'path norm'),
        points('SGD', 'pathNorm', 'path norm'),
        band('GD', 'pathNorm', 'path norm'),
        { label: 'teacher', x: allEtas, y: allEtas.map(() => teacherPathNorm) },
      ],
    },
    {
      id: 'relu-test-error-vs-eta',
      title: 'Two-layer ReLU: test mean squared error against η (geometric mean, 95 % band over seeds)',
      xLabel: 'learning rate η',
      yLabel: 'test MSE',
      xLog: true,
      yLog: true,
      series: [
        band('SGD', 'testError', 'test MSE'),
        points('SGD', 'testError', 'test MSE'),
        band('GD', 'testError', 'test MSE'),
        band('SGD-large-batch', 'testError', 'test MSE'),
        { label: 'predict 0 (label variance)', x: allEtas, y: allEtas.map(() => testLabelVariance) },
      ],
    },
    {
      id: 'relu-trace-vs-path-norm',
      title: 'Two-layer ReLU: Tr G against path norm at the final minima',
      xLabel: 'path norm Σ|a_j|‖w_j‖',
      yLabel: 'Tr G',
      series: RELU_METHODS.map(scatter),
    },
  ];
  const count = (m: ReluMethod, what: (c: ReluCell) => boolean) =>
    all.filter((c) => c.input.method === m && what(c)).length;
  const numbers: Record<string, number> = {
    'relu.nTrain': cfg.nTrain,
    'relu.d': cfg.d,
    'relu.width': cfg.width,
    'relu.teacherPathNorm': teacherPathNorm,
    'relu.testLabelVariance': testLabelVariance,
  };
  for (const m of RELU_METHODS) {
    numbers[`relu.${m}.diverged`] = count(m, (c) => c.output.diverged);
    numbers[`relu.${m}.notAtMinimum`] = count(m, (c) => !c.output.diverged && !atMinimum(c.output, cfg));
    const ratios = all.filter((c) => c.input.method === m && atMinimum(c.output, cfg));
    const largest = (key: 'traceG' | 'lambdaMaxG') =>
      Math.max(...ratios.map((c) => (c.output.metrics[key]! * c.input.eta) / 2));
    numbers[`relu.${m}.maxTraceTimesEtaOver2`] = largest('traceG');
    numbers[`relu.${m}.maxLambdaMaxTimesEtaOver2`] = largest('lambdaMaxG');
  }
  const pairedStarts = seeds.every((seed) => {
    const own = all.filter((c) => c.input.seed === seed).map((c) => c.output);
    return own.every((o) => o.initialLoss === own[0]!.initialLoss && o.initChecksum === own[0]!.initChecksum);
  });
  const expected = seeds.length * (cfg.sgdEtas.length + 2 * cfg.gdEtas.length);
  return {
    runs,
    plots,
    numbers,
    checks: { reluPairedStartsIdentical: pairedStarts, reluEveryRunListed: runs.length === expected },
  };
}
