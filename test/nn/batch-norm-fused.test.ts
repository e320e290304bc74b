/**
 * BatchNorm's fused train-mode primitives (issue #17: src/autograd/ops/batch-norm.ts,
 * batch-norm-backward.ts, src/kernels/cpu/batch-norm.ts) against the composite they replace,
 * kept here as the reference (mean, biased var, sub, div, sqrt, mul, add — primitives only):
 *
 *   1. forward, the three gradients and the batch statistics equal the composite's in float64
 *      to 1e-12, over random shapes (N 1…4, C 1…5, no spatial axes, L 1…5 or H×W 1×1…5×5),
 *      with and without affine, on contiguous, channel-permuted, sliced and non-mergeable
 *      (copied) layouts, and for a broadcast output gradient;
 *   2. central differences: first order, second order (grad of grad, and an HVP through a
 *      conv → BN → tanh → linear → BN network against differences of its gradient), and third
 *      order (the second-order rules are composites, so they differentiate too);
 *   3. forward mode and vmap: jvp against differences, jacfwd(jacrev) against jacrev(jacrev),
 *      vmap and vmap(grad) against loops over samples (per-sample statistics);
 *   4. the layer: running statistics as the composite layer updated them, float32 within 1e-5
 *      of float64, perSampleGrads refused and perSampleJacobian exact, every backend.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  concat,
  conv2d,
  crossEntropy,
  getBackend,
  grad,
  gradients,
  hvp,
  jacfwd,
  jacrev,
  jvp,
  tensor,
  vmap,
  type Tensor,
} from '../../src/index.js';
import { batchNormTrain } from '../../src/autograd/ops/batch-norm.js';
import { batchNormTrainBackward } from '../../src/autograd/ops/batch-norm-backward.js';
import { hessianVectorProduct, objective } from '../../src/analysis/objective.js';
import { cpuBackend } from '../../src/kernels/cpu/index.js';
import { BatchNorm1d, BatchNorm2d, Conv2d, Flatten, Linear, Sequential, Tanh, mlp } from '../../src/nn/index.js';
import { perSampleGrads, perSampleJacobian } from '../../src/nn/per-sample.js';
import { mulberry32 } from '../arbitraries.js';
import { expectAllClose, gradcheck, gradgradcheck, randomTensor } from '../gradcheck.js';

const f64 = { dtype: 'float64' as const };
const EPS = 1e-5;

const statisticAxes = (rank: number) => Array.from({ length: rank }, (_, i) => i).filter((i) => i !== 1);
const channelShape = (shape: readonly number[]) => shape.map((d, i) => (i === 1 ? d : 1));

/** The composite the layer used before the fused primitive, verbatim. */
function composite(x: Tensor, weight: Tensor | null, bias: Tensor | null, eps: number) {
  const axes = statisticAxes(x.rank);
  const chan = channelShape(x.shape);
  const mean = x.mean(axes, true);
  const variance = x.var(axes, { correction: 0, keepdim: true });
  const normalized = x.sub(mean).div(variance.add(eps).sqrt());
  const output = weight ? normalized.mul(weight.reshape(chan)).add(bias!.reshape(chan)) : normalized;
  const C = x.shape[1]!;
  return { output, mean: mean.reshape([C]).detach(), variance: variance.reshape([C]).detach() };
}

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

type Layout = 'contiguous' | 'channels-first' | 'sliced' | 'transposed';

/**
 * x of `shape` with values v·scale + offset_c (a different offset per channel, so the shifted
 * sums matter), stored in `layout`: channels-first permutes a [C, N, …] tensor (strides on
 * N and C that are not row-major), sliced takes every other element along the last axis (N
 * for [N, C]) of a larger tensor (trailing axes still merge), transposed swaps H and W of a [N, C, W, H] tensor (they do
 * not merge: the kernels copy it first).
 */
