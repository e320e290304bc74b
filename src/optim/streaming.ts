/**
 * Mega-batch variants of SVRG (docs/research.md §1): the snapshot gradient is estimated on a
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
import { untracked } from '../tensor/tidy.js';

/**
 * Options shared by {@link StreamingSvrgEstimator} and {@link ScsgEstimator}. Invalid values
 * throw ValueError in the constructor.
 */
export interface MegaBatchOptions {
  /** |M| = megaBatchFactor × b (default 16; Defazio & Bottou use 10–32). */
  megaBatchFactor?: number;
  /** Lock seeds and freeze BatchNorm statistics during snapshot evaluations (default true). */
  locking?: boolean;
  /** Samples per forward of the mega-batch pass (default 256). */
  chunkSize?: number;
  /**
   * Seed (integer ≥ 0, default 0) of the estimator's own random choices: the mega-batches,
   * SCSG's inner-loop lengths and inner minibatches, and the seeds of unlocked evaluations.
   */
  seed?: number;
}

/** What the mega-batch estimators' saveState returns: plain JSON, restored exactly by restoreState. */
export interface MegaState {
  /** Sample-gradient evaluations so far. */
  cost: number;
  /** Counter of the estimator's random stream (OptimRng.state). */
  rng: number;
  /** The snapshot w̃ (flat), null before the first mega-batch. */
  wTilde: SavedVector | null;
  /** g̃ = g_M(w̃) (flat), null before the first mega-batch. */
  gTilde: SavedVector | null;
  /** Dataset indices of the current mega-batch M. */
  mega: number[] | null;
  /** Inner steps left before the next mega-batch. */
  remaining: number;
}

/**
 * What streaming SVRG and SCSG share: a mega-batch M of |M| = min(N, factor·b) indices drawn
 * without replacement, w̃ = w and g̃ = g_M(w̃) at each new mega-batch, and the inner direction
 * v = g_S(w) − g_S(w̃) + g̃. Subclasses choose the number of inner steps and the inner batch S.
 */
abstract class MegaBatchEstimator implements Estimator {
  abstract readonly name: string;
  /** The mega-batch factor: |M| = min(N, factor·b), b the current batch size. */
  protected readonly factor: number;
  /** Whether g_S(w̃) reuses S's seed and the snapshot evaluations freeze BatchNorm statistics. */
  protected readonly locking: boolean;
  /** Samples per forward of the mega-batch gradient pass. */
  protected readonly chunkSize: number;
  /** The estimator's own random stream (mega-batches, inner-loop lengths, unlocked seeds). */
  protected readonly rng: OptimRng;
  /** Sample-gradient evaluations so far (what `cost` reports). */
  protected spent = 0;
  /** The snapshot w̃ (flat), the point where the current mega-batch was evaluated. */
  protected wTilde: Tensor | null = null;
  /** g̃ = g_M(w̃), the current mega-batch's mean gradient (flat). */
  protected gTilde: Tensor | null = null;
  /** Dataset indices of the current mega-batch. */
  protected mega: number[] | null = null;
  /** Inner steps left before the next mega-batch. */
  protected remaining = 0;
  /** Mean loss of the last inner batch at w (before the step). */
  lastLoss = NaN;

  /** Validates the shared options; `owner` prefixes error messages. */
  constructor(options: MegaBatchOptions, owner: string) {
    optionsArgument(owner, options);
    this.factor = options.megaBatchFactor === undefined ? 16 : options.megaBatchFactor;
    if (!(Number.isInteger(this.factor) && this.factor >= 1)) throw new ValueError(`${owner}: megaBatchFactor must be an integer ≥ 1; got ${describeValue(this.factor)}`);
    this.locking = boolArgument(owner, 'locking', options.locking, true);
    this.chunkSize = intArgument(owner, 'chunkSize', options.chunkSize, 1, 256);
    this.rng = new OptimRng(intArgument(owner, 'seed', options.seed, 0, 0));
  }

  /** Sample-gradient evaluations so far: |M| per mega-batch plus 2|S| per step. */
  get cost(): number {
    return this.spent;
  }

  /** The current snapshot w̃ and mega-batch gradient g̃ (flat); null before the first. */
  get snapshot(): {
    /** The snapshot point w̃, flat [P]. */
    wTilde: Tensor;
    /** g̃ = g_M(w̃), flat [P]. */
    gTilde: Tensor;
    /** The dataset indices of the mega-batch M. */
    megaBatch: readonly number[];
  } | null {
    return this.wTilde && this.gTilde && this.mega ? { wTilde: this.wTilde, gTilde: this.gTilde, megaBatch: this.mega } : null;
  }

  /** Inner steps after a new mega-batch of size B for minibatches of size b. */
  protected abstract innerSteps(B: number, b: number): number;
  /** The inner batch of a step (the loop's batch, or one drawn from the mega-batch). */
  protected abstract innerBatch(context: StepContext, batch: Batch): Batch;

