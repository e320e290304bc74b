/**
 * Pure shape arithmetic: strides, broadcasting, axis normalisation. No tensors, no data.
 *
 * Layout convention: row-major (C order, last index fastest), like PyTorch and NumPy. A tensor
 * is a view `(data, shape, strides, offset)`: element `[i0, …, ik]` lives at
 * `offset + Σ i_j · strides[j]`. A stride of 0 means the axis is broadcast (expanded).
 */
import { assertShape, assertValue, describeValue, formatShape } from './errors.js';

/** Sizes of a tensor's axes, outermost first (`[]` for a 0-d tensor), as torch.Size. */
export type Shape = readonly number[];

/** Number of elements of a shape (1 for the 0-d shape `[]`). */
export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major strides of a contiguous tensor of this shape. */
export function contiguousStrides(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

/** True when `strides` are the row-major strides of `shape` (size-1 axes may have any stride). */
export function isContiguous(shape: Shape, strides: readonly number[]): boolean {
  let expected = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && strides[i] !== expected) return false;
    expected *= shape[i]!;
  }
  return true;
}

/** Whether `shape` broadcasts to `target` without enlarging it (aligned on the right, each axis 1 or target's size). */
export function broadcastsTo(shape: Shape, target: Shape): boolean {
  const lead = target.length - shape.length;
  return lead >= 0 && shape.every((d, i) => d === 1 || d === target[lead + i]);
}

/** Whether two shapes have the same rank and sizes. */
export function shapesEqual(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * NumPy broadcasting: align shapes at the right; each pair of dims must be equal or one of
 * them 1. Throws `<op>: shapes [2,3] and [4] cannot be broadcast (dim -1: 3 vs 4)`.
 */
export function broadcastShapes(op: string, a: Shape, b: Shape): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 1; i <= rank; i++) {
    const da = i <= a.length ? a[a.length - i]! : 1;
    const db = i <= b.length ? b[b.length - i]! : 1;
    assertShape(
      da === db || da === 1 || db === 1,
      () => `${op}: shapes ${formatShape(a)} and ${formatShape(b)} cannot be broadcast (dim -${i}: ${da} vs ${db})`,
    );
    out[rank - i] = da === 1 ? db : da;
  }
  return out;
}

/**
 * Strides that read a tensor of `shape`/`strides` as if it had the larger `target` shape:
 * new leading axes and size-1 axes that grow get stride 0.
 */
export function broadcastStrides(shape: Shape, strides: readonly number[], target: Shape): number[] {
  const out = new Array<number>(target.length).fill(0);
  const lead = target.length - shape.length;
  for (let i = 0; i < shape.length; i++) {
    out[lead + i] = shape[i] === 1 && target[lead + i] !== 1 ? 0 : strides[i]!;
  }
  return out;
}

/**
 * The axes along which a gradient of shape `from` must be summed to come back to `to`
 * (the inverse of broadcasting). Returns `[leadingAxes, keptSizeOneAxes]` flattened into one
 * list of axes of `from`.
 */
export function unbroadcastAxes(from: Shape, to: Shape): number[] {
  const axes: number[] = [];
  const lead = from.length - to.length;
  for (let i = 0; i < from.length; i++) {
    if (i < lead) axes.push(i);
    else if (to[i - lead] === 1 && from[i] !== 1) axes.push(i);
  }
  return axes;
}

/** Turn a possibly negative axis into 0…rank-1, or throw naming the op. */
export function normalizeAxis(op: string, axis: number, rank: number): number {
  assertValue(typeof axis === 'number', () => `${op}: expected an integer axis; got ${describeValue(axis)}`);
  // A 0-d tensor accepts axis 0 and -1, as in PyTorch: it behaves as rank 1 here.
  const r = Math.max(rank, 1);
  assertValue(
    Number.isInteger(axis) && axis >= -r && axis < r,
    () => `${op}: axis ${axis} is out of range for a tensor of rank ${rank} (expected ${-r} … ${r - 1})`,
  );
  return axis < 0 ? axis + r : axis;
}

/**
 * Normalise a reduction's `axis` argument: `undefined`/`null` means every axis; a number or a
 * list may hold negative axes. Returns sorted unique axes.
 */
