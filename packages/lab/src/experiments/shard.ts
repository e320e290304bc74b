/**
 * Shards for batch schedulers (issue 20): `gradscope run <preset|tour> --shard k/N` runs a
 * deterministic, balanced share of every preset's tasks — task i (counting across the
 * preset's map calls in call order) belongs to shard i mod N — and saves each output as a
 * plain run does (task-cache.ts). It writes no results.json: it writes a manifest,
 * <out>/<preset>/shard.json, that says what the shard planned and ran, for `gradscope merge`
 * (merge.ts) to check and assemble.
 *
 * k counts from 0, as Slurm's SLURM_ARRAY_TASK_ID does for `--array=0-(N-1)` and as
 * Kubernetes' JOB_COMPLETION_INDEX does for an Indexed Job.
 *
 * A shard runs the preset's driver with holes where other shards' outputs would be (stage.ts):
 * the driver plans every map call it can without them, and where it first needs one (a stage
 * whose inputs come from earlier outputs) the shard stops that preset — not an error — and
 * the manifest records how far it got. Merge runs such stages.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from 'gradscope/io';
import { checkEngineSettings, type EngineSettings } from './engine-settings.js';
import { checkPlacements, placedHere, shardVia, type TaskPlacement } from './placement.js';
import { cachedMap, gradscopeVersion, type PresetEnd, type TaskExecutor } from './runner.js';
import { StageStop, withHoles, type PlannedCall } from './stage.js';
import { taskKey } from './task-cache.js';
import type { TaskPool } from './task-pool.js';

export const SHARD_FORMAT = 'gradscope-shard/1';
export const SHARD_FILE = 'shard.json';

/** Shard k of N (0 ≤ k < N). */
export interface ShardSpec {
  k: number;
  n: number;
}

/** The content of <out>/<preset>/shard.json. */
export interface ShardManifest {
  format: typeof SHARD_FORMAT;
  preset: string;
  size: string;
  seeds: number[];
  /** `gradscope run --data` and `--max-steps`, where given. */
  dataDir?: string;
  maxSteps?: number;
  engine: EngineSettings;
  gradscope: string;
  shard: ShardSpec;
  /** Every map call the driver reached, with the key of every task in it (all shards' tasks). */
  calls: PlannedCall[];
  /** Where this shard's own tasks in those calls ran (its share: task i with i mod N = k). */
  ran: TaskPlacement[];
  /** True when the driver ran to its end; otherwise why it stopped (the stage that needs other shards). */
  complete: boolean;
  stoppedAt?: string;
}

/** Which shard owns task i of a preset: i mod N. */
export function shardOf(index: number, n: number): number {
  return index % n;
}

/**
 * Parse `--shard k/N`: decimal integers, 1 ≤ N ≤ 10000, 0 ≤ k < N (0-based, as
 * SLURM_ARRAY_TASK_ID and JOB_COMPLETION_INDEX count).
 */
export function parseShard(text: string, op = 'run'): ShardSpec {
  const m = /^(0|[1-9][0-9]*)\/([1-9][0-9]*)$/.exec(text.trim());
  if (!m) throw new Error(`${op}: --shard must be k/N with 0 ≤ k < N, e.g. --shard 0/4; got '${text}'`);
  const k = Number(m[1]);
  const n = Number(m[2]);
  if (n > 10000) throw new Error(`${op}: --shard ${text}: N must be at most 10000`);
  if (k >= n) {
    throw new Error(
      `${op}: --shard ${text}: k must be less than N (shards count from 0 to ${n - 1}, as SLURM_ARRAY_TASK_ID ` +
        `with --array=0-${n - 1} and JOB_COMPLETION_INDEX do)`,
    );
  }
  return { k, n };
}

export function shardManifestPath(out: string, preset: string): string {
  return join(out, preset, SHARD_FILE);
}

/**
 * Runs shard k of N's tasks in `pool` (saving and reusing outputs as a plain run does) and
 * writes each preset's manifest; never writes results.json. `inThisThread`: the pool runs
 * tasks in this thread (the where-it-ran record then names it).
 */
