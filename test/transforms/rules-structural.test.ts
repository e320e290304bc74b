/**
 * The forward-mode (`jvp`) and batching (`batch`) rules of the structural, indexing,
 * convolution and pooling primitives, as properties over random shapes, attrs and layouts:
 *
 *   1. JVP rule = central difference: jvp(f, x, t) against (f(x + h·t) − f(x − h·t)) / 2h in
 *      float64, with a random subset of the inputs carrying a tangent (the rest held constant,
 *      so the null-tangent paths of concat and the bilinear convolutions run too).
 *   2. Batching rule = a loop over the batch: each input batched or not (at least one), with a
 *      random batch axis and a random physical layout; the op run inside a batch level on
 *      BatchedTensors must give, at every sample b, what the op gives on sample b alone.
 *   3. Nested vmap (two levels, public `vmap`) = a double loop, so that the rules' own ops run
 *      batched at the outer level (an index batched at one level and its tensor at another).
 *   4. The generic `loopBatch` fallback = the same loop, on the convolutions.
 *
 * Every op in the list is linear or bilinear (max pooling: piecewise linear, and its values
 * are kept ≥ 0.25 apart), so a central difference has no truncation error at all (the h²
 * terms of a quadratic cancel); what is left is rounding, ≈ ε·|f|/h ≈ 1e-16·1e3/1e-3 = 1e-10,
 * while a wrong rule (a missing term, a wrong pad value, a wrong axis) is off by O(1).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { avgPool2d, concat, conv2d, maxPool2d, scatterAdd, tensor, vmap, type Tensor } from '../../src/index.js';
import { jvp } from '../../src/autograd/transforms.js';
import { BatchedTensor, withBatchLevel } from '../../src/autograd/batching.js';
import { apply, type OpDef } from '../../src/autograd/op.js';
import { loopBatch } from '../../src/autograd/rules.js';
import { conv2dOp } from '../../src/autograd/ops/conv2d.js';
import { conv2dBackwardInput, conv2dBackwardInputOp } from '../../src/autograd/ops/conv2d-backward-input.js';
import { conv2dBackwardWeight, conv2dBackwardWeightOp } from '../../src/autograd/ops/conv2d-backward-weight.js';
import { avgPool2dBackward } from '../../src/autograd/ops/avg-pool2d-backward.js';
import { unslice } from '../../src/autograd/ops/unslice.js';
import { windowOutput, type AvgPoolGeometry, type Conv2dGeometry, type Pair } from '../../src/kernels/geometry.js';
import { materialize, ravel, sizeOf, unravel, valuesOf, type Layout, type LayoutKind } from '../arbitraries.js';

type Shape = readonly number[];

const RUNS = 40;
const H = 1e-3;
const TOL = 1e-7;
/** Layouts a physical input may have (an expanded one would need repeated values). */
const LAYOUTS: LayoutKind[] = ['contiguous', 'permuted', 'sliced', 'permuted-sliced'];

// ---- cases ----------------------------------------------------------------------------------

/** One input of a case: a float tensor, or an int32 index with values in [0, bound). */
interface Operand {
  shape: Shape;
  kind: 'float' | 'index';
  bound?: number;
  /** Values pairwise ≥ 0.25 apart (max pooling: no ties, so its derivative is defined). */
  distinct?: boolean;
}

interface Case {
  name: string;
  operands: Operand[];
  /** The op applied to one sample's inputs (in the operands' order). */
  f: (xs: Tensor[]) => Tensor;
  /** The primitive and attrs, for the loopBatch property. */
  primitive?: { op: OpDef<any>; attrs: unknown };
}

const int = (min: number, max: number) => fc.integer({ min, max });
const pair = (min: number, max: number): fc.Arbitrary<Pair> => fc.tuple(int(min, max), int(min, max));
const float = (shape: Shape, distinct = false): Operand => ({ shape, kind: 'float', distinct });
const index = (shape: Shape, bound: number): Operand => ({ shape, kind: 'index', bound });
const dims = (minRank: number, maxRank: number, maxDim = 3) => fc.array(int(1, maxDim), { minLength: minRank, maxLength: maxRank });

