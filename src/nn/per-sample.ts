/**
 * Per-sample gradients of a model, and the exact per-sample Jacobian where samples interact.
 *
 * Which one to use:
 * - `perSampleGrads`: row i is the gradient of sample i's loss as if it were a batch of its
 *   own — the quantity in gradient variance, M1 = (1/n) Σ‖gᵢ‖, and SVRG's control variates.
 *   Computed natively in one backward pass (autograd/per-sample.ts). It is defined only when
 *   samples do not interact: BatchNorm must be in eval mode (running statistics), which is
 *   what the oracle's per-sample values use. With BatchNorm in train mode it throws.
 * - `perSampleJacobian`: row i is ∂ℓᵢ/∂θ where ℓᵢ is sample i's loss INSIDE one batch
 *   forward (BatchNorm in train mode: ℓᵢ depends on every sample through the batch
 *   statistics). Exact; one backward pass per sample. Its rows average to the batch gradient.
 */
import { crossEntropyOfRows } from '../autograd/composite/loss-core.js';
import { gradients } from '../autograd/engine.js';
import { noGrad } from '../autograd/mode.js';
import { perSampleGradients } from '../autograd/per-sample.js';
import { concat } from '../autograd/ops/concat.js';
import { zeros } from '../tensor/creation.js';
import { allocate, dtypeOf, type DType, type TypedArray } from '../tensor/dtype.js';
import { GradError, ValueError } from '../tensor/errors.js';
import { lifetime, type Storage } from '../tensor/storage.js';
import { Tensor } from '../tensor/tensor.js';
import type { Module } from './module.js';
import type { Arena } from '../kernels/backend.js';
import { getBackend } from '../kernels/registry.js';

/** A batch: inputs, class targets (or any targets the loss understands), sample ids. */
export interface Batch {
  /** The model's input, batch axis first: [B, …] (e.g. [B, 1, 28, 28]). */
  x: Tensor;
  /** One target per sample, B of them: class indices for the default cross-entropy loss. */
  targets: Tensor | Int32Array | readonly number[];
  /** Stable sample ids (dropout masks are keyed by them); default 0 … B−1. */
  sampleIds?: ArrayLike<number>;
  /** Dropout seed of this pass. */
  seed?: number;
}

/** Per-sample losses [B] of a model output and the batch targets. */
export type PerSampleLoss = (output: Tensor, targets: Tensor | Int32Array | readonly number[]) => Tensor;

/** Cross-entropy without reduction: one loss per sample. */
export const crossEntropyLoss: PerSampleLoss = (output, targets) => crossEntropyOfRows(output, targets, 'none');

/**
 * Reusable memory for per-sample gradients. B × P numbers are often hundreds of megabytes,
 * and writing fresh memory costs about as much as computing them (page faults): with a
 * workspace, repeated calls write into the same arrays. The tensors a call returns are then
 * valid only until the next call with the same workspace: that call counts as an in-place
 * write to them (their version counters are bumped), so a graph that saved one refuses to
 * back-propagate with a GradError rather than use the new values.
 *
 * The arrays come from the current backend's arena where it has one (Backend.createArena):
 * on the wasm backend, float32 arrays in WebAssembly memory, which its outer-product kernel
 * writes without a copy. Otherwise they are ordinary typed arrays.
 */
export class PerSampleWorkspace {
  private readonly arrays: TypedArray[] = [];
  private next = 0;
  /** Asked for on the first array; null until then. */
  private arena: Arena | undefined | null = null;
  /** Storages of the returned tensors that view each array (see handOut). */
  private readonly viewers = new Map<TypedArray, Storage[]>();

  /** Called at the start of each perSampleGrads call. */
  reset(): void {
    this.next = 0;
  }

  /** The next array of the call, reused when its size and dtype still fit. */
  take = (shape: readonly number[], dtype: DType): TypedArray => {
    const size = shape.reduce((a, b) => a * b, 1);
    const existing = this.arrays[this.next];
    const fits = existing && existing.length === size && dtypeOf(existing) === dtype;
    if (fits) this.invalidate(existing);
    if (!fits && this.arena === null) this.arena = getBackend().createArena?.();
    const array = fits ? existing : (this.arena?.allocate(dtype, size) ?? allocate(dtype, size));
    // Reused by the next call: tidy must never pool it (tensor/tidy.ts).
    if (!fits) lifetime.retain?.(array);
    this.arrays[this.next++] = array;
    return array;
  };

