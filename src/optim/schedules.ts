/**
 * Learning-rate and batch-size schedules (Schedule in estimator.ts), the scaling rules of
 * Jastrzębski et al. 2018, and tail iterate averaging.
 *
 * A schedule is a learning-rate function of (epoch, stepInEpoch, stepsInEpoch) and a batch-size
 * function of the epoch; `schedule(lr, batchSize)` combines any two.
 */
import { ValueError } from '../tensor/errors.js';
import type { Schedule } from './estimator.js';

/**
 * A learning rate η as a function of the position in training: 0-based epoch, 0-based step
 * within the epoch and the epoch's number of steps (as Schedule.learningRate is called).
 */
export type LearningRateFn = (epoch: number, stepInEpoch: number, stepsInEpoch: number) => number;
/** A batch size (an integer ≥ 1) as a function of the 0-based epoch (as Schedule.batchSize is called). */
export type BatchSizeFn = (epoch: number) => number;

function positive(owner: string, name: string, v: number): void {
  if (!(Number.isFinite(v) && v > 0)) throw new ValueError(`${owner}: ${name} must be a finite number > 0; got ${v}`);
}

/** A Schedule from a learning-rate function (or constant) and a batch-size function (or constant). */
export function schedule(lr: LearningRateFn | number, batchSize: BatchSizeFn | number): Schedule {
  if (typeof lr === 'number') positive('schedule', 'learning rate', lr);
  if (typeof batchSize === 'number' && !(Number.isInteger(batchSize) && batchSize >= 1)) throw new ValueError(`schedule: batch size must be an integer ≥ 1; got ${batchSize}`);
  return {
    learningRate: typeof lr === 'number' ? () => lr : lr,
    batchSize: typeof batchSize === 'number' ? () => batchSize : batchSize,
  };
}

/** η(t) = η₀. */
export function constantLR(lr: number): LearningRateFn {
  positive('constantLR', 'lr', lr);
  return () => lr;
}

/**
 * Step decay: η = η₀ · γ^k, k = the number of milestones ≤ epoch (milestones: a list of
 * epochs), or k = ⌊epoch / every⌋.
 */
export function stepDecayLR(lr: number, gamma: number, at: { every: number } | { milestones: readonly number[] }): LearningRateFn {
  positive('stepDecayLR', 'lr', lr);
  positive('stepDecayLR', 'gamma', gamma);
  if ('every' in at) {
    if (!(Number.isInteger(at.every) && at.every >= 1)) throw new ValueError(`stepDecayLR: every must be an integer ≥ 1; got ${at.every}`);
    return (epoch) => lr * gamma ** Math.floor(epoch / at.every);
  }
  const milestones = [...at.milestones].sort((a, b) => a - b);
  return (epoch) => lr * gamma ** milestones.filter((m) => m <= epoch).length;
}

/**
 * Triangular value between `low` and `high` with period `period` (in the same units as t):
 * low at t = 0, high at t = period/2, low again at t = period.
 */
function triangle(low: number, high: number, period: number, t: number): number {
  const phase = (((t / period) % 1) + 1) % 1;
  return low + (high - low) * (1 - Math.abs(2 * phase - 1));
}

/**
 * Cyclic learning rate (triangular, Smith 2017), per step: with t = epoch + stepInEpoch/stepsInEpoch
 * (fractional epochs), η(t) goes linearly from `low` (t = 0) to `high` (t = period/2) and back.
 */
export function cyclicLR(low: number, high: number, periodEpochs: number): LearningRateFn {
  positive('cyclicLR', 'low', low);
  positive('cyclicLR', 'high', high);
  positive('cyclicLR', 'period', periodEpochs);
  return (epoch, stepInEpoch, stepsInEpoch) => triangle(low, high, periodEpochs, epoch + (stepsInEpoch > 0 ? stepInEpoch / stepsInEpoch : 0));
}

/**
 * Cyclic batch size (Jastrzębski et al. 2018), per epoch: the batch size alternates between
 * `low` and `high` (e.g. 128 ↔ 640), `every` epochs each — the batch-size counterpart of a
 * cyclic learning rate (η/S cycles the same way).
 */
export function cyclicBatchSize(low: number, high: number, every = 1): BatchSizeFn {
  for (const [name, v] of [['low', low], ['high', high], ['every', every]] as const) {
    if (!(Number.isInteger(v) && v >= 1)) throw new ValueError(`cyclicBatchSize: ${name} must be an integer ≥ 1; got ${v}`);
  }
  return (epoch) => (Math.floor(epoch / every) % 2 === 0 ? low : high);
}

/** Linear scaling rule: η = η₀ · S / S₀ (keeps η/S fixed). */
export function linearScaling(baseLR: number, baseBatch: number, batchSize: number): number {
  positive('linearScaling', 'base batch size', baseBatch);
  return (baseLR * batchSize) / baseBatch;
}

/** Square-root scaling rule: η = η₀ · √(S / S₀). */
export function sqrtScaling(baseLR: number, baseBatch: number, batchSize: number): number {
  positive('sqrtScaling', 'base batch size', baseBatch);
  return baseLR * Math.sqrt(batchSize / baseBatch);
}

/**
 * Tail iterate averaging: w̄ = mean of the iterates observed at steps ≥ `start` (float64 sums).
 * @example const avg = new TailAverage(900); for each step t: avg.observe(t, w); … avg.value()
 */
export class TailAverage {
  private sum: Float64Array | null = null;
  private n = 0;

  /** Throws ValueError unless `start` is an integer ≥ 0. */
  constructor(
    /** First step (inclusive) whose iterate enters the average. */
    readonly start: number,
  ) {
    if (!(Number.isInteger(start) && start >= 0)) throw new ValueError(`TailAverage: start must be an integer ≥ 0; got ${start}`);
  }

  /** Add iterate w of step t (ignored before `start`). */
  observe(t: number, w: ArrayLike<number>): void {
    if (t < this.start) return;
    if (!this.sum) this.sum = new Float64Array(w.length);
    if (w.length !== this.sum.length) throw new ValueError(`TailAverage: iterates have ${this.sum.length} elements; got ${w.length}`);
    for (let j = 0; j < w.length; j++) this.sum[j] += w[j]!;
    this.n++;
  }

  /** Number of iterates averaged so far. */
  get count(): number {
    return this.n;
  }

  /** The average so far. */
  value(): Float64Array {
    if (!this.sum) throw new ValueError(`TailAverage: no iterate observed at step ≥ ${this.start} yet`);
    return this.sum.map((s) => s / this.n);
  }
}
