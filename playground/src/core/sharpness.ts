/**
 * The sharpness panel (Jastrzębski et al. 2018, docs/research.md §2): SGD with two ratios of
 * learning rate to batch size η/B, from the same initialisation, on the bundled MNIST subset.
 *
 * - The top Hessian eigenvalue λ₁ of the training loss (on a fixed batch of training digits;
 *   Lanczos on H·v by double backward, `hessianOperator` + `lanczos`) before training and after
 *   every epoch: a larger η/B ends in a flatter region (smaller λ₁).
 * - The loss along the line between the two solutions, L(α) = F((1 − α) w_A + α w_B), on the
 *   training and evaluation digits (`lossAlongLine`).
 */
import {
  hessianOperator,
  lanczos,
  lossAlongLine,
  makeBatch,
  mlp,
  schedule,
  SgdEstimator,
  SgdUpdate,
  train,
  type Batch,
  type Dataset,
  type Module,
} from '../../../src/index.js';

export interface SharpnessRunSpec {
  label: string;
  learningRate: number;
  batchSize: number;
}

export interface SharpnessOptions {
  runs?: [SharpnessRunSpec, SharpnessRunSpec];
  epochs?: number;
  hidden?: number;
  seed?: number;
  /** Training digits in the Hessian's fixed batch. */
  hessianBatch?: number;
  lanczosIterations?: number;
  alphas?: number[];
}

export interface SharpnessRun extends SharpnessRunSpec {
  ratio: number;
  /** λ₁ before training (epoch 0) and after each epoch. */
  topEigenvalue: number[];
  losses: number[];
  finalTrainLoss: number;
}

export interface SharpnessResult {
  runs: SharpnessRun[];
  alphas: number[];
  line: { name: string; loss: number[]; accuracy: number[] | null }[];
}

export type SharpnessProgress = { run: string; epoch: number; epochs: number; topEigenvalue: number };

export const DEFAULT_RUNS: [SharpnessRunSpec, SharpnessRunSpec] = [
  { label: 'large η/B (η = 0.2, B = 16)', learningRate: 0.2, batchSize: 16 },
  { label: 'small η/B (η = 0.05, B = 64)', learningRate: 0.05, batchSize: 64 },
];

function allIndices(d: Dataset): number[] {
  return Array.from({ length: d.length }, (_, i) => i);
}

function topEigenvalue(model: Module, batch: Batch, iterations: number): number {
  const H = hessianOperator(model, batch, { batchNorm: 'eval' });
  return lanczos(H, 1, { seed: 0, iterations }).top[0]!;
}

export function runSharpness(data: { train: Dataset; evaluation: Dataset }, options: SharpnessOptions = {}, onProgress?: (p: SharpnessProgress) => void): SharpnessResult {
  const { runs = DEFAULT_RUNS, epochs = 6, hidden = 16, seed = 0, hessianBatch = 64, lanczosIterations = 12 } = options;
  const alphas = options.alphas ?? Array.from({ length: 21 }, (_, i) => -0.5 + i * 0.1);
  // A fixed batch spread over the classes (the training set is stored class by class).
  const stride = Math.max(1, Math.floor(data.train.length / hessianBatch));
  const hBatch = makeBatch(data.train, Array.from({ length: Math.min(hessianBatch, data.train.length) }, (_, i) => i * stride), { dtype: 'float64' });
  const results: SharpnessRun[] = [];
  const finals: Module[] = [];
  for (const spec of runs) {
    const model = mlp([784, hidden, 10], { seed, dtype: 'float64' });
    const top = [topEigenvalue(model, hBatch, lanczosIterations)];
    const run = train(model, data.train, {
      estimator: new SgdEstimator(),
      update: new SgdUpdate(),
      schedule: schedule(spec.learningRate, spec.batchSize),
      epochs,
      seed,
      onEpochEnd: (info) => {
        top.push(topEigenvalue(model, hBatch, lanczosIterations));
        onProgress?.({ run: spec.label, epoch: info.epoch + 1, epochs, topEigenvalue: top[top.length - 1]! });
      },
    });
    results.push({ ...spec, ratio: spec.learningRate / spec.batchSize, topEigenvalue: top, losses: run.losses, finalTrainLoss: run.losses[run.losses.length - 1]! });
    finals.push(model);
  }
  const trainBatch = makeBatch(data.train, allIndices(data.train), { dtype: 'float64' });
  const evalBatch = makeBatch(data.evaluation, allIndices(data.evaluation), { dtype: 'float64' });
  const line = lossAlongLine(
    finals[0]!,
    [
      { name: 'train', batch: trainBatch },
      { name: 'evaluation', batch: evalBatch },
    ],
    finals[0]!.flattenParameters(),
    finals[1]!.flattenParameters(),
    alphas,
    { batchNorm: 'eval' },
  );
  return { runs: results, alphas: line.alphas, line: line.curves };
}
