/**
 * locking: Defazio & Bottou 2019, Fig. 1 (docs/research.md §1, "practical complications").
 *
 * At the first step of an epoch the iterate equals the snapshot (w = w̃), so the SVRG direction
 * v_I = g_I(w) − g_I(w̃) + μ̃ is exactly μ̃ for every minibatch I — zero variance — provided the
 * random parts of the model are the same at both points. With Dropout (masks keyed by sample id
 * and seed) and a random-shift augmentation (keyed by (seed, id)):
 *
 * - locked (`svrg({ locking: true })`): g_I(w̃) uses the same batch object (same seed, same
 *   shifted images, same masks) → V_SVRG = 0;
 * - unlocked (`svrg({ locking: false })`): g_I(w̃) uses a freshly drawn seed (a new shift and
 *   new masks) → V_SVRG > 0.
 *
 * V is measured over a fixed partition of the data into minibatches, each row the estimator's
 * own direction (the engine's SvrgEstimator.direction, no step taken), against V_SGD of the
 * same partition. Plus BatchNorm: with locking the snapshot pass (μ̃ over the data, train mode)
 * leaves the running statistics bit-identical (BN reset via withFrozenStats), and a step's
 * snapshot evaluation g_I(w̃) adds nothing to what the step's own forward does; the unlocked
 * estimator is the control (its snapshot pass moves them).
 *
 * The verdict's two parts are tests over seeds (RULE): an exact sign test that the locked variance
 * is 0 on every seed (so the default is 10 seeds: with 3, even 3 of 3 gives p = 0.25) and a t-test
 * that the unlocked ratio is above 1/3, the paper's bar for SVRG paying for itself. The BatchNorm
 * bit-identity is a mechanics check. At paper size the model is the paper's LeNet-5 (BatchNorm) on
 * CIFAR-10 with its random crop and flip; its rows are minibatches of 128, the paper's batch.
 */
import {
  type Augmentation,
  type Batch,
  batchGradientAt,
  compose,
  type Dataset,
  estimatorVariance,
  flattenDirection,
  horizontalFlip,
  makeBatch,
  type Module,
  randomCrop,
  randomShift,
  type StepContext,
  stepSeed,
  svrg,
} from 'gradscope';
import { directionalPart } from '../claims.js';
import type { ClaimPart, Plot, Preset, RunRecord, Series, Size, SizeTable } from '../preset.js';
import { definePreset, defineTasks, passedOn } from '../skeleton.js';
import { mean, signTest, tTest } from '../stats.js';
import { lenet5Cifar } from './cifar-models.js';
import { cifar10, flatMlp, mnistSubsets } from './datasets.js';

interface Budget {
  /** Samples of the partition (a seeded MNIST subset; at paper size CIFAR-10's training set). */
  n: number;
  /** Minibatch size of the partition's rows. */
  block: number;
  /** Minibatches that warm the BatchNorm statistics up before the BatchNorm check. */
  warmupBatches: number;
}

const BUDGET: SizeTable<Budget> = {
  smoke: { n: 256, block: 16, warmupBatches: 4 },
  full: { n: 2048, block: 32, warmupBatches: 16 },
  paper: { n: 50000, block: 128, warmupBatches: 16 },
};

/** What is measured at a size: the models, the augmentation and the data. */
interface Setup {
  /** The model of the variance measurement (random parts: dropout or BatchNorm). */
  varianceModel(seed: number): Module;
  /** The model of the BatchNorm check. */
  batchNormModel(seed: number): Module;
  augment: Augmentation;
  description: string;
}

const SHIFT = randomShift({ maxShift: 2 });
/** The shift acts on the 1×28×28 image behind the flat 784-vector. */
const mnistShift: Augmentation = (x, _shape, key) => SHIFT(x, [1, 28, 28], key);

