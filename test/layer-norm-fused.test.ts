/**
 * LayerNorm's fused primitives (src/autograd/ops/layer-norm.ts, layer-norm-backward.ts,
 * src/kernels/cpu/layer-norm.ts) against the composite they replace, kept here as the
 * reference (mean, sub, mul, add, sqrt, div — the formula layerNorm used before):
 *
 *   1. forward and gradients (x, γ, β) equal the composite's in float64 to 1e-12 over shapes
 *      with k = 1, 2, 3 normalized axes, on contiguous, permuted, sliced and broadcast inputs
 *      and for a broadcast output gradient; float32 within 1e-5 of the float64 reference;
 *   2. central differences in float64: first order, second order (grad of grad, and an HVP
 *      through layerNorm → tanh → linear), third order, and both primitives directly (the
 *      gradient with and without γ);
 *   3. forward mode and vmap: jvp = differences (tangents on any subset of the inputs),
 *      jvp = reverse (⟨J v, u⟩ = ⟨v, Jᵀu⟩), jacfwd(jacrev) = jacrev(jacrev), vmap and
 *      vmap(grad) = loops, batch axes other than 0, batched γ and β;
 *   4. per-sample gradients follow the batch through both primitives, and are refused when
 *      the batch is a normalized axis;
 *   5. float32 with |μ| ≫ σ: no cancellation (the composite's E[x²] − μ² alternative would
 *      lose every digit here).
 */
import { describe, expect, it } from 'vitest';
import {
  GradError,
  concat,
  grad,
  gradients,
  hvp,
  jacfwd,
  jacrev,
  jvp,
  layerNorm,
  perSampleGradients,
  tensor,
  vmap,
  type Tensor,
} from '../src/index.js';
import { apply } from '../src/autograd/op.js';
import { layerNormOp } from '../src/autograd/ops/layer-norm.js';
import { layerNormBackward } from '../src/autograd/ops/layer-norm-backward.js';
import { mulberry32 } from './arbitraries.js';
import { expectAllClose, gradcheck, gradgradcheck, randomTensor } from './gradcheck.js';

const f64 = { dtype: 'float64' as const };
const EPS = 1e-5;

/** The composite layerNorm was before the fused primitive, verbatim. */
function composite(x: Tensor, shape: readonly number[], w: Tensor | null, b: Tensor | null, eps = EPS): Tensor {
  const k = shape.length;
  const axes = shape.map((_, i) => x.rank - k + i);
  const centred = x.sub(x.mean(axes, true));
  const variance = centred.mul(centred).mean(axes, true);
  let y = centred.div(variance.add(eps).sqrt());
  if (w) y = y.mul(w);
  if (b) y = y.add(b);
  return y;
}

/**
 * The primitive in its affine mode (γ and β fused into the kernels), which the public
 * layerNorm does not use yet (see composite/layer-norm.ts); without both, the public one.
 */
function fused(x: Tensor, shape: readonly number[], w: Tensor | null, b: Tensor | null, eps = EPS): Tensor {
  if (!w || !b) return layerNorm(x, shape, w, b, eps);
  return apply(layerNormOp, [x, w, b], { k: shape.length, eps, affine: true });
}

/** Both ways the primitive computes y = x̂·γ + β: γ and β as ordinary ops after it (the public layerNorm), or fused. */
const AFFINE: [string, (x: Tensor, shape: readonly number[], w: Tensor | null, b: Tensor | null, eps?: number) => Tensor][] = [
  ['public', (x, s, w, b, eps = EPS) => layerNorm(x, s, w, b, eps)],
  ['fused affine', fused],
];

/** |a − b| ≤ tol·max(1, |b|) elementwise, same shape. */
function expectNear(actual: Tensor, expected: Tensor, tol: number, what: string): void {
  expect(actual.shape, `${what}: shape`).toEqual(expected.shape);
  const a = actual.toTypedArray();
  const b = expected.toTypedArray();
  for (let i = 0; i < a.length; i++) {
    const bound = tol * Math.max(1, Math.abs(b[i]!));
    if (!(Math.abs(a[i]! - b[i]!) <= bound)) throw new Error(`${what}: element ${i}: ${a[i]} vs ${b[i]} (|diff| ${Math.abs(a[i]! - b[i]!)} > ${bound})`);
  }
}

