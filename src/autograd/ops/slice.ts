/**
 * slice(x, specs): Python basic slicing `x[start:stop:step, …]` with step ≥ 1. A view: the
 * offset moves to the first element and each stride is multiplied by its step.
 * ∂/∂x = unslice(gradOut): zeros of x's shape with gradOut written back at the sliced
 * positions (see unslice.ts; the two ops are each other's backward). Linear: the tangent is
 * sliced alike.
 */
import { assertValue, describeValue } from '../../tensor/errors.js';
import { Tensor } from '../../tensor/tensor.js';
import { apply, defineOp } from '../op.js';
import { unslice } from './unslice.js';
import { tensorArgument } from '../operands.js';
import { shiftedBatch } from '../rules.js';

/** Where a slice starts and how it steps, per axis (full rank). */
export interface SliceAttrs {
  /** First selected index on each axis (already clamped into 0 … size). */
  starts: number[];
  /** Step on each axis (≥ 1). */
  steps: number[];
  /** Number of selected elements on each axis: the shape of the slice. */
  shape: number[];
}

/** A per-sample slice → the same slice of a tensor with a batch axis in front (kept whole). */
export function shiftSlice({ starts, steps, shape }: SliceAttrs, size: number): SliceAttrs {
  return { starts: [0, ...starts], steps: [1, ...steps], shape: [size, ...shape] };
}

/**
 * One axis of a slice: `[start, stop]` or `[start, stop, step]` (null = default, negative
 * values count from the end, out-of-range values are clamped, as in Python), or null for
 * the whole axis.
 */
export type SliceSpec = readonly [start: number | null, stop: number | null, step?: number] | null;

/** The slice primitive: a strided view of x described by SliceAttrs (see `slice` for the user-facing form). */
export const sliceOp = defineOp<SliceAttrs>({
  name: 'slice',
  forward: ([x], { starts, steps, shape }) => {
    let offset = x!.offset;
    starts.forEach((s, d) => (offset += s * x!.strides[d]!));
    const strides = steps.map((s, d) => s * x!.strides[d]!);
    return Tensor.viewOf(x!, shape, strides, offset);
  },
  backward: (ctx, gradOut) => [unslice(gradOut, ctx.inputShapes[0]!, ctx.attrs)],
  jvp: ({ tangents: [t], attrs }): Tensor => apply(sliceOp, [t!], attrs),
  batch: shiftedBatch((x, attrs): Tensor => apply(sliceOp, [x], attrs), shiftSlice),
  describe: ({ starts, steps, shape }) => `starts=[${starts}], steps=[${steps}], shape=[${shape}]`,
});

/** Python's slice.indices(): normalise one axis' [start, stop, step] against its size. */
function resolve(spec: SliceSpec, size: number, axis: number): { start: number; step: number; length: number } {
  if (spec === null) return { start: 0, step: 1, length: size };
  assertValue(
    Array.isArray(spec) && (spec.length === 2 || spec.length === 3),
    () => `slice: the spec of axis ${axis} must be null or [start, stop] or [start, stop, step]; got ${Array.isArray(spec) ? JSON.stringify(spec) : describeValue(spec)}`,
  );
  const step = spec[2] ?? 1;
  assertValue(Number.isInteger(step) && step >= 1, () => `slice: step must be an integer ≥ 1 on axis ${axis}; got ${step}`);
  const clamp = (v: number | null, dflt: number) => {
    if (v === null || v === undefined) return dflt;
    assertValue(Number.isInteger(v), () => `slice: bounds must be integers on axis ${axis}; got ${v}`);
    const w = v < 0 ? v + size : v;
    return Math.min(Math.max(w, 0), size);
  };
  const start = clamp(spec[0], 0);
  const stop = clamp(spec[1], size);
  return { start, step, length: Math.max(0, Math.ceil((stop - start) / step)) };
}

/**
 * Basic slicing, Python's `x[start:stop:step, …]` with step ≥ 1: `specs[i]` slices axis i,
 * and axes without a spec are kept whole. A view (offset and strides adjusted, no copy);
 * differentiable (the gradient is scattered back by unslice). Throws ValueError for more specs
 * than axes, a malformed spec, non-integer bounds or a step < 1.
 * @example arange(10).slice([[1, 8, 3]]) // [1, 4, 7]
 */
export function slice(x: Tensor, specs: readonly SliceSpec[]): Tensor {
  tensorArgument('slice', x);
  assertValue(Array.isArray(specs), () => `slice: expected a list of slice specs (one per axis); got ${describeValue(specs)}`);
  assertValue(specs.length <= x.rank, () => `slice: got ${specs.length} slice specs for a tensor of rank ${x.rank}`);
  const starts: number[] = [];
  const steps: number[] = [];
  const shape: number[] = [];
  for (let d = 0; d < x.rank; d++) {
    const r = resolve(specs[d] ?? null, x.shape[d]!, d);
    starts.push(r.start);
    steps.push(r.step);
    shape.push(r.length);
  }
  return apply(sliceOp, [x], { starts, steps, shape });
}