function makeInput(shape: number[], layout: Layout, rng: () => number, offset = 3): Tensor {
  const C = shape[1]!;
  const offsets = Array.from({ length: C }, () => offset * (2 * rng() - 1));
  const fill = (s: number[], channelAxis: number) => {
    const t = randomTensor(s, rng);
    return t.add(tensor(offsets, f64).reshape(s.map((d, i) => (i === channelAxis ? d : 1))));
  };
  if (layout === 'channels-first') {
    const [N, , ...rest] = shape;
    const perm = [1, 0, ...rest.map((_, i) => i + 2)];
    return fill([C, N!, ...rest], 0).permute(perm);
  }
  if (layout === 'sliced') {
    // The last axis, or N for [N, C] (never the channel axis).
    const axis = shape.length > 2 ? shape.length - 1 : 0;
    const wide = shape.map((d, i) => (i === axis ? 2 * d : d));
    return fill(wide, 1).slice(wide.map((_, i) => (i === axis ? ([0, null, 2] as const) : null)));
  }
  if (layout === 'transposed' && shape.length === 4) {
    const [N, , H, W] = shape as [number, number, number, number];
    return fill([N, C, W, H], 1).transpose(2, 3);
  }
  return fill(shape, 1);
}

const shapeArb = fc
  .record({
    N: fc.integer({ min: 1, max: 4 }),
    C: fc.integer({ min: 1, max: 5 }),
    spatial: fc.oneof(fc.constant([] as number[]), fc.tuple(fc.integer({ min: 1, max: 5 })), fc.tuple(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 }))),
    affine: fc.boolean(),
    layout: fc.constantFrom<Layout>('contiguous', 'channels-first', 'sliced', 'transposed'),
    seed: fc.integer({ min: 0, max: 1 << 30 }),
  })
  .map((r) => ({ ...r, shape: [r.N, r.C, ...r.spatial] }));

describe('batchNormTrain equals the composite it replaces (float64, 1e-12)', () => {
  it('output, statistics and the gradients of x, γ and β, over random shapes and layouts (property)', () => {
    fc.assert(
      fc.property(shapeArb, ({ shape, affine, layout, seed }) => {
        const rng = mulberry32(seed);
        const x = makeInput(shape, layout, rng).requireGrad();
        const C = shape[1]!;
        const w = affine ? randomTensor([C], rng).add(1.5).requireGrad() : null;
        const b = affine ? randomTensor([C], rng).requireGrad() : null;
        const g = randomTensor(shape, rng);
        const fused = batchNormTrain(x, w, b, EPS);
        const ref = composite(x, w, b, EPS);
        expectNear(fused.output, ref.output, 1e-12, 'output');
        expectNear(fused.mean, ref.mean, 1e-12, 'mean');
        expectNear(fused.variance, ref.variance, 1e-12, 'variance');
        expect(fused.mean.requiresGrad || fused.variance.requiresGrad).toBe(false);
        const wrt = affine ? [x, w!, b!] : [x];
        const gf = gradients([fused.output], wrt, { gradOutputs: [g] });
        const gr = gradients([ref.output], wrt, { gradOutputs: [g] });
        gf.forEach((t, i) => expectNear(t, gr[i]!, 1e-12, `gradient ${i} (${JSON.stringify(shape)}, ${layout})`));
      }),
      { numRuns: 120 },
    );
  });

  it('a broadcast (stride-0) output gradient, and a large offset (|μ| ≫ σ)', () => {
    const rng = mulberry32(4);
    for (const offset of [0, 1e3]) {
      const x = makeInput([3, 4, 5, 2], 'contiguous', rng, offset).requireGrad();
      const w = randomTensor([4], rng).requireGrad();
      const b = randomTensor([4], rng).requireGrad();
      // tanh makes the gradient non-trivial; sum alone would give ∂x = 0.
      const lossFused = batchNormTrain(x, w, b, EPS).output.tanh().sum();
      const lossRef = composite(x, w, b, EPS).output.tanh().sum();
      const gf = gradients([lossFused], [x, w, b]);
      const gr = gradients([lossRef], [x, w, b]);
      gf.forEach((t, i) => expectNear(t, gr[i]!, offset ? 1e-9 : 1e-12, `gradient ${i}, offset ${offset}`));
      const plain = gradients([batchNormTrain(x, w, b, EPS).output.sum()], [x, w, b]);
      // Σy does not depend on x (the output has mean β per channel whatever x is).
      expectAllClose(plain[0]!, new Array(x.size).fill(0), { atol: 1e-10 });
      expectAllClose(plain[2]!, new Array(4).fill(30), { rtol: 1e-14 });
    }
  });

  it('refuses bad arguments with messages that name the op', () => {
    const x = randomTensor([2, 3], mulberry32(1));
    expect(() => batchNormTrain(randomTensor([3], mulberry32(1)), null, null, EPS)).toThrow(/batchNormTrain: expected input \[N, C, …\] of rank ≥ 2; got \[3\]/);
    expect(() => batchNormTrain(x, tensor([1, 2, 3], f64), null, EPS)).toThrow(/batchNormTrain: expected both weight and bias, or neither/);
    expect(() => batchNormTrain(x, tensor([1, 2], f64), tensor([1, 2], f64), EPS)).toThrow(/batchNormTrain: expected weight \[3\] for input \[2,3\]; got \[2\]/);
    expect(() => batchNormTrain(x, tensor([1, 2, 3]), tensor([1, 2, 3]), EPS)).toThrow(/batchNormTrain: dtypes must match/);
  });
});