type Layout = 'contiguous' | 'permuted' | 'sliced' | 'broadcast';

/** x of `shape` (values around a random offset per row) stored in `layout`. */
function makeInput(shape: number[], layout: Layout, rng: () => number, offset = 3): Tensor {
  const fill = (s: number[]) => randomTensor(s, rng).add(offset * (2 * rng() - 1));
  if (layout === 'permuted') {
    const rev = shape.slice().reverse();
    return fill(rev).permute(rev.map((_, i) => rev.length - 1 - i));
  }
  if (layout === 'sliced') {
    const wide = shape.map((d, i) => (i === shape.length - 1 ? 2 * d : d));
    return fill(wide).slice(wide.map((_, i) => (i === shape.length - 1 ? ([0, null, 2] as const) : null)));
  }
  if (layout === 'broadcast' && shape.length >= 2) {
    return fill([1, ...shape.slice(1)]).expand(shape);
  }
  return fill(shape);
}

const CASES: [number[], number[]][] = [
  [[4, 6], [6]],
  [[2, 3, 5], [5]],
  [[2, 3, 4], [3, 4]],
  [[2, 2, 3, 2], [2, 3, 2]],
  [[7], [7]],
  [[3, 1], [1]],
];

describe('fused layerNorm = the composite', () => {
  const rng = mulberry32(11);

  it('forward and the gradients of x, γ and β in float64 to 1e-12, on every layout, affine or not', () => {
    for (const [mode, ln] of AFFINE) for (const [shape, ns] of CASES) {
      for (const layout of ['contiguous', 'permuted', 'sliced', 'broadcast'] as Layout[]) {
        for (const affine of [true, false]) {
          const x = makeInput(shape, layout, rng).requireGrad();
          const w = affine ? randomTensor(ns, rng).add(1.5).requireGrad() : null;
          const b = affine ? randomTensor(ns, rng).requireGrad() : null;
          const c = randomTensor(shape, rng);
          const what = `${mode}: ${shape} over ${ns}, ${layout}, affine ${affine}`;
          const y = ln(x, ns, w, b);
          const ref = composite(x, ns, w, b);
          expectNear(y, ref, 1e-12, `${what}: forward`);
          const params = [x, ...(w ? [w, b!] : [])];
          const gf = gradients([y.mul(c).sum()], params);
          const gr = gradients([ref.mul(c).sum()], params);
          gf.forEach((g, i) => expectNear(g, gr[i]!, 1e-12, `${what}: gradient ${i}`));
        }
      }
    }
  });

  it('a broadcast output gradient (the gradient of a plain sum) is read correctly', () => {
    const x = makeInput([3, 5], 'contiguous', rng).requireGrad();
    const [gf] = gradients([layerNorm(x, [5]).tanh().sum()], [x]);
    const [gr] = gradients([composite(x, [5], null, null).tanh().sum()], [x]);
    expectNear(gf!, gr!, 1e-12, 'tanh-sum');
    // d/dx Σ x̂ = 0 exactly in exact arithmetic (Σ x̂ ≡ 0): the broadcast-1 gradient.
    const [g0] = gradients([layerNorm(x, [5]).sum()], [x]);
    expectAllClose(g0!, new Array(15).fill(0), { atol: 1e-14 });
  });

  it('float32 within 1e-5 of the float64 reference, forward and gradients', () => {
    const x64 = makeInput([4, 3, 16], 'contiguous', rng);
    const w64 = randomTensor([16], rng).add(1.5);
    const b64 = randomTensor([16], rng);
    const c64 = randomTensor([4, 3, 16], rng);
    const run = (dtype: 'float32' | 'float64', f: typeof composite) => {
      const [x, w, b] = [x64, w64, b64].map((t) => t.to(dtype).detach().requireGrad()) as [Tensor, Tensor, Tensor];
      const y = f(x, [16], w, b);
      return [y, ...gradients([y.mul(c64.to(dtype)).sum()], [x, w, b])].map((t) => t.to('float64'));
    };
    const ref64 = run('float64', composite);
    for (const [mode, ln] of AFFINE) run('float32', ln).forEach((t, i) => expectNear(t, ref64[i]!, 1e-5, `${mode}: float32 output ${i}`));
    expect(layerNorm(x64.to('float32'), [16]).dtype).toBe('float32');
  });

  it('eps = 0 on a constant row gives NaN as the composite does (0/0), other rows unaffected', () => {
    const x = tensor([[2, 2, 2], [1, 2, 4]], f64);
    const fused = layerNorm(x, [3], null, null, 0);
    const ref = composite(x, [3], null, null, 0);
    expectAllClose(fused, Array.from(ref.toTypedArray()));
  });

  it('an empty batch normalizes to an empty tensor', () => {
    const x = tensor(new Float64Array(0), { shape: [0, 4], dtype: 'float64' }).requireGrad();
    const y = layerNorm(x, [4]);
    expect(y.shape).toEqual([0, 4]);
    expect(gradients([y.sum()], [x])[0]!.shape).toEqual([0, 4]);
  });

  it('uses the fused primitives: one layerNorm node forward, one layerNormBackward node in the gradient', () => {
    const x = randomTensor([2, 4], rng).requireGrad();
    const y = layerNorm(x, [4]);
    expect(y.node?.op.name).toBe('layerNorm');
    const [g] = gradients([layerNorm(x, [4]).sum()], [x], { createGraph: true });
    expect(g!.node?.op.name).toBe('layerNormBackward');
  });
});

