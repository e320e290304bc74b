/**
 * bp-svrg: Jin, Lin & Zhang 2019, "Towards better generalization: BP-SVRG in training deep
 * neural networks" (docs/research.md §5), in small form on MNIST, at two learning rates.
 *
 * Three methods train the same model from the same initialization with the same batch order
 * (paired seeds), all with the same step-decay learning-rate schedule (η₀, ×0.1 at 1/2 and
 * 3/4 of the run, src/optim/schedules.ts `stepDecayLR`), plain SGD updates (no momentum):
 *
 * - `b-svrg`:   v = g_I(w) − g_I(w̃) + μ̃ (minibatch SVRG with learning-rate decay), E epochs;
 * - `bp-svrg`:  v = g_I(w) + g_I(w̃) − μ̃ (the sign switch), E epochs;
 * - `sgd-long`: SGD for the SAME number of sample-gradient evaluations as the SVRG runs,
 *               counted honestly: each SVRG epoch costs N (the snapshot's full pass) + 2N (two
 *               gradients per sample per step) = 3N, so SGD runs 3E epochs (its schedule's
 *               milestones scaled by 3, i.e. the same schedule as a function of evaluations).
 *
 * (SGD for E epochs, which the preset once ran beside them, is left out: it was never judged, and
 * running every method at two learning rates on enough seeds had to fit the suite's time budget.)
 *
 * Every method runs at BOTH η₀ = 0.05 and η₀ = 0.1, and every claim part is judged at each. The
 * preset first ran at 0.05 only; after a first full run left every method under-trained there
 * (training loss ≈ 0.33) it moved to 0.1, where BP-SVRG's accuracy gain shows (at 0.05, on other
 * seeds, it did not). A rate chosen after seeing results would make the verdict a choice, so both
 * are run, judged and shown, and the change is said on the report page (claim and scale-down).
 *
 * NOTE: BP-SVRG is RECONSTRUCTED from the paper's description ("we perform a sign switch on
 * B-SVRG"); the full text was not available to us (docs/research.md §5). It is unbiased, and at
 * w = w̃ its direction's variance is exactly 4× SGD's over a fixed partition
 * (v − μ̃ = 2(g_I − μ̃)), which this preset measures through the estimator's own `direction`.
 *
 * Measured at the end of each run (and per epoch where cheap): test accuracy on a disjoint,
 * seeded test split; the paper's indicators on a fixed subset S of training samples,
 *   M1 = (1/|S|) Σ_{i∈S} ‖gᵢ(w)‖,   M2 = ‖(1/|S|) Σ_{i∈S} gᵢ(w)‖,
 * from per-sample gradients (with (1/|S|) Σ ‖gᵢ‖² = M2² + V checked to rounding); and λ_max of
 * the training-loss Hessian on a fixed curvature batch (Lanczos on Hessian-vector products).
 *
 * float64 throughout: for this MLP it measured no slower than float32 on our machine (one SGD
 * epoch over 2048 samples ≈ 0.2 s either way), and the identity checks then hold to 1e-12.
 */
import {
  type Batch,
  batchGradientAt,
  bpSvrg,
  bSvrg,
  crossEntropy,
  type Dataset,
  type Estimator,
  estimatorVariance,
  flattenDirection,
  gradientNormMetrics,
  hessianOperator,
  lanczos,
  makeBatch,
  type Module,
  noGrad,
  NonFiniteError,
  resnet8,
  schedule,
  SgdEstimator,
  SgdUpdate,
  type StepContext,
  stepDecayLR,
  stepSeed,
  train,
  withMode,
} from 'gradscope';
import { directionalPart } from '../claims.js';
import type { ClaimPart, Plot, Preset, RunRecord, Series, Size, SizeTable } from '../preset.js';
import {
  definePreset,
  defineTasks,
  passedOn,
  type PresetContext,
  type PresetReport,
} from '../skeleton.js';
import { mean, pairedTTest, sampleVariance, studentTQuantile, type TestResult, tTest } from '../stats.js';
import { cifar10, flatMlp, mnistSubsets } from './datasets.js';

export const METHODS = ['b-svrg', 'bp-svrg', 'sgd-long'] as const;
export type Method = (typeof METHODS)[number];

/**
 * The two initial learning rates every method runs at: 0.05, the preset's first choice, and 0.1,
 * the rate it moved to after a first full run (see the header); both are judged.
 */
export const LEARNING_RATES = [0.05, 0.1] as const;

const LABELS: Record<Method, string> = {
  'b-svrg': 'B-SVRG (E epochs)',
  'bp-svrg': 'BP-SVRG (E epochs)',
  'sgd-long': 'SGD, same gradient evaluations (3E epochs)',
};

/** Epochs of SGD per SVRG epoch at equal cost: N (snapshot) + 2N (steps) per SVRG epoch. */
export const COST_FACTOR = 3;

/** The significance level of every claim part. */
export const ALPHA = 0.05;

/**
 * The non-superiority margin of "BP-SVRG is not better than SGD given the same gradient
 * evaluations", in test-accuracy points: the smallest gain we would call "better" — about one
 * binomial standard error of a single 2,000-sample test accuracy at 91–93 % (0.57–0.64 points),
 * rounded down to 0.5, the stricter side for this part (a smaller margin is harder to show).
 * Fixed when the full-size test split was 2,000 digits; kept when it grew to the 5,904 not
 * trained on (one standard error there is 0.33–0.37 points), since a margin moved after the
 * runs would be a choice made after seeing them (the part's effects are −1.3 to −1.9 points).
 */