const MNIST_SETUP: Setup = {
  varianceModel: (seed) => flatMlp([784, 32, 10], seed, { dropout: 0.3 }),
  batchNormModel: (seed) => flatMlp([784, 32, 10], seed, { batchNorm: true }),
  augment: mnistShift,
  description: 'MLP 784-32-10 with dropout 0.3 (BatchNorm check: with BatchNorm1d) on MNIST, random shift ≤ 2 px',
};
const CIFAR_SETUP: Setup = {
  varianceModel: lenet5Cifar,
  batchNormModel: lenet5Cifar,
  augment: compose(randomCrop({ padding: 4 }), horizontalFlip()),
  description: 'LeNet-5 (BatchNorm, ReLU) on CIFAR-10, random crop (padding 4) and horizontal flip',
};
const setupAt = (size: Size): Setup => (size === 'paper' ? CIFAR_SETUP : MNIST_SETUP);

type BatchMaker = (indices: readonly number[], seed: number) => Batch;

function batchMaker(data: Dataset, model: Module, augment: Augmentation): BatchMaker {
  const dtype = model.parameters()[0]!.dtype;
  return (indices, seed) => makeBatch(data, indices, { augment, augmentSeed: seed, seed, dtype });
}

function contextFor(
  model: Module,
  data: Dataset,
  mb: BatchMaker,
  seed: number,
  k: number,
  steps: number,
  indices: readonly number[],
): StepContext {
  const makeBatchAt = (idx: readonly number[], s?: number) => mb(idx, s ?? stepSeed(seed, k));
  return { model, data, epoch: 0, step: k, stepInEpoch: k, stepsInEpoch: steps, makeBatch: makeBatchAt, indices };
}

function blocks(n: number, b: number): number[][] {
  return Array.from({ length: Math.floor(n / b) }, (_, k) => Array.from({ length: b }, (_, i) => k * b + i));
}

export interface LockingMeasurement {
  vSgd: number;
  vLocked: number;
  vUnlocked: number;
}

/**
 * V_SGD and V_SVRG with and without locking at w = w̃ (the first step of an epoch), over a fixed
 * partition of `data` into minibatches (at most `maxRows` of them), for the setup's model (a
 * Dropout MLP by default) with its augmentation (a random shift by default).
 */
export function measureLocking(
  seed: number,
  data: Dataset,
  block: number,
  setup: Setup = MNIST_SETUP,
  maxRows = Infinity,
): LockingMeasurement {
  const model = setup.varianceModel(seed);
  model.train();
  const parts = blocks(data.length, block).slice(0, maxRows);
  const mb = batchMaker(data, model, setup.augment);
  const w = model.flattenParameters();
  const sgdRow = (idx: readonly number[], k: number) =>
    batchGradientAt(model, mb(idx, stepSeed(seed, k)), w).grad.toTypedArray();
  const sgdRows = parts.map((idx, k) => Float64Array.from(sgdRow(idx, k)));
  const svrgVariance = (locking: boolean) => {
    const estimator = svrg({ locking, seed: seed + 17 });
    estimator.startEpoch(contextFor(model, data, mb, seed, 0, parts.length, parts[0]!));
    // Every row is a first step after the snapshot: no update is applied, so w = w̃ throughout.
    const rows = parts.map((idx, k) => {
      const context = contextFor(model, data, mb, seed, k, parts.length, idx);
      const direction = estimator.direction(context, mb(idx, stepSeed(seed, k)));
      return flattenDirection(direction);
    });
    return estimatorVariance(rows);
  };
  return { vSgd: estimatorVariance(sgdRows), vLocked: svrgVariance(true), vUnlocked: svrgVariance(false) };
}

export interface BatchNormCheck {
  /** Running statistics bit-identical before and after the locked snapshot pass. */
  lockedUnchanged: boolean;
  /** A locked step's statistics equal those of a plain forward of the same batch (g_I(w̃) adds nothing). */
  lockedStepMatchesPlain: boolean;
  /** Largest change of a running statistic by the unlocked snapshot pass (the control). */
  unlockedMaxChange: number;
  lockedMaxChange: number;
}

