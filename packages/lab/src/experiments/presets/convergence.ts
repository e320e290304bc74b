/**
 * convergence: Defazio & Bottou 2019, §7 and Fig. 5 (docs/research.md §1): SGD, SVRG and SCSG
 * compared per epoch, as the paper plots them, on a small and a convolutional model.
 *
 * The paper trains each method 10 times per model (momentum 0.9, learning rate 0.1, ÷10 at epochs
 * 150 and 225 of 300, batch 128) and plots test error against epochs, "rather than gradient
 * evaluations": SVRG's snapshot passes are not counted on that axis, so per epoch SVRG gets about
 * three times SGD's gradient evaluations. It finds SVRG "slightly faster" than SGD on LeNet, "a little
 * slower" on the larger models, and SCSG "the worst in each comparison".
 *
 * Here each model (full size: a one-hidden-layer MLP and LeNet-5 with BatchNorm, on seeded MNIST
 * subsets; paper size: LeNet-5 and ResNet-110 on CIFAR-10) is trained by the three methods with the
 * same update rule, learning rate and step-decay schedule (÷10 at 50 % and 75 % of the epochs). Per
 * seed the three runs share the data split, the initialisation and the batch order (paired seeds);
 * they differ only in the estimator:
 *   - SGD: v = g_S(w); cost b per step;
 *   - SVRG: snapshot every epoch (last iterate, locking), μ̃ = ∇F(w̃) recomputed over all N samples;
 *     v = g_S(w) − g_S(w̃) + μ̃; cost N per snapshot + 2b per step;
 *   - SCSG as in the paper's reference code: mega-batch B = 10 b, 10 inner steps on minibatches drawn
 *     from the mega-batch; cost B per mega-batch + 2b per inner step.
 * The costs are the estimators' own counters of sample-gradient evaluations (checked against these
 * formulas), so the same runs are also plotted per gradient evaluation.
 *
 * The claim parts are judged at equal epochs, on the test error after the last epoch (RULE):
 * non-superiority of SVRG over SGD against a declared margin (the paper's "no better", which allows
 * its "slightly faster" on LeNet), SCSG worse than SGD, and SCSG no better than SVRG (non-superiority:
 * the strict "SCSG worse than SVRG", ≈ +0.5 point on LeNet-5, needs more than 10 seeds and is
 * reported, not voted), each a t-test over the paired seeds.
 * The paper's Table 1 compares final errors the same way; the area between the per-epoch curves is
 * reported beside, not voted, since its first epochs are far noisier across seeds than its last.
 */
import {
  type Batch,
  compose,
  type Dataset,
  type Estimator,
  horizontalFlip,
  lenet5,
  makeBatch,
  mlp,
  type Module,
  noGrad,
  NonFiniteError,
  randomCrop,
  schedule,
  type Schedule,
  ScsgEstimator,
  SgdEstimator,
  SgdUpdate,
  stepDecayLR,
  svrg,
  train,
  withMode,
} from 'gradscope';
import { directionalPart, type PartSpec } from '../claims.js';
import type { ClaimPart, Plot, Preset, RunRecord, Series, Size, SizeTable } from '../preset.js';
import { definePreset, defineTasks, passedOn, type PresetContext } from '../skeleton.js';
import { mean, sampleVariance, studentTQuantile, tTest } from '../stats.js';
import { cifarResnet, lenet5Cifar } from './cifar-models.js';
import { cifar10, mnistSubsets } from './datasets.js';

export const METHODS = ['sgd', 'svrg', 'scsg'] as const;
export type ConvergenceMethod = (typeof METHODS)[number];
export type ConvergenceModel = 'mlp' | 'lenet5' | 'lenet5-cifar' | 'resnet110';
type PerMethod<T> = Record<ConvergenceMethod, T>;

const METHOD_LABEL: Record<ConvergenceMethod, string> = {
  sgd: 'SGD',
  svrg: 'SVRG (snapshot per epoch)',
  scsg: 'SCSG (B = 10b, 10 inner steps)',
};

const MODEL_LABEL: Record<ConvergenceModel, string> = {
  mlp: 'MLP',
  lenet5: 'LeNet-5',
  'lenet5-cifar': 'LeNet-5',
  resnet110: 'ResNet-110',
};

const MOMENTUM = 0.9;
const SCSG_FACTOR = 10;
const SCSG_INNER = 10;
/** Test error is evaluated in chunks of this many samples (CIFAR-10's 10,000 at paper size). */
const EVAL_CHUNK = 1000;

