/**
 * Gradient statistics of the SGD and SVRG-family estimators (docs/research.md §1, §5).
 *
 * An estimator is described by its *rows*: one flat vector eᵢ per sample (or per minibatch of a
 * fixed partition), all of which average to the quantity being estimated. Its variance over
 * the data is
 *
 *   V = (1/n) Σᵢ ‖eᵢ − ē‖²,   ē = (1/n) Σᵢ eᵢ.
 *
 * Rows of the family covered here:
 *   SGD:                eᵢ = gᵢ(w)
 *   SVRG family:        eᵢ = gᵢ(w) − c·(gᵢ(w̃) − μ̃),   μ̃ = (1/n) Σⱼ gⱼ(w̃)
 *                       c = 1 (SVRG / B-SVRG), c = −1 (BP-SVRG, sign switch reconstructed from
 *                       the paper's description), c = α (α-SVRG).
 *
 * Since gᵢ(w̃) − μ̃ is already centred, with aᵢ = gᵢ(w) − ḡ(w), bᵢ = gᵢ(w̃) − μ̃:
 *   V_c = (1/n) Σ ‖aᵢ − c·bᵢ‖²,  so  V_{+1} + V_{−1} = 2V(w) + 2V(w̃)  and at w = w̃:
 *   V_{+1} = 0, V_{−1} = 4V(w).
 *
 * Per-sample rows use `perSampleGrads` (samples must not interact: BatchNorm in eval mode).
 * When BatchNorm runs in train mode the samples of a minibatch are coupled, so rows are then
 * the gradients of a fixed partition into consecutive minibatches (`minibatchSize`), each
 * evaluated as one batch forward. Every evaluation leaves the running statistics untouched.
 */
import { gradients } from '../autograd/engine.js';
import { noGrad, withGradMode } from '../autograd/mode.js';
import type { Module } from '../nn/module.js';
import { perSampleGrads, type Batch, type PerSampleLoss } from '../nn/per-sample.js';
import { tensor } from '../tensor/creation.js';
import { ShapeError, ValueError } from '../tensor/errors.js';
import { Tensor } from '../tensor/tensor.js';
import { objective, withMode, type BatchNormMode } from './objective.js';

/** Per-sample (or per-minibatch) estimator values: an [n, P] tensor or n flat vectors. */
export type EstimatorRows = Tensor | readonly (Tensor | ArrayLike<number>)[];

/** How the gradient rows of an estimator are evaluated (sgdRows, svrgRows, gradientRows). */
export interface GradientRowOptions {
  /** BatchNorm mode of every evaluation (required: no silent default). */
  batchNorm: BatchNormMode;
  /** Per-sample losses [B]; default cross-entropy. */
  loss?: PerSampleLoss;
  /**
   * Rows are minibatch gradients over the fixed partition of the batch into consecutive blocks
   * of this size (must divide n). Needed with BatchNorm in train mode. Default: per-sample rows.
   */
  minibatchSize?: number;
}

/** The SVRG-family coefficient c of v = g_I(w) − c·(g_I(w̃) − μ̃). */
export const CONTROL_VARIATE = {
  /** c = 0: no control variate, plain SGD. */
  sgd: 0,
  /** c = 1: SVRG (and B-SVRG), the snapshot's deviation subtracted. */
  svrg: 1,
  /** c = −1: BP-SVRG, the deviation added (the sign switch as reconstructed from the paper). */
  bpSvrg: -1,
} as const;

// ---- row algebra (plain float64 loops) ---------------------------------------------------

/**
 * Rows as n Float64Arrays of one length P, read-only: a contiguous float64 [n, P] tensor is read
 * in place (views of its storage), anything else converted once.
 * NOTE: in place, not copied: these matrices are 10⁷–10⁸ numbers (variance-ratio's [128, P] at
 * every measurement), and each fresh array above glibc's 32 MiB mmap threshold is new pages to
 * fault in — two copies per call made the kernel's page faults a third of that preset's time.
 */
