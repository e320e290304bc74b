/**
 * How every implementation is timed, the same way for all of them: a few untimed warm-up
 * runs (JIT, kernel caches, allocator), then the median of several timed runs. Each run
 * includes reading the results back (see `consume`), so lazy or asynchronous work cannot
 * escape the clock.
 */

export interface TimingPlan {
  /** Warm-up runs before timing (at most; see `warmupCapMs`). */
  warmup: number;
  /** Stop warming up once one warm-up run took this long: it is slow enough to be warm. */
  warmupCapMs: number;
  /** Timed runs: as many as fit in `budgetMs`, but at least `minReps` and at most `maxReps`. */
  minReps: number;
  maxReps: number;
  budgetMs: number;
  /**
   * When the first run takes at least this long, report that single run and stop (no further
   * warm-up or repetitions). Only --quick sets it: it keeps a 6-second step to one run.
   */
  singleRunAboveMs?: number;
}

export const FULL_PLAN: TimingPlan = { warmup: 2, warmupCapMs: 1000, minReps: 3, maxReps: 15, budgetMs: 5000 };
export const QUICK_PLAN: TimingPlan = { warmup: 1, warmupCapMs: 500, minReps: 3, maxReps: 5, budgetMs: 1000, singleRunAboveMs: 2500 };

export interface Timing {
  medianMs: number;
  /** Every timed run, in order. */
  samplesMs: number[];
  /** Whether the runs were preceded by a warm-up run. */
  warm: boolean;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('internal: median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function timeOnce(run: () => void): number {
  const start = performance.now();
  run();
  return performance.now() - start;
}

/** Warm up, then time `run` according to the plan. Errors propagate (the caller reports them). */
export function measure(run: () => void, plan: TimingPlan): Timing {
  let last = Infinity;
  let warmups = 0;
  while (warmups < plan.warmup) {
    last = timeOnce(run);
    warmups++;
    if (warmups === 1 && plan.singleRunAboveMs !== undefined && last >= plan.singleRunAboveMs) {
      return { medianMs: last, samplesMs: [last], warm: false };
    }
    if (last >= plan.warmupCapMs) break;
  }
  const fit = Number.isFinite(last) ? Math.floor(plan.budgetMs / Math.max(last, 1e-3)) : plan.maxReps;
  const reps = Math.max(plan.minReps, Math.min(plan.maxReps, fit));
  const samplesMs: number[] = [];
  for (let i = 0; i < reps; i++) samplesMs.push(timeOnce(run));
  return { medianMs: median(samplesMs), samplesMs, warm: warmups > 0 };
}

/**
 * Read back a result so that no implementation can skip or defer the work. The checksum
 * goes to a module-level sink that an optimising compiler cannot prove unused.
 */
let sink = 0;
export function consume(values: ArrayLike<number>): void {
  sink += values.length > 0 ? values[0]! : 0;
}
export function sinkValue(): number {
  return sink;
}
