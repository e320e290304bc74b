/**
 * Resident tensors: inside a tidy scope on the wasm backend, float32 results of at least
 * RESIDENT_MIN numbers live in one shared WebAssembly memory of their own (the heap), so that the
 * elementwise kernels read their operands and write their results where they are, instead of
 * staging copies in and out of the runtime's memory (elementwise.ts).
 *
 * Why: a staged elementwise op on LeNet-5's first activations ([128, 6, 24, 24], 1.77 MB) copies
 * each operand in, runs the vector loop, and copies the result out. The copies are most of its
 * time (docs/performance.md, "resident tensors").
 *
 * The lifetime rule is tidy's (tensor/tidy.ts). The heap hands out arrays only to allocations
 * made while a tidy scope is open, and takes them back when the scope releases them (through
 * tidy's pool, which reuses same-size arrays step after step). What survives the outermost
 * scope, and what keep() exempts, is copied to an ordinary array when its scope ends, so that
 * WebAssembly memory is only ever held by open scopes and the pool. An array that no storage
 * ever took (a kernel's temporary) goes back when the collector finds it unreachable
 * (a FinalizationRegistry).
 *
 * The heap's memory, laid out like an arena's (arena.ts):
 *
 *   [0, top)       the arrays handed out, one after another, 64-byte aligned, never moved
 *   [top, …)       staging for the current kernel call (its `scratchBase`)
 *
 * A kernel takes its result before it lays out its staging, so that a new array never covers a
 * region the call is using. Free regions are kept by size and reused for the same size only:
 * the steps of a training loop ask for the same sizes every time.
 */
import type { TypedArray } from '../../tensor/dtype.js';
import { align64, createMemory, growTo, MAXIMUM_PAGES, residents, simdAvailable, type KernelMemory } from './runtime.js';

/** The smallest result (in numbers) put in the heap: the size from which elementwise kernels run in WebAssembly (WASM_ELEMENTWISE_MIN). */
export const RESIDENT_MIN = 4096;

/**
 * Bytes the heap's arrays may take in all (half of its memory's maximum), so that staging
 * always has room above them; past it, allocations are ordinary arrays.
 */
export const RESIDENT_MAX_BYTES = (MAXIMUM_PAGES * 65536) / 2;

/** The heap of resident float32 arrays (see the file comment). */
export class ResidentHeap implements KernelMemory {
  readonly shared = true;
  readonly elementBytes = 4;
  /** Bytes at the bottom of the memory taken by arrays (live or free). */
  private top = 0;
  /** Free regions: byte size → byte addresses. */
  private readonly free = new Map<number, number[]>();
  /** The address and size of each array handed out and not given back. */
  private readonly live = new WeakMap<Float32Array, number>();
  /** Regions of arrays dropped without being given back (a kernel's temporaries). */
  private readonly dropped = new FinalizationRegistry<[number, number]>(([at, bytes]) => this.release(at, bytes));
  private view: Float32Array;

  private constructor(readonly memory: WebAssembly.Memory) {
    this.view = new Float32Array(memory.buffer);
  }

  /** The heap, or undefined where shared memories or SIMD are missing or no memory can be had. */
  static create(): ResidentHeap | undefined {
    if (!simdAvailable() || typeof SharedArrayBuffer !== 'function') return undefined;
    const memory = createMemory({ initial: 1, maximum: MAXIMUM_PAGES, shared: true });
    return memory ? new ResidentHeap(memory) : undefined;
  }

  /** Where a kernel call's staging starts: above every array. */
  get scratchBase(): number {
    return this.top;
  }

  /** Bytes the arrays take, live or free (for tests and measurements). */
  get bytes(): number {
    return this.top;
  }

  reserve(bytes: number): boolean {
    return growTo(this.memory, bytes);
  }

  elements(): Float32Array {
    const buffer = this.memory.buffer;
    if (this.view.buffer !== buffer || this.view.byteLength !== buffer.byteLength) this.view = new Float32Array(buffer);
    return this.view;
  }

  /**
   * A float32 array of `size` numbers in the heap, its contents unspecified (a region used
   * before, or staging); undefined when the heap is full or its memory cannot grow.
   */
  take(size: number): Float32Array | undefined {
    const bytes = align64(4 * size);
    let at = this.free.get(bytes)?.pop();
    if (at === undefined) {
      if (this.top + bytes > RESIDENT_MAX_BYTES || !this.reserve(this.top + bytes)) return undefined;
      at = this.top;
      this.top += bytes;
    }
    const array = new Float32Array(this.memory.buffer, at, size);
    this.live.set(array, at);
    this.dropped.register(array, [at, bytes], array);
    residents.set(array, this);
    return array;
  }

  /** Give an array of this heap back: its region is free for the next array of its size. The caller must hold no other reference to it. */
  give(array: Float32Array): void {
    const at = this.live.get(array);
    if (at === undefined) return;
    this.live.delete(array);
    residents.delete(array);
    this.dropped.unregister(array);
    this.release(at, align64(4 * array.length));
  }

  private release(at: number, bytes: number): void {
    const list = this.free.get(bytes) ?? [];
    list.push(at);
    this.free.set(bytes, list);
  }
}

/** Whether `array` is a resident array, handed out and not given back (creates no heap). */
export const isResident = (array: TypedArray): array is Float32Array => residents.has(array as Float32Array);

/** Give a resident array back to its heap (see ResidentHeap.give); anything else is left alone. */
export function giveBack(array: TypedArray): void {
  const heap = residents.get(array as Float32Array);
  if (heap instanceof ResidentHeap) heap.give(array as Float32Array);
}

let heap: ResidentHeap | null | undefined;

/** The heap, created on first use; null where it cannot be had (then results are ordinary arrays). */
export function residentHeap(): ResidentHeap | null {
  if (heap === undefined) heap = ResidentHeap.create() ?? null;
  return heap;
}
