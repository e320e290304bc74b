/**
 * Where a preset's tasks run (`RunContext.map`): in this thread, or spread over worker threads
 * (`gradscope run --workers N`).
 *
 * A worker is a fresh JavaScript realm: it cannot receive a function, so it is told a preset's
 * name and a task's name, imports the preset registry itself and looks the task up there
 * (task-worker.ts). Inputs and outputs travel by structured clone. Workers take the next task
 * as soon as they finish one, so a grid of uneven runs keeps every worker busy; the outputs
 * are put back in input order, so results do not depend on the number of workers.
 *
 * Worker threads need the compiled package (dist/): under a TypeScript test runner the worker
 * script does not exist as JavaScript, and the pool says so instead of failing obscurely.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Preset, Task } from './preset.js';

export interface TaskPool {
  readonly workers: number;
  /** Outputs in input order; `onOutput` sees each one as it arrives (completion order). */
  map<I, O>(preset: Preset, task: string, inputs: readonly I[], onOutput?: (index: number, output: O) => void): Promise<O[]>;
  /** Stop the worker threads (a no-op for the in-thread pool). */
  close(): Promise<void>;
}

/** What a worker is asked to do, and what it answers. */
export interface TaskRequest {
  id: number;
  preset: string;
  task: string;
  input: unknown;
}
export type TaskReply = { id: number; ok: true; output: unknown } | { id: number; ok: false; message: string; stack?: string };

export function lookupTask(preset: Preset, task: string): Task {
  const fn = preset.tasks?.[task];
  if (!fn) {
    const known = Object.keys(preset.tasks ?? {});
    throw new Error(`run: preset '${preset.name}' has no task '${task}'; its tasks: ${known.length ? known.join(', ') : '(none)'}`);
  }
  return fn;
}

/** Runs every task here, one after another. */
export function inlinePool(): TaskPool {
  return {
    workers: 1,
    async map<I, O>(preset: Preset, task: string, inputs: readonly I[], onOutput?: (index: number, output: O) => void): Promise<O[]> {
      const fn = lookupTask(preset, task) as (input: I) => O;
      const outputs: O[] = [];
      for (const input of inputs) {
        const output = fn(input);
        onOutput?.(outputs.length, output);
        outputs.push(output);
      }
      return outputs;
    },
    async close() {},
  };
}

export interface WorkerPoolOptions {
  /** The backend each worker selects before its first task (as --backend does here). */
  backend?: string;
  /** The worker script (default: task-worker.js beside this module). */
  script?: URL;
}

const WORKER_SCRIPT = new URL('./task-worker.js', import.meta.url);

/** `count` worker threads (count ≥ 2), started on the first map and reused until close. */
export function workerPool(count: number, options: WorkerPoolOptions = {}): TaskPool {
  if (!Number.isInteger(count) || count < 2) throw new Error(`run: a worker pool needs at least 2 workers; got ${count}`);
  let workers: Worker[] | undefined;
  const script = options.script ?? WORKER_SCRIPT;
  const start = (): Worker[] => {
    if (workers) return workers;
    if (!existsSync(fileURLToPath(script))) {
      throw new Error(`run: --workers needs the compiled worker script ${fileURLToPath(script)}; run \`npm run build\` (or use --workers 1)`);
    }
    workers = Array.from({ length: count }, () => new Worker(script, { workerData: { backend: options.backend } }));
    return workers;
  };
  let nextId = 0;
  return {
    workers: count,
    map<I, O>(preset: Preset, task: string, inputs: readonly I[], onOutput?: (index: number, output: O) => void): Promise<O[]> {
      lookupTask(preset, task); // fail here, with the known tasks, rather than in a worker
      const pool = start();
      const outputs = new Array<O>(inputs.length);
      if (inputs.length === 0) return Promise.resolve(outputs);
      return new Promise<O[]>((resolve, reject) => {
        let next = 0;
        let done = 0;
        let failed = false;
        const listeners: [Worker, (reply: TaskReply) => void, (error: Error) => void][] = [];
        const finish = (error?: Error) => {
          for (const [w, onMessage, onError] of listeners) {
            w.off('message', onMessage);
            w.off('error', onError);
          }
          if (error) reject(error);
          else resolve(outputs);
        };
        const assign = (worker: Worker, slots: Map<number, number>) => {
          if (next >= inputs.length) return;
          const id = nextId++;
          slots.set(id, next);
          const request: TaskRequest = { id, preset: preset.name, task, input: inputs[next++] };
          worker.postMessage(request);
        };
        for (const worker of pool) {
          const slots = new Map<number, number>(); // request id → input index
          const onMessage = (reply: TaskReply) => {
            if (failed) return;
            const index = slots.get(reply.id);
            if (index === undefined) return;
            slots.delete(reply.id);
            if (!reply.ok) {
              failed = true;
              const error = new Error(`run: task '${task}' of preset '${preset.name}' failed in a worker: ${reply.message}`);
              if (reply.stack) error.stack = `${error.message}\n${reply.stack}`;
              finish(error);
              return;
            }
            outputs[index] = reply.output as O;
            done++;
            try {
              onOutput?.(index, reply.output as O);
            } catch (error) {
              failed = true;
              finish(error as Error);
              return;
            }
            if (done === inputs.length) finish();
            else assign(worker, slots);
          };
          const onError = (error: Error) => {
            if (failed) return;
            failed = true;
            finish(new Error(`run: a worker thread died running '${task}' of preset '${preset.name}': ${error.message}`));
          };
          worker.on('message', onMessage);
          worker.on('error', onError);
          listeners.push([worker, onMessage, onError]);
          assign(worker, slots);
        }
      });
    },
    async close() {
      if (!workers) return;
      const all = workers;
      workers = undefined;
      await Promise.all(all.map((w) => w.terminate()));
    },
  };
}

/** The pool for `--workers N`: in this thread for N ≤ 1. */
export function taskPool(count: number, options: WorkerPoolOptions = {}): TaskPool {
  return count <= 1 ? inlinePool() : workerPool(count, options);
}
