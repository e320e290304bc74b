/**
 * The SVRG-vs-SGD panel (Defazio & Bottou 2019): an MLP with BatchNorm and Dropout, trained on
 * the bundled MNIST subset with a random-shift augmentation, once with SGD and once with SVRG
 * (snapshot every epoch), with three switches:
 *
 * - transform locking: the snapshot gradient g_I(w̃) sees the same shifted images as g_I(w);
 * - dropout locking: … and the same dropout masks (same seed, same sample ids);
 * - BatchNorm reset: snapshot evaluations (μ̃ over the data and every g_I(w̃)) leave the
 *   running statistics untouched (`withFrozenStats`).
 *
 * gradscope's own `svrg({ locking })` switches all three together; this estimator composes the
 * same building blocks (`batchGradientAt`, `indicesGradientAt`) with one switch each, so the
 * page can show what each one does. Inside every epoch (before the steps at 0, ¼, ½, ¾ of it;
 * 0 is w = w̃) the variance of both estimators is measured over a fixed partition of the
 * evaluation digits into minibatches (BatchNorm couples samples, so rows are minibatch
 * gradients):
 *
 *   V_SGD = (1/K) Σ_k ‖g_k(w) − ḡ(w)‖²,  V_SVRG = (1/K) Σ_k ‖v_k − v̄‖²,  v_k = g_k(w) − g'_k(w̃) + μ̃,
 *
 * and the ratio R = V_SVRG / V_SGD. With all switches on, R = 0 exactly at w = w̃. The
 * measurement itself never changes the running statistics.
 */
import { estimatorVariance } from '../../../src/analysis/gradient-stats.js';
import { noGrad } from '../../../src/autograd/mode.js';
import { indicesGradientAt, unflatten } from '../../../src/optim/gradient.js';
import {
  batchGradientAt,
  makeBatch,
  mlp,
  randomShift,
  schedule,
  SgdEstimator,
  SgdUpdate,
  stepSeed,
  train,
  type Augmentation,
  type Batch,
  type Dataset,
  type Estimator,
  type Module,
  type StepContext,
  type Tensor,
} from '../../../src/index.js';

export interface SvrgSwitches {
  transformLock: boolean;
  dropoutLock: boolean;
  bnReset: boolean;
}

export interface SvrgPanelOptions {
  switches: SvrgSwitches;
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  hidden?: number;
  dropout?: number;
  seed?: number;
  /** Training samples used (from the start of the training set); default all. */
  trainSize?: number;
  /** Minibatch size of the variance partition of the evaluation set. */
  measureBlock?: number;
}

export interface RatioPoint {
  epoch: number;
  /** Fraction of the epoch before the measured step. */
  position: number;
  /** Global step (x axis of the loss plot). */
  step: number;
  vSgd: number;
  vSvrg: number;
  ratio: number;
}

export interface SvrgPanelResult {
  switches: SvrgSwitches;
  stepsPerEpoch: number;
  sgdLosses: number[];
  svrgLosses: number[];
  /** Accuracy on the evaluation digits in eval mode (running statistics) after each epoch. */
  sgdAccuracy: number[];
  svrgAccuracy: number[];
  ratios: RatioPoint[];
  /** Per epoch: largest change of a running statistic caused by the snapshot pass. */
  snapshotStatsDrift: number[];
  /** Sample-gradient evaluations spent. */
  sgdCost: number;
  svrgCost: number;
}

export type SvrgProgress = { phase: 'sgd' | 'svrg'; step: number; totalSteps: number; loss: number };

const SHIFT = randomShift({ maxShift: 2 });
/** The shift acts on the 1×28×28 image behind the flat 784-vector. */
const augment: Augmentation = (x, _shape, key) => SHIFT(x, [1, 28, 28], key);

/** Offsets that turn a batch's seed into a different (unlocked) one. */
const UNLOCK_TRANSFORM = 7_919;
const UNLOCK_DROPOUT = 104_729;