/**
 * SVRG counts as "better than SGD" only when its test error is more than this many points below
 * SGD's. One point is above every SVRG/SGD gap the paper reports (final errors of CIFAR-10 ResNets
 * 0.01–0.54 points apart, Table 1) and above what it calls "slightly faster" on LeNet: a speed-up
 * per epoch worth SVRG's three gradient evaluations per sample would have to be larger.
 */
export const MARGIN_POINTS = 1;

/** One model's training run, the same for the three methods. */
export interface ModelBudget {
  model: ConvergenceModel;
  /** Hidden width (the MLP only). */
  hidden?: number;
  /** Training samples (at paper size: CIFAR-10's training set, as many as the folder holds). */
  n: number;
  /** Test samples, disjoint from the training ones. */
  testN: number;
  batch: number;
  lr: number;
  epochs: number;
  /** Epochs at which the learning rate is divided by 10 (the paper's 150 and 225 of 300: 50 % and 75 %). */
  milestones: readonly number[];
}

export interface Budget {
  data: 'mnist' | 'cifar10';
  /** Random crops (padding 4) and horizontal flips, locked per epoch (the paper's transform locking). */
  augment: boolean;
  models: readonly ModelBudget[];
}

export const BUDGETS: SizeTable<Budget> = {
  smoke: {
    data: 'mnist',
    augment: false,
    models: [
      { model: 'mlp', hidden: 16, n: 320, testN: 128, batch: 16, lr: 0.05, epochs: 2, milestones: [1] },
      { model: 'lenet5', n: 32, testN: 32, batch: 8, lr: 0.05, epochs: 2, milestones: [1] },
    ],
  },
  full: {
    data: 'mnist',
    augment: false,
    models: [
      { model: 'mlp', hidden: 64, n: 4096, testN: 2000, batch: 128, lr: 0.1, epochs: 10, milestones: [5, 8] },
      { model: 'lenet5', n: 1024, testN: 2000, batch: 32, lr: 0.1, epochs: 4, milestones: [2, 3] },
    ],
  },
  paper: {
    data: 'cifar10',
    augment: true,
    models: [
      { model: 'lenet5-cifar', n: 50_000, testN: 10_000, batch: 128, lr: 0.1, epochs: 300, milestones: [150, 225] },
      { model: 'resnet110', n: 50_000, testN: 10_000, batch: 128, lr: 0.1, epochs: 300, milestones: [150, 225] },
    ],
  },
};

export const RULE =
  'Per model, on the paired seeds, with the effects in test-error points (100 × the difference in test error) at ' +
  'equal epochs: each method’s test error after its last epoch E (a diverged run counts as error 1). ' +
  `Non-superiority parts, "SVRG no better than SGD" (d = SVRG − SGD) and "SCSG no better than SVRG" (d = SCSG − ` +
  `SVRG): a two-sided t-test of mean d against −${MARGIN_POINTS} point; REPRODUCED if p < α with mean d > ` +
  `−${MARGIN_POINTS} (at most ${MARGIN_POINTS} point better), NOT REPRODUCED if p < α with mean d < ` +
  `−${MARGIN_POINTS}. Directional part "SCSG worse than SGD" (d = SCSG − SGD): a two-sided t-test against 0; ` +
  'REPRODUCED if p < α with mean d > 0, NOT REPRODUCED if p < α with mean d < 0. α = 0.05; INCONCLUSIVE when ' +
  'p ≥ α. The preset is REPRODUCED if every part is, NOT REPRODUCED if any part is. Also reported, not voted: ' +
  'SCSG − SVRG against 0 (the strict "SCSG worst", which 10 seeds cannot decide on LeNet-5), the direction of ' +
  'SVRG − SGD, and the same differences averaged over every epoch end (the area between the curves).';

// ---- one run (a task) ----------------------------------------------------------------------

/** One task: a model trained by one method on one seed, at a size. */
export interface ConvergenceInput {
  seed: number;
  model: ConvergenceModel;
  method: ConvergenceMethod;
  size: Size;
  /** CIFAR-10's folder (paper size). */
  dataDir?: string;
  /** Stop after this many steps (`--max-steps`). */
  maxSteps?: number;
}