function toRowArrays(rows: EstimatorRows, op: string): Float64Array[] {
  let out: Float64Array[];
  if (rows instanceof Tensor) {
    if (rows.rank !== 2) throw new ShapeError(`${op}: rows must be an [n, P] tensor; got shape [${rows.shape}]`);
    const [n, P] = rows.shape as [number, number];
    const c = rows.contiguous();
    const data = c.data instanceof Float64Array ? c.data.subarray(c.offset, c.offset + n * P) : Float64Array.from(c.toTypedArray());
    out = Array.from({ length: n }, (_, i) => data.subarray(i * P, (i + 1) * P));
  } else {
    out = rows.map((r) => Float64Array.from(r instanceof Tensor ? r.contiguous().toTypedArray() : r));
  }
  if (out.length === 0) throw new ValueError(`${op}: need at least one row; got none`);
  const P = out[0]!.length;
  const bad = out.findIndex((r) => r.length !== P);
  if (bad >= 0) throw new ShapeError(`${op}: every row must have ${P} elements; row ${bad} has ${out[bad]!.length}`);
  return out;
}

function meanRow(rows: readonly Float64Array[]): Float64Array {
  const mean = new Float64Array(rows[0]!.length);
  for (const r of rows) for (let j = 0; j < r.length; j++) mean[j] += r[j]!;
  for (let j = 0; j < mean.length; j++) mean[j] /= rows.length;
  return mean;
}

function squaredNorm(v: ArrayLike<number>): number {
  let s = 0;
  for (let j = 0; j < v.length; j++) s += v[j]! * v[j]!;
  return s;
}

function rowsTensor(rows: readonly Float64Array[]): Tensor {
  const P = rows[0]!.length;
  const data = new Float64Array(rows.length * P);
  rows.forEach((r, i) => data.set(r, i * P));
  return tensor(data, { shape: [rows.length, P], dtype: 'float64' });
}

/**
 * V = (1/n) Σᵢ ‖eᵢ − ē‖² of an estimator given its rows.
 * @example estimatorVariance(sgdRows(model, batch, w, { batchNorm: 'eval' }))
 */
export function estimatorVariance(rows: EstimatorRows): number {
  const r = toRowArrays(rows, 'estimatorVariance');
  const mean = meanRow(r);
  let total = 0;
  for (const row of r) {
    for (let j = 0; j < row.length; j++) {
      const d = row[j]! - mean[j]!;
      total += d * d;
    }
  }
  return total / r.length;
}

/** R = a / b, e.g. V_SVRG / V_SGD (R < 1: reduction; R ≈ 2: uncorrelated control variate). */
export function varianceRatio(a: number, b: number): number {
  if (!(b > 0)) throw new ValueError(`varianceRatio: the reference variance must be > 0; got ${b}`);
  return a / b;
}

/**
 * Rows eᵢ = gᵢ(w) − c·(gᵢ(w̃) − μ̃), μ̃ = mean of the w̃ rows, from the two sets of gradient rows.
 * c = 1 SVRG, −1 BP-SVRG, α for α-SVRG, 0 gives back SGD.
 */
export function controlVariateRows(rowsAtW: EstimatorRows, rowsAtSnapshot: EstimatorRows, c: number): Tensor {
  const a = toRowArrays(rowsAtW, 'controlVariateRows');
  const b = toRowArrays(rowsAtSnapshot, 'controlVariateRows');
  if (a.length !== b.length || a[0]!.length !== b[0]!.length) {
    throw new ShapeError(`controlVariateRows: rows at w are [${a.length}, ${a[0]!.length}] but rows at the snapshot are [${b.length}, ${b[0]!.length}]`);
  }
  const mu = meanRow(b);
  const P = mu.length;
  const data = new Float64Array(a.length * P);
  a.forEach((ra, i) => {
    const rb = b[i]!;
    for (let j = 0; j < P; j++) data[i * P + j] = ra[j]! - c * (rb[j]! - mu[j]!);
  });
  return tensor(data, { shape: [a.length, P], dtype: 'float64' });
}

