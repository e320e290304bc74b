/**
 * Resuming inside a preset: every finished task's output is saved at once (atomically) under
 * <out>/<preset>/tasks/<task>-<key>.json, keyed by a SHA-256 of the task's name and input, so a
 * run interrupted halfway through a grid redoes only the tasks that had not finished. The
 * runner removes the folder once the preset's results.json is written, and ignores it with
 * --force.
 *
 * Each file is sealed JSON (io/sealed-json.ts: a SHA-256 of the content in a header line; NaN,
 * ±∞, −0 and typed arrays tagged so they round-trip) and records the task, its input and the
 * engine settings it was computed with (engine-settings.ts). A saved output is reused only if
 * all of that checks out and the engine is this run's; otherwise `read` says why (`stale`) and
 * the runner runs the task again with a warning on stderr naming the file — a damaged or
 * foreign file costs one task's time, never a silently different results.json.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { encodeJson, openSealedJson, sealJson, writeFileAtomic } from 'gradscope/io';
import { checkEngineSettings, describeEngine, engineSettings, sameEngine, type EngineSettings } from './engine-settings.js';

export const TASKS_DIR = 'tasks';
export const TASK_OUTPUT_FORMAT = 'gradscope-task-output';
export const TASK_OUTPUT_VERSION = 2;

/** What a task-output file holds. */
export interface TaskRecord {
  task: string;
  input: unknown;
  engine: EngineSettings;
  output: unknown;
}

/** The text of a task-output file (the engine defaults to this thread's settings). */
export function encodeOutput(output: unknown, record: Omit<TaskRecord, 'output'> = { task: '', input: null, engine: engineSettings() }): string {
  return sealJson(TASK_OUTPUT_FORMAT, TASK_OUTPUT_VERSION, { task: record.task, input: record.input, engine: record.engine, output });
}

/** Check and decode a task-output file's text; throws an Error naming `where` and the field. */
export function decodeRecord(text: string, where = 'task output'): TaskRecord {
  const fail = (message: string): never => {
    throw new Error(`${where}: ${message}`);
  };
  const raw = openSealedJson(text, TASK_OUTPUT_FORMAT, TASK_OUTPUT_VERSION, where);
  const o = (typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? raw : fail('the content is not an object')) as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!['task', 'input', 'engine', 'output'].includes(k)) fail(`field '${k}' is not a field of a task output`);
  if (typeof o.task !== 'string') fail(`field 'task' is ${JSON.stringify(o.task)}; expected a string`);
  if (!('input' in o)) fail(`field 'input' is missing`);
  if (!('output' in o)) fail(`field 'output' is missing`);
  const engine = checkEngineSettings(o.engine, "field 'engine'", fail);
  return { task: o.task as string, input: o.input, engine, output: o.output };
}

export function decodeOutput(text: string, where?: string): unknown {
  return decodeRecord(text, where).output;
}

/** The file name of a task's saved output: a hash of the task and its input (which carries the seed and size). */
export function taskKey(task: string, input: unknown): string {
  return createHash('sha256').update(encodeJson([task, input])).digest('hex').slice(0, 32);
}

export type CacheRead = { output: unknown } | { stale: string } | undefined;

export class TaskCache {
  /** `engine`: the settings this run computes with (default: this thread's now). */
  constructor(
    readonly dir: string,
    readonly engine: EngineSettings = engineSettings(),
  ) {}

  path(task: string, input: unknown): string {
    return join(this.dir, `${task}-${taskKey(task, input)}.json`);
  }

  /**
   * The saved output; undefined when none is saved; `{ stale }` with the reason when a file is
   * there but cannot be reused (damaged, another task or input, another engine).
   */
  read(task: string, input: unknown): CacheRead {
    const path = this.path(task, input);
    if (!existsSync(path)) return undefined;
    let record: TaskRecord;
    try {
      record = decodeRecord(readFileSync(path, 'utf8'), `'${path}'`);
    } catch (e) {
      return { stale: (e as Error).message };
    }
    if (record.task !== task || encodeJson(record.input) !== encodeJson(input)) {
      return { stale: `'${path}': holds task '${record.task}' with another input than the one it is named for` };
    }
    if (!sameEngine(record.engine, this.engine)) {
      return { stale: `'${path}': computed with ${describeEngine(record.engine)}; this run uses ${describeEngine(this.engine)}` };
    }
    return { output: record.output };
  }

  write(task: string, input: unknown, output: unknown): void {
    writeFileAtomic(this.path(task, input), encodeOutput(output, { task, input, engine: this.engine }), 'run');
  }

  clear(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
