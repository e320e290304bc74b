/**
 * The per-sample panel: a tiny MLP on a few MNIST digits.
 *
 * - Without BatchNorm (or BatchNorm in eval mode) samples do not interact: `perSampleGrads`
 *   gives each sample's gradient natively, and their mean is the batch gradient.
 * - With BatchNorm in train mode every sample's loss depends on the whole batch through the
 *   batch statistics: `perSampleGrads` refuses (the error is shown), and `perSampleJacobian`
 *   gives the exact rows ∂ℓᵢ/∂θ of one batch forward; their mean is again the batch gradient,
 *   but the rows differ from the eval-mode ones.
 */
import { flatGradient, makeBatch, mlp, perSampleGrads, perSampleJacobian, perSampleMatrix, type Batch, type Dataset, type Tensor } from '../../../src/index.js';

export interface PerSampleOptions {
  /** Dataset indices of the digits (default: the first digit of classes 0–7 of the evaluation set). */
  indices?: number[];
  hidden?: number;
  seed?: number;
}

export interface RowSummary {
  /** ‖row i‖ for each sample. */
  norms: number[];
  /** ‖mean of the rows‖ and ‖batch gradient‖. */
  meanNorm: number;
  batchNorm: number;
  /** max |mean of rows − batch gradient| over all parameters. */
  maxDiff: number;
}

export interface PerSampleResult {
  indices: number[];
  labels: number[];
  parameters: number;
  losses: number[];
  /** MLP without BatchNorm: native per-sample gradients. */
  plain: RowSummary & { kind: string };
  /** MLP with BatchNorm, eval mode (running statistics): native per-sample gradients. */
  bnEval: RowSummary & { kind: string };
  /** MLP with BatchNorm, train mode: exact Jacobian rows of one batch forward. */
  bnTrain: RowSummary & { kind: string; losses: number[] };
  /** What perSampleGrads says when asked for BatchNorm in train mode. */
  refusal: string;
}

function summarize(matrix: Tensor, batchGradient: Tensor): RowSummary {
  const [n, P] = matrix.shape as [number, number];
  const rows = matrix.contiguous().toTypedArray();
  const g = batchGradient.contiguous().toTypedArray();
  const norms: number[] = [];
  const mean = new Float64Array(P);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < P; j++) {
      const v = rows[i * P + j]!;
      s += v * v;
      mean[j] += v / n;
    }
    norms.push(Math.sqrt(s));
  }
  let maxDiff = 0;
  let meanSq = 0;
  let batchSq = 0;
  for (let j = 0; j < P; j++) {
    maxDiff = Math.max(maxDiff, Math.abs(mean[j]! - g[j]!));
    meanSq += mean[j]! * mean[j]!;
    batchSq += g[j]! * g[j]!;
  }
  return { norms, meanNorm: Math.sqrt(meanSq), batchNorm: Math.sqrt(batchSq), maxDiff };
}

export function defaultDigits(): number[] {
  // The evaluation set holds 8 digits per class, class after class.
  return Array.from({ length: 8 }, (_, c) => c * 8);
}

export function computePerSample(evaluation: Dataset, options: PerSampleOptions = {}): PerSampleResult {
  const indices = options.indices ?? defaultDigits();
  const hidden = options.hidden ?? 16;
  const seed = options.seed ?? 0;
  const batch: Batch = makeBatch(evaluation, indices, { dtype: 'float64' });
  const n = indices.length;

  const plainModel = mlp([784, hidden, 10], { seed, dtype: 'float64' }).eval();
  const plain = perSampleGrads(plainModel, batch);
  const plainSummary = summarize(perSampleMatrix(plain.grads!, n), flatGradient(plainModel, batch, { batchNorm: 'eval' }));

  const bnModel = mlp([784, hidden, 10], { seed, dtype: 'float64', batchNorm: true });
  // Give the running statistics something to say: one train-mode forward of the evaluation set.
  bnModel.train();
  const all = makeBatch(evaluation, Array.from({ length: evaluation.length }, (_, i) => i), { dtype: 'float64' });
  bnModel.forward(all.x);

  bnModel.eval();
  const evalRows = perSampleGrads(bnModel, batch);
  const evalSummary = summarize(perSampleMatrix(evalRows.grads!, n), flatGradient(bnModel, batch, { batchNorm: 'eval' }));

  bnModel.train();
  let refusal = '';
  try {
    perSampleGrads(bnModel, batch);
    refusal = '(no error)';
  } catch (error) {
    refusal = (error as Error).message;
  }
  const jac = perSampleJacobian(bnModel, batch);
  const trainSummary = summarize(perSampleMatrix(jac.rows, n), flatGradient(bnModel, batch, { batchNorm: 'train' }));

  return {
    indices,
    labels: indices.map((i) => evaluation.get(i).y),
    parameters: plainModel.numParameters(),
    losses: Array.from(plain.losses.toTypedArray(), Number),
    plain: { kind: plain.kind, ...plainSummary },
    bnEval: { kind: evalRows.kind, ...evalSummary },
    bnTrain: { kind: jac.kind, losses: Array.from(jac.losses.toTypedArray(), Number), ...trainSummary },
    refusal,
  };
}