const copyStats = (model: Module) => new Map([...model.saveStats()].map(([k, v]) => [k, Float64Array.from(v)]));
function maxChange(a: Map<string, Float64Array>, b: Map<string, Float64Array>): number {
  let m = 0;
  for (const [k, v] of a) {
    const u = b.get(k)!;
    for (let j = 0; j < v.length; j++) m = Math.max(m, Math.abs(v[j]! - u[j]!));
  }
  return m;
}
function identical(a: Map<string, Float64Array>, b: Map<string, Float64Array>): boolean {
  for (const [k, v] of a) {
    const u = b.get(k);
    if (!u || u.length !== v.length) return false;
    for (let j = 0; j < v.length; j++) if (!Object.is(v[j], u[j])) return false;
  }
  return a.size === b.size;
}

/** BatchNorm: running statistics around the SVRG snapshot pass, with and without locking (BN reset). */
export function checkBatchNorm(
  seed: number,
  data: Dataset,
  block: number,
  warmupBatches: number,
  setup: Setup = MNIST_SETUP,
): BatchNormCheck {
  const model = setup.batchNormModel(seed);
  model.train();
  const parts = blocks(data.length, block);
  const mb = batchMaker(data, model, setup.augment);
  // Warm the running statistics up so they are not the initial 0 / 1.
  for (let k = 0; k < warmupBatches; k++) {
    batchGradientAt(model, mb(parts[k % parts.length]!, stepSeed(seed, k)), model.flattenParameters());
  }
  const start = model.saveStats();
  const snapshotPass = (locking: boolean) => {
    model.restoreStats(start);
    const estimator = svrg({ locking, seed: seed + 17 });
    const before = copyStats(model);
    estimator.startEpoch(contextFor(model, data, mb, seed, 0, parts.length, parts[0]!));
    return { estimator, before, after: copyStats(model) };
  };
  const locked = snapshotPass(true);
  // A locked step: its statistics must equal those of one plain train forward of the batch.
  const batch = mb(parts[0]!, stepSeed(seed, 0));
  locked.estimator.direction(contextFor(model, data, mb, seed, 0, parts.length, parts[0]!), batch);
  const afterStep = copyStats(model);
  model.restoreStats(start);
  batchGradientAt(model, batch, model.flattenParameters());
  const afterPlain = copyStats(model);
  const unlocked = snapshotPass(false);
  model.restoreStats(start);
  return {
    lockedUnchanged: identical(locked.before, locked.after),
    lockedStepMatchesPlain: identical(afterStep, afterPlain),
    lockedMaxChange: maxChange(locked.before, locked.after),
    unlockedMaxChange: maxChange(unlocked.before, unlocked.after),
  };
}

/** A task: one seed at a size (plain data: it crosses to worker threads). */
export interface LockingInput {
  seed: number;
  size: Size;
  /** --data DIR (CIFAR-10 at paper size). */
  dataDir?: string;
  /** --max-steps N: at most max(N, 2) rows, each a first step after the snapshot (nothing is trained). */
  maxSteps?: number;
}

export interface LockingOutput {
  seed: number;
  m: LockingMeasurement;
  bn: BatchNormCheck;
}

/** The locked and unlocked variance and the BatchNorm check for one seed. */
export function measureSeed({ seed, size, dataDir, maxSteps }: LockingInput): LockingOutput {
  const budget = BUDGET[size];
  if (!budget) throw new Error(`locking: no budget at size ${size}`);
  const setup = setupAt(size);
  const data = size === 'paper' ? cifar10(dataDir, 'locking').train : mnistSubsets(seed, budget.n, 0).train;
  const maxRows = maxSteps === undefined ? Infinity : Math.max(2, maxSteps);
  const m = measureLocking(seed, data, budget.block, setup, maxRows);
  const bn = checkBatchNorm(seed, data, budget.block, Math.min(budget.warmupBatches, maxRows), setup);
  return { seed, m, bn };
}

const tasks = defineTasks({ measure: measureSeed });

/** "Sizeable": above the 1/3 the paper says SVRG's ratio must stay under to pay for its extra gradients. */
export const UNLOCKED_BOUND = 1 / 3;
/** The locked variance counts as 0 at or below this fraction of V_SGD (rounding of the subtraction). */
export const ZERO_TOLERANCE = 1e-12;

