/**
 * `gradscope status --redis URL [--sweep NAME]`: how far a sweep is — its jobs done, running,
 * waiting (delayed retries included) and failed — and an ETA: the waiting and running jobs
 * times the mean duration of its completed jobs, divided by the number of jobs that can run at
 * once (the workers connected, or the jobs running now if more).
 */
import type { Redis } from 'ioredis';
import { openQueue } from './collect.js';
import { openRedis, readSweep, sweepJobs, type SweepRecord } from './sweep.js';

export interface SweepStatus {
  sweep: SweepRecord;
  jobs: number;
  done: number;
  running: number;
  waiting: number;
  failed: number;
  workers: number;
  /** Mean seconds a completed job took (undefined before the first). */
  meanSeconds?: number;
  /** Seconds until done at the current rate (undefined when unknown: no job done, no worker). */
  etaSeconds?: number;
  /** Each failed job's id and reason. */
  failures: { id: string; reason: string }[];
  /** Ids of the jobs running now, and the worker running each (BullMQ's processedBy). */
  active: { id: string; worker?: string }[];
}

export async function sweepStatus(url: string, name?: string, redis?: Redis): Promise<SweepStatus> {
  const own = redis ?? (await openRedis(url, 'status'));
  const queue = await openQueue(url);
  try {
    const sweep = await readSweep(own, name, 'status');
    const ids = await sweepJobs(own, sweep.name);
    const status: SweepStatus = {
      sweep,
      jobs: ids.length,
      done: 0,
      running: 0,
      waiting: 0,
      failed: 0,
      workers: 0,
      failures: [],
      active: [],
    };
    let seconds = 0;
    for (const id of ids) {
      const job = await queue.getJob(id);
      const state = job ? await job.getState() : 'unknown';
      if (state === 'completed') {
        status.done++;
        if (job!.processedOn && job!.finishedOn) seconds += (job!.finishedOn - job!.processedOn) / 1000;
      } else if (state === 'active') {
        status.running++;
        status.active.push({ id, worker: job!.processedBy });
      } else if (state === 'failed') {
        status.failed++;
        status.failures.push({ id, reason: job!.failedReason });
      } else status.waiting++;
    }
    status.workers = await queue.getWorkersCount();
    if (status.done > 0) status.meanSeconds = seconds / status.done;
    const parallel = Math.max(status.workers, status.running);
    if (status.meanSeconds !== undefined && parallel > 0) {
      status.etaSeconds = ((status.waiting + status.running) * status.meanSeconds) / parallel;
    }
    return status;
  } finally {
    await queue.close();
    if (!redis) own.disconnect();
  }
}