describe('central differences (float64)', () => {
  const rng = mulberry32(5);

  it('first, second and third order through layerNorm with affine, k = 1 and k = 2', () => {
    for (const [mode, ln] of AFFINE) for (const ns of [[4], [2, 3]]) {
      const shape = [3, ...ns];
      const x = makeInput(shape, 'contiguous', rng, 1);
      const w = randomTensor(ns, rng).add(1.5);
      const b = randomTensor(ns, rng);
      const f = (x: Tensor, w: Tensor, b: Tensor) => ln(x, ns, w, b).tanh();
      gradcheck(f, [x, w, b], { name: `${mode} ${ns}`, samples: 6 });
      gradgradcheck(f, [x, w, b], { name: `${mode} ${ns}`, samples: 6 });
      // Third order: the gradient of a second-order quantity (the second-order rules are composites).
      const v = randomTensor(shape, rng);
      const first = grad((x: Tensor) => ln(x, ns, w, b).tanh().sum(), { createGraph: true });
      const third = grad((x: Tensor) => first(x).mul(v).sum(), { createGraph: true });
      gradcheck(third, [x], { name: `${mode}: third order ${ns}`, samples: 6 });
    }
  });

  it('layerNormBackward directly: gradients in x and g, and their second order', () => {
    const x = makeInput([3, 5], 'contiguous', rng, 1);
    const g = randomTensor([3, 5], rng);
    const f = (x: Tensor, g: Tensor) => layerNormBackward(x, g, null, 1, EPS);
    gradcheck(f, [x, g], { name: 'layerNormBackward', samples: 8 });
    gradgradcheck(f, [x, g], { name: 'layerNormBackward', samples: 8 });
  });

  it('the affine layerNormBackward (packed [∂x | ∂γ | ∂β]) directly: gradients in x, g and γ, and their second order', () => {
    for (const ns of [[4], [2, 3]]) {
      const x = makeInput([3, ...ns], 'contiguous', rng, 1);
      const g = randomTensor([3, ...ns], rng);
      const w = randomTensor(ns, rng).add(1.5);
      const f = (x: Tensor, g: Tensor, w: Tensor) => layerNormBackward(x, g, w, ns.length, EPS);
      gradcheck(f, [x, g, w], { name: `layerNormBackward affine ${ns}`, samples: 8 });
      gradgradcheck(f, [x, g, w], { name: `layerNormBackward affine ${ns}`, samples: 8 });
    }
  });

  it('an HVP through layerNorm → tanh → linear against differences of the gradient', () => {
    const x = makeInput([4, 6], 'contiguous', rng, 1);
    const w = randomTensor([6], rng).add(1.5);
    const b = randomTensor([6], rng);
    const W = randomTensor([3, 6], rng);
    const v = randomTensor([4, 6], rng);
    for (const [mode, ln] of AFFINE) {
      const loss = (x: Tensor) => ln(x, [6], w, b).tanh().matmul(W.transpose()).square().sum();
      const hv = hvp(loss, x, v);
      const gradAt = (s: number) => grad(loss)(x.add(v.mul(s)));
      const h = 1e-6;
      const fd = gradAt(h).sub(gradAt(-h)).div(2 * h);
      expectAllClose(hv, Array.from(fd.toTypedArray()), { rtol: 1e-6, atol: 1e-8, what: mode });
    }
  });
});

