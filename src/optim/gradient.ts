/**
 * Gradient evaluations shared by the estimators. Everything is a flat parameter vector (the
 * documented parameter order, docs/design.md §10) in the model's dtype:
 *
 *   g_B(w) = ∇_w (1/|B|) Σ_{i∈B} ℓ(f(x_i; w), y_i)     (mean cross-entropy, duplicates counted)
 *
 * evaluated through `model.callWithVector(w, …)`, so a gradient at the snapshot w̃ never
 * touches the model's own tensors. The forward context carries the batch's sample ids and
 * seed, so dropout masks are a pure function of (seed, sample id): evaluating the same batch
 * object at w and at w̃ uses the same masks ("locking").
 */
import { crossEntropyOfRows } from '../autograd/composite/loss-core.js';
import { gradients } from '../autograd/engine.js';
import { noGrad, withGradMode } from '../autograd/mode.js';
import type { Module } from '../nn/module.js';
import type { Batch } from '../nn/per-sample.js';
import { tensor } from '../tensor/creation.js';
import { dtypeOf, type TypedArray } from '../tensor/dtype.js';
import { ValueError } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { tidy } from '../tensor/tidy.js';
import type { StepContext } from './estimator.js';

/** The number of samples of a batch. */
export function batchSize(batch: Batch): number {
  return batch.x.shape[0]!;
}

/** g_B(w) as a flat vector, and the batch's mean loss at w. Running statistics update as in any train forward. */
export function batchGradientAt(
  model: Module,
  batch: Batch,
  w: Tensor,
): {
  /** g_B(w), flat [P] in w's dtype, detached. */
  grad: Tensor;
  /** The batch's mean cross-entropy at w. */
  loss: number;
} {
  const leaf = w.detach().requireGrad();
  const n = batchSize(batch);
  const sampleIds = batch.sampleIds ?? Array.from({ length: n }, (_, i) => i);
  return withGradMode(true, () => {
    const loss = model.callWithVector(leaf, () => crossEntropyOfRows(model.forward(batch.x, { sampleIds, seed: batch.seed }), batch.targets, 'none').mean());
    const grad = gradients([loss], [leaf])[0]!.detach();
    return { grad, loss: loss.item() };
  });
}

/**
 * The full-data gradient ∇F(w) = (1/N) Σ_i ∇f_i(w), accumulated over consecutive chunks of
 * `chunkSize` dataset indices (each chunk one train-mode forward: with BatchNorm the chunk is
 * the unit whose batch statistics are used) as Σ_chunks |C|·g_C(w) / N.
 */
export function fullGradientAt(context: StepContext, w: Tensor, chunkSize: number, seed: number): Tensor {
  return indicesGradientAt(context, Array.from({ length: context.data.length }, (_, i) => i), w, chunkSize, seed);
}

/** The gradient of the mean loss over the given dataset indices, chunked like fullGradientAt. */
export function indicesGradientAt(context: StepContext, indices: readonly number[], w: Tensor, chunkSize: number, seed: number): Tensor {
  const N = indices.length;
  if (N === 0) throw new ValueError('gradient: need at least one index');
  let total: Tensor | null = null;
  for (let start = 0; start < N; start += chunkSize) {
    const chunk = indices.slice(start, start + chunkSize);
    // One scope per chunk: its activations and gradient go back to tidy's pool before
    // the next chunk (a snapshot is a pass over the whole dataset). The running total is the
    // first chunk's tensor, added into in place (the same rounding as total.add(weighted)).
    const sum: Tensor | null = total;
    total = tidy((): Tensor => {
      const { grad } = batchGradientAt(context.model, context.makeBatch(chunk, seed), w);
      const weighted = noGrad(() => grad.mul(chunk.length));
      return sum ? sum.add_(weighted) : weighted;
    });
  }
  return noGrad(() => total!.div(N));
}

/** A direction given per parameter (as `Estimator.direction` returns it) as one flat float64 vector. */
export function flattenDirection(parts: readonly Tensor[]): Float64Array {
  const out = new Float64Array(parts.reduce((s, t) => s + t.size, 0));
  let offset = 0;
  for (const t of parts) {
    out.set(t.contiguous().toTypedArray(), offset);
    offset += t.size;
  }
  return out;
}

/** The direction as one tensor per parameter (contiguous copies), from a flat vector. */
export function unflatten(model: Module, flat: Tensor): Tensor[] {
  return noGrad(() => model.unflattenParameters(flat).map((t) => t.contiguous().clone()));
}

// ---- state (checkpoints) -------------------------------------------------------------------

/** A JSON-serialisable copy of a flat vector: dtype and the values as numbers. */
export interface SavedVector {
  /** dtype of the vector, restored exactly (float32 values round-trip through numbers losslessly). */
  dtype: 'float32' | 'float64';
  /** The elements in order. */
  data: number[];
}

/** A flat vector as a SavedVector (null stays null), for estimators' saveState. */
export function saveVector(t: Tensor | null): SavedVector | null {
  if (!t) return null;
  return { dtype: t.dtype as 'float32' | 'float64', data: Array.from(t.contiguous().toTypedArray()) };
}

/** The flat vector [length] a SavedVector describes, in its dtype (null stays null). */
export function restoreVector(s: SavedVector | null): Tensor | null {
  if (!s) return null;
  const data: TypedArray = s.dtype === 'float32' ? Float32Array.from(s.data) : Float64Array.from(s.data);
  return tensor(data, { shape: [data.length], dtype: dtypeOf(data) });
}