describe('derivatives of every order against central differences', () => {
  const rng = mulberry32(11);
  const cases: [string, number[], boolean][] = [
    ['[N, C] affine', [4, 3], true],
    ['[N, C, L] no affine', [2, 2, 3], false],
    ['[N, C, H, W] affine', [2, 3, 2, 2], true],
  ];

  for (const [name, shape, affine] of cases) {
    const C = shape[1]!;
    const x = makeInput(shape, 'contiguous', rng, 1);
    const w = randomTensor([C], rng).add(1.5);
    const b = randomTensor([C], rng);
    const f = affine ? (x: Tensor, w: Tensor, b: Tensor) => batchNormTrain(x, w, b, EPS).output : (x: Tensor) => batchNormTrain(x, null, null, EPS).output;
    const inputs = affine ? [x, w, b] : [x];

    it(`${name}: gradcheck`, () => gradcheck(f as (...xs: Tensor[]) => Tensor, inputs, { name, samples: 6 }));
    it(`${name}: gradgradcheck (HVPs)`, () => gradgradcheck(f as (...xs: Tensor[]) => Tensor, inputs, { name, samples: 6 }));
    it(`${name}: batchNormTrainBackward's own rules (second and third order)`, () => {
      const g = randomTensor(shape, rng);
      const back = affine ? (x: Tensor, g: Tensor, w: Tensor) => batchNormTrainBackward(x, g, w, EPS) : (x: Tensor, g: Tensor) => batchNormTrainBackward(x, g, null, EPS);
      const args = affine ? [x, g, w] : [x, g];
      gradcheck(back as (...xs: Tensor[]) => Tensor, args, { name: `backward of ${name}`, samples: 6 });
      gradgradcheck(back as (...xs: Tensor[]) => Tensor, args, { name: `backward of ${name}`, samples: 4 });
    });
  }

  it('HVP through conv → BatchNorm2d → tanh → linear → BatchNorm1d (train mode) = differences of the gradient', () => {
    const model = new Sequential(
      new Conv2d(1, 2, 3, { seed: 1, ...f64 }),
      new BatchNorm2d(2, f64),
      new Tanh(),
      new Flatten(),
      new Linear(8, 3, { seed: 2, ...f64 }),
      new BatchNorm1d(3, f64),
    );
    const x = randomTensor([4, 1, 4, 4], rng);
    const batch = { x, targets: [0, 2, 1, 2] };
    const F = objective(model, batch, { batchNorm: 'train' });
    const w = model.flattenParameters();
    const v = randomTensor(w.shape, rng);
    const before = model.saveStats();
    const Hv = hessianVectorProduct(model, batch, v, { batchNorm: 'train' });
    const h = 1e-5;
    const gradAt = (p: Tensor) => {
      const leaf = p.detach().requireGrad();
      return gradients([F(leaf)], [leaf])[0]!;
    };
    const numeric = gradAt(w.add(v.mul(h))).sub(gradAt(w.sub(v.mul(h)))).div(2 * h);
    expectAllClose(Hv, Array.from(numeric.toTypedArray()), { rtol: 1e-6, atol: 1e-8 });
    // The measurement ran in train mode inside withFrozenStats: running statistics untouched.
    for (const [k, s] of model.saveStats()) expect(s).toEqual(before.get(k));
  });

  it('hvp of a functional conv → batchNormTrain → tanh loss in all three of x, γ, β', () => {
    const x0 = randomTensor([3, 2, 3, 3], rng);
    const k = randomTensor([2, 2, 2, 2], rng);
    const c = randomTensor([3, 2, 2, 2], rng);
    const loss = (x: Tensor, w: Tensor, b: Tensor) => batchNormTrain(conv2d(x, k), w, b, EPS).output.tanh().mul(c).sum();
    const primals = [x0, randomTensor([2], rng).add(1), randomTensor([2], rng)] as const;
    const dirs = [randomTensor(x0.shape, rng), randomTensor([2], rng), randomTensor([2], rng)] as const;
    const Hv = hvp((x: Tensor, w: Tensor, b: Tensor) => loss(x, w, b), [...primals], [...dirs]) as Tensor[];
    const h = 1e-5;
    const gradAt = (s: number) => grad(loss, { argnums: [0, 1, 2] })(...(primals.map((p, i) => p.add(dirs[i]!.mul(s * h))) as [Tensor, Tensor, Tensor]));
    const plus = gradAt(1);
    const minus = gradAt(-1);
    Hv.forEach((t, i) => expectAllClose(t, Array.from(plus[i]!.sub(minus[i]!).div(2 * h).toTypedArray()), { rtol: 1e-6, atol: 1e-8 }));
  });
});