export const NON_SUPERIORITY_MARGIN = 0.5;

export interface Budget {
  /** MNIST (seeded disjoint subsets, a flat MLP) or CIFAR-10 (official splits, ResNet-8). */
  data: 'mnist' | 'cifar10';
  /** Training samples, test samples (CIFAR-10: at most the split's size). */
  n: number;
  testN: number;
  /** The fixed subset of training samples for M1, M2 (per-sample gradients). */
  metricN: number;
  /** The fixed curvature batch (training samples) and Lanczos steps for λ_max. */
  curvatureN: number;
  lanczosSteps: number;
  /** MNIST: the MLP's hidden width; CIFAR-10: ResNet-8's stem width. */
  width: number;
  /** E: epochs of the B-SVRG and BP-SVRG runs (sgd-long runs COST_FACTOR·E). */
  epochs: number;
  batch: number;
  /** The fixed partition (block size) of the 4× variance check, over the first `varianceN` samples. */
  varianceN: number;
  varianceBlock: number;
  /** Epochs between the measurements along a run (of the SVRG runs; COST_FACTOR× that for sgd-long); divides E. */
  measureEvery: number;
}

export const BUDGET: SizeTable<Budget> = {
  smoke: {
    data: 'mnist', n: 256, testN: 256, metricN: 32, curvatureN: 64, lanczosSteps: 8, width: 32, epochs: 2, batch: 16,
    varianceN: 64, varianceBlock: 8, measureEvery: 1,
  },
  full: {
    // testN: every digit of the package's 10,000 not trained on. With 2,000 (and 5 seeds) the
    // accuracy parts' per-seed spread was mostly test sampling, and their verdicts moved with the
    // seed set; 5,904 digits and 10 seeds halve the interval (docs/reproductions.md, seed robustness).
    data: 'mnist', n: 4096, testN: 10000 - 4096, metricN: 128, curvatureN: 512, lanczosSteps: 20, width: 64, epochs: 8,
    batch: 32, varianceN: 512, varianceBlock: 32, measureEvery: 2,
  },
  // The paper's full text was not available: dataset, model, batch and epochs are our choices for the
  // "deep neural networks" of its abstract (the scale-down and budget text say so on the report).
  paper: {
    data: 'cifar10', n: 50000, testN: 10000, metricN: 256, curvatureN: 1024, lanczosSteps: 20, width: 16, epochs: 60,
    batch: 128, varianceN: 1024, varianceBlock: 128, measureEvery: 5,
  },
};

/** The learning-rate milestones (epochs) of a run of `epochs` epochs: ×0.1 at 1/2 and 3/4. */
export function milestones(epochs: number): number[] {
  return [Math.round(epochs / 2), Math.round((3 * epochs) / 4)];
}

/** One grid point: a method, an initial learning rate and a seed at a size (plain data: a task input). */
export interface TrainInput {
  method: Method;
  lr: number;
  seed: number;
  size: Size;
  /** `--data DIR` (CIFAR-10 at paper size). */
  dataDir?: string;
  /** `--max-steps N`: stop after N steps (tries a configuration; no verdict rests on it). */
  maxSteps?: number;
}

/**
 * One measurement along a run (epoch 0 = the initialization; fractional where --max-steps stopped it).
 * Taken every `measureEvery` epochs (sgd-long: COST_FACTOR× as many): at the SVRG runs' evaluation counts.
 */
export interface Point {
  epoch: number;
  /** Sample-gradient evaluations spent so far (the estimator's own count). */
  evaluations: number;
  testAccuracy: number;
  trainLoss: number;
  /** M1, M2 on the fixed metric subset. */
  m1: number;
  m2: number;
}

export interface FinalMeasurements {
  testAccuracy: number;
  trainLoss: number;
  trainAccuracy: number;
  m1: number;
  m2: number;
  meanSquaredNorm: number;
  variance: number;
  lambdaMax: number;
  evaluations: number;
}

export interface TrainOutput {
  points: Point[];
  diverged: boolean;
  divergedAt: string;
  /** Full training loss at the initialization (paired starts: equal across methods and rates). */
  initialLoss: number;
  final: FinalMeasurements;
}

const NAN_FINAL: FinalMeasurements = {
  testAccuracy: NaN, trainLoss: NaN, trainAccuracy: NaN, m1: NaN, m2: NaN, meanSquaredNorm: NaN, variance: NaN,
  lambdaMax: NaN, evaluations: NaN,
};

const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);

/** Mean cross-entropy and accuracy of the model on a batch (eval mode, no graph). */
export function lossAndAccuracy(model: Module, batch: Batch): { loss: number; accuracy: number } {
  return withMode(model, 'eval', () =>
    noGrad(() => {
      const logits = model.forward(batch.x, { sampleIds: batch.sampleIds! });
      const loss = crossEntropy(logits, batch.targets).item();
      const predicted = logits.argmax(1).toTypedArray();
      const targets = batch.targets as Int32Array;
      let correct = 0;
      for (let i = 0; i < targets.length; i++) if (predicted[i] === targets[i]) correct++;
      return { loss, accuracy: correct / targets.length };
    }),
  );
}

/** Samples per evaluation batch: CIFAR-10's 50,000 training images do not fit in one float64 batch. */
const EVALUATION_CHUNK = 2048;

