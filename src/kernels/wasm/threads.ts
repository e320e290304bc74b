/**
 * Optional threads for the WebAssembly GEMM: worker threads that instantiate the same module
 * over the same shared memory and compute blocks of B slivers (columns of C) of a product.
 *
 * Opt-in: `await setWasmThreads(2)` or the environment variable GRADSCOPE_THREADS=2 (Node).
 * The Backend interface is synchronous, so a product is split like this:
 *
 *   0. before packing, the main thread wakes any worker that sleeps (`prepare`), so that its
 *      wake-up (20–400 µs out of Atomics.wait on the reference machine) overlaps the packing;
 *   1. the main thread packs A and B (gemm.ts) into the shared memory;
 *   2. it writes the call's arguments into the job area of the control area, sets the claim
 *      counter to 0 and marks each worker's slot POSTED (notifying a worker that sleeps);
 *   3. every thread, the main one included, claims the next block of `chunk` B slivers
 *      (Atomics.add on the counter) and computes it, until none is left;
 *   4. the main thread then takes back each job a worker has not taken (POSTED → CANCELLED)
 *      and waits only for the workers that are computing a block.
 *
 * Claiming blocks instead of handing out fixed halves is what keeps two threads from ever being
 * slower than one: a worker that is late (asleep, or preempted on a busy machine) simply gets
 * fewer blocks, and one that never comes costs the main thread nothing but the post. Each
 * element of C is still computed by one thread with the same kernel and the same order of
 * sums, so the result is bit-identical to one thread whoever computes which block.
 *
 * A convolution's deep weight-gradient product (conv.ts's streamPartitions: C of a few tiles,
 * K = N·Ho·Wo) has too few columns to share, so it is cut along K instead, into
 * `splitting.partitionsPerThread` partitions per thread that the threads claim the same way
 * (job kind PARTITIONS): each sums its K blocks into a C of its own, and the main thread adds
 * them in partition order. The result depends on the number of partitions, hence on the thread
 * count, but not on which thread computed which.
 *
 * Three convolutions are shared as whole ops, in blocks of images that the threads claim the
 * same way (job kinds IMAGES and DIRECT; split-convs.ts): the input gradient (GEMM and col2im
 * per block), the direct forward, and the direct weight gradient (in partitions, as above).
 *
 * Waking a worker out of Atomics.wait costs 20–400 µs on the reference machine (median ≈ 50),
 * as much as each thread's half of the MLP's 128×256×256 products (≈ 250 µs): with the old
 * fixed halves, posted after packing to a sleeping worker, two threads made a 784-256-256-10
 * gradient slower than one (bench/micro/wasm-threads.mjs handoff). Now the main thread wakes
 * the worker before it packs (`prepare`), the woken worker polls for the job, a worker polls
 * for SPIN_MS after each job (a product that follows at once finds it awake), and the main
 * thread polls briefly for a worker finishing its last block: a hand-off to a worker that is
 * awake costs ≈ 1 µs. Polling stops as soon as a worker finds it lost the CPU (a busy machine),
 * where a sleeping thread is scheduled sooner than a polling one. Products too small to gain
 * (`splitPlan`) are not split at all, and after a stall (a worker held a block long after the
 * main thread's were done: preempted) products are not split for a while.
 *
 * A worker that does not answer must not hang the caller. A job therefore has a state that
 * both sides change with compare-and-swap: the worker moves POSTED → TAKEN before it touches
 * memory, and DONE when finished; the main thread, once no block is left, moves POSTED →
 * CANCELLED (a late worker sees CANCELLED and skips the job). A worker that has taken none of
 * the jobs posted to it for `timeoutMs` is taken for hung: threads switch off and one warning
 * goes to stderr. One that took its job is computing a bounded amount of work: wait for it.
 *
 * NOTE: in Node 20 a fresh worker now and then never runs its first line: in a bench process
 * after the matmul and training rows (docs/performance.md, "resident tensors"), the first
 * worker spawned for the -2t rows hung in start-up in most runs, and a second one spawned after
 * it started in ≈ 30 ms every time. Why is not known. So workers not ready within START_RETRY_MS
 * are replaced once, with a warning, before setWasmThreads gives up.
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
import type { View } from '../../tensor/storage.js';
import { convDims, type Conv2dGeometry, type ConvDims } from '../geometry.js';
import type { Shape } from '../../tensor/shape.js';
import { readEnv } from '../gpu/env.js';
import { blockDepth, installProductRunner, runOnOneThread, type GemmCall, type GemmRunner } from './gemm.js';
import { convExports, convModuleBytes, type ConvExports } from './conv-module.js';
import { STREAM_JOB_FIELDS, streamJob, streamPartitions, streams, type Operand, type Product, type StreamJob } from './conv.js';
import { lanesOf, type GemmExports } from './gemm-module.js';
import { DIRECT, directBlocks, IMAGES, inputGradientBlocks, splitDirectConv, splitInputGradient, type DirectJob, type ImageJob, type WholeOpThreads } from './split-convs.js';
import type { DirectExports } from './direct-conv.js';
import { align64, wasmRuntime, type WasmRuntime } from './runtime.js';

/** Job states in a slot (Int32 words of the control area at the start of memory). */
const IDLE = 0;
const POSTED = 1;
const TAKEN = 2;
const DONE = 3;
const CANCELLED = 4;
const EXIT = 5;

