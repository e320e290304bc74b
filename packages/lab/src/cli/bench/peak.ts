/**
 * The machine's WebAssembly SIMD limit, measured in the same run as the model rows: the
 * `peak-simd128` rows time an emitted kernel of independent multiply-add chains, on one thread
 * and on two worker threads at once, and every other row is reported as a percentage of it.
 *
 * The kernel keeps `accumulators` f32x4 registers and updates each once per loop iteration,
 * acc ← acc·a + b, so the chains never wait on one another. An FMA has a latency of about
 * 4 cycles and Zen 5 issues two 128-bit FMAs a cycle, so 8 chains cover the latency; 12 leave
 * room and still fit in the 16 xmm registers with `a` and `b` (V8 keeps one for scratch).
 * With relaxed SIMD the update is one f32x4.relaxed_madd (a fused multiply-add on x64 with
 * FMA3); without it, f32x4.mul then f32x4.add. Either way it is 2 FLOPs per lane, so one
 * iteration is accumulators × 4 lanes × 2 FLOPs. The fixed point of acc·a + b with
 * a = 0.9999, b = 1e-4 is 1, so the values never overflow or turn subnormal (which would be
 * slow on some CPUs and measure the wrong thing).
 *
 * The module is emitted here, byte by byte, so the bench depends on no engine internals: the
 * engine's own emitter (src/kernels/wasm/emitter.ts) is not part of its public API.
 */
import { Worker } from 'node:worker_threads';
import type { PeakRow } from './rows.js';
import type { Runnable } from './runnable.js';

// ---------------------------------------------------------------------------------------------
// A minimal emitter: one function `peak(iterations: i32) -> f32`, no memory, no imports.
// Opcodes from the WebAssembly core spec (§5.4) and the SIMD / relaxed-SIMD proposals.

const OP = {
  loop: 0x03,
  end: 0x0b,
  brIf: 0x0d,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  i32Const: 0x41,
  f32Const: 0x43,
  i32Sub: 0x6b,
  /** The prefix of every 128-bit SIMD instruction; its opcode follows as unsigned LEB128. */
  simd: 0xfd,
} as const;

const SIMD = {
  f32x4Splat: 0x13,
  f32x4ExtractLane: 0x1f,
  f32x4Add: 0xe4,
  f32x4Mul: 0xe6,
  f32x4RelaxedMadd: 0x105,
} as const;

const TYPE = { i32: 0x7f, f32: 0x7d, v128: 0x7b, func: 0x60, emptyBlock: 0x40 } as const;
const SECTION = { type: 1, function: 3, export: 7, code: 10 } as const;

/** Unsigned LEB128 (sizes, indices, SIMD opcodes). */
function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/** A vector: its length, then its items. */
const vec = (items: readonly number[][]) => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: readonly number[]) => [id, ...uleb(body.length), ...body];
const simd = (opcode: number, ...immediates: number[]) => [OP.simd, ...uleb(opcode), ...immediates];
const f32Const = (x: number) => [OP.f32Const, ...new Uint8Array(new Float32Array([x]).buffer)];
const splat = (x: number) => [...f32Const(x), ...simd(SIMD.f32x4Splat)];

export interface PeakKernel {
  /** f32x4.relaxed_madd (one fused multiply-add) or f32x4.mul then f32x4.add. */
  fma: boolean;
  /** Independent f32x4 chains. */
  accumulators: number;
}

/** The kernel's name as the table prints it (the implementation column of the peak rows). */
export function peakKernelName(fma: boolean): string {
  return fma ? 'f32x4.relaxed_madd' : 'f32x4.mul+add';
}

/** FLOPs of one call `peak(iterations)`: every chain does one multiply and one add on 4 lanes. */
export function peakCallFlops(iterations: number, accumulators: number): number {
  return iterations * accumulators * 4 * 2;
}

