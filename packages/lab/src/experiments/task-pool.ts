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
 * A task can stop a worker (process.exit(), a crash) or never finish: workerPool fails the task
 * by name in both cases (the worker's 'exit' event, the optional task timeout) instead of
 * waiting for an answer that will not come.
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
  /**
   * Seconds one task may run (default: no limit). A task past it fails the map with the task's
   * name, and its worker is stopped (and replaced at the next map).
   */
  taskTimeout?: number;
}

const WORKER_SCRIPT = new URL('./task-worker.js', import.meta.url);

/** A worker thread and whether it is still running (a task may end it with process.exit()). */
interface Slot {
  worker: Worker;
  alive: boolean;
}

/**
 * `count` worker threads, started on the first map and reused until close; a worker that has
 * exited is replaced at the next map. count ≥ 2, or ≥ 1 with a task timeout (one worker, so
 * that an endless task can be stopped: taskPool uses that for --workers 1 with a timeout).
 *
 * A map never waits on a worker that cannot answer: a worker's 'exit' while it holds a task
 * (process.exit() in the task, a crash) and a task past the timeout both fail the map with an
 * error naming the task; the workers still busy with the failed map's other tasks are stopped,
 * so the next map starts on idle ones.
 */
export function workerPool(count: number, options: WorkerPoolOptions = {}): TaskPool {
  const timeout = options.taskTimeout;
  if (timeout !== undefined && !(Number.isFinite(timeout) && timeout > 0)) throw new Error(`run: the task timeout must be a positive number of seconds; got ${timeout}`);
  const least = timeout === undefined ? 2 : 1;
  if (!Number.isInteger(count) || count < least) {
    throw new Error(`run: a worker pool needs at least 2 workers (or 1 with a task timeout); got ${count}`);
  }
  let slots: Slot[] | undefined;
  const script = options.script ?? WORKER_SCRIPT;
  const spawn = (): Slot => {
    const worker = new Worker(script, { workerData: { backend: options.backend } });
    const slot: Slot = { worker, alive: true };
    worker.on('exit', () => {
      slot.alive = false;
    });
    // Without a listener an 'error' outside a map would throw in this thread; maps report it.
    worker.on('error', () => {});
    return slot;
  };
  const start = (): Slot[] => {
    if (!existsSync(fileURLToPath(script))) {
      throw new Error(`run: --workers needs the compiled worker script ${fileURLToPath(script)}; run \`npm run build\` (or use --workers 1)`);
    }
    slots ??= [];
    for (let k = 0; k < count; k++) if (!slots[k]?.alive) slots[k] = spawn();
    return slots;
  };
  let nextId = 0;
  return {
    workers: count,
    map<I, O>(preset: Preset, task: string, inputs: readonly I[], onOutput?: (index: number, output: O) => void): Promise<O[]> {
      lookupTask(preset, task); // fail here, with the known tasks, rather than in a worker
      const pool = start();
      const outputs = new Array<O>(inputs.length);
      if (inputs.length === 0) return Promise.resolve(outputs);
      const name = (index: number) => `task '${task}' of preset '${preset.name}' (input ${index + 1} of ${inputs.length})`;
      return new Promise<O[]>((resolve, reject) => {
        let next = 0;
        let done = 0;
        let settled = false;
        const inFlight = new Map<Slot, { id: number; index: number; timer?: ReturnType<typeof setTimeout> }>();
        const listeners: [Worker, string, (...args: any[]) => void][] = [];
        const finish = (error?: Error) => {
          if (settled) return;
          settled = true;
          for (const [w, event, listener] of listeners) w.off(event, listener);
          for (const [slot, { timer }] of inFlight) {
            clearTimeout(timer);
            // Busy with a task of a map that has failed: stop it rather than let the next map queue behind it.
            slot.alive = false;
            void slot.worker.terminate();
          }
          inFlight.clear();
          if (error) reject(error);
          else resolve(outputs);
        };
        const assign = (slot: Slot) => {
          if (next >= inputs.length) return;
          const index = next++;
          const id = nextId++;
          const timer =
            timeout === undefined
              ? undefined
              : setTimeout(() => finish(new Error(`run: ${name(index)} did not finish within the task timeout of ${timeout} s; its worker thread was stopped`)), timeout * 1000);
          inFlight.set(slot, { id, index, timer });
          const request: TaskRequest = { id, preset: preset.name, task, input: inputs[index] };
          slot.worker.postMessage(request);
        };
        const on = (slot: Slot, event: string, listener: (...args: any[]) => void) => {
          slot.worker.on(event, listener);
          listeners.push([slot.worker, event, listener]);
        };
        for (const slot of pool) {
          on(slot, 'message', (reply: TaskReply) => {
            const current = inFlight.get(slot);
            if (settled || !current || current.id !== reply.id) return;
            clearTimeout(current.timer);
            inFlight.delete(slot);
            if (!reply.ok) {
              const error = new Error(`run: task '${task}' of preset '${preset.name}' failed in a worker (input ${current.index + 1} of ${inputs.length}): ${reply.message}`);
              if (reply.stack) error.stack = `${error.message}\n${reply.stack}`;
              finish(error);
              return;
            }
            outputs[current.index] = reply.output as O;
            done++;
            try {
              onOutput?.(current.index, reply.output as O);
            } catch (error) {
              finish(error as Error);
              return;
            }
            if (done === inputs.length) finish();
            else assign(slot);
          });
          on(slot, 'error', (error: Error) => {
            const current = inFlight.get(slot);
            finish(new Error(`run: a worker thread died running ${current ? name(current.index) : `task '${task}' of preset '${preset.name}'`}: ${error.message}`));
          });
          on(slot, 'exit', (code: number) => {
            const current = inFlight.get(slot);
            if (current) {
              inFlight.delete(slot);
              clearTimeout(current.timer);
              finish(new Error(`run: the worker thread running ${name(current.index)} exited (code ${code}) before the task returned; a task must return its output, not end its thread (process.exit)`));
            } else if (next < inputs.length && pool.every((s) => !s.alive)) {
              finish(new Error(`run: every worker thread exited with tasks of '${task}' of preset '${preset.name}' still to run`));
            }
          });
          assign(slot);
        }
      });
    },
    async close() {
      if (!slots) return;
      const all = slots;
      slots = undefined;
      await Promise.all(all.map((s) => s.worker.terminate()));
    },
  };
}

/**
 * The pool for `--workers N`: in this thread for N ≤ 1 without a task timeout; with one, a
 * pool of max(N, 1) worker threads, since only a task in a worker can be stopped.
 */
export function taskPool(count: number, options: WorkerPoolOptions = {}): TaskPool {
  if (options.taskTimeout !== undefined) return workerPool(Math.max(1, count), options);
  return count <= 1 ? inlinePool() : workerPool(count, options);
}
