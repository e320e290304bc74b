/**
 * fast-check arbitraries for tensors, and the plain-JS index arithmetic the reference
 * implementations in the tests share.
 *
 * A generated tensor is first a `TensorSpec`: its logical shape, its logical values in
 * row-major order, and a `Layout` saying how the values are laid out in memory. `materialize`
 * then builds a gradscope tensor whose *logical* contents equal `spec.values` but whose
 * strides, offset and storage come from the layout:
 *
 * - `contiguous`: a plain row-major tensor;
 * - `permuted`: a contiguous tensor of a permuted shape, `.permute()`d back (minitorch's
 *   random strides), so the view is non-contiguous;
 * - `sliced`: a strided slice (steps 1–2, start 0–1, spare elements at the end) of a larger
 *   buffer whose unused elements are NaN, so a kernel that reads outside the view shows up;
 * - `permuted-sliced`: a sliced buffer, then permuted;
 * - `expanded`: a smaller tensor `.expand()`ed (stride 0 on broadcast axes, possibly new
 *   leading axes); the spec's values are made constant along those axes.
 *
 * Tests compute references from `spec.values` in plain JavaScript, never from gradscope.
 */
import fc from 'fast-check';
import { tensor, type DType, type Tensor } from '../src/index.js';

export type Shape = number[];

// ---- plain index arithmetic (used by the reference implementations) --------------------

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((p, d) => p * d, 1);
}

/** Multi-index of flat row-major position `flat`. */
export function unravel(flat: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length).fill(0);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = flat % shape[d]!;
    flat = Math.floor(flat / shape[d]!);
  }
  return idx;
}

/** Flat row-major position of a multi-index. */
export function ravel(idx: readonly number[], shape: readonly number[]): number {
  let flat = 0;
  for (let d = 0; d < shape.length; d++) flat = flat * shape[d]! + idx[d]!;
  return flat;
}

/** NumPy broadcast of shapes, written independently of gradscope (null if incompatible). */
export function broadcastShape(...shapes: (readonly number[])[]): number[] | null {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    let d = 1;
    for (const s of shapes) {
      const k = i - (rank - s.length);
      const v = k >= 0 ? s[k]! : 1;
      if (v === 1) continue;
      if (d !== 1 && d !== v) return null;
      d = v;
    }
    out.push(d);
  }
  return out;
}

/** Flat position in `shape` of the element that output multi-index `outIdx` broadcasts from. */
export function broadcastSource(outIdx: readonly number[], shape: readonly number[]): number {
  const lead = outIdx.length - shape.length;
  let flat = 0;
  for (let d = 0; d < shape.length; d++) flat = flat * shape[d]! + (shape[d] === 1 ? 0 : outIdx[lead + d]!);
  return flat;
}

/** Row-major values of `values` (of `shape`) broadcast to `target`. */
export function broadcastValues(values: readonly number[], shape: readonly number[], target: readonly number[]): number[] {
  return Array.from({ length: sizeOf(target) }, (_, k) => values[broadcastSource(unravel(k, target), shape)]!);
}

/** A deterministic PRNG for tests (mulberry32): uniform in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---- shapes -------------------------------------------------------------------------------

/** A dimension size: 1–3, as minitorch's small_ints. */
export const dim = fc.integer({ min: 1, max: 3 });

/** A shape of rank minRank…maxRank (default 0–4) with dims 1–3. */
export function shape(minRank = 0, maxRank = 4): fc.Arbitrary<Shape> {
  return fc.array(dim, { minLength: minRank, maxLength: maxRank });
}

/** A shape that broadcasts to `target`: a suffix of it (possibly empty) with some dims set to 1. */
function reducedShapeOf(target: Shape): fc.Arbitrary<Shape> {
  return fc
    .record({
      rank: fc.integer({ min: 0, max: target.length }),
      full: fc.boolean(),
      ones: fc.array(fc.boolean(), { minLength: target.length, maxLength: target.length }),
    })
    .map(({ rank, full, ones }) => {
      if (full) return target.slice();
      const suffix = target.slice(target.length - rank);
      return suffix.map((d, i) => (ones[i] ? 1 : d));
    });
}

/**
 * `n` shapes that broadcast together, including 0-d shapes, missing leading axes and size-1
 * dims. Roughly half the time one of them is the full broadcast shape.
 */
export function broadcastableShapes(n: number, maxRank = 4): fc.Arbitrary<Shape[]> {
  return shape(0, maxRank).chain((target) => fc.tuple(...Array.from({ length: n }, () => reducedShapeOf(target))));
}

/** Two shapes that broadcast together. */
export const broadcastablePair: fc.Arbitrary<[Shape, Shape]> = broadcastableShapes(2).map(([a, b]) => [a!, b!]);

/**
 * Shapes for matmul: `[...batchA, M, K] @ [...batchB, K, N]` with batch dims that broadcast
 * (0–2 of them), and sometimes a 1-D operand (`[K]`), as torch.matmul allows.
 */