/**
 * Control area: word 0 counts ready workers, word 1 is the claim counter (the next block of
 * the current product), word 2 the kind of job (BLOCKS or PARTITIONS), words 16–47 hold the
 * current job (JOB_ARGS, or a streamed product's STREAM_JOB_FIELDS); the slot of worker w
 * (≥ 1) starts at word 16·(w + 2).
 */
const READY_WORD = 0;
const NEXT_WORD = 1;
const KIND_WORD = 2;
/**
 * Job kinds: blocks of B slivers of a product (runBlocks); K partitions of a convolution's
 * streamed product (streamPartitions); and whole convolutions in blocks of images
 * (split-convs.ts: IMAGES, an input gradient; DIRECT, a direct convolution).
 */
const BLOCKS = 0;
const PARTITIONS = 1;
const JOB = 16;
const SLOT_WORDS = 16;
const FIRST_SLOT = 2;
const MAX_WORKERS = 32;
/** Within a slot: the job state, and 1 while the worker sleeps in Atomics.wait (0 while it polls). */
const STATE = 0;
const ASLEEP = 1;
/**
 * The job, in this order from word JOB: the gemm's arguments with the block size in B slivers
 * (`chunk`), then how the threads pack B (gemm.ts's DeferredPack; kind 0: B is packed).
 */
const JOB_ARGS = [
  'K', 'KC', 'a', 'b', 'c', 'mTiles', 'nTiles', 'chunk', 'mcTiles', 'nr', 'bytes',
  'kind', 'slivers', 'columns', 'image', 'lineBytes', 'stepBytes', 'strideBytes', 'data', 'lines', 'steps',
] as const;
const slotAt = (w: number) => (w + FIRST_SLOT) * SLOT_WORDS;

/**
 * How long (ms) a worker polls for its next job after the last one before it sleeps: long
 * enough to catch the next product when little elementwise work lies between them (the MLP's
 * products come 0.1–0.3 ms apart), no longer. A product that finds the worker asleep wakes it
 * before packing (`prepare`), and a worker woken that way polls for up to WOKEN_POLL_MS for
 * the job; but a small product is not split then (`splitting.minMacsPerThreadAsleep`). On an
 * idle machine a polling thread costs the main thread nothing (a one-thread LeNet-5 training
 * step beside one: 0.99–1.03×).
 *
 * Polling longer backfires on a machine that is not idle: a polling thread is always runnable,
 * so it takes turns with the main thread (a thread polling beside a one-thread LeNet-5 training
 * step made it 1.5–2× slower while another process ran) and is itself descheduled when its job
 * comes (polling 2 ms after each job, the main thread computed 80–90 % of the blocks itself and
 * two threads ran at 0.5–0.7× one). So a worker that finds it lost the CPU while polling (two
 * looks at the clock more than PREEMPTED_MS apart) stops polling for CONTENDED_MS: it sleeps
 * between jobs, and a sleeping thread is scheduled as soon as it is woken.
 */
export const SPIN_MS = 0.5;
const WOKEN_POLL_MS = 1;
const PREEMPTED_MS = 0.3;
const CONTENDED_MS = 200;
/**
 * How long (ms) the main thread polls for a worker finishing its last block before it sleeps
 * until the worker's notify: a worker that is computing finishes within a block's time; one
 * that does not is not running (a busy machine preempted it), and polling would only take
 * the CPU it needs.
 */
const MAIN_SPIN_MS = 0.2;
/**
 * A stall: the main thread waited for a worker more than STALL_MS plus STALL_FRACTION of the
 * time the product took until then (a running worker finishes its last block well within
 * that). Each split product decays a score by STALL_DECAY and a stall adds 1; at STALL_SCORE
 * (two stalls among the last few split products) splitting stops for a backoff that starts at
 * MIN_BACKOFF_MS, doubles with each one up to MAX_BACKOFF_MS, and halves with each clean split.
 */
const STALL_MS = 0.1;
const STALL_FRACTION = 0.5;
const STALL_DECAY = 0.7;
const STALL_SCORE = 1.6;
const MIN_BACKOFF_MS = 10;
/** How long setWasmThreads waits for its workers to start before it replaces them, once (ms; they start in ≈ 30 ms). */
const START_RETRY_MS = 2000;
const MAX_BACKOFF_MS = 2000;

/** Options of `setWasmThreads`. */
export interface ThreadOptions {
  /** How long a worker may take none of the jobs posted to it before it is taken for hung and threads switch off (ms). Default 2000. */
  timeoutMs?: number;
  /** Testing only: every worker sleeps this long before taking a job (simulates a hung worker). */
  stallMs?: number;
  /** Testing only: the first workers spawned sleep this long before they count themselves ready (simulates a worker hung in start-up). */
  startStallMs?: number;
  /** How long a worker polls for its next job before it sleeps, in ms (default SPIN_MS; 0: sleep at once). */
  spinMs?: number;
  /** Where the one-time warning goes (default console.warn, i.e. stderr). */
  warn?: (message: string) => void;
}

/** What a worker is handed when it starts. */
interface WorkerData {
  module: WebAssembly.Module;
  /** The convolution module of the same runtime (conv-module.ts), whose packers the threads run for a convolution's B. */
  convModule?: WebAssembly.Module;
  memory: WebAssembly.Memory;
  slot: number;
  stallMs: number;
  /** Testing only: sleep this long before counting ready (ms; default 0). */
  startStallMs?: number;
  /** How long the worker polls for the next job before it sleeps (ms; default 0). */
  spinMs?: number;
}