const permuteCase = dims(1, 4).chain((s) =>
  fc.shuffledSubarray(s.map((_, i) => i), { minLength: s.length, maxLength: s.length }).map(
    (perm): Case => ({ name: `permute ${s} by [${perm}]`, operands: [float(s)], f: ([x]) => x!.permute(perm) }),
  ),
);

const expandCase = fc
  .record({ base: fc.array(fc.oneof(fc.constant(1), int(1, 3)), { minLength: 0, maxLength: 3 }), lead: dims(0, 2), grow: fc.array(int(1, 3), { minLength: 3, maxLength: 3 }) })
  .map(({ base, lead, grow }): Case => {
    const target = [...lead, ...base.map((d, i) => (d === 1 ? grow[i]! : d))];
    return { name: `expand ${base} to ${target}`, operands: [float(base)], f: ([x]) => x!.expand(target) };
  });

/** A Python slice of one axis of size n: [start, stop, step] with a non-empty result. */
const axisSlice = (n: number) =>
  fc.record({ start: int(0, n - 1), step: int(1, 2), extra: int(0, n) }).map(({ start, step, extra }) => {
    const stop = Math.min(n, start + 1 + extra);
    return { start, stop, step, length: Math.ceil((stop - start) / step) };
  });

const sliceCase = dims(1, 4, 4).chain((s) =>
  fc.tuple(...s.map(axisSlice)).map(
    (specs): Case => ({
      name: `slice ${s} by ${JSON.stringify(specs)}`,
      operands: [float(s)],
      f: ([x]) => x!.slice(specs.map((p) => [p.start, p.stop, p.step] as const)),
    }),
  ),
);

const unsliceCase = dims(1, 4, 4).chain((s) =>
  fc.tuple(...s.map(axisSlice)).map((specs): Case => {
    const attrs = { starts: specs.map((p) => p.start), steps: specs.map((p) => p.step), shape: specs.map((p) => p.length) };
    return { name: `unslice into ${s} by ${JSON.stringify(attrs)}`, operands: [float(attrs.shape)], f: ([g]) => unslice(g!, s, attrs) };
  }),
);

const padCase = dims(1, 3).chain((s) =>
  fc
    .record({ widths: fc.array(pair(0, 2), { minLength: s.length, maxLength: s.length }), value: fc.constantFrom(0, 1.5, -2) })
    .map(({ widths, value }): Case => ({ name: `pad ${s} by ${JSON.stringify(widths)} with ${value}`, operands: [float(s)], f: ([x]) => x!.pad(widths, value) })),
);

const concatCase = fc
  .record({ s: dims(1, 3), axis: int(0, 2), sizes: fc.array(int(1, 3), { minLength: 2, maxLength: 3 }) })
  .map(({ s, axis, sizes }): Case => {
    const ax = axis % s.length;
    const shapes = sizes.map((n) => s.map((d, i) => (i === ax ? n : d)));
    return { name: `concat ${JSON.stringify(shapes)} on ${ax}`, operands: shapes.map((sh) => float(sh)), f: (xs) => concat(xs, ax) };
  });

/** x and an index of x's rank, no larger than x except on `axis`, with values < x.shape[axis]. */
const gatherCase = dims(1, 3).chain((s) =>
  fc.record({ axis: int(0, s.length - 1), shrink: fc.array(int(0, 2), { minLength: s.length, maxLength: s.length }), along: int(1, 3) }).map(({ axis, shrink, along }): Case => {
    const idx = s.map((d, i) => (i === axis ? along : Math.max(1, d - shrink[i]!)));
    return { name: `gather ${s} on ${axis} with ${idx}`, operands: [float(s), index(idx, s[axis]!)], f: ([x, i]) => x!.gather(axis, i!) };
  }),
);