export interface EvalPoint {
  /** Epochs done (fractional where the run stopped inside an epoch). */
  epoch: number;
  /** Sample-gradient evaluations spent so far (the estimator's counter). */
  cost: number;
  testError: number;
}

export interface ConvergenceRun {
  /** Test error before training and after every epoch. */
  points: EvalPoint[];
  /** Mean minibatch training loss of each epoch. */
  epochLoss: number[];
  diverged: boolean;
  /** Training samples, batch size, steps per epoch, steps taken. */
  N: number;
  b: number;
  stepsPerEpoch: number;
  steps: number;
  /** True when `maxSteps` stopped the run before its last epoch. */
  stopped: boolean;
}

function makeEstimator(method: ConvergenceMethod, seed: number): Estimator {
  if (method === 'sgd') return new SgdEstimator();
  if (method === 'svrg') return svrg({ locking: true, seed: seed * 1009 + 11 });
  const options = { megaBatchFactor: SCSG_FACTOR, innerSteps: SCSG_INNER, locking: true, seed: seed * 1009 + 13 };
  return new ScsgEstimator(options);
}

function makeModel(budget: ModelBudget, seed: number): Module {
  switch (budget.model) {
    case 'mlp':
      return mlp([784, budget.hidden ?? 64, 10], { seed, dtype: 'float32' });
    case 'lenet5':
      return lenet5({ seed });
    case 'lenet5-cifar':
      return lenet5Cifar(seed);
    case 'resnet110':
      return cifarResnet(seed, 18);
  }
}

/** Fraction of wrong argmax predictions over a dataset (eval mode, no graph, in chunks). */
export function testError(model: Module, data: Dataset): number {
  let wrong = 0;
  withMode(model, 'eval', () =>
    noGrad(() => {
      for (let start = 0; start < data.length; start += EVAL_CHUNK) {
        const indices = Array.from({ length: Math.min(EVAL_CHUNK, data.length - start) }, (_, i) => start + i);
        const batch: Batch = makeBatch(data, indices, { dtype: 'float32', seed: 0 });
        const predicted = model.forward(batch.x, { sampleIds: batch.sampleIds! }).argmax(1).toTypedArray();
        const targets = batch.targets as Int32Array;
        for (let i = 0; i < targets.length; i++) if (predicted[i] !== targets[i]) wrong++;
      }
    }),
  );
  return wrong / data.length;
}

function loadData(input: ConvergenceInput, budget: Budget, mb: ModelBudget): { train: Dataset; test: Dataset } {
  if (budget.data === 'cifar10') return cifar10(input.dataDir, 'convergence');
  const { train: data, evaluation } = mnistSubsets(input.seed, mb.n, mb.testN, mb.model === 'mlp' ? 'flat' : 'image');
  return { train: data, test: evaluation };
}

/** train's `makeBatch` option. */
type BatchMaker = (data: Dataset, indices: readonly number[], batchSeed: number) => Batch;

/** The per-epoch-locked random crop and flip of the paper's CIFAR-10 runs, as train's makeBatch. */
function lockedAugmentation(seed: number, epochOf: () => number): BatchMaker {
  const augment = compose(randomCrop({ padding: 4 }), horizontalFlip());
  // One augmentation seed per epoch, used by the snapshot pass and by every step of that epoch.
  return (data, indices, batchSeed) =>
    makeBatch(data, indices, { augment, augmentSeed: seed * 100_003 + epochOf(), seed: batchSeed, dtype: 'float32' });
}

function findModelBudget(size: Size, model: ConvergenceModel): { budget: Budget; mb: ModelBudget } {
  const budget = BUDGETS[size];
  const mb = budget?.models.find((m) => m.model === model);
  if (!budget || !mb) throw new Error(`convergence: no ${model} run declared at size ${size}`);
  return { budget, mb };
}

