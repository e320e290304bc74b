/**
 * Which backend runs the kernels, and how the default is chosen.
 *
 * The default is 'wasm' (WebAssembly SIMD kernels that gradscope emits at run time; see
 * kernels/wasm/) wherever the engine validates a SIMD module and a WebAssembly memory can be
 * allocated (not so under a tight `ulimit -v`), else the pure-TypeScript 'cpu' backend — the
 * reference, which works everywhere; `currentBackendInfo().note` then says why.
 * GRADSCOPE_WASM=off forces the fallback.
 *
 * Some backends are loaded on first use: 'gpu' needs gpu.js (an optional peer dependency, see
 * gpu/provide.ts; in a browser bundle, `provideGpuJs` from 'gradscope/gpu'), whose import
 * costs ≈60–130 ms in Node and probes for the optional native `gl` module — a price nobody who
 * never asks for the GPU should pay (nor should a browser bundle carry gpu.js unless it is
 * used). Loading is a dynamic `import()`, hence asynchronous, so:
 *
 *   await useBackend('gpu');   // loads GPU.js once and selects the backend
 *   setBackend('cpu');         // synchronous switches from then on
 *   setBackend('gpu');
 *
 * `setBackend('gpu')` before the first `useBackend('gpu')` throws and says so.
 *
 * The environment variable GRADSCOPE_BACKEND (cpu | wasm | gpu) chooses the initial backend. A
 * lazily loaded one starts loading when this module is evaluated; until it is ready, ops throw
 * a message that asks for `await backendReady()` — never silently running on another backend.
 */
import { ValueError } from '../tensor/errors.js';
import type { Backend } from './backend.js';
import { cpuBackend } from './cpu/index.js';
import { readEnv } from './gpu/env.js';
import { loadGpuJsModule } from './gpu/provide.js';
import { createWasmBackend, wasmMemoryProblem, wasmUnavailableReason } from './wasm/index.js';

/** Builds a backend on first use (e.g. after a dynamic import); `useBackend(name)` awaits it once. */
export type BackendFactory = () => Promise<Backend>;

/** What `currentBackendInfo()` reports. */
export interface BackendInfo {
  /** The backend's name: 'cpu', 'wasm', 'gpu', or a registered one. */
  name: string;
  /** For the GPU.js backend: the GPU.js mode its kernels ran in ('webasm', 'cpu', 'webgl2', …). */
  mode?: string;
  /** A row label for benchmarks: 'gradscope-cpu', 'gradscope-gpujs-webasm', … */
  label: string;
  /**
   * Present when something did not run as the name says: on 'cpu', why the default wasm
   * backend is not available (other than GRADSCOPE_WASM=off); on 'wasm', that WebAssembly
   * memory could not be created or grown, so some products ran on the cpu kernels.
   */
  note?: string;
}

/**
 * The GPU.js backend's kernels, imported by a specifier in a variable, as gpu.js itself is: a
 * bundle that does not split dynamic imports then does not carry them to pages that never use
 * the GPU. Node finds the file beside this one; a bundle gets them from 'gradscope/gpu', whose
 * provideGpuJs replaces this factory.
 */
const GPU_BACKEND = './gpu/index.js';

async function importGpuBackend(): Promise<Backend> {
  await loadGpuJsModule();
  type Kernels = typeof import('./gpu/index.js');
  let kernels: Kernels;
  try {
    const imported = (await import(/* @vite-ignore */ GPU_BACKEND)) as Kernels & { default?: Kernels };
    // From the CommonJS build, import() of a CommonJS file gives its exports as `default`.
    kernels = typeof imported.createGpuBackend === 'function' ? imported : imported.default!;
  } catch (error) {
    throw new ValueError(
      `useBackend('gpu'): the GPU.js backend's kernels could not be imported (${(error as Error).message.split('\n')[0]}); ` +
        `in a browser bundle, import { provideGpuJs } from 'gradscope/gpu' and call provideGpuJs(gpujs) first`,
    );
  }
  return kernels.createGpuBackend();
}

const backends = new Map<string, Backend>([['cpu', cpuBackend]]);
const factories = new Map<string, BackendFactory>([['gpu', importGpuBackend]]);
/** Backends that exist but cannot run here, with the reason (e.g. 'wasm' without SIMD). */
const unavailable = new Map<string, string>();
const wasmProblem = wasmUnavailableReason();
if (wasmProblem === null) backends.set('wasm', createWasmBackend());
else unavailable.set('wasm', wasmProblem);
/** Why the default is not wasm, for currentBackendInfo's note (not when switched off on purpose). */
const wasmMissing = wasmProblem !== null && readEnv('GRADSCOPE_WASM') !== 'off' ? `the wasm backend is not available here: ${wasmProblem}` : null;
/** Loads in progress, so that concurrent `useBackend` calls construct a backend once. */
const loading = new Map<string, Promise<Backend>>();
/** The default: WebAssembly SIMD where it works, the pure-TypeScript backend elsewhere. */
let current: Backend = backends.get('wasm') ?? cpuBackend;

/**
 * Set while GRADSCOPE_BACKEND names a backend that is not ready: still loading, or failed
 * (then `failure` is what every op throws). Cleared by the load finishing or by any explicit
 * choice of backend.
 */