const scatterAddCase = dims(1, 3).chain((idx) =>
  fc.record({ axis: int(0, idx.length - 1), grow: fc.array(int(0, 2), { minLength: idx.length, maxLength: idx.length }), bound: int(1, 3) }).map(({ axis, grow, bound }): Case => {
    const out = idx.map((d, i) => (i === axis ? bound : d + grow[i]!));
    return { name: `scatterAdd ${idx} into ${out} on ${axis}`, operands: [float(idx), index(idx, bound)], f: ([src, i]) => scatterAdd(src!, axis, i!, out) };
  }),
);

/** Sizes of an input axis that a window (kernel, dilation, padding) fits, plus 0–3 extra. */
function fitting(k: number, dilation: number, padding: number, extra: number): number {
  return Math.max(1, dilation * (k - 1) + 1 - 2 * padding) + extra;
}

interface ConvSetup {
  x: Shape;
  w: Shape;
  y: Shape;
  geometry: Conv2dGeometry;
}

const convSetup: fc.Arbitrary<ConvSetup> = fc
  .record({
    n: int(1, 2),
    groups: int(1, 2),
    cg: int(1, 2),
    coutg: int(1, 2),
    k: pair(1, 3),
    stride: pair(1, 2),
    padding: pair(0, 1),
    dilation: pair(1, 2),
    extra: pair(0, 2),
  })
  .map(({ n, groups, cg, coutg, k, stride, padding, dilation, extra }) => {
    const hw = [0, 1].map((a) => fitting(k[a]!, dilation[a]!, padding[a]!, extra[a]!));
    const out = [0, 1].map((a) => windowOutput(hw[a]!, k[a]!, stride[a]!, padding[a]!, dilation[a]!));
    return {
      x: [n, groups * cg, ...hw],
      w: [groups * coutg, cg, ...k],
      y: [n, groups * coutg, ...out],
      geometry: { stride, padding, dilation, groups },
    };
  });

const describeConv = (c: ConvSetup) => `x ${c.x}, w ${c.w}, ${JSON.stringify(c.geometry)}`;

const conv2dCase = convSetup.map(
  (c): Case => ({
    name: `conv2d ${describeConv(c)}`,
    operands: [float(c.x), float(c.w)],
    f: ([x, w]) => conv2d(x!, w!, c.geometry),
    primitive: { op: conv2dOp, attrs: c.geometry },
  }),
);

const conv2dBackwardInputCase = convSetup.map(
  (c): Case => ({
    name: `conv2dBackwardInput ${describeConv(c)}`,
    operands: [float(c.y), float(c.w)],
    f: ([g, w]) => conv2dBackwardInput(g!, w!, c.x, c.geometry),
    primitive: { op: conv2dBackwardInputOp, attrs: { ...c.geometry, inputShape: c.x } },
  }),
);

const conv2dBackwardWeightCase = convSetup.map(
  (c): Case => ({
    name: `conv2dBackwardWeight ${describeConv(c)}`,
    operands: [float(c.x), float(c.y)],
    f: ([x, g]) => conv2dBackwardWeight(x!, g!, c.w, c.geometry),
    primitive: { op: conv2dBackwardWeightOp, attrs: { ...c.geometry, weightShape: c.w } },
  }),
);

interface PoolSetup {
  x: Shape;
  y: Shape;
  geometry: AvgPoolGeometry;
}

const poolSetup = (maxDilation: number): fc.Arbitrary<PoolSetup> =>
  fc
    .record({ n: int(1, 2), c: int(1, 2), k: pair(1, 3), stride: pair(1, 2), pad: pair(0, 1), dilation: pair(1, maxDilation), extra: pair(0, 2), countIncludePad: fc.boolean() })
    .map(({ n, c, k, stride, pad, dilation, extra, countIncludePad }) => {
      const padding: Pair = [Math.min(pad[0], Math.floor(k[0] / 2)), Math.min(pad[1], Math.floor(k[1] / 2))];
      const hw = [0, 1].map((a) => fitting(k[a]!, dilation[a]!, padding[a]!, extra[a]!));
      const out = [0, 1].map((a) => windowOutput(hw[a]!, k[a]!, stride[a]!, padding[a]!, dilation[a]!));
      return { x: [n, c, ...hw], y: [n, c, ...out], geometry: { kernel: k, stride, padding, dilation, countIncludePad } };
    });