/** Train one model by one method; test error before training and after every epoch. */
export function trainConvergence(input: ConvergenceInput): ConvergenceRun {
  const { seed, method, maxSteps } = input;
  const { budget, mb } = findModelBudget(input.size, input.model);
  const { train: data, test } = loadData(input, budget, mb);
  const model = makeModel(mb, seed);
  const estimator = makeEstimator(method, seed);
  const stepsPerEpoch = Math.ceil(data.length / mb.batch);
  const points: EvalPoint[] = [{ epoch: 0, cost: 0, testError: testError(model, test) }];
  const epochLoss: number[] = [];
  let epochNow = 0;
  let steps = 0;
  let diverged = false;
  let stopped = false;
  const record = (epoch: number, cost: number) => points.push({ epoch, cost, testError: testError(model, test) });
  const lrSchedule: Schedule = schedule(stepDecayLR(mb.lr, 0.1, { milestones: mb.milestones }), mb.batch);
  try {
    const run = train(model, data, {
      estimator,
      update: new SgdUpdate({ momentum: MOMENTUM }),
      schedule: lrSchedule,
      epochs: mb.epochs,
      seed,
      ...(budget.augment ? { makeBatch: lockedAugmentation(seed, () => epochNow) } : {}),
      ...(maxSteps === undefined ? {} : { maxSteps }),
      onEpochEnd: (info) => {
        epochLoss.push(info.meanLoss);
        record(info.epoch + 1, info.cost);
        epochNow = info.epoch + 1;
      },
    });
    steps = run.steps;
    stopped = run.stopped === 'maxSteps';
    // Stopped by --max-steps within an epoch: a point where it stopped (an epoch's end has one).
    const { epoch, stepInEpoch } = run.state;
    if (stopped && stepInEpoch > 0) record(epoch + stepInEpoch / stepsPerEpoch, run.cost);
  } catch (error) {
    if (!(error instanceof NonFiniteError)) throw error;
    diverged = true;
    steps = error.step;
  }
  return { points, epochLoss, diverged, N: data.length, b: mb.batch, stepsPerEpoch, steps, stopped };
}

const tasks = defineTasks({ train: trainConvergence });

// ---- measure and judge ---------------------------------------------------------------------

interface Measured {
  grid: ConvergenceInput[];
  outputs: ConvergenceRun[];
}

/**
 * A run's test error after epochs 1…E in points (100 × error); a diverged run counts as 100 from
 * its divergence on (the rule's convention), a run stopped by --max-steps has its stopping point.
 */
export function errorCurve(run: ConvergenceRun, epochs: number): number[] {
  const byEpoch = new Map(run.points.filter((p) => p.epoch > 0).map((p) => [Math.ceil(p.epoch), p.testError]));
  const curve: number[] = [];
  for (let e = 1; e <= epochs; e++) {
    const value = byEpoch.get(e);
    if (value !== undefined) curve.push(100 * value);
    else if (run.diverged) curve.push(100);
  }
  return curve;
}

/** The mean over epoch ends of a − b (test-error points): the area between two per-epoch curves. */
export function curveGap(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length || a.length === 0) {
    throw new RangeError(`curveGap: two curves of the same non-zero length expected; got ${a.length} and ${b.length}`);
  }
  return mean(a.map((v, i) => v - b[i]!));
}

/** Per seed, the differences of one model's methods (test-error points). */
export interface ModelEffects {
  svrgMinusSgd: number[];
  scsgMinusSgd: number[];
  scsgMinusSvrg: number[];
}

/**
 * The differences of one model from the three methods' per-epoch curves, seed by seed: `at: 'final'`
 * compares the errors after the last epoch (the judged effects), `at: 'area'` the mean over epoch ends.
 */
export function modelEffects(curves: PerMethod<number[][]>, at: 'final' | 'area' = 'final'): ModelEffects {
  const gap = (a: readonly number[], b: readonly number[]) => (at === 'final' ? a.at(-1)! - b.at(-1)! : curveGap(a, b));
  return {
    svrgMinusSgd: curves.svrg.map((c, s) => gap(c, curves.sgd[s]!)),
    scsgMinusSgd: curves.scsg.map((c, s) => gap(c, curves.sgd[s]!)),
    scsgMinusSvrg: curves.scsg.map((c, s) => gap(c, curves.svrg[s]!)),
  };
}

