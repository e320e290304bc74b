/**
 * The pieces of the lr-batch-ratio preset (lr-batch-ratio.ts): budgets, the seeded
 * Fashion-MNIST subsets, the two tasks (one SGD run with its end-of-run curvature, and the
 * loss along a line between two solutions) and Spearman's rank correlation.
 *
 * A run's schedule travels in its input as plain data — the learning rate and the batch size
 * of every epoch — so constant, cyclic and rescaled runs are one task, and the preset can check
 * what η/S each run actually saw.
 */
import { type Batch, crossEntropyLoss, type Dataset, foldIn, hessianOperator, hessianSummary, keyedPermutation, lossAlongLine, makeBatch, makeKey, mlp, type Module, noGrad, NonFiniteError, schedule, SgdEstimator, SgdUpdate, split, subset, tensor, train, withMode } from 'gradscope';
import { loadFashionMnist } from 'gradscope/data';
import type { Size } from '../preset.js';

export interface Budget {
  /** Hidden widths of the batch-normalised ReLU MLP (784 → hidden… → 10). */
  hidden: readonly number[];
  /** Training subset and validation subset sizes. */
  n: number;
  validation: number;
  epochs: number;
  /** The grid η × S. lrs[k]/lrs[0] = batches[k]/batches[0], so the diagonal has equal η/S and is the linear-scaling family. */
  lrs: readonly number[];
  batches: readonly number[];
  /** Fixed training samples on which the Hessian and the line are measured. */
  curvatureN: number;
  /** Lanczos steps for λ_max and Rademacher probes shared by Tr H and ‖H‖_F. */
  iterations: number;
  probes: number;
  /** Number of α points in [−0.5, 1.5]; (alphas − 1) divisible by 4 so that α = 0 and α = 1 are on the grid. */
  alphas: number;
}

export const BUDGET: Record<Size, Budget> = {
  smoke: { hidden: [32, 32], n: 512, validation: 500, epochs: 4, lrs: [0.05, 0.2], batches: [16, 64], curvatureN: 256, iterations: 8, probes: 4, alphas: 9 },
  full: { hidden: [100, 100, 100], n: 4096, validation: 2000, epochs: 8, lrs: [0.025, 0.1, 0.4], batches: [16, 64, 256], curvatureN: 512, iterations: 20, probes: 10, alphas: 21 },
};

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

function flat(data: Dataset): Dataset {
  return { name: data.name, length: data.length, sampleShape: [784], classes: data.classes, get: (i) => data.get(i) };
}

/** The batch-normalised ReLU MLP, float32 (curvature is reduced in float64 by the analysis code). */
export function makeModel(budget: Budget, seed: number): Module {
  return mlp([784, ...budget.hidden, 10], { seed, batchNorm: true, dtype: 'float32' });
}

const range = (k: number) => Array.from({ length: k }, (_, i) => i);

/** The first curvatureN training samples (the subset is already a random draw): Hessian and line batch. */
function curvatureBatch(budget: Budget, data: Dataset): Batch {
  return makeBatch(data, range(budget.curvatureN), { dtype: 'float32', seed: 0 });
}