const avgPool2dCase = poolSetup(1).map(
  (p): Case => ({
    name: `avgPool2d ${p.x} ${JSON.stringify(p.geometry)}`,
    operands: [float(p.x)],
    f: ([x]) => avgPool2d(x!, p.geometry.kernel, { stride: p.geometry.stride, padding: p.geometry.padding, countIncludePad: p.geometry.countIncludePad }),
  }),
);

const avgPool2dBackwardCase = poolSetup(1).map(
  (p): Case => ({
    name: `avgPool2dBackward ${p.y} → ${p.x} ${JSON.stringify(p.geometry)}`,
    operands: [float(p.y)],
    f: ([g]) => avgPool2dBackward(g!, p.x, p.geometry),
  }),
);

const maxPool2dCase = poolSetup(2).map(
  (p): Case => ({
    name: `maxPool2d ${p.x} ${JSON.stringify(p.geometry)}`,
    operands: [float(p.x, true)],
    f: ([x]) => maxPool2d(x!, p.geometry.kernel, { stride: p.geometry.stride, padding: p.geometry.padding, dilation: p.geometry.dilation }).values,
  }),
);

const maxPool2dIndicesCase = poolSetup(2).map(
  (p): Case => ({
    name: `maxPool2d indices ${p.x} ${JSON.stringify(p.geometry)}`,
    operands: [float(p.x, true)],
    f: ([x]) => maxPool2d(x!, p.geometry.kernel, { stride: p.geometry.stride, padding: p.geometry.padding, dilation: p.geometry.dilation }).indices,
  }),
);

const CASES: [string, fc.Arbitrary<Case>][] = [
  ['permute', permuteCase],
  ['expand', expandCase],
  ['slice', sliceCase],
  ['unslice', unsliceCase],
  ['pad', padCase],
  ['concat', concatCase],
  ['gather', gatherCase],
  ['scatterAdd', scatterAddCase],
  ['conv2d', conv2dCase],
  ['conv2dBackwardInput', conv2dBackwardInputCase],
  ['conv2dBackwardWeight', conv2dBackwardWeightCase],
  ['avgPool2d', avgPool2dCase],
  ['avgPool2dBackward', avgPool2dBackwardCase],
  ['maxPool2d', maxPool2dCase],
  ['maxPool2d indices', maxPool2dIndicesCase],
];

// ---- values and tensors ---------------------------------------------------------------------

/** n values for an operand (distinct ones: a shuffled grid of step 0.5, shifted). */
function valuesFor(op: Operand, n: number): fc.Arbitrary<number[]> {
  if (op.kind === 'index') return fc.array(int(0, op.bound! - 1), { minLength: n, maxLength: n });
  if (op.distinct) {
    const grid = Array.from({ length: n }, (_, i) => i);
    return fc
      .record({ order: fc.shuffledSubarray(grid, { minLength: n, maxLength: n }), offset: fc.double({ min: -3, max: 3, noNaN: true }) })
      .map(({ order, offset }) => order.map((i) => offset + (i - n / 2) * 0.5));
  }
  return fc.array(fc.double({ min: -10, max: 10, noNaN: true, noDefaultInfinity: true }), { minLength: n, maxLength: n });
}

const layoutArb = (s: Shape) =>
  fc.record({
    kind: fc.constantFrom(...LAYOUTS),
    perm: fc.shuffledSubarray(s.map((_, i) => i), { minLength: s.length, maxLength: s.length }),
    starts: fc.array(int(0, 1), { minLength: s.length, maxLength: s.length }),
    steps: fc.array(int(1, 2), { minLength: s.length, maxLength: s.length }),
    spare: fc.array(int(0, 1), { minLength: s.length, maxLength: s.length }),
    expanded: fc.constant(s.map(() => false)),
    dropLeading: fc.constant(0),
  });

/** A tensor of shape `shape` holding `values` (row-major) in a random physical layout. */
interface Physical {
  shape: Shape;
  values: number[];
  layout: Layout;
}

