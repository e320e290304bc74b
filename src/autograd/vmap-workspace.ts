/**
 * vmap's `workspace` option: reusable memory for the large results of a batching rule that
 * writes them with a kernel (matmul's per-sample outer products). A module of its own, with
 * no dependency on the batching interpreter, so that op files can use it.
 *
 * A workspace (nn/per-sample.ts's PerSampleWorkspace is one) gives the next array of a call
 * with `take` (the same one on every call of the same function) and records the tensors made
 * over its arrays with `handOut`; when a later call writes an array again, their version
 * counters are bumped, so a graph that saved one refuses to back-propagate instead of using
 * the new values.
 */
import type { DType, TypedArray } from '../tensor/dtype.js';
import { Tensor } from '../tensor/tensor.js';

/**
 * Reusable output memory for vmap (its `workspace` option); PerSampleWorkspace implements it.
 * Results written into it are valid only until the next call that uses the same workspace.
 */
export interface OutputWorkspace {
  /** Start a new call: the next `take` returns the call's first array again. */
  reset(): void;
  /** The call's next array of `shape` and `dtype`, the same one on every call while it still fits. */
  take(shape: readonly number[], dtype: DType): TypedArray;
  /** Record tensors made over the workspace's arrays, so that reusing an array bumps their version counters. */
  handOut(tensors: Iterable<Tensor>): void;
}

/** The workspaces of the running vmaps, innermost last (undefined: that vmap has none). */
const stack: (OutputWorkspace | undefined)[] = [];

/** Run `fn` (one vmap call) with `workspace` as the innermost vmap's. */
export function withOutputWorkspace<T>(workspace: OutputWorkspace | undefined, fn: () => T): T {
  workspace?.reset();
  stack.push(workspace);
  try {
    return fn();
  } finally {
    stack.pop();
  }
}

/** An array of `shape` from the innermost vmap's workspace, or undefined (allocate as usual). */
export function workspaceArray(shape: readonly number[], dtype: DType): TypedArray | undefined {
  return stack.at(-1)?.take(shape, dtype);
}

/** A tensor over an array from workspaceArray, registered so that reusing the array bumps its version. */
export function workspaceTensor(data: TypedArray, shape: readonly number[]): Tensor {
  const t = Tensor.fromData(data, shape);
  stack.at(-1)!.handOut([t]);
  return t;
}
