/**
 * Property tests of the forward-mode (`jvp`) and batching (`batch`) rules of the elementwise
 * primitives, matmul, cast/copy/identity and the non-differentiable ops (op.ts, nondiff.ts).
 *
 *   1. JVP against central differences (float64), with some operands' tangents null (a
 *      constant operand), on random layouts and broadcasting shapes;
 *   2. JVP against backward on a grid of kinks, ties and zeros (relu/abs/elu at 0, maximum and
 *      minimum at ties, pow at a = 0): the two rules must make the same choices there;
 *   3. the batching rule against a loop over the batch: for random per-sample shapes, batch
 *      sizes, batch axes (not only 0) and mixes of batched and unbatched operands, the op on
 *      `BatchedTensor`s inside `withBatchLevel` equals the op applied to each sample's slice;
 *   4. the JVP rules under vmap (tangents batched too) against the same loop;
 * plus examples for the points the properties do not reach (NaN tangents, cast to int32).
 *
 * The rules are reached through the interpreters directly (`withTangentLevel`,
 * `withBatchLevel`), so a failure points at a rule, not at the public transforms built on them;
 * a few checks at the end compare with the public `jvp` and `vmap`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { grad, jvp, tensor, vmap, where, type Tensor } from '../../src/index.js';
import { BatchedTensor, withBatchLevel } from '../../src/autograd/batching.js';
import { withTangentLevel } from '../../src/autograd/forward-mode.js';
import { stopGradientMax } from '../../src/autograd/nondiff.js';
import { identity } from '../../src/autograd/ops/identity.js';
import { broadcastableShapes, mapSpec, materialize, matmulPair, ravel, shape, sizeOf, specOf, unravel, valuesOf, type Shape } from '../arbitraries.js';
import { CATALOGUE, anywhere, type Domain } from '../catalogue.js';
import { expectAllClose, isClose } from '../gradcheck.js';

const RUNS = { fd: 30, kinks: 40, batch: 30, batchJvp: 20 };

interface RuleEntry {
  name: string;
  arity: number;
  fn: (...xs: Tensor[]) => Tensor;
  domain: Domain[];
  /** Per-sample shapes of the arguments. */
  shapes: fc.Arbitrary<Shape[]>;
  differentiable: boolean;
}

const elementwiseShapes = (n: number, maxRank = 3): fc.Arbitrary<Shape[]> => (n === 1 ? shape(0, maxRank).map((s) => [s]) : broadcastableShapes(n, maxRank));
const matmulShapes: fc.Arbitrary<Shape[]> = matmulPair.map(({ a, b }) => [a, b]);
const atLeast = (rank: number): fc.Arbitrary<Shape[]> => shape(rank, 3).map((s) => [s]);

/** The catalogue's elementwise ops, and the rest of the primitives these rules cover. */
const ENTRIES: RuleEntry[] = [
  ...CATALOGUE.map((e) => ({ ...e, shapes: elementwiseShapes(e.arity) })),
  { name: 'identity', arity: 1, fn: (x) => identity(x!), domain: [anywhere], shapes: elementwiseShapes(1), differentiable: true },
  { name: 'clone', arity: 1, fn: (x) => x!.clone(), domain: [anywhere], shapes: elementwiseShapes(1), differentiable: true },
  // Casts are checked by the batching properties and by the examples below (in float32 a
  // central difference with h = 1e-6 is rounding noise), not by the FD property.
  { name: 'cast(float32)', arity: 1, fn: (x) => x!.to('float32'), domain: [anywhere], shapes: elementwiseShapes(1), differentiable: false },
  { name: 'cast(int32)', arity: 1, fn: (x) => x!.to('int32'), domain: [anywhere], shapes: elementwiseShapes(1), differentiable: false },
  { name: 'matmul', arity: 2, fn: (a, b) => a!.matmul(b!), domain: [anywhere, anywhere], shapes: matmulShapes, differentiable: true },
  { name: 'argmax()', arity: 1, fn: (x) => x!.argmax(), domain: [anywhere], shapes: elementwiseShapes(1), differentiable: false },
  { name: 'argmin(keepdim)', arity: 1, fn: (x) => x!.argmin(null, true), domain: [anywhere], shapes: elementwiseShapes(1), differentiable: false },
  { name: 'argmax(-1, keepdim)', arity: 1, fn: (x) => x!.argmax(-1, true), domain: [anywhere], shapes: atLeast(1), differentiable: false },
  { name: 'argmin(0)', arity: 1, fn: (x) => x!.argmin(0), domain: [anywhere], shapes: atLeast(1), differentiable: false },
  { name: 'stopGradientMax(all)', arity: 1, fn: (x) => stopGradientMax(x!, null), domain: [anywhere], shapes: elementwiseShapes(1), differentiable: false },
  { name: 'stopGradientMax([0, -1])', arity: 1, fn: (x) => stopGradientMax(x!, [0, -1]), domain: [anywhere], shapes: atLeast(2), differentiable: false },
];

