/**
 * Where one kernel call's float32 operands and results are: in the heap of resident tensors
 * (resident.ts) when one of them lives there, else in the runtime's memory. In the heap, an
 * operand or result that lives there is used in place; anything else is staged above the heap's
 * arrays and copied in (operands) or out (results), as every call was before resident tensors.
 *
 * A call takes its results first and then places them: a new resident array must not cover the
 * staging its call lays out (resident.ts, the file comment).
 */
import type { TypedArray } from '../../tensor/dtype.js';
import type { View } from '../../tensor/storage.js';
import { Layout } from './conv.js';
import { residents, type KernelMemory } from './runtime.js';

/** A float32 operand: numbers of `data` from `offset` (a contiguous View, or an array and an offset). */
type Operand = Pick<View, 'data' | 'offset'>;

export class Placement {
  /** The memory the call runs in. */
  readonly mem: KernelMemory;
  /** Its staging, from the memory's scratchBase. */
  readonly layout: Layout;
  private readonly writes: ((mem: Float32Array) => void)[] = [];
  private readonly copies: ((mem: Float32Array) => void)[] = [];

  /** `arrays`: the call's operands' arrays and its results (taken already). */
  constructor(rt: KernelMemory, arrays: readonly TypedArray[]) {
    this.mem = arrays.map((a) => residents.get(a as Float32Array)).find(Boolean) ?? rt;
    this.layout = new Layout(this.mem.scratchBase);
  }

  /** Whether `a` lives in this call's memory (and is used in place). */
  here(a: TypedArray): boolean {
    return residents.get(a as Float32Array) === this.mem;
  }

  /** The byte address of the n numbers of `v` from its offset (contiguous float32): where they are, or staged (copied in by ready). */
  input(v: Operand, n: number): number {
    if (this.here(v.data)) return v.data.byteOffset + 4 * v.offset;
    return this.staged(n, (mem, at) => mem.set(v.data.subarray(v.offset, v.offset + n), at));
  }

  /** The byte address of n numbers of staging that `write` fills (at: their first element's index) once the memory is ready. */
  staged(n: number, write: (mem: Float32Array, at: number) => void): number {
    const at = this.layout.take(4 * n);
    this.writes.push((mem) => write(mem, at / 4));
    return at;
  }

  /**
   * The byte address a kernel writes the first n numbers of `result` at: the result itself
   * (`inPlace`, by default when it lives here), or staging (copied out by finish).
   */
  output(result: Float32Array, n = result.length, inPlace = this.here(result)): number {
    if (inPlace) return result.byteOffset;
    const at = this.layout.take(4 * n);
    this.copies.push((mem) => result.set(mem.subarray(at / 4, at / 4 + n)));
    return at;
  }

  /** The byte address of the n numbers of `v` that a kernel reads and overwrites: in place where they live here, else staged, copied in and (by finish) back. */
  update(v: Operand, n: number): number {
    const at = this.input(v, n);
    if (!this.here(v.data)) this.copies.push((mem) => (v.data as Float32Array).set(mem.subarray(at / 4, at / 4 + n), v.offset));
    return at;
  }

  /** Grow the memory for the call (16 bytes spare: a last vector may read past its numbers) and write the staged inputs; false if it cannot grow. */
  ready(): boolean {
    if (!this.mem.reserve(this.layout.end + 16)) return false;
    const mem = this.mem.elements() as Float32Array;
    for (const write of this.writes) write(mem);
    return true;
  }

  /** After the kernel: the staged results copied out. */
  finish(): void {
    const mem = this.mem.elements() as Float32Array;
    for (const copy of this.copies) copy(mem);
  }
}