const RULE =
  'Two parts, each a two-sided test over seeds at α = 0.05, on V_SVRG / V_SGD at the first step of an epoch ' +
  '(w = w̃), over a fixed partition into minibatches. (1) locked-zero: with locking the ratio is 0 (≤ 1e-12): an ' +
  'exact sign test of the number of seeds on which it is, against 1/2 (with 10 seeds, 10 of 10 gives p = 0.002, ' +
  '9 of 10 p = 0.021, 8 of 10 is INCONCLUSIVE). (2) unlocked-sizeable: without locking the ratio is a ' +
  'sizeable fraction of SGD’s variance, above 1/3 (the paper’s bar for SVRG paying for its extra gradients): ' +
  't-test of the ratio against 1/3. ' +
  'A part is REPRODUCED when its test rejects on the paper’s side, NOT REPRODUCED when it rejects on the other, ' +
  'INCONCLUSIVE otherwise; the preset is NOT REPRODUCED if any part is, REPRODUCED if both are. The BatchNorm ' +
  'running statistics being bit-identical across the locked snapshot pass is a mechanics check.';

/** The two claim parts from the per-seed outputs (the t-test needs at least two seeds). */
export function judgeLocking(outputs: readonly LockingOutput[], alpha: number): ClaimPart[] {
  const zero = outputs.filter(({ m }) => m.vLocked <= ZERO_TOLERANCE * m.vSgd).length;
  return [
    directionalPart(
      {
        id: 'locked-zero',
        claim: 'With transform and dropout locking the SVRG variance at the first step after a snapshot is exactly 0.',
        effectLabel: 'share of seeds whose locked V_SVRG / V_SGD is 0 (≤ 1e-12)',
      },
      signTest(zero, outputs.length, alpha),
      'greater',
      alpha,
    ),
    directionalPart(
      {
        id: 'unlocked-sizeable',
        claim: 'Without locking the variance at the first step is not zero but a sizeable fraction of SGD’s.',
        effectLabel: 'unlocked V_SVRG / V_SGD at w = w̃ (bound: 1/3)',
      },
      tTest(outputs.map(({ m }) => m.vUnlocked / m.vSgd), UNLOCKED_BOUND, alpha),
      'greater',
      alpha,
    ),
  ];
}