const byName = (name: string): RuleEntry => ENTRIES.find((e) => e.name === name)!;

/** A tangent element: spread over [−2, 2] (fc.double favours tiny and subnormal values, which any rule would pass). */
const tangentValue = fc.integer({ min: -1000, max: 1000 }).map((v) => v / 500);

// ---- helpers -------------------------------------------------------------------------------

/**
 * f's output and its tangent by the JVP rules: each input gets a fresh node (identity) whose
 * tangent is set at a new forward-mode level; a null tangent leaves the input constant.
 * Undefined tangent: no rule produced one (the output does not depend on a tangent).
 */
function tangentOf(f: (...xs: Tensor[]) => Tensor, inputs: readonly Tensor[], tangents: readonly (Tensor | null)[]): { out: Tensor; tangent: Tensor | undefined } {
  return withTangentLevel((level) => {
    const fresh = inputs.map((x, i) => {
      const t = tangents[i];
      if (!t) return x;
      const y = identity(x);
      level.set(y, t);
      return y;
    });
    const out = f(...fresh);
    return { out, tangent: level.get(out) };
  });
}

const f64 = (values: readonly number[], s: readonly number[]): Tensor => tensor(Float64Array.from(values), { shape: s.slice(), dtype: 'float64' });

/** Logical values of `tangent` broadcast to the output's size, or zeros when there is none. */
function tangentValues(tangent: Tensor | undefined, out: Tensor): number[] {
  if (!tangent) return new Array<number>(out.size).fill(0);
  expect(tangent.shape, 'tangent shape').toEqual(out.shape);
  return valuesOf(tangent);
}

/** The physical shape with the batch axis of size `size` inserted at `axis`. */
const withAxis = (s: readonly number[], axis: number, size: number): Shape => [...s.slice(0, axis), size, ...s.slice(axis)];

/** Row-major values of sample `k` along axis `axis` of a tensor of `physShape` holding `values`. */
function sampleValues(values: readonly number[], physShape: readonly number[], axis: number, k: number): number[] {
  const logical = physShape.filter((_, i) => i !== axis);
  return Array.from({ length: sizeOf(logical) }, (_, flat) => values[ravel(withAxis(unravel(flat, logical), axis, k), physShape)]!);
}

interface BatchCase {
  size: number;
  /** Per argument: its per-sample shape, its batch axis (null: unbatched), its physical values and layout. */
  args: { shape: Shape; axis: number | null; phys: Tensor; values: number[] }[];
}

/** Random batch size, batch axes (any position, some operands unbatched) and physical layouts. */
function batchCase(entry: RuleEntry, options: { allUnbatchedOk?: boolean } = {}): fc.Arbitrary<BatchCase> {
  return fc
    .record({
      shapes: entry.shapes,
      size: fc.integer({ min: 1, max: 3 }),
      batched: fc.array(fc.boolean(), { minLength: entry.arity, maxLength: entry.arity }),
      which: fc.nat(entry.arity - 1),
      axisSeeds: fc.array(fc.nat(16), { minLength: entry.arity, maxLength: entry.arity }),
    })
    .chain(({ shapes, size, batched, which, axisSeeds }) => {
      // At least one batched operand (else the interpreter never calls the rule).
      const isBatched = batched.map((b, i) => b || (i === which && !options.allUnbatchedOk));
      const axes = shapes.map((s, i) => (isBatched[i] ? axisSeeds[i]! % (s.length + 1) : null));
      const physShapes = shapes.map((s, i) => (axes[i] === null ? s : withAxis(s, axes[i]!, size)));
      return fc.tuple(...physShapes.map((s, i) => specOf(s).map((spec) => mapSpec(spec, entry.domain[i]!)))).map((specs) => ({
        size,
        args: specs.map((spec, i) => ({ shape: shapes[i]!, axis: axes[i]!, phys: materialize(spec), values: spec.values })),
      }));
    });
}