/**
 * The body of a worker thread, on both platforms. It runs in the worker (as a script built
 * from this function's source), so it may use nothing from this module's scope: the layout
 * constants come in `k`, the kinds of job as `blocks`, `partitions` (with the streamed job's
 * field names), `images` and `direct`, and `receive` is the platform's few lines that hand it its
 * WorkerData (Node: `workerData`; browser: the first message).
 */
function workerMain(
  receive: (start: (data: WorkerData) => void) => void,
  k: Record<string, number>,
  blocks: typeof runBlocks,
  partitions: typeof streamPartitions,
  fields: typeof STREAM_JOB_FIELDS,
  images: typeof inputGradientBlocks,
  direct: typeof directBlocks,
): void {
  receive(({ module, convModule, memory, slot, stallMs, startStallMs = 0, spinMs = 0 }) => {
    if (startStallMs > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, startStallMs);
    const exports = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as GemmExports;
    const conv = convModule && (new WebAssembly.Instance(convModule, { env: { memory } }).exports as unknown as ConvExports);
    // Direct modules (split-convs.ts) by number, each compiled from the bytes of the first job that uses it.
    const directModules = new Map<number, DirectExports>();
    const ctl = new Int32Array(memory.buffer, 0, k.CONTROL_WORDS!);
    const state = (slot + k.FIRST_SLOT!) * k.SLOT_WORDS! + k.STATE!;
    const asleep = (slot + k.FIRST_SLOT!) * k.SLOT_WORDS! + k.ASLEEP!;
    let f32 = new Float32Array(memory.buffer);
    Atomics.add(ctl, k.READY_WORD!, 1);
    Atomics.notify(ctl, k.READY_WORD!);
    // Poll until then (performance.now()) before sleeping; the last look at the clock; no
    // polling before then, after this thread found itself preempted while polling.
    let pollUntil = performance.now() + spinMs;
    let polled = 0;
    let contendedUntil = 0;
    for (;;) {
      const now = Atomics.load(ctl, state);
      if (now === k.EXIT) return;
      if (now !== k.POSTED) {
        const t = performance.now();
        if (t < pollUntil) {
          // Poll: the next product usually comes soon. A poll that lost the CPU for a while (a
          // busy machine) stops: a thread that keeps polling there is descheduled when the job
          // comes, and one that sleeps is woken at once.
          if (polled > 0 && t - polled > k.PREEMPTED_MS!) {
            pollUntil = 0;
            contendedUntil = t + k.CONTENDED_MS!;
          }
          polled = t;
          for (let i = 0; i < 1000 && Atomics.load(ctl, state) === now; i++);
          continue;
        }
        // NOTE: ASLEEP is set before the wait checks the state, and the main thread sets the
        // state before it reads ASLEEP (all sequentially consistent), so a job posted
        // meanwhile either fails the wait's check or finds ASLEEP = 1 and notifies.
        Atomics.store(ctl, asleep, 1);
        const woken = Atomics.wait(ctl, state, now); // until the main thread changes the state or wakes us
        Atomics.store(ctl, asleep, 0);
        // Woken on purpose (`prepare`): the job follows once the main thread has packed.
        const awake = performance.now();
        pollUntil = awake < contendedUntil ? 0 : awake + (woken === 'ok' ? k.WOKEN_POLL_MS! : spinMs);
        polled = 0;
        continue;
      }
      // Testing only: pretend to be a hung worker for stallMs.
      if (stallMs > 0) Atomics.wait(ctl, k.READY_WORD!, Atomics.load(ctl, k.READY_WORD!), stallMs);
      // Take the job — unless the main thread finished it alone and cancelled it meanwhile.
      if (Atomics.compareExchange(ctl, state, k.POSTED!, k.TAKEN!) !== k.POSTED) continue;
      if (f32.length * 4 !== memory.buffer.byteLength) f32 = new Float32Array(memory.buffer); // the memory grew
      if (ctl[k.KIND_WORD!] === k.PARTITIONS) {
        const job = {} as StreamJob;
        fields.forEach((name, i) => (job[name] = ctl[k.JOB! + i]!));
        partitions(ctl, k.NEXT_WORD!, conv!, exports.tile, job);
      } else if (ctl[k.KIND_WORD!] === k.IMAGES) {
        images(ctl, k.NEXT_WORD!, conv!, exports.gemm, new Int32Array(f32.buffer), [...ctl.subarray(k.JOB!, k.JOB! + 32)] as unknown as ImageJob, slot);
      } else if (ctl[k.KIND_WORD!] === k.DIRECT) {
        const job = [...ctl.subarray(k.JOB!, k.JOB! + 32)] as unknown as DirectJob;
        let ex = directModules.get(job[0]);
        if (!ex) {
          const bytes = new Uint8Array(memory.buffer, job[1], job[2]).slice();
          ex = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports as unknown as DirectExports;
          directModules.set(job[0], ex);
        }
        direct(ctl, k.NEXT_WORD!, ex, job);
      } else blocks(ctl, f32, new Int32Array(f32.buffer), exports, conv, k.JOB!, k.NEXT_WORD!);
      Atomics.store(ctl, state, k.DONE!);
      Atomics.notify(ctl, state); // a main thread that gave up polling sleeps on it
      const done = performance.now();
      pollUntil = done < contendedUntil ? 0 : done + spinMs;
      polled = 0;
    }
  });
}

