/**
 * The SVRG family (docs/research.md §1, §5; docs/design.md §9): one control-variate estimator
 *
 *   v = g_I(w) − c·(g_I(w̃) − μ̃),    μ̃ = ∇F(w̃) = (1/N) Σ_i ∇f_i(w̃)
 *
 * with the same minibatch I at the current point w and at the snapshot w̃.
 *
 * - SVRG (Johnson & Zhang 2013) and B-SVRG (its minibatch form, used with a decaying learning
 *   rate): c = 1. At w = w̃ the direction is exactly μ̃ (zero variance).
 * - BP-SVRG (Jin, Lin & Zhang 2019): c = −1, v = g_I(w) + g_I(w̃) − μ̃. RECONSTRUCTED from the
 *   paper's description of "a sign switch on B-SVRG" (the full text was not available). Still
 *   unbiased; at w = w̃ its variance is exactly 4× SGD's (v − μ̃ = 2(g_I − μ̃)).
 * - α-SVRG (Yin et al. 2023): c = α(t), constant or decaying linearly to 0 over training
 *   (α(t) = α₀·max(0, 1 − t/T), t the global step at the snapshot), held constant within a
 *   snapshot interval.
 *
 * Every c keeps E_I[v] = ∇F(w) for I uniform over a partition of equal blocks (or one sample
 * drawn uniformly), since E_I[g_I(w̃)] = μ̃.
 *
 * Snapshots: every `interval` (epochs, taken in startEpoch, or steps, taken in direction) the
 * snapshot moves to the chosen point of the interval (snapshot-point.ts) and μ̃ is recomputed
 * over the whole dataset (not stored from the steps), in train mode, chunk by chunk.
 *
 * Locking (default on; Defazio & Bottou's practical complications):
 * - transform + dropout locking: g_I(w̃) is evaluated on the SAME batch object as g_I(w) —
 *   same sample ids, same seed, hence the same augmentation and dropout masks;
 * - BN reset: the snapshot evaluations (μ̃ and every g_I(w̃)) run inside
 *   `model.withFrozenStats`, so BatchNorm running statistics are bit-identical before and after.
 * With `locking: false` (ablation) the snapshot gradient uses a freshly drawn seed (and, when the
 * loop passes `context.indices`, a batch rebuilt with that seed: a new augmentation), and
 * snapshot passes update the running statistics like any train forward.
 *
 * Cost: N per snapshot (the full pass), 2|I| per step (|I| when c = 0).
 */
import type { Batch } from '../nn/per-sample.js';
import { tensor } from '../tensor/creation.js';
import { ValueError } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { noGrad } from '../autograd/mode.js';
import type { Estimator, StepContext } from './estimator.js';
import { batchGradientAt, batchSize, fullGradientAt, restoreVector, saveVector, unflatten, type SavedVector } from './gradient.js';
import { OptimRng } from './rng.js';
import { checkSnapshotPoint, SnapshotTracker, type SnapshotPoint, type TrackerState } from './snapshot-point.js';
import { boolArgument, intArgument, optionsArgument } from '../tensor/arguments.js';
import { untracked } from '../tensor/tidy.js';

/**
 * A member of the SVRG family, by its control-variate coefficient c: 'svrg' and 'b-svrg'
 * (c = 1; the same estimator, B-SVRG naming its use with a decaying learning rate), 'bp-svrg'
 * (c = −1, Jin, Lin & Zhang 2019, reconstructed) and 'alpha-svrg' (c = α(t), Yin et al. 2023).
 */
export type SvrgVariant = 'svrg' | 'b-svrg' | 'bp-svrg' | 'alpha-svrg';

/** α(t) of α-SVRG: a constant, or α₀ decaying linearly to 0 at global step `totalSteps`. */
export type AlphaSchedule =
  | number
  | {
      /** α₀, the coefficient at step 0 (finite; 1 is full SVRG, 0 is SGD). */
      initial: number;
      /** T > 0: α(t) = α₀·max(0, 1 − t/T), so c is 0 from global step T on. */
      totalSteps: number;
    };

/**
 * Options of {@link SvrgEstimator} (and of svrg, bSvrg, bpSvrg, alphaSvrg, which fix
 * `variant` and `alpha`). Invalid values throw ValueError in the constructor.
 */