/** Sample k's argument values, as plain tensors. */
function sampleArgs(c: BatchCase, k: number): Tensor[] {
  return c.args.map((a) => (a.axis === null ? a.phys : f64(sampleValues(a.values, withAxis(a.shape, a.axis, c.size), a.axis, k), a.shape)));
}

/** Check a result of the batched run (physical value + batch axis) against the loop's per-sample results. */
function expectMatchesLoop(actual: Tensor, c: BatchCase, expected: (k: number) => Tensor | undefined, what: string): void {
  let phys: Tensor;
  let bdim: number | null;
  if (actual instanceof BatchedTensor) {
    phys = actual.value;
    bdim = actual.bdim;
    expect(phys.shape[bdim], `${what}: batch axis size`).toBe(c.size);
  } else {
    phys = actual; // the same for every sample
    bdim = null;
  }
  const values = valuesOf(phys);
  for (let k = 0; k < c.size; k++) {
    const e = expected(k);
    const logical = bdim === null ? phys.shape : phys.shape.filter((_, i) => i !== bdim);
    const got = bdim === null ? values : sampleValues(values, phys.shape, bdim, k);
    if (!e) {
      expectAllClose(got, new Array<number>(got.length).fill(0), { what: `${what}, sample ${k} (expected a zero tangent)` });
      continue;
    }
    expect(logical, `${what}, sample ${k}: shape`).toEqual(e.shape);
    expect(phys.dtype, `${what}: dtype`).toBe(e.dtype);
    expectAllClose(got, valuesOf(e), { what: `${what}, sample ${k}`, shape: e.shape });
  }
}

const describeCase = (c: BatchCase): string => c.args.map((a) => `[${a.shape}]@${a.axis === null ? 'unbatched' : `axis ${a.axis}`}`).join(', ') + ` × ${c.size}`;

// ---- 1. JVP vs central differences ---------------------------------------------------------

const H = 1e-6;

describe('jvp rules match central differences (float64)', () => {
  for (const entry of ENTRIES.filter((e) => e.differentiable)) {
    it(entry.name, () => {
      fc.assert(
        fc.property(
          entry.shapes.chain((ss) =>
            fc.record({
              specs: fc.tuple(...ss.map((s, k) => specOf(s).map((spec) => mapSpec(spec, entry.domain[k]!)))),
              tangents: fc.tuple(...ss.map((s) => fc.array(tangentValue, { minLength: sizeOf(s), maxLength: sizeOf(s) }))),
              // Which operands carry a tangent (the others are constants); at least one does.
              active: fc.array(fc.boolean(), { minLength: ss.length, maxLength: ss.length }),
              first: fc.nat(ss.length - 1),
            }),
          ),
          ({ specs, tangents, active, first }) => {
            const on = active.map((a, k) => a || k === first);
            const inputs = specs.map((s) => materialize(s));
            const ts = specs.map((s, k) => (on[k] ? f64(tangents[k]!, s.shape) : null));
            const { out, tangent } = tangentOf(entry.fn, inputs, ts);
            const got = tangentValues(tangent, out);
            const moved = (sgn: number) => entry.fn(...specs.map((s, k) => f64(s.values.map((v, i) => v + (on[k] ? sgn * H * tangents[k]![i]! : 0)), s.shape)));
            const plus = valuesOf(moved(1));
            const minus = valuesOf(moved(-1));
            const y = valuesOf(out);
            got.forEach((g, i) => {
              const fd = (plus[i]! - minus[i]!) / (2 * H);
              // Rounding in the difference is ≈ ε·|y|/h ≈ 1e-10·|y|; rtol covers truncation.
              if (!isClose(g, fd, 1e-5, 1e-7 + 1e-9 * Math.abs(y[i]!))) {
                throw new Error(`${entry.name}: tangent element ${i}: rule ${g}, central difference ${fd} (y = ${y[i]}, tangents on ${on})`);
              }
            });
          },
        ),
        { numRuns: RUNS.fd },
      );
    });
  }

  it('non-differentiable ops carry no tangent', () => {
    for (const entry of ENTRIES.filter((e) => !e.differentiable && e.name !== 'cast(float32)')) {
      const x = f64([0.5, -1, 2, 3, 0, -2], [2, 3]);
      const inputs = Array.from({ length: entry.arity }, () => x);
      const { tangent } = tangentOf(entry.fn, inputs, inputs.map(() => x.neg()));
      if (tangent) expect(valuesOf(tangent).every((v) => v === 0), entry.name).toBe(true);
    }
  });
});