/**
 * Claim blocks of the job in the control area (from word `job`, laid out as JOB_ARGS) until
 * none is left: for each, pack its B slivers if the job leaves them to the threads, then
 * multiply them. Returns how many blocks this thread computed. Run by the main thread and by
 * every worker (as source text: it may use nothing outside itself).
 */
function runBlocks(ctl: Int32Array, f32: Float32Array, i32: Int32Array, x: GemmExports, conv: ConvExports | undefined, job: number, next: number): number {
  const [K, KC, a, b, c, mTiles, nTiles, chunk, mcTiles, nr, E] = ctl.subarray(job, job + 11) as unknown as number[];
  const [kind, slivers, columns, image, lineBytes, stepBytes, strideBytes, data, lines, steps] = ctl.subarray(job + 11, job + 21) as unknown as number[];
  const packer = kind === 1 ? x.packCopyB! : x.packTransposeB!;
  let blocks = 0;
  for (let n0 = Atomics.add(ctl, next, 1) * chunk!; n0 < nTiles!; n0 = Atomics.add(ctl, next, 1) * chunk!, blocks++) {
    const n1 = Math.min(nTiles!, n0 + chunk!);
    const packed = Math.min(n1, slivers!);
    for (let pc = 0; kind !== 0 && pc < K!; pc += KC!) {
      const kc = Math.min(KC!, K! - pc);
      if (kind === 4) {
        // The convolution module's table packer: the block's whole slivers of this K block at once.
        if (packed > n0) conv!.packTableB(b! + E! * (pc * nTiles! * nr! + n0 * kc * nr!), image!, lines! + 4 * n0 * nr!, steps! + 4 * pc, kc, packed - n0);
        continue;
      }
      for (let s = n0; s < packed; s++) {
        // Sliver s of K block pc (gemm-module.ts's layout), as byte and float addresses.
        const dst = b! + E! * (pc * nTiles! * nr! + s * kc * nr!);
        if (kind !== 3) {
          packer(dst, image! + s * nr! * lineBytes! + pc * stepBytes!, strideBytes!, kc);
          continue;
        }
        const count = Math.min(nr!, columns! - s * nr!);
        const l = lines! + s * nr!;
        let d = dst >> 2;
        if (count === 8) {
          // NOTE: the 8 line offsets in locals, as gemm.ts's pack8: one table read per step.
          const l0 = data! + i32[l]!, l1 = data! + i32[l + 1]!, l2 = data! + i32[l + 2]!, l3 = data! + i32[l + 3]!;
          const l4 = data! + i32[l + 4]!, l5 = data! + i32[l + 5]!, l6 = data! + i32[l + 6]!, l7 = data! + i32[l + 7]!;
          for (let p = pc; p < pc + kc; p++, d += 8) {
            const st = i32[steps! + p]!;
            f32[d] = f32[l0 + st]!;
            f32[d + 1] = f32[l1 + st]!;
            f32[d + 2] = f32[l2 + st]!;
            f32[d + 3] = f32[l3 + st]!;
            f32[d + 4] = f32[l4 + st]!;
            f32[d + 5] = f32[l5 + st]!;
            f32[d + 6] = f32[l6 + st]!;
            f32[d + 7] = f32[l7 + st]!;
          }
          continue;
        }
        for (let p = pc; p < pc + kc; p++, d += nr!) {
          const st = data! + i32[steps! + p]!;
          for (let r = 0; r < nr!; r++) f32[d + r] = r < count ? f32[st + i32[l + r]!]! : 0;
        }
      }
    }
    x.gemm(K!, KC!, a!, b!, c!, mTiles!, nTiles!, n0, n1, mcTiles!);
  }
  return blocks;
}

const CONTROL_WORDS = (MAX_WORKERS + 1 + FIRST_SLOT) * SLOT_WORDS;
const LAYOUT = JSON.stringify({ PREEMPTED_MS, CONTENDED_MS, WOKEN_POLL_MS, CONTROL_WORDS, SLOT_WORDS, FIRST_SLOT, STATE, ASLEEP, JOB, NEXT_WORD, KIND_WORD, PARTITIONS, IMAGES, DIRECT, READY_WORD, POSTED, TAKEN, DONE, EXIT });
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
const NODE_WORKER_SOURCE = `(${workerMain.toString()})((${nodeReceive.toString()})(globalThis), ${LAYOUT}, ${runBlocks.toString()}, ${streamPartitions.toString()}, ${JSON.stringify(STREAM_JOB_FIELDS)}, ${inputGradientBlocks.toString()}, ${directBlocks.toString()});`;
/** Browser: a classic script; the start data is the first message (the worker then blocks in Atomics.wait). */
const BROWSER_WORKER_SOURCE = `(${workerMain.toString()})((start) => self.addEventListener('message', (e) => start(e.data), { once: true }), ${LAYOUT}, ${runBlocks.toString()}, ${streamPartitions.toString()}, ${JSON.stringify(STREAM_JOB_FIELDS)}, ${inputGradientBlocks.toString()}, ${directBlocks.toString()});`;

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
  /** Per worker (index w − 1): when the first of the jobs it has not taken in a row was posted, or null. */
  missedSince: (number | null)[];
  /** No product is split before this time (performance.now()), after a stall; 0: none. */
  backoffUntil: number;
  /** How long the next backoff stops splitting (see STALL_SCORE). */
  backoffMs: number;
  /** Recent stalls, decayed (see STALL_SCORE). */
  stallScore: number;
}

