/**
 * Optional threads for the WebAssembly GEMM: worker threads that instantiate the same module
 * over the same shared memory and each compute a range of B slivers (columns of C).
 *
 * Opt-in: `await setWasmThreads(2)` or the environment variable GRADSCOPE_THREADS=2 (Node).
 * The Backend interface is synchronous, so a product is split like this:
 *
 *   1. the main thread packs A and B (gemm.ts) into the shared memory;
 *   2. for each worker it writes the call's arguments and the worker's column range into the
 *      worker's slot of the control area, marks the job POSTED and wakes it (Atomics.notify);
 *   3. it computes its own range, then waits for each worker (Atomics.wait on the slot's state).
 *
 * A worker that does not answer must not hang the caller. A job therefore has a state that
 * both sides change with compare-and-swap: the worker moves POSTED → TAKEN before it touches
 * memory, and DONE when finished; a main thread whose wait times out moves POSTED → CANCELLED.
 * If that succeeds the worker never started, so the main thread computes the range itself,
 * switches threads off and warns once (a late worker sees CANCELLED and skips the job). If it
 * fails, the worker has taken the job and is computing a bounded amount of work: wait for it.
 *
 * Where (off by default everywhere; `setWasmThreads` rejects with the reason where impossible):
 * - Node ≥ 20.16: workers from worker_threads, reached through the `getBuiltinModule` of
 *   Node's process object, so the core imports no Node module and still bundles for a browser.
 *   Workers are unref'd once started: they never keep a Node process alive.
 * - Browsers: only inside a dedicated Worker of a cross-origin-isolated page
 *   (`crossOriginIsolated`, i.e. served with COOP same-origin + COEP require-corp), because
 *   shared memory needs isolation and `Atomics.wait` is not allowed on a page's main thread.
 *   The threads are nested workers started from a Blob URL of a classic script.
 * Both run the same worker body (`workerMain`); only how it receives its start data differs.
 */
import { ValueError } from '../../tensor/errors.js';
import { readEnv } from '../gpu/env.js';
import { runOnOneThread, type GemmCall, type GemmRunner } from './gemm.js';
import type { GemmExports } from './gemm-module.js';
import { wasmRuntime, type WasmRuntime } from './runtime.js';

/** Job states in a slot (Int32 words of the control area at the start of memory). */
const IDLE = 0;
const POSTED = 1;
const TAKEN = 2;
const DONE = 3;
const CANCELLED = 4;
const EXIT = 5;

/** Control area: word 0 counts ready workers; slot w (≥ 1) starts at word 16·w. */
const READY_WORD = 0;
const SLOT_WORDS = 16;
const MAX_WORKERS = 32;
/** Within a slot: state, then the gemm arguments K, KC, a, b, c, mTiles, nTiles, n0, n1, mcTiles. */
const STATE = 0;
const ARGS = 1;

/** Below this many multiply-adds one thread is faster than waking others (≈ 20–50 µs each). */
const PARALLEL_MIN_MACS = 1 << 21;

/** Options of `setWasmThreads`. */
export interface ThreadOptions {
  /** How long to wait for a worker to take a job before computing its part alone (ms). Default 2000. */
  timeoutMs?: number;
  /** Testing only: every worker sleeps this long before taking a job (simulates a hung worker). */
  stallMs?: number;
  /** Where the one-time warning goes (default console.warn, i.e. stderr). */
  warn?: (message: string) => void;
}

/** What a worker is handed when it starts. */
interface WorkerData {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  slot: number;
  stallMs: number;
}

/**
 * The body of a worker thread, on both platforms. It runs in the worker (as a script built
 * from this function's source), so it may use nothing from this module's scope: the layout
 * constants come in `k`, and `receive` is the platform's few lines that hand it its
 * WorkerData (Node: `workerData`; browser: the first message).
 */
