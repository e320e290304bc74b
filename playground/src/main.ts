/**
 * The playground page: four panels (tabs) and the backend indicator. Panels 1–2 compute on the
 * page (they take milliseconds); panels 3–4 train in a Web Worker, which can also run the wasm
 * GEMM on two threads when the page is cross-origin isolated (opt-in checkbox).
 */
import { currentBackendInfo, useBackend } from '../../src/kernels/registry.js';
import { provideGpuJs } from '../../src/gpu/index.js';
import { mountExpressionPanel } from './panels/expression.js';
import { mountPerSamplePanel } from './panels/per-sample.js';
import { mountSharpnessPanel } from './panels/sharpness.js';
import { mountSvrgPanel } from './panels/svrg.js';
import type { ProductCheck } from './core/threads.js';
import { onWorkerBackend, request, startWorker } from './worker-client.js';

const $ = (id: string) => document.getElementById(id)!;

function showBackend(): void {
  $('backend-main').textContent = currentBackendInfo().label;
  document.body.dataset['backend'] = currentBackendInfo().label;
}

function hasWebGL2(): boolean {
  try {
    return !!document.createElement('canvas').getContext('webgl2');
  } catch {
    return false;
  }
}

function setupBackend(): void {
  showBackend();
  const webgl2 = hasWebGL2();
  $('webgl2').textContent = webgl2 ? 'available' : 'not available';
  onWorkerBackend((label) => {
    $('backend-worker').textContent = label;
    document.body.dataset['workerBackend'] = label;
  });
  startWorker();
  // GPU.js is loaded only on request: its kernels run float32 matmul/conv on WebGL2, while the
  // panels compute in float64 (which gradscope keeps on the CPU path of any backend).
  const button = $('try-gpu') as HTMLButtonElement;
  button.hidden = !webgl2;
  button.addEventListener('click', async () => {
    button.disabled = true;
    button.textContent = 'Loading GPU.js…';
    try {
      // gpu.js is an optional peer the engine imports by name at run time; a page cannot resolve
      // a bare name, so the bundle imports it here (its own chunk) and hands it over, with the
      // GPU.js kernels that provideGpuJs (gradscope/gpu) brings into the bundle.
      provideGpuJs(await import('gpu.js'));
      await useBackend('gpu');
      showBackend();
      button.textContent = 'GPU.js loaded (float32 ops; float64 stays on the CPU path)';
    } catch (error) {
      button.textContent = `GPU.js failed: ${(error as Error).message}`;
    }
  });
}

/**
 * The threads opt-in. Browsers allow wasm threads only in a Worker of a cross-origin-isolated
 * page (shared memory, Atomics.wait), so the checkbox asks the training worker, and is disabled
 * with the reason when the page is not isolated. Each switch answers with a timed product whose
 * digest must not depend on the thread count (core/threads.ts); the JSON is for the e2e tests.
 */
function setupThreads(): void {
  const control = $('threads-control');
  const toggle = $('threads-toggle') as HTMLInputElement;
  const status = $('threads-status');
  if (!globalThis.crossOriginIsolated) {
    toggle.disabled = true;
    control.title = 'wasm threads need shared memory, which browsers allow only on a cross-origin-isolated page';
    status.textContent = '(needs a cross-origin-isolated page)';
    control.dataset['state'] = 'unavailable';
    return;
  }
  toggle.addEventListener('change', async () => {
    const threads = toggle.checked ? 2 : 1;
    toggle.disabled = true;
    control.dataset['state'] = 'running';
    status.textContent = threads === 2 ? 'starting a second thread…' : 'back to one thread…';
    try {
      const check = await request<ProductCheck>({ kind: 'threads', threads });
      status.textContent = `${check.threads === 1 ? '1 thread' : `${check.threads} threads`}: ${check.n}×${check.n} float32 product in ${check.ms.toFixed(1)} ms`;
      $('threads-results').textContent = JSON.stringify(check);
      control.dataset['state'] = 'done';
    } catch (error) {
      status.textContent = `threads failed: ${(error as Error).message}`;
      toggle.checked = false;
      control.dataset['state'] = 'error';
    }
    toggle.disabled = false;
  });
}

function setupTabs(): void {
  const tabs = [...document.querySelectorAll<HTMLButtonElement>('[role="tab"]')];
  const select = (tab: HTMLButtonElement, focus: boolean) => {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute('aria-selected', String(on));
      t.tabIndex = on ? 0 : -1;
      $(t.getAttribute('aria-controls')!).hidden = !on;
    }
    if (focus) tab.focus();
    history.replaceState(null, '', `#${tab.id.replace('tab-', '')}`);
  };
  tabs.forEach((tab, i) => {
    tab.addEventListener('click', () => select(tab, false));
    tab.addEventListener('keydown', (ev) => {
      const move = ev.key === 'ArrowRight' ? 1 : ev.key === 'ArrowLeft' ? -1 : 0;
      if (move) select(tabs[(i + move + tabs.length) % tabs.length]!, true);
      if (ev.key === 'Home') select(tabs[0]!, true);
      if (ev.key === 'End') select(tabs[tabs.length - 1]!, true);
    });
  });
  const initial = tabs.find((t) => `#${t.id.replace('tab-', '')}` === location.hash);
  if (initial) select(initial, false);
}

setupBackend();
setupThreads();
setupTabs();
mountExpressionPanel($('panel-expression'));
mountPerSamplePanel($('panel-per-sample'));
mountSvrgPanel($('panel-svrg'));
mountSharpnessPanel($('panel-sharpness'));
document.body.dataset['ready'] = 'true';