/** Atomics.waitAsync (ES2024; in Node since 16), typed here because the project targets ES2022. */
interface AtomicsWaitAsync {
  waitAsync(array: Int32Array, index: number, value: number, timeoutMs: number): { value: Promise<'ok' | 'timed-out'> | 'not-equal' | 'timed-out' };
}

let pool: Pool | null = null;
let warned = false;
/**
 * The threads the last `setWasmThreads` that could start them asked for, and on which runtime
 * (null: one thread). A streamed product's K partitions follow it, not the pool's state, so
 * that its bits do not depend on when the workers came up, nor on a worker that hung.
 */
let requested: { threads: number; rt: WasmRuntime } | null = null;

/**
 * The thread count the wasm backend's results follow: that of the last `setWasmThreads` (or
 * GRADSCOPE_THREADS) that could start threads, from the call on; 1 by default. A convolution's
 * weight gradient deep enough to stream is summed in K partitions, four per thread, and a direct
 * one (split-convs.ts) in as many partitions of the batch, so their bits depend on this number
 * (record it beside results meant to be reproduced bit for bit); every other product is the
 * same on any number of threads.
 * @example await setWasmThreads(2); requestedWasmThreads(); // 2
 */
export function requestedWasmThreads(): number {
  return requested?.threads ?? 1;
}

/** How many threads products run on (1: the main thread alone). */
export function wasmThreads(): number {
  return pool?.ready ? pool.workers.length + 1 : 1;
}

