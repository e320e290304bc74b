/**
 * jacrev, jacfwd and hessian, and pytrees and hasAux on grad / valueAndGrad / vjp / jvp, checked
 * against definitions that share no code with them: central differences in float64 (element by
 * element, one perturbed input entry at a time) and plain single-tensor gradients. jacfwd and
 * jacrev are also checked against each other on random programs (fast-check).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  GradError,
  ShapeError,
  ValueError,
  grad,
  hessian,
  jacfwd,
  jacrev,
  jvp,
  randn,
  tensor,
  valueAndGrad,
  vjp,
  vmap,
  type Tensor,
} from '../../src/index.js';
import { expectClose } from './close.js';

const f64 = { dtype: 'float64' as const };


/** x with element `index` (row-major) moved by `h`. */
function perturbed(x: Tensor, index: number, h: number): Tensor {
  const data = Float64Array.from(x.toTypedArray());
  data[index]! += h;
  return tensor(data, { shape: [...x.shape], ...f64 });
}

/**
 * The Jacobian block ∂out/∂x of shape out.shape + x.shape by central differences:
 * column j (x's element j) is (f(x + h e_j) − f(x − h e_j)) / 2h.
 */
function numericJacobian(f: (x: Tensor) => Tensor, x: Tensor, h = 1e-6): Tensor {
  const outShape = f(x).shape;
  const columns = Array.from({ length: x.size }, (_, j) => {
    const plus = f(perturbed(x, j, h)).toTypedArray();
    const minus = f(perturbed(x, j, -h)).toTypedArray();
    return plus.map((p, i) => (p - minus[i]!) / (2 * h));
  });
  const m = outShape.reduce((a, b) => a * b, 1);
  const data = new Float64Array(m * x.size);
  for (let i = 0; i < m; i++) for (let j = 0; j < x.size; j++) data[i * x.size + j] = columns[j]![i]!;
  return tensor(data, { shape: [...outShape, ...x.shape], ...f64 });
}

// ---- random programs for jacfwd = jacrev ---------------------------------------------------

/** One step of a random program on x [2, 3], keeping the shape [2, 3]; `w` [3, 3], `b` [3]. */
type Step = (t: Tensor, w: Tensor, b: Tensor) => Tensor;
const STEPS: Record<string, Step> = {
  // exp of a bounded argument: after mulSelf/rowSums, exp(0.3·t) reached 1e13, and central
  // differences then lose the small entries to rounding (ε·|f|/h), not to a wrong Jacobian.
  exp: (t) => t.tanh().exp(),
  mulSelf: (t) => t.mul(t),
  tanh: (t) => t.tanh(),
  sigmoid: (t) => t.sigmoid(),
  addBroadcast: (t, _w, b) => t.add(b),
  mulBroadcast: (t, _w, b) => t.mul(b),
  matmul: (t, w) => t.matmul(w),
  rowSums: (t) => t.mul(t.sum(-1, true)),
  reshapeRoundTrip: (t) => t.reshape([3, 2]).mul(2).reshape([2, 3]),
  transposeMatmul: (t, w) => w.matmul(t.transpose()).transpose(),
};
const STEP_NAMES = Object.keys(STEPS);

const program = fc.record({
  steps: fc.array(fc.constantFrom(...STEP_NAMES), { minLength: 1, maxLength: 4 }),
  reduce: fc.boolean(),
  seed: fc.integer({ min: 0, max: 10_000 }),
});

function build(steps: readonly string[], reduce: boolean) {
  return (x: Tensor, w: Tensor, b: Tensor): Tensor => {
    let t = x;
    for (const s of steps) t = STEPS[s]!(t, w, b);
    return reduce ? t.sum(0) : t;
  };
}