export const lockingPreset: Preset = definePreset<Budget, LockingOutput[]>({
  name: 'locking',
  paper:
    'Defazio & Bottou 2019, "On the ineffectiveness of variance reduced optimization for deep learning", Fig. 1 ' +
    '(transform locking, dropout locking, BN reset)',
  claim:
    'At the first step after a snapshot SVRG has zero variance only if augmentations and dropout masks are locked ' +
    'between w and w̃ (and the snapshot pass must not disturb BatchNorm statistics); without locking the variance ' +
    'is a sizeable fraction of SGD’s.',
  rule: RULE,
  seeds: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
  alpha: 0.05,
  budgets: BUDGET,
  describeBudget: (b, size) =>
    `${setupAt(size).description}; ` +
    `${size === 'paper' ? 'CIFAR-10’s 50,000 training images' : `a seeded ${b.n}-sample MNIST subset`} ` +
    `in minibatches of ${b.block}, at the initialisation (w = w̃, nothing trained); BatchNorm warmed up for ` +
    `${b.warmupBatches} minibatches before its check.`,
  scaleDown: (size) =>
    size === 'paper'
      ? 'The paper measures during epoch two of training; here at the initialisation, where w = w̃ by construction.'
      : 'An MNIST MLP with dropout and a random shift, not the paper’s LeNet-5 with crops and flips on CIFAR-10, ' +
        'at the initialisation instead of during epoch two.',
  tasks,
  async measure(context) {
    if (context.seeds.length < 2) {
      const got = context.seeds.length;
      throw new Error(`locking: the claim parts are tests over seeds and need at least 2 seeds; got ${got}`);
    }
    if (context.size === 'paper') cifar10(context.dataDir, 'locking');
    const extra = passedOn(context);
    context.progress(0, context.size === 'paper' ? 'loading CIFAR-10' : 'loading MNIST');
    return context.run(tasks.measure, context.seeds.map((seed) => ({ seed, size: context.size, ...extra })), 'seeds');
  },
  judge: (outputs, context) => judgeLocking(outputs, context.alpha),
  plot(measured, _parts, context) {
    const { budget } = context;
    const runs: RunRecord[] = [];
    const numbers: Record<string, number> = {};
    const model = setupAt(context.size).description;
    for (const { seed, m, bn } of measured) {
      const config = { seed, n: budget.n, block: budget.block, model };
      const ratio = (v: number) => v / m.vSgd;
      for (const [locking, v] of [[true, m.vLocked], [false, m.vUnlocked]] as const) {
        const id = `${locking ? 'locked' : 'unlocked'}-seed${seed}`;
        const metrics = { vSgd: m.vSgd, vSvrg: v, ratio: ratio(v) };
        runs.push({ id, config: { ...config, locking }, diverged: false, metrics });
      }
      runs.push({
        id: `batchnorm-seed${seed}`,
        config: { ...config, warmupBatches: budget.warmupBatches },
        diverged: false,
        metrics: {
          lockedUnchanged: bn.lockedUnchanged ? 1 : 0,
          lockedStepMatchesPlain: bn.lockedStepMatchesPlain ? 1 : 0,
          lockedMaxChange: bn.lockedMaxChange,
          unlockedMaxChange: bn.unlockedMaxChange,
        },
      });
      numbers[`seed ${seed}: locked V_SVRG / V_SGD`] = ratio(m.vLocked);
      numbers[`seed ${seed}: unlocked V_SVRG / V_SGD`] = ratio(m.vUnlocked);
      numbers[`seed ${seed}: BN max change, locked snapshot pass`] = bn.lockedMaxChange;
      numbers[`seed ${seed}: BN max change, unlocked snapshot pass`] = bn.unlockedMaxChange;
    }
    const x = measured.map(({ seed }) => seed);
    const unlocked = measured.map(({ m }) => m.vUnlocked / m.vSgd);
    numbers['mean unlocked V_SVRG / V_SGD'] = mean(unlocked);
    const points = (label: string, y: number[]): Series => ({ label, x, y, style: 'points' });
    const plots: Plot[] = [
      {
        id: 'variance-at-snapshot',
        title: 'SVRG variance at the first step of an epoch (w = w̃), relative to SGD, per seed',
        xLabel: 'seed',
        yLabel: 'V_SVRG / V_SGD',
        series: [
          points('locked (same seed: same transforms and dropout masks)', measured.map(({ m }) => m.vLocked / m.vSgd)),
          points('unlocked (new seed at w̃)', unlocked),
          { label: 'bound of the unlocked part: 1/3', x, y: x.map(() => UNLOCKED_BOUND) },
        ],
      },
      {
        id: 'batchnorm-stats',
        title: 'Largest change of a BatchNorm running statistic across the snapshot pass, per seed',
        xLabel: 'seed',
        yLabel: 'max |Δ running statistic|',
        series: [
          points('locked (BN reset)', measured.map(({ bn }) => bn.lockedMaxChange)),
          points('unlocked (no reset)', measured.map(({ bn }) => bn.unlockedMaxChange)),
        ],
      },
    ];
    const checks = {
      'locked variance is 0 at w = w̃': measured.every(({ m }) => m.vLocked <= ZERO_TOLERANCE * m.vSgd),
      'unlocked variance > 0 at w = w̃': measured.every(({ m }) => m.vUnlocked > 0),
      'BN statistics unchanged by the locked snapshot pass': measured.every(({ bn }) => bn.lockedUnchanged),
      'a locked step moves BN statistics as a plain forward does': measured.every((o) => o.bn.lockedStepMatchesPlain),
      'unlocked snapshot pass moves BN statistics (control)': measured.every(({ bn }) => bn.unlockedMaxChange > 0),
    };
    return { numbers, plots, runs, checks };
  },
});