function build(p: Physical, kind: Operand['kind']): Tensor {
  return materialize({ shape: p.shape.slice(), values: p.values, layout: p.layout }, { dtype: kind === 'index' ? 'int32' : 'float64' });
}

const plain = (values: readonly number[], s: Shape, kind: Operand['kind'] = 'float'): Tensor =>
  kind === 'index' ? tensor(Int32Array.from(values), { shape: s }) : tensor(Float64Array.from(values), { shape: s, dtype: 'float64' });

/** Sample b of row-major values of shape `phys` with the batch axis at `dim`. */
function sampleOf(values: readonly number[], phys: Shape, dim: number, b: number): number[] {
  const s = phys.filter((_, d) => d !== dim);
  return Array.from({ length: sizeOf(s) }, (_, k) => {
    const idx = unravel(k, s);
    idx.splice(dim, 0, b);
    return values[ravel(idx, phys)]!;
  });
}

const withBatch = (s: Shape, dim: number, size: number): Shape => [...s.slice(0, dim), size, ...s.slice(dim)];

function expectClose(got: Tensor, want: Tensor, what: string): void {
  expect(got.shape, `${what}: shape`).toEqual(want.shape);
  const g = valuesOf(got);
  const w = valuesOf(want);
  const scale = Math.max(1, ...w.map(Math.abs));
  g.forEach((v, k) => {
    if (!(Math.abs(v - w[k]!) <= TOL * scale)) {
      expect.fail(`${what}: element ${k} (index [${unravel(k, want.shape)}]) is ${v}, expected ${w[k]} (got ${JSON.stringify(g)}, expected ${JSON.stringify(w)})`);
    }
  });
}

// ---- 1. JVP rules against central differences -----------------------------------------------

interface JvpInstance {
  c: Case;
  values: number[][];
  tangents: number[][];
  layouts: Physical['layout'][];
  /** Which float operands carry a tangent (the others are constants). */
  active: boolean[];
}

const jvpInstance = (arb: fc.Arbitrary<Case>): fc.Arbitrary<JvpInstance> =>
  arb.chain((c) =>
    fc
      .record({
        values: fc.tuple(...c.operands.map((op) => valuesFor(op, sizeOf(op.shape)))),
        tangents: fc.tuple(...c.operands.map((op) => valuesFor({ ...op, distinct: false }, op.kind === 'float' ? sizeOf(op.shape) : 0))),
        layouts: fc.tuple(...c.operands.map((op) => layoutArb(op.shape))),
        active: fc.array(fc.boolean(), { minLength: c.operands.length, maxLength: c.operands.length }),
      })
      .map((r) => {
        const active = c.operands.map((op, i) => op.kind === 'float' && r.active[i]!);
        // At least one tangent: the first float operand when the draw chose none.
        if (!active.some(Boolean)) active[c.operands.findIndex((op) => op.kind === 'float')] = true;
        return { c, values: r.values, tangents: r.tangents, layouts: r.layouts, active };
      }),
  );

function checkJvp({ c, values, tangents, layouts, active }: JvpInstance): void {
  const primals = c.operands.map((op, i) => build({ shape: op.shape, values: values[i]!, layout: layouts[i]! }, op.kind));
  const slots = active.flatMap((a, i) => (a ? [i] : []));
  const call = (ps: Tensor[]) => c.f(primals.map((x, i) => (active[i] ? ps[slots.indexOf(i)]! : x)));
  const [, tangent] = jvp((...ps: Tensor[]) => call(ps), slots.map((i) => primals[i]!), slots.map((i) => plain(tangents[i]!, c.operands[i]!.shape)));
  // (f(x + h·t) − f(x − h·t)) / 2h, in plain float64 arithmetic on the values.
  const shifted = (sign: number) =>
    call(slots.map((i) => plain(values[i]!.map((v, k) => v + sign * H * tangents[i]![k]!), c.operands[i]!.shape)));
  const plus = valuesOf(shifted(1));
  const minus = valuesOf(shifted(-1));
  const numeric = plain(plus.map((p, k) => (p - minus[k]!) / (2 * H)), shifted(1).shape);
  expectClose(tangent, numeric, `${c.name}: jvp (tangents on inputs ${slots}) vs central difference`);
}