export function shardExecutor(spec: ShardSpec, pool: TaskPool, inThisThread = false): TaskExecutor {
  const via = shardVia(spec.k, spec.n);
  return {
    start(setup) {
      const calls: PlannedCall[] = [];
      const ran: TaskPlacement[] = [];
      let planned = 0;
      let stop: StageStop | undefined;
      const touched = (s: StageStop) => {
        stop ??= s;
      };
      return {
        map: async <I, O>(task: string, inputs: readonly I[], onResult?: (done: number, total: number) => void) => {
          // A driver that caught a StageStop and went on would plan from missing outputs.
          if (stop) throw stop;
          const first = planned;
          planned += inputs.length;
          const keys = inputs.map((input) => taskKey(task, input));
          calls.push({ task, first, keys });
          const mine = inputs.map((_, j) => shardOf(first + j, spec.n) === spec.k);
          const own = inputs.filter((_, j) => mine[j]);
          const ownIndex = mine.flatMap((m, j) => (m ? [j] : []));
          const places = ownIndex.map((j) => placedHere(task, keys[j]!, via, inThisThread ? undefined : null));
          ran.push(...places);
          const resumed = (r: number) => {
            places[r]!.resumed = true;
          };
          const { cache, preset, warn } = setup;
          const ownOutputs = await cachedMap<I, O>(pool, cache, preset, task, own, warn, onResult, resumed);
          const outputs = new Array<O>(inputs.length);
          ownIndex.forEach((j, r) => {
            outputs[j] = ownOutputs[r]!;
          });
          return withHoles(task, outputs, mine, touched);
        },
        async finish(error): Promise<PresetEnd> {
          if (error !== undefined && !(error instanceof StageStop) && !stop) throw error;
          const manifest: ShardManifest = {
            format: SHARD_FORMAT,
            preset: setup.preset.name,
            size: setup.size,
            seeds: [...setup.seeds],
            ...setup.inputs,
            engine: setup.engine,
            gradscope: gradscopeVersion(),
            shard: spec,
            calls,
            ran,
            complete: stop === undefined && error === undefined,
          };
          const stoppedAt = stop ?? (error as StageStop | undefined);
          if (stoppedAt) {
            const how = `after ${calls.length} map call(s): ${stoppedAt.message}`;
            manifest.stoppedAt = `${how}; gradscope merge does the rest`;
          }
          writeFileAtomic(join(setup.dir, SHARD_FILE), `${JSON.stringify(manifest, null, 2)}\n`, 'run');
          const mineCount = ran.length;
          return {
            write: false,
            message:
              `${via}: ran ${mineCount} of the ${planned} task(s) planned` +
              (stoppedAt ? ` (stopped where the driver first reads another shard's output)` : '') +
              `; manifest ${join(setup.dir, SHARD_FILE)}`,
          };
        },
      };
    },
    close: () => pool.close(),
  };
}

/** Read and validate a shard manifest; throws naming the file and the field. */
export function readShardManifest(path: string): ShardManifest {
  const fail = (message: string): never => {
    throw new Error(`merge: '${path}': ${message}`);
  };
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    return fail(`not a readable JSON file: ${(e as Error).message}`);
  }
  const isObject = typeof raw === 'object' && raw !== null && !Array.isArray(raw);
  const o = (isObject ? raw : fail('not an object')) as Record<string, unknown>;
  if (o.format !== SHARD_FORMAT) fail(`format is ${JSON.stringify(o.format)}; expected '${SHARD_FORMAT}'`);
  const str = (k: string) => (typeof o[k] === 'string' ? (o[k] as string) : fail(`'${k}' must be a string`));
  const shard = (typeof o.shard === 'object' && o.shard !== null ? o.shard : {}) as Record<string, unknown>;
  const { k, n } = shard;
  if (!Number.isSafeInteger(n) || !Number.isSafeInteger(k) || (k as number) < 0 || (k as number) >= (n as number)) {
    fail(`'shard' is ${JSON.stringify(o.shard)}; expected {"k": k, "n": N} with 0 ≤ k < N`);
  }
  const seeds =
    Array.isArray(o.seeds) && o.seeds.every(Number.isSafeInteger)
      ? (o.seeds as number[])
      : fail(`'seeds' must be an array of integers`);
  const calls = (Array.isArray(o.calls) ? o.calls : fail(`'calls' must be an array`)).map((c, i) => {
    const call = (typeof c === 'object' && c !== null ? c : {}) as Record<string, unknown>;
    const keys = Array.isArray(call.keys) && call.keys.every((x) => typeof x === 'string');
    if (typeof call.task !== 'string' || !Number.isSafeInteger(call.first) || !keys) {
      fail(`calls[${i}] must be {"task": string, "first": integer, "keys": [string]}`);
    }
    return call as unknown as PlannedCall;
  });
  if (typeof o.complete !== 'boolean') fail(`'complete' must be a boolean`);
  return {
    format: SHARD_FORMAT,
    preset: str('preset'),
    size: str('size'),
    seeds,
    ...(typeof o.dataDir === 'string' ? { dataDir: o.dataDir } : {}),
    ...(Number.isSafeInteger(o.maxSteps) ? { maxSteps: o.maxSteps as number } : {}),
    engine: checkEngineSettings(o.engine, `'engine'`, fail),
    gradscope: str('gradscope'),
    shard: { k: k as number, n: n as number },
    calls,
    ran: checkPlacements(o.ran, `'ran'`, fail),
    complete: o.complete as boolean,
    ...(typeof o.stoppedAt === 'string' ? { stoppedAt: o.stoppedAt } : {}),
  };
}

/** Whether `dir/<preset>/shard.json` exists. */
export function hasShardManifest(dir: string, preset: string): boolean {
  return existsSync(shardManifestPath(dir, preset));
}