/** The three claim parts of one model, judged at α (the rule's tests). */
export function judgeModel(label: string, id: string, effects: ModelEffects, alpha: number): ClaimPart[] {
  const noBetter: PartSpec = {
    id: `svrg-no-better-${id}`,
    claim: `${label}: per epoch, SVRG’s test error is not more than ${MARGIN_POINTS} point below SGD’s.`,
    effectLabel: 'SVRG − SGD test error after the last epoch (points)',
  };
  const worseThanSgd: PartSpec = {
    id: `scsg-worse-than-sgd-${id}`,
    claim: `${label}: per epoch, SCSG ends with a higher test error than SGD.`,
    effectLabel: 'SCSG − SGD test error after the last epoch (points)',
  };
  const notBetterThanSvrg: PartSpec = {
    id: `scsg-no-better-than-svrg-${id}`,
    claim: `${label}: per epoch, SCSG’s test error is not more than ${MARGIN_POINTS} point below SVRG’s.`,
    effectLabel: 'SCSG − SVRG test error after the last epoch (points)',
  };
  return [
    directionalPart(noBetter, tTest(effects.svrgMinusSgd, -MARGIN_POINTS, alpha), 'greater', alpha),
    directionalPart(worseThanSgd, tTest(effects.scsgMinusSgd, 0, alpha), 'greater', alpha),
    directionalPart(notBetterThanSvrg, tTest(effects.scsgMinusSvrg, -MARGIN_POINTS, alpha), 'greater', alpha),
  ];
}

/** Each model's per-method, per-seed runs, in seed order. */
function byModel(measured: Measured, context: PresetContext<Budget>, model: ConvergenceModel) {
  const { grid, outputs } = measured;
  const get = (seed: number, method: ConvergenceMethod) =>
    outputs[grid.findIndex((g) => g.seed === seed && g.method === method && g.model === model)]!;
  const runs = METHODS.map((m) => [m, context.seeds.map((s) => get(s, m))]);
  return Object.fromEntries(runs) as PerMethod<ConvergenceRun[]>;
}

/** The epochs every run of a model reached (E, or fewer where --max-steps stopped them). */
function epochsReached(runs: PerMethod<ConvergenceRun[]>, mb: ModelBudget): number {
  const all = METHODS.flatMap((m) => runs[m]);
  if (all.some((r) => r.stopped)) return Math.max(1, Math.min(...all.map((r) => Math.ceil(r.points.at(-1)!.epoch))));
  return mb.epochs;
}

function curvesOf(runs: PerMethod<ConvergenceRun[]>, epochs: number): PerMethod<number[][]> {
  const curves = METHODS.map((m) => [m, runs[m].map((r) => errorCurve(r, epochs))]);
  return Object.fromEntries(curves) as PerMethod<number[][]>;
}

/** The mean of equal-length rows and its 95 % t-interval at each index (a point where n = 1). */
export function meanWithBand(rows: readonly (readonly number[])[]): { y: number[]; lower: number[]; upper: number[] } {
  const n = rows.length;
  const len = Math.min(...rows.map((r) => r.length));
  const y: number[] = [];
  const lower: number[] = [];
  const upper: number[] = [];
  for (let i = 0; i < len; i++) {
    const column = rows.map((r) => r[i]!);
    const m = mean(column);
    const half = n > 1 ? studentTQuantile(0.975, n - 1) * Math.sqrt(sampleVariance(column) / n) : 0;
    y.push(m);
    lower.push(m - half);
    upper.push(m + half);
  }
  return { y, lower, upper };
}

function describeBudget(budget: Budget): string {
  const data = budget.data === 'mnist' ? 'seeded MNIST subsets' : 'CIFAR-10 (random crop 4 + flip, locked per epoch)';
  const models = budget.models.map((m) => {
    const name = m.model === 'mlp' ? `MLP 784-${m.hidden}-10` : `${MODEL_LABEL[m.model]} (BatchNorm, ReLU)`;
    const lr = `lr ${m.lr} ÷10 at epochs ${m.milestones.join(' and ')}`;
    return `${name} on ${m.n} samples (test ${m.testN}), batch ${m.batch}, ${lr}, ${m.epochs} epochs`;
  });
  return `SGD, SVRG and SCSG (momentum ${MOMENTUM}) on ${data}: ${models.join('; ')}; test error after every epoch.`;
}

function scaleDown(size: Size): string {
  if (size === 'paper') {
    return '';
  }
  return (
    'The paper trains LeNet-5 and DenseNet-40-36 on CIFAR-10 (and a ResNet on ImageNet) for 300 epochs at batch 128 ' +
    'with augmentation; here a one-hidden-layer MLP and LeNet-5 train on small MNIST subsets without augmentation ' +
    `for ${BUDGETS[size].models.map((m) => m.epochs).join(' and ')} epochs, with the two decays at the same ` +
    'fractions of the run.'
  );
}

// ---- the preset -----------------------------------------------------------------------------