/** Mean cross-entropy and accuracy over the first `count` samples of `data`, in chunks. */
export function evaluate(model: Module, data: Dataset, count: number): { loss: number; accuracy: number } {
  let loss = 0;
  let correct = 0;
  for (let start = 0; start < count; start += EVALUATION_CHUNK) {
    const end = Math.min(count, start + EVALUATION_CHUNK);
    const r = lossAndAccuracy(model, makeBatch(data, range(start, end), { dtype: 'float64' }));
    loss += r.loss * (end - start);
    correct += r.accuracy * (end - start);
  }
  return { loss: loss / count, accuracy: Math.round(correct) / count };
}

/** λ_max of the Hessian of the mean loss over `batch` at the model's parameters (Lanczos). */
export function topHessianEigenvalue(model: Module, batch: Batch, steps: number, seed: number): number {
  const op = hessianOperator(model, batch, { batchNorm: 'eval' });
  return lanczos(op, 1, { seed, iterations: steps }).top[0]!;
}

function estimatorFor(method: Method): Estimator {
  if (method === 'b-svrg') return bSvrg();
  if (method === 'bp-svrg') return bpSvrg();
  return new SgdEstimator();
}

/** The data of one run (with the sizes actually used: CIFAR-10 from a small folder may hold fewer). */
interface RunData {
  train: Dataset;
  test: Dataset;
  n: number;
  testN: number;
}

/** The datasets of a seed at a budget: MNIST's seeded disjoint subsets, or CIFAR-10's official splits. */
export function dataOf(seed: number, budget: Budget, dataDir: string | undefined): RunData {
  if (budget.data === 'cifar10') {
    const { train: trainSet, test } = cifar10(dataDir, 'bp-svrg');
    const n = Math.min(budget.n, trainSet.length);
    return { train: trainSet, test, n, testN: Math.min(budget.testN, test.length) };
  }
  const { train: trainSet, evaluation } = mnistSubsets(seed, budget.n, budget.testN);
  return { train: trainSet, test: evaluation, n: budget.n, testN: budget.testN };
}

/** The model of a seed at a budget: the flat 784-width-10 MLP (MNIST) or ResNet-8 on 3×32×32 (CIFAR-10), float64. */
export function modelOf(seed: number, budget: Budget): Module {
  if (budget.data === 'cifar10') return resnet8({ seed, dtype: 'float64', inChannels: 3, width: budget.width });
  return flatMlp([784, budget.width, 10], seed);
}

/** How the budget's model is named in run records and on the report. */
function modelName(budget: Budget): string {
  if (budget.data === 'cifar10') return `ResNet-8 (width ${budget.width}, 3 input channels)`;
  return `MLP 784-${budget.width}-10`;
}

/** One training run of a method at a learning rate on a seed, with its measurements. */
export function trainRun({ method, lr, seed, size, dataDir, maxSteps }: TrainInput): TrainOutput {
  const budget = BUDGET[size];
  if (budget === undefined) throw new Error(`bp-svrg: no ${size}-size budget`);
  const d = dataOf(seed, budget, dataDir);
  const of = (data: Dataset, m: number) => makeBatch(data, range(0, Math.min(m, d.n)), { dtype: 'float64' });
  const metric = of(d.train, budget.metricN);
  const curvature = of(d.train, budget.curvatureN);
  const trainSet = d.n === d.train.length ? d.train : subsetOf(d.train, d.n);
  const model = modelOf(seed, budget);
  const factor = method === 'sgd-long' ? COST_FACTOR : 1;
  const epochs = budget.epochs * factor;
  const measureEvery = budget.measureEvery * factor;
  const decayAt = milestones(budget.epochs).map((m) => m * factor);
  const estimator = estimatorFor(method);
  const points: Point[] = [];
  let norms = { m1: NaN, m2: NaN, meanSquaredNorm: NaN, variance: NaN }; // the latest measure()'s
  const measure = (epoch: number, evaluations: number) => {
    const test = evaluate(model, d.test, d.testN);
    const trainLoss = evaluate(model, trainSet, d.n).loss;
    const g = (norms = gradientNormMetrics(model, metric, { batchNorm: 'eval' }));
    points.push({ epoch, evaluations, testAccuracy: test.accuracy, trainLoss, m1: g.m1, m2: g.m2 });
  };
  measure(0, 0);
  const initialLoss = points[0]!.trainLoss;
  let diverged = false;
  let divergedAt = '';
  try {
    const run = train(model, trainSet, {
      estimator,
      update: new SgdUpdate({}),
      schedule: schedule(stepDecayLR(lr, 0.1, { milestones: decayAt }), budget.batch),
      epochs,
      seed,
      ...(maxSteps === undefined ? {} : { maxSteps }),
      // Every measureEvery epochs, at the SVRG runs' evaluation counts (COST_FACTOR× as many epochs for sgd-long).
      onEpochEnd: (info) => {
        if ((info.epoch + 1) % measureEvery === 0 || info.step === maxSteps) measure(info.epoch + 1, info.cost);
      },
    });
    // Stopped by --max-steps within an epoch: measure there (at an epoch's end, onEpochEnd did).
    const { epoch, stepInEpoch } = run.state;
    if (run.stopped === 'maxSteps' && stepInEpoch > 0) measure(epoch + stepInEpoch / Math.ceil(d.n / budget.batch), run.cost);
  } catch (error) {
    if (!(error instanceof NonFiniteError)) throw error;
    diverged = true;
    divergedAt = error.message;
  }
  if (diverged) return { points, diverged, divergedAt, initialLoss, final: NAN_FINAL };
  // The last point is the end of the run (every run ends at an epoch end measured above, or at --max-steps).
  const last = points[points.length - 1]!;
  const g = norms;
  const trainEval = evaluate(model, trainSet, d.n);
  const lambdaMax = topHessianEigenvalue(model, curvature, budget.lanczosSteps, seed);
  const final: FinalMeasurements = {
    testAccuracy: last.testAccuracy, trainLoss: trainEval.loss, trainAccuracy: trainEval.accuracy, m1: g.m1, m2: g.m2,
    meanSquaredNorm: g.meanSquaredNorm, variance: g.variance, lambdaMax, evaluations: estimator.cost,
  };
  return { points, diverged, divergedAt, initialLoss, final };
}

