/**
 * `gradscope enqueue` and `gradscope collect` (issue 20): put a sweep's tasks on the queue, and
 * drive its presets with a map that waits for the queue's results.
 *
 * Collect drives every preset of the sweep at once (runPresets with a concurrent executor), so
 * each preset's current stage is on the queue together; a stage it reaches that enqueue could
 * not plan (inputs computed from outputs) is enqueued then. It polls the jobs' states: a job
 * that failed after its attempts (or was refused) fails the collect, naming the task and the
 * worker's message. results.json and the report are written exactly as a one-machine run
 * writes them, with where each task ran (host, pid, thread, job id, attempts).
 */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { describeEngine, engineSettings, sameEngine } from '../engine-settings.js';
import type { TaskPlacement } from '../placement.js';
import type { Preset, Size } from '../preset.js';
import {
  gradscopeVersion,
  runPresets,
  type PresetEnd,
  type RunEvent,
  type RunSummary,
  type TaskExecutor,
} from '../runner.js';
import { passedOn } from '../skeleton.js';
import { planFirstStage } from './plan.js';
import {
  JOB_OPTIONS,
  QUEUE_NAME,
  addSweepJobs,
  checkSweepName,
  decodeResult,
  defaultSweepName,
  openRedis,
  readSweep,
  recordSweep,
  taskJob,
  type SweepRecord,
  type TaskJobData,
} from './sweep.js';

/** Open the task queue on `url` (bullmq loaded here, lazily). */
export async function openQueue(url: string): Promise<Queue<TaskJobData, string>> {
  const { Queue } = await import('bullmq');
  const queue = new Queue<TaskJobData, string>(QUEUE_NAME, { connection: { url } });
  queue.on('error', () => {}); // connection errors surface in the calls that need it
  await queue.waitUntilReady();
  return queue;
}

/** Add tasks to the queue (a job id already there adds nothing) and to the sweep's list; their ids. */
async function addJobs(
  queue: Queue<TaskJobData, string>,
  redis: Redis,
  sweep: string,
  preset: string,
  tasks: { task: string; input: unknown }[],
): Promise<string[]> {
  const jobs = tasks.map(({ task, input }) => taskJob(sweep, preset, task, input));
  const opts = (id: string) => ({ ...JOB_OPTIONS, jobId: id });
  await queue.addBulk(jobs.map((j) => ({ name: `${preset}/${j.data.task}`, data: j.data, opts: opts(j.id) })));
  await addSweepJobs(redis, sweep, jobs.map((j) => j.id));
  return jobs.map((j) => j.id);
}

export interface EnqueueOptions {
  redis: string;
  target: string;
  presets: readonly Preset[];
  size: Size;
  seeds?: readonly number[];
  /** `--data DIR` (absolute: the workers read it at that path) and `--max-steps N`, when given. */
  dataDir?: string;
  maxSteps?: number;
  /** useBackend's name of this process's backend (the workers and collect must use it). */
  backend: string;
  sweep?: string;
}

/** Record the sweep and enqueue every preset's first stage; returns the sweep and the number of jobs. */
export async function enqueueSweep(
  options: EnqueueOptions,
): Promise<{ sweep: string; jobs: number; existing: boolean }> {
  // Only the ones given, as a run passes them (runner.ts).
  const inputs = {
    ...(options.dataDir === undefined ? {} : { dataDir: options.dataDir }),
    ...(options.maxSteps === undefined ? {} : { maxSteps: options.maxSteps }),
  };
  const base = {
    target: options.target,
    presets: options.presets.map((p) => p.name),
    size: options.size,
    ...(options.seeds ? { seeds: [...options.seeds] } : {}),
    ...inputs,
    engine: engineSettings(),
    backend: options.backend,
    gradscope: gradscopeVersion(),
  };
  const name = options.sweep === undefined ? defaultSweepName(base) : checkSweepName(options.sweep, 'enqueue');
  const record: SweepRecord = { format: 'gradscope-sweep/1', name, ...base, created: new Date().toISOString() };
  const redis = await openRedis(options.redis, 'enqueue');
  const queue = await openQueue(options.redis);
  try {
    const existing = (await recordSweep(redis, record, 'enqueue')) === 'existing';
    let jobs = 0;
    for (const preset of options.presets) {
      const tasks = await planFirstStage(preset, options.size, options.seeds ?? preset.seeds, inputs);
      jobs += (await addJobs(queue, redis, name, preset.name, tasks)).length;
    }
    return { sweep: name, jobs, existing };
  } finally {
    await queue.close();
    redis.disconnect();
  }
}

