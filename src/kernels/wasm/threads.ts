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
 * Where: Node ≥ 20.16 (worker_threads, reached through the `getBuiltinModule` of Node's
 * process object, so the core imports no Node module and still bundles for a browser). In a
 * browser, `Atomics.wait` is not allowed on the main thread, so threads are not offered there
 * (the backend runs on one thread).
 * Workers are unref'd once started: they never keep a Node process alive.
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
 * The body of a worker thread. It runs in the worker (as a CommonJS script built from this
 * function's source), so it may use nothing from this module's scope: the layout constants
 * come in `k`, and `load` is the worker's CommonJS loader, through which it reaches
 * worker_threads (the core itself imports no Node module).
 */
function workerMain(load: (id: string) => unknown, k: Record<string, number>): void {
  const { workerData } = load('node:worker_threads') as { workerData: WorkerData };
  const { module, memory, slot, stallMs } = workerData;
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
}

const CONTROL_WORDS = (MAX_WORKERS + 1) * SLOT_WORDS;
const WORKER_SOURCE = `(${workerMain.toString()})(require, ${JSON.stringify({ CONTROL_WORDS, SLOT_WORDS, STATE, ARGS, READY_WORD, POSTED, TAKEN, DONE, EXIT })});`;

interface NodeWorker {
  unref(): void;
  terminate(): Promise<number>;
  on(event: 'error', listener: (error: Error) => void): void;
}
type WorkerConstructor = new (source: string, options: { eval: true; workerData: unknown }) => NodeWorker;

/** worker_threads' Worker in Node ≥ 20.16, else null. */
function nodeWorker(): WorkerConstructor | null {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const threads = proc?.getBuiltinModule?.('node:worker_threads') as { Worker?: WorkerConstructor } | undefined;
  return threads?.Worker ?? null;
}

interface Pool {
  rt: WasmRuntime;
  workers: NodeWorker[];
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
  for (const worker of p.workers) void worker.terminate();
  if (pool === p) pool = null;
}

/**
 * Run products on `threads` threads (the main thread plus threads − 1 workers); 1 stops the
 * workers. Resolves once every worker is ready; until then products run on one thread.
 * Rejects, naming the reason, where threads are not possible (no shared memory, no
 * worker_threads) or a worker fails to start.
 * @example await setWasmThreads(2); // then every large float32 product uses two threads
 */
export async function setWasmThreads(threads: number, options: ThreadOptions = {}, rt?: WasmRuntime): Promise<void> {
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_WORKERS + 1) {
    throw new ValueError(`setWasmThreads: expected an integer from 1 to ${MAX_WORKERS + 1}; got ${threads}`);
  }
  if (pool) shutDown(pool);
  if (threads === 1) return;
  const runtime = rt ?? wasmRuntime();
  const Worker = nodeWorker();
  if (!Worker) throw new ValueError('setWasmThreads: threads need Node worker_threads (Node ≥ 20.16); this platform runs the wasm backend on one thread');
  if (!runtime.shared) throw new ValueError('setWasmThreads: threads need a shared WebAssembly.Memory (SharedArrayBuffer), which this platform does not allow');
  const ctl = new Int32Array(runtime.memory.buffer, 0, CONTROL_WORDS);
  ctl.fill(0);
  const p: Pool = { rt: runtime, workers: [], ctl, timeoutMs: options.timeoutMs ?? 2000, warn: options.warn ?? ((m) => console.warn(m)), ready: false };
  pool = p;
  const failed = new Promise<never>((_, reject) => {
    for (let slot = 1; slot < threads; slot++) {
      const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { module: runtime.module, memory: runtime.memory, slot, stallMs: options.stallMs ?? 0 } });
      worker.on('error', (error) => reject(new ValueError(`setWasmThreads: a worker failed: ${error.message}`)));
      p.workers.push(worker);
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