/** The first n samples of a dataset (a CIFAR-10 budget smaller than the split). */
function subsetOf(data: Dataset, n: number): Dataset {
  const { sampleShape, classes } = data;
  return { name: `${data.name}-first-${n}`, length: n, sampleShape, classes, get: (i) => data.get(i) };
}

// ---- mechanics: the estimators' direction variance at w = w̃ -------------------------------

export interface DirectionVariance {
  /** V of the SGD direction over the fixed partition, and of B-SVRG's and BP-SVRG's directions at w = w̃. */
  vSgd: number;
  vB: number;
  vBp: number;
}

/**
 * The variance over a fixed partition of `data` into blocks of `block` samples of the SGD
 * direction and of the B-SVRG / BP-SVRG directions at the first step after a snapshot
 * (w = w̃; no update is applied, so every block sees w = w̃), each row the estimator's own
 * `direction`. Expected: V_B = 0 and V_BP = 4·V_SGD, to rounding.
 */
export function directionVariance(seed: number, data: Dataset, block: number, model: Module): DirectionVariance {
  model.train();
  const parts = range(0, Math.floor(data.length / block)).map((k) => range(k * block, (k + 1) * block));
  const mb = (indices: readonly number[], s: number) => makeBatch(data, indices, { seed: s, dtype: 'float64' });
  const contextFor = (k: number): StepContext => ({
    model,
    data,
    epoch: 0,
    step: k,
    stepInEpoch: k,
    stepsInEpoch: parts.length,
    makeBatch: (idx, s) => mb(idx, s ?? stepSeed(seed, k)),
    indices: parts[k]!,
  });
  const w = model.flattenParameters();
  const batchOf = (k: number) => mb(parts[k]!, stepSeed(seed, k));
  const sgdRows = parts.map((_, k) => Float64Array.from(batchGradientAt(model, batchOf(k), w).grad.toTypedArray()));
  const of = (estimator: Estimator) => {
    estimator.startEpoch!(contextFor(0));
    return estimatorVariance(parts.map((_, k) => flattenDirection(estimator.direction(contextFor(k), batchOf(k)))));
  };
  return { vSgd: estimatorVariance(sgdRows), vB: of(bSvrg()), vBp: of(bpSvrg()) };
}

/** One seed's mechanics task input. */
export interface VarianceInput {
  seed: number;
  size: Size;
  dataDir?: string;
}

/** The mechanics task of one seed: the direction variances on its first training samples, on the budget's model. */
export function varianceTask({ seed, size, dataDir }: VarianceInput): DirectionVariance {
  const budget = BUDGET[size];
  if (budget === undefined) throw new Error(`bp-svrg: no ${size}-size budget`);
  const d = dataOf(seed, budget, dataDir);
  const count = Math.min(budget.varianceN, d.n);
  const block = Math.min(budget.varianceBlock, Math.max(1, Math.floor(count / 2)));
  return directionVariance(seed, subsetOf(d.train, count), block, modelOf(seed, budget));
}

// ---- the claim parts -----------------------------------------------------------------------

/** The paired per-seed values a claim part at one learning rate is computed from. */
export interface PairedFinals {
  seeds: readonly number[];
  /** Per seed, the final measurements of each method (NaN where a run diverged). */
  of: (method: Method) => FinalMeasurements[];
}

const lrTag = (lr: number) => `lr${lr}`;
const logRatios = (a: readonly number[], b: readonly number[]) => a.map((x, i) => Math.log(x / b[i]!));

/** The pairs both of whose values are finite (a diverged run has NaN measurements). */
function finitePairs(a: readonly number[], b: readonly number[]): [number[], number[]] {
  const keep = a.map((x, i) => Number.isFinite(x) && Number.isFinite(b[i]!));
  return [a.filter((_, i) => keep[i]), b.filter((_, i) => keep[i])];
}

/** A paired test over the finite pairs, or an error naming the part when fewer than two remain. */
function pairedOrFail(
  part: string,
  a: readonly number[],
  b: readonly number[],
  test: (a: number[], b: number[]) => TestResult,
): TestResult {
  const [fa, fb] = finitePairs(a, b);
  if (fa.length < 2) {
    throw new Error(`bp-svrg: part '${part}' needs at least 2 seeds whose runs both finished; got ${fa.length}`);
  }
  return test(fa, fb);
}