export const convergencePreset: Preset = definePreset<Budget, Measured>({
  name: 'convergence',
  paper:
    'Defazio & Bottou 2019, "On the ineffectiveness of variance reduced optimization for deep learning", §7, Fig. 5',
  claim:
    'Per epoch (the paper’s axis, SVRG’s snapshot passes not counted), SVRG converges no faster than SGD — at ' +
    'most slightly faster on LeNet, a little slower on larger models — and the streaming variant SCSG converges ' +
    'worst.',
  rule: RULE,
  seeds: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
  alpha: 0.05,
  budgets: BUDGETS,
  describeBudget,
  scaleDown,
  tasks,
  async measure(context) {
    const { seeds, size } = context;
    // Refused before anything trains: the judge's tests need pairs.
    if (seeds.length < 2) {
      const got = seeds.length;
      throw new RangeError(`convergence: every claim part is a t-test over paired seeds: at least 2 seeds; got ${got}`);
    }
    const extra = passedOn(context);
    const grid: ConvergenceInput[] = context.budget.models.flatMap((mb) =>
      seeds.flatMap((seed) => METHODS.map((method) => ({ seed, model: mb.model, method, size, ...extra }))),
    );
    return { grid, outputs: await context.run(tasks.train, grid, 'runs') };
  },
  judge(measured, context) {
    return context.budget.models.flatMap((mb) => {
      const runs = byModel(measured, context, mb.model);
      const effects = modelEffects(curvesOf(runs, epochsReached(runs, mb)));
      return judgeModel(MODEL_LABEL[mb.model], mb.model, effects, context.alpha);
    });
  },
  plot(measured, _parts, context) {
    const { seeds } = context;
    const numbers: Record<string, number> = {};
    const plots: Plot[] = [];
    const lossSeries: Series[] = [];
    const checks: Record<string, boolean> = {};
    for (const mb of context.budget.models) {
      const name = MODEL_LABEL[mb.model];
      const runs = byModel(measured, context, mb.model);
      const epochs = epochsReached(runs, mb);
      const curves = curvesOf(runs, epochs);
      const effects = modelEffects(curves);
      Object.assign(numbers, modelNumbers(name, curves, effects, seeds, runs));
      plots.push(...modelPlots(mb, runs, curves, effects, seeds, epochs));
      for (const m of METHODS) {
        const rows = runs[m].map((r) => r.epochLoss);
        const band = meanWithBand(rows);
        // A run stopped by --max-steps inside its first epoch has no epoch loss yet.
        if (band.y.length === 0) continue;
        const x = band.y.map((_, e) => e + 1);
        const label = `${name}, ${METHOD_LABEL[m]}`;
        lossSeries.push({ label, x, y: band.y, band: { lower: band.lower, upper: band.upper } });
      }
      Object.assign(checks, modelChecks(mb, runs, seeds));
    }
    if (lossSeries.length > 0) {
      plots.push({
        id: 'train-loss',
        title: 'Mean minibatch training loss per epoch (mean over seeds, 95 % interval)',
        xLabel: 'epoch',
        yLabel: 'training cross-entropy',
        yLog: true,
        series: lossSeries,
      });
    }
    checks['no run diverged'] = measured.outputs.every((r) => !r.diverged);
    return { numbers, plots, runs: runRecords(measured, context), checks };
  },
});