describe('forward mode and vmap', () => {
  const rng = mulberry32(21);

  it('jvp = central difference, and jvp agrees with reverse mode (⟨J v, u⟩ = ⟨v, Jᵀ u⟩)', () => {
    for (const ns of [[5], [2, 3]]) {
      const shape = [3, ...ns];
      const x = makeInput(shape, 'contiguous', rng, 1);
      const w = randomTensor(ns, rng).add(1.5);
      const b = randomTensor(ns, rng);
      const f = (x: Tensor) => layerNorm(x, ns, w, b);
      const v = randomTensor(shape, rng);
      const u = randomTensor(shape, rng);
      const [, tangent] = jvp(f, [x], [v]);
      const h = 1e-6;
      const fd = f(x.add(v.mul(h))).sub(f(x.sub(v.mul(h)))).div(2 * h);
      expectAllClose(tangent, Array.from(fd.toTypedArray()), { rtol: 1e-6, atol: 1e-8, what: `jvp ${ns}` });
      const [vjp] = gradients([f(x.requireGrad()).mul(u).sum()], [x]) as Tensor[];
      expect(tangent.mul(u).sum().item()).toBeCloseTo(vjp!.mul(v).sum().item(), 12);
    }
  });

  it('layerNormBackward: jvp = central difference with tangents on x, g or both', () => {
    const x = makeInput([3, 4], 'contiguous', rng, 1);
    const g = randomTensor([3, 4], rng);
    const f = (x: Tensor, g: Tensor) => layerNormBackward(x, g, null, 1, EPS);
    for (const mask of [[true, false], [false, true], [true, true]]) {
      const t = [randomTensor([3, 4], rng), randomTensor([3, 4], rng)].map((t, i) => (mask[i] ? t : t.mul(0))) as [Tensor, Tensor];
      const [, tangent] = jvp(f, [x, g], t);
      const h = 1e-6;
      const at = (s: number) => f(x.add(t[0].mul(s * h)), g.add(t[1].mul(s * h)));
      expectAllClose(tangent, Array.from(at(1).sub(at(-1)).div(2 * h).toTypedArray()), { rtol: 1e-6, atol: 1e-8, what: `tangents ${mask}` });
    }
  });

  it('jvp = central difference with tangents on any subset of x, γ, β, and of x, g, γ for the affine gradient', () => {
    const x = makeInput([3, 2, 3], 'contiguous', rng, 1);
    const g = randomTensor([3, 2, 3], rng);
    const w = randomTensor([2, 3], rng).add(1.5);
    const b = randomTensor([2, 3], rng);
    const fwd = (x: Tensor, w: Tensor, b: Tensor) => fused(x, [2, 3], w, b);
    const back = (x: Tensor, g: Tensor, w: Tensor) => layerNormBackward(x, g, w, 2, EPS);
    const h = 1e-6;
    for (const mask of [[true, false, false], [false, true, false], [false, false, true], [true, true, true]]) {
      const on = (t: Tensor, i: number) => (mask[i] ? t : t.mul(0));
      const t = [randomTensor(x.shape, rng), randomTensor([2, 3], rng), randomTensor([2, 3], rng)].map(on) as [Tensor, Tensor, Tensor];
      const [, tf] = jvp(fwd, [x, w, b], t);
      const atF = (s: number) => fwd(x.add(t[0].mul(s * h)), w.add(t[1].mul(s * h)), b.add(t[2].mul(s * h)));
      expectAllClose(tf, Array.from(atF(1).sub(atF(-1)).div(2 * h).toTypedArray()), { rtol: 1e-6, atol: 1e-8, what: `layerNorm, tangents ${mask}` });
      const u = [randomTensor(x.shape, rng), randomTensor(x.shape, rng), randomTensor([2, 3], rng)].map(on) as [Tensor, Tensor, Tensor];
      const [, tb] = jvp(back, [x, g, w], u);
      const atB = (s: number) => back(x.add(u[0].mul(s * h)), g.add(u[1].mul(s * h)), w.add(u[2].mul(s * h)));
      expectAllClose(tb, Array.from(atB(1).sub(atB(-1)).div(2 * h).toTypedArray()), { rtol: 1e-6, atol: 1e-8, what: `layerNormBackward, tangents ${mask}` });
    }
  });

  it('forward over reverse: jacfwd(jacrev(f)) = jacrev(jacrev(f))', () => {
    const x = makeInput([2, 4], 'contiguous', rng, 1);
    const w = randomTensor([4], rng).add(1.5);
    const c = randomTensor([2, 4], rng);
    const b = randomTensor([4], rng);
    for (const [mode, ln] of AFFINE) {
      const f = (x: Tensor) => ln(x, [4], w, b).tanh().mul(c).sum();
      expectNear(jacfwd(jacrev(f))(x) as Tensor, jacrev(jacrev(f))(x) as Tensor, 1e-10, `${mode}: Hessian`);
      const g = (w: Tensor) => ln(x, [4], w, b).tanh().mul(c).sum();
      expectNear(jacfwd(jacrev(g))(w) as Tensor, jacrev(jacrev(g))(w) as Tensor, 1e-10, `${mode}: Hessian in γ`);
    }
  });

  it('vmap and vmap(grad) = loops over samples, batch axis 0, 1 and after the rows (moved in front)', () => {
    const B = 3;
    const w = randomTensor([2, 4], rng).add(1.5);
    const b = randomTensor([2, 4], rng);
    const c = randomTensor([3, 2, 4], rng);
    const at = (t: Tensor, axis: number, i: number) => t.slice(t.shape.map((_, d) => (d === axis ? ([i, i + 1] as const) : null))).squeeze(axis);
    // Per-sample x [3, 2, 4]; the physical batch axis at 0, 1 and 3 (inside the normalized axes).
    for (const [mode, ln] of AFFINE) for (const axis of [0, 1, 3]) {
      const f = (x: Tensor) => ln(x, [2, 4], w, b);
      const loss = (x: Tensor) => f(x).tanh().mul(c).sum();
      const physical = [3, 2, 4];
      physical.splice(axis, 0, B);
      const xs = makeInput(physical, 'contiguous', rng, 1);
      const out = vmap(f, { inAxes: [axis] })(xs);
      const loop = concat(Array.from({ length: B }, (_, i) => f(at(xs, axis, i)).unsqueeze(0)), 0);
      expectNear(out, loop, 1e-12, `${mode}: vmap, batch axis ${axis}`);
      const g = vmap(grad(loss), { inAxes: [axis] })(xs);
      for (let i = 0; i < B; i++) {
        const ref = grad(loss)(at(xs, axis, i));
        expectNear(at(g, 0, i), ref, 1e-12, `${mode}: vmap(grad), batch axis ${axis}, sample ${i}`);
      }
    }
  });

  it('fused affine: vmap(grad) with batched γ and β (and x unbatched or batched) = loops, for x, γ and β', () => {
    const B = 2;
    const xs = makeInput([B, 3, 4], 'contiguous', rng, 1);
    const ws = randomTensor([4, B], rng).add(1.5);
    const bs = randomTensor([B, 4], rng);
    const c = randomTensor([3, 4], rng);
    const loss = (x: Tensor, w: Tensor, b: Tensor) => fused(x, [4], w, b).tanh().mul(c).sum();
    const at = (t: Tensor, axis: number, i: number) => t.slice(t.shape.map((_, d) => (d === axis ? ([i, i + 1] as const) : null))).squeeze(axis);
    const x0 = at(xs, 0, 0);
    for (const xAxis of [0, null] as const) {
      const xArg = xAxis === null ? x0 : xs;
      const out = vmap((x: Tensor, w: Tensor, b: Tensor) => fused(x, [4], w, b), { inAxes: [xAxis, 1, 0] })(xArg, ws, bs);
      const grads = vmap(grad(loss, { argnums: [0, 1, 2] }), { inAxes: [xAxis, 1, 0] })(xArg, ws, bs) as Tensor[];
      for (let i = 0; i < B; i++) {
        const args = [xAxis === null ? x0 : at(xs, 0, i), at(ws, 1, i), at(bs, 0, i)] as [Tensor, Tensor, Tensor];
        expectNear(at(out, 0, i), composite(args[0], [4], args[1], args[2]), 1e-12, `vmap, x axis ${xAxis}, sample ${i}`);
        const ref = grad(loss, { argnums: [0, 1, 2] })(...args);
        grads.forEach((gk, k) => expectNear(at(gk, 0, i), ref[k]!, 1e-12, `vmap(grad), x axis ${xAxis}, sample ${i}, argument ${k}`));
      }
    }
  });

  it('the backward primitive batched on x only, g only, or both on different axes = loops', () => {
    const B = 2;
    const xs = makeInput([B, 3, 4], 'contiguous', rng, 1);
    const gs = randomTensor([3, B, 4], rng);
    const x0 = makeInput([3, 4], 'contiguous', rng, 1);
    const g0 = randomTensor([3, 4], rng);
    const back = (x: Tensor, g: Tensor) => layerNormBackward(x, g, null, 1, EPS);
    const at = (t: Tensor, axis: number, i: number) => t.slice(t.shape.map((_, d) => (d === axis ? ([i, i + 1] as const) : null))).squeeze(axis);
    const both = vmap(back, { inAxes: [0, 1] })(xs, gs);
    const onlyX = vmap(back, { inAxes: [0, null] })(xs, g0);
    const onlyG = vmap(back, { inAxes: [null, 1] })(x0, gs);
    const w = randomTensor([4], rng).add(1.5);
    const ws = randomTensor([B, 4], rng).add(1.5);
    const backAffine = (x: Tensor, g: Tensor, w: Tensor) => layerNormBackward(x, g, w, 1, EPS);
    const affineBoth = vmap(backAffine, { inAxes: [0, 1, null] })(xs, gs, w);
    const affineW = vmap(backAffine, { inAxes: [null, null, 0] })(x0, g0, ws);
    for (let i = 0; i < B; i++) {
      expectNear(at(affineBoth, 0, i), backAffine(at(xs, 0, i), at(gs, 1, i), w), 1e-12, `affine, x and g, ${i}`);
      expectNear(at(affineW, 0, i), backAffine(x0, g0, at(ws, 0, i)), 1e-12, `affine, γ only, ${i}`);
      expectNear(at(both, 0, i), back(at(xs, 0, i), at(gs, 1, i)), 1e-12, `both, ${i}`);
      expectNear(at(onlyX, 0, i), back(at(xs, 0, i), g0), 1e-12, `x only, ${i}`);
      expectNear(at(onlyG, 0, i), back(x0, at(gs, 1, i)), 1e-12, `g only, ${i}`);
    }
  });
});

