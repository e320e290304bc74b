/**
 * Mega-batch variants of SVRG (RESEARCH.md §1): the snapshot gradient is estimated on a
 * mega-batch M instead of the full data.
 *
 * Streaming SVRG: every m steps, draw M (|M| = factor·b, factor 10–32, indices drawn uniformly
 * without replacement, independently of the loop's batches), set w̃ = w and g̃ = g_M(w̃); each
 * step, on the loop's batch S (independent of M),
 *
 *   v = g_S(w) − g_S(w̃) + g̃.
 *
 * The theory draws m at random; in practice m is fixed (here). Cost: |M| per mega-batch, 2|S| per step.
 *
 * SCSG (Lei & Jordan 2017): the same direction, but the number of inner steps after each
 * mega-batch is either
 * - 'geometric': N ~ Geometric on {1, 2, …} with mean |M|/b (success probability b/|M|; the
 *   paper's N ~ Geom(B/(B+b)) on {0, 1, …} shifted to skip empty inner loops), inner batches
 *   being the loop's batches; or
 * - a fixed number (the reference code: 10), inner minibatches drawn from the mega-batch M
 *   (b distinct indices of M per step; the loop's batch then only supplies b and the seed).
 *
 * Locking works as in svrg.ts: g_S(w̃) reuses the batch (same ids and seed), and the snapshot
 * evaluations run with frozen BatchNorm statistics.
 */
import { noGrad } from '../autograd/mode.js';
import type { Batch } from '../nn/per-sample.js';
import { ValueError, describeValue } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Estimator, StepContext } from './estimator.js';
import { batchGradientAt, batchSize, indicesGradientAt, restoreVector, saveVector, unflatten, type SavedVector } from './gradient.js';
import { OptimRng } from './rng.js';
import { boolArgument, intArgument, optionsArgument } from '../tensor/arguments.js';

export interface MegaBatchOptions {
  /** |M| = megaBatchFactor × b (default 16; Defazio & Bottou use 10–32). */
  megaBatchFactor?: number;
  /** Lock seeds and freeze BatchNorm statistics during snapshot evaluations (default true). */
  locking?: boolean;
  /** Samples per forward of the mega-batch pass (default 256). */
  chunkSize?: number;
  seed?: number;
}

interface MegaState {
  cost: number;
  rng: number;
  wTilde: SavedVector | null;
  gTilde: SavedVector | null;
  mega: number[] | null;
  remaining: number;
}

abstract class MegaBatchEstimator implements Estimator {
  abstract readonly name: string;
  protected readonly factor: number;
  protected readonly locking: boolean;
  protected readonly chunkSize: number;
  protected readonly rng: OptimRng;
  protected spent = 0;
  protected wTilde: Tensor | null = null;
  protected gTilde: Tensor | null = null;
  /** Dataset indices of the current mega-batch. */
  protected mega: number[] | null = null;
  /** Inner steps left before the next mega-batch. */
  protected remaining = 0;
  lastLoss = NaN;

  constructor(options: MegaBatchOptions, owner: string) {
    optionsArgument(owner, options);
    this.factor = options.megaBatchFactor === undefined ? 16 : options.megaBatchFactor;
    if (!(Number.isInteger(this.factor) && this.factor >= 1)) throw new ValueError(`${owner}: megaBatchFactor must be an integer ≥ 1; got ${describeValue(this.factor)}`);
    this.locking = boolArgument(owner, 'locking', options.locking, true);
    this.chunkSize = intArgument(owner, 'chunkSize', options.chunkSize, 1, 256);
    this.rng = new OptimRng(intArgument(owner, 'seed', options.seed, 0, 0));
  }

  get cost(): number {
    return this.spent;
  }

  /** The current snapshot w̃ and mega-batch gradient g̃ (flat); null before the first. */
  get snapshot(): { wTilde: Tensor; gTilde: Tensor; megaBatch: readonly number[] } | null {
    return this.wTilde && this.gTilde && this.mega ? { wTilde: this.wTilde, gTilde: this.gTilde, megaBatch: this.mega } : null;
  }

  /** Inner steps after a new mega-batch of size B for minibatches of size b. */
  protected abstract innerSteps(B: number, b: number): number;
  /** The inner batch of a step (the loop's batch, or one drawn from the mega-batch). */
  protected abstract innerBatch(context: StepContext, batch: Batch): Batch;