describe('forward mode and vmap', () => {
  const rng = mulberry32(21);

  it('jvp = central difference, with tangents on any subset of x, γ, β', () => {
    const x = makeInput([3, 2, 2, 3], 'contiguous', rng, 1);
    const w = randomTensor([2], rng).add(1.5);
    const b = randomTensor([2], rng);
    const f = (x: Tensor, w: Tensor, b: Tensor) => batchNormTrain(x, w, b, EPS).output;
    const zeroOr = (t: Tensor, on: boolean) => (on ? t : t.mul(0));
    for (const mask of [[true, false, false], [false, true, false], [false, false, true], [true, true, true]]) {
      const t = [randomTensor(x.shape, rng), randomTensor([2], rng), randomTensor([2], rng)].map((t, i) => zeroOr(t, mask[i]!)) as [Tensor, Tensor, Tensor];
      const [, tangent] = jvp(f, [x, w, b], t);
      const h = 1e-6;
      const at = (s: number) => f(x.add(t[0].mul(s * h)), w.add(t[1].mul(s * h)), b.add(t[2].mul(s * h)));
      expectAllClose(tangent, Array.from(at(1).sub(at(-1)).div(2 * h).toTypedArray()), { rtol: 1e-6, atol: 1e-8 });
    }
  });

  it('batchNormTrainBackward: jvp = central difference, with tangents on any subset of x, g, γ', () => {
    for (const affine of [true, false]) {
      const x = makeInput([3, 2, 4], 'contiguous', rng, 1);
      const g = randomTensor(x.shape, rng);
      const w = randomTensor([2], rng).add(1.5);
      const f = (x: Tensor, g: Tensor, w: Tensor) => batchNormTrainBackward(x, g, affine ? w : null, EPS);
      for (const mask of [[true, false, false], [false, true, false], [false, false, true], [true, true, true]]) {
        const t = [randomTensor(x.shape, rng), randomTensor(x.shape, rng), randomTensor([2], rng)].map((t, i) => (mask[i] ? t : t.mul(0))) as [Tensor, Tensor, Tensor];
        const [, tangent] = jvp(f, [x, g, w], t);
        const h = 1e-6;
        const at = (s: number) => f(x.add(t[0].mul(s * h)), g.add(t[1].mul(s * h)), w.add(t[2].mul(s * h)));
        expectAllClose(tangent, Array.from(at(1).sub(at(-1)).div(2 * h).toTypedArray()), { rtol: 1e-6, atol: 1e-8, what: `affine ${affine}, tangents ${mask}` });
      }
    }
  });

  it('forward over reverse: jacfwd(jacrev(f)) = jacrev(jacrev(f)) (the backward primitive’s jvp rule)', () => {
    const x = makeInput([3, 2, 2], 'contiguous', rng, 1);
    const w = randomTensor([2], rng).add(1.5);
    const b = randomTensor([2], rng);
    const c = randomTensor([3, 2, 2], rng);
    const f = (x: Tensor) => batchNormTrain(x, w, b, EPS).output.tanh().mul(c).sum();
    const fwdRev = jacfwd(jacrev(f))(x) as Tensor;
    const revRev = jacrev(jacrev(f))(x) as Tensor;
    expectNear(fwdRev, revRev, 1e-10, 'Hessian');
    const g = (w: Tensor) => batchNormTrain(x, w, b, EPS).output.tanh().mul(c).sum();
    expectNear(jacfwd(jacrev(g))(w) as Tensor, jacrev(jacrev(g))(w) as Tensor, 1e-10, 'Hessian in γ');
  });

  it('vmap normalises each sample by its own statistics; vmap(grad) = a loop of grads (batched params too)', () => {
    const B = 3;
    const xs = makeInput([B * 2, 3, 4], 'contiguous', rng, 1).reshape([B, 2, 3, 4]);
    const ws = randomTensor([B, 3], rng).add(1.5);
    const bs = randomTensor([B, 3], rng);
    const w0 = ws.slice([[0, 1]]).reshape([3]);
    const b0 = bs.slice([[0, 1]]).reshape([3]);
    const c = randomTensor([2, 3, 4], rng);
    const sample = (t: Tensor, i: number) => t.slice([[i, i + 1]]).reshape(t.shape.slice(1));
    const f = (x: Tensor, w: Tensor, b: Tensor) => batchNormTrain(x, w, b, EPS).output;
    const loss = (x: Tensor, w: Tensor, b: Tensor) => f(x, w, b).tanh().mul(c).sum();
    for (const [inAxes, args] of [
      [[0, null, null], [xs, w0, b0]],
      [[0, 0, 0], [xs, ws, bs]],
      [[null, 0, 0], [sample(xs, 1), ws, bs]],
    ] as const) {
      const pick = (i: number) => args.map((a, k) => (inAxes[k] === null ? a : sample(a, i))) as [Tensor, Tensor, Tensor];
      const out = vmap(f, { inAxes: [...inAxes] })(...(args as unknown as [Tensor, Tensor, Tensor]));
      expectNear(out, concat(Array.from({ length: B }, (_, i) => f(...pick(i)).unsqueeze(0)), 0), 1e-12, `vmap ${inAxes}`);
      const grads = vmap(grad(loss, { argnums: [0, 1, 2] }), { inAxes: [...inAxes] })(...(args as unknown as [Tensor, Tensor, Tensor])) as Tensor[];
      for (let i = 0; i < B; i++) {
        const ref = grad(loss, { argnums: [0, 1, 2] })(...pick(i));
        grads.forEach((gk, k) => expectNear(sample(gk, i), ref[k]!, 1e-12, `vmap(grad) ${inAxes}, sample ${i}, argument ${k}`));
      }
    }
  });

  it('both batching rules on batch axes other than 0 and on nested vmaps = loops', () => {
    const B = 2;
    // Physical inputs with the batch on axis 2 (x, g) and 1 (γ).
    const xs = makeInput([3, 2, B, 4], 'contiguous', rng, 1);
    const gs = randomTensor([3, 2, B, 4], rng);
    const ws = randomTensor([2, B], rng).add(1.5);
    const at = (t: Tensor, axis: number, i: number) => t.slice(t.shape.map((_, d) => (d === axis ? ([i, i + 1] as const) : null))).squeeze(axis);
    const back = (x: Tensor, g: Tensor, w: Tensor) => batchNormTrainBackward(x, g, w, EPS);
    const batched = vmap(back, { inAxes: [2, 2, 1] })(xs, gs, ws);
    for (let i = 0; i < B; i++) expectNear(at(batched, 0, i), back(at(xs, 2, i), at(gs, 2, i), at(ws, 1, i)), 1e-12, `backward, sample ${i}`);
    const fwd = (x: Tensor, w: Tensor) => batchNormTrain(x, w, w.mul(0.5), EPS).output;
    const nested = vmap(vmap(fwd, { inAxes: [0, null] }), { inAxes: [null, 0] })(xs.permute([2, 0, 1, 3]), ws.transpose(0, 1));
    for (let i = 0; i < B; i++) {
      for (let j = 0; j < B; j++) expectNear(at(at(nested, 0, i), 0, j), fwd(at(xs, 2, j), at(ws, 1, i)), 1e-12, `nested, ${i}, ${j}`);
    }
  });

  it('the layer with perSampleStatistics under vmap(grad) through functionalCall-free closures', () => {
    const bn = new BatchNorm2d(2, { ...f64, perSampleStatistics: true });
    const xs = makeInput([3 * 2, 2, 2, 2], 'contiguous', rng, 1).reshape([3, 2, 2, 2, 2]);
    const before = bn.saveStats();
    const loss = (x: Tensor) => bn.forward(x).tanh().sum();
    const rows = vmap(grad(loss))(xs);
    for (const [k, s] of bn.saveStats()) expect(s).toEqual(before.get(k));
    for (let i = 0; i < 3; i++) {
      const xi = xs.slice([[i, i + 1]]).reshape([2, 2, 2, 2]);
      const ref = bn.withFrozenStats(() => grad(loss)(xi));
      expectNear(rows.slice([[i, i + 1]]).reshape([2, 2, 2, 2]), ref, 1e-12, `sample ${i}`);
    }
  });
});