let pendingInitial: { name: string; failure?: Error } | null = null;
let initialLoad: Promise<void> = Promise.resolve();

function unknownBackend(op: string, name: string): ValueError {
  const reason = unavailable.get(name);
  if (reason !== undefined) return new ValueError(`${op}: backend '${name}' is not available here: ${reason}; use one of ${listBackends().join(', ')}`);
  return new ValueError(`${op}: unknown backend '${name}'; known backends: ${listBackends().join(', ')}`);
}

/**
 * The backend that runs every op now. Throws a ValueError while GRADSCOPE_BACKEND names a
 * backend that is still loading (`await backendReady()` first) or failed to load.
 */
export function getBackend(): Backend {
  if (pendingInitial) {
    throw (
      pendingInitial.failure ??
      new ValueError(
        `GRADSCOPE_BACKEND=${pendingInitial.name} selects a backend that loads asynchronously and is not ready yet; ` +
          `\`await backendReady()\` before the first op (or choose a backend with setBackend/useBackend)`,
      )
    );
  }
  return current;
}

/** Add (or replace) a ready backend under its own name. */
export function registerBackend(backend: Backend): void {
  backends.set(backend.name, backend);
}

/** Add a backend that is built on first use (`useBackend(name)`). */
export function registerBackendFactory(name: string, factory: BackendFactory): void {
  factories.set(name, factory);
}

/**
 * Make `name` the backend of every following op. Throws listing the known backends, or, for a
 * backend not loaded yet, asks for `await useBackend(name)`.
 */
export function setBackend(name: string): void {
  const backend = backends.get(name);
  if (!backend) {
    if (factories.has(name)) {
      throw new ValueError(
        `setBackend: backend '${name}' is loaded on first use; call \`await useBackend('${name}')\` once ` +
          `(after that, setBackend('${name}') switches synchronously)`,
      );
    }
    throw unknownBackend('setBackend', name);
  }
  pendingInitial = null;
  current = backend;
}

/** Load `name` if needed (once, however many callers ask at the same time); does not select it. */
export function loadBackend(name: string): Promise<Backend> {
  const ready = backends.get(name);
  if (ready) return Promise.resolve(ready);
  const factory = factories.get(name);
  if (!factory) return Promise.reject(unknownBackend('useBackend', name));
  let promise = loading.get(name);
  if (!promise) {
    promise = factory()
      .then((backend) => {
        backends.set(name, backend);
        return backend;
      })
      // A failed load may be retried (e.g. with another GRADSCOPE_GPU_MODE).
      .finally(() => loading.delete(name));
    loading.set(name, promise);
  }
  return promise;
}

/**
 * Load `name` if needed and make it the backend of every following op. The way to pick a
 * lazily loaded backend, and the one to call from a CLI flag: `await useBackend(flag)`.
 * @example await useBackend('gpu'); currentBackendInfo().label // 'gradscope-gpujs-webasm' in Node
 */
export async function useBackend(name: string): Promise<Backend> {
  const backend = await loadBackend(name);
  setBackend(name);
  return backend;
}

/** Resolves once the backend chosen by GRADSCOPE_BACKEND is ready; rejects if it failed. */
export async function backendReady(): Promise<Backend> {
  await initialLoad;
  return getBackend();
}

/** The names of every backend: ready ones and those loaded on first use ('gpu'); not 'wasm' where it cannot run. */
export function listBackends(): string[] {
  return [...new Set([...backends.keys(), ...factories.keys()])];
}

/** The current backend's name, its GPU.js mode where it has one, a benchmark label, and a note if it is degraded. */
export function currentBackendInfo(): BackendInfo {
  const backend = getBackend();
  const mode = (backend as { mode?: unknown }).mode;
  if (typeof mode === 'string') return { name: backend.name, mode, label: `gradscope-gpujs-${mode}` };
  const info: BackendInfo = { name: backend.name, label: `gradscope-${backend.name}` };
  const note = backendNote(backend.name);
  if (note !== null) info.note = note;
  return info;
}

function backendNote(name: string): string | null {
  if (name === 'cpu') return wasmMissing;
  const memory = name === 'wasm' ? wasmMemoryProblem() : null;
  return memory === null ? null : `${memory}; the products that needed it ran on the pure-TypeScript (cpu) kernels`;
}

/** GRADSCOPE_BACKEND: the initial backend (see the module comment). */
function selectInitial(name: string | undefined): void {
  if (name === undefined) return;
  const ready = backends.get(name);
  if (ready) {
    current = ready;
    return;
  }
  const pending: { name: string; failure?: Error } = { name };
  pendingInitial = pending;
  if (!backends.has(name) && !factories.has(name)) {
    pending.failure = unknownBackend('GRADSCOPE_BACKEND', name);
    return;
  }
  initialLoad = loadBackend(name).then(
    (backend) => {
      // Only if nothing was chosen explicitly in the meantime.
      if (pendingInitial === pending) {
        current = backend;
        pendingInitial = null;
      }
    },
    (error: unknown) => {
      pending.failure = new ValueError(`GRADSCOPE_BACKEND=${name}: ${(error as Error).message ?? String(error)}`, { cause: error });
    },
  );
}

selectInitial(readEnv('GRADSCOPE_BACKEND'));
