/**
 * The WebAssembly side of the backend, once per element type (float32, float64): a linear
 * memory, the GEMM module for that type compiled once, and its instance. Everything a kernel call needs lives in that memory, laid out per call:
 *
 *   [0, CONTROL_BYTES)    the control area through which the threads are signalled (threads.ts)
 *   [CONTROL_BYTES, …)    the packed operands and the result of the current call
 *
 * One kernel runs at a time (JavaScript is single-threaded and the Backend interface is
 * synchronous), so the second region is simply reused by every call and grown when a call
 * needs more; nothing is ever freed.
 *
 * The memory is shared (a SharedArrayBuffer) where the platform allows it, so that worker
 * threads can instantiate the same module over it; otherwise it is an ordinary memory and the
 * backend runs on one thread.
 */
import type { FloatArray, FloatDType } from '../../tensor/dtype.js';
import { AllocationError } from '../../tensor/errors.js';
import { ModuleBuilder, type FunctionBuilder } from './emitter.js';
import { gemmModuleBytes, lanesOf, relaxedSimdProbeBytes, simdProbeBytes, type GemmExports, type TileShape } from './gemm-module.js';

/** Bytes in one WebAssembly memory page (64 KiB), the unit memories are created and grown in. */
export const PAGE_BYTES = 65536;
/** Bytes reserved at address 0 for the thread control area. */
export const CONTROL_BYTES = 4096;
/**
 * At most 1 GiB (a 8192² float32 product needs 0.75 GiB); a call that would need more runs on
 * the pure-TypeScript backend instead. A shared memory must declare its maximum up front.
 */
export const MAXIMUM_PAGES = 16384;

/** `bytes` rounded up to a whole cache line: where each region of a memory starts. */
export const align64 = (bytes: number) => Math.ceil(bytes / 64) * 64;

/**
 * The register tile: 4 rows × 8 columns (two f32x4 per row; for float64 two f64x2, so 4 × 4),
 * 8 accumulators, one step of K per loop turn, with fused multiply-adds where the engine has
 * relaxed SIMD. Measured on the 1024³
 * product against 4×4, 4×12, 6×8, 8×8 and K unrolled by 2 and 4 (bench/micro/wasm-gemm.mjs
 * tiles, best of 3 interleaved rounds): 42–44 GFLOP/s for this one with mul + add, 50–52 with
 * FMA, 18–47 for the others either way.
 */
export function defaultTile(dtype: FloatDType = 'float32'): TileShape {
  return { mr: 4, nv: 2, fma: relaxedSimdAvailable(), dtype };
}

/** Whether this engine validates a module that uses 128-bit SIMD (cached). */
export const simdAvailable = validates(simdProbeBytes);

/**
 * Whether it also has relaxed SIMD (f32x4.relaxed_madd), cached after the first call: on in
 * Chromium ≥ 114 and Node ≥ 22; Node 20 needs --experimental-wasm-relaxed-simd, which the
 * gradscope command sets for itself (packages/lab/src/cli/engine-flags.ts).
 */
export const relaxedSimdAvailable = validates(relaxedSimdProbeBytes);

function validates(probe: () => Uint8Array<ArrayBuffer>): () => boolean {
  let answer: boolean | undefined;
  return () => {
    if (answer === undefined) {
      try {
        answer = typeof WebAssembly === 'object' && WebAssembly.validate(probe());
      } catch {
        answer = false;
      }
    }
    return answer;
  };
}

// ---- memory: the one place where WebAssembly memories are created and grown ---------------
//
// Creating or growing a memory fails when the engine cannot reserve the address space: V8
// reserves ≈ 10 GiB per memory on 64-bit hosts (guard regions), so under `ulimit -v` below that
// every `new WebAssembly.Memory` throws "RangeError: WebAssembly.Memory(): could not allocate
// memory"; grow() throws the same way when the host is out of memory. Every memory of this
// backend (the runtimes' and the arenas') is created by `createMemory` and grown by `growTo`,
// which turn that into null / false — the callers then run the pure-TypeScript kernels — and
// record the first failure for `wasmMemoryProblem()` (and currentBackendInfo's `note`).

/** How memories are created and grown; both throw (a RangeError) when the engine cannot. */
export interface MemoryAllocator {
  /** A new memory (`new WebAssembly.Memory(descriptor)` by default). */
  create(descriptor: WebAssembly.MemoryDescriptor): WebAssembly.Memory;
  /** Grow `memory` by `pages` pages of 64 KiB (`memory.grow(pages)` by default). */
  grow(memory: WebAssembly.Memory, pages: number): void;
}