describe('jacrev and jacfwd', () => {
  it('agree with each other and with central differences on random programs (property)', () => {
    fc.assert(
      fc.property(program, ({ steps, reduce, seed }) => {
        const f = build(steps, reduce);
        const x = randn([2, 3], { seed, ...f64 });
        const w = randn([3, 3], { seed: seed + 1, ...f64 }).mul(0.5);
        const b = randn([3], { seed: seed + 2, ...f64 });
        const [rx, rw] = jacrev(f, { argnums: [0, 1] })(x, w, b);
        const [fx, fw] = jacfwd(f, { argnums: [0, 1] })(x, w, b);
        expectClose(rx, fx, 1e-12);
        expectClose(rw, fw, 1e-12);
        expectClose(rx, numericJacobian((x) => f(x, w, b), x), 1e-6);
        expectClose(rw, numericJacobian((w) => f(x, w, b), w), 1e-6);
      }),
      { numRuns: 30 },
    );
  });

  it('lay a block out as So + Sa: J[i, j, k, l] = ∂out[i, j] / ∂x[k, l]', () => {
    // out = xᵀ (shape [3, 2]), so J[i, j, k, l] = 1 exactly when (k, l) = (j, i).
    const x = randn([2, 3], { seed: 3, ...f64 });
    const jacobians: ((f: (x: Tensor) => Tensor) => (x: Tensor) => Tensor)[] = [(f) => jacrev(f), (f) => jacfwd(f)];
    for (const jac of jacobians) {
      const J = jac((x: Tensor) => x.transpose().mul(2))(x);
      expect(J.shape).toEqual([3, 2, 2, 3]);
      const data = J.toTypedArray();
      for (let i = 0; i < 3; i++)
        for (let j = 0; j < 2; j++)
          for (let k = 0; k < 2; k++)
            for (let l = 0; l < 3; l++) expect(data[((i * 2 + j) * 2 + k) * 3 + l], `${i}${j}${k}${l}`).toBe(k === j && l === i ? 2 : 0);
    }
  });

  it('pytree inputs and outputs: output structure, each leaf replaced by the arguments’ blocks', () => {
    const p = { w: randn([3, 2], { seed: 4, ...f64 }), b: randn([2], { seed: 5, ...f64 }) };
    const x = randn([3], { seed: 6, ...f64 });
    const f = (p: { w: Tensor; b: Tensor }, x: Tensor) => {
      const y = x.matmul(p.w).add(p.b).tanh();
      return { y, s: [y.sum().mul(x.sum())] };
    };
    const rev = jacrev(f, { argnums: [0, 1] })(p, x);
    const fwd = jacfwd(f, { argnums: [0, 1] })(p, x);
    expect(Object.keys(rev)).toEqual(['y', 's']);
    expect(rev.y[0].w.shape).toEqual([2, 3, 2]);
    expect(rev.y[0].b.shape).toEqual([2, 2]);
    expect(rev.y[1].shape).toEqual([2, 3]);
    expect(rev.s[0][0].w.shape).toEqual([3, 2]);
    expect(rev.s[0][1].shape).toEqual([3]);
    const pairs: [Tensor, Tensor, Tensor][] = [
      [rev.y[0].w, fwd.y[0].w, numericJacobian((w) => f({ ...p, w }, x).y, p.w)],
      [rev.y[0].b, fwd.y[0].b, numericJacobian((b) => f({ ...p, b }, x).y, p.b)],
      [rev.y[1], fwd.y[1], numericJacobian((x) => f(p, x).y, x)],
      [rev.s[0][0].w, fwd.s[0][0].w, numericJacobian((w) => f({ ...p, w }, x).s[0], p.w)],
      [rev.s[0][1], fwd.s[0][1], numericJacobian((x) => f(p, x).s[0], x)],
    ];
    for (const [r, fw, numeric] of pairs) {
      expectClose(r, fw, 1e-12);
      expectClose(r, numeric, 1e-6);
    }
    // An integer argnums gives the argument's tree itself, not a list of one.
    const onlyP = jacrev(f)(p, x);
    expectClose(onlyP.y.w, rev.y[0].w);
  });

  it('jacrev with hasAux returns the aux as computed, not differentiated', () => {
    const x = randn([3], { seed: 7, ...f64 });
    const [J, aux] = jacrev((x: Tensor) => [x.exp(), { e: x.exp(), n: 4 }] as const, { hasAux: true })(x);
    expectClose(J, numericJacobian((x) => x.exp(), x), 1e-6);
    expectClose(aux.e, x.exp());
    expect(aux.e.requiresGrad).toBe(false);
    expect(aux.n).toBe(4);
  });

  it('vmap(jacrev) and vmap(jacfwd) give per-sample Jacobians', () => {
    const xs = randn([4, 3], { seed: 8, ...f64 });
    const w = randn([3, 2], { seed: 9, ...f64 });
    const f = (x: Tensor, w: Tensor) => x.matmul(w).tanh();
    const rev = vmap(jacrev(f), { inAxes: [0, null] })(xs, w);
    const fwd = vmap(jacfwd(f), { inAxes: [0, null] })(xs, w);
    expect(rev.shape).toEqual([4, 2, 3]);
    expectClose(rev, fwd, 1e-12);
    for (let i = 0; i < 4; i++) {
      const row = xs.slice([[i, i + 1], null]).reshape([3]);
      expectClose(rev.slice([[i, i + 1], null, null]).reshape([2, 3]), numericJacobian((x) => f(x, w), row), 1e-6);
    }
  });

  it('refuse argnums out of range or repeated, and an argument that is not a pytree of tensors', () => {
    const f = (x: Tensor) => x.exp();
    expect(() => jacrev(f, { argnums: 1 })(randn([2], { seed: 0 }))).toThrow(/jacrev: argnums 1 is out of range for 1 arguments/);
    expect(() => jacfwd(f, { argnums: [0, 0] })).toThrow(/jacfwd: argnums lists argument 0 twice/);
    expect(() => jacfwd(f)({} as never)).toThrow(/jacfwd: argument 0 is an empty pytree/);
    expect(() => jacrev(f)([1, 2] as never)).toThrow(/jacrev: argument 0 must be a Tensor or a pytree .* leaf 0 is 1/);
  });
});

