/**
 * SAGA over a fixed partition of the data into minibatches B_1 … B_K (Defazio et al. 2014, the
 * minibatch form): a table holds T_k, the gradient of block k at the last point it was
 * evaluated. When the loop presents block j,
 *
 *   v = g_j(w) − T_j + T̄,    T̄ = (1/K) Σ_k T_k,    then T_j ← g_j(w).
 *
 * With j uniform over the blocks, E[v] = (1/K) Σ_k g_k(w): the full gradient when the blocks
 * have equal sizes. The table is filled by a full pass at the first epoch's start (cost N);
 * each step costs |B_j|. The loop must pass `context.indices`, and they must be one of the
 * blocks (in the same order). Seeds are not locked: T_j keeps the masks of its last evaluation.
 */
import { noGrad } from '../autograd/mode.js';
import type { Batch } from '../nn/per-sample.js';
import { ValueError } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Estimator, StepContext } from './estimator.js';
import { batchGradientAt, batchSize, restoreVector, saveVector, unflatten, type SavedVector } from './gradient.js';
import { intArgument } from '../tensor/arguments.js';
import { keep, untracked } from '../tensor/tidy.js';

/** Options of {@link SagaEstimator}. */
export interface SagaOptions {
  /**
   * The fixed minibatches, as lists of dataset indices: non-empty, no two identical. The loop's
   * batches must be exactly these lists (same indices, same order).
   */
  partition: readonly (readonly number[])[];
  /** Seed of the table-filling pass (dropout masks); default 0. */
  seed?: number;
}

const keyOf = (indices: readonly number[]) => indices.join(',');

/**
 * SAGA (Defazio, Bach & Lacoste-Julien 2014) over a fixed partition into minibatches:
 * v = g_j(w) − T_j + T̄ for the presented block j, then T_j ← g_j(w). See the module comment
 * for the unbiasedness condition and the cost. NOTE: `train` deals its batches from a fresh
 * permutation every epoch, so they match a fixed partition at most in the epoch the partition
 * was taken from; SAGA needs a loop that presents the partition's blocks themselves.
 */
export class SagaEstimator implements Estimator {
  /** Always 'saga'. */
  readonly name = 'saga';
  private readonly blocks: number[][];
  private readonly blockOf = new Map<string, number>();
  private readonly seed: number;
  private table: (Tensor | null)[];
  private mean: Tensor | null = null;
  private spent = 0;
  /** Mean loss of the last batch at w (before the step). */
  lastLoss = NaN;

  /** Throws ValueError when the partition is empty, has an empty or repeated minibatch, or the seed is invalid. */
  constructor(options: SagaOptions) {
    if (!options || !Array.isArray(options.partition) || options.partition.length === 0) throw new ValueError('saga: partition must be a non-empty list of minibatches');
    this.blocks = options.partition.map((b) => [...b]);
    this.blocks.forEach((b, k) => {
      if (b.length === 0) throw new ValueError(`saga: minibatch ${k} of the partition is empty`);
      const key = keyOf(b);
      if (this.blockOf.has(key)) throw new ValueError(`saga: minibatch ${k} repeats minibatch ${this.blockOf.get(key)}`);
      this.blockOf.set(key, k);
    });
    this.seed = intArgument('saga', 'seed', options.seed, 0, 0);
    this.table = this.blocks.map(() => null);
  }

  /** Sample-gradient evaluations so far: N for the table fill plus |B_j| per step. */
  get cost(): number {
    return this.spent;
  }

  /** Fills the table at the first epoch's start (later epochs keep it). */
  startEpoch(context: StepContext): void {
    untracked(() => {
      if (!this.mean) this.fill(context);
    });
  }

  /** T_k ← g_k(w) for every block, T̄ their mean. */
  fill(context: StepContext): void {
    const w = context.model.flattenParameters();
    this.table = this.blocks.map((b) => batchGradientAt(context.model, context.makeBatch(b, this.seed), w).grad);
    this.spent += this.blocks.reduce((n, b) => n + b.length, 0);
    this.mean = noGrad(() => this.table.reduce((s, t) => s!.add(t!))!.div(this.blocks.length));
  }

  /**
   * v = g_j(w) − T_j + T̄ for the block j whose indices are `context.indices`, then
   * T_j ← g_j(w). Throws ValueError when the loop passes no indices or they are not a block.
   */
  direction(context: StepContext, batch: Batch): Tensor[] {
    if (!context.indices) throw new ValueError('saga: the loop must pass context.indices (the minibatch\'s dataset indices)');
    const j = this.blockOf.get(keyOf(context.indices));
    if (j === undefined) throw new ValueError(`saga: the batch [${context.indices.slice(0, 8).join(', ')}${context.indices.length > 8 ? ', …' : ''}] is not one of the partition's ${this.blocks.length} minibatches`);
    if (!this.mean) untracked(() => this.fill(context));
    const { model } = context;
    const { grad, loss } = batchGradientAt(model, batch, model.flattenParameters());
    this.spent += batchSize(batch);
    this.lastLoss = loss;
    const old = this.table[j]!;
    const mean = this.mean!;
    const v = noGrad(() => grad.sub(old).add(mean));
    // The new table entry and mean are stored: kept from the caller's tidy scope (the rest of
    // the step is left to it).
    this.mean = keep(noGrad(() => mean.add(grad.sub(old).div(this.blocks.length))));
    this.table[j] = keep(grad);
    return unflatten(model, v);
  }

  /** Captures the cost, T̄, the last loss and the list of table references; the returned function restores them. */
  rollbackPoint(): () => void {
    // The table's entries are replaced (table[j] = grad), so a copy of the list of references suffices.
    const { spent, mean, lastLoss } = this;
    const table = this.table.slice();
    return () => {
      Object.assign(this, { spent, mean, lastLoss, table });
    };
  }

  /** The table, its mean and the cost counter as plain JSON. */
  saveState(): {
    /** Sample-gradient evaluations so far. */
    cost: number;
    /** T_k for each block k, flat (null before the table is filled). */
    table: (SavedVector | null)[];
    /** T̄ = (1/K) Σ_k T_k, flat (null before the table is filled). */
    mean: SavedVector | null;
  } {
    return { cost: this.spent, table: this.table.map(saveVector), mean: saveVector(this.mean) };
  }

  /** Restore a `saveState` value; throws ValueError unless it is a SAGA state with one entry per block. */
  restoreState(state: unknown): void {
    untracked(() => {
      const s = state as ReturnType<SagaEstimator['saveState']>;
      if (!s || typeof s !== 'object' || !Array.isArray(s.table) || s.table.length !== this.blocks.length) {
        throw new ValueError(`saga: restoreState got a value that is not a SAGA state for ${this.blocks.length} minibatches`);
      }
      this.spent = s.cost;
      this.table = s.table.map(restoreVector);
      this.mean = restoreVector(s.mean);
    });
  }
}
