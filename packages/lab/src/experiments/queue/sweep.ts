/**
 * A sweep on the Redis queue (issue 20): what `gradscope enqueue` records and every other
 * queue command reads. One BullMQ queue, QUEUE_NAME, carries the tasks of every sweep; a
 * sweep's record (presets, size, seeds, --data and --max-steps, engine settings, gradscope version) and the ids of its
 * jobs are plain Redis keys under `gradscope:`, on the same server as the queue.
 *
 * Job ids are deterministic — `<sweep>.<preset>.<task>.<taskKey(task, input)>` — so enqueueing
 * a task twice adds nothing (BullMQ keeps the first job of an id), whoever enqueues it: enqueue
 * for a preset's first stage, collect for the stages it reaches.
 *
 * Inputs and outputs cross Redis as sealed JSON (gradscope/io, as task-cache.ts saves them):
 * NaN, ±∞, −0 and typed arrays round-trip exactly, so a queue worker's output is the very value
 * a thread on this machine would have returned.
 *
 * bullmq and ioredis are imported lazily, here and in the queue commands only, so that
 * `gradscope run` never loads them.
 */
import { createHash } from 'node:crypto';
import { encodeJson, openSealedJson, sealJson } from 'gradscope/io';
import type { Redis } from 'ioredis';
import { checkEngineSettings, type EngineSettings } from '../engine-settings.js';
import { taskKey } from '../task-cache.js';

/** The BullMQ queue every sweep's tasks go on. */
export const QUEUE_NAME = 'gradscope-tasks';
export const SWEEP_FORMAT = 'gradscope-sweep/1';
const SWEEPS_KEY = 'gradscope:sweeps';
const sweepKey = (name: string) => `gradscope:sweep:${name}`;
const jobsKey = (name: string) => `gradscope:sweep:${name}:jobs`;
export const INPUT_FORMAT = 'gradscope-queue-input';
export const RESULT_FORMAT = 'gradscope-queue-result';

/** A sweep as enqueue records it. */
export interface SweepRecord {
  format: typeof SWEEP_FORMAT;
  name: string;
  /** What was enqueued: a preset's name or 'tour'. */
  target: string;
  presets: string[];
  size: string;
  /** The --seeds override, or absent: each preset's own seeds. */
  seeds?: number[];
  /** `--data DIR` (an absolute path: every worker reads it there), or absent. */
  dataDir?: string;
  /** `--max-steps N`, or absent: every training run stops after N steps. */
  maxSteps?: number;
  engine: EngineSettings;
  /** The backend's name for useBackend (cpu, wasm, gpu): collect computes with it. */
  backend: string;
  gradscope: string;
  created: string;
}

/** What a queue job carries. */
export interface TaskJobData {
  sweep: string;
  preset: string;
  task: string;
  key: string;
  /** The task's input, sealed JSON (INPUT_FORMAT). */
  input: string;
}

/** What a worker stores as the job's return value (sealed JSON, RESULT_FORMAT). */
export interface TaskJobResult {
  output: unknown;
  host: string;
  pid: number;
  thread: number;
  /** The BullMQ worker's name (host:pid). */
  worker: string;
  /** How many times the job was started, this one included (a stalled job is started again). */
  attempt: number;
}

export const SWEEP_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/;

export function checkSweepName(name: string, op: string): string {
  if (!SWEEP_NAME.test(name)) {
    const rule = `letters, digits, '-' and '_' (at most 100, starting with a letter or digit)`;
    throw new Error(`${op}: --sweep must be ${rule}; got '${name}'`);
  }
  return name;
}

/**
 * Everything of a sweep that decides its numbers, as one text: two sweeps are the same when it
 * is. --data and --max-steps are appended only when given, so that a sweep without them keeps
 * the name it had before they could be given.
 */
function sweepIdentity(s: Omit<SweepRecord, 'name' | 'format' | 'created'>): string {
  const inputs = s.dataDir === undefined && s.maxSteps === undefined
    ? []
    : [{ dataDir: s.dataDir ?? null, maxSteps: s.maxSteps ?? null }];
  return encodeJson([s.presets, s.size, s.seeds ?? null, s.engine, s.gradscope, ...inputs]);
}

/** The default sweep name: the target, the size and a hash of everything that decides the numbers. */
export function defaultSweepName(record: Omit<SweepRecord, 'name' | 'format' | 'created'>): string {
  const hash = createHash('sha256').update(sweepIdentity(record)).digest('hex').slice(0, 10);
  return `${record.target}-${record.size}-${hash}`;
}