/**
 * The four claim parts at one initial learning rate (declared in RULE before any number):
 * BP-SVRG's λ_max and M1 below B-SVRG's (paired t-tests of per-seed log-ratios), its test accuracy
 * above B-SVRG's (paired t-test, points), and its accuracy NOT above SGD's at the same gradient
 * evaluations by more than NON_SUPERIORITY_MARGIN (t-test of the paired differences against the
 * margin: the part holds when the difference is significantly below it).
 */
export function partsAtRate(lr: number, finals: PairedFinals, alpha: number): ClaimPart[] {
  const bp = finals.of('bp-svrg');
  const b = finals.of('b-svrg');
  const long = finals.of('sgd-long');
  const pick = (fs: FinalMeasurements[], key: keyof FinalMeasurements) => fs.map((f) => f[key]);
  const points = (fs: FinalMeasurements[]) => fs.map((f) => 100 * f.testAccuracy);
  const at = `at η₀ = ${lr}`;
  const lambdaId = `flatter-lambda-${lrTag(lr)}`;
  const m1Id = `flatter-m1-${lrTag(lr)}`;
  const accuracyId = `accuracy-vs-b-svrg-${lrTag(lr)}`;
  const budgetId = `not-above-sgd-same-evaluations-${lrTag(lr)}`;
  const logRatioTest = (x: number[], y: number[]) => {
    const r = tTest(logRatios(x, y), 0, alpha);
    return { ...r, test: `paired t-test of per-seed log-ratios, n = ${r.n}, two-sided` };
  };
  const nonSuperiority = (x: number[], y: number[]) => {
    const r = tTest(x.map((v, i) => v - y[i]!), NON_SUPERIORITY_MARGIN, alpha);
    const test = `paired t-test against the margin +${NON_SUPERIORITY_MARGIN} points (non-superiority), n = ${r.n}`;
    return { ...r, test: `${test}, two-sided` };
  };
  return [
    directionalPart(
      {
        id: lambdaId,
        claim: `BP-SVRG ends flatter than B-SVRG ${at}: a smaller top Hessian eigenvalue λ_max.`,
        effectLabel: 'mean over seeds of ln(λ_max BP-SVRG / λ_max B-SVRG) (< 0: BP-SVRG flatter)',
      },
      pairedOrFail(lambdaId, pick(bp, 'lambdaMax'), pick(b, 'lambdaMax'), logRatioTest),
      'less',
      alpha,
    ),
    directionalPart(
      {
        id: m1Id,
        claim: `BP-SVRG ends with a smaller mean per-sample gradient norm M1 than B-SVRG ${at}.`,
        effectLabel: 'mean over seeds of ln(M1 BP-SVRG / M1 B-SVRG) (< 0: BP-SVRG smaller)',
      },
      pairedOrFail(m1Id, pick(bp, 'm1'), pick(b, 'm1'), logRatioTest),
      'less',
      alpha,
    ),
    directionalPart(
      {
        id: accuracyId,
        claim: `BP-SVRG generalizes better than B-SVRG ${at}: a higher final test accuracy.`,
        effectLabel: 'BP-SVRG − B-SVRG final test accuracy (percentage points)',
      },
      pairedOrFail(accuracyId, points(bp), points(b), (x, y) => pairedTTest(x, y, alpha)),
      'greater',
      alpha,
    ),
    directionalPart(
      {
        id: budgetId,
        claim:
          `Given the same sample-gradient evaluations, BP-SVRG is not better than SGD ${at} ` +
          `(its test accuracy is not above SGD's by ${NON_SUPERIORITY_MARGIN} points or more).`,
        effectLabel: 'BP-SVRG − SGD (same gradient evaluations) final test accuracy (percentage points)',
      },
      pairedOrFail(budgetId, points(bp), points(long), nonSuperiority),
      'less',
      alpha,
    ),
  ];
}

// ---- the preset ----------------------------------------------------------------------------

const RULE =
  `Eight parts, four at each initial learning rate η₀ ∈ {${LEARNING_RATES.join(', ')}}, each a two-sided test over ` +
  `the paired seeds (same data, initialization, batch order and schedule for every method) at α = ${ALPHA}, ` +
  'judged REPRODUCED when p < α with the effect on the claimed side, NOT REPRODUCED when p < α on the other side, ' +
  'INCONCLUSIVE otherwise: (1) flatter-lambda: paired t-test of ln(λ_max BP-SVRG / λ_max B-SVRG), claimed < 0; ' +
  '(2) flatter-m1: the same for M1, claimed < 0; (3) accuracy-vs-b-svrg: paired t-test of BP-SVRG − B-SVRG final ' +
  'test accuracy (points), claimed > 0; (4) not-above-sgd-same-evaluations: t-test of BP-SVRG − SGD-run-for-the-same-' +
  `gradient-evaluations test accuracy (points) against the non-superiority margin +${NON_SUPERIORITY_MARGIN}, ` +
  `claimed < ${NON_SUPERIORITY_MARGIN} (the margin: about one binomial standard error of one 2,000-sample test ` +
  'accuracy, fixed when the test split was that size). The preset is NOT REPRODUCED if any part is, ' +
  'REPRODUCED if all are, INCONCLUSIVE otherwise. M2 is ' +
  'reported, not judged; nor is "sometimes beating SGD", which names no setting a test could check.';

/** What `measure` returns: the grid and its outputs, and the mechanics task's per seed. */
interface Measured {
  grid: TrainInput[];
  trained: TrainOutput[];
  variances: DirectionVariance[];
}

type Context = PresetContext<Budget>;