/** The numbers of one model: mean errors, the unvoted comparisons and every seed's judged effects. */
function modelNumbers(
  name: string,
  curves: PerMethod<number[][]>,
  effects: ModelEffects,
  seeds: readonly number[],
  runs: PerMethod<ConvergenceRun[]>,
): Record<string, number> {
  const numbers: Record<string, number> = {};
  for (const m of METHODS) {
    numbers[`${name}: ${m} mean final test error (%)`] = mean(curves[m].map((c) => c.at(-1)!));
    numbers[`${name}: ${m} mean test error over epoch ends (%)`] = mean(curves[m].map((c) => mean(c)));
    numbers[`${name}: ${m} gradient evaluations / N`] = runs[m][0]!.points.at(-1)!.cost / runs[m][0]!.N;
  }
  // Reported, not voted: the direction of SVRG − SGD (the paper: slightly faster on LeNet, slower on
  // larger models), and the same comparisons over the whole curve.
  const direction = tTest(effects.svrgMinusSgd, 0);
  numbers[`${name}: SVRG − SGD final, two-sided p against 0 (direction, not voted)`] = direction.p;
  const area = modelEffects(curves, 'area');
  numbers[`${name}: SVRG − SGD, mean over epoch ends (points, not voted)`] = mean(area.svrgMinusSgd);
  numbers[`${name}: SVRG − SGD, mean over epoch ends, p against −${MARGIN_POINTS} (not voted)`] = tTest(
    area.svrgMinusSgd,
    -MARGIN_POINTS,
  ).p;
  numbers[`${name}: SCSG − SVRG final, two-sided p against 0 (strict "worst", not voted)`] = tTest(
    effects.scsgMinusSvrg,
    0,
  ).p;
  numbers[`${name}: SCSG − SGD, mean over epoch ends (points, not voted)`] = mean(area.scsgMinusSgd);
  numbers[`${name}: SCSG − SVRG, mean over epoch ends (points, not voted)`] = mean(area.scsgMinusSvrg);
  const final = (a: number[][], b: number[][]) => mean(a.map((c, s) => c.at(-1)! - b[s]!.at(-1)!));
  numbers[`${name}: SCSG − SGD final (points)`] = final(curves.scsg, curves.sgd);
  numbers[`${name}: SCSG − SVRG final (points)`] = final(curves.scsg, curves.svrg);
  seeds.forEach((seed, s) => {
    numbers[`${name}, seed ${seed}: SVRG − SGD final (points)`] = effects.svrgMinusSgd[s]!;
    numbers[`${name}, seed ${seed}: SCSG − SGD final (points)`] = effects.scsgMinusSgd[s]!;
    numbers[`${name}, seed ${seed}: SCSG − SVRG final (points)`] = effects.scsgMinusSvrg[s]!;
  });
  return numbers;
}

function modelPlots(
  mb: ModelBudget,
  runs: PerMethod<ConvergenceRun[]>,
  curves: PerMethod<number[][]>,
  effects: ModelEffects,
  seeds: readonly number[],
  epochs: number,
): Plot[] {
  const name = MODEL_LABEL[mb.model];
  const x = Array.from({ length: epochs }, (_, e) => e + 1);
  const perEpoch: Series[] = METHODS.map((m) => {
    const band = meanWithBand(curves[m]);
    const label = `${METHOD_LABEL[m]} (mean, 95 % interval)`;
    return { label, x, y: band.y, band: { lower: band.lower, upper: band.upper } };
  });
  const gapSeries = (label: string, other: ConvergenceMethod, minus: ConvergenceMethod): Series => {
    const band = meanWithBand(curves[other].map((c, s) => c.map((v, e) => v - curves[minus][s]![e]!)));
    return { label, x, y: band.y, band: { lower: band.lower, upper: band.upper } };
  };
  const at = (offset: number) => seeds.map(() => epochs + offset);
  const margin = -MARGIN_POINTS;
  const gaps: Series[] = [
    gapSeries('SVRG − SGD per epoch (mean, 95 % interval)', 'svrg', 'sgd'),
    gapSeries('SCSG − SGD per epoch (mean, 95 % interval)', 'scsg', 'sgd'),
    { label: 'each seed: SVRG − SGD after the last epoch', x: at(0.2), y: effects.svrgMinusSgd, style: 'points' },
    { label: 'each seed: SCSG − SGD after the last epoch', x: at(0.4), y: effects.scsgMinusSgd, style: 'points' },
    { label: 'each seed: SCSG − SVRG after the last epoch', x: at(0.6), y: effects.scsgMinusSvrg, style: 'points' },
    { label: `non-superiority margin (−${MARGIN_POINTS} point)`, x: [1, epochs + 0.6], y: [margin, margin] },
  ];
  const perCost: Series[] = METHODS.map((m) => {
    const ref = runs[m][0]!;
    const positive = ref.points.filter((p) => p.cost > 0);
    const rows = runs[m].map((r) => r.points.filter((p) => p.cost > 0).map((p) => 100 * p.testError));
    const band = meanWithBand(rows);
    return {
      label: `${METHOD_LABEL[m]} (mean, 95 % interval)`,
      x: positive.slice(0, band.y.length).map((p) => p.cost / ref.N),
      y: band.y,
      band: { lower: band.lower, upper: band.upper },
    };
  });
  return [
    {
      id: `test-error-epoch-${mb.model}`,
      title: `${name}: test error per epoch over ${seeds.length} seeds (Fig. 5’s axis)`,
      xLabel: 'epoch',
      yLabel: 'test error (%)',
      yLog: true,
      series: perEpoch,
    },
    {
      id: `test-error-gap-${mb.model}`,
      title: `${name}: test-error difference to SGD per epoch, and each seed’s judged effect`,
      xLabel: 'epoch',
      yLabel: 'difference in test error (points)',
      series: gaps,
    },
    {
      id: `test-error-evaluations-${mb.model}`,
      title: `${name}: test error per gradient evaluation (snapshot passes counted)`,
      xLabel: 'sample-gradient evaluations / N',
      yLabel: 'test error (%)',
      xLog: true,
      yLog: true,
      series: perCost,
    },
  ];
}