describe('per-sample gradients', () => {
  const rng = mulberry32(8);

  it('follow the batch through layerNorm and its gradient (rows = batches of one)', () => {
    const x = makeInput([4, 2, 5], 'contiguous', rng, 1);
    const w = randomTensor([5], rng).add(1.5).requireGrad();
    const b = randomTensor([5], rng).requireGrad();
    const W = randomTensor([3, 5], rng).requireGrad();
    const f = (x: Tensor) => layerNorm(x, [5], w, b).tanh().matmul(W.transpose()).square().sum([1, 2]);
    const input = x.detach().requireGrad();
    const rows = perSampleGradients(f(input), [w, b, W], input);
    for (let i = 0; i < 4; i++) {
      const ref = gradients([f(x.slice([[i, i + 1]])).sum()], [w, b, W]);
      ref.forEach((g, k) => expectAllClose(rows[k]!.slice([[i, i + 1]]).reshape(g.shape), Array.from(g.toTypedArray()), { what: `sample ${i}, param ${k}` }));
    }
  });

  it('are refused when the batch is one of the normalized axes', () => {
    const x = makeInput([4, 5], 'contiguous', rng, 1);
    const w = randomTensor([4], rng).requireGrad();
    // Normalizing over [5, 4] after a transpose puts the batch (size 4) among the normalized axes.
    const f = (x: Tensor) => layerNorm(x.transpose(0, 1), [4]).mul(w).sum(0);
    const input = x.detach().requireGrad();
    expect(() => perSampleGradients(f(input), [w], input)).toThrow(GradError);
    expect(() => perSampleGradients(f(input), [w], input)).toThrow(/samples interact through 'layerNorm' \(it normalizes over its last 1 axes, and the batch is on axis 1\)/);
  });
});