/** A batch whose augmentation and dropout seeds may differ. */
function batchOf(data: Dataset, indices: readonly number[], augmentSeed: number, dropoutSeed: number): Batch {
  return makeBatch(data, indices, { augment, augmentSeed, seed: dropoutSeed, dtype: 'float64' });
}

function statsCopy(model: Module): Map<string, Float64Array> {
  return new Map([...model.saveStats()].map(([k, v]) => [k, Float64Array.from(v)]));
}

function maxChange(a: Map<string, Float64Array>, b: Map<string, Float64Array>): number {
  let m = 0;
  for (const [k, v] of a) {
    const u = b.get(k)!;
    for (let j = 0; j < v.length; j++) m = Math.max(m, Math.abs(v[j]! - u[j]!));
  }
  return m;
}

/** SVRG with one switch per complication (see the file comment). */
export class SwitchableSvrg implements Estimator {
  readonly name = 'svrg-switchable';
  lastLoss = NaN;
  wTilde: Tensor | null = null;
  mu: Tensor | null = null;
  readonly drift: number[] = [];
  private spent = 0;

  constructor(
    readonly switches: SvrgSwitches,
    private readonly seed: number,
  ) {}

  get cost(): number {
    return this.spent;
  }

  /** Snapshot evaluations: running statistics frozen with BN reset. */
  snapshotPass<T>(model: Module, fn: () => T): T {
    return this.switches.bnReset ? model.withFrozenStats(fn) : fn();
  }

  /** The batch the snapshot gradient sees for a batch built with seed s. */
  snapshotBatch(data: Dataset, indices: readonly number[], s: number): Batch {
    return batchOf(data, indices, this.switches.transformLock ? s : s + UNLOCK_TRANSFORM, this.switches.dropoutLock ? s : s + UNLOCK_DROPOUT);
  }

  startEpoch(context: StepContext): void {
    const { model, data } = context;
    const w = model.flattenParameters();
    const before = statsCopy(model);
    const all = Array.from({ length: data.length }, (_, i) => i);
    const seed = stepSeed(this.seed + 1, context.epoch);
    this.mu = this.snapshotPass(model, () => indicesGradientAt(context, all, w, 64, seed));
    this.drift.push(maxChange(before, statsCopy(model)));
    this.spent += data.length;
    this.wTilde = w;
  }

  direction(context: StepContext, batch: Batch): Tensor[] {
    const { model, data } = context;
    const w = model.flattenParameters();
    const snapshotBatch = this.snapshotBatch(data, context.indices!, batch.seed!);
    const atSnapshot = this.snapshotPass(model, () => batchGradientAt(model, snapshotBatch, this.wTilde!).grad);
    const { grad, loss } = batchGradientAt(model, batch, w);
    const b = batch.x.shape[0]!;
    this.spent += 2 * b;
    this.lastLoss = loss;
    const mu = this.mu!;
    return unflatten(model, noGrad(() => grad.sub(atSnapshot).add(mu)));
  }
}

function accuracy(model: Module, data: Dataset): number {
  const batch = makeBatch(data, Array.from({ length: data.length }, (_, i) => i), { dtype: 'float64' });
  const flags = model.namedModules().map(([, m]) => m.training);
  model.eval();
  try {
    const predicted = noGrad(() => model.forward(batch.x, { sampleIds: batch.sampleIds! }).argmax(1).toTypedArray());
    const targets = batch.targets as Int32Array;
    let correct = 0;
    for (let i = 0; i < predicted.length; i++) if (predicted[i] === targets[i]) correct++;
    return correct / predicted.length;
  } finally {
    model.namedModules().forEach(([, m], i) => (m.training = flags[i]!));
  }
}

export const POSITIONS = [0, 0.25, 0.5, 0.75] as const;