function finalsAt(measured: Measured, seeds: readonly number[], lr: number): PairedFinals {
  const out = (method: Method, seed: number) =>
    measured.trained[measured.grid.findIndex((g) => g.method === method && g.lr === lr && g.seed === seed)]!;
  return { seeds, of: (method) => seeds.map((seed) => out(method, seed).final) };
}

/** The mean over values and its 95 % t-interval ([mean, mean] below two finite values). */
function meanWithInterval(values: readonly number[]): { mean: number; lower: number; upper: number } {
  const finite = values.filter(Number.isFinite);
  const m = mean(finite);
  if (finite.length < 2) return { mean: m, lower: m, upper: m };
  const half = studentTQuantile(0.975, finite.length - 1) * Math.sqrt(sampleVariance(finite) / finite.length);
  return { mean: m, lower: m - half, upper: m + half };
}

function describeBudget(b: Budget, size: Size): string {
  const common =
    `${b.epochs} epochs (SGD at the same gradient evaluations: ${COST_FACTOR * b.epochs}) of batch ${b.batch}, step ` +
    `decay ×0.1 at epochs ${milestones(b.epochs).join(' and ')}, no momentum, float64, at η₀ = ` +
    `${LEARNING_RATES.join(' and ')}; M1, M2 on ${b.metricN} training samples, λ_max by ${b.lanczosSteps} Lanczos ` +
    `steps on ${b.curvatureN}.`;
  if (b.data === 'cifar10') {
    return (
      `CIFAR-10 (up to ${b.n} training / ${b.testN} test images from --data), ${modelName(b)}, ${common} ` +
      'The paper’s full text was not available: its datasets, models, batch sizes, epochs and learning rates are ' +
      'unknown to us, and this configuration is our choice for the "deep neural networks" of its abstract.'
    );
  }
  const split = `${b.n} training / ${b.testN} test digits (a disjoint seeded split per seed)`;
  return `MNIST, ${split}, ${modelName(b)}, ${common}${size === 'smoke' ? ' (smoke: mechanics only)' : ''}`;
}

function scaleDown(size: Size): string {
  const b = BUDGET[size];
  if (size === 'paper' || b === undefined) return '';
  return (
    `An ${modelName(b)} on ${b.n} MNIST digits for ${b.epochs} epochs instead of the paper’s deep networks ` +
    '(whose setup is unknown: only its abstract was available), and BP-SVRG reconstructed from the abstract’s ' +
    '"sign switch". ' +
    'η₀ was first 0.05 and moved to 0.1 after a first full run at 0.05 left every method under-trained ' +
    '(training loss ≈ 0.33); both rates are run and judged here, each part at each rate.'
  );
}

/** The preset's tasks: one training run, and one seed's mechanics check (pure functions of plain inputs). */
const tasks = defineTasks({ train: trainRun, variance: varianceTask });

export const bpSvrgPreset: Preset = definePreset<Budget, Measured>({
  name: 'bp-svrg',
  paper:
    'Jin, Lin & Zhang 2019, "Towards better generalization: BP-SVRG in training deep neural networks" ' +
    '(arXiv 1908.06395); BP-SVRG reconstructed as a sign switch of B-SVRG',
  claim:
    'BP-SVRG (B-SVRG with the sign of the control variate switched) generalizes better than B-SVRG and ends in ' +
    'flatter minima (smaller λ_max and mean per-sample gradient norm M1), sometimes beating SGD — judged here at two ' +
    'initial learning rates, 0.05 (this preset’s first) and 0.1 (the rate it moved to after a first full run), both ' +
    'shown; and, as a cross-check the paper does not make, BP-SVRG is not better than SGD given the same gradient ' +
    'evaluations.',
  rule: RULE,
  seeds: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
  alpha: ALPHA,
  budgets: BUDGET,
  describeBudget,
  scaleDown,
  tasks,
  async measure(context) {
    const { size, seeds } = context;
    // At paper size, refuse before any task runs when --data is missing (cifar10 says what to pass).
    if (context.budget.data === 'cifar10' && context.dataDir === undefined) cifar10(undefined, 'bp-svrg');
    context.progress(0, 'loading data');
    // The long SGD runs first: they take the longest, so the workers finish together.
    const order: Method[] = ['sgd-long', 'b-svrg', 'bp-svrg'];
    const extra = passedOn(context);
    const grid: TrainInput[] = order.flatMap((method) =>
      LEARNING_RATES.flatMap((lr) => seeds.map((seed) => ({ method, lr, seed, size, ...extra }))),
    );
    const trained = await context.run(tasks.train, grid, 'training runs');
    const dataDir = extra.dataDir === undefined ? {} : { dataDir: extra.dataDir };
    const varianceInputs = seeds.map((seed) => ({ seed, size, ...dataDir }));
    const variances = await context.run(tasks.variance, varianceInputs, 'direction variance at w = w̃');
    return { grid, trained, variances };
  },
  judge(measured, context) {
    return LEARNING_RATES.flatMap((lr) => partsAtRate(lr, finalsAt(measured, context.seeds, lr), context.alpha));
  },
  plot(measured, _parts, context) {
    return report(measured, context);
  },
});