/** The job id of a task of a sweep (deterministic: the same task is one job). */
export function jobId(sweep: string, preset: string, task: string, input: unknown): string {
  return `${sweep}.${preset}.${task}.${taskKey(task, input)}`;
}

export function taskJob(
  sweep: string,
  preset: string,
  task: string,
  input: unknown,
): { id: string; data: TaskJobData } {
  return {
    id: jobId(sweep, preset, task, input),
    data: { sweep, preset, task, key: taskKey(task, input), input: sealJson(INPUT_FORMAT, 1, input) },
  };
}

export function decodeInput(data: TaskJobData, where: string): unknown {
  return openSealedJson(data.input, INPUT_FORMAT, 1, where);
}

export function encodeResult(result: TaskJobResult): string {
  return sealJson(RESULT_FORMAT, 1, result);
}

export function decodeResult(text: unknown, where: string): TaskJobResult {
  if (typeof text !== 'string') {
    const got = JSON.stringify(text);
    throw new Error(`${where}: the job's return value is ${got}; expected a gradscope worker's result`);
  }
  return openSealedJson(text, RESULT_FORMAT, 1, where) as TaskJobResult;
}

/** BullMQ's job options for a task: 3 attempts, exponential backoff from 1 s, results kept. */
export const JOB_OPTIONS = { attempts: 3, backoff: { type: 'exponential', delay: 1000 } } as const;

/** Open a plain Redis connection on `url` (for the sweep records), failing fast and clearly. */
export async function openRedis(url: string, op: string): Promise<Redis> {
  const { Redis } = await import('ioredis');
  // A few quick retries, then a clear error: these commands are short, unlike BullMQ's workers.
  const retryStrategy = (times: number) => (times > 3 ? null : 200 * times);
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 2, retryStrategy });
  client.on('error', () => {}); // reported by the commands below
  try {
    await client.connect();
    await client.ping();
  } catch (e) {
    client.disconnect();
    throw new Error(`${op}: cannot reach Redis at ${url}: ${(e as Error).message}`, { cause: e });
  }
  return client;
}

/** Record a sweep (or check that an existing record of that name is the same sweep). */
export async function recordSweep(redis: Redis, record: SweepRecord, op: string): Promise<'new' | 'existing'> {
  const existing = await readSweep(redis, record.name, op).catch(() => undefined);
  if (existing) {
    if (sweepIdentity(existing) !== sweepIdentity(record)) {
      throw new Error(
        `${op}: sweep '${record.name}' is already recorded with other presets, size, seeds, --data, ` +
          '--max-steps, engine or version; ' +
          'choose another --sweep',
      );
    }
    return 'existing';
  }
  await redis.set(sweepKey(record.name), JSON.stringify(record));
  await redis.zadd(SWEEPS_KEY, Date.now(), record.name);
  return 'new';
}

/** A sweep's record; without a name, the latest recorded one. */
export async function readSweep(redis: Redis, name: string | undefined, op: string): Promise<SweepRecord> {
  const chosen = name ?? (await redis.zrange(SWEEPS_KEY, -1, -1))[0];
  if (chosen === undefined) throw new Error(`${op}: no sweep is recorded on this Redis; run gradscope enqueue first`);
  const text = await redis.get(sweepKey(chosen));
  if (text === null) throw new Error(`${op}: no sweep named '${chosen}' is recorded on this Redis`);
  const fail = (m: string): never => {
    throw new Error(`${op}: the record of sweep '${chosen}' is damaged: ${m}`);
  };
  const o = JSON.parse(text) as SweepRecord;
  if (o.format !== SWEEP_FORMAT || !Array.isArray(o.presets) || typeof o.size !== 'string') {
    fail(`not a ${SWEEP_FORMAT} record`);
  }
  checkEngineSettings(o.engine, 'engine', fail);
  if (o.dataDir !== undefined && typeof o.dataDir !== 'string') fail('dataDir must be a string');
  if (o.maxSteps !== undefined && !(Number.isSafeInteger(o.maxSteps) && o.maxSteps >= 1)) {
    fail('maxSteps must be a positive integer');
  }
  return o;
}

/** Add job ids to a sweep's list (what status counts). */
export async function addSweepJobs(redis: Redis, sweep: string, ids: readonly string[]): Promise<void> {
  if (ids.length > 0) await redis.sadd(jobsKey(sweep), ...ids);
}

export async function sweepJobs(redis: Redis, sweep: string): Promise<string[]> {
  return (await redis.smembers(jobsKey(sweep))).sort();
}
