/**
 * The pieces of the lr-batch-ratio preset (lr-batch-ratio.ts): budgets, the data (seeded
 * Fashion-MNIST subsets; CIFAR-10 from --data at paper size), the models (the batch-normalised
 * ReLU MLP; VGG-11 with BatchNorm at paper size), and the two tasks: one SGD run with its
 * end-of-run curvature, and the loss along the line between two solutions.
 *
 * A run's schedule travels in its input as plain data — the learning rate and the batch size
 * of every epoch — so constant, cyclic and rescaled runs are one task, and the preset can check
 * what η/S each run actually saw.
 */
import {
  BatchNorm2d, type Batch, Conv2d, crossEntropyLoss, type Dataset, Flatten, foldIn, hessianOperator, hessianSummary,
  keyedPermutation, Linear, lossAlongLine, makeBatch, makeKey, MaxPool2d, mlp, type Module, noGrad, NonFiniteError,
  ReLU, schedule, Sequential, SgdEstimator, SgdUpdate, split, subset, tensor, train, withMode,
} from 'gradscope';
import { loadFashionMnist } from 'gradscope/data';
import type { Size, SizeTable } from '../preset.js';
import { cifar10, flat } from './datasets.js';

export interface Budget {
  /** The data: seeded Fashion-MNIST subsets, or CIFAR-10 from --data (all 50,000 / the 10,000 test images). */
  data: 'fashion-mnist' | 'cifar10';
  /** The batch-normalised ReLU MLP (784 → hidden… → 10), or VGG-11 with BatchNorm for 3×32×32 images. */
  model: 'mlp' | 'vgg11';
  /** Hidden widths of the MLP (unused for VGG-11). */
  hidden: readonly number[];
  /** Training and validation subset sizes (Fashion-MNIST; CIFAR-10 uses its whole splits). */
  n: number;
  validation: number;
  epochs: number;
  /** The grid η × S; lrs[k]/lrs[0] = batches[k]/batches[0], so the diagonal has equal η/S (linear scaling). */
  lrs: readonly number[];
  batches: readonly number[];
  /** The cyclic pair: batch size low ↔ high at η = lr, against η = lr ↔ lr·low/high at S = low. */
  cyclic: { lr: number; low: number; high: number };
  /** End-of-training validation accuracy: the mean of the evaluations after the last `lastEpochs` epochs. */
  lastEpochs: number;
  /** Fixed training samples on which the Hessian and the line are measured. */
  curvatureN: number;
  /** Lanczos steps for λ_max and Rademacher probes shared by Tr H and ‖H‖_F. */
  iterations: number;
  probes: number;
  /** Number of α points in [−0.5, 1.5]; (alphas − 1) divisible by 4 so that α = 0 and α = 1 are on the grid. */
  alphas: number;
}

export const BUDGET: SizeTable<Budget> = {
  smoke: {
    data: 'fashion-mnist', model: 'mlp', hidden: [32, 32], n: 512, validation: 500, epochs: 4,
    lrs: [0.05, 0.2], batches: [16, 64], cyclic: { lr: 0.2, low: 16, high: 64 }, lastEpochs: 2,
    curvatureN: 256, iterations: 8, probes: 4, alphas: 9,
  },
  full: {
    data: 'fashion-mnist', model: 'mlp', hidden: [100, 100, 100], n: 4096, validation: 2000, epochs: 8,
    lrs: [0.025, 0.1, 0.4], batches: [16, 64, 256], cyclic: { lr: 0.4, low: 64, high: 256 }, lastEpochs: 3,
    curvatureN: 512, iterations: 15, probes: 6, alphas: 21,
  },
  // The paper's CIFAR-10 setting (Fig. 1, 2, 4 use VGG-11 / ResNet-56 on CIFAR-10; Fig. 3's grid spans
  // η ∈ [0.005, 0.1], S ∈ [25, 1000] over 200 epochs): a 3 × 3 grid inside those ranges whose diagonal
  // has equal η/S, and Fig. 1's cyclic pair (S 128 ↔ 640 at η = 0.005; η 0.005 ↔ 0.001 at S = 128).
  paper: {
    data: 'cifar10', model: 'vgg11', hidden: [], n: 50000, validation: 10000, epochs: 200,
    lrs: [0.00625, 0.025, 0.1], batches: [25, 100, 400], cyclic: { lr: 0.005, low: 128, high: 640 }, lastEpochs: 5,
    curvatureN: 1000, iterations: 20, probes: 10, alphas: 21,
  },
};