/** The module bytes of the kernel: exports `peak(iterations) -> f32` (iterations ≥ 1). */
export function peakModuleBytes({ fma, accumulators }: PeakKernel): Uint8Array<ArrayBuffer> {
  // Locals: 0 is the parameter (iterations left), 1…accumulators the chains, then a and b.
  const n = 0;
  const acc = (i: number) => 1 + i;
  const a = 1 + accumulators;
  const b = 2 + accumulators;

  // Local indices are LEB128 too (one byte below 128).
  const get = (index: number) => [OP.localGet, ...uleb(index)];
  const set = (index: number) => [OP.localSet, ...uleb(index)];

  const code: number[] = [];
  code.push(...splat(0.9999), ...set(a));
  code.push(...splat(1e-4), ...set(b));
  for (let i = 0; i < accumulators; i++) code.push(...splat(0.5 + i / 64), ...set(acc(i)));

  code.push(OP.loop, TYPE.emptyBlock);
  for (let i = 0; i < accumulators; i++) {
    code.push(...get(acc(i)), ...get(a));
    // relaxed_madd(x, y, z) = x·y + z; without it, the same in two instructions.
    if (fma) code.push(...get(b), ...simd(SIMD.f32x4RelaxedMadd));
    else code.push(...simd(SIMD.f32x4Mul), ...get(b), ...simd(SIMD.f32x4Add));
    code.push(...set(acc(i)));
  }
  // iterations -= 1; loop again while it is not zero.
  code.push(...get(n), OP.i32Const, 1, OP.i32Sub, OP.localTee, ...uleb(n), OP.brIf, 0, OP.end);

  // Return lane 0 of the sum of the chains, so that no chain is dead code.
  code.push(...get(acc(0)));
  for (let i = 1; i < accumulators; i++) code.push(...get(acc(i)), ...simd(SIMD.f32x4Add));
  code.push(...simd(SIMD.f32x4ExtractLane, 0), OP.end);

  const locals = vec([[...uleb(accumulators + 2), TYPE.v128]]);
  const body = [...locals, ...code];
  const name = [...new TextEncoder().encode('peak')];
  const bytes = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00], // "\0asm", version 1
    ...section(SECTION.type, vec([[TYPE.func, ...vec([[TYPE.i32]]), ...vec([[TYPE.f32]])]])),
    ...section(SECTION.function, vec([uleb(0)])),
    ...section(SECTION.export, vec([[...uleb(name.length), ...name, 0x00, ...uleb(0)]])),
    ...section(SECTION.code, vec([[...uleb(body.length), ...body]])),
  ];
  return new Uint8Array(bytes);
}

/** Whether this engine validates the relaxed-SIMD kernel (relaxed SIMD on, natively or by flag). */
export function peakFmaAvailable(accumulators = 12): boolean {
  return typeof WebAssembly === 'object' && WebAssembly.validate(peakModuleBytes({ fma: true, accumulators }));
}

/** Whether this engine validates the mul+add kernel (128-bit SIMD at all). */
export function peakSimdAvailable(accumulators = 12): boolean {
  return typeof WebAssembly === 'object' && WebAssembly.validate(peakModuleBytes({ fma: false, accumulators }));
}

type PeakFn = (iterations: number) => number;

function instantiate(bytes: Uint8Array<ArrayBuffer>): PeakFn {
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes));
  return instance.exports.peak as PeakFn;
}

// ---------------------------------------------------------------------------------------------
// The runnables: one thread (this one), or N worker threads started together.

/** What a peak row runs: its kernel and a runnable (two-thread rows start their workers first). */
export interface PeakRunnable extends Runnable {
  kernel: string;
}

let sink = 0;

