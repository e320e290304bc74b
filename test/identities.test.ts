/**
 * Algebraic identities as fast-check properties: each one relates two different computations,
 * so an error in either shows up (none of them compares gradscope with a copy of itself).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { grad, hvp, jvp, matmul, tensor, vjp, type Tensor } from '../src/index.js';
import { broadcastablePair, distinctSpecOf, materialize, shape, sizeOf, specOf, valuesOf, type TensorSpec } from './arbitraries.js';
import { expectAllClose, gradgradcheck } from './gradcheck.js';

const RUNS = 40;
const anySpec = shape(0, 4).chain((s) => specOf(s));
const specPair = broadcastablePair.chain(([a, b]) => fc.tuple(specOf(a), specOf(b)));

/** ⟨a, b⟩ in plain JS. */
const dot = (a: Tensor, b: Tensor) => valuesOf(a).reduce((s, x, i) => s + x * valuesOf(b)[i]!, 0);

/** A float64 tensor of `s` from fast-check values. */
const specsOfShape = (n: number) => shape(0, 3).chain((s) => fc.tuple(...Array.from({ length: n }, () => specOf(s, { min: -2, max: 2 }))));

describe('arithmetic identities', () => {
  it('(a + b) − b ≈ a, with broadcasting (within one rounding of |a| + |b|)', () => {
    fc.assert(
      fc.property(specPair, ([sa, sb]) => {
        const a = materialize(sa);
        const b = materialize(sb);
        const back = a.add(b).sub(b);
        const expected = a.add(b.mul(0)); // a broadcast to the common shape
        const scale = valuesOf(a.abs().add(b.abs()));
        valuesOf(back).forEach((v, i) => expect(Math.abs(v - valuesOf(expected)[i]!)).toBeLessThanOrEqual(2.3e-16 * scale[i]! * 2));
      }),
      { numRuns: RUNS },
    );
  });

  it('x · 1 = x, x + 0 = x, x / 1 = x and −(−x) = x exactly, on any layout', () => {
    fc.assert(
      fc.property(anySpec, (spec) => {
        const x = materialize(spec);
        for (const y of [x.mul(1), x.add(0), x.div(1), x.neg().neg(), x.mul(tensor(1, { dtype: 'float64' }))]) {
          expectAllClose(y, spec.values, { rtol: 0, atol: 0, shape: spec.shape });
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('exp(log x) = x and log(exp x) = x for x > 0 (within a few ulps)', () => {
    fc.assert(
      fc.property(shape(0, 4).chain((s) => specOf(s, { min: 0.01, max: 50 })), (spec) => {
        const x = materialize(spec);
        expectAllClose(x.log().exp(), spec.values, { rtol: 1e-14, atol: 0 });
        // log is ill-conditioned near 1: the rounding of exp(x) (relative ε) becomes an absolute ε.
        expectAllClose(x.exp().log(), spec.values, { rtol: 1e-14, atol: 1e-15 });
        expectAllClose(x.sqrt().square(), spec.values, { rtol: 1e-15, atol: 0 });
      }),
      { numRuns: RUNS },
    );
  });
});

describe('reduction identities', () => {
  it('softmax sums to 1 along its axis; exp(logSoftmax) = softmax', () => {
    fc.assert(
      fc.property(shape(1, 4).chain((s) => fc.tuple(specOf(s, { min: -50, max: 50 }), fc.integer({ min: 0, max: s.length - 1 }))), ([spec, axis]) => {
        const x = materialize(spec);
        const sm = x.softmax(axis);
        expectAllClose(sm.sum(axis), new Array(sizeOf(spec.shape) / spec.shape[axis]!).fill(1), { rtol: 1e-14, atol: 1e-14 });
        expectAllClose(x.logSoftmax(axis).exp(), valuesOf(sm), { rtol: 1e-12, atol: 1e-300 });
      }),
      { numRuns: RUNS },
    );
  });

  it('logsumexp(x + c) = logsumexp(x) + c', () => {
    fc.assert(
      fc.property(anySpec, fc.double({ min: -500, max: 500, noNaN: true }), (spec, c) => {
        const x = materialize(spec);
        const lhs = x.add(c).logsumexp().item();
        const rhs = x.logsumexp().item() + c;
        expect(Math.abs(lhs - rhs)).toBeLessThanOrEqual(1e-12 * (1 + Math.abs(c)));
      }),
      { numRuns: RUNS },
    );
  });

  it('sum over all axes = sum over axis 0, then over the rest', () => {
    fc.assert(
      fc.property(shape(1, 4).chain((s) => specOf(s)), (spec) => {
        const x = materialize(spec);
        const direct = x.sum().item();
        const staged = x.sum(0).sum().item();
        const scale = spec.values.reduce((s, v) => s + Math.abs(v), 0);
        expect(Math.abs(direct - staged)).toBeLessThanOrEqual(1e-15 * scale * spec.values.length + 1e-300);
        expect(Math.abs(direct - x.mean().item() * spec.values.length)).toBeLessThanOrEqual(1e-15 * scale * spec.values.length + 1e-300);
      }),
      { numRuns: RUNS },
    );
  });

  it('max(x) = −min(−x) and argmax(x) = argmin(−x)', () => {
    fc.assert(
      fc.property(shape(1, 4).chain((s) => fc.tuple(distinctSpecOf(s), fc.integer({ min: 0, max: s.length - 1 }))), ([spec, axis]) => {
        const x = materialize(spec);
        expectAllClose(x.max(axis), valuesOf(x.neg().min(axis).neg()), { rtol: 0, atol: 0 });
        expectAllClose(x.argmax(axis), valuesOf(x.neg().argmin(axis)), { rtol: 0, atol: 0 });
      }),
      { numRuns: RUNS },
    );
  });
});

describe('shape identities', () => {
  it('transpose ∘ transpose = id, and permute by a permutation then its inverse = id', () => {
    fc.assert(
      fc.property(
        shape(2, 4).chain((s) => fc.tuple(specOf(s), fc.shuffledSubarray(s.map((_, i) => i), { minLength: s.length, maxLength: s.length }))),
        ([spec, dims]) => {
          const x = materialize(spec);
          expectAllClose(x.transpose().transpose(), spec.values, { rtol: 0, atol: 0, shape: spec.shape });
          const inverse = new Array<number>(dims.length);
          dims.forEach((d, i) => (inverse[d] = i));
          const back = x.permute(dims).permute(inverse);
          expectAllClose(back, spec.values, { rtol: 0, atol: 0, shape: spec.shape });
          expect(back.strides).toEqual(x.strides);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('(AB)C ≈ A(BC) and (AB)ᵀ = BᵀAᵀ', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 4, maxLength: 4 }).chain(([m, k, n, p]) =>
          fc.tuple(specOf([m!, k!]), specOf([k!, n!]), specOf([n!, p!])),
        ),
        ([sa, sb, sc]) => {
          const [a, b, c] = [materialize(sa), materialize(sb), materialize(sc)];
          const left = matmul(matmul(a, b), c);
          const right = matmul(a, matmul(b, c));
          // Each entry is a sum of ≤ 16 products of three values ≤ 10: rounding ≤ 16·1e3·2ε·4.
          expectAllClose(left, valuesOf(right), { rtol: 1e-13, atol: 1e-10 });
          expectAllClose(matmul(a, b).transpose(), valuesOf(matmul(b.transpose(), a.transpose())), { rtol: 0, atol: 0 });
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe('gradient identities', () => {
  it('∇ₓ sum(x·y) = y and ∇ᵧ sum(x·y) = x, exactly', () => {
    fc.assert(
      fc.property(specsOfShape(2), ([sx, sy]) => {
        const [gx, gy] = grad((x: Tensor, y: Tensor) => x.mul(y).sum(), { argnums: [0, 1] })(materialize(sx), materialize(sy));
        expectAllClose(gx!, sy.values, { rtol: 0, atol: 0, shape: sx.shape });
        expectAllClose(gy!, sx.values, { rtol: 0, atol: 0, shape: sy.shape });
      }),
      { numRuns: RUNS },
    );
  });

  /** A small nonlinear scalar function mixing elementwise ops, reductions and matmul-free terms. */
  const f = (x: Tensor) => x.tanh().mul(x.square()).sum().add(x.softplus().logsumexp().mul(x.mean())).add(x.sigmoid().mul(x).sum().square());

  it('Hessian symmetry: uᵀ(H v) = vᵀ(H u)', () => {
    fc.assert(
      fc.property(specsOfShape(3), ([sx, su, sv]) => {
        const x = materialize(sx);
        const u = materialize(su);
        const v = materialize(sv);
        const hv = hvp(f, x, v) as Tensor;
        const hu = hvp(f, x, u) as Tensor;
        const a = dot(u, hv);
        const b = dot(v, hu);
        const scale = valuesOf(hv.abs()).reduce((s, t, i) => s + t * Math.abs(valuesOf(u)[i]!), 0) + valuesOf(hu.abs()).reduce((s, t, i) => s + t * Math.abs(valuesOf(v)[i]!), 0);
        expect(Math.abs(a - b)).toBeLessThanOrEqual(1e-12 * scale + 1e-14);
      }),
      { numRuns: 30 },
    );
  });

  it('forward and reverse mode agree: ⟨u, J v⟩ = ⟨Jᵀ u, v⟩', () => {
    const g = (x: Tensor, w: Tensor) => matmul(w, x.tanh().unsqueeze(-1)).squeeze(-1).softplus().mul(x.sum());
    fc.assert(
      fc.property(
        fc.record({ n: fc.integer({ min: 1, max: 4 }), m: fc.integer({ min: 1, max: 4 }) }).chain(({ n, m }) =>
          fc.tuple(specOf([n], { min: -2, max: 2 }), specOf([m, n], { min: -2, max: 2 }), specOf([n]), specOf([m, n]), specOf([m])),
        ),
        ([sx, sw, svx, svw, su]: TensorSpec[]) => {
          const [x, w, vx, vw, u] = [sx!, sw!, svx!, svw!, su!].map((s) => materialize(s)) as [Tensor, Tensor, Tensor, Tensor, Tensor];
          const [y, jv] = jvp(g, [x, w], [vx, vw]);
          const [y2, pullback] = vjp(g, x, w);
          expectAllClose(y, valuesOf(y2), { rtol: 0, atol: 0 });
          const [jtux, jtuw] = pullback(u);
          const lhs = dot(u, jv);
          const rhs = dot(jtux!, vx) + dot(jtuw!, vw);
          expect(Math.abs(lhs - rhs)).toBeLessThanOrEqual(1e-12 * (1 + Math.abs(lhs)));
        },
      ),
      { numRuns: 30 },
    );
  });

  it('grad of grad equals finite differences of grad (a composite nonlinear function)', () => {
    fc.assert(
      fc.property(specsOfShape(2), fc.nat(), ([sx, sy], seed) => {
        const h = (x: Tensor, y: Tensor) => x.mul(y.sigmoid()).add(x.square().mul(y)).exp().mean().add(x.sub(y).square().add(1).sqrt().sum());
        gradgradcheck(h, [materialize(sx), materialize(sy)], { name: 'mean(exp(x·σ(y) + x²y)) + Σ√((x − y)² + 1)', argNames: ['x', 'y'], seed });
      }),
      { numRuns: 25 },
    );
  });
});