export const matmulPair: fc.Arbitrary<{ a: Shape; b: Shape }> = fc
  .record({
    batch: shape(0, 2),
    m: fc.integer({ min: 1, max: 4 }),
    k: fc.integer({ min: 1, max: 4 }),
    n: fc.integer({ min: 1, max: 4 }),
    aVector: fc.boolean(),
    bVector: fc.boolean(),
  })
  .chain(({ batch, m, k, n, aVector, bVector }) =>
    fc.tuple(reducedShapeOf(batch), reducedShapeOf(batch), fc.integer({ min: 0, max: 3 })).map(([ba, bb, vec]) => ({
      // Only one vector case in four so that batched matrices dominate.
      a: aVector && vec === 0 ? [k] : [...ba, m, k],
      b: bVector && vec === 1 ? [k] : [...bb, k, n],
    })),
  );

// ---- layouts and tensor specs --------------------------------------------------------------

export type LayoutKind = 'contiguous' | 'permuted' | 'sliced' | 'permuted-sliced' | 'expanded';

export interface Layout {
  kind: LayoutKind;
  /** permute: the final view is `base.permute(perm)`. */
  perm: number[];
  /** slice: per axis of the sliced buffer, the first element, the step and spare elements at the end. */
  starts: number[];
  steps: number[];
  spare: number[];
  /** expand: axes that are broadcast (size 1 in the base, stride 0 in the view). */
  expanded: boolean[];
  /** expand: how many of the leading expanded axes are absent from the base altogether. */
  dropLeading: number;
}

export interface TensorSpec {
  shape: Shape;
  /** Logical values in row-major order. */
  values: number[];
  layout: Layout;
}

const allKinds: LayoutKind[] = ['contiguous', 'permuted', 'sliced', 'permuted-sliced', 'expanded'];

/** A random layout for a tensor of `s`, from `kinds`. */
export function layout(s: Shape, kinds: readonly LayoutKind[] = allKinds): fc.Arbitrary<Layout> {
  const n = s.length;
  const axes = Array.from({ length: n }, (_, i) => i);
  const flags = fc.array(fc.boolean(), { minLength: n, maxLength: n });
  const ints = (min: number, max: number) => fc.array(fc.integer({ min, max }), { minLength: n, maxLength: n });
  return fc.record({
    kind: fc.constantFrom(...kinds),
    perm: fc.shuffledSubarray(axes, { minLength: n, maxLength: n }),
    starts: ints(0, 1),
    steps: ints(1, 2),
    spare: ints(0, 1),
    expanded: flags,
    dropLeading: fc.integer({ min: 0, max: n }),
  });
}

/** Make values constant along the expanded axes (copy from index 0 on those axes). */
function expandConsistent(values: number[], s: Shape, l: Layout): number[] {
  if (l.kind !== 'expanded') return values;
  return values.map((_, k) => {
    const idx = unravel(k, s).map((i, d) => (l.expanded[d] ? 0 : i));
    return values[ravel(idx, s)]!;
  });
}

export interface ValueOptions {
  min?: number;
  max?: number;
  kinds?: readonly LayoutKind[];
}

/** Doubles in [min, max] (default [-10, 10]), no NaN or infinities. */
export function value(min = -10, max = 10): fc.Arbitrary<number> {
  return fc.double({ min, max, noNaN: true, noDefaultInfinity: true });
}

/** A spec of the given shape: random values and a random layout. */
export function specOf(s: Shape, options: ValueOptions = {}): fc.Arbitrary<TensorSpec> {
  const n = sizeOf(s);
  return fc
    .record({
      values: fc.array(value(options.min, options.max), { minLength: n, maxLength: n }),
      layout: layout(s, options.kinds),
    })
    .map(({ values, layout: l }) => ({ shape: s.slice(), values: expandConsistent(values, s, l), layout: l }));
}

/** A spec of a random shape (rank 0–4 by default). */
export function tensorSpec(shapes: fc.Arbitrary<Shape> = shape(), options: ValueOptions = {}): fc.Arbitrary<TensorSpec> {
  return shapes.chain((s) => specOf(s, options));
}

/**
 * A spec whose values are pairwise distinct with gaps of at least 0.25 (a shuffled grid plus
 * an offset), for ops whose gradient jumps at ties (max, min, sort-like ops).
 */
export function distinctSpecOf(s: Shape, options: { kinds?: readonly LayoutKind[] } = {}): fc.Arbitrary<TensorSpec> {
  const n = sizeOf(s);
  const grid = Array.from({ length: n }, (_, i) => i);
  const kinds = (options.kinds ?? allKinds).filter((k) => k !== 'expanded'); // expansion repeats values
  return fc
    .record({
      order: fc.shuffledSubarray(grid, { minLength: n, maxLength: n }),
      offset: fc.double({ min: -3, max: 3, noNaN: true }),
      scale: fc.constantFrom(0.25, 0.5, 1.5),
      layout: layout(s, kinds.length ? kinds : ['contiguous']),
    })
    .map(({ order, offset, scale, layout: l }) => ({
      shape: s.slice(),
      values: order.map((i) => offset + (i - n / 2) * scale),
      layout: l,
    }));
}