/** The budget of a size; the tasks run only at sizes the preset declares. */
export function budgetAt(size: Size): Budget {
  const budget = BUDGET[size];
  if (budget === undefined) throw new Error(`lr-batch-ratio: no ${size}-size budget`);
  return budget;
}

/** Seed of the train/validation split and of the subsets (fixed: every run sees the same data). */
export const DATA_SEED = 2018;

const dataCache = new Map<string, { train: Dataset; validation: Dataset }>();

/**
 * Fashion-MNIST split by `split(…, { seed: DATA_SEED, fractions: 6/7 train, 1/7 validation })`
 * (duplicate images kept inside one side), then the first n / m positions of a keyed
 * permutation of each side, features seen as flat 784-vectors. Memoised per worker.
 */
export function fashionSubsets(n: number, m: number): { train: Dataset; validation: Dataset } {
  const key = `${n}/${m}`;
  const cached = dataCache.get(key);
  if (cached) return cached;
  const all = loadFashionMnist();
  const sides = split(all, { seed: DATA_SEED, fractions: { train: 6 / 7, validation: 1 / 7 } });
  const root = makeKey(DATA_SEED);
  const trainOrder = keyedPermutation(sides.train.length, foldIn(root, 0x7472));
  const validationOrder = keyedPermutation(sides.validation.length, foldIn(root, 0x76616c));
  const data = {
    train: flat(subset(sides.train, trainOrder.subarray(0, n), `fashion-mnist-train-${n}`)),
    validation: flat(subset(sides.validation, validationOrder.subarray(0, m), `fashion-mnist-validation-${m}`)),
  };
  dataCache.set(key, data);
  return data;
}

/** The run's data: Fashion-MNIST subsets, or CIFAR-10's training set and (as validation) its test set. */
export function loadData(budget: Budget, dataDir: string | undefined): { train: Dataset; validation: Dataset } {
  if (budget.data === 'fashion-mnist') return fashionSubsets(budget.n, budget.validation);
  const key = `cifar10:${dataDir}`;
  const cached = dataCache.get(key);
  if (cached) return cached;
  const { train: trainSet, test } = cifar10(dataDir, 'lr-batch-ratio');
  const data = { train: trainSet, validation: test };
  dataCache.set(key, data);
  return data;
}

