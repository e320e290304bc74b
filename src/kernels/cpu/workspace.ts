/**
 * Scratch buffers reused across kernel calls.
 *
 * Convolutions copy padded images and hold column-gradient matrices, and float32 results
 * are accumulated in float64 first. (The GEMM's panels have a fixed buffer of their own; see
 * gemm.ts.) Allocating those buffers on every
 * call would cost more than the work itself for small products (a zero-filled allocation
 * plus, later, garbage collection), so each named slot keeps one Float64Array that only ever
 * grows. JavaScript runs one kernel at a time, so a slot is never in use twice at once, as
 * long as two users never share a slot name.
 *
 * A buffer comes back with whatever the previous user left in it: callers overwrite (or
 * explicitly zero) the part they read.
 */

export type WorkspaceSlot =
  | 'matmul.c' // float64 accumulator of a float32 matmul
  | 'conv.padded' // zero-padded float64 copy of a convolution's input planes
  | 'conv.columns' // column-gradient matrix of the input gradient (col2im)
  | 'conv.acc'; // float64 accumulator of a float32 convolution

const slots = new Map<WorkspaceSlot, Float64Array>();

/** A Float64Array of at least `size` elements for `slot`, with unspecified contents. */
export function workspace(slot: WorkspaceSlot, size: number): Float64Array {
  const held = slots.get(slot);
  if (held !== undefined && held.length >= size) return held;
  // Grow by at least 1.5× so that a sequence of slightly larger requests does not reallocate
  // each time (e.g. a batch dimension that grows by one).
  const grown = new Float64Array(Math.max(size, Math.ceil((held?.length ?? 0) * 1.5)));
  slots.set(slot, grown);
  return grown;
}

/** Drop every scratch buffer (they are re-created on demand), e.g. after a very large product. */
export function releaseWorkspaces(): void {
  slots.clear();
}