/**
 * The worker's body (a classic script, run with `eval: true` so the bench needs no separate
 * file): compile the kernel, say 'ready', then run it once per generation posted in the shared
 * control words, counting itself done. Generation −1 means exit.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { bytes, control, iterations } = workerData;
const GENERATION = 0, DONE = 1;
const peak = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports.peak;
let seen = Atomics.load(control, GENERATION);
let sink = 0;
parentPort.postMessage('ready');
for (;;) {
  Atomics.wait(control, GENERATION, seen);
  const generation = Atomics.load(control, GENERATION);
  if (generation < 0) break;
  if (generation === seen) continue;
  seen = generation;
  sink += peak(iterations);
  Atomics.add(control, DONE, 1);
  Atomics.notify(control, DONE);
}
parentPort.postMessage(sink);
`;

const GENERATION = 0;
const DONE = 1;
/** A thread that takes longer than this to finish one run has hung: fail the row, do not hang the bench. */
const RUN_TIMEOUT_MS = 60_000;

/**
 * `threads` workers running the kernel at the same moment. A timed run posts a new
 * generation, wakes them all, and waits (Atomics.wait, synchronously, like the engine's own
 * threads) until every one has finished: the time of the slowest thread.
 */
async function threadedRunnable(bytes: Uint8Array<ArrayBuffer>, row: PeakRow): Promise<Runnable> {
  const control = new Int32Array(new SharedArrayBuffer(8));
  const workers = Array.from({ length: row.threads }, () => new Worker(WORKER_SOURCE, { eval: true, workerData: { bytes, control, iterations: row.iterations } }));
  try {
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve, reject) => {
            w.once('message', () => resolve());
            w.once('error', reject);
            w.once('exit', (code) => reject(new Error(`a peak worker exited with code ${code} before it was ready`)));
          }),
      ),
    );
  } catch (error) {
    await Promise.all(workers.map((w) => w.terminate()));
    throw error;
  }
  for (const w of workers) w.removeAllListeners();
  return {
    run: () => {
      Atomics.store(control, DONE, 0);
      Atomics.add(control, GENERATION, 1);
      Atomics.notify(control, GENERATION);
      for (;;) {
        const done = Atomics.load(control, DONE);
        if (done >= row.threads) break;
        if (Atomics.wait(control, DONE, done, RUN_TIMEOUT_MS) === 'timed-out') throw new Error(`a peak worker did not finish within ${RUN_TIMEOUT_MS / 1000} s`);
      }
    },
    dispose: () => {
      Atomics.store(control, GENERATION, -1);
      Atomics.notify(control, GENERATION);
      // The workers exit on their own; unref so a slow exit never holds the process open.
      for (const w of workers) w.unref();
    },
  };
}

/**
 * The runnable of a peak row: the relaxed-SIMD kernel where this engine validates it, the
 * mul+add kernel otherwise (`kernel` says which).
 */
export async function peakRunnable(row: PeakRow): Promise<PeakRunnable> {
  const fma = peakFmaAvailable(row.accumulators);
  const bytes = peakModuleBytes({ fma, accumulators: row.accumulators });
  const kernel = peakKernelName(fma);
  if (row.threads === 1) {
    const peak = instantiate(bytes);
    return { kernel, run: () => void (sink += peak(row.iterations)), dispose: () => {} };
  }
  return { kernel, ...(await threadedRunnable(bytes, row)) };
}

/** Keeps the one-thread results observable (see timing.ts's sink). */
export function peakSinkValue(): number {
  return sink;
}

/**
 * What the kernel computes, in JavaScript, for tests: float32 rounding after the multiply and
 * after the add, or (fma) once after both — a float32 product is exact in a double, so only
 * the double sum's rounding stands between this and a true fused multiply-add.
 */
export function peakReference(iterations: number, accumulators: number, fma = false): number {
  const a = Math.fround(0.9999);
  const b = Math.fround(1e-4);
  let sum = 0;
  for (let i = 0; i < accumulators; i++) {
    let acc = Math.fround(0.5 + i / 64);
    for (let k = 0; k < iterations; k++) acc = fma ? Math.fround(acc * a + b) : Math.fround(Math.fround(acc * a) + b);
    sum = Math.fround(sum + acc);
  }
  return sum;
}

/** Run the kernel once on this thread (tests: the emitted module computes what it should). */
export function runPeakOnce(kernel: PeakKernel, iterations: number): number {
  return instantiate(peakModuleBytes(kernel))(iterations);
}
