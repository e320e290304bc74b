/**
 * Storage and views.
 *
 * A `Storage` owns one typed array and a version counter. Several tensors may view the same
 * storage (reshape, permute, expand, slice never copy), so the version counter lives here:
 * an in-place write through any view bumps it, and autograd compares it with the version it
 * recorded when it saved a tensor for backward (PyTorch's version counter).
 */
import type { DType, TypedArray } from './dtype.js';
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
  ) {
    lifetime.created?.(this);
  }
}

/**
 * Hooks that tidy (tidy.ts) installs the first time it runs: it is told of each storage created
 * and each array allocated, and it hands out arrays it released. NOTE: hooks rather than
 * imports, so that tidy's code stays out of a bundle that never calls it.
 */
export const lifetime: {
  created?: (storage: Storage) => void;
  /** allocate's array: one from the pool (zero-filled unless `unfilled`) or a fresh one, recorded while a scope is open. */
  allocate?: (dtype: DType, size: number, op: string, unfilled: boolean) => TypedArray;
  /** Exempt a tensor's storage from release (keep). */
  keep?: (tensor: { readonly storage: Storage }) => void;
  /** An array that its owner reuses across calls (a PerSampleWorkspace's): never pooled. */
  retain?: (array: TypedArray) => void;
} = {};

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
