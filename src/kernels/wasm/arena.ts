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
 * An arena is one or more shared WebAssembly.Memory segments (freed with the arena when nothing
 * holds it or its arrays), each laid out as
 *
 *   [0, top)       the arrays handed out, one after another (64-byte aligned)
 *   [top, …)       staging for the current kernel call: its inputs, copied in contiguous
 *
 * A memory holds at most 1 GiB (MAXIMUM_PAGES), and the B × P per-sample gradients of a
 * 784-256-256-10 MLP pass that at B = 1024 (1.1 GB). Once an array does not fit in the current
 * segment, the arena starts a new one for it: before that, the 822 MB of the first layer went to
 * an ordinary array and the pure-TypeScript outer products, 210 ms of a 268 ms call against
 * ≈ 55 ms in WebAssembly memory (per-sample gradients 5.7× a gradient instead of 2×). An
 * array is never split between segments, and each segment keeps STAGING_RESERVE bytes free
 * above its arrays, through which `outerRows` stages its inputs a block of samples at a time.
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
import { MAXIMUM_PAGES, PAGE_BYTES, align64, createMemory, growTo, simdAvailable } from './runtime.js';

/** The outer-product module, compiled once for every arena. */
let outerModule: WebAssembly.Module | undefined;

/**
 * Bytes at the top of every segment that arrays never take: room to stage the inputs of
 * `outerRows` (g and a, B·(N + K) floats, a block of samples at a time when all B do not fit).
 */
export const STAGING_RESERVE = 1 << 20;

/** Bytes one segment may hold (the memory's maximum) and the staging room kept free in it, unless a test changed them. */
let segmentBytes = MAXIMUM_PAGES * PAGE_BYTES;
let stagingReserve = STAGING_RESERVE;

/**
 * Testing only: the most bytes an arena puts in one segment and the staging room it keeps free
 * in each (defaults, and with no arguments: the memory maximum of 1 GiB and STAGING_RESERVE),
 * so that a test can pass the limits with small arrays.
 */
export function setArenaLimits(bytes = MAXIMUM_PAGES * PAGE_BYTES, reserve = STAGING_RESERVE): void {
  segmentBytes = Math.min(bytes, MAXIMUM_PAGES * PAGE_BYTES);
  stagingReserve = reserve;
}

/** One memory of an arena and its instance of the outer-product module. */
interface Segment {
  readonly memory: WebAssembly.Memory;
  readonly kernels: OuterExports;
  /** Bytes taken by the arrays handed out from it so far. */
  top: number;
}

/** A new segment, or undefined where the memory cannot be allocated (the failure recorded). */
function createSegment(): Segment | undefined {
  const memory = createMemory({ initial: 1, maximum: MAXIMUM_PAGES, shared: true });
  if (!memory) return undefined;
  outerModule ??= new WebAssembly.Module(outerModuleBytes({ initialPages: 1, maximumPages: MAXIMUM_PAGES, shared: true }));
  const kernels = new WebAssembly.Instance(outerModule, { env: { memory } }).exports as unknown as OuterExports;
  return { memory, kernels, top: 0 };
}

/** Which arena, and which of its segments, each handed-out array lives in. */
const owners = new WeakMap<TypedArray, { arena: WasmArena; segment: Segment }>();

/** Long-lived float32 arrays in WebAssembly memory, and the outer products written into them (see the file comment). */
export class WasmArena implements Arena {
  /** The segments, the one arrays are taken from last. */
  private readonly segments: Segment[];

  private constructor(first: Segment) {
    this.segments = [first];
  }

  /**
   * A new arena, or undefined where WebAssembly SIMD or shared memories are missing or the
   * memory cannot be allocated (callers then use ordinary arrays).
   */
  static create(): WasmArena | undefined {
    if (!simdAvailable() || typeof SharedArrayBuffer !== 'function') return undefined;
    const first = createSegment();
    return first ? new WasmArena(first) : undefined;
  }

  /** The arena `array` lives in, if any. */
  static of(array: TypedArray): WasmArena | undefined {
    return owners.get(array)?.arena;
  }

  /** How many memories the arena has taken so far (a new one each time an array does not fit the last). */
  get segmentCount(): number {
    return this.segments.length;
  }

  /**
   * A zeroed float32 array of `size` numbers in this arena; undefined for other dtypes, for an
   * array larger than a segment, or when no memory can be had (the caller then allocates an
   * ordinary array).
   */
  allocate(dtype: DType, size: number): Float32Array | undefined {
    const bytes = 4 * size;
    if (dtype !== 'float32' || bytes + stagingReserve > segmentBytes) return undefined;
    let segment = this.segments.at(-1)!;
    if (segment.top + bytes + stagingReserve > segmentBytes) {
      // Past this segment's limit: the array starts a new one (an engine that cannot grow the
      // current one is not helped by another, so that case returns undefined below).
      const next = createSegment();
      if (!next) return undefined;
      this.segments.push(next);
      segment = next;
    }
    if (!growTo(segment.memory, segment.top + bytes)) return undefined;
    const array = new Float32Array(segment.memory.buffer, segment.top, size).fill(0); // staging may have used it
    segment.top = align64(segment.top + bytes);
    owners.set(array, { arena: this, segment });
    return array;
  }

  /**
   * out[b, n, k] = g[b, n] · a[b, k] into `out`, an array of this arena: g [B, N] and a [B, K]
   * are float32 views (any strides), copied into the staging area above the arrays of out's
   * segment first, all B samples at once or a block of them at a time. False (and nothing
   * written) if out is not this arena's array of B·N·K numbers, or the memory cannot grow.
   */
  outerRows(g: View, a: View, out: Float32Array): boolean {
    const [B, N] = g.shape as [number, number];
    const K = a.shape[1]!;
    const owner = owners.get(out);
    if (out.length !== B * N * K || owner?.arena !== this) return false;
    if (out.length === 0) return true;
    const { memory, kernels, top } = owner.segment;
    // Samples per block: as many as the room above the arrays stages (at least the reserve).
    const room = Math.max(stagingReserve, segmentBytes - top) - 128;
    const rows = Math.min(B, Math.floor(room / (4 * (N + K))));
    if (rows < 1) return false;
    const gAt = top;
    const aAt = align64(gAt + 4 * rows * N);
    if (!growTo(memory, aAt + 4 * rows * K)) return false;
    const floats = new Float32Array(memory.buffer);
    for (let b0 = 0; b0 < B; b0 += rows) {
      const count = Math.min(rows, B - b0);
      const gRows: View = { data: g.data, offset: g.offset + b0 * g.strides[0]!, shape: [count, N], strides: g.strides };
      const aRows: View = { data: a.data, offset: a.offset + b0 * a.strides[0]!, shape: [count, K], strides: a.strides };
      cpuBackend.copyInto(gRows, { data: floats, offset: gAt / 4, shape: [count, N], strides: [N, 1] });
      cpuBackend.copyInto(aRows, { data: floats, offset: aAt / 4, shape: [count, K], strides: [K, 1] });
      kernels.outer(count, N, K, gAt, aAt, out.byteOffset + 4 * b0 * N * K);
    }
    return true;
  }
}
