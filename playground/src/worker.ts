/**
 * The training worker: SVRG vs SGD and the sharpness runs happen here, so the page stays
 * responsive. It runs gradscope on its own default backend and reports which.
 *
 * It is also where wasm threads can run: a browser allows them only in a Worker of a
 * cross-origin-isolated page. `threads` switches them (setWasmThreads) and answers with the
 * threads check of core/threads.ts, which the page shows and the e2e tests compare.
 */
import { setWasmThreads } from '../../src/index.js';
import { currentBackendInfo } from '../../src/kernels/registry.js';
import { bundledData } from './bundled-data.js';
import { runSharpness, type SharpnessOptions } from './core/sharpness.js';
import { runSvrgPanel, type SvrgPanelOptions } from './core/svrg.js';
import { productCheck } from './core/threads.js';

export type WorkerRequest =
  | { id: number; kind: 'svrg'; options: SvrgPanelOptions }
  | { id: number; kind: 'sharpness'; options: SharpnessOptions }
  | { id: number; kind: 'threads'; threads: number };
export type WorkerResponse =
  | { type: 'backend'; label: string }
  | { type: 'progress'; id: number; progress: unknown }
  | { type: 'result'; id: number; result: unknown }
  | { type: 'error'; id: number; message: string };

const post = (msg: WorkerResponse) => (self as unknown as Worker).postMessage(msg);

post({ type: 'backend', label: currentBackendInfo().label });

async function handle(req: WorkerRequest): Promise<unknown> {
  if (req.kind === 'threads') {
    await setWasmThreads(req.threads);
    return productCheck();
  }
  const progress = (p: unknown) => post({ type: 'progress', id: req.id, progress: p });
  return req.kind === 'svrg' ? runSvrgPanel(bundledData(), req.options, progress) : runSharpness(bundledData(), req.options, progress);
}

self.addEventListener('message', async (ev: MessageEvent<WorkerRequest>) => {
  const req = ev.data;
  try {
    post({ type: 'result', id: req.id, result: await handle(req) });
  } catch (error) {
    post({ type: 'error', id: req.id, message: (error as Error).message ?? String(error) });
  }
});