function workerMain(receive: (start: (data: WorkerData) => void) => void, k: Record<string, number>): void {
  receive(({ module, memory, slot, stallMs }) => {
    const exports = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as GemmExports;
    const ctl = new Int32Array(memory.buffer, 0, k.CONTROL_WORDS!);
    const state = slot * k.SLOT_WORDS! + k.STATE!;
    const args = slot * k.SLOT_WORDS! + k.ARGS!;
    Atomics.add(ctl, k.READY_WORD!, 1);
    Atomics.notify(ctl, k.READY_WORD!);
    for (;;) {
      const now = Atomics.load(ctl, state);
      if (now === k.EXIT) return;
      if (now !== k.POSTED) {
        Atomics.wait(ctl, state, now); // until the main thread changes the state
        continue;
      }
      // Testing only: pretend to be a hung worker for stallMs.
      if (stallMs > 0) Atomics.wait(ctl, k.READY_WORD!, Atomics.load(ctl, k.READY_WORD!), stallMs);
      // Take the job — unless the main thread gave up on us and cancelled it meanwhile.
      if (Atomics.compareExchange(ctl, state, k.POSTED!, k.TAKEN!) !== k.POSTED) continue;
      const a = ctl.subarray(args, args + 10);
      exports.gemm(a[0]!, a[1]!, a[2]!, a[3]!, a[4]!, a[5]!, a[6]!, a[7]!, a[8]!, a[9]!);
      Atomics.store(ctl, state, k.DONE!);
      Atomics.notify(ctl, state);
    }
  });
}

const CONTROL_WORDS = (MAX_WORKERS + 1) * SLOT_WORDS;
const LAYOUT = JSON.stringify({ CONTROL_WORDS, SLOT_WORDS, STATE, ARGS, READY_WORD, POSTED, TAKEN, DONE, EXIT });
/**
 * Node's way to hand the worker its data: worker_threads' `workerData`, reached through the
 * `getBuiltinModule` of the worker's own process object (Node ≥ 20.16, as on the main side),
 * so the core never loads a Node module itself.
 *
 * Why not `require`: an eval'd worker script inherits the host's execArgv, so under a host
 * started with `--input-type=module` (or `--experimental-default-type=module`) it is evaluated
 * as an ES module, where `require` is not defined and every worker failed to start. The
 * process global exists in both kinds of script.
 */
function nodeReceive(scope: { process?: { getBuiltinModule?: (id: string) => unknown } }): (start: (data: WorkerData) => void) => void {
  return (start) => {
    const threads = scope.process?.getBuiltinModule?.('node:worker_threads') as { workerData: WorkerData } | undefined;
    if (!threads) throw new Error('gradscope wasm worker: Node has no getBuiltinModule here (threads need Node ≥ 20.16)');
    start(threads.workerData);
  };
}
/** Node: a script (eval: true) that runs the same whether Node evaluates it as CommonJS or as an ES module. */
const NODE_WORKER_SOURCE = `(${workerMain.toString()})((${nodeReceive.toString()})(globalThis), ${LAYOUT});`;
/** Browser: a classic script; the start data is the first message (the worker then blocks in Atomics.wait). */
const BROWSER_WORKER_SOURCE = `(${workerMain.toString()})((start) => self.addEventListener('message', (e) => start(e.data), { once: true }), ${LAYOUT});`;

/** A started worker, whatever the platform. */
interface Thread {
  /** Let the process exit while the worker idles (Node; nothing to do in a browser). */
  unref(): void;
  terminate(): void;
}
/** Starts one worker on this platform; `failed` is called if it throws or cannot load. */
type Spawn = (data: WorkerData, failed: (message: string) => void) => Thread;

interface NodeWorker {
  unref(): void;
  terminate(): Promise<number>;
  on(event: 'error', listener: (error: Error) => void): void;
}
type NodeWorkerConstructor = new (source: string, options: { eval: true; workerData: unknown }) => NodeWorker;

/** The browser globals threads need (typed here: the project's lib has no DOM). */
interface BrowserWorker {
  postMessage(message: unknown): void;
  terminate(): void;
  addEventListener(type: 'error', listener: (event: { message?: string }) => void): void;
}
interface BrowserScope {
  crossOriginIsolated?: boolean;
  DedicatedWorkerGlobalScope?: unknown;
  document?: unknown;
  Worker?: new (url: string) => BrowserWorker;
  Blob?: new (parts: string[], options: { type: string }) => unknown;
  URL?: { createObjectURL(blob: unknown): string };
  process?: { getBuiltinModule?: (id: string) => unknown };
}

let browserScriptUrl: string | undefined;

/**
 * How this platform starts worker threads, or why it cannot (a message for the ValueError).
 * `scope` is globalThis; tests pass fakes.
 */
