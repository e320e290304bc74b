/**
 * Storage and views.
 *
 * A `Storage` owns one typed array and a version counter. Several tensors may view the same
 * storage (reshape, permute, expand, slice never copy), so the version counter lives here:
 * an in-place write through any view bumps it, and autograd compares it with the version it
 * recorded when it saved a tensor for backward (PyTorch's version counter).
 */
import type { TypedArray } from './dtype.js';
import type { Shape } from './shape.js';

/**
 * One typed array and its version counter, shared by every tensor that views it (the
 * counterpart of a torch.UntypedStorage plus the tensor's `_version`).
 */
export class Storage {
  /** Incremented by every in-place write. */
  version = 0;
  /** @param data The elements, owned from now on (not copied). */
  constructor(
    /** The elements: Float32Array, Float64Array or Int32Array, which fixes the dtype. */
    readonly data: TypedArray,
  ) {}
}

/** What a kernel needs to read a tensor: its array and how to walk it. */
export interface View {
  /** The underlying array (possibly larger than the view: other views share it). */
  readonly data: TypedArray;
  /** Size of each axis. */
  readonly shape: Shape;
  /** Elements (not bytes) to step in `data` per unit of each axis; 0 on a broadcast axis. */
  readonly strides: readonly number[];
  /** Index in `data` of the element at position [0, …, 0]. */
  readonly offset: number;
}