/** Numbers, plots, run records and mechanics checks of a measured grid. */
function report(measured: Measured, context: Context): PresetReport {
  const { budget, seeds } = context;
  const { grid, trained, variances } = measured;
  const out = (method: Method, lr: number, seed: number) =>
    trained[grid.findIndex((g) => g.method === method && g.lr === lr && g.seed === seed)]!;
  const cell = (method: Method, lr: number) => seeds.map((seed) => out(method, lr, seed));

  const runs: RunRecord[] = grid.map(({ method, lr, seed }, i) => {
    const r = trained[i]!;
    const factor = method === 'sgd-long' ? COST_FACTOR : 1;
    return {
      id: `${method}-${lrTag(lr)}-seed${seed}`,
      config: {
        method, lr, seed, n: budget.n, testN: budget.testN, model: modelName(budget), dtype: 'float64',
        epochs: budget.epochs * factor, batch: budget.batch, momentum: 0,
        schedule: `step decay ×0.1 at epochs ${milestones(budget.epochs).map((m) => m * factor).join(', ')}`,
      },
      diverged: r.diverged,
      metrics: { initialLoss: r.initialLoss, ...r.final },
    };
  });
  seeds.forEach((seed, s) => {
    const v = variances[s]!;
    runs.push({
      id: `direction-variance-seed${seed}`,
      config: { seed, n: budget.varianceN, block: budget.varianceBlock, point: 'w = w̃ (initialization)' },
      diverged: false,
      metrics: { vSgd: v.vSgd, vBSvrg: v.vB, vBpSvrg: v.vBp, ratioB: v.vB / v.vSgd, ratioBp: v.vBp / v.vSgd },
    });
  });

  // ---- numbers --------------------------------------------------------------------------
  const numbers: Record<string, number> = {};
  for (const lr of LEARNING_RATES) {
    for (const method of METHODS) {
      const own = cell(method, lr).map((r) => r.final);
      const tag = `${method} at η₀ ${lr}`;
      numbers[`${tag}: mean test accuracy`] = mean(own.map((f) => f.testAccuracy));
      numbers[`${tag}: mean λ_max`] = mean(own.map((f) => f.lambdaMax));
      numbers[`${tag}: mean M1`] = mean(own.map((f) => f.m1));
      numbers[`${tag}: mean M2`] = mean(own.map((f) => f.m2));
      numbers[`${tag}: mean final training loss`] = mean(own.map((f) => f.trainLoss));
    }
    for (const seed of seeds) {
      const bp = out('bp-svrg', lr, seed).final;
      const b = out('b-svrg', lr, seed).final;
      const tag = `η₀ ${lr}, seed ${seed}`;
      numbers[`${tag}: Δ test accuracy points (BP-SVRG − B-SVRG)`] = 100 * (bp.testAccuracy - b.testAccuracy);
      numbers[`${tag}: ln λ_max ratio (BP-SVRG / B-SVRG)`] = Math.log(bp.lambdaMax / b.lambdaMax);
      numbers[`${tag}: ln M1 ratio (BP-SVRG / B-SVRG)`] = Math.log(bp.m1 / b.m1);
      numbers[`${tag}: Δ test accuracy points (BP-SVRG − SGD same evaluations)`] =
        100 * (bp.testAccuracy - out('sgd-long', lr, seed).final.testAccuracy);
    }
  }
  numbers['one test sample (accuracy points)'] = 100 / budget.testN;
  numbers['non-superiority margin (accuracy points)'] = NON_SUPERIORITY_MARGIN;
  numbers['seeds'] = seeds.length;

  // ---- plots ----------------------------------------------------------------------------
  const passes = (p: Point) => p.evaluations / budget.n;
  /** Mean ± 95 % t-band over seeds of one quantity along a method's runs at one rate (NaN points dropped). */
  const banded = (method: Method, lr: number, pick: (p: Point) => number): Series => {
    const own = cell(method, lr).map((r) => r.points);
    const length = Math.min(...own.map((ps) => ps.length));
    const keep = range(0, length).filter((k) => own.every((ps) => Number.isFinite(pick(ps[k]!))));
    const stats = keep.map((k) => meanWithInterval(own.map((ps) => pick(ps[k]!))));
    return {
      label: LABELS[method],
      x: keep.map((k) => passes(own[0]![k]!)),
      y: stats.map((s) => s.mean),
      band: { lower: stats.map((s) => s.lower), upper: stats.map((s) => s.upper) },
    };
  };
  const evaluationsLabel = 'sample-gradient evaluations / N (SVRG: N per snapshot + 2 per sample per step)';
  const curves = (id: string, what: string, yLabel: string, pick: (p: Point) => number, yLog: boolean): Plot[] =>
    LEARNING_RATES.map((lr) => ({
      id: `${id}-${lrTag(lr)}`,
      title: `${what} at η₀ = ${lr} (mean over ${seeds.length} seeds, 95 % t-band)`,
      xLabel: evaluationsLabel,
      yLabel,
      yLog,
      series: METHODS.map((m) => banded(m, lr, pick)),
    }));
  const seedX = seeds.map((seed) => seed);
  const perSeedPoints = (label: string, y: number[]): Series => ({ label, x: [...seedX], y, style: 'points' });
  const pairedAt = (lr: number) => {
    const bp = cell('bp-svrg', lr).map((r) => r.final);
    const b = cell('b-svrg', lr).map((r) => r.final);
    const long = cell('sgd-long', lr).map((r) => r.final);
    return {
      accuracy: bp.map((f, i) => 100 * (f.testAccuracy - b[i]!.testAccuracy)),
      vsLong: bp.map((f, i) => 100 * (f.testAccuracy - long[i]!.testAccuracy)),
      lambda: bp.map((f, i) => Math.log(f.lambdaMax / b[i]!.lambdaMax)),
      m1: bp.map((f, i) => Math.log(f.m1 / b[i]!.m1)),
    };
  };
  const paired = LEARNING_RATES.map(pairedAt);
  const plots: Plot[] = [
    ...curves('test-accuracy', 'Test accuracy vs gradient evaluations', 'test accuracy', (p) => p.testAccuracy, false),
    ...curves('training-loss', 'Training loss (full training set)', 'training cross-entropy', (p) => p.trainLoss, true),
    ...curves('m1', 'M1 = mean per-sample gradient norm on a fixed training subset', 'M1 = (1/n) Σ ‖gᵢ(w)‖',
      (p) => p.m1, true),
    {
      id: 'paired-accuracy',
      title: 'Per-seed paired test-accuracy differences of BP-SVRG (the accuracy and same-evaluations parts)',
      xLabel: 'seed',
      yLabel: 'Δ test accuracy (percentage points)',
      series: LEARNING_RATES.flatMap((lr, j) => [
        perSeedPoints(`BP-SVRG − B-SVRG, η₀ ${lr}`, paired[j]!.accuracy),
        perSeedPoints(`BP-SVRG − SGD same evaluations, η₀ ${lr}`, paired[j]!.vsLong),
      ]),
    },
    {
      id: 'paired-flatness',
      title: 'Per-seed log-ratios BP-SVRG / B-SVRG of λ_max and M1 (the flatness parts; < 0: BP-SVRG flatter)',
      xLabel: 'seed',
      yLabel: 'ln(BP-SVRG / B-SVRG)',
      series: LEARNING_RATES.flatMap((lr, j) => [
        perSeedPoints(`ln λ_max ratio, η₀ ${lr}`, paired[j]!.lambda),
        perSeedPoints(`ln M1 ratio, η₀ ${lr}`, paired[j]!.m1),
      ]),
    },
    {
      id: 'final-lambda-max',
      title: 'Final λ_max of the training-loss Hessian (fixed curvature batch, Lanczos), each seed',
      xLabel: 'seed',
      yLabel: 'λ_max',
      yLog: true,
      series: LEARNING_RATES.flatMap((lr) =>
        METHODS.map((m) => perSeedPoints(`${LABELS[m]}, η₀ ${lr}`, cell(m, lr).map((r) => r.final.lambdaMax))),
      ),
    },
    {
      id: 'direction-variance',
      title: 'Direction variance at w = w̃ over a fixed partition, relative to SGD, each seed',
      xLabel: 'seed',
      yLabel: 'V_estimator / V_SGD',
      series: [
        perSeedPoints('B-SVRG (expected 0)', variances.map((v) => v.vB / v.vSgd)),
        perSeedPoints('BP-SVRG (expected 4)', variances.map((v) => v.vBp / v.vSgd)),
      ],
    },
  ];

  // ---- mechanics checks -----------------------------------------------------------------
  const finished = trained.filter((r) => !r.diverged);
  const firstLr = LEARNING_RATES[0];
  const svrgCost = COST_FACTOR * budget.n * budget.epochs;
  const svrgEpochCost = (r: TrainOutput) => r.diverged || r.final.evaluations === svrgCost;
  const checks: Record<string, boolean> = {
    'every method and rate starts from the same training loss (paired seeds)': seeds.every((seed) =>
      grid.every((g, i) => g.seed !== seed || trained[i]!.initialLoss === out('b-svrg', firstLr, seed).initialLoss),
    ),
    'BP-SVRG direction variance at w = w̃ is 4× SGD’s': variances.every((v) => Math.abs(v.vBp / v.vSgd - 4) <= 1e-9),
    'B-SVRG direction variance at w = w̃ is 0': variances.every((v) => v.vB <= 1e-12 * v.vSgd),
    '(1/n) Σ ‖gᵢ‖² = M2² + V at every final point': finished.every(
      (r) => Math.abs(r.final.meanSquaredNorm - (r.final.m2 ** 2 + r.final.variance)) <= 1e-9 * r.final.meanSquaredNorm,
    ),
    'M2 ≤ M1 at every measured point (triangle inequality)': finished.every((r) =>
      r.points.every((p) => !Number.isFinite(p.m1) || p.m2 <= p.m1 * (1 + 1e-12)),
    ),
    'gradient evaluations increase along every run': trained.every((r) =>
      r.points.every((p, k) => k === 0 || p.evaluations > r.points[k - 1]!.evaluations),
    ),
    'no run diverged': trained.every((r) => !r.diverged),
  };
  // The cost accounting holds for whole runs only (--max-steps cuts them short).
  if (context.maxSteps === undefined) {
    checks['SGD (same evaluations) spent exactly the SVRG runs’ gradient evaluations'] = LEARNING_RATES.every((lr) =>
      seeds.every((seed) => {
        const long = out('sgd-long', lr, seed);
        const b = out('b-svrg', lr, seed);
        return long.diverged || b.diverged || long.final.evaluations === b.final.evaluations;
      }),
    );
    checks['SVRG runs cost 3N per epoch (N snapshot + 2N steps)'] = LEARNING_RATES.every((lr) =>
      cell('b-svrg', lr).every(svrgEpochCost) && cell('bp-svrg', lr).every(svrgEpochCost),
    );
  }
  return { numbers, plots, runs, checks };
}
