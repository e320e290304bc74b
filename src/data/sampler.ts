/**
 * Seeded sampling: epoch orders, fixed per-epoch minibatch lists, and building a Batch.
 *
 * Randomness is keyed (Threefry, src/tensor/random.ts), never stateful: the order of epoch e
 * under seed s is a pure function of (s, e, n), so a run can be replayed, and a snapshot
 * pass can visit exactly the batches the training loop will visit.
 *
 * - Without replacement: a Fisher–Yates permutation of 0 … n−1 under key
 *   foldIn(foldIn(makeKey(seed), 0x5a0), epoch).
 * - With replacement: n independent uniform draws in [0, n) under key
 *   foldIn(foldIn(makeKey(seed), 0x5a1), epoch) (element i uses counter i).
 * Indices are POSITIONS in the dataset (e.g. a split view); the Batch carries the samples'
 * stable ids.
 */
import { allocate, type DType } from '../tensor/dtype.js';
import { ValueError } from '../tensor/errors.js';
import { foldIn, makeKey, randomBits, uniform53 } from '../tensor/random.js';
import { Tensor } from '../tensor/tensor.js';
import { sampleKey, type Augmentation } from './augment.js';
import type { Batch, Dataset } from './dataset.js';
import { keyedPermutation } from './split.js';

/** Options of {@link epochIndices}: which run (seed) and which epoch of it. */
export interface EpochOptions {
  /** Seed of the run, an integer in [0, 2^53); one seed gives one sequence of epoch orders. */
  seed: number;
  /** Epoch number (0-based); each epoch gets an independent order under the same seed. */
  epoch: number;
  /** Draw with replacement (default false: a permutation). */
  replacement?: boolean;
}

function checkCount(op: string, n: number): void {
  if (!Number.isInteger(n) || n < 0) throw new ValueError(`${op}: n must be an integer ≥ 0; got ${n}`);
}

/** The n indices of one epoch: a permutation (default) or n draws with replacement. */
export function epochIndices(n: number, options: EpochOptions): Int32Array {
  checkCount('epochIndices', n);
  const { seed, epoch, replacement = false } = options;
  const key = foldIn(foldIn(makeKey(seed), replacement ? 0x5a1 : 0x5a0), epoch);
  if (!replacement) return keyedPermutation(n, key);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const [w0, w1] = randomBits(key, i);
    out[i] = Math.floor(uniform53(w0, w1) * n);
  }
  return out;
}

/** Epoch permutation (without replacement). */
export function epochPermutation(n: number, seed: number, epoch: number): Int32Array {
  return epochIndices(n, { seed, epoch });
}

/** Options of a {@link BatchPlan}. */
export interface BatchPlanOptions {
  /** Seed of the epoch orders (see {@link EpochOptions}). */
  seed: number;
  /** Samples per batch, an integer ≥ 1; the last batch of an epoch may be smaller unless dropLast. */
  batchSize: number;
  /** Draw each epoch's n indices with replacement instead of permuting (default false). */
  replacement?: boolean;
  /** Drop a last batch smaller than batchSize (default false). */
  dropLast?: boolean;
}

/**
 * A fixed plan of minibatches: batch `b` of epoch `e` is the b-th consecutive chunk of
 * epochIndices(n, { seed, epoch: e, replacement }). The same (epoch, batch id) always names
 * the same samples, so a snapshot pass and the training loop can share batch ids.
 */
export class BatchPlan {
  /** ceil(n / batchSize), or floor(n / batchSize) with dropLast. */
  readonly batchesPerEpoch: number;
  private readonly cache = new Map<number, Int32Array[]>();

  /** Throws ValueError unless n is an integer ≥ 0 and batchSize an integer ≥ 1. */
  constructor(
    /** Number of positions to sample from (the dataset's length). */
    readonly n: number,
    /** Seed, batch size and sampling mode of the plan. */
    readonly options: BatchPlanOptions,
  ) {
    checkCount('BatchPlan', n);
    const b = options.batchSize;
    if (!Number.isInteger(b) || b < 1) throw new ValueError(`BatchPlan: batchSize must be an integer ≥ 1; got ${b}`);
    this.batchesPerEpoch = options.dropLast ? Math.floor(n / b) : Math.ceil(n / b);
  }

  /**
   * All batches of an epoch, as index lists (views of one epoch order). The last few epochs
   * are cached, so do not mutate them.
   */
  epoch(epoch: number): readonly Int32Array[] {
    let list = this.cache.get(epoch);
    if (!list) {
      const order = epochIndices(this.n, { seed: this.options.seed, epoch, replacement: this.options.replacement ?? false });
      const b = this.options.batchSize;
      list = Array.from({ length: this.batchesPerEpoch }, (_, k) => order.subarray(k * b, Math.min(this.n, (k + 1) * b)));
      if (this.cache.size > 8) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(epoch, list);
    }
    return list;
  }

  /**
   * Indices (positions) of batch `batchId` of `epoch`. Throws ValueError unless batchId is an
   * integer in [0, batchesPerEpoch).
   */
  batch(epoch: number, batchId: number): Int32Array {
    if (!Number.isInteger(batchId) || batchId < 0 || batchId >= this.batchesPerEpoch) {
      throw new ValueError(`BatchPlan.batch: batch id ${batchId} out of range [0, ${this.batchesPerEpoch})`);
    }
    return this.epoch(epoch)[batchId]!;
  }
}

/** Options of {@link makeBatch}: augmentation, dropout seed and dtype of the batch. */
export interface MakeBatchOptions {
  /** Augmentation applied to each sample with key foldIn(makeKey(augmentSeed), id). */
  augment?: Augmentation;
  /** Seed of the augmentation (required with `augment`). Reuse it to lock the transforms. */
  augmentSeed?: number;
  /** Dropout seed stored in the Batch (`batch.seed`). */
  seed?: number;
  /** dtype of x (default float32). */
  dtype?: DType;
}

/**
 * Stack samples `indices` (positions in `dataset`) into a Batch: x [B, …sampleShape],
 * targets Int32Array for classification datasets (classes > 0) or a float tensor [B] for
 * regression targets, sampleIds = the samples' stable ids.
 */
export function makeBatch(dataset: Dataset, indices: ArrayLike<number>, options: MakeBatchOptions = {}): Batch {
  const B = indices.length;
  const shape = dataset.sampleShape;
  const per = shape.reduce((a, b) => a * b, 1);
  if (options.augment && options.augmentSeed === undefined) {
    throw new ValueError('makeBatch: an augmentation needs { augmentSeed } (gradscope has no global random state)');
  }
  const dtype = options.dtype ?? 'float32';
  const x = allocate(dtype, B * per);
  const ids = new Float64Array(B);
  const ys = new Float64Array(B);
  for (let r = 0; r < B; r++) {
    const s = dataset.get(indices[r]!);
    if (s.x.length !== per) throw new ValueError(`makeBatch: sample ${s.id} has ${s.x.length} features, expected ${per}`);
    const feats = options.augment ? options.augment(s.x, shape, sampleKey(options.augmentSeed!, s.id)) : s.x;
    x.set(feats, r * per);
    ids[r] = s.id;
    ys[r] = s.y;
  }
  const targets = dataset.classes > 0 ? Int32Array.from(ys) : Tensor.fromData(dtype === 'float64' ? ys : Float32Array.from(ys), [B]);
  const batch: Batch = { x: Tensor.fromData(x, [B, ...shape]), targets, sampleIds: ids };
  if (options.seed !== undefined) batch.seed = options.seed;
  return batch;
}
