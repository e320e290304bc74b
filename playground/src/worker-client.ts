/** The training worker, seen from the page: one request at a time, progress callbacks. */
import type { WorkerRequest, WorkerResponse } from './worker.js';

let worker: Worker | null = null;
let nextId = 1;
const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; progress?: (p: unknown) => void }>();
let onBackend: ((label: string) => void) | null = null;

function start(): Worker {
  if (worker) return worker;
  worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
  worker.addEventListener('message', (ev: MessageEvent<WorkerResponse>) => {
    const msg = ev.data;
    if (msg.type === 'backend') {
      onBackend?.(msg.label);
      return;
    }
    const p = pending.get(msg.id);
    if (!p) return;
    if (msg.type === 'progress') p.progress?.(msg.progress);
    else {
      pending.delete(msg.id);
      if (msg.type === 'result') p.resolve(msg.result);
      else p.reject(new Error(msg.message));
    }
  });
  worker.addEventListener('error', (ev) => {
    for (const p of pending.values()) p.reject(new Error(ev.message || 'worker failed'));
    pending.clear();
  });
  return worker;
}

export function onWorkerBackend(fn: (label: string) => void): void {
  onBackend = fn;
}

export function startWorker(): void {
  start();
}

/** A request without its id, kind by kind (Omit of the whole union would keep only the keys all kinds share). */
type WithoutId<R> = R extends unknown ? Omit<R, 'id'> : never;
type NewRequest = WithoutId<WorkerRequest>;

export function request<T>(req: NewRequest, progress?: (p: unknown) => void): Promise<T> {
  const w = start();
  const id = nextId++;
  return new Promise<T>((resolve, reject) => {
    pending.set(id, { resolve: resolve as (v: unknown) => void, reject, progress });
    w.postMessage({ ...req, id } as WorkerRequest);
  });
}
