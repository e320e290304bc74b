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
import { gemmModuleBytes, lanesOf, relaxedSimdProbeBytes, simdProbeBytes, type GemmExports, type TileShape } from './gemm-module.js';

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
 * gradscope command sets for itself (src/cli/engine-flags.ts).
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

/** A shared memory if SharedArrayBuffer and shared WebAssembly memories work here, else null. */
function tryShared(initialPages: number): WebAssembly.Memory | null {
  if (typeof SharedArrayBuffer !== 'function') return null;
  try {
    return new WebAssembly.Memory({ initial: initialPages, maximum: MAXIMUM_PAGES, shared: true });
  } catch {
    return null;
  }
}

export class WasmRuntime {
  readonly memory: WebAssembly.Memory;
  readonly shared: boolean;
  /** The compiled GEMM module (workers instantiate it too). */
  readonly module: WebAssembly.Module;
  readonly exports: GemmExports;
  readonly tile: TileShape;
  /** Bytes per element of the tile's type (4 or 8). */
  readonly elementBytes: number;
  private view: FloatArray;

  constructor(tile: TileShape = defaultTile()) {
    const initialPages = 64; // 4 MiB to start with
    const shared = tryShared(initialPages);
    this.memory = shared ?? new WebAssembly.Memory({ initial: initialPages, maximum: MAXIMUM_PAGES });
    this.shared = shared !== null;
    this.tile = tile;
    this.elementBytes = lanesOf(tile).bytes;
    const bytes = gemmModuleBytes(tile, { initialPages, maximumPages: MAXIMUM_PAGES, shared: this.shared });
    this.module = new WebAssembly.Module(bytes);
    const instance = new WebAssembly.Instance(this.module, { env: { memory: this.memory } });
    this.exports = instance.exports as unknown as GemmExports;
    this.view = this.viewOf(this.memory.buffer);
  }

  /**
   * Make the memory at least `bytes` long. Returns false (and leaves it as it is) if that
   * would exceed MAXIMUM_PAGES.
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

/** Grow `memory` to at least `bytes`; false (and left as it is) if that would pass MAXIMUM_PAGES. */
export function growTo(memory: WebAssembly.Memory, bytes: number): boolean {
  const have = memory.buffer.byteLength;
  if (bytes <= have) return true;
  const pages = Math.ceil((bytes - have) / PAGE_BYTES);
  if (have / PAGE_BYTES + pages > MAXIMUM_PAGES) return false;
  memory.grow(pages);
  return true;
}

const runtimes: { float32?: WasmRuntime; float64?: WasmRuntime } = {};

/** The backend's runtime for float32 (or float64) products, created (and its module compiled) on first use. */
export function wasmRuntime(dtype: FloatDType = 'float32'): WasmRuntime {
  return (runtimes[dtype] ??= new WasmRuntime(defaultTile(dtype)));
}