// ---- gradient rows of a model ------------------------------------------------------------

/** The sub-batch of rows [start, end). */
function sliceBatch(batch: Batch, start: number, end: number): Batch {
  const t = batch.targets;
  const targets = t instanceof Tensor ? t.slice([[start, end]]) : Array.isArray(t) ? t.slice(start, end) : (t as Int32Array).subarray(start, end);
  const ids = batch.sampleIds ? Array.from(batch.sampleIds).slice(start, end) : Array.from({ length: end - start }, (_, i) => start + i);
  return { x: batch.x.slice([[start, end]]), targets, sampleIds: ids, seed: batch.seed };
}

/** The flat parameter vector of the model, or `w` checked against it. */
function pointOf(model: Module, w: Tensor | undefined, op: string): Tensor {
  const size = model.numParameters();
  if (!w) return model.flattenParameters();
  if (w.rank !== 1 || w.size !== size) throw new ShapeError(`${op}: the model has ${size} parameter elements; got a vector of shape [${w.shape}]`);
  return w;
}

/** ∇F_batch(w) as a flat vector (objective: explicit BatchNorm mode, frozen statistics). */
export function gradientAt(model: Module, batch: Batch, w: Tensor, options: { batchNorm: BatchNormMode; loss?: PerSampleLoss }): Tensor {
  const leaf = pointOf(model, w, 'gradientAt').detach().requireGrad();
  const F = objective(model, batch, options);
  return withGradMode(true, () => gradients([F(leaf)], [leaf])[0]!).detach();
}

/**
 * Gradient rows at the flat point w (default: the model's parameters): per-sample gradients
 * [n, P] (float64), or minibatch gradients [n / minibatchSize, P] when `minibatchSize` is set.
 */
export function gradientRows(model: Module, batch: Batch, w: Tensor | undefined, options: GradientRowOptions): Tensor {
  const point = pointOf(model, w, 'gradientRows');
  const n = batch.x.shape[0]!;
  const b = options.minibatchSize;
  if (b !== undefined) {
    if (!Number.isInteger(b) || b < 1 || n % b !== 0) {
      throw new ValueError(`gradientRows: minibatchSize must be an integer ≥ 1 that divides the batch size ${n}; got ${b}`);
    }
    const rows: Float64Array[] = [];
    for (let start = 0; start < n; start += b) {
      rows.push(Float64Array.from(gradientAt(model, sliceBatch(batch, start, start + b), point, options).toTypedArray()));
    }
    return rowsTensor(rows);
  }
  // Per-sample: fresh leaf tensors stand in for the parameters (the model's own are untouched).
  const standIns = model.unflattenParameters(point.detach()).map((p) => p.contiguous().detach().requireGrad());
  const result = withMode(model, options.batchNorm, () =>
    model.withParameters(standIns, () => withGradMode(true, () => perSampleGrads(model, batch, { loss: options.loss }))),
  );
  return perSampleMatrix(result.grads!, n);
}

/**
 * Per-sample gradients (parameter name → [n, …shape]) as one float64 matrix [n, P] whose row i
 * is sample i's gradient flattened in the documented parameter order.
 */
export function perSampleMatrix(grads: ReadonlyMap<string, Tensor>, n: number): Tensor {
  const P = [...grads.values()].reduce((total, g) => total + g.size / n, 0);
  const data = new Float64Array(n * P);
  let offset = 0;
  for (const g of grads.values()) {
    const size = g.size / n;
    // Read in place (see toRowArrays): the per-sample gradients are n·P numbers too.
    const c = g.contiguous();
    const values = c.data;
    const base = c.offset;
    for (let i = 0; i < n; i++) for (let j = 0; j < size; j++) data[i * P + offset + j] = values[base + i * size + j]!;
    offset += size;
  }
  return tensor(data, { shape: [n, P], dtype: 'float64' });
}