  /**
   * v = g_S(w) − g_S(w̃) + g̃, one tensor per parameter; draws a new mega-batch first when the
   * inner loop is over (or before the first step).
   */
  direction(context: StepContext, batch: Batch): Tensor[] {
    const { model } = context;
    const b = batchSize(batch);
    // Only the mega-batch's (w̃, g̃) is stored: the rest is left to the caller's tidy scope.
    if (this.remaining <= 0 || !this.wTilde) untracked(() => this.newMegaBatch(context, b));
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

  /** Captures counters, references to w̃, g̃ and M, and the random stream; the returned function restores them. */
  rollbackPoint(): () => void {
    // wTilde, gTilde and mega are replaced, never written in place: their references are the state.
    const { spent, wTilde, gTilde, mega, remaining, lastLoss } = this;
    const rng = this.rng.state;
    return () => {
      Object.assign(this, { spent, wTilde, gTilde, mega, remaining, lastLoss });
      this.rng.state = rng;
    };
  }

  /** The whole state (w̃, g̃, M, counters, random stream) as plain JSON. */
  saveState(): MegaState {
    return { cost: this.spent, rng: this.rng.state, wTilde: saveVector(this.wTilde), gTilde: saveVector(this.gTilde), mega: this.mega ? [...this.mega] : null, remaining: this.remaining };
  }

  /** Restore a `saveState` value; throws ValueError when `state` is not a mega-batch estimator's state. */
  restoreState(state: unknown): void {
    untracked(() => {
      const s = state as MegaState;
      if (!s || typeof s !== 'object' || typeof s.cost !== 'number' || !('gTilde' in s)) throw new ValueError(`${this.name}: restoreState got a value that is not a ${this.name} state`);
      this.spent = s.cost;
      this.rng.state = s.rng;
      this.wTilde = restoreVector(s.wTilde);
      this.gTilde = restoreVector(s.gTilde);
      this.mega = s.mega ? [...s.mega] : null;
      this.remaining = s.remaining;
    });
  }

  /** Run `fn` with the model's BatchNorm statistics frozen when locking (BN reset), plainly otherwise. */
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

/** Options of {@link StreamingSvrgEstimator}. */
export interface StreamingSvrgOptions extends MegaBatchOptions {
  /** Steps per mega-batch (m); default 10. */
  innerSteps?: number;
}

/**
 * Streaming SVRG (Frostig et al. 2015, as Defazio & Bottou 2019 run it): every m steps a
 * fresh mega-batch M of factor·b samples sets w̃ = w and g̃ = g_M(w̃); each step uses the
 * loop's batch S, independent of M: v = g_S(w) − g_S(w̃) + g̃. m is fixed (`innerSteps`,
 * default 10).
 */
export class StreamingSvrgEstimator extends MegaBatchEstimator {
  /** Always 'streaming-svrg'. */
  readonly name = 'streaming-svrg';
  private readonly m: number;

  /** Throws ValueError for an invalid megaBatchFactor, innerSteps, chunkSize, locking or seed. */
  constructor(options: StreamingSvrgOptions = {}) {
    super(options, 'streaming-svrg');
    this.m = options.innerSteps === undefined ? 10 : options.innerSteps;
    if (!(Number.isInteger(this.m) && this.m >= 1)) throw new ValueError(`streaming-svrg: innerSteps must be an integer ≥ 1; got ${this.m}`);
  }

  /** Always m, the fixed inner-loop length. */
  protected innerSteps(): number {
    return this.m;
  }

  /** The loop's batch itself. */
  protected innerBatch(_context: StepContext, batch: Batch): Batch {
    return batch;
  }
}

/** Options of {@link ScsgEstimator}. */
export interface ScsgOptions extends MegaBatchOptions {
  /** 'geometric' (mean |M|/b, loop batches) or a fixed count (minibatches of the mega-batch); default 'geometric'. */
  innerSteps?: 'geometric' | number;
}

/**
 * SCSG, stochastically controlled stochastic gradient (Lei & Jordan 2017): streaming SVRG's
 * direction with a random number of inner steps, geometric with mean |M|/b, or, as in the
 * reference code, a fixed count with the inner minibatches drawn from the mega-batch.
 */
export class ScsgEstimator extends MegaBatchEstimator {
  /** Always 'scsg'. */
  readonly name = 'scsg';
  private readonly mode: 'geometric' | number;

  /** Throws ValueError for an invalid megaBatchFactor, innerSteps, chunkSize, locking or seed. */
  constructor(options: ScsgOptions = {}) {
    super(options, 'scsg');
    this.mode = options.innerSteps === undefined ? 'geometric' : options.innerSteps;
    if (this.mode !== 'geometric' && !(Number.isInteger(this.mode) && this.mode >= 1)) {
      throw new ValueError(`scsg: innerSteps must be 'geometric' or an integer ≥ 1; got ${JSON.stringify(this.mode)}`);
    }
  }

  /** A fixed count, or N ~ Geometric on {1, 2, …} with success probability b/B (mean B/b). */
  protected innerSteps(B: number, b: number): number {
    if (this.mode !== 'geometric') return this.mode;
    // N ~ Geometric on {1, 2, …} with success probability p = b/B (mean B/b), by inversion.
    const p = Math.min(1, b / B);
    if (p >= 1) return 1;
    return 1 + Math.floor(Math.log(1 - this.rng.next()) / Math.log(1 - p));
  }

  /** The loop's batch ('geometric'), or b distinct samples of M rebuilt with the batch's seed (fixed count). */
  protected innerBatch(context: StepContext, batch: Batch): Batch {
    if (this.mode === 'geometric') return batch;
    const mega = this.mega!;
    const picks = this.rng.sample(mega.length, Math.min(batchSize(batch), mega.length)).map((k) => mega[k]!);
    return context.makeBatch(picks, batch.seed);
  }
}
