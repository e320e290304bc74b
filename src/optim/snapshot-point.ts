/**
 * Which point of a snapshot interval becomes the next snapshot w̃ (Defazio & Bottou 2019):
 *
 * - 'last':   the last iterate (Johnson & Zhang's option I);
 * - 'random': an iterate drawn uniformly from the interval's iterates w_1 … w_L (reservoir
 *             sampling, so L need not be known in advance);
 * - { tail: f }: the average of the last ⌈f·L⌉ iterates (f = 0.1, 0.5, 1 for 10/50/100 %);
 * - { ema: β }: an exponential moving average of all iterates, w̄ ← β·w̄ + (1 − β)·w_p, carried
 *             across intervals and started at the initial point.
 *
 * The iterates of an interval of L steps are the points after each of its steps, w_1 … w_L
 * (w_L is the current point when the next snapshot is taken). The tracker is fed w_p, the
 * point before step p + 1 (p = 1 … L − 1), plus w_L at snapshot time.
 */
import { ValueError } from '../tensor/errors.js';
import type { OptimRng } from './rng.js';

/**
 * Which iterate of a snapshot interval becomes the next snapshot w̃ (Defazio & Bottou 2019's
 * options): 'last', 'random', a tail average or an exponential moving average; see the
 * module comment for the exact rules. Default in SvrgOptions: 'last'.
 */
export type SnapshotPoint =
  | 'last'
  | 'random'
  | {
      /** f in (0, 1]: average the last ⌈f·L⌉ iterates of the interval (0.1, 0.5, 1 in the paper). */
      tail: number;
    }
  | {
      /** β in [0, 1): w̄ ← β·w̄ + (1 − β)·w after every step, carried across intervals. */
      ema: number;
    };

/** Throws ValueError, prefixed with `owner`, unless `point` is a valid SnapshotPoint (tail in (0, 1], ema in [0, 1)). */
export function checkSnapshotPoint(point: SnapshotPoint, owner: string): void {
  if (point === 'last' || point === 'random') return;
  if (typeof point === 'object' && 'tail' in point && point.tail > 0 && point.tail <= 1) return;
  if (typeof point === 'object' && 'ema' in point && point.ema >= 0 && point.ema < 1) return;
  throw new ValueError(`${owner}: snapshot point must be 'last', 'random', { tail: f } with 0 < f ≤ 1 or { ema: β } with 0 ≤ β < 1; got ${JSON.stringify(point)}`);
}

/** A SnapshotTracker's state as plain JSON (part of SvrgEstimator's saveState). */
export interface TrackerState {
  /** Iterates seen in this interval by the 'random' reservoir. */
  seen: number;
  /** Float64 sum of the tail iterates so far ({ tail }), null before the first. */
  sum: number[] | null;
  /** Number of iterates in `sum`. */
  count: number;
  /** The iterate the 'random' reservoir holds, null before the first. */
  chosen: number[] | null;
  /** The running EMA ({ ema }), null before the first snapshot. */
  ema: number[] | null;
}

/** Accumulates the iterates of one interval for the chosen snapshot point (float64 sums). */
export class SnapshotTracker {
  private seen = 0;
  private sum: Float64Array | null = null;
  private count = 0;
  private chosen: Float64Array | null = null;
  private ema: Float64Array | null = null;

  /** A tracker for `point`; 'random' draws from `rng` (the owning estimator's stream). */
  constructor(
    /** The rule that picks the snapshot. */
    readonly point: SnapshotPoint,
    private readonly rng: OptimRng,
  ) {}

  /** Start an interval (and the EMA at the initial point, the first time). */
  begin(w: ArrayLike<number>): void {
    this.seen = 0;
    this.sum = null;
    this.count = 0;
    this.chosen = null;
    if (typeof this.point === 'object' && 'ema' in this.point && !this.ema) this.ema = Float64Array.from(w);
  }

  /**
   * Feed iterate w_p, p = 1 … L (1-based position in the interval) of an interval of about L
   * steps (L decides the tail).
   */
  observe(w: ArrayLike<number>, p: number, L: number): void {
    const point = this.point;
    if (point === 'last') return;
    if (point === 'random') {
      this.seen++;
      if (this.rng.int(this.seen) === 0) this.chosen = Float64Array.from(w);
    } else if ('tail' in point) {
      if (p > L - Math.ceil(point.tail * L)) {
        if (!this.sum) this.sum = new Float64Array(w.length);
        for (let j = 0; j < w.length; j++) this.sum[j] += w[j]!;
        this.count++;
      }
    } else {
      const e = this.ema!;
      for (let j = 0; j < w.length; j++) e[j] = point.ema * e[j]! + (1 - point.ema) * w[j]!;
    }
  }

  /** The snapshot at the end of an interval of L steps, given its last iterate w_L. */
  finish(wLast: ArrayLike<number>, L: number): ArrayLike<number> {
    const point = this.point;
    if (point === 'last') return wLast;
    this.observe(wLast, L, L);
    if (point === 'random') return this.chosen ?? wLast;
    if ('tail' in point) {
      if (!this.sum) return wLast;
      return this.sum.map((s) => s / this.count);
    }
    return this.ema!;
  }

  /** In-memory copy for a refused step (see Estimator.rollbackPoint): sum and ema are written in place. */
  rollbackPoint(): () => void {
    const { seen, count, chosen } = this;
    const sum = this.sum?.slice() ?? null;
    const ema = this.ema?.slice() ?? null;
    return () => {
      Object.assign(this, { seen, count, chosen, sum, ema });
    };
  }

  /** The tracker's state as plain JSON. */
  saveState(): TrackerState {
    const arr = (a: Float64Array | null) => (a ? Array.from(a) : null);
    return { seen: this.seen, sum: arr(this.sum), count: this.count, chosen: arr(this.chosen), ema: arr(this.ema) };
  }

  /** Restore a state returned by `saveState` (its fields are not validated). */
  restoreState(s: TrackerState): void {
    const arr = (a: number[] | null) => (a ? Float64Array.from(a) : null);
    this.seen = s.seen;
    this.sum = arr(s.sum);
    this.count = s.count;
    this.chosen = arr(s.chosen);
    this.ema = arr(s.ema);
  }
}
