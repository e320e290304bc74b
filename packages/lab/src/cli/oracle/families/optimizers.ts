/**
 * Oracle family 6 (`optimizers.json`): short training runs of a tiny MLP over fixed minibatch
 * lists (packages/lab/oracle/README.md, "Family 6"). gradscope's own estimators (SgdEstimator,
 * SvrgEstimator) and update rule (SgdUpdate, PyTorch semantics) are driven through the case's
 * epochs by a small private loop; the trajectory, the minibatch losses before each step, the
 * final full-data loss, SVRG's snapshots and full gradients, and Defazio & Bottou's variance
 * metrics over all N training points are compared.
 */
import { type Batch, controlVariateRows, crossEntropy, type Dataset, type Estimator, estimatorVariance, type FloatDType, gradientRows, type Module, noGrad, SgdEstimator, SgdUpdate, type StepContext, SvrgEstimator, tensor, type Tensor, ValueError } from 'gradscope';
import { inputOf, type Family, type OracleCase, type Results } from '../format.js';
import { modelOf, unknownLayer } from './model-spec.js';

/**
 * The case's data as a Dataset plus a batch builder (sample id = dataset index, seed 0); shared
 * with optimizers_ext, whose cases hold their data the same way.
 */
export function dataOf(c: OracleCase, dtype: FloatDType): { data: Dataset; makeBatch: (indices: readonly number[], seed?: number) => Batch } {
  const x = inputOf(c, 'x');
  const targets = inputOf(c, 'target').data;
  const [N, ...sampleShape] = x.shape as [number, ...number[]];
  const d = sampleShape.reduce((a, b) => a * b, 1);
  const data: Dataset = {
    name: c.name,
    length: N,
    sampleShape,
    classes: c.config.num_classes,
    get: (i) => ({ x: Float64Array.from(x.data.slice(i * d, (i + 1) * d)), y: targets[i]!, id: i }),
  };
  const makeBatch = (indices: readonly number[], seed = 0): Batch => {
    const rows = new Float64Array(indices.length * d);
    indices.forEach((i, k) => {
      if (!Number.isInteger(i) || i < 0 || i >= N) throw new ValueError(`oracle ${c.family}: index ${i} is outside the dataset of ${N}`);
      rows.set(x.data.slice(i * d, (i + 1) * d), k * d);
    });
    return {
      x: tensor(rows, { shape: [indices.length, ...sampleShape], dtype }),
      targets: Int32Array.from(indices, (i) => targets[i]!),
      sampleIds: [...indices],
      seed,
    };
  };
  return { data, makeBatch };
}

/** Mean loss of a batch at the model's parameters (no graph). */
function lossOf(model: Module, batch: Batch): number {
  return noGrad(() => crossEntropy(model.forward(batch.x, { sampleIds: batch.sampleIds, seed: batch.seed }), batch.targets).item());
}

const rowsTensor = (rows: ArrayLike<number>[], P: number) => {
  const out = new Float64Array(rows.length * P);
  rows.forEach((r, i) => out.set(Array.from(r), i * P));
  return tensor(out, { shape: [rows.length, P], dtype: 'float64' });
};

export const optimizersFamily: Family = {
  missing: (c: OracleCase) =>
    c.config.loss !== 'cross_entropy_mean'
      ? `loss ${c.config.loss}`
      : c.config.optimizer !== 'sgd' && c.config.optimizer !== 'svrg'
        ? `optimizer ${c.config.optimizer}`
        : unknownLayer(c.config.layers),

  run(c: OracleCase, dtype: FloatDType): Results {
    const { model } = modelOf(c, dtype);
    model.train();
    const { data, makeBatch } = dataOf(c, dtype);
    const hyper = c.config.hyper;
    const epochs: number[][][] = c.config.epochs;
    const isSvrg = c.config.optimizer === 'svrg';
    const estimator: Estimator & { lastLoss: number } = isSvrg ? new SvrgEstimator({ variant: 'svrg' }) : new SgdEstimator();
    const update = new SgdUpdate(
      isSvrg ? {} : { momentum: hyper.momentum, dampening: hyper.dampening, weightDecay: hyper.weight_decay, nesterov: hyper.nesterov },
    );
    const variancePoints: { step: number }[] = hyper.variance_points ?? [];
    const all = makeBatch(Array.from({ length: data.length }, (_, i) => i));
    const P = model.numParameters();

    const trajectory: ArrayLike<number>[] = [];
    const batchLoss: number[] = [];
    const snapshots: ArrayLike<number>[] = [];
    const snapshotGrads: ArrayLike<number>[] = [];
    const results: Results = {};
    const params = model.parameters();
    let step = 0;
    epochs.forEach((batches, epoch) => {
      const contextAt = (stepInEpoch: number, indices?: readonly number[]): StepContext => ({
        model,
        data,
        epoch,
        step,
        stepInEpoch,
        stepsInEpoch: batches.length,
        makeBatch,
        indices,
      });
      estimator.startEpoch?.(contextAt(0));
      if (estimator instanceof SvrgEstimator) {
        const s = estimator.snapshot!;
        snapshots.push(s.wTilde.toTypedArray());
        snapshotGrads.push(s.mu.toTypedArray());
      }
      batches.forEach((indices, stepInEpoch) => {
        const k = variancePoints.findIndex((p) => p.step === step);
        if (k >= 0 && estimator instanceof SvrgEstimator) Object.assign(results, varianceMetrics(k, model, all, estimator));
        const batch = makeBatch(indices);
        const direction = estimator.direction(contextAt(stepInEpoch, indices), batch);
        batchLoss.push(estimator.lastLoss);
        update.step(params, direction, hyper.lr);
        trajectory.push(model.flattenParameters().toTypedArray());
        step++;
      });
    });
    results.trajectory = rowsTensor(trajectory, P);
    results.batch_loss = tensor(Float64Array.from(batchLoss), { shape: [batchLoss.length], dtype: 'float64' });
    results.final_full_loss = lossOf(model, all);
    if (isSvrg) {
      results.snapshots = rowsTensor(snapshots, P);
      results.snapshot_full_grads = rowsTensor(snapshotGrads, P);
    }
    return results;
  },
};

/** Defazio & Bottou's variance metrics at the current point over all N samples (per-sample rows). */
function varianceMetrics(k: number, model: Module, all: Batch, estimator: SvrgEstimator): Results {
  const { wTilde, mu } = estimator.snapshot!;
  const w = model.flattenParameters();
  const atW = gradientRows(model, all, w, { batchNorm: 'eval' });
  const atSnapshot = gradientRows(model, all, wTilde, { batchNorm: 'eval' });
  const varSgd = estimatorVariance(atW);
  const varSvrg = estimatorVariance(controlVariateRows(atW, atSnapshot, 1));
  const prefix = `var_point${k}`;
  const asTensor = (t: Tensor) => t.to('float64');
  return {
    [`${prefix}/w`]: asTensor(w),
    [`${prefix}/w_tilde`]: asTensor(wTilde),
    [`${prefix}/mu`]: asTensor(mu),
    [`${prefix}/full_grad_at_w`]: noGrad(() => atW.mean(0)),
    [`${prefix}/var_sgd`]: varSgd,
    [`${prefix}/var_svrg`]: varSvrg,
    [`${prefix}/ratio`]: varSvrg / varSgd,
  };
}
