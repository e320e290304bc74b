/**
 * The body of a `gradscope run --workers N` worker thread (see task-pool.ts): select the
 * backend the main thread uses, then answer TaskRequests by looking the task up in the preset
 * registry and running it. An exception becomes an error reply, never a silent hang.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { useBackend } from 'gradscope';
import { findPreset } from './registry.js';
import { lookupTask, type TaskReply, type TaskRequest } from './task-pool.js';

const port = parentPort;
if (!port) throw new Error('task-worker.ts runs only as a worker thread');

const { backend } = workerData as { backend?: string };
const ready = backend ? useBackend(backend).then(() => undefined) : Promise.resolve();

port.on('message', (request: TaskRequest) => {
  void ready
    .then(() => {
      const preset = findPreset(request.preset);
      if (!preset) throw new Error(`unknown preset '${request.preset}'`);
      const output = (lookupTask(preset, request.task) as (input: unknown) => unknown)(request.input);
      port.postMessage({ id: request.id, ok: true, output } satisfies TaskReply);
    })
    .catch((error: unknown) => {
      const e = error instanceof Error ? error : new Error(String(error));
      port.postMessage({ id: request.id, ok: false, message: e.message, stack: e.stack } satisfies TaskReply);
    });
});