// ---- 2. JVP vs backward at kinks, ties and zeros ---------------------------------------------

/** Raw values with zeros, ties and the kinks of relu, abs, elu, maximum, minimum and pow. */
const KINKS = [-2, -1, -0.5, 0, 0.5, 1, 2];

describe('jvp rules make the same choices as backward at kinks, ties and zeros', () => {
  // Elementwise ops on inputs of one shape: the Jacobian is diagonal, so the tangent of element
  // i is Σₖ (∂y/∂xₖ)ᵢ·tₖᵢ with ∂y/∂xₖ the gradient of Σy — whatever backward chose at a kink.
  for (const entry of CATALOGUE.filter((e) => e.differentiable)) {
    it(entry.name, () => {
      fc.assert(
        fc.property(
          shape(1, 3).chain((s) =>
            fc.record({
              values: fc.tuple(...Array.from({ length: entry.arity }, () => fc.array(fc.constantFrom(...KINKS), { minLength: sizeOf(s), maxLength: sizeOf(s) }))),
              tangents: fc.tuple(...Array.from({ length: entry.arity }, () => fc.array(tangentValue, { minLength: sizeOf(s), maxLength: sizeOf(s) }))),
              s: fc.constant(s),
            }),
          ),
          ({ values, tangents, s }) => {
            const inputs = values.map((v) => f64(v, s));
            const ts = tangents.map((t) => f64(t, s));
            const { out, tangent } = tangentOf(entry.fn, inputs, ts);
            const grads = grad((...xs: Tensor[]) => entry.fn(...xs).sum(), { argnums: inputs.map((_, k) => k) })(...inputs) as Tensor[];
            const gv = grads.map(valuesOf);
            const expected = Array.from({ length: out.size }, (_, i) => gv.reduce((acc, g, k) => acc + g[i]! * tangents[k]![i]!, 0));
            expectAllClose(tangentValues(tangent, out), expected, { rtol: 1e-12, atol: 1e-12, what: `${entry.name} at [${values.map((v) => `[${v}]`).join(', ')}]` });
          },
        ),
        { numRuns: RUNS.kinks },
      );
    });
  }
});