/** Train with SGD and with switchable SVRG, measuring the variance ratio inside each epoch. */
export function runSvrgPanel(data: { train: Dataset; evaluation: Dataset }, options: SvrgPanelOptions, onProgress?: (p: SvrgProgress) => void): SvrgPanelResult {
  const { switches, epochs = 3, batchSize = 16, learningRate = 0.05, hidden = 32, dropout = 0.2, seed = 0, measureBlock = 8 } = options;
  const trainSet: Dataset = options.trainSize ? { ...data.train, length: Math.min(options.trainSize, data.train.length), get: (i) => data.train.get(i) } : data.train;
  const stepsPerEpoch = Math.ceil(trainSet.length / batchSize);
  const totalSteps = stepsPerEpoch * epochs;
  const makeModel = () => mlp([784, hidden, 10], { seed, dtype: 'float64', batchNorm: true, dropout });
  const makeTrainBatch = (d: Dataset, indices: readonly number[], s: number) => batchOf(d, indices, s, s);
  const common = {
    update: new SgdUpdate(),
    schedule: schedule(learningRate, batchSize),
    epochs,
    seed,
    makeBatch: makeTrainBatch,
  };

  const sgdModel = makeModel();
  const sgdAccuracy: number[] = [];
  const sgdRun = train(sgdModel, trainSet, {
    ...common,
    update: new SgdUpdate(),
    estimator: new SgdEstimator(),
    onEpochEnd: (info) => {
      sgdAccuracy.push(accuracy(sgdModel, data.evaluation));
      onProgress?.({ phase: 'sgd', step: info.step, totalSteps, loss: info.meanLoss });
    },
  });

  // The variance partition: consecutive blocks of the evaluation set, each with its own fixed seed.
  const blocks = Array.from({ length: Math.floor(data.evaluation.length / measureBlock) }, (_, k) => Array.from({ length: measureBlock }, (_, i) => k * measureBlock + i));
  const blockSeed = (k: number) => stepSeed(seed + 2, k);
  const svrgModel = makeModel();
  const estimator = new SwitchableSvrg(switches, seed);
  const ratios: RatioPoint[] = [];
  const svrgAccuracy: number[] = [];
  const svrgRun = train(svrgModel, trainSet, {
    ...common,
    update: new SgdUpdate(),
    estimator,
    positions: [...POSITIONS],
    onPosition: (info) => {
      const w = svrgModel.flattenParameters();
      const wTilde = estimator.wTilde!;
      const sgdRows: Float64Array[] = [];
      const svrgRows: Float64Array[] = [];
      // An observer: the running statistics are the same before and after.
      svrgModel.withFrozenStats(() => {
        blocks.forEach((indices, k) => {
          const s = blockSeed(k);
          const g = batchGradientAt(svrgModel, batchOf(data.evaluation, indices, s, s), w).grad;
          const gTilde = batchGradientAt(svrgModel, estimator.snapshotBatch(data.evaluation, indices, s), wTilde).grad;
          sgdRows.push(Float64Array.from(g.toTypedArray()));
          // v_k − v̄ does not depend on the constant μ̃, so the rows are g_k(w) − g'_k(w̃): the
          // same variance, and an exact 0 at w = w̃ (adding μ̃ first would leave rounding noise).
          svrgRows.push(Float64Array.from(noGrad(() => g.sub(gTilde)).toTypedArray()));
        });
      });
      const vSgd = estimatorVariance(sgdRows);
      const vSvrg = estimatorVariance(svrgRows);
      ratios.push({ epoch: info.epoch, position: info.position, step: info.step, vSgd, vSvrg, ratio: vSvrg / vSgd });
    },
    onEpochEnd: (info) => {
      svrgAccuracy.push(accuracy(svrgModel, data.evaluation));
      onProgress?.({ phase: 'svrg', step: info.step, totalSteps, loss: info.meanLoss });
    },
  });

  return {
    switches,
    stepsPerEpoch,
    sgdLosses: sgdRun.losses,
    svrgLosses: svrgRun.losses,
    sgdAccuracy,
    svrgAccuracy,
    ratios,
    snapshotStatsDrift: estimator.drift,
    sgdCost: sgdRun.cost,
    svrgCost: svrgRun.cost,
  };
}