function shutDown(p: Pool): void {
  for (let w = 1; w <= p.workers.length; w++) {
    Atomics.store(p.ctl, slotAt(w) + STATE, EXIT);
    Atomics.notify(p.ctl, slotAt(w) + STATE);
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
  requested = null;
  if (threads === 1) return;
  installProductRunner(threadedRunner);
  const runtime = rt ?? wasmRuntime();
  const spawn = threadPlatform();
  if (typeof spawn === 'string') throw new ValueError(`setWasmThreads: ${spawn}`);
  if (!runtime.shared) throw new ValueError('setWasmThreads: threads need a shared WebAssembly.Memory (SharedArrayBuffer), which this platform does not allow');
  // From here on (synchronously, before any product can run) streamed products are cut for
  // `threads`, whenever the workers come up and even if they fail to.
  requested = { threads, rt: runtime };
  const ctl = new Int32Array(runtime.memory.buffer, 0, CONTROL_WORDS);
  ctl.fill(0);
  const tile = runtime.tile;
  const convModule = new WebAssembly.Module(convModuleBytes(tile.dtype ?? 'float32', tile.mr, tile.nv * lanesOf(tile).lanes, runtime.shared));
  const p: Pool = { rt: runtime, workers: [], ctl, timeoutMs: options.timeoutMs ?? 2000, warn: options.warn ?? ((m) => console.warn(m)), ready: false, missedSince: [], backoffUntil: 0, backoffMs: MIN_BACKOFF_MS, stallScore: 0 };
  pool = p;
  let reject!: (error: Error) => void;
  const failed = new Promise<never>((_, r) => (reject = r));
  const spawnWorkers = (startStallMs: number) => {
    for (let slot = 1; slot < threads; slot++) {
      const data: WorkerData = { module: runtime.module, convModule, memory: runtime.memory, slot, stallMs: options.stallMs ?? 0, startStallMs, spinMs: options.spinMs ?? SPIN_MS };
      p.workers.push(spawn(data, (message) => reject(new ValueError(`setWasmThreads: a worker failed: ${message}`))));
      p.missedSince.push(null);
    }
  };
  spawnWorkers(options.startStallMs ?? 0);
  // Wait for the workers to count themselves ready, without blocking the event loop; replace
  // them once if they are not ready within START_RETRY_MS (the file comment's NOTE).
  const ready = (async () => {
    let replaced = false;
    for (;;) {
      const count = Atomics.load(ctl, READY_WORD);
      if (count >= threads - 1) return;
      const waited = (Atomics as unknown as AtomicsWaitAsync).waitAsync(ctl, READY_WORD, count, replaced ? p.timeoutMs * 5 : START_RETRY_MS);
      if ((await waited.value) !== 'timed-out') continue;
      if (replaced) throw new ValueError(`setWasmThreads: workers did not start within ${START_RETRY_MS} ms, nor others within ${p.timeoutMs * 5} ms`);
      replaced = true;
      p.warn(`gradscope: ${threads - 1 - Atomics.load(ctl, READY_WORD)} of ${threads - 1} wasm worker threads did not start within ${START_RETRY_MS} ms; starting fresh ones`);
      for (const worker of p.workers) worker.terminate();
      p.workers.length = 0;
      p.missedSince.length = 0;
      Atomics.store(ctl, READY_WORD, 0);
      spawnWorkers(0);
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
 * When and how finely a product is split. NOTE: exported so that the micro-benchmark can sweep
 * them (bench/micro/wasm-threads.mjs); the values are its crossovers on the reference machine.
 */
export const splitting = {
  /**
   * Work (multiply-adds, B packing included: see `packWeight`) each thread must get for a
   * split to pay when the workers are awake (polling): below it the hand-off and the worker
   * reading operands packed in the other core's cache cost more than it saves (products of
   * 0.25–2 Mi multiply-adds ran at 0.8–1.1× on two threads, 3.75 Mi at 1.1–1.2×, 8 Mi at 1.8×).
   */
  minMacsPerThread: 1 << 19,
  /**
   * The same when a worker sleeps: it must first wake up (20–400 µs, not all of it hidden
   * behind the packing), and a product that takes the main thread little longer than that waits
   * for the late worker's block at the end: with 3 ms of other work between products, split
   * products of up to 8 Mi multiply-adds ran at 0.4–0.9× one thread, 24.5 Mi at 1.4×.
   */
  minMacsPerThreadAsleep: 1 << 23,
  /**
   * Multiply-adds one number of B counts for, since the threads of a split product also pack B
   * (a packed number costs about as much as 4–30 multiply-adds of the micro-kernel: SIMD
   * copies for a matmul, table lookups for a convolution's im2col panels).
   */
  packWeight: 8,
  /**
   * B slivers (NR columns of C each) in a block, at least; blocks start at multiples of it, so
   * that no two threads write one 64-byte line of a row of C (a float32 sliver row is 32 bytes).
   */
  unit: 2,
  /**
   * Blocks per thread: enough that a late thread leaves the rest to the others and costs at
   * most a small block at the end, few enough that each block streams packed A through the
   * cache once for many columns.
   */
  blocksPerThread: 6,
  /**
   * K partitions per thread of a streamed product (conv.ts), which the threads claim: more
   * than one, so that a thread that comes late (woken from sleep, preempted) leaves the rest
   * of its share to the others instead of making them wait (with one partition per thread,
   * LeNet-5's first weight gradient ran at 1.0× or 1.8× one thread from one run to the next).
   */
  partitionsPerThread: 4,
  /** Testing: cut every streamed product into this many K partitions, threads or not (0: as above). */
  partitions: 0,
};

/** How a product is split: the threads that take part (1: not split) and the B slivers per block. */
export interface SplitPlan {
  /** Threads that take part, the main thread included (1: the product runs on one thread). */
  threads: number;
  /** B slivers per claimed block (a multiple of `splitting.unit`, or all of them on one thread). */
  chunk: number;
}

/**
 * How a product of `mTiles` × `nTiles` register tiles (`tile.mr` × `tile.nr` numbers each) over
 * `K` steps is split over at most `threads` threads: not at all if a thread would get less
 * work than `splitting.minMacsPerThread` (`minMacsPerThreadAsleep` unless the workers are
 * `awake`) or fewer than `splitting.unit` slivers; else into blocks of whole 64-byte-aligned
 * column ranges of C, about `splitting.blocksPerThread` per thread, which the threads claim.
 * @example splitPlan(32, 32, 256, 2, { mr: 4, nr: 8 }) // { threads: 2, chunk: 4 }: 8 blocks of 4 slivers
 */
export function splitPlan(mTiles: number, nTiles: number, K: number, threads: number, tile: { mr: number; nr: number }, awake = true): SplitPlan {
  const { minMacsPerThread, minMacsPerThreadAsleep, packWeight, unit, blocksPerThread } = splitting;
  const macs = mTiles * nTiles * K * tile.mr * tile.nr + packWeight * nTiles * K * tile.nr;
  const perThread = awake ? minMacsPerThread : minMacsPerThreadAsleep;
  const used = Math.max(1, Math.min(threads, Math.floor(macs / perThread), Math.floor(nTiles / unit)));
  if (used === 1) return { threads: 1, chunk: nTiles };
  return { threads: used, chunk: Math.max(unit, Math.ceil(nTiles / (used * blocksPerThread) / unit) * unit) };
}

/** The pool, if products of `rt` run on it now (not while it backs off after a stall). */
function poolFor(rt: WasmRuntime): Pool | null {
  const p = pool;
  return p && p.ready && p.rt === rt && (p.backoffUntil === 0 || performance.now() >= p.backoffUntil) ? p : null;
}

/** Whether every worker of `p` polls (none sleeps in Atomics.wait). */
function workersAwake(p: Pool): boolean {
  let awake = true;
  for (let w = 1; w <= p.workers.length && awake; w++) awake = Atomics.load(p.ctl, slotAt(w) + ASLEEP) === 0;
  return awake;
}

/** Wake the workers 1 … threads − 1 of `p` that sleep. */
function wake(p: Pool, threads: number): void {
  for (let w = 1; w < threads; w++) {
    if (Atomics.load(p.ctl, slotAt(w) + ASLEEP) === 1) Atomics.notify(p.ctl, slotAt(w) + STATE);
  }
}

/** The plan for a product on pool `p` now: the higher threshold if one of its workers sleeps. */
function planFor(p: Pool, rt: WasmRuntime, mTiles: number, nTiles: number, K: number): SplitPlan {
  return splitPlan(mTiles, nTiles, K, p.workers.length + 1, { mr: rt.tile.mr, nr: sliverWidth(rt) }, workersAwake(p));
}

/**
 * What the whole-op convolutions (split-convs.ts) use of the pool. A job of `macs` multiply-adds
 * is split when each thread gets `splitting.minMacsPerThread`, awake or not: a product's split
 * waits for a late worker's last block, but these blocks are a few images each, and a worker
 * still asleep when the main thread has claimed every block costs it only the post. The workers
 * are woken when the split is decided, so that their wake-up overlaps the staging.
 */
const wholeOps: WholeOpThreads = {
  threadsFor(rt, macs, blocks) {
    const p = poolFor(rt);
    if (!p) return 1;
    const threads = Math.max(1, Math.min(p.workers.length + 1, Math.floor(macs / splitting.minMacsPerThread), blocks));
    wake(p, threads);
    return threads;
  },
  run(rt, kind, job, compute, threads) {
    const live = poolFor(rt);
    if (!live || threads < 2) return false;
    const ctl = new Int32Array(rt.memory.buffer, 0, CONTROL_WORDS);
    ctl.set(job, JOB);
    ctl[KIND_WORD] = kind;
    runJob(live, Math.min(threads, live.workers.length + 1), ctl, () => compute(ctl, NEXT_WORD));
    return true;
  },
  partitions(rt) {
    const threads = requested?.rt === rt ? requested.threads : 1;
    return splitting.partitions || (threads > 1 ? splitting.partitionsPerThread * threads : 1);
  },
};

/** B columns per sliver (NR). */
const sliverWidth = (rt: WasmRuntime) => rt.tile.nv * lanesOf(rt.tile).lanes;

/**
 * The backend's GemmRunner: the main thread and the workers claim blocks of the product when a
 * pool is ready and the product is large enough (`splitPlan`), else one thread.
 */
export const threadedRunner: GemmRunner = Object.assign(
  (rt: WasmRuntime, call: GemmCall) => {
    const p = poolFor(rt);
    const plan = p ? planFor(p, rt, call.mTiles, call.nTiles, call.K) : null;
    if (!call.packB && (!p || !plan || plan.threads === 1)) {
      runOnOneThread(rt, call);
      return;
    }
    // The job, in the runtime's control area (also when a pool that stopped leaves the main
    // thread to pack B itself).
    const ctl = new Int32Array(rt.memory.buffer, 0, CONTROL_WORDS);
    const job: Record<(typeof JOB_ARGS)[number], number> = {
      ...call,
      chunk: plan?.chunk ?? call.nTiles,
      nr: sliverWidth(rt),
      bytes: rt.elementBytes,
      kind: 0, slivers: 0, columns: 0, image: 0, lineBytes: 0, stepBytes: 0, strideBytes: 0, data: 0, lines: 0, steps: 0,
      ...call.packB,
    };
    JOB_ARGS.forEach((name, i) => (ctl[JOB + i] = job[name]));
    ctl[KIND_WORD] = BLOCKS;
    const buffer = rt.memory.buffer;
    runJob(p, p && plan ? plan.threads : 1, ctl, () =>
      runBlocks(ctl, new Float32Array(buffer), new Int32Array(buffer), rt.exports, call.packB?.kind === 4 ? convExports(rt) : undefined, JOB, NEXT_WORD),
    );
  },
  {
    /** Threads a product of this size runs on now: see splitPlan. */
    threadsFor(rt: WasmRuntime, mTiles: number, nTiles: number, K: number): number {
      const p = poolFor(rt);
      return p ? planFor(p, rt, mTiles, nTiles, K).threads : 1;
    },
    /**
     * A convolution's streamed product (conv.ts) cut along K into `splitting.partitionsPerThread`
     * partitions per requested thread (`requestedWasmThreads`; or `splitting.partitions`, where
     * set), which the threads claim; false, and conv.ts streams it on this thread, when there are
     * not two partitions or their partial Cs do not fit. The count depends on the sizes and the
     * requested threads only — while the workers start, back off after a stall or have stopped,
     * the main thread computes every partition — never on timing, and so does the result.
     */
    stream(rt: WasmRuntime, p: Product, a: Operand, b: Operand): boolean {
      const threads = requested?.rt === rt ? requested.threads : 1;
      const E = rt.elementBytes;
      const aBlock = p.mTiles * p.MR * p.KC * E;
      const partialBytes = align64(p.mTiles * p.MR * p.ldc * E);
      // At most one partition per whole K block: each packs its blocks at its own place in the regions laid out for all of K.
      const partitions = Math.min(Math.floor(p.k / p.KC), splitting.partitions || (threads > 1 ? splitting.partitionsPerThread * threads : 1));
      // The partial Cs of partitions 1 … P − 1 go into packed A's region, after the P blocks of A.
      const partials = p.a + partitions * aBlock;
      if (partitions < 2 || partials + (partitions - 1) * partialBytes > p.a + p.mTiles * p.MR * p.k * E) return false;
      const job = streamJob(E, p, a, b, partitions, partials, partialBytes);
      const live = poolFor(rt);
      const ctl = new Int32Array(rt.memory.buffer, 0, CONTROL_WORDS);
      STREAM_JOB_FIELDS.forEach((name, i) => (ctl[JOB + i] = job[name]));
      ctl[KIND_WORD] = PARTITIONS;
      runJob(live, live ? Math.min(live.workers.length + 1, partitions) : 1, ctl, () => streamPartitions(ctl, NEXT_WORD, convExports(rt), rt.exports.tile, job));
      // The partial Cs onto C, in partition order.
      const mem = rt.elements();
      const size = p.mTiles * p.MR * p.ldc;
      for (let q = 1; q < partitions; q++) {
        const partial = (partials + (q - 1) * partialBytes) / E;
        for (let i = 0, c = p.c / E; i < size; i++) mem[c + i]! += mem[partial + i]!;
      }
      return true;
    },
    /** A convolution's input gradient in blocks of images on the threads (split-convs.ts). */
    inputGradient: (rt: WasmRuntime, gy: View, w: View, inputShape: Shape, geometry: Conv2dGeometry) => splitInputGradient(wholeOps, rt, gy, w, convDims(inputShape, w.shape, geometry)),
    /** A direct convolution in blocks of images on the threads, its weight gradient in partitions (split-convs.ts). */
    directConv: (rt: WasmRuntime, x: View, other: View, d: ConvDims, weightGradient: boolean) => splitDirectConv(wholeOps, rt, x, other, d, weightGradient),
    /** Before packing: wake the workers that sleep if this product will be split, so that their wake-up overlaps the packing. */
    prepare(rt: WasmRuntime, mTiles: number, nTiles: number, K: number): void {
      const p = poolFor(rt);
      // A convolution's streamed product is split along K (`stream`).
      const streamed = streams(mTiles, nTiles, rt.tile.mr, sliverWidth(rt), K, blockDepth(K), rt.elementBytes);
      if (p) wake(p, streamed ? p.workers.length + 1 : planFor(p, rt, mTiles, nTiles, K).threads);
    },
  },
);

/**
 * Run the job in the control area on `helpers` threads (1: the main thread alone): post it to
 * workers 1 … helpers − 1, `compute` the main thread's share, then take back the jobs not taken
 * and wait for the workers computing theirs; a stall backs splitting off, a hung worker stops
 * the threads.
 */
function runJob(p: Pool | null, helpers: number, ctl: Int32Array, compute: () => void): void {
  Atomics.store(ctl, NEXT_WORD, 0);
  const posted = performance.now();
  for (let w = 1; w < helpers; w++) post(p!, w);
  compute();
  if (helpers === 1) return;
  const computed = performance.now();
  let hung = false;
  for (let w = 1; w < helpers; w++) hung = finish(p!, w, posted) || hung;
  const waited = performance.now() - computed;
  // A stall: a worker held a block long after ours were done (preempted on a busy machine).
  // Once stalls come often (STALL_SCORE), split nothing for a while, longer each time, so
  // that a loaded machine costs a few such waits rather than one per product; a stray one
  // costs only itself.
  const stalled = waited > STALL_MS + STALL_FRACTION * (computed - posted);
  p!.stallScore = STALL_DECAY * p!.stallScore + (stalled ? 1 : 0);
  if (p!.stallScore >= STALL_SCORE) {
    p!.backoffUntil = computed + p!.backoffMs;
    p!.backoffMs = Math.min(MAX_BACKOFF_MS, 2 * p!.backoffMs);
    p!.stallScore = 0;
  } else if (!stalled) p!.backoffMs = Math.max(MIN_BACKOFF_MS, p!.backoffMs / 2);
  if (hung) {
    if (!warned) {
      warned = true;
      p!.warn(`gradscope: a wasm worker thread did not answer within ${p!.timeoutMs} ms; running on one thread from now on`);
    }
    shutDown(p!);
  }
}

/** Mark worker w's job POSTED (the job is in the control area), waking it if it sleeps. */
function post(p: Pool, w: number): void {
  const at = slotAt(w);
  Atomics.store(p.ctl, at + STATE, POSTED);
  if (Atomics.load(p.ctl, at + ASLEEP) === 1) Atomics.notify(p.ctl, at + STATE);
}

/**
 * Once no block is left: take back worker w's job if it has not taken it, else wait until it
 * is done. True if the worker has now missed its jobs for longer than the timeout (hung).
 */
function finish(p: Pool, w: number, posted: number): boolean {
  const at = slotAt(w) + STATE;
  if (Atomics.compareExchange(p.ctl, at, POSTED, CANCELLED) === POSTED) {
    // It never started: the other threads computed every block. Late, not necessarily hung.
    const since = (p.missedSince[w - 1] ??= posted);
    return performance.now() - since >= p.timeoutMs;
  }
  p.missedSince[w - 1] = null;
  const pollUntil = performance.now() + MAIN_SPIN_MS;
  for (;;) {
    const state = Atomics.load(p.ctl, at);
    if (state === DONE) break;
    // TAKEN: it is computing its last block. Poll a little, then sleep until its notify.
    if (performance.now() < pollUntil) continue;
    Atomics.wait(p.ctl, at, state, 100);
  }
  Atomics.store(p.ctl, at, IDLE);
  return false;
}

/** GRADSCOPE_THREADS=n starts n − 1 workers when the backend module loads (Node). */
export function startThreadsFromEnv(rt: () => WasmRuntime, warn: (message: string) => void = (m) => console.warn(m)): void {
  const value = readEnv('GRADSCOPE_THREADS');
  if (value === undefined || value === '1') return;
  const threads = Number(value);
  setWasmThreads(threads, {}, rt()).catch((error: unknown) => warn(`gradscope: GRADSCOPE_THREADS=${value}: ${(error as Error).message}`));
}