export interface CollectOptions {
  redis: string;
  out: string;
  sweep?: string;
  force?: boolean;
  /** Milliseconds between polls of the jobs' states (default 250). */
  pollMs?: number;
  onEvent?: (event: RunEvent) => void;
  /** Called once the sweep's record is read, before anything runs (to select its backend). */
  onSweep?: (sweep: SweepRecord) => Promise<void>;
}

/** The executor that runs tasks on the queue and waits for their results. */
function queueExecutor(
  queue: Queue<TaskJobData, string>,
  redis: Redis,
  sweep: SweepRecord,
  pollMs: number,
): TaskExecutor {
  let closed = false;
  return {
    concurrent: true,
    start(setup) {
      const placement: TaskPlacement[] = [];
      return {
        map: async <I, O>(task: string, inputs: readonly I[], onResult?: (done: number, total: number) => void) => {
          const first = placement.length;
          const tasks = inputs.map((input) => ({ task, input }));
          const ids = await addJobs(queue, redis, sweep.name, setup.preset.name, tasks);
          const outputs = new Array<O>(inputs.length);
          const pending = new Set(ids.keys());
          let done = 0;
          while (pending.size > 0) {
            if (closed) throw new Error('collect: stopped');
            for (const j of [...pending]) {
              const id = ids[j]!;
              const state = await queue.getJobState(id);
              if (state === 'completed') {
                const job = (await queue.getJob(id))!;
                const result = decodeResult(job.returnvalue, `collect: job ${id}`);
                outputs[j] = result.output as O;
                placement[first + j] = {
                  task,
                  key: job.data.key,
                  via: 'queue',
                  host: result.host,
                  pid: result.pid,
                  thread: result.thread,
                  job: id,
                  attempts: result.attempt,
                };
                pending.delete(j);
                onResult?.(++done, inputs.length);
              } else if (state === 'failed') {
                const job = await queue.getJob(id);
                throw new Error(
                  `collect: task '${task}' of preset '${setup.preset.name}' ` +
                    `(input ${j + 1} of ${inputs.length}, job ${id}) failed ` +
                    `after ${job?.attemptsStarted ?? '?'} attempt(s): ${job?.failedReason ?? 'no reason recorded'}`,
                );
              } else if (state === 'unknown') {
                // Removed from Redis since it was added (e.g. by hand): enqueue it again.
                await addJobs(queue, redis, sweep.name, setup.preset.name, [{ task, input: inputs[j] }]);
              }
            }
            if (pending.size > 0) await new Promise((resolve) => setTimeout(resolve, pollMs));
          }
          return outputs;
        },
        async finish(error): Promise<PresetEnd> {
          if (error !== undefined) throw error;
          return { write: true, placement };
        },
      };
    },
    async close() {
      closed = true;
    },
  };
}

/** Drive the sweep's presets on the queue and write results.json for each into `out`. */
export async function collectSweep(options: CollectOptions): Promise<{ sweep: SweepRecord; summary: RunSummary }> {
  const redis = await openRedis(options.redis, 'collect');
  let queue: Queue<TaskJobData, string> | undefined;
  try {
    const name = options.sweep === undefined ? undefined : checkSweepName(options.sweep, 'collect');
    const sweep = await readSweep(redis, name, 'collect');
    await options.onSweep?.(sweep);
    const engine = engineSettings();
    if (!sameEngine(engine, sweep.engine)) {
      throw new Error(
        `collect: sweep '${sweep.name}' was enqueued for ${describeEngine(sweep.engine)}; ` +
          `this collect computes with ${describeEngine(engine)}`,
      );
    }
    if (sweep.gradscope !== gradscopeVersion()) {
      throw new Error(
        `collect: sweep '${sweep.name}' was enqueued by gradscope ${sweep.gradscope}; ` +
          `this is gradscope ${gradscopeVersion()}`,
      );
    }
    // The registry loads every preset: imported here, not by status, which shares this module.
    const { findPreset } = await import('../registry.js');
    const unknown = (p: string) =>
      fail(`collect: sweep '${sweep.name}' names preset '${p}', which this gradscope does not know`);
    const presets = sweep.presets.map((p) => findPreset(p) ?? unknown(p));
    queue = await openQueue(options.redis);
    const summary = await runPresets({
      presets,
      size: sweep.size as Size,
      seeds: sweep.seeds,
      ...passedOn(sweep),
      out: options.out,
      force: options.force,
      onEvent: options.onEvent,
      executor: queueExecutor(queue, redis, sweep, options.pollMs ?? 250),
    });
    return { sweep, summary };
  } finally {
    await queue?.close();
    redis.disconnect();
  }
}

function fail(message: string): never {
  throw new Error(message);
}