describe('hessian', () => {
  const f = (x: Tensor) => x.mul(x.sum().tanh()).exp().sum().add(x.pow(3).sum());

  it('is symmetric and equals central differences of the gradient (float64, property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000 }), (seed) => {
        const x = randn([2, 2], { seed, ...f64 }).mul(0.5);
        const H = hessian(f)(x);
        expect(H.shape).toEqual([2, 2, 2, 2]);
        expectClose(H, H.reshape([4, 4]).transpose().reshape([2, 2, 2, 2]), 1e-12);
        expectClose(H, numericJacobian((x) => grad(f)(x), x), 1e-6);
      }),
      { numRuns: 15 },
    );
  });

  it('list argnums give nested blocks H[i][j] = ∂²f/∂aᵢ∂aⱼ, with H[0][1] the transpose of H[1][0]', () => {
    const g = (a: Tensor, b: Tensor) => a.matmul(b).tanh().sum().add(a.mul(a).sum().mul(b.sum()));
    const a = randn([3], { seed: 10, ...f64 });
    const b = randn([3, 2], { seed: 11, ...f64 });
    const [[aa, ab], [ba, bb]] = hessian(g, { argnums: [0, 1] })(a, b);
    expect([aa.shape, ab.shape, ba.shape, bb.shape]).toEqual([[3, 3], [3, 3, 2], [3, 2, 3], [3, 2, 3, 2]]);
    expectClose(ab, ba.permute([2, 0, 1]), 1e-12);
    expectClose(aa, numericJacobian((a) => grad(g)(a, b), a), 1e-6);
    expectClose(ab, numericJacobian((b) => grad(g)(a, b), b), 1e-6);
    expectClose(bb, numericJacobian((b) => grad(g, { argnums: 1 })(a, b), b), 1e-6);
  });
});