export function threadPlatform(scope: object = globalThis): Spawn | string {
  const g = scope as BrowserScope;
  const threads = g.process?.getBuiltinModule?.('node:worker_threads') as { Worker?: NodeWorkerConstructor } | undefined;
  const NodeWorkerClass = threads?.Worker;
  if (NodeWorkerClass) {
    return (data, failed) => {
      const worker = new NodeWorkerClass(NODE_WORKER_SOURCE, { eval: true, workerData: data });
      worker.on('error', (error) => failed(error.message));
      return { unref: () => worker.unref(), terminate: () => void worker.terminate() };
    };
  }
  if (g.document !== undefined) {
    return "threads are not possible on a page's main thread (browsers do not allow Atomics.wait there); run gradscope in a Worker of a cross-origin-isolated page and call setWasmThreads in that worker";
  }
  if (g.DedicatedWorkerGlobalScope === undefined) {
    return 'threads need Node worker_threads (Node ≥ 20.16) or a browser dedicated Worker; this platform runs the wasm backend on one thread';
  }
  if (g.crossOriginIsolated !== true) {
    return 'threads need a cross-origin-isolated page (served with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp) for shared memory; this one is not';
  }
  const { Worker, Blob, URL } = g;
  if (!Worker || !Blob || !URL) return 'threads need nested Workers and Blob URLs, which this worker does not have';
  return (data, failed) => {
    // One Blob URL per module, made once and never revoked: every later start of threads reuses it.
    browserScriptUrl ??= URL.createObjectURL(new Blob([BROWSER_WORKER_SOURCE], { type: 'text/javascript' }));
    const worker = new Worker(browserScriptUrl);
    worker.addEventListener('error', (event) => failed(event.message || 'the worker script did not load'));
    worker.postMessage(data);
    return { unref: () => undefined, terminate: () => worker.terminate() };
  };
}

interface Pool {
  rt: WasmRuntime;
  workers: Thread[];
  ctl: Int32Array;
  timeoutMs: number;
  warn: (message: string) => void;
  ready: boolean;
}

/** Atomics.waitAsync (ES2024; in Node since 16), typed here because the project targets ES2022. */
interface AtomicsWaitAsync {
  waitAsync(array: Int32Array, index: number, value: number, timeoutMs: number): { value: Promise<'ok' | 'timed-out'> | 'not-equal' | 'timed-out' };
}

let pool: Pool | null = null;
let warned = false;

/** How many threads products run on (1: the main thread alone). */
export function wasmThreads(): number {
  return pool?.ready ? pool.workers.length + 1 : 1;
}

function shutDown(p: Pool): void {
  for (let w = 1; w <= p.workers.length; w++) {
    Atomics.store(p.ctl, w * SLOT_WORDS + STATE, EXIT);
    Atomics.notify(p.ctl, w * SLOT_WORDS + STATE);
  }
  for (const worker of p.workers) worker.terminate();
  if (pool === p) pool = null;
}

/**
 * Run products on `threads` threads (the main thread plus threads − 1 workers); 1 stops the
 * workers. Resolves once every worker is ready; until then products run on one thread.
 * Rejects, naming the reason, where threads are not possible (no shared memory; neither Node
 * worker_threads nor a browser dedicated Worker; a page's main thread; a page that is not
 * cross-origin isolated) or a worker fails to start.
 * @example await setWasmThreads(2); // then every large float32 product uses two threads
 */
export async function setWasmThreads(threads: number, options: ThreadOptions = {}, rt?: WasmRuntime): Promise<void> {
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_WORKERS + 1) {
    throw new ValueError(`setWasmThreads: expected an integer from 1 to ${MAX_WORKERS + 1}; got ${threads}`);
  }
  if (pool) shutDown(pool);
  if (threads === 1) return;
  const runtime = rt ?? wasmRuntime();
  const spawn = threadPlatform();
  if (typeof spawn === 'string') throw new ValueError(`setWasmThreads: ${spawn}`);
  if (!runtime.shared) throw new ValueError('setWasmThreads: threads need a shared WebAssembly.Memory (SharedArrayBuffer), which this platform does not allow');
  const ctl = new Int32Array(runtime.memory.buffer, 0, CONTROL_WORDS);
  ctl.fill(0);
  const p: Pool = { rt: runtime, workers: [], ctl, timeoutMs: options.timeoutMs ?? 2000, warn: options.warn ?? ((m) => console.warn(m)), ready: false };
  pool = p;
  const failed = new Promise<never>((_, reject) => {
    for (let slot = 1; slot < threads; slot++) {
      const data: WorkerData = { module: runtime.module, memory: runtime.memory, slot, stallMs: options.stallMs ?? 0 };
      p.workers.push(spawn(data, (message) => reject(new ValueError(`setWasmThreads: a worker failed: ${message}`))));
    }
  });
  // Wait for the workers to count themselves ready, without blocking the event loop.
  const ready = (async () => {
    for (;;) {
      const count = Atomics.load(ctl, READY_WORD);
      if (count >= threads - 1) return;
      const waited = (Atomics as unknown as AtomicsWaitAsync).waitAsync(ctl, READY_WORD, count, p.timeoutMs * 5);
      if ((await waited.value) === 'timed-out') throw new ValueError(`setWasmThreads: workers did not start within ${p.timeoutMs * 5} ms`);
    }
  })();
  try {
    await Promise.race([ready, failed]);
  } catch (error) {
    shutDown(p);
    throw error;
  } finally {
    // Referenced while starting (else an idle process would exit before they come up), never after.
    for (const worker of p.workers) worker.unref();
  }
  p.ready = true;
}

