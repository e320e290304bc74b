/**
 * Where each task of a preset ran (issue 20): on this machine, in a shard of a batch-scheduler
 * array, in `gradscope merge` (a stage no shard could reach), or on a queue worker. The runner
 * writes the list into results.json beside `result`, never inside it, so that `result` is
 * bit-identical however the sweep was spread, and `compareResults` (compare.ts) ignores it.
 */
import { hostname } from 'node:os';
import { threadId } from 'node:worker_threads';

/** How a task's output came to be: see docs/sweeps.md. */
export type PlacementVia = 'local' | 'merge' | 'queue' | `shard ${number}/${number}`;

/** One task of a preset: which it was (task name and input key) and where it ran. */
export interface TaskPlacement {
  task: string;
  /** taskKey(task, input): the name of its saved output (task-cache.ts), the same everywhere. */
  key: string;
  via: PlacementVia;
  host: string;
  pid: number;
  /**
   * The worker thread's id (0: the process's main thread); absent where it is not known (a
   * `--workers N` thread pool does not say which of its threads ran a task).
   */
  thread?: number;
  /** Queue only: the BullMQ job id and the attempt that completed it (1 = the first). */
  job?: string;
  attempts?: number;
  /**
   * The output was a saved one from an earlier, interrupted run of the same command (the
   * host and pid are then this run's, not the one that computed it).
   */
  resumed?: true;
}

/** A placement on this host and process, in `thread` (default: this thread; null: not known). */
export function placedHere(
  task: string,
  key: string,
  via: PlacementVia,
  thread: number | null = threadId,
): TaskPlacement {
  const here: TaskPlacement = { task, key, via, host: hostname(), pid: process.pid };
  if (thread !== null) here.thread = thread;
  return here;
}

/** `shard k/N`, as the where-it-ran record and messages write it. */
export function shardVia(k: number, n: number): PlacementVia {
  return `shard ${k}/${n}`;
}

/** Validate a parsed placement list (from results.json or a shard manifest); `fail` names the field. */
export function checkPlacements(v: unknown, field: string, fail: (message: string) => never): TaskPlacement[] {
  if (!Array.isArray(v)) return fail(`${field} must be an array of task placements`);
  return v.map((p, i) => {
    const o = (typeof p === 'object' && p !== null ? p : {}) as Record<string, unknown>;
    const ok =
      typeof o.task === 'string' &&
      typeof o.key === 'string' &&
      typeof o.via === 'string' &&
      /^(local|merge|queue|shard [0-9]+\/[0-9]+)$/.test(o.via) &&
      typeof o.host === 'string' &&
      Number.isSafeInteger(o.pid) &&
      (o.thread === undefined || Number.isSafeInteger(o.thread)) &&
      (o.job === undefined || typeof o.job === 'string') &&
      (o.attempts === undefined || Number.isSafeInteger(o.attempts)) &&
      (o.resumed === undefined || o.resumed === true);
    const expected = '{task, key, via, host, pid[, thread, job, attempts, resumed]}';
    if (!ok) fail(`${field}[${i}] is ${JSON.stringify(p)}; expected ${expected}`);
    return o as unknown as TaskPlacement;
  });
}
