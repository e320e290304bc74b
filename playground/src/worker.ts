/**
 * The training worker: SVRG vs SGD and the sharpness runs happen here, so the page stays
 * responsive. It runs gradscope on its own default backend and reports which.
 */
import { currentBackendInfo } from '../../src/kernels/registry.js';
import { bundledData } from './bundled-data.js';
import { runSharpness, type SharpnessOptions } from './core/sharpness.js';
import { runSvrgPanel, type SvrgPanelOptions } from './core/svrg.js';

export type WorkerRequest = { id: number; kind: 'svrg'; options: SvrgPanelOptions } | { id: number; kind: 'sharpness'; options: SharpnessOptions };
export type WorkerResponse =
  | { type: 'backend'; label: string }
  | { type: 'progress'; id: number; progress: unknown }
  | { type: 'result'; id: number; result: unknown }
  | { type: 'error'; id: number; message: string };

const post = (msg: WorkerResponse) => (self as unknown as Worker).postMessage(msg);

post({ type: 'backend', label: currentBackendInfo().label });

self.addEventListener('message', (ev: MessageEvent<WorkerRequest>) => {
  const req = ev.data;
  try {
    const data = bundledData();
    const progress = (p: unknown) => post({ type: 'progress', id: req.id, progress: p });
    const result = req.kind === 'svrg' ? runSvrgPanel(data, req.options, progress) : runSharpness(data, req.options, progress);
    post({ type: 'result', id: req.id, result });
  } catch (error) {
    post({ type: 'error', id: req.id, message: (error as Error).message ?? String(error) });
  }
});