  direction(context: StepContext, batch: Batch): Tensor[] {
    const { model } = context;
    const b = batchSize(batch);
    if (this.remaining <= 0 || !this.wTilde) this.newMegaBatch(context, b);
    this.remaining--;
    const S = this.innerBatch(context, batch);
    const w = model.flattenParameters();
    const snapshotBatch = this.locking ? S : { ...S, seed: this.rng.seed() };
    const atSnapshot = this.frozen(context, () => batchGradientAt(model, snapshotBatch, this.wTilde!).grad);
    const { grad, loss } = batchGradientAt(model, S, w);
    this.spent += 2 * batchSize(S);
    this.lastLoss = loss;
    const gTilde = this.gTilde!;
    return unflatten(model, noGrad(() => grad.sub(atSnapshot).add(gTilde)));
  }

  rollbackPoint(): () => void {
    // wTilde, gTilde and mega are replaced, never written in place: their references are the state.
    const { spent, wTilde, gTilde, mega, remaining, lastLoss } = this;
    const rng = this.rng.state;
    return () => {
      Object.assign(this, { spent, wTilde, gTilde, mega, remaining, lastLoss });
      this.rng.state = rng;
    };
  }

  saveState(): MegaState {
    return { cost: this.spent, rng: this.rng.state, wTilde: saveVector(this.wTilde), gTilde: saveVector(this.gTilde), mega: this.mega ? [...this.mega] : null, remaining: this.remaining };
  }

  restoreState(state: unknown): void {
    const s = state as MegaState;
    if (!s || typeof s !== 'object' || typeof s.cost !== 'number' || !('gTilde' in s)) throw new ValueError(`${this.name}: restoreState got a value that is not a ${this.name} state`);
    this.spent = s.cost;
    this.rng.state = s.rng;
    this.wTilde = restoreVector(s.wTilde);
    this.gTilde = restoreVector(s.gTilde);
    this.mega = s.mega ? [...s.mega] : null;
    this.remaining = s.remaining;
  }

  protected frozen<T>(context: StepContext, fn: () => T): T {
    return this.locking ? context.model.withFrozenStats(fn) : fn();
  }

  private newMegaBatch(context: StepContext, b: number): void {
    const N = context.data.length;
    const B = Math.min(N, this.factor * b);
    this.mega = this.rng.sample(N, B);
    const w = context.model.flattenParameters();
    const seed = this.rng.seed();
    this.gTilde = this.frozen(context, () => indicesGradientAt(context, this.mega!, w, this.chunkSize, seed));
    this.wTilde = w;
    this.spent += B;
    this.remaining = this.innerSteps(B, b);
  }
}

export interface StreamingSvrgOptions extends MegaBatchOptions {
  /** Steps per mega-batch (m); default 10. */
  innerSteps?: number;
}

export class StreamingSvrgEstimator extends MegaBatchEstimator {
  readonly name = 'streaming-svrg';
  private readonly m: number;

  constructor(options: StreamingSvrgOptions = {}) {
    super(options, 'streaming-svrg');
    this.m = options.innerSteps === undefined ? 10 : options.innerSteps;
    if (!(Number.isInteger(this.m) && this.m >= 1)) throw new ValueError(`streaming-svrg: innerSteps must be an integer ≥ 1; got ${this.m}`);
  }

  protected innerSteps(): number {
    return this.m;
  }

  protected innerBatch(_context: StepContext, batch: Batch): Batch {
    return batch;
  }
}

export interface ScsgOptions extends MegaBatchOptions {
  /** 'geometric' (mean |M|/b, loop batches) or a fixed count (minibatches of the mega-batch); default 'geometric'. */
  innerSteps?: 'geometric' | number;
}

export class ScsgEstimator extends MegaBatchEstimator {
  readonly name = 'scsg';
  private readonly mode: 'geometric' | number;

  constructor(options: ScsgOptions = {}) {
    super(options, 'scsg');
    this.mode = options.innerSteps === undefined ? 'geometric' : options.innerSteps;
    if (this.mode !== 'geometric' && !(Number.isInteger(this.mode) && this.mode >= 1)) {
      throw new ValueError(`scsg: innerSteps must be 'geometric' or an integer ≥ 1; got ${JSON.stringify(this.mode)}`);
    }
  }

  protected innerSteps(B: number, b: number): number {
    if (this.mode !== 'geometric') return this.mode;
    // N ~ Geometric on {1, 2, …} with success probability p = b/B (mean B/b), by inversion.
    const p = Math.min(1, b / B);
    if (p >= 1) return 1;
    return 1 + Math.floor(Math.log(1 - this.rng.next()) / Math.log(1 - p));
  }

  protected innerBatch(context: StepContext, batch: Batch): Batch {
    if (this.mode === 'geometric') return batch;
    const mega = this.mega!;
    const picks = this.rng.sample(mega.length, Math.min(batchSize(batch), mega.length)).map((k) => mega[k]!);
    return context.makeBatch(picks, batch.seed);
  }
}