export function normalizeAxes(op: string, axis: number | readonly number[] | null | undefined, rank: number): number[] {
  if (axis === undefined || axis === null) return Array.from({ length: rank }, (_, i) => i);
  assertValue(
    typeof axis === 'number' || Array.isArray(axis),
    () => `${op}: expected an axis, a list of axes, or null for all; got ${describeValue(axis)}`,
  );
  const list = typeof axis === 'number' ? [axis] : Array.from(axis);
  const out = list.map((a) => normalizeAxis(op, a, rank));
  assertValue(new Set(out).size === out.length, () => `${op}: repeated axis in ${JSON.stringify(list)}`);
  // A 0-d tensor accepts axis 0 / -1 (see normalizeAxis) but has no axis to reduce: the
  // reduction is over its one element, i.e. over no axis at all (so a mean's count is 1).
  if (rank === 0) return [];
  return out.sort((x, y) => x - y);
}

/** Shape after reducing `axes` (kept as size 1 when `keepdim`). */
export function reducedShape(shape: Shape, axes: readonly number[], keepdim: boolean): number[] {
  const out: number[] = [];
  for (let i = 0; i < shape.length; i++) {
    if (axes.includes(i)) {
      if (keepdim) out.push(1);
    } else {
      out.push(shape[i]!);
    }
  }
  return out;
}

/** Resolve one `-1` in a reshape target and check that the element count is preserved. */
export function inferReshape(op: string, from: Shape, to: readonly number[]): number[] {
  assertValue(Array.isArray(to), () => `${op}: expected the new shape as a list of integers; got ${describeValue(to)}`);
  to = Array.from(to);
  const size = sizeOf(from);
  const unknown = to.filter((d) => d === -1).length;
  assertValue(unknown <= 1, () => `${op}: at most one dimension may be -1; got ${formatShape(to)}`);
  for (const d of to) {
    assertValue(Number.isInteger(d) && d >= -1, () => `${op}: dimensions must be integers ≥ 0 (or one -1); got ${formatShape(to)}`);
  }
  const known = to.reduce((p, d) => (d === -1 ? p : p * d), 1);
  const out = to.slice();
  if (unknown === 1) {
    assertShape(
      known !== 0 && size % known === 0,
      () => `${op}: cannot reshape ${formatShape(from)} (${size} elements) to ${formatShape(to)}`,
    );
    out[out.indexOf(-1)] = size / known;
  }
  assertShape(
    sizeOf(out) === size,
    () => `${op}: cannot reshape ${formatShape(from)} (${size} elements) to ${formatShape(to)} (${sizeOf(out)} elements)`,
  );
  return out;
}

/**
 * Strides for viewing a (possibly non-contiguous) tensor with a new shape without copying, or
 * `null` when no such view exists (then reshape must copy). Works by matching runs of axes
 * that are contiguous with each other, as PyTorch's `view` does.
 */
export function viewStrides(shape: Shape, strides: readonly number[], target: Shape): number[] | null {
  const out = new Array<number>(target.length);
  // Drop size-1 axes of the source: they constrain nothing.
  const src: { size: number; stride: number }[] = [];
  for (let i = 0; i < shape.length; i++) if (shape[i] !== 1) src.push({ size: shape[i]!, stride: strides[i]! });
  let si = 0;
  let ti = 0;
  while (ti < target.length) {
    if (target[ti] === 1) {
      out[ti] = 1;
      ti++;
      continue;
    }
    if (si >= src.length) return null;
    // Gather a chunk of source axes whose product equals a chunk of target axes.
    let srcSize = src[si]!.size;
    let tgtSize = target[ti]!;
    const tStart = ti;
    while (srcSize !== tgtSize) {
      if (srcSize < tgtSize) {
        si++;
        if (si >= src.length) return null;
        // The merged source axes must be contiguous with each other.
        if (src[si - 1]!.stride !== src[si]!.stride * src[si]!.size) return null;
        srcSize *= src[si]!.size;
      } else {
        ti++;
        if (ti >= target.length) return null;
        tgtSize *= target[ti]!;
      }
    }
    // The chunk is contiguous internally; give target axes strides from its innermost stride.
    let stride = src[si]!.stride;
    for (let t = ti; t >= tStart; t--) {
      out[t] = stride;
      stride *= target[t]!;
    }
    si++;
    ti++;
  }
  if (si !== src.length) return null;
  return out;
}