describe('JVP rules match central differences (float64)', () => {
  // The indices of max pooling are integers: no tangent to check.
  for (const [name, arb] of CASES.filter(([n]) => n !== 'maxPool2d indices')) {
    it(name, () => {
      fc.assert(
        fc.property(jvpInstance(arb), (inst) => checkJvp(inst)),
        { numRuns: RUNS },
      );
    });
  }
});

// ---- 2. batching rules against a loop over the batch ----------------------------------------

interface BatchInstance {
  c: Case;
  size: number;
  /** Each operand's batch axis, or null. */
  dims: (number | null)[];
  /** Each operand's physical values (row-major, batch axis included) and layout. */
  physical: Physical[];
}

const batchInstance = (arb: fc.Arbitrary<Case>): fc.Arbitrary<BatchInstance> =>
  arb.chain((c) =>
    fc
      .record({
        size: int(1, 3),
        batched: fc.array(fc.boolean(), { minLength: c.operands.length, maxLength: c.operands.length }),
        where: fc.tuple(...c.operands.map((op) => int(0, op.shape.length))),
      })
      .chain(({ size, batched, where }) => {
        const on = batched.some(Boolean) ? batched : batched.map((_, i) => i === 0);
        const dims = c.operands.map((_, i) => (on[i] ? where[i]! : null));
        const shapes = c.operands.map((op, i) => (dims[i] === null ? op.shape : withBatch(op.shape, dims[i]!, size)));
        return fc
          .tuple(...c.operands.map((op, i) => fc.tuple(valuesFor(op, sizeOf(shapes[i]!)), layoutArb(shapes[i]!))))
          .map((parts) => ({ c, size, dims, physical: parts.map(([values, layout], i) => ({ shape: shapes[i]!, values, layout })) }));
      }),
  );

/** The op applied to sample b alone (unbatched operands shared by every sample). */
function perSample({ c, dims, physical }: BatchInstance, b: number): Tensor {
  return c.f(c.operands.map((op, i) => (dims[i] === null ? plain(physical[i]!.values, op.shape, op.kind) : plain(sampleOf(physical[i]!.values, physical[i]!.shape, dims[i]!, b), op.shape, op.kind))));
}

/** Compare a physical result (batch axis `dim`) with the loop, sample by sample. */
function expectMatchesLoop(inst: BatchInstance, value: Tensor, dim: number, what: string): void {
  expect(value.shape[dim], `${what}: batch axis ${dim} of ${value.shape}`).toBe(inst.size);
  const all = valuesOf(value);
  for (let b = 0; b < inst.size; b++) {
    const want = perSample(inst, b);
    const got = plain(sampleOf(all, value.shape, dim, b), want.shape, want.dtype === 'int32' ? 'index' : 'float');
    expectClose(got, want, `${what}, sample ${b}`);
  }
}

function checkBatch(inst: BatchInstance): void {
  const { c, size, dims, physical } = inst;
  const inputs = physical.map((p, i) => build(p, c.operands[i]!.kind));
  const out = withBatchLevel(size, (level) => {
    const y = c.f(inputs.map((x, i) => (dims[i] === null ? x : new BatchedTensor(x, dims[i]!, level))));
    expect(y, `${c.name}: the result is batched`).toBeInstanceOf(BatchedTensor);
    return y as BatchedTensor;
  });
  expectMatchesLoop(inst, out.value, out.bdim, `${c.name} with batch axes [${dims}] of size ${size}`);
}

describe('batching rules match a loop over the batch', () => {
  for (const [name, arb] of CASES) {
    it(name, () => {
      fc.assert(
        fc.property(batchInstance(arb), (inst) => checkBatch(inst)),
        { numRuns: RUNS },
      );
    });
  }
});

// ---- 3. nested vmap: two levels -------------------------------------------------------------

interface NestedInstance {
  c: Case;
  outer: number;
  inner: number;
  /** Per operand: batched at the outer level (axis 0) / the inner level (next axis). */
  levels: [boolean, boolean][];
  values: number[][];
}