describe('jvp rules: examples', () => {
  it('maximum and minimum split a tie evenly, like their backward', () => {
    const a = f64([1, 2, 3], [3]);
    const b = f64([1, 0, 3], [3]);
    const ta = f64([1, 1, 4], [3]);
    const tb = f64([3, 5, 0], [3]);
    expect(valuesOf(tangentOf((x, y) => x!.maximum(y!), [a, b], [ta, tb]).tangent!)).toEqual([2, 1, 2]);
    expect(valuesOf(tangentOf((x, y) => x!.minimum(y!), [a, b], [ta, tb]).tangent!)).toEqual([2, 5, 2]);
  });

  it('relu selects its tangent, so a NaN or infinite tangent where x ≤ 0 gives 0', () => {
    const x = f64([-1, 0, 2], [3]);
    const t = f64([Number.NaN, Number.POSITIVE_INFINITY, 3], [3]);
    expect(valuesOf(tangentOf((v) => v!.relu(), [x], [t]).tangent!)).toEqual([0, 0, 3]);
  });

  it('pow at a = 0: the masked points give 0, not 0·∞ (as backward)', () => {
    const a = f64([0, 0, 0, 2], [4]);
    const b = f64([0, 2, 0.5, 3], [4]);
    // ∂/∂a at (0, 0) is 0; at (0, 2) it is 2·0 = 0; at (0, 0.5) 0.5·0^(−0.5) = ∞ (true); at (2, 3) 12.
    expect(valuesOf(tangentOf((x, y) => x!.pow(y!), [a, b], [f64([1, 1, 1, 1], [4]), null]).tangent!)).toEqual([0, 0, Number.POSITIVE_INFINITY, 12]);
    // ∂/∂b = aᵇ·ln a: 0 where a = 0 and b ≥ 0; 8·ln 2 at (2, 3).
    const db = valuesOf(tangentOf((x, y) => x!.pow(y!), [a, b], [null, f64([1, 1, 1, 1], [4])]).tangent!);
    expect(db.slice(0, 3)).toEqual([0, 0, 0]);
    expect(db[3]).toBeCloseTo(8 * Math.log(2), 12);
  });

  it('div of huge and tiny denominators: −t·(a/b)/b stays finite where b·b would not', () => {
    const a = tensor([1e-30, 3e30], { dtype: 'float32' });
    const b = tensor([1e-25, 2e20], { dtype: 'float32' });
    const tb = tensor([1, 1], { dtype: 'float32' });
    const got = valuesOf(tangentOf((x, y) => x!.div(y!), [a, b], [null, tb]).tangent!);
    // −a/b²: −1e-30/1e-50 = −1e20 and −3e30/4e40 = −7.5e-11, both float32 numbers.
    expect(got[0]! / -1e20).toBeCloseTo(1, 5);
    expect(got[1]! / -7.5e-11).toBeCloseTo(1, 5);
  });

  it('elu: the branch not taken never overflows (αe^{min(x,0)})', () => {
    const x = f64([1000, -1000, -1], [3]);
    const got = valuesOf(tangentOf((v) => v!.elu(2), [x], [f64([1, 1, 1], [3])]).tangent!);
    expect(got[0]).toBe(1);
    expect(got[1]).toBe(0);
    expect(got[2]).toBeCloseTo(2 * Math.exp(-1), 14);
  });

  it('cast: the tangent is cast alike; to int32 it is zero', () => {
    const x = f64([0.1, 1.7, -2.5], [3]);
    const t = f64([1 / 3, -2, 1e-3], [3]);
    const f32 = tangentOf((v) => v!.to('float32'), [x], [t]).tangent!;
    expect(f32.dtype).toBe('float32');
    expect(valuesOf(f32)).toEqual([1 / 3, -2, 1e-3].map(Math.fround));
    const i32 = tangentOf((v) => v!.to('int32'), [x], [t]);
    expect(i32.out.dtype).toBe('int32');
    expect(valuesOf(i32.tangent!)).toEqual([0, 0, 0]);
  });

  it('agrees with the public jvp', () => {
    const x = f64([0.3, -1.2, 2], [3]);
    const y = f64([1.5, 0.5, -0.7], [3]);
    const f = (a: Tensor, b: Tensor) => a.mul(b).div(b.exp()).tanh();
    const [, pub] = jvp(f, [x, y], [y, x]);
    expectAllClose(pub, valuesOf(tangentOf(f as (...xs: Tensor[]) => Tensor, [x, y], [y, x]).tangent!), { what: 'public jvp' });
  });
});

// ---- 3. batching rules vs a loop -----------------------------------------------------------

describe('batching rules match a loop over the batch', () => {
  for (const entry of ENTRIES) {
    it(entry.name, () => {
      fc.assert(
        fc.property(batchCase(entry), (c) => {
          const actual = withBatchLevel(c.size, (level) => {
            const y = entry.fn(...c.args.map((a) => (a.axis === null ? a.phys : new BatchedTensor(a.phys, a.axis, level))));
            expect(y, `${entry.name}: a batched result`).toBeInstanceOf(BatchedTensor);
            expect((y as BatchedTensor).level).toBe(level);
            return y;
          });
          expectMatchesLoop(actual, c, (k) => entry.fn(...sampleArgs(c, k)), `${entry.name} (${describeCase(c)})`);
        }),
        { numRuns: RUNS.batch },
      );
    });
  }

  it('where with only the condition batched', () => {
    const cond = f64([1, -1, -1, 1], [2, 2]); // two samples of [2] along axis 1
    const y = withBatchLevel(2, (level) => where(new BatchedTensor(cond, 1, level).gt(0), f64([10, 20], [2]), f64([-1, -2], [2])));
    expect(y).toBeInstanceOf(BatchedTensor);
    const { value, bdim } = y as BatchedTensor;
    // sample 0: cond [1, −1] → [10, −2]; sample 1: cond [−1, 1] → [−1, 20].
    expect([0, 1].map((k) => sampleValues(valuesOf(value), value.shape, bdim, k))).toEqual([
      [10, -2],
      [-1, 20],
    ]);
  });

  it('cast to int32 inside vmap checks the physical values', () => {
    const x = f64([1.5, Number.NaN], [2]);
    expect(() => withBatchLevel(2, (level) => new BatchedTensor(x, 0, level).to('int32'))).toThrow(/NaN at flat index 1 has no int32 value/);
  });
});

