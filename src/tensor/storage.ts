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

export class Storage {
  /** Incremented by every in-place write. */
  version = 0;
  constructor(readonly data: TypedArray) {}
}

/** What a kernel needs to read a tensor: its array and how to walk it. */
export interface View {
  readonly data: TypedArray;
  readonly shape: Shape;
  readonly strides: readonly number[];
  readonly offset: number;
}
