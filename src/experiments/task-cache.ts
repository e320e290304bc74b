/**
 * Resuming inside a preset: every finished task's output is saved at once (atomically) under
 * <out>/<preset>/tasks/<key>.json, keyed by a SHA-256 of the task's name and input, so a run
 * interrupted halfway through a grid redoes only the tasks that had not finished. The runner
 * removes the folder once the preset's results.json is written, and ignores it with --force.
 *
 * Outputs are plain data, but JSON cannot hold what structured clone can: non-finite numbers
 * (a diverged run's NaN) and typed arrays are written as tagged objects and restored exactly.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';

export const TASKS_DIR = 'tasks';

const TYPED = { Float64Array, Float32Array, Int32Array, Uint8Array } as const;
type TypedName = keyof typeof TYPED;

function encode(_key: string, value: unknown): unknown {
  if (typeof value === 'number' && !Number.isFinite(value)) return { $number: String(value) };
  if (ArrayBuffer.isView(value)) {
    const name = value.constructor.name;
    if (!(name in TYPED)) throw new Error(`task cache: cannot store a ${name}`);
    return { $typed: name, values: Array.from(value as unknown as ArrayLike<number>) };
  }
  return value;
}

function decode(_key: string, value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  const o = value as { $number?: string; $typed?: TypedName; values?: number[] };
  if (o.$number !== undefined) return Number(o.$number);
  if (o.$typed !== undefined) return TYPED[o.$typed].from(o.values!);
  return value;
}

export function encodeOutput(output: unknown): string {
  return JSON.stringify({ output }, encode);
}

export function decodeOutput(text: string): unknown {
  return (JSON.parse(text, decode) as { output: unknown }).output;
}

/** The file name of a task's saved output: a hash of the task and its input (which carries the seed and size). */
export function taskKey(task: string, input: unknown): string {
  return createHash('sha256').update(JSON.stringify([task, input], encode)).digest('hex').slice(0, 32);
}

export class TaskCache {
  constructor(readonly dir: string) {}

  private path(task: string, input: unknown): string {
    return join(this.dir, `${task}-${taskKey(task, input)}.json`);
  }

  /** The saved output, or undefined when none is saved (or the file is unreadable: run again). */
  read(task: string, input: unknown): { output: unknown } | undefined {
    const path = this.path(task, input);
    if (!existsSync(path)) return undefined;
    try {
      return { output: decodeOutput(readFileSync(path, 'utf8')) };
    } catch {
      return undefined;
    }
  }

  write(task: string, input: unknown, output: unknown): void {
    writeFileAtomic(this.path(task, input), encodeOutput(output), 'run');
  }

  clear(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