/** The spec with every value mapped through `f` (a domain transform). Layout is kept. */
export function mapSpec(spec: TensorSpec, f: (x: number) => number): TensorSpec {
  return { ...spec, values: spec.values.map(f) };
}

export interface MaterializeOptions {
  dtype?: DType;
  requiresGrad?: boolean;
}

/** A contiguous tensor of `shape` holding `values`. */
function contiguousTensor(values: readonly number[], s: Shape, dtype: DType): Tensor {
  return tensor(Float64Array.from(values), { shape: s, dtype });
}

/** A strided slice view of logical `values` (shape `s`) cut out of a NaN-filled buffer. */
function slicedTensor(values: readonly number[], s: Shape, l: Layout, dtype: DType): Tensor {
  const baseShape = s.map((d, i) => l.starts[i]! + (d - 1) * l.steps[i]! + 1 + l.spare[i]!);
  // Unreachable positions hold garbage that a wrong stride would read: NaN, or for int32 (which
  // has no NaN) the largest int32, never a valid index.
  const base = new Float64Array(sizeOf(baseShape)).fill(dtype === 'int32' ? 2147483647 : Number.NaN);
  values.forEach((v, k) => {
    const idx = unravel(k, s).map((i, d) => l.starts[d]! + i * l.steps[d]!);
    base[ravel(idx, baseShape)] = v;
  });
  const specs = s.map((d, i) => [l.starts[i]!, l.starts[i]! + (d - 1) * l.steps[i]! + 1, l.steps[i]!] as const);
  return tensor(base, { shape: baseShape, dtype }).slice(specs);
}

/**
 * Values of shape `s` rearranged for a base of shape `baseShape[perm[i]] = s[i]`, so that
 * `base.permute(perm)` has the logical values again.
 */
function permutedBase(values: readonly number[], s: Shape, perm: readonly number[]): { values: number[]; shape: Shape } {
  const baseShape = new Array<number>(s.length);
  perm.forEach((p, i) => (baseShape[p] = s[i]!));
  const out = new Array<number>(values.length);
  values.forEach((v, k) => {
    const t = unravel(k, s);
    const b = new Array<number>(s.length);
    perm.forEach((p, i) => (b[p] = t[i]!));
    out[ravel(b, baseShape)] = v;
  });
  return { values: out, shape: baseShape };
}

/** Build the tensor a spec describes. Its logical contents are exactly `spec.values`. */
export function materialize(spec: TensorSpec, options: MaterializeOptions = {}): Tensor {
  const dtype = options.dtype ?? 'float64';
  const { shape: s, values, layout: l } = spec;
  let t: Tensor;
  switch (l.kind) {
    case 'contiguous':
      t = contiguousTensor(values, s, dtype);
      break;
    case 'permuted': {
      const base = permutedBase(values, s, l.perm);
      t = contiguousTensor(base.values, base.shape, dtype).permute(l.perm);
      break;
    }
    case 'sliced':
      t = slicedTensor(values, s, l, dtype);
      break;
    case 'permuted-sliced': {
      const base = permutedBase(values, s, l.perm);
      t = slicedTensor(base.values, base.shape, l, dtype).permute(l.perm);
      break;
    }
    case 'expanded': {
      // The base: expanded axes have size 1; leading expanded axes may be missing entirely.
      let drop = 0;
      while (drop < l.dropLeading && l.expanded[drop]) drop++;
      const full = s.map((d, i) => (l.expanded[i] ? 1 : d));
      const baseValues = Array.from({ length: sizeOf(full) }, (_, k) => values[ravel(unravel(k, full), s)]!);
      t = contiguousTensor(baseValues, full.slice(drop), dtype).expand(s);
      break;
    }
  }
  return options.requiresGrad ? t.requireGrad() : t;
}

/** A tensor arbitrary (float64 unless told): random shape, values and layout. */
export function floatTensor(
  shapes: fc.Arbitrary<Shape> = shape(),
  options: ValueOptions & { dtype?: DType } = {},
): fc.Arbitrary<Tensor> {
  return tensorSpec(shapes, options).map((s) => materialize(s, { dtype: options.dtype ?? 'float64' }));
}

/** Plain row-major values of a gradscope tensor as numbers. */
export function valuesOf(t: Tensor): number[] {
  return Array.from(t.toTypedArray());
}

/** A short description of a tensor's layout for failure messages. */
export function describeTensor(t: Tensor): string {
  return `shape [${t.shape}] strides [${t.strides}] offset ${t.offset} ${t.dtype}`;
}