describe('float32 with |μ| ≫ σ', () => {
  it('keeps the digits that E[x²] − μ² would cancel (μ = 1e4, σ ≈ 1e-2)', () => {
    const rng = mulberry32(3);
    const n = 64;
    const base = Array.from({ length: 2 * n }, () => 1e-2 * (2 * rng() - 1));
    const x32 = tensor(base.map((v) => 1e4 + v), { shape: [2, n], dtype: 'float32' });
    // The reference: the float32 values themselves, normalized in float64 by the composite.
    const ref = composite(x32.to('float64'), [n], null, null);
    const w = tensor(new Array(n).fill(1), { dtype: 'float32' });
    const b = tensor(new Array(n).fill(0), { dtype: 'float32' });
    expectNear(layerNorm(x32, [n]).to('float64'), ref, 2e-5, 'forward');
    expectNear(fused(x32, [n], w, b).to('float64'), ref, 2e-5, 'forward, fused affine');
    // One-pass E[x²] − μ² in float32 for contrast: it is off by O(1) here.
    const m = x32.mean(1, true);
    const naive = x32.sub(m).div(x32.square().mean(1, true).sub(m.square()).abs().add(EPS).sqrt());
    const err = naive.to('float64').sub(ref).abs().max().item();
    expect(err).toBeGreaterThan(0.1);
    const g = randomTensor([2, n], rng);
    const x = x32.requireGrad();
    const [dx] = gradients([layerNorm(x, [n]).mul(g.to('float32')).sum()], [x]);
    const x64 = x32.to('float64').detach().requireGrad();
    const [dref] = gradients([composite(x64, [n], null, null).mul(g).sum()], [x64]);
    // The gradient scales with r ≈ 1/σ ≈ 170: compare relative to its size.
    const scale = dref!.abs().max().item();
    expect(dx!.to('float64').sub(dref!).abs().max().item() / scale).toBeLessThan(1e-4);
  });
});