const engineAllocator: MemoryAllocator = {
  create: (descriptor) => new WebAssembly.Memory(descriptor),
  grow: (memory, pages) => void memory.grow(pages),
};
let allocator: MemoryAllocator = engineAllocator;
let problem: string | null = null;
/** The latest failure (for the error of a runtime that cannot be created). */
let latest: string | null = null;
let warn: (message: string) => void = (message) => console.warn(message);

/**
 * Testing only: replace how memories are created and grown (to simulate an address-space limit
 * without one), and where the one-time warning goes; no arguments restore the engine's and
 * forget any failure recorded so far.
 */
export function setMemoryAllocator(replacement?: Partial<MemoryAllocator>, warnTo?: (message: string) => void): void {
  allocator = { ...engineAllocator, ...replacement };
  warn = warnTo ?? ((message) => console.warn(message));
  problem = latest = null;
}

/** The first failure to create or grow a memory, or null if there was none. */
export function wasmMemoryProblem(): string | null {
  return problem;
}

function failed(what: string, error: unknown): void {
  latest = `${what}: ${error instanceof Error ? error.message : String(error)}`;
  if (problem !== null) return;
  problem = latest;
  warn(`gradscope: wasm backend: ${problem}; products that need that memory run on the pure-TypeScript (cpu) kernels instead`);
}

/** A new memory, or null (the failure recorded) where the engine cannot allocate it. */
export function createMemory(descriptor: WebAssembly.MemoryDescriptor): WebAssembly.Memory | null {
  try {
    return allocator.create(descriptor);
  } catch (error) {
    failed(`could not create a WebAssembly.Memory of ${descriptor.initial * (PAGE_BYTES >> 10)} KiB`, error);
    return null;
  }
}

/**
 * Grow `memory` to at least `bytes`. False (and the memory left as it is) if that would pass
 * MAXIMUM_PAGES (1 GiB: a call that needs more is not this backend's), or if the engine
 * cannot grow it (the failure recorded).
 */
export function growTo(memory: WebAssembly.Memory, bytes: number): boolean {
  const have = memory.buffer.byteLength;
  if (bytes <= have) return true;
  const pages = Math.ceil((bytes - have) / PAGE_BYTES);
  if (have / PAGE_BYTES + pages > MAXIMUM_PAGES) return false;
  try {
    allocator.grow(memory, pages);
  } catch (error) {
    failed(`could not grow a WebAssembly.Memory from ${mib(have)} to ${mib(have + pages * PAGE_BYTES)}`, error);
    return false;
  }
  return true;
}

