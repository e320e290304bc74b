/**
 * How every implementation is timed, the same way for all of them: untimed warm-up runs (JIT,
 * kernel caches, allocator) until the steady state of a training loop, then the median of
 * several timed runs. Each run
 * includes reading the results back (see `consume`), so lazy or asynchronous work cannot
 * escape the clock.
 */

export interface TimingPlan {
  /** Warm-up runs before timing (at least, unless one run reaches `warmupCapMs`). */
  warmup: number;
  /**
   * Keep warming up until the warm-up runs took this long in all. V8 optimizes a step's
   * functions over its first tens of runs: a LeNet-5 gradient takes 36 ms on its second run,
   * 21 ms on its 20th and 16–17 ms from about the 50th (≈ 1 s), an MLP gradient 8.6, 3.7 and
   * 3.5 ms (runs 2, 20 and 50) — the steady state of a training loop is what a row measures.
   */
  warmupMs?: number;
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

export const FULL_PLAN: TimingPlan = { warmup: 2, warmupMs: 1500, warmupCapMs: 1000, minReps: 3, maxReps: 15, budgetMs: 5000 };
export const QUICK_PLAN: TimingPlan = { warmup: 1, warmupMs: 500, warmupCapMs: 500, minReps: 3, maxReps: 5, budgetMs: 1000, singleRunAboveMs: 2500 };

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
  let warmedMs = 0;
  while (warmups < plan.warmup || warmedMs < (plan.warmupMs ?? 0)) {
    last = timeOnce(run);
    warmups++;
    warmedMs += last;
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