/** The samples a run stepped through: full epochs, then the stopped epoch's full batches. */
const samplesStepped = (r: ConvergenceRun) =>
  Math.floor(r.steps / r.stepsPerEpoch) * r.N + (r.steps % r.stepsPerEpoch) * r.b;

/** SCSG's mega-batch: B = 10b, at most the whole training set; one per 10 inner steps. */
const megaBatch = (r: ConvergenceRun) => Math.min(r.N, SCSG_FACTOR * r.b);
const megaBatches = (r: ConvergenceRun) => Math.ceil(r.steps / SCSG_INNER);

function modelChecks(mb: ModelBudget, runs: PerMethod<ConvergenceRun[]>, seeds: readonly number[]) {
  const name = MODEL_LABEL[mb.model];
  const ok = (m: ConvergenceMethod) => runs[m].filter((r) => !r.diverged);
  const cost = (r: ConvergenceRun) => r.points.at(-1)!.cost;
  // SVRG takes its epoch's snapshot before the epoch's first step: a stopped run paid one per epoch it began.
  const snapshots = (r: ConvergenceRun) => (r.stopped ? Math.ceil(r.steps / r.stepsPerEpoch) : mb.epochs);
  const checks: Record<string, boolean> = {
    [`${name}: paired start (on every seed the three methods start from the same test error)`]: seeds.every((_, s) =>
      METHODS.every((m) => runs[m][s]!.points[0]!.testError === runs.sgd[s]!.points[0]!.testError),
    ),
    [`${name}: SGD pays b per step`]: ok('sgd').every((r) => cost(r) === samplesStepped(r)),
    [`${name}: SVRG pays N per snapshot plus 2 per sample per step`]: ok('svrg').every(
      (r) => cost(r) === snapshots(r) * r.N + 2 * samplesStepped(r),
    ),
    // With a smaller last batch the mega-batch of that step is smaller too: the formula needs full batches.
    [`${name}: SCSG pays B = min(N, ${SCSG_FACTOR}b) per mega-batch plus 2b per inner step (all batches full)`]: ok(
      'scsg',
    ).every((r) => r.N % r.b !== 0 || cost(r) === megaBatches(r) * megaBatch(r) + 2 * samplesStepped(r)),
    [`${name}: gradient evaluations never decrease along a run`]: METHODS.every((m) =>
      runs[m].every((r) => r.points.every((p, i) => i === 0 || p.cost >= r.points[i - 1]!.cost)),
    ),
  };
  return checks;
}

function runRecords({ grid, outputs }: Measured, context: PresetContext<Budget>): RunRecord[] {
  return grid.map((g, i) => {
    const r = outputs[i]!;
    const mb = context.budget.models.find((m) => m.model === g.model)!;
    const last = r.points.at(-1)!;
    const metrics: Record<string, number> = {
      initialTestError: r.points[0]!.testError,
      finalTestError: r.diverged ? Number.NaN : last.testError,
      gradientEvaluations: last.cost,
      gradientEvaluationsPerN: last.cost / r.N,
      finalEpochTrainLoss: r.epochLoss.at(-1) ?? Number.NaN,
    };
    for (const p of r.points) if (p.epoch > 0) metrics[`test error after epoch ${p.epoch}`] = p.testError;
    const config: Record<string, number | string> = {
      seed: g.seed,
      model: g.model === 'mlp' ? `mlp 784-${mb.hidden}-10` : g.model,
      method: g.method,
      n: r.N,
      testN: mb.testN,
      batch: mb.batch,
      lr: mb.lr,
      momentum: MOMENTUM,
      epochs: mb.epochs,
      milestones: mb.milestones.join(','),
    };
    return { id: `${g.model}-${g.method}-seed${g.seed}`, config, diverged: r.diverged, metrics };
  });
}