const mib = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MiB`;

const INITIAL_PAGES = 64; // 4 MiB to start with

/**
 * A runtime's memory: shared (a SharedArrayBuffer) if SharedArrayBuffer and shared WebAssembly
 * memories work here, else an ordinary one; null if neither can be had.
 */
function runtimeMemory(): { memory: WebAssembly.Memory; shared: boolean } | null {
  if (typeof SharedArrayBuffer === 'function') {
    try {
      // Not through createMemory: a platform without shared memories is not a failure.
      return { memory: allocator.create({ initial: INITIAL_PAGES, maximum: MAXIMUM_PAGES, shared: true }), shared: true };
    } catch {
      // an ordinary memory then
    }
  }
  const memory = createMemory({ initial: INITIAL_PAGES, maximum: MAXIMUM_PAGES });
  return memory && { memory, shared: false };
}

/** The memory `memoryUnavailableReason` created, kept for the first runtime. */
let spare: { memory: WebAssembly.Memory; shared: boolean } | null = null;

const noMemory = () => `no WebAssembly memory can be allocated here (${latest ?? 'unknown reason'})`;

/**
 * Why no WebAssembly memory can be had here, or null if one can (then it is kept for the
 * first runtime, so the check allocates nothing twice).
 */
export function memoryUnavailableReason(): string | null {
  spare ??= runtimeMemory();
  return spare ? null : noMemory();
}

/**
 * What the small kernel modules (elementwise, BatchNorm, pooling, sums, axpy) run on: a memory, where
 * a call's staging starts in it, and how to grow and view it. A runtime is one; the heap of
 * resident tensors (resident.ts) is another.
 */
export interface KernelMemory {
  /** The WebAssembly memory the kernels address. */
  readonly memory: WebAssembly.Memory;
  /** Whether `memory` is shared (backed by a SharedArrayBuffer). */
  readonly shared: boolean;
  /** Bytes per element of the memory's float type (4 or 8). */
  readonly elementBytes: number;
  /** The first byte a kernel call may stage its operands at. */
  readonly scratchBase: number;
  /** Make the memory at least `bytes` long; false if it cannot grow (see growTo). */
  reserve(bytes: number): boolean;
  /** A view of the whole memory in its float type; a new one after the memory grew. */
  elements(): FloatArray;
}

/** The memory of each resident array handed out and not given back (resident.ts). */
export const residents = new WeakMap<FloatArray, KernelMemory>();

/**
 * One element type's WebAssembly side: a linear memory (laid out as the file comment says), the
 * GEMM module compiled for its register tile, and an instance of it over that memory. The
 * backend keeps one per dtype (`wasmRuntime(dtype)`); `setWasmThreads` starts its workers on the
 * float32 one unless given another.
 */
export class WasmRuntime implements KernelMemory {
  /** Staging starts above the thread control area. */
  readonly scratchBase = CONTROL_BYTES;
  /** The linear memory holding the control area, the packed operands and the result; it only grows. */
  readonly memory: WebAssembly.Memory;
  /** Whether `memory` is shared (backed by a SharedArrayBuffer), which threads need. */
  readonly shared: boolean;
  /** The compiled GEMM module (workers instantiate it too). */
  readonly module: WebAssembly.Module;
  /** The main thread's instance of `module`: the micro-kernel, the GEMM loops and the packers. */
  readonly exports: GemmExports;
  /** The register tile (and element type) the module was compiled for. */
  readonly tile: TileShape;
  /** Bytes per element of the tile's type (4 or 8). */
  readonly elementBytes: number;
  private view: FloatArray;

  /** Throws an AllocationError where no memory can be had (see `tryWasmRuntime`). */
  constructor(tile: TileShape = defaultTile()) {
    const got = spare ?? runtimeMemory();
    spare = null;
    if (!got) throw new AllocationError(`wasmRuntime: ${noMemory()}`);
    this.memory = got.memory;
    this.shared = got.shared;
    this.tile = tile;
    this.elementBytes = lanesOf(tile).bytes;
    const bytes = gemmModuleBytes(tile, { initialPages: INITIAL_PAGES, maximumPages: MAXIMUM_PAGES, shared: this.shared });
    this.module = new WebAssembly.Module(bytes);
    const instance = new WebAssembly.Instance(this.module, { env: { memory: this.memory } });
    this.exports = instance.exports as unknown as GemmExports;
    this.view = this.viewOf(this.memory.buffer);
  }

  /**
   * Make the memory at least `bytes` long. Returns false (and leaves it as it is) if that
   * would exceed MAXIMUM_PAGES or the engine cannot grow it (see growTo).
   */
  reserve(bytes: number): boolean {
    return growTo(this.memory, bytes);
  }

  /** A Float32Array (or Float64Array, for a float64 tile) over the whole memory; a new one after the memory grew. */
  elements(): FloatArray {
    const buffer = this.memory.buffer;
    if (this.view.buffer !== buffer || this.view.byteLength !== buffer.byteLength) this.view = this.viewOf(buffer);
    return this.view;
  }

  private viewOf(buffer: ArrayBufferLike): FloatArray {
    return this.elementBytes === 8 ? new Float64Array(buffer) : new Float32Array(buffer);
  }
}

const runtimes: { float32?: WasmRuntime; float64?: WasmRuntime } = {};

/**
 * The backend's runtime for float32 (or float64) products, created (and its module compiled)
 * on first use. Throws an AllocationError where no memory can be had.
 */
export function wasmRuntime(dtype: FloatDType = 'float32'): WasmRuntime {
  return (runtimes[dtype] ??= new WasmRuntime(defaultTile(dtype)));
}

/**
 * The runtime, or null where its memory cannot be had (the failure recorded; the backend then
 * runs the call on the pure-TypeScript kernels, and tries again on the next one).
 */
export function tryWasmRuntime(dtype: FloatDType): WasmRuntime | null {
  const rt = runtimes[dtype];
  if (rt) return rt;
  try {
    return wasmRuntime(dtype);
  } catch (error) {
    if (error instanceof AllocationError) return null;
    throw error;
  }
}

/**
 * `exports` of a small kernel module over `rt`'s memory, compiled and instantiated on the first
 * call for that memory and kept in `cache` (one WeakMap per module): the functions `emit`
 * returns, each exported under its name.
 */
export function kernelModule<T>(cache: WeakMap<KernelMemory, T>, rt: KernelMemory, emit: () => FunctionBuilder[]): T {
  let exports = cache.get(rt);
  if (!exports) {
    const module = new ModuleBuilder({ initialPages: 1, maximumPages: MAXIMUM_PAGES, shared: rt.shared });
    for (const fn of emit()) module.add(fn);
    exports = new WebAssembly.Instance(new WebAssembly.Module(module.build()), { env: { memory: rt.memory } }).exports as unknown as T;
    cache.set(rt, exports);
  }
  return exports;
}