export interface SvrgOptions {
  /** Default 'svrg'. */
  variant?: SvrgVariant;
  /** α-SVRG's coefficient (required for 'alpha-svrg', rejected otherwise). */
  alpha?: AlphaSchedule;
  /** Snapshot interval; default one epoch. */
  interval?:
    | {
        /** Take a snapshot every this many epochs (an integer ≥ 1), at the start of the epoch. */
        epochs: number;
      }
    | {
        /** Take a snapshot every this many steps (an integer ≥ 1), counted across epoch boundaries. */
        steps: number;
      };
  /** Which iterate of the interval becomes w̃; default 'last'. */
  point?: SnapshotPoint;
  /** Seed/transform/dropout locking and BN reset; default true. */
  locking?: boolean;
  /** Samples per forward of the full-gradient pass; default 256. */
  chunkSize?: number;
  /** Seed of the estimator's own random choices; default 0. */
  seed?: number;
}

/** What SvrgEstimator.saveState returns: plain JSON, restored exactly by restoreState. */
export interface SvrgState {
  /** Sample-gradient evaluations so far. */
  cost: number;
  /** Counter of the estimator's random stream (OptimRng.state). */
  rng: number;
  /** The snapshot w̃ (flat), null before the first snapshot. */
  wTilde: SavedVector | null;
  /** μ̃ = ∇F(w̃) (flat), null before the first snapshot. */
  mu: SavedVector | null;
  /** The coefficient c fixed at the last snapshot. */
  coefficient: number;
  /** Epoch of the last snapshot (for epoch intervals). */
  snapshotEpoch: number;
  /** Steps taken since the last snapshot. */
  stepsSinceSnapshot: number;
  /** The snapshot-point tracker's partial sums and choices for the current interval. */
  tracker: TrackerState;
}

/**
 * The SVRG family as one estimator (see the module comment):
 * `v = g_I(w) − c·(g_I(w̃) − μ̃)` with c = 1 (SVRG, B-SVRG), −1 (BP-SVRG) or α(t) (α-SVRG).
 * The helpers svrg, bSvrg, bpSvrg and alphaSvrg build the usual configurations.
 */
export class SvrgEstimator implements Estimator {
  /** The variant, used as the estimator's name ('svrg', 'b-svrg', 'bp-svrg', 'alpha-svrg'). */
  readonly name: SvrgVariant;
  /**
   * Whether transforms, dropout masks and BatchNorm statistics are locked between the
   * evaluations at w and at w̃ (SvrgOptions.locking).
   */
  readonly locking: boolean;
  private readonly interval: { epochs: number } | { steps: number };
  private readonly alpha: AlphaSchedule | undefined;
  private readonly chunkSize: number;
  private readonly rng: OptimRng;
  private readonly tracker: SnapshotTracker;
  private spent = 0;
  private wTilde: Tensor | null = null;
  private mu: Tensor | null = null;
  private coefficient = 1;
  private snapshotEpoch = 0;
  private stepsSinceSnapshot = 0;
  /** Mean loss of the last batch at w (before the step). */
  lastLoss = NaN;

  /** Throws ValueError for an unknown variant, a misplaced or invalid alpha, or an invalid interval, point, chunkSize or seed. */
  constructor(options: SvrgOptions = {}) {
    optionsArgument('svrg', options);
    this.name = options.variant ?? 'svrg';
    if (!['svrg', 'b-svrg', 'bp-svrg', 'alpha-svrg'].includes(this.name)) throw new ValueError(`svrg: unknown variant '${this.name}'`);
    this.alpha = options.alpha;
    if (this.name === 'alpha-svrg') {
      const a = this.alpha;
      const ok = typeof a === 'number' ? Number.isFinite(a) : a !== undefined && Number.isFinite(a.initial) && a.totalSteps > 0;
      if (!ok) throw new ValueError(`alpha-svrg: alpha must be a finite number or { initial, totalSteps > 0 }; got ${JSON.stringify(a)}`);
    } else if (this.alpha !== undefined) {
      throw new ValueError(`${this.name}: alpha is only for 'alpha-svrg'`);
    }
    this.interval = options.interval === undefined ? { epochs: 1 } : optionsArgument(this.name, options.interval, 'the snapshot interval ({ epochs } or { steps })');
    const length = 'epochs' in this.interval ? this.interval.epochs : this.interval.steps;
    if (!Number.isInteger(length) || length < 1) throw new ValueError(`${this.name}: the snapshot interval must be a whole number ≥ 1 of epochs or steps; got ${JSON.stringify(this.interval)}`);
    const point = options.point ?? 'last';
    checkSnapshotPoint(point, this.name);
    this.locking = boolArgument(this.name, 'locking', options.locking, true);
    this.chunkSize = intArgument(this.name, 'chunkSize', options.chunkSize, 1, 256);
    this.rng = new OptimRng(intArgument(this.name, 'seed', options.seed, 0, 0));
    this.tracker = new SnapshotTracker(point, this.rng);
  }