/**
 * The backend's GemmRunner: the main thread plus the workers when a pool is ready and the
 * product is large enough, else one thread.
 */
export const threadedRunner: GemmRunner = (rt, call) => {
  const p = pool;
  const macs = call.mTiles * call.nTiles * call.K * rt.tile.mr * rt.tile.nv * 4;
  if (!p || !p.ready || p.rt !== rt || macs < PARALLEL_MIN_MACS || call.nTiles < 2) {
    runOnOneThread(rt, call);
    return;
  }
  const parts = Math.min(p.workers.length + 1, call.nTiles);
  // Column ranges [bounds[i], bounds[i+1]); the main thread takes part 0.
  const bounds = Array.from({ length: parts + 1 }, (_, i) => Math.round((i * call.nTiles) / parts));
  for (let w = 1; w < parts; w++) post(p, w, call, bounds[w]!, bounds[w + 1]!);
  rt.exports.gemm(call.K, call.KC, call.a, call.b, call.c, call.mTiles, call.nTiles, bounds[0]!, bounds[1]!, call.mcTiles);
  for (let w = 1; w < parts; w++) collect(p, w, call, bounds[w]!, bounds[w + 1]!);
};

function post(p: Pool, w: number, call: GemmCall, n0: number, n1: number): void {
  const base = w * SLOT_WORDS;
  const args = [call.K, call.KC, call.a, call.b, call.c, call.mTiles, call.nTiles, n0, n1, call.mcTiles];
  for (let i = 0; i < args.length; i++) p.ctl[base + ARGS + i] = args[i]!;
  Atomics.store(p.ctl, base + STATE, POSTED);
  Atomics.notify(p.ctl, base + STATE);
}

function collect(p: Pool, w: number, call: GemmCall, n0: number, n1: number): void {
  const at = w * SLOT_WORDS + STATE;
  const deadline = Date.now() + p.timeoutMs;
  for (;;) {
    const state = Atomics.load(p.ctl, at);
    if (state === DONE) break;
    if (state === POSTED && Date.now() >= deadline && Atomics.compareExchange(p.ctl, at, POSTED, CANCELLED) === POSTED) {
      // The worker never took the job: compute its part here and stop using threads.
      p.rt.exports.gemm(call.K, call.KC, call.a, call.b, call.c, call.mTiles, call.nTiles, n0, n1, call.mcTiles);
      if (!warned) {
        warned = true;
        p.warn(`gradscope: a wasm worker thread did not answer within ${p.timeoutMs} ms; running on one thread from now on`);
      }
      shutDown(p);
      return;
    }
    // POSTED (not yet late) or TAKEN: sleep until the state changes or the deadline.
    Atomics.wait(p.ctl, at, state, state === POSTED ? Math.max(1, deadline - Date.now()) : 100);
  }
  Atomics.store(p.ctl, at, IDLE);
}

/** GRADSCOPE_THREADS=n starts n − 1 workers when the backend module loads (Node). */
export function startThreadsFromEnv(rt: () => WasmRuntime, warn: (message: string) => void = (m) => console.warn(m)): void {
  const value = readEnv('GRADSCOPE_THREADS');
  if (value === undefined || value === '1') return;
  const threads = Number(value);
  setWasmThreads(threads, {}, rt()).catch((error: unknown) => warn(`gradscope: GRADSCOPE_THREADS=${value}: ${(error as Error).message}`));
}