describe('the layer on the fused primitive', () => {
  const rng = mulberry32(31);

  /** The composite layer's update (the code before issue #17). */
  function compositeUpdate(rm: Tensor, rv: Tensor, x: Tensor, m: number): [Tensor, Tensor] {
    const { mean, variance } = composite(x, null, null, EPS);
    const n = x.size / x.shape[1]!;
    return [rm.mul(1 - m).add(mean.mul(m)), rv.mul(1 - m).add(variance.mul(n / (n - 1)).mul(m))];
  }

  for (const [name, make, shape] of [
    ['BatchNorm1d [N, C]', () => new BatchNorm1d(3, { ...f64, momentum: 0.3 }), [6, 3]],
    ['BatchNorm1d [N, C, L]', () => new BatchNorm1d(3, { ...f64, momentum: 0.3 }), [2, 3, 5]],
    ['BatchNorm2d [N, C, H, W]', () => new BatchNorm2d(3, { ...f64, momentum: 0.3, affine: false }), [2, 3, 4, 3]],
  ] as const) {
    it(`${name}: running statistics as the composite layer updated them, over three steps`, () => {
      const bn = make();
      let rm = tensor([0, 0, 0], f64);
      let rv = tensor([1, 1, 1], f64);
      for (let step = 0; step < 3; step++) {
        const x = makeInput([...shape], 'contiguous', rng, 4);
        bn.forward(x);
        [rm, rv] = compositeUpdate(rm, rv, x, 0.3);
        const stats = bn.saveStats();
        expectAllClose(stats.get('running_mean')!, Array.from(rm.toTypedArray()), { rtol: 1e-14, atol: 1e-15, what: 'running_mean' });
        expectAllClose(stats.get('running_var')!, Array.from(rv.toTypedArray()), { rtol: 1e-14, atol: 1e-15, what: 'running_var' });
      }
    });
  }

  it('float32 within 1e-5 of the float64 composite: output, gradients, running statistics', () => {
    for (const shape of [[8, 4], [4, 3, 5, 5]]) {
      const C = shape[1]!;
      const x64 = makeInput(shape, 'contiguous', rng, 2);
      const c64 = randomTensor(shape, rng);
      const Layer = shape.length === 2 ? BatchNorm1d : BatchNorm2d;
      const bn32 = new Layer(C);
      const x32 = x64.to('float32').requireGrad();
      const y32 = bn32.forward(x32);
      const [gx32, gw32, gb32] = gradients([y32], [x32, ...bn32.parameters()], { gradOutputs: [c64.to('float32')] });
      // The reference sees exactly the float32 inputs, in float64.
      const x = x32.detach().to('float64').requireGrad();
      const w = tensor(new Array(C).fill(1), f64).requireGrad();
      const b = tensor(new Array(C).fill(0), f64).requireGrad();
      const ref = composite(x, w, b, EPS);
      const [gx, gw, gb] = gradients([ref.output], [x, w, b], { gradOutputs: [c64] });
      expectNear(y32.to('float64'), ref.output, 1e-5, 'float32 output');
      expectNear(gx32!.to('float64'), gx!, 1e-5, 'float32 ∂x');
      expectNear(gw32!.to('float64'), gw!, 1e-5, 'float32 ∂γ');
      expectNear(gb32!.to('float64'), gb!, 1e-5, 'float32 ∂β');
      const n = x.size / C;
      expectNear(bn32.buffers()[0]!.to('float64'), ref.mean.mul(0.1), 1e-5, 'float32 running_mean');
      expectNear(bn32.buffers()[1]!.to('float64'), ref.variance.mul(0.1 * n / (n - 1)).add(0.9), 1e-5, 'float32 running_var');
    }
  });

  it('perSampleGrads refuses train mode, naming the fused op; perSampleJacobian rows are exact', () => {
    const model = mlp([4, 5, 3], { seed: 1, batchNorm: true, ...f64 });
    const x = randomTensor([4, 4], rng);
    const targets = [0, 1, 2, 1];
    expect(() => perSampleGrads(model, { x, targets })).toThrow(/samples interact through 'batchNormTrain' \(its batch statistics sum over the batch axis\).*perSampleJacobian/);
    const { rows } = perSampleJacobian(model, { x, targets });
    const params = model.parameters();
    const li = model.withFrozenStats(() => crossEntropy(model.forward(x), targets, 'none').slice([[2, 3]]).sum());
    const gi = gradients([li], params);
    model.namedParameters().forEach(([name], k) => expectNear(rows.get(name)!.slice([[2, 3]]).reshape(params[k]!.shape), gi[k]!, 1e-12, name));
  });

  it('every backend has the fused kernels (wasm and gpu spread the cpu backend)', () => {
    const backend = getBackend();
    expect(typeof backend.batchNormForward).toBe('function');
    expect(typeof backend.batchNormBackward).toBe('function');
    expect(backend.batchNormForward === cpuBackend.batchNormForward || backend.name !== 'cpu').toBe(true);
  });
});
