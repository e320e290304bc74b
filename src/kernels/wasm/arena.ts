/**
 * WebAssembly memory for long-lived float32 arrays that kernels write in place again and
 * again — the B × P per-sample gradients a PerSampleWorkspace reuses call after call.
 *
 * Why: a WebAssembly kernel can only write its own memory. A result that lives in ordinary
 * JavaScript memory must be computed in the module's memory and then copied out, and for
 * per-sample gradients the copy costs more than computing them: 7.5 ms against 4.9 ms for the
 * 103 MB of outer products of a 784 → 256 layer at B = 128 (bench/micro/wasm-outer.mjs).
 * Arrays handed out by an arena are Float32Arrays over the arena's own memory, so the
 * outer-product kernel writes them directly.
 *
 * Each arena is its own shared WebAssembly.Memory (freed with the arena when nothing holds it
 * or its arrays), laid out as
 *
 *   [0, top)       the arrays handed out, one after another (64-byte aligned)
 *   [top, …)       staging for the current kernel call: its inputs, copied in contiguous
 *
 * It only grows: an array is never given back, which suits a workspace whose arrays are
 * requested in the same order and sizes on every call. A shared memory is required because
 * growing an ordinary one detaches its buffer and every array over it; where shared memories
 * are missing (a browser page that is not cross-origin isolated) there are no arenas and
 * callers use ordinary arrays.
 */
import type { DType, TypedArray } from '../../tensor/dtype.js';
import type { View } from '../../tensor/storage.js';
import type { Arena } from '../backend.js';
import { cpuBackend } from '../cpu/index.js';
import { outerModuleBytes, type OuterExports } from './outer-module.js';
import { MAXIMUM_PAGES, align64, createMemory, growTo, simdAvailable } from './runtime.js';

/** The outer-product module, compiled once for every arena. */
let outerModule: WebAssembly.Module | undefined;

/** Which arena each handed-out array lives in. */
const owners = new WeakMap<TypedArray, WasmArena>();

export class WasmArena implements Arena {
  private readonly kernels: OuterExports;
  /** Bytes taken by the arrays handed out so far. */
  private top = 0;

  private constructor(private readonly memory: WebAssembly.Memory) {
    outerModule ??= new WebAssembly.Module(outerModuleBytes({ initialPages: 1, maximumPages: MAXIMUM_PAGES, shared: true }));
    this.kernels = new WebAssembly.Instance(outerModule, { env: { memory } }).exports as unknown as OuterExports;
  }

  /**
   * A new arena, or undefined where WebAssembly SIMD or shared memories are missing or the
   * memory cannot be allocated (callers then use ordinary arrays).
   */
  static create(): WasmArena | undefined {
    if (!simdAvailable() || typeof SharedArrayBuffer !== 'function') return undefined;
    const memory = createMemory({ initial: 1, maximum: MAXIMUM_PAGES, shared: true });
    return memory ? new WasmArena(memory) : undefined;
  }

  /** The arena `array` lives in, if any. */
  static of(array: TypedArray): WasmArena | undefined {
    return owners.get(array);
  }

  /**
   * A zeroed float32 array of `size` numbers in this arena; undefined for other dtypes or when
   * it is full or cannot grow (the caller then allocates an ordinary array).
   */
  allocate(dtype: DType, size: number): Float32Array | undefined {
    if (dtype !== 'float32' || !growTo(this.memory, this.top + 4 * size)) return undefined;
    const array = new Float32Array(this.memory.buffer, this.top, size).fill(0); // staging may have used it
    this.top = align64(this.top + 4 * size);
    owners.set(array, this);
    return array;
  }

  /**
   * out[b, n, k] = g[b, n] · a[b, k] into `out`, an array of this arena: g [B, N] and a [B, K]
   * are float32 views (any strides), copied into the staging area first. False (and nothing
   * written) if the staging area does not fit or the memory cannot grow.
   */
  outerRows(g: View, a: View, out: Float32Array): boolean {
    const [B, N] = g.shape as [number, number];
    const K = a.shape[1]!;
    if (out.length !== B * N * K) return false;
    if (out.length === 0) return true;
    const gAt = this.top;
    const aAt = align64(gAt + 4 * B * N);
    if (!growTo(this.memory, aAt + 4 * B * K)) return false;
    const floats = new Float32Array(this.memory.buffer);
    cpuBackend.copyInto(g, { data: floats, offset: gAt / 4, shape: [B, N], strides: [N, 1] });
    cpuBackend.copyInto(a, { data: floats, offset: aAt / 4, shape: [B, K], strides: [K, 1] });
    this.kernels.outer(B, N, K, gAt, aAt, out.byteOffset);
    return true;
  }
}
