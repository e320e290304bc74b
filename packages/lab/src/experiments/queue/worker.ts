/**
 * `gradscope worker --redis URL`: take tasks off the queue and run them, on any number of
 * machines (issue 20). A BullMQ Worker with `concurrency` N hands jobs to N threads
 * (threads.ts). Every job is checked against its sweep's record first: a sweep enqueued with
 * other engine settings or another gradscope version is refused with an UnrecoverableError
 * (no retry: every attempt would compute other numbers), naming both sides. A sweep enqueued
 * with --data DIR is refused by a worker on which DIR is not a directory, as a plain failure
 * (retried: another worker, on a machine that has the data, may take it).
 *
 * Failures are retried by BullMQ (3 attempts, exponential backoff: sweep.ts). A worker killed
 * with SIGKILL keeps its job's lock until it expires (`lockSeconds`); then another worker's
 * stalled-job check returns the job to the queue. SIGTERM and SIGINT close gracefully: no new
 * jobs are taken, running ones finish, then the threads and connections close.
 */
import { existsSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Job } from 'bullmq';
import { describeEngine, engineSettings, sameEngine } from '../engine-settings.js';
import { gradscopeVersion } from '../runner.js';
import {
  QUEUE_NAME,
  decodeInput,
  encodeResult,
  openRedis,
  readSweep,
  type SweepRecord,
  type TaskJobData,
} from './sweep.js';
import { threadSet } from './threads.js';

export interface QueueWorkerOptions {
  redis: string;
  concurrency: number;
  /** BullMQ's lockDuration and stalled-check interval, in seconds (default 30, BullMQ's own). */
  lockSeconds?: number;
  /** The backend the threads select (this thread's: the caller selected it). */
  backend: string;
  log: (line: string) => void;
}

export interface RunningWorker {
  name: string;
  /** Stop taking jobs, let running ones finish, close everything. */
  close(): Promise<void>;
  /** Resolves when the worker has closed (after close(), or a fatal connection error). */
  closed: Promise<void>;
}

export async function startQueueWorker(options: QueueWorkerOptions): Promise<RunningWorker> {
  const { Worker, UnrecoverableError } = await import('bullmq');
  const name = `${hostname()}:${process.pid}`;
  const engine = engineSettings();
  const version = gradscopeVersion();
  const redis = await openRedis(options.redis, 'worker');
  const threads = threadSet(options.concurrency, options.backend);
  const sweeps = new Map<string, Promise<SweepRecord>>();
  const lock = (options.lockSeconds ?? 30) * 1000;
  const processor = async (job: Job<TaskJobData, string>) => {
    const { sweep: sweepName, preset, task } = job.data;
    const what = `job ${job.id} (task '${task}' of preset '${preset}', sweep '${sweepName}')`;
    if (!sweeps.has(sweepName)) sweeps.set(sweepName, readSweep(redis, sweepName, 'worker'));
    const sweep = await sweeps.get(sweepName)!.catch((e: Error) => {
      sweeps.delete(sweepName);
      throw new UnrecoverableError(`worker ${name}: ${what}: ${e.message}`);
    });
    if (!sameEngine(sweep.engine, engine)) {
      throw new UnrecoverableError(
        `worker ${name}: refusing ${what}: the sweep was enqueued for ${describeEngine(sweep.engine)}; ` +
          `this worker computes with ${describeEngine(engine)} (start it with GRADSCOPE_BACKEND=${sweep.backend})`,
      );
    }
    if (sweep.gradscope !== version) {
      throw new UnrecoverableError(
        `worker ${name}: refusing ${what}: the sweep was enqueued by gradscope ${sweep.gradscope}; ` +
          `this worker is gradscope ${version}`,
      );
    }
    if (sweep.dataDir !== undefined && !(existsSync(sweep.dataDir) && statSync(sweep.dataDir).isDirectory())) {
      throw new Error(
        `worker ${name}: refusing ${what}: the sweep reads --data '${sweep.dataDir}', ` +
          'which is not a directory on this machine (mount the data there on every worker)',
      );
    }
    const input = decodeInput(job.data, `worker: ${what}: input`);
    const t0 = performance.now();
    const { output, thread } = await threads.run(preset, task, input);
    const seconds = ((performance.now() - t0) / 1000).toFixed(2);
    const attempt = job.attemptsStarted;
    options.log(`worker ${name}: done ${what} in ${seconds} s (thread ${thread}, attempt ${attempt})`);
    return encodeResult({ output, host: hostname(), pid: process.pid, thread, worker: name, attempt });
  };
  const worker = new Worker<TaskJobData, string>(QUEUE_NAME, processor, {
    connection: { url: options.redis },
    concurrency: options.concurrency,
    name,
    lockDuration: lock,
    stalledInterval: lock,
    autorun: true,
  });
  worker.on('failed', (job, error) => {
    const attempt = job?.attemptsStarted ?? '?';
    options.log(`worker ${name}: job ${job?.id ?? '?'} failed (attempt ${attempt}): ${error.message}`);
  });
  worker.on('error', (error) => options.log(`worker ${name}: ${error.message}`));
  await worker.waitUntilReady();
  let resolveClosed!: () => void;
  const closed = new Promise<void>((resolve) => {
    resolveClosed = resolve;
  });
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      try {
        await worker.close();
      } finally {
        await threads.close();
        redis.disconnect();
        resolveClosed();
      }
    })());
  const how = `concurrency ${options.concurrency}, ${describeEngine(engine)}`;
  options.log(`worker ${name}: taking tasks from ${options.redis} (${how})`);
  return { name, close, closed };
}
