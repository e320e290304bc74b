/**
 * The worker threads of `gradscope worker`: one thread per unit of --concurrency, each running
 * one task at a time through the same worker script and messages as `gradscope run --workers`
 * (task-worker.ts, task-pool.ts). Tasks run off the main thread so that its event loop stays
 * free to renew BullMQ's job locks however long a task computes.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { TaskReply, TaskRequest } from '../task-pool.js';

const WORKER_SCRIPT = new URL('../task-worker.js', import.meta.url);

export interface ThreadSet {
  /** Run a task in a free thread; resolves with its output and the thread's id. */
  run(preset: string, task: string, input: unknown): Promise<{ output: unknown; thread: number }>;
  close(): Promise<void>;
}

export function threadSet(count: number, backend: string | undefined, script: URL = WORKER_SCRIPT): ThreadSet {
  if (!existsSync(fileURLToPath(script))) {
    throw new Error(`worker: needs the compiled worker script ${fileURLToPath(script)}; run \`npm run build\``);
  }
  const idle: Worker[] = [];
  const all = new Set<Worker>();
  const waiting: ((w: Worker) => void)[] = [];
  let nextId = 0;
  let closed = false;
  const spawn = () => {
    const w = new Worker(script, { workerData: { backend } });
    all.add(w);
    w.on('exit', () => all.delete(w));
    w.on('error', () => {}); // reported by the task that was running
    return w;
  };
  for (let i = 0; i < count; i++) idle.push(spawn());
  const take = (): Promise<Worker> => {
    const w = idle.pop();
    return w ? Promise.resolve(w) : new Promise((resolve) => waiting.push(resolve));
  };
  const give = (w: Worker) => {
    const next = waiting.shift();
    if (next) next(w);
    else idle.push(w);
  };
  return {
    async run(preset, task, input) {
      if (closed) throw new Error('worker: closing; the task goes back to the queue');
      const w = await take();
      const id = nextId++;
      return new Promise((resolve, reject) => {
        const done = () => {
          w.off('message', onMessage);
          w.off('exit', onExit);
        };
        const onMessage = (reply: TaskReply) => {
          if (reply.id !== id) return;
          done();
          give(w);
          if (reply.ok) resolve({ output: reply.output, thread: w.threadId });
          else reject(Object.assign(new Error(reply.message), { stack: reply.stack }));
        };
        const onExit = (code: number) => {
          done();
          if (!closed) give(spawn()); // replace the thread the task ended
          const what = `task '${task}' of preset '${preset}'`;
          reject(new Error(`the worker thread running ${what} exited (code ${code}) before the task returned`));
        };
        w.on('message', onMessage);
        w.on('exit', onExit);
        w.postMessage({ id, preset, task, input } satisfies TaskRequest);
      });
    },
    async close() {
      closed = true;
      idle.length = 0;
      await Promise.all([...all].map((w) => w.terminate()));
    },
  };
}