  /** Sample-gradient evaluations so far: N per snapshot, plus |I| (c = 0) or 2|I| per step. */
  get cost(): number {
    return this.spent;
  }

  /** The current snapshot w̃, μ̃ = ∇F(w̃) (flat) and coefficient c; null before the first. */
  get snapshot(): {
    /** The snapshot point w̃, flat [P] in the parameters' dtype. */
    wTilde: Tensor;
    /** μ̃ = ∇F(w̃) over the whole dataset, flat [P]. */
    mu: Tensor;
    /** The coefficient c in use until the next snapshot. */
    coefficient: number;
  } | null {
    return this.wTilde && this.mu ? { wTilde: this.wTilde, mu: this.mu, coefficient: this.coefficient } : null;
  }

  /** c(t) at global step t. */
  coefficientAt(step: number): number {
    switch (this.name) {
      case 'svrg':
      case 'b-svrg':
        return 1;
      case 'bp-svrg':
        return -1;
      case 'alpha-svrg': {
        const a = this.alpha!;
        return typeof a === 'number' ? a : a.initial * Math.max(0, 1 - step / a.totalSteps);
      }
    }
  }

  /** With an epoch interval, takes the snapshot (w̃, μ̃, c) when one is due; otherwise does nothing. */
  startEpoch(context: StepContext): void {
    untracked(() => {
      if (!('epochs' in this.interval)) return;
      if (!this.wTilde || context.epoch - this.snapshotEpoch >= this.interval.epochs) this.takeSnapshot(context);
    });
  }

  /**
   * v = g_I(w) − c·(g_I(w̃) − μ̃) for the loop's batch I, one tensor per parameter; takes the
   * first snapshot, or a step-interval one that is due, before computing it. Only the snapshot
   * is stored: the rest of the step is left to the caller's tidy scope (train() opens one).
   */
  direction(context: StepContext, batch: Batch): Tensor[] {
    const { model } = context;
    if (!this.wTilde || ('steps' in this.interval && this.stepsSinceSnapshot >= this.interval.steps)) {
      untracked(() => this.takeSnapshot(context));
    }
    const w = model.flattenParameters();
    if (this.stepsSinceSnapshot >= 1) this.tracker.observe(w.toTypedArray(), this.stepsSinceSnapshot, this.intervalLength(context));
    this.stepsSinceSnapshot++;

    const c = this.coefficient;
    const b = batchSize(batch);
    let atSnapshot: Tensor | null = null;
    if (c !== 0) {
      const snapshotBatch = this.locking ? batch : this.unlockedBatch(context, batch);
      atSnapshot = this.snapshotPass(context, () => batchGradientAt(model, snapshotBatch, this.wTilde!).grad);
      this.spent += b;
    }
    const { grad, loss } = batchGradientAt(model, batch, w);
    this.spent += b;
    this.lastLoss = loss;
    const mu = this.mu!;
    const v = noGrad(() => (atSnapshot === null ? grad : c === 1 ? grad.sub(atSnapshot).add(mu) : grad.sub(atSnapshot.sub(mu).mul(c))));
    return unflatten(model, v);
  }

  /** Captures counters, references to w̃ and μ̃, the random stream and the tracker; the returned function restores them. */
  rollbackPoint(): () => void {
    // wTilde and mu are replaced, never written in place: their references are the state.
    const { spent, wTilde, mu, coefficient, snapshotEpoch, stepsSinceSnapshot, lastLoss } = this;
    const rng = this.rng.state;
    const tracker = this.tracker.rollbackPoint();
    return () => {
      Object.assign(this, { spent, wTilde, mu, coefficient, snapshotEpoch, stepsSinceSnapshot, lastLoss });
      this.rng.state = rng;
      tracker();
    };
  }