/** One SGD run: seed (initialisation and batch order) and the per-epoch learning rate and batch size. */
export interface RunInput {
  size: Size;
  seed: number;
  lrByEpoch: number[];
  batchByEpoch: number[];
  /** Return the final parameters (for the line between two solutions). */
  keepParameters: boolean;
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
  const budget = BUDGET[input.size];
  const data = fashionSubsets(budget.n, budget.validation);
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
  let steps = 0;
  try {
    const result = train(model, data.train, {
      estimator: new SgdEstimator(),
      update: new SgdUpdate(),
      schedule: schedule((epoch) => input.lrByEpoch[epoch]!, (epoch) => input.batchByEpoch[epoch]!),
      epochs: input.lrByEpoch.length,
      seed: input.seed,
      onEpochEnd: ({ meanLoss }) => {
        trainLoss.push(meanLoss);
        const v = evaluate(model, validationBatch);
        validationLoss.push(v.loss);
        validationAccuracy.push(v.accuracy);
      },
    });
    steps = result.steps;
  } catch (error) {
    if (!(error instanceof NonFiniteError)) throw error;
    diverged = true;
    steps = error.step;
  }
  // A diverged run reports NaN for every epoch it did not finish.
  while (trainLoss.length < input.lrByEpoch.length) trainLoss.push(Number.NaN);
  while (validationLoss.length <= input.lrByEpoch.length) {
    validationLoss.push(Number.NaN);
    validationAccuracy.push(Number.NaN);
  }
  const nan = Number.NaN;
  if (diverged) {
    return { initChecksum, trainLoss, validationLoss, validationAccuracy, diverged, steps, curvatureBatchLoss: nan, lambdaMax: nan, lambdaMin: nan, trace: nan, traceError: nan, frobenius: nan, frobeniusError: nan, weightNorm: nan, parameters: null };
  }
  const w = model.flattenParameters();
  const curvatureBatchLoss = noGrad(() => withMode(model, 'train', () => crossEntropyLoss(model.forward(curvature.x), curvature.targets).mean().item()));
  const summary = hessianSummary(hessianOperator(model, curvature, { batchNorm: 'train' }), { seed: input.seed, iterations: budget.iterations, probes: budget.probes });
  const values = w.toTypedArray();
  let norm2 = 0;
  for (let i = 0; i < values.length; i++) norm2 += values[i]! * values[i]!;
  return {
    initChecksum,
    trainLoss,
    validationLoss,
    validationAccuracy,
    diverged,
    steps,
    curvatureBatchLoss,
    lambdaMax: summary.lambdaMax,
    lambdaMin: summary.lambdaMin,
    trace: summary.trace.estimate,
    traceError: summary.trace.standardError,
    frobenius: summary.frobenius.estimate,
    frobeniusError: summary.frobenius.standardError,
    weightNorm: Math.sqrt(norm2),
    parameters: input.keepParameters ? Float32Array.from(values) : null,
  };
}

export interface LineInput {
  size: Size;
  wA: Float32Array;
  wB: Float32Array;
}

export interface LineOutput {
  alphas: number[];
  trainLoss: number[];
  validationLoss: number[];
  validationAccuracy: number[];
}

/**
 * L(α) = F((1−α) w_A + α w_B), α ∈ [−0.5, 1.5], on the curvature batch (training samples) and
 * on the validation subset. BatchNorm in TRAIN mode: interpolated points have no running
 * statistics of their own, so every point normalises with the statistics of the batch.
 */
export function lineBetween(input: LineInput): LineOutput {
  const budget = BUDGET[input.size];
  const data = fashionSubsets(budget.n, budget.validation);
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

/** Ranks 1…n with ties given their average rank. */
export function ranks(values: readonly number[]): number[] {
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const out = new Array<number>(values.length);
  for (let start = 0; start < order.length; ) {
    let end = start;
    while (end + 1 < order.length && order[end + 1]![0] === order[start]![0]) end++;
    const rank = (start + end) / 2 + 1;
    for (let k = start; k <= end; k++) out[order[k]![1]] = rank;
    start = end + 1;
  }
  return out;
}

/**
 * Spearman's ρ: the Pearson correlation of the (tie-averaged) ranks. Pairs with a non-finite
 * member are dropped; NaN with fewer than 3 pairs or a constant side.
 */
export function spearman(x: readonly number[], y: readonly number[]): number {
  const pairs = x.map((xi, i) => [xi, y[i]!] as const).filter(([a, b]) => Number.isFinite(a) && Number.isFinite(b));
  if (pairs.length < 3) return Number.NaN;
  const rx = ranks(pairs.map((p) => p[0]));
  const ry = ranks(pairs.map((p) => p[1]));
  const mean = (r: number[]) => r.reduce((s, v) => s + v, 0) / r.length;
  const mx = mean(rx);
  const my = mean(ry);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < rx.length; i++) {
    sxy += (rx[i]! - mx) * (ry[i]! - my);
    sxx += (rx[i]! - mx) ** 2;
    syy += (ry[i]! - my) ** 2;
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : Number.NaN;
}