/** VGG-11's convolutional layers (configuration "A"); 'M' is a 2 × 2 max pool. */
const VGG11 = [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'] as const;

/**
 * VGG-11 with BatchNorm after every convolution, for 3×32×32 images, its final layers adapted to
 * CIFAR-10 as the paper did (footnote 5): after five pools the 512×1×1 features go to one
 * Linear(512 → 10) instead of ImageNet's three 4096-wide layers (9,231,114 parameters).
 */
export function vgg11(seed: number): Sequential {
  const layers: Module[] = [];
  let channels = 3;
  let k = 0;
  for (const item of VGG11) {
    if (item === 'M') {
      layers.push(new MaxPool2d(2));
      continue;
    }
    layers.push(new Conv2d(channels, item, 3, { seed: seed * 1009 + k++, padding: 1, dtype: 'float32' }));
    layers.push(new BatchNorm2d(item, { dtype: 'float32' }), new ReLU());
    channels = item;
  }
  layers.push(new Flatten(), new Linear(512, 10, { seed: seed * 1009 + k, dtype: 'float32' }));
  return new Sequential(...layers);
}

/** The budget's model, float32 (curvature is reduced in float64 by the analysis code). */
export function makeModel(budget: Budget, seed: number): Module {
  if (budget.model === 'vgg11') return vgg11(seed);
  return mlp([784, ...budget.hidden, 10], { seed, batchNorm: true, dtype: 'float32' });
}

const range = (k: number) => Array.from({ length: k }, (_, i) => i);

/**
 * The first curvatureN training samples (the subset is already a random draw): the Hessian and line
 * batch; all of them when the training set is smaller (a generated test folder at paper size).
 */
function curvatureBatch(budget: Budget, data: Dataset): Batch {
  return makeBatch(data, range(Math.min(budget.curvatureN, data.length)), { dtype: 'float32', seed: 0 });
}

/** One SGD run: seed (initialisation and batch order) and the per-epoch learning rate and batch size. */
export interface RunInput {
  size: Size;
  seed: number;
  lrByEpoch: number[];
  batchByEpoch: number[];
  /** Measure λ_max, Tr H and ‖H‖_F at the end (the cyclic runs are compared by their curves only). */
  curvature: boolean;
  /** Return the final parameters (for the line between two solutions). */
  keepParameters: boolean;
  /** `--data DIR` (CIFAR-10 at paper size). */
  dataDir?: string;
  /** `--max-steps N`: stop training after N steps (then measure as usual). */
  maxSteps?: number;
}

export interface RunOutput {
  /** Σ (i+1)·wᵢ over the initial flat parameters (paired runs share it exactly). */
  initChecksum: number;
  /** Mean minibatch loss of each epoch (train-mode BatchNorm), NaN from a divergence on. */
  trainLoss: number[];
  /** Validation loss and accuracy before training and after each epoch (eval-mode BatchNorm). */
  validationLoss: number[];
  validationAccuracy: number[];
  diverged: boolean;
  /** True when --max-steps stopped the run early. */
  stopped: boolean;
  steps: number;
  /** Loss on the curvature batch at the end, train-mode BatchNorm (what the line reports at α = 0 or 1). */
  curvatureBatchLoss: number;
  lambdaMax: number;
  lambdaMin: number;
  trace: number;
  traceError: number;
  frobenius: number;
  frobeniusError: number;
  /** ‖w‖ at the end (BatchNorm makes the loss scale-invariant in the pre-BN weights: a larger ‖w‖ lowers curvature). */
  weightNorm: number;
  parameters: Float32Array | null;
}

/** Mean cross-entropy and accuracy of a batch, eval-mode BatchNorm (running statistics). */
function evaluate(model: Module, batch: Batch): { loss: number; accuracy: number } {
  return noGrad(() =>
    withMode(model, 'eval', () => {
      const out = model.forward(batch.x);
      const loss = crossEntropyLoss(out, batch.targets).mean().item();
      const predicted = out.argmax(1).toTypedArray();
      const targets = batch.targets as Int32Array;
      let correct = 0;
      for (let i = 0; i < targets.length; i++) if (predicted[i] === targets[i]) correct++;
      return { loss, accuracy: correct / targets.length };
    }),
  );
}

/**
 * Train with plain SGD (no momentum, no weight decay: the SDE argument is about plain SGD),
 * then measure at the final parameters, on the fixed curvature batch with TRAIN-mode BatchNorm
 * (batch statistics): λ_max by Lanczos, Tr H and ‖H‖_F from shared Rademacher probes.
 */
export function runSgd(input: RunInput): RunOutput {
  const budget = budgetAt(input.size);
  const data = loadData(budget, input.dataDir);
  const model = makeModel(budget, input.seed);
  const validationBatch = makeBatch(data.validation, range(data.validation.length), { dtype: 'float32', seed: 0 });
  const curvature = curvatureBatch(budget, data.train);
  const initial = model.flattenParameters().toTypedArray();
  let initChecksum = 0;
  for (let i = 0; i < initial.length; i++) initChecksum += (i + 1) * initial[i]!;
  const trainLoss: number[] = [];
  const first = evaluate(model, validationBatch);
  const validationLoss = [first.loss];
  const validationAccuracy = [first.accuracy];
  let diverged = false;
  let stopped = false;
  let steps = 0;
  const { maxSteps } = input;
  try {
    const result = train(model, data.train, {
      estimator: new SgdEstimator(),
      update: new SgdUpdate(),
      schedule: schedule((epoch) => input.lrByEpoch[epoch]!, (epoch) => input.batchByEpoch[epoch]!),
      epochs: input.lrByEpoch.length,
      seed: input.seed,
      ...(maxSteps === undefined ? {} : { maxSteps }),
      onEpochEnd: ({ meanLoss }) => {
        trainLoss.push(meanLoss);
        const v = evaluate(model, validationBatch);
        validationLoss.push(v.loss);
        validationAccuracy.push(v.accuracy);
      },
    });
    steps = result.steps;
    stopped = result.stopped === 'maxSteps';
  } catch (error) {
    if (error instanceof NonFiniteError) {
      diverged = true;
      steps = error.step;
    } else throw error;
  }
  // A diverged (or stopped) run reports NaN for every epoch it did not finish.
  while (trainLoss.length < input.lrByEpoch.length) trainLoss.push(Number.NaN);
  while (validationLoss.length <= input.lrByEpoch.length) {
    validationLoss.push(Number.NaN);
    validationAccuracy.push(Number.NaN);
  }
  const nan = Number.NaN;
  const none = { lambdaMax: nan, lambdaMin: nan, trace: nan, traceError: nan, frobenius: nan, frobeniusError: nan };
  if (diverged) {
    const out = { initChecksum, trainLoss, validationLoss, validationAccuracy, diverged, stopped, steps };
    return { ...out, ...none, curvatureBatchLoss: nan, weightNorm: nan, parameters: null };
  }
  const w = model.flattenParameters();
  const curvatureBatchLoss = noGrad(() =>
    withMode(model, 'train', () => crossEntropyLoss(model.forward(curvature.x), curvature.targets).mean().item()),
  );
  const hessian = input.curvature
    ? hessianSummary(hessianOperator(model, curvature, { batchNorm: 'train' }), {
        seed: input.seed,
        iterations: budget.iterations,
        probes: budget.probes,
      })
    : null;
  const values = w.toTypedArray();
  let norm2 = 0;
  for (let i = 0; i < values.length; i++) norm2 += values[i]! * values[i]!;
  const measured = hessian
    ? {
        lambdaMax: hessian.lambdaMax,
        lambdaMin: hessian.lambdaMin,
        trace: hessian.trace.estimate,
        traceError: hessian.trace.standardError,
        frobenius: hessian.frobenius.estimate,
        frobeniusError: hessian.frobenius.standardError,
      }
    : none;
  return {
    initChecksum,
    trainLoss,
    validationLoss,
    validationAccuracy,
    diverged,
    stopped,
    steps,
    curvatureBatchLoss,
    ...measured,
    weightNorm: Math.sqrt(norm2),
    parameters: input.keepParameters ? Float32Array.from(values) : null,
  };
}

export interface LineInput {
  size: Size;
  /** The seed whose two solutions the line joins (for the report; the line itself is deterministic). */
  seed: number;
  wA: Float32Array;
  wB: Float32Array;
  dataDir?: string;
}

export interface LineOutput {
  alphas: number[];
  trainLoss: number[];
  validationLoss: number[];
  validationAccuracy: number[];
}

/**
 * L(α) = F((1−α) w_A + α w_B), α ∈ [−0.5, 1.5], on the curvature batch (training samples) and
 * on the validation set. BatchNorm in TRAIN mode: interpolated points have no running
 * statistics of their own, so every point normalises with the statistics of the batch.
 */
export function lineBetween(input: LineInput): LineOutput {
  const budget = budgetAt(input.size);
  const data = loadData(budget, input.dataDir);
  const model = makeModel(budget, 0);
  // Rounded so that α = 0 and α = 1 are exact (lossAlongLine then evaluates w_A and w_B themselves).
  const alphas = range(budget.alphas).map((k) => Math.round((-0.5 + (2 * k) / (budget.alphas - 1)) * 1e12) / 1e12);
  const validationBatch = makeBatch(data.validation, range(data.validation.length), { dtype: 'float32', seed: 0 });
  const sets = [
    { name: 'train', batch: curvatureBatch(budget, data.train) },
    { name: 'validation', batch: validationBatch },
  ];
  const line = lossAlongLine(model, sets, tensor(input.wA), tensor(input.wB), alphas, { batchNorm: 'train' });
  return {
    alphas,
    trainLoss: line.curves[0]!.loss,
    validationLoss: line.curves[1]!.loss,
    validationAccuracy: line.curves[1]!.accuracy!,
  };
}