describe('pytrees and hasAux on grad, valueAndGrad, vjp, jvp', () => {
  const p = { w: randn([3, 2], { seed: 20, ...f64 }), layers: [randn([2], { seed: 21, ...f64 }), { scale: randn([], { seed: 22, ...f64 }) }] as const };
  const x = randn([4, 3], { seed: 23, ...f64 });
  type P = { w: Tensor; layers: readonly [Tensor, { scale: Tensor }] };
  const loss = (p: P, x: Tensor) => x.matmul(p.w).add(p.layers[0]).tanh().mul(p.layers[1].scale).sum();

  it('grad returns the argument’s structure, leaf for leaf equal to single-tensor gradients', () => {
    const g = grad(loss)(p, x);
    expect(Object.keys(g)).toEqual(['w', 'layers']);
    expectClose(g.w, grad((w: Tensor) => loss({ ...p, w }, x))(p.w));
    expectClose(g.layers[0], grad((b: Tensor) => loss({ ...p, layers: [b, p.layers[1]] }, x))(p.layers[0]));
    expectClose(g.layers[1].scale, grad((s: Tensor) => loss({ ...p, layers: [p.layers[0], { scale: s }] }, x))(p.layers[1].scale));
    const [gp, gx] = grad(loss, { argnums: [0, 1] })(p, x);
    expectClose(gp.w, g.w);
    expectClose(gx, grad((x: Tensor) => loss(p, x))(x));
    expect(g.w.requiresGrad).toBe(false);
  });

  it('grad of a nested-list argument, and grad(grad) through a pytree', () => {
    const f = (xs: [Tensor, [Tensor]]) => xs[0].mul(xs[1][0]).pow(2).sum();
    const a = randn([3], { seed: 24, ...f64 });
    const b = randn([3], { seed: 25, ...f64 });
    const [ga, [gb]] = grad(f)([a, [b]]);
    expectClose(ga, a.mul(b.pow(2)).mul(2));
    expectClose(gb, b.mul(a.pow(2)).mul(2));
    // ∂/∂a Σ ∂f/∂b = ∂/∂a Σ 2 b a² = 4 a b
    const second = grad((a: Tensor) => grad(f)([a, [b]])[1][0].sum())(a);
    expectClose(second, a.mul(b).mul(4), 1e-12);
  });

  it('hasAux: grad → [gradients, aux], valueAndGrad → [[value, aux], gradients]; aux is not differentiated', () => {
    const f = (x: Tensor) => {
      const y = x.exp();
      return [y.sum(), { y, count: 3 }] as const;
    };
    const a = randn([3], { seed: 26, ...f64 });
    const [g, aux] = grad(f, { hasAux: true })(a);
    expectClose(g, a.exp());
    expectClose(aux.y, a.exp());
    expect(aux.count).toBe(3);
    expect(aux.y.requiresGrad).toBe(false);
    const [[value, aux2], g2] = valueAndGrad(f, { hasAux: true })(a);
    expectClose(value, a.exp().sum());
    expectClose(aux2.y, a.exp());
    expectClose(g2, a.exp());
    // Under an outer grad the aux stays differentiable with respect to the outer variable.
    const outer = grad((s: Tensor) => grad((x: Tensor) => [x.mul(s).sum(), x.mul(s).sum()] as const, { hasAux: true })(a)[1])(tensor(2, f64));
    expectClose(outer, a.sum());
  });

  it('hasAux is refused when f does not return a pair', () => {
    expect(() => grad((x: Tensor) => x.sum() as never, { hasAux: true })(randn([2], { seed: 0, ...f64 }))).toThrow(/grad: with hasAux the function must return \[output, aux\]/);
  });

  it('vjp: pytree cotangents give Σ ⟨cotangent leaf, output leaf⟩ differentiated, one gradient per primal', () => {
    const f = (p: P, x: Tensor) => ({ h: x.matmul(p.w).tanh(), s: [p.layers[1].scale.mul(x.sum())] });
    const [out, pullback] = vjp(f, p, x);
    expect(out.h.requiresGrad).toBe(false);
    const u = randn([4, 2], { seed: 27, ...f64 });
    const c = randn([], { seed: 28, ...f64 });
    const [gp, gx] = pullback({ h: u, s: [c] });
    const inner = (p: P, x: Tensor) => {
      const o = f(p, x);
      return o.h.mul(u).sum().add(o.s[0].mul(c));
    };
    const [ep, ex] = grad(inner, { argnums: [0, 1] })(p, x);
    expectClose(gp.w, ep.w, 1e-12);
    expectClose(gp.layers[0], ep.layers[0], 1e-12);
    expectClose(gp.layers[1].scale, ep.layers[1].scale, 1e-12);
    expectClose(gx, ex, 1e-12);
    // Called again with another cotangent: linear in it.
    const [gp2] = pullback({ h: u.mul(2), s: [c.mul(2)] });
    expectClose(gp2.w, ep.w.mul(2), 1e-12);
  });

  it('vjp with hasAux, and a cotangent of the wrong structure or shape', () => {
    const a = randn([3], { seed: 29, ...f64 });
    const [y, pullback, aux] = vjp((x: Tensor) => [x.exp(), x.sum()] as const, { hasAux: true }, a);
    expectClose(y, a.exp());
    expectClose(aux, a.sum());
    expectClose(pullback(a)[0], a.exp().mul(a), 1e-12);
    const [, pb] = vjp((x: Tensor) => ({ a: x, b: [x.sum()] }), a);
    expect(() => pb({ a } as never)).toThrow(ValueError);
    expect(() => pb({ a } as never)).toThrow(/vjp: the cotangent must have the output's structure \{a: \*, b: \[\*\]\}; got \{a: \*\}/);
    expect(() => pb({ a: a.sum(), b: [a.sum()] } as never)).toThrow(ShapeError);
    expect(() => pb({ a: a.sum(), b: [a.sum()] } as never)).toThrow(/vjp: leaf 0 of the cotangent must have the output's shape \[3\]; got \[\]/);
  });

  it('jvp with pytree primals, tangents and outputs matches central differences', () => {
    const f = (p: { w: Tensor; b: Tensor }, x: Tensor) => [x.matmul(p.w).add(p.b).tanh(), { s: p.b.exp().sum() }] as const;
    const q = { w: randn([3, 2], { seed: 30, ...f64 }), b: randn([2], { seed: 31, ...f64 }) };
    const t = { w: randn([3, 2], { seed: 32, ...f64 }), b: randn([2], { seed: 33, ...f64 }) };
    const tx = randn([4, 3], { seed: 34, ...f64 });
    const [[h, { s }], [dh, { s: ds }]] = jvp(f, [q, x], [t, tx]);
    expectClose(h, f(q, x)[0]);
    expectClose(s, f(q, x)[1].s);
    const eps = 1e-6;
    const at = (k: number) => f({ w: q.w.add(t.w.mul(k)), b: q.b.add(t.b.mul(k)) }, x.add(tx.mul(k)));
    expectClose(dh, at(eps)[0].sub(at(-eps)[0]).div(2 * eps), 1e-7);
    expectClose(ds, at(eps)[1].s.sub(at(-eps)[1].s).div(2 * eps), 1e-7);
    expect(() => jvp(f, [q, x], [{ w: t.w } as never, tx])).toThrow(/jvp: tangent 0 must have the primal's structure \{w: \*, b: \*\}; got \{w: \*\}/);
    expect(() => jvp(f, [q, x], [{ w: t.w, b: tx } as never, tx])).toThrow(/jvp: tangent 0 \(leaf 1\) must have the primal's shape \[2\]; got \[4,3\]/);
  });

  it('an empty pytree or a non-tensor leaf is refused where a gradient is asked for', () => {
    expect(() => grad((p: Record<string, Tensor>) => tensor(0, f64).add(Object.keys(p).length))({})).toThrow(GradError);
    expect(() => grad((p: Record<string, Tensor>) => tensor(0, f64).add(Object.keys(p).length))({})).toThrow(/grad: argument 0 is an empty pytree/);
    expect(() => grad((p: { w: Tensor; n: number }) => p.w.sum())({ w: x, n: 2 } as never)).toThrow(/grad: argument 0 must be a Tensor or a pytree .* leaf 1 is 2/);
  });
});

describe('README: function transforms (the block, run as written)', () => {
  it('gives the shapes and values its comments state', () => {
    const w = randn([3, 2], { seed: 0, dtype: 'float64' });
    const xs = randn([8, 3], { seed: 1, dtype: 'float64' });
    const loss = (w: Tensor, x: Tensor) => x.matmul(w).tanh().sum();
    expect(vmap(grad(loss), { inAxes: [null, 0] })(w, xs).shape).toEqual([8, 3, 2]);
    expectClose(vmap(loss, { inAxes: [null, 1] })(w, xs.transpose()), xs.matmul(w).tanh().sum(1));
    const [l, t] = jvp((w: Tensor) => loss(w, xs), [w], [w.mul(0.1)]);
    expectClose(l, loss(w, xs));
    expectClose(t, grad(loss)(w, xs).mul(w.mul(0.1)).sum(), 1e-12);
    const params = { w, b: randn([2], { seed: 2, dtype: 'float64' }) };
    const layer = (p: { w: Tensor; b: Tensor }, x: Tensor) => x.matmul(p.w).add(p.b).tanh();
    const gp = grad((p: { w: Tensor; b: Tensor }) => layer(p, xs).sum())(params);
    expect([gp.w.shape, gp.b.shape]).toEqual([[3, 2], [2]]);
    const [y, pullback] = vjp(layer, params, xs);
    const [pw, px] = pullback(y.mul(2));
    expect([pw.w.shape, pw.b.shape, px.shape]).toEqual([[3, 2], [2], [8, 3]]);
    const [g, logits] = grad((w: Tensor) => { const z = xs.matmul(w); return [z.tanh().sum(), z]; }, { hasAux: true })(w);
    expectClose(g, grad(loss)(w, xs));
    expectClose(logits as Tensor, xs.matmul(w));
    const x = xs.slice([[0, 1], null]).reshape([3]);
    const jx = jacrev(layer, { argnums: 1 })(params, x);
    expect(jx.shape).toEqual([2, 3]);
    expectClose(jx, jacfwd(layer, { argnums: 1 })(params, x), 1e-12);
    const jp = jacfwd(layer)(params, x);
    expect([jp.w.shape, jp.b.shape]).toEqual([[2, 3, 2], [2, 2]]);
    expect(hessian((x: Tensor) => loss(w, x))(x).shape).toEqual([3, 3]);
  });
});