/** SGD rows eᵢ = gᵢ(w). */
export function sgdRows(model: Module, batch: Batch, w: Tensor | undefined, options: GradientRowOptions): Tensor {
  return gradientRows(model, batch, w, options);
}

/**
 * SVRG-family rows eᵢ = gᵢ(w) − c·(gᵢ(w̃) − μ̃) with μ̃ the mean of the snapshot rows (the full
 * gradient at w̃ over this data, or the mean minibatch gradient of the partition).
 */
export function svrgRows(model: Module, batch: Batch, w: Tensor, wTilde: Tensor, c: number, options: GradientRowOptions): Tensor {
  return controlVariateRows(gradientRows(model, batch, w, options), gradientRows(model, batch, wTilde, options), c);
}

/** BP-SVRG's gradient-norm indicators over the n samples of a batch (gradientNormMetrics). */
export interface GradientNormMetrics {
  /** M1 = (1/n) Σ ‖gᵢ‖, the mean per-sample gradient norm. */
  m1: number;
  /** M2 = ‖ḡ‖, the norm of the mean gradient. */
  m2: number;
  /** (1/n) Σ ‖gᵢ‖² (= M2² + V). */
  meanSquaredNorm: number;
  /** V = (1/n) Σ ‖gᵢ − ḡ‖². */
  variance: number;
}

/**
 * BP-SVRG's generalization indicators M1, M2 and the gradient variance, from per-sample
 * gradients (no interaction between samples: BatchNorm must be in eval mode) at `at`
 * (default: the model's parameters).
 */
export function gradientNormMetrics(
  model: Module,
  batch: Batch,
  options: { batchNorm: BatchNormMode; loss?: PerSampleLoss; at?: Tensor },
): GradientNormMetrics {
  const rows = toRowArrays(gradientRows(model, batch, options.at, options), 'gradientNormMetrics');
  const mean = meanRow(rows);
  const squared = rows.map(squaredNorm);
  return {
    m1: rows.reduce((s, _, i) => s + Math.sqrt(squared[i]!), 0) / rows.length,
    m2: Math.sqrt(squaredNorm(mean)),
    meanSquaredNorm: squared.reduce((s, v) => s + v, 0) / rows.length,
    variance: estimatorVariance(rows),
  };
}

// ---- snapshot geometry -------------------------------------------------------------------

/** ‖w − w̃‖ of two flat vectors. */
export function distanceFromSnapshot(w: Tensor, wTilde: Tensor): number {
  if (w.rank !== 1 || wTilde.rank !== 1 || w.size !== wTilde.size) {
    throw new ShapeError(`distanceFromSnapshot: expected two flat vectors of one length; got [${w.shape}] and [${wTilde.shape}]`);
  }
  const a = w.contiguous().toTypedArray();
  const b = wTilde.contiguous().toTypedArray();
  let s = 0;
  for (let j = 0; j < a.length; j++) s += (a[j]! - b[j]!) ** 2;
  return Math.sqrt(s);
}

/**
 * Defazio & Bottou's curvature estimate ‖g_S(w) − g_S(w̃)‖ / ‖w − w̃‖ on the minibatch S
 * (both gradients on the same batch, same BatchNorm mode, statistics frozen).
 */
export function curvatureEstimate(
  model: Module,
  batchS: Batch,
  w: Tensor,
  wTilde: Tensor,
  options: { batchNorm: BatchNormMode; loss?: PerSampleLoss },
): number {
  const distance = distanceFromSnapshot(w, wTilde);
  if (distance === 0) throw new ValueError('curvatureEstimate: w equals the snapshot w̃, so the ratio is undefined');
  const diff = noGrad(() => gradientAt(model, batchS, w, options).sub(gradientAt(model, batchS, wTilde, options)));
  return Math.sqrt(squaredNorm(diff.toTypedArray())) / distance;
}