// ---- 4. JVP rules under vmap ---------------------------------------------------------------

describe('jvp rules under vmap (batched primals and tangents) match a loop', () => {
  for (const entry of ENTRIES.filter((e) => e.differentiable)) {
    it(entry.name, () => {
      fc.assert(
        fc.property(
          batchCase(entry).chain((c) =>
            fc.record({
              c: fc.constant(c),
              // Per argument: a tangent batched like it (or unbatched), or none.
              kinds: fc.array(fc.constantFrom('batched', 'none'), { minLength: entry.arity, maxLength: entry.arity }),
              seeds: fc.array(fc.integer(), { minLength: entry.arity, maxLength: entry.arity }),
            }),
          ),
          ({ c, kinds, seeds }) => {
            // Tangent values: a simple function of the primal's values and a seed (any values do).
            const tangentPhys = c.args.map((a, i): Tensor | null => (kinds[i] === 'none' ? null : f64(a.values.map((v, j) => Math.sin(v + seeds[i]! + j)), a.phys.shape)));
            if (!tangentPhys.some((t) => t)) tangentPhys[0] = f64(c.args[0]!.values.map((v) => Math.cos(v)), c.args[0]!.phys.shape);
            const actual = withBatchLevel(c.size, (level) => {
              const wrap = (t: Tensor, axis: number | null) => (axis === null ? t : new BatchedTensor(t, axis, level));
              const { out, tangent } = tangentOf(
                entry.fn,
                c.args.map((a) => wrap(a.phys, a.axis)),
                c.args.map((a, i) => (tangentPhys[i] ? wrap(tangentPhys[i]!, a.axis) : null)),
              );
              return tangent ?? out.mul(0);
            });
            const sampleTangent = (i: number, k: number): Tensor | null => {
              const t = tangentPhys[i];
              if (!t) return null;
              const a = c.args[i]!;
              return a.axis === null ? t : f64(sampleValues(valuesOf(t), t.shape, a.axis, k), a.shape);
            };
            expectMatchesLoop(
              actual,
              c,
              (k) => {
                const { out, tangent } = tangentOf(entry.fn, sampleArgs(c, k), c.args.map((_, i) => sampleTangent(i, k)));
                return tangent ?? out.mul(0);
              },
              `${entry.name} tangent (${describeCase(c)})`,
            );
          },
        ),
        { numRuns: RUNS.batchJvp },
      );
    });
  }
});

// ---- the public vmap on the same rules ------------------------------------------------------

describe('public vmap over the rules', () => {
  for (const name of ['mul', 'where', 'maximum', 'matmul', 'gt', 'argmax(-1, keepdim)']) {
    it(name, () => {
      const entry = byName(name);
      fc.assert(
        fc.property(batchCase(entry), (c) => {
          const actual = vmap(entry.fn, { inAxes: c.args.map((a) => a.axis) })(...c.args.map((a) => a.phys));
          // vmap puts the batch axis first.
          expect(actual.shape[0]).toBe(c.size);
          for (let k = 0; k < c.size; k++) {
            const e = entry.fn(...sampleArgs(c, k));
            expectAllClose(sampleValues(valuesOf(actual), actual.shape, 0, k), valuesOf(e), { what: `${name}, sample ${k} (${describeCase(c)})` });
          }
        }),
        { numRuns: 15 },
      );
    });
  }
});