  /** The whole state (snapshot, μ̃, counters, random stream, tracker) as plain JSON. */
  saveState(): SvrgState {
    return {
      cost: this.spent,
      rng: this.rng.state,
      wTilde: saveVector(this.wTilde),
      mu: saveVector(this.mu),
      coefficient: this.coefficient,
      snapshotEpoch: this.snapshotEpoch,
      stepsSinceSnapshot: this.stepsSinceSnapshot,
      tracker: this.tracker.saveState(),
    };
  }

  /** Restore a `saveState` value; throws ValueError when `state` is not an SVRG state. */
  restoreState(state: unknown): void {
    untracked(() => {
      const s = state as SvrgState;
      if (!s || typeof s !== 'object' || typeof s.cost !== 'number' || !('wTilde' in s)) throw new ValueError(`${this.name}: restoreState got a value that is not an SVRG state`);
      this.spent = s.cost;
      this.rng.state = s.rng;
      this.wTilde = restoreVector(s.wTilde);
      this.mu = restoreVector(s.mu);
      this.coefficient = s.coefficient;
      this.snapshotEpoch = s.snapshotEpoch;
      this.stepsSinceSnapshot = s.stepsSinceSnapshot;
      this.tracker.restoreState(s.tracker);
    });
  }

  // ---- internals ---------------------------------------------------------------------------

  /** The interval's length L in steps (epoch intervals: epochs × the current epoch's steps). */
  private intervalLength(context: StepContext): number {
    return 'steps' in this.interval ? this.interval.steps : this.interval.epochs * context.stepsInEpoch;
  }

  /** Snapshot evaluations: running statistics frozen when locking (BN reset). */
  private snapshotPass<T>(context: StepContext, fn: () => T): T {
    return this.locking ? context.model.withFrozenStats(fn) : fn();
  }

  /** The batch with a freshly drawn seed (rebuilt from its indices when known: new augmentation). */
  private unlockedBatch(context: StepContext, batch: Batch): Batch {
    let seed = this.rng.seed();
    if (seed === batch.seed) seed = (seed + 1) % 2 ** 31;
    return context.indices ? context.makeBatch(context.indices, seed) : { ...batch, seed };
  }

  /** w̃ ← the interval's snapshot point, μ̃ ← ∇F(w̃) over all the data, c ← α(t). */
  private takeSnapshot(context: StepContext): void {
    const { model } = context;
    const w = model.flattenParameters();
    let wTilde = w;
    if (this.wTilde && this.stepsSinceSnapshot > 0) {
      const chosen = this.tracker.finish(w.toTypedArray(), this.stepsSinceSnapshot);
      wTilde = tensor(Float64Array.from(chosen), { shape: [w.size], dtype: 'float64' }).to(w.dtype);
    }
    this.tracker.begin(wTilde.toTypedArray());
    const seed = this.rng.seed();
    this.mu = this.snapshotPass(context, () => fullGradientAt(context, wTilde, this.chunkSize, seed));
    this.spent += context.data.length;
    this.wTilde = wTilde;
    this.coefficient = this.coefficientAt(context.step);
    this.snapshotEpoch = context.epoch;
    this.stepsSinceSnapshot = 0;
  }
}

/** SVRG (c = 1). */
export const svrg = (options: Omit<SvrgOptions, 'variant' | 'alpha'> = {}) => new SvrgEstimator({ ...options, variant: 'svrg' });
/** B-SVRG: minibatch SVRG (c = 1), meant to be used with a decaying learning-rate schedule. */
export const bSvrg = (options: Omit<SvrgOptions, 'variant' | 'alpha'> = {}) => new SvrgEstimator({ ...options, variant: 'b-svrg' });
/** BP-SVRG (c = −1; reconstructed, see the file comment). */
export const bpSvrg = (options: Omit<SvrgOptions, 'variant' | 'alpha'> = {}) => new SvrgEstimator({ ...options, variant: 'bp-svrg' });
/** α-SVRG (c = α(t)). */
export const alphaSvrg = (alpha: AlphaSchedule, options: Omit<SvrgOptions, 'variant' | 'alpha'> = {}) => new SvrgEstimator({ ...options, variant: 'alpha-svrg', alpha });