  /**
   * Record the tensors a call returns that view this workspace's arrays. When a later call
   * writes such an array again, their storages' version counters are bumped first — an
   * in-place write like any other — so a graph that saved one fails its backward with a
   * GradError (autograd/op.ts) instead of silently using the new call's values.
   */
  handOut(tensors: Iterable<Tensor>): void {
    for (const t of tensors) {
      const array = this.arrays.find((a) => overlaps(a, t.data));
      if (!array) continue;
      const list = this.viewers.get(array) ?? [];
      if (!list.includes(t.storage)) list.push(t.storage);
      this.viewers.set(array, list);
    }
  }

  /** `array` is about to be overwritten: every tensor handed out over it is now modified in place. */
  private invalidate(array: TypedArray): void {
    for (const storage of this.viewers.get(array) ?? []) storage.version++;
    this.viewers.delete(array);
  }
}

/** Whether two typed arrays share memory (same buffer, overlapping bytes). */
function overlaps(a: TypedArray, b: TypedArray): boolean {
  return a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

/** Options of perSampleGrads. */
export interface PerSampleOptions {
  /** Write the per-sample gradients into this workspace (see PerSampleWorkspace). */
  workspace?: PerSampleWorkspace;
  /** The per-sample losses [B] from the model's output (default crossEntropyLoss). */
  loss?: PerSampleLoss;
  /** Process the batch in chunks of this many samples, so B × P numbers need not exist at once. */
  chunkSize?: number;
  /** Return only ‖gᵢ‖ (over all parameters), not the gradients. */
  normsOnly?: boolean;
}

/**
 * What perSampleGrads returns: each sample's loss and gradient as if it were a batch of one
 * (what torch.func's vmap(grad(f)) computes).
 */
export interface PerSampleResult {
  /** 'per-sample': row i is sample i's gradient as a batch of one (no interaction). */
  kind: 'per-sample';
  /** Per-sample losses [B]. */
  losses: Tensor;
  /** Parameter name → [B, …shape]; null with normsOnly. */
  grads: Map<string, Tensor> | null;
  /** ‖gᵢ‖₂ over all parameters, [B] (float64); computed on first access unless normsOnly. */
  readonly norms: Float64Array;
}

/** Σ over parameters of ‖row i‖², added into `out` (a plain loop over contiguous rows). */
function addSquaredRowNorms(grads: readonly Tensor[], out: Float64Array, start: number): void {
  for (const g of grads) {
    const data = g.contiguous().toTypedArray();
    const rowSize = data.length / g.shape[0]!;
    for (let i = 0; i < g.shape[0]!; i++) {
      let s = 0;
      for (let j = i * rowSize; j < (i + 1) * rowSize; j++) s += data[j]! * data[j]!;
      out[start + i] += s;
    }
  }
}

function rows<T extends Tensor | Int32Array | readonly number[]>(v: T, start: number, end: number): T {
  if (v instanceof Tensor) return v.slice([[start, end]]) as T;
  return (Array.isArray(v) ? v.slice(start, end) : (v as Int32Array).subarray(start, end)) as T;
}

function idsOf(batch: Batch, start: number, end: number): ArrayLike<number> {
  if (batch.sampleIds) return Array.from(batch.sampleIds).slice(start, end);
  return Array.from({ length: end - start }, (_, i) => start + i);
}

/**
 * How one chunk of the batch gets its per-sample losses [b] and gradients (one [b, …shape] per
 * parameter, in namedParameters order): natively here, through vmap in per-sample-vmap.ts.
 */
export type PerSampleChunk = (model: Module, chunk: Batch, loss: PerSampleLoss, workspace: PerSampleWorkspace | undefined) => PerSampleRows;

/** What a PerSampleChunk computes for its b samples. */
export interface PerSampleRows {
  /** The per-sample losses [b]. */
  losses: Tensor;
  /** One [b, …shape] tensor per parameter, in namedParameters order. */
  grads: Tensor[];
}

/** One chunk natively: one forward and one per-sample backward (autograd/per-sample.ts). */
const tracedChunk: PerSampleChunk = (model, { x, targets, sampleIds, seed }, loss, workspace) => {
  // The input is traced (requires grad) only to mark which tensors depend on the batch.
  const input = x.detach().requireGrad();
  const losses = loss(model.forward(input, { sampleIds, seed }), targets);
  return { losses, grads: perSampleGradients(losses, model.parameters(), input, workspace?.take) };
};

/**
 * The gradient of every sample's own loss, natively (one backward pass per chunk).
 * @example
 * model.eval(); // BatchNorm on running statistics: samples do not interact
 * const { grads, norms } = perSampleGrads(model, { x, targets });
 * grads.get('0.weight'); // [B, out, in]
 */
export function perSampleGrads(model: Module, batch: Batch, options: PerSampleOptions = {}): PerSampleResult {
  if (batch.x.dtype === 'int32') {
    throw new GradError(
      'perSampleGrads: the batch input is int32 (token ids?), which cannot be traced through the model (an Embedding takes it as an index); vmapPerSampleGrads(model, batch) computes the same rows through vmap',
    );
  }
  return perSampleResult(model, batch, options, tracedChunk);
}

/**
 * perSampleGrads' loop over chunks and its result, with the chunks computed by `chunkGrads`
 * (shared with vmapPerSampleGrads).
 */
export function perSampleResult(model: Module, batch: Batch, options: PerSampleOptions, chunkGrads: PerSampleChunk): PerSampleResult {
  const { loss = crossEntropyLoss, normsOnly = false } = options;
  const B = batch.x.shape[0]!;
  const chunk = options.chunkSize ?? B;
  if (!Number.isInteger(chunk) || chunk < 1) throw new ValueError(`perSampleGrads: chunkSize must be an integer ≥ 1; got ${chunk}`);
  const named = model.namedParameters();
  const params = named.map(([, p]) => p);
  const lossChunks: Tensor[] = [];
  const gradChunks: Tensor[][] = params.map(() => []);
  const squared = new Float64Array(B);
  options.workspace?.reset();
  for (let start = 0; start < B; start += chunk) {
    const end = Math.min(B, start + chunk);
    const part = { x: rows(batch.x, start, end), targets: rows(batch.targets, start, end), sampleIds: idsOf(batch, start, end), seed: batch.seed };
    const { losses, grads } = chunkGrads(model, part, loss, options.workspace);
    lossChunks.push(losses.detach());
    if (normsOnly) addSquaredRowNorms(grads, squared, start);
    else grads.forEach((g, k) => gradChunks[k]!.push(g));
  }
  const grads = normsOnly ? null : new Map(named.map(([name], k) => [name, noGrad(() => concat(gradChunks[k]!, 0))]));
  if (grads) options.workspace?.handOut(grads.values());
  // The norms are computed lazily from the gradients: refuse if a later call overwrote them.
  const versions = grads ? [...grads.values()].map((g) => g.version) : [];
  let norms: Float64Array | null = normsOnly ? squared.map(Math.sqrt) : null;
  return {
    kind: 'per-sample',
    losses: concat(lossChunks, 0),
    grads,
    get norms() {
      if (!norms) {
        const [name] = [...grads!].find(([, g], k) => g.version !== versions[k]) ?? [];
        if (name !== undefined) {
          throw new GradError(
            `perSampleGrads: the gradient of '${name}' was overwritten by a later call with the same workspace before norms was read; read norms before the next call, or pass each call its own workspace`,
          );
        }
        addSquaredRowNorms([...grads!.values()], squared, 0);
        norms = squared.map(Math.sqrt);
      }
      return norms;
    },
  };
}

/**
 * What perSampleJacobian returns: the rows of the Jacobian of one batch forward's per-sample
 * losses with respect to the parameters, samples coupled through the batch (BatchNorm in train mode).
 */
export interface JacobianResult {
  /** 'batch-jacobian': row i is ∂ℓᵢ/∂θ with ℓᵢ computed inside one batch forward. */
  kind: 'batch-jacobian';
  /** Per-sample losses [B] of that one forward. */
  losses: Tensor;
  /** Parameter name → [B, …shape]. */
  rows: Map<string, Tensor>;
}

/**
 * The exact Jacobian of the per-sample losses of ONE batch forward with respect to the
 * parameters (rows couple through BatchNorm's batch statistics in train mode). The forward
 * runs in the model's current mode; by default the running statistics are restored after it
 * (`freezeStats: false` lets the forward update them as a normal train step would).
 */
export function perSampleJacobian(
  model: Module,
  batch: Batch,
  options: { loss?: PerSampleLoss; freezeStats?: boolean } = {},
): JacobianResult {
  const { loss = crossEntropyLoss, freezeStats = true } = options;
  const B = batch.x.shape[0]!;
  const named = model.namedParameters();
  const params = named.map(([, p]) => p);
  const forward = () => loss(model.forward(batch.x, { sampleIds: idsOf(batch, 0, B), seed: batch.seed }), batch.targets);
  const losses = freezeStats ? model.withFrozenStats(forward) : forward();
  const perRow: Tensor[][] = params.map(() => []);
  for (let i = 0; i < B; i++) {
    const e = zeros([B], { dtype: losses.dtype });
    e.data[i] = 1;
    const g = gradients([losses], params, { gradOutputs: [e], retainGraph: i < B - 1, allowUnused: true });
    g.forEach((gi, k) => perRow[k]!.push(gi.unsqueeze(0)));
  }
  return {
    kind: 'batch-jacobian',
    losses: losses.detach(),
    rows: new Map(named.map(([name], k) => [name, concat(perRow[k]!, 0)])),
  };
}