const nestedInstance = (arb: fc.Arbitrary<Case>): fc.Arbitrary<NestedInstance> =>
  arb.chain((c) =>
    fc
      .record({ outer: int(1, 3), inner: int(1, 3), levels: fc.array(fc.tuple(fc.boolean(), fc.boolean()), { minLength: c.operands.length, maxLength: c.operands.length }) })
      .chain(({ outer, inner, levels: drawn }) => {
        // vmap needs a batched argument at each level: the first operand at the outer one, the
        // last at the inner one, when the draw chose none.
        const n = c.operands.length;
        const levels = drawn.map(([a, b], i): [boolean, boolean] => [
          a || (i === 0 && !drawn.some(([x]) => x)),
          b || (i === n - 1 && !drawn.some(([, y]) => y)),
        ]);
        const shapes = c.operands.map((op, i) => [...(levels[i]![0] ? [outer] : []), ...(levels[i]![1] ? [inner] : []), ...op.shape]);
        return fc.tuple(...c.operands.map((op, i) => valuesFor(op, sizeOf(shapes[i]!)))).map((values) => ({ c, outer, inner, levels, values }));
      }),
  );

function checkNested({ c, outer, inner, levels, values }: NestedInstance): void {
  const shapes = c.operands.map((op, i) => [...(levels[i]![0] ? [outer] : []), ...(levels[i]![1] ? [inner] : []), ...op.shape]);
  const inputs = c.operands.map((op, i) => plain(values[i]!, shapes[i]!, op.kind));
  const f = (...xs: Tensor[]) => c.f(xs);
  // The inner vmap maps the inner axis: axis 0 of what the outer vmap hands it.
  const innerAxes = levels.map(([, b]) => (b ? 0 : null));
  const outerAxes = levels.map(([a]) => (a ? 0 : null));
  const y = vmap((...xs: Tensor[]) => vmap(f, { inAxes: innerAxes })(...xs), { inAxes: outerAxes })(...inputs);
  const all = valuesOf(y);
  for (let a = 0; a < outer; a++) {
    for (let b = 0; b < inner; b++) {
      const sample = c.operands.map((op, i) => {
        let v = values[i]!;
        let s = shapes[i]!;
        if (levels[i]![0]) [v, s] = [sampleOf(v, s, 0, a), s.slice(1)];
        if (levels[i]![1]) [v, s] = [sampleOf(v, s, 0, b), s.slice(1)];
        return plain(v, s, op.kind);
      });
      const want = c.f(sample);
      const got = sampleOf(sampleOf(all, y.shape, 0, a), y.shape.slice(1), 0, b);
      expectClose(plain(got, want.shape, want.dtype === 'int32' ? 'index' : 'float'), want, `${c.name}, levels ${JSON.stringify(levels)}, sample (${a}, ${b})`);
    }
  }
}

describe('nested vmap (two levels) matches a double loop', () => {
  for (const [name, arb] of CASES) {
    it(name, () => {
      fc.assert(
        fc.property(nestedInstance(arb), (inst) => checkNested(inst)),
        { numRuns: 15 },
      );
    });
  }
});

// ---- 4. the generic loop fallback -----------------------------------------------------------

describe('loopBatch (rules.ts) matches a loop over the batch', () => {
  for (const [name, arb] of CASES.filter(([n]) => n.startsWith('conv2d'))) {
    it(name, () => {
      fc.assert(
        fc.property(batchInstance(arb), (inst) => {
          const { op, attrs } = inst.c.primitive!;
          const rule = loopBatch((xs: Tensor[], a: unknown) => apply(op, xs, a));
          const inputs = inst.physical.map((p, i) => build(p, inst.c.operands[i]!.kind));
          const out = rule({ inputs, dims: inst.dims, attrs, size: inst.size, unwrap: (t) => ({ value: t, dim: null }) });
          expectMatchesLoop(inst, out.value, out.dim, `loopBatch(${inst.c.name}) with batch axes [${inst.dims}]`);
        }),
        { numRuns: 20 },
      );
    });
  }
});
