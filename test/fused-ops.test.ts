/**
 * The fused primitives of issue 17 against the composites they replace:
 *
 *   - crossEntropy (ops/cross-entropy.ts) and its gradient crossEntropyBackward: losses equal
 *     −gather(logSoftmax(x), t) — bit for bit in float64 for 'none', to 1e-12 reduced — on
 *     random shapes and strided layouts, saturated logits included; NaN and ±∞ give what the
 *     composite gives; gradients, HVPs and jvps equal the composite's to 1e-12 / 1e-10;
 *     central-difference checks of both ops to second order (third order of the loss); jvp
 *     against the double-vjp trick; vmap against a loop, with logits and targets batched on any
 *     axis or not at all; per-sample gradients through it, and refused when the batch is on the
 *     class axis;
 *   - reluBackward (ops/relu-backward.ts): relu's gradient is g·(y > 0) exactly as before
 *     (mask 0 at x = 0, 0·∞ = NaN), linear in g to any order, jvp and vmap as the definitions.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  GradError,
  ValueError,
  crossEntropy,
  gather,
  grad,
  gradients,
  hvp,
  jvp,
  logSoftmax,
  mlp,
  perSampleGradients,
  randn,
  stack,
  tensor,
  vmap,
  type Tensor,
} from '../src/index.js';
import { crossEntropyBackward } from '../src/autograd/ops/cross-entropy-backward.js';
import { crossEntropyRows } from '../src/autograd/ops/cross-entropy.js';
import { reluBackward } from '../src/autograd/ops/relu-backward.js';
import { jvpByDoubleVjp } from '../src/autograd/transforms.js';
import { materialize, specOf } from './arbitraries.js';
import { expectAllClose, gradcheck, gradgradcheck } from './gradcheck.js';

const f64 = { dtype: 'float64' as const };
type Reduction = 'mean' | 'sum' | 'none';

/** The composite cross-entropy the primitive replaced: −log softmax(x)[t] per row, then reduced. */
function compositeCE(x: Tensor, t: Tensor, reduction: Reduction = 'mean'): Tensor {
  const rows = gather(logSoftmax(x, 1), 1, t.reshape([t.size, 1])).reshape([t.size]).neg();
  return reduction === 'none' ? rows : reduction === 'sum' ? rows.sum() : rows.mean();
}

const int32 = (xs: readonly number[]) => tensor(Int32Array.from(xs));

/** logits [N, C] (random layout, values in ±5, optionally scaled), int32 targets, a reduction. */
const ceCase = fc
  .record({ n: fc.integer({ min: 1, max: 5 }), c: fc.integer({ min: 1, max: 6 }), scale: fc.constantFrom(1, 1, 50) })
  .chain(({ n, c, scale }) =>
    fc.record({
      spec: specOf([n, c], { min: -5, max: 5 }).map((s) => ({ ...s, values: s.values.map((v) => v * scale) })),
      targets: fc.array(fc.integer({ min: 0, max: c - 1 }), { minLength: n, maxLength: n }),
      reduction: fc.constantFrom<Reduction>('mean', 'sum', 'none'),
      seed: fc.nat(),
    }),
  );

/** Same values, NaN as NaN and ±∞ exactly. */
function expectSame(actual: Tensor, expected: Tensor, rtol: number, what: string): void {
  expect(actual.shape, `${what}: shape`).toEqual(expected.shape);
  expectAllClose(actual, expected.toTypedArray(), { rtol, atol: rtol, what });
}

describe('fused crossEntropy against the composite', () => {
  it('losses: bit for bit per sample in float64, to 1e-12 reduced, on random layouts and saturated logits', () => {
    fc.assert(
      fc.property(ceCase, ({ spec, targets, reduction }) => {
        const x = materialize(spec);
        const t = int32(targets);
        expect(Array.from(crossEntropy(x, t, 'none').toTypedArray())).toEqual(Array.from(compositeCE(x, t, 'none').toTypedArray()));
        expectSame(crossEntropy(x, t, reduction), compositeCE(x, t, reduction), 1e-12, `crossEntropy ${reduction}`);
      }),
      { numRuns: 60 },
    );
  });

  it('gradients, HVPs and jvps equal the composite’s', () => {
    fc.assert(
      fc.property(ceCase, ({ spec, targets, reduction, seed }) => {
        const x = materialize(spec);
        const t = int32(targets);
        const c = randn([targets.length], { seed, ...f64 });
        const scalar = (f: typeof compositeCE) => (y: Tensor) => (reduction === 'none' ? f(y, t, 'none').mul(c).sum() : f(y, t, reduction));
        const fused = scalar(crossEntropy);
        const composite = scalar(compositeCE);
        expectSame(grad(fused)(x), grad(composite)(x), 1e-12, 'gradient');
        const v = randn(spec.shape, { seed: seed + 1, ...f64 });
        expectSame(hvp(fused, x, v), hvp(composite, x, v), 1e-10, 'HVP');
        expectSame(jvp(fused, [x], [v])[1], jvp(composite, [x], [v])[1], 1e-12, 'jvp');
        expectSame(jvp((y: Tensor) => grad(fused)(y), [x], [v])[1], hvp(composite, x, v), 1e-10, 'forward-over-reverse HVP');
      }),
      { numRuns: 40 },
    );
  });

  it('NaN and ±∞ logits give the composite’s losses and gradients', () => {
    const rows = [
      [1, NaN, 2],
      [Infinity, 0, 1],
      [Infinity, Infinity, 0],
      [-Infinity, 0, 1],
      [-Infinity, -Infinity, -Infinity],
      [0, -Infinity, 3],
      [1e300, -1e300, 0],
    ];
    const x = tensor(rows, f64);
    const cotangent = tensor([1, 2, 3, 4, 5, 6, 7], f64);
    const gradientOf = (f: (y: Tensor) => Tensor) => {
      const leaf = tensor(rows, f64).requireGrad();
      return gradients([f(leaf)], [leaf], { gradOutputs: [cotangent] })[0]!;
    };
    for (const targets of [[0, 0, 0, 0, 0, 1, 1], [2, 1, 2, 1, 1, 2, 0]]) {
      const t = int32(targets);
      expectSame(crossEntropy(x, t, 'none'), compositeCE(x, t, 'none'), 1e-12, `losses for targets ${targets}`);
      expectSame(
        gradientOf((y) => crossEntropy(y, t, 'none')),
        gradientOf((y) => compositeCE(y, t, 'none')),
        1e-12,
        `gradient for targets ${targets}`,
      );
    }
    // A NaN row stays NaN; an infinite target logit below the max gives +∞ loss.
    const losses = Array.from(crossEntropy(x, int32([0, 1, 2, 1, 1, 1, 0]), 'none').toTypedArray());
    expect(Number.isNaN(losses[0]!)).toBe(true);
    expect(losses[5]).toBe(Infinity);
  });

  it('float32 logits: losses and gradients within float32 precision of the float64 composite', () => {
    fc.assert(
      fc.property(ceCase, ({ spec, targets, reduction }) => {
        const s = { ...spec, values: spec.values.map(Math.fround) };
        const x32 = materialize(s, { dtype: 'float32' });
        const x64 = materialize(s);
        const t = int32(targets);
        const a = crossEntropy(x32, t, reduction);
        expect(a.dtype).toBe('float32');
        // Losses reach ≈ 500 with saturated logits: a few float32 ulps of that.
        expectAllClose(a, compositeCE(x64, t, reduction).toTypedArray(), { rtol: 1e-6, atol: 1e-5 });
        if (reduction !== 'none') {
          expectAllClose(grad((y: Tensor) => crossEntropy(y, t, reduction))(x32), grad((y: Tensor) => compositeCE(y, t, reduction))(x64).toTypedArray(), { rtol: 1e-5, atol: 1e-6 });
        }
      }),
      { numRuns: 30 },
    );
  });

  it('central differences: both primitives to second order (the loss to third)', () => {
    fc.assert(
      fc.property(ceCase, ({ spec, targets, seed }) => {
        const t = int32(targets);
        const x = materialize({ ...spec, values: spec.values.map((v) => v / 10) });
        const g = randn([targets.length], { seed, ...f64 });
        const rows = (y: Tensor) => crossEntropyRows(y, t);
        const back = (y: Tensor, h: Tensor) => crossEntropyBackward(y, h, t);
        gradcheck(rows, [x], { name: 'crossEntropy', seed });
        gradgradcheck(rows, [x], { name: 'crossEntropy', seed });
        gradcheck(back, [x, g], { name: 'crossEntropyBackward', argNames: ['x', 'g'], seed });
        gradgradcheck(back, [x, g], { name: 'crossEntropyBackward', argNames: ['x', 'g'], seed });
      }),
      { numRuns: 20 },
    );
  });

  it('jvp of both primitives equals the double-vjp trick', () => {
    fc.assert(
      fc.property(ceCase, ({ spec, targets, seed }) => {
        const t = int32(targets);
        const x = materialize(spec);
        const g = randn([targets.length], { seed, ...f64 });
        const tx = randn(spec.shape, { seed: seed + 1, ...f64 });
        const tg = randn([targets.length], { seed: seed + 2, ...f64 });
        const rows = (y: Tensor) => crossEntropyRows(y, t);
        const back = (y: Tensor, h: Tensor) => crossEntropyBackward(y, h, t);
        expectSame(jvp(rows, [x], [tx])[1], jvpByDoubleVjp(rows, [x], [tx])[1], 1e-12, 'jvp of crossEntropy');
        expectSame(jvp(back, [x, g], [tx, tg])[1], jvpByDoubleVjp(back, [x, g], [tx, tg])[1], 1e-12, 'jvp of crossEntropyBackward');
        // One tangent at a time (the other input constant).
        expectSame(jvp((y: Tensor) => back(y, g), [x], [tx])[1], jvpByDoubleVjp((y: Tensor) => back(y, g), [x], [tx])[1], 1e-12, 'jvp in x');
        expectSame(jvp((h: Tensor) => back(x, h), [g], [tg])[1], jvpByDoubleVjp((h: Tensor) => back(x, h), [g], [tg])[1], 1e-12, 'jvp in g');
      }),
      { numRuns: 30 },
    );
  });

  it('vmap equals a loop over samples, logits and targets batched on any axis or not at all', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 4 }),
        fc.constantFrom<0 | 1 | 2 | null>(0, 1, 2, null),
        fc.constantFrom<0 | 1 | null>(0, 1, null),
        fc.nat(),
        (B, N, C, xAxis, tAxis, seed) => {
          if (xAxis === null && tAxis === null) return;
          const xShape = [N, C];
          if (xAxis !== null) xShape.splice(xAxis, 0, B);
          const tShape = [N];
          if (tAxis !== null) tShape.splice(tAxis, 0, B);
          const x = randn(xShape, { seed, ...f64 });
          const gShape = xAxis === null ? [N] : [B, N];
          const g = randn(gShape, { seed: seed + 1, ...f64 });
          const tv = Array.from({ length: tShape.reduce((p, d) => p * d, 1) }, (_, i) => (i * 7 + seed) % C);
          const t = tensor(Int32Array.from(tv), { shape: tShape });
          const pick = (v: Tensor, axis: number | null, i: number) => (axis === null ? v : v.slice(v.shape.map((_, d) => (d === axis ? ([i, i + 1] as const) : null))).squeeze(axis));
          const loop = (f: (xi: Tensor, ti: Tensor, gi: Tensor) => Tensor) =>
            stack(Array.from({ length: B }, (_, i) => f(pick(x, xAxis, i), pick(t, tAxis, i), pick(g, xAxis === null ? null : 0, i))));
          const inAxes = [xAxis, tAxis, xAxis === null ? null : 0];
          const fns: Record<string, (xi: Tensor, ti: Tensor, gi: Tensor) => Tensor> = {
            losses: (xi, ti) => crossEntropy(xi, ti, 'none'),
            mean: (xi, ti) => crossEntropy(xi, ti),
            backward: (xi, ti, gi) => crossEntropyBackward(xi, gi, ti),
            perSampleGrad: (xi, ti) => grad((y: Tensor) => crossEntropy(y, ti))(xi),
          };
          for (const [name, f] of Object.entries(fns)) {
            expectSame(vmap(f, { inAxes })(x, t, g), loop(f), 1e-12, `vmap ${name} (x on ${xAxis}, t on ${tAxis})`);
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it('an out-of-range target inside vmap is a ValueError from the kernel', () => {
    const x = randn([2, 3, 4], { seed: 1, ...f64 });
    const t = tensor(Int32Array.from([0, 1, 2, 3, 4, 0]), { shape: [2, 3] });
    expect(() => vmap((xi: Tensor, ti: Tensor) => crossEntropy(xi, ti, 'none'))(x, t)).toThrow(ValueError);
    expect(() => vmap((xi: Tensor, ti: Tensor) => crossEntropy(xi, ti, 'none'))(x, t)).toThrow(/target 4 is out of range for 4 classes/);
  });

  it('per-sample gradients through it equal batches of one; the batch on the class axis is refused', () => {
    const model = mlp([4, 5, 3], { seed: 2, ...f64 });
    const params = model.parameters();
    const x = randn([4, 4], { seed: 5, ...f64 });
    const t = int32([0, 2, 1, 2]);
    const input = x.detach().requireGrad();
    const rows = perSampleGradients(crossEntropy(model.forward(input), t, 'none'), params, input);
    for (let i = 0; i < 4; i++) {
      const one = gradients([crossEntropy(model.forward(x.slice([[i, i + 1]])), t.slice([[i, i + 1]]), 'sum')], params);
      one.forEach((g, k) => expectAllClose(rows[k]!.slice([[i, i + 1]]).reshape(g.shape), g.toTypedArray(), { rtol: 1e-12, atol: 1e-14 }));
    }
    // Logits with the batch on axis 1: cross-entropy over the batch couples the samples.
    const w = randn([4, 3], { seed: 6, ...f64 }).requireGrad();
    const xin = randn([3, 4], { seed: 7, ...f64 }).requireGrad();
    const losses = crossEntropy(xin.matmul(w).transpose(), int32([0, 1, 2]), 'none');
    expect(() => perSampleGradients(losses, [w], xin)).toThrow(GradError);
    expect(() => perSampleGradients(losses, [w], xin)).toThrow(/samples interact through 'crossEntropy'/);
  });
});

describe('reluBackward, relu’s fused backward', () => {
  const SPECIAL = [-2, -0.5, -0, 0, 1e-300, 0.5, 3, Infinity, -Infinity, NaN];

  it('relu’s gradient is gradOut·(y > 0) exactly as before: 0 at x = 0, NaN from 0·∞', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      const x = tensor(SPECIAL.flatMap((v) => SPECIAL.map(() => v)), { dtype }).requireGrad();
      const gOut = tensor(SPECIAL.flatMap(() => SPECIAL), { dtype });
      const [gx] = gradients([x.relu()], [x], { gradOutputs: [gOut] });
      const y = x.detach().relu();
      const before = gOut.mul(y.gt(0));
      const same = Array.from(gx!.toTypedArray()).every((v, i) => Object.is(v, before.toTypedArray()[i]) || (Number.isNaN(v) && Number.isNaN(before.toTypedArray()[i]!)));
      expect(same, dtype).toBe(true);
      expect(Array.from(grad((v: Tensor) => v.relu().sum())(tensor([-1, 0, 2], { dtype })).toTypedArray())).toEqual([0, 0, 1]);
    }
  });

  it('is linear in g to any order (grad of grad through relu is 0), with jvp and vmap as defined', () => {
    const y = randn([3, 4], { seed: 1, ...f64 }).relu();
    const g = randn([3, 4], { seed: 2, ...f64 });
    const tg = randn([3, 4], { seed: 3, ...f64 });
    const f = (h: Tensor) => reluBackward(h, y);
    gradcheck(f, [g], { name: 'reluBackward' });
    gradgradcheck(f, [g], { name: 'reluBackward' });
    expectSame(jvp(f, [g], [tg])[1], jvpByDoubleVjp(f, [g], [tg])[1], 1e-14, 'jvp');
    expectSame(jvp(f, [g], [tg])[1], f(tg), 0, 'jvp is reluBackward of the tangent');
    // The HVP of a relu network: relu contributes no curvature of its own.
    const w = randn([4, 4], { seed: 4, ...f64 });
    const v = randn([4, 4], { seed: 5, ...f64 });
    const loss = (u: Tensor) => g.matmul(u).relu().matmul(u).pow(2).sum();
    const masked = (u: Tensor) => {
      const h = g.matmul(u);
      return h.mul(h.gt(0)).matmul(u).pow(2).sum();
    };
    expectSame(hvp(loss, w, v), hvp(masked, w, v), 1e-12, 'HVP through relu');
    // vmap, g and y batched or not, against a loop.
    const ys = randn([2, 3, 4], { seed: 6, ...f64 });
    const gs = randn([2, 3, 4], { seed: 7, ...f64 });
    for (const [ga, ya] of [[0, 0], [0, null], [null, 0], [1, 2]] as const) {
      const gb = ga === 1 ? gs.permute([1, 0, 2]) : gs;
      const yb = ya === 2 ? ys.permute([1, 2, 0]) : ys;
      const out = vmap((h: Tensor, m: Tensor) => reluBackward(h, m), { inAxes: [ga, ya] })(ga === null ? g : gb, ya === null ? y : yb);
      const pick = (v: Tensor, axis: number | null, i: number) => (axis === null ? v : v.slice(v.shape.map((_, d) => (d === axis ? ([i, i + 1] as const) : null))).squeeze(axis));
      const loop = stack([0, 1].map((i) => reluBackward(pick(ga === null ? g : gb, ga, i), pick(ya === null ? y : yb, ya, i))));
      expectSame(out, loop, 0, `vmap with g on ${ga}, y on ${ya}`);
    }
  });
});
