/**
 * The fused softmax primitive (src/autograd/ops/softmax.ts) and its fused gradient
 * (softmax-backward.ts): values against the composite it replaced (kept here as the reference), gradients and second order against float64 finite differences, every axis
 * and strided views, vmap against a loop, jvp against reverse mode, and the edge cases
 * (huge logits, −∞, NaN) that the composites defined.
 */
import { describe, expect, it } from 'vitest';
import { GradError, grad, gradients, hvp, jvp, perSampleGradients, randn, stack, tensor, vmap, type Tensor } from '../src/index.js';
import { stopGradientMax } from '../src/autograd/nondiff.js';
import { OPS } from '../src/autograd/registry.js';
import { softmaxBackward } from '../src/autograd/ops/softmax-backward.js';
import { jvpByDoubleVjp } from '../src/autograd/transforms.js';
import { expectAllClose, gradcheck, gradgradcheck } from './gradcheck.js';

const f64 = { dtype: 'float64' } as const;

/** Sample i of xs along `axis` (the axis dropped). */
const pick = (xs: Tensor, axis: number, i: number): Tensor =>
  xs.slice(xs.shape.map((_, d) => (d === axis ? [i, i + 1] : null))).squeeze(axis);

/** The composite softmax that the primitive replaced: exp(x − m) / Σ exp(x − m). */
function refSoftmax(x: Tensor, axis: number): Tensor {
  const e = x.sub(stopGradientMax(x, axis)).exp();
  return e.div(e.sum(axis, true));
}

const kinds = [['softmax', (x: Tensor, a: number) => x.softmax(a), refSoftmax]] as const;

/** Strided inputs: contiguous, a transpose, a stepped slice, a broadcast (expanded) view. */
function views(): [string, Tensor][] {
  const base = randn([3, 4, 5], { seed: 3, ...f64 }).mul(3);
  return [
    ['contiguous [3, 4, 5]', base],
    ['permuted [5, 3, 4]', base.permute([2, 0, 1])],
    ['stepped slice [3, 2, 5]', base.slice([null, [0, null, 2]])],
    ['expanded [3, 4, 5] from [3, 1, 5]', base.slice([null, [1, 2]]).expand([3, 4, 5])],
    ['0-d', tensor(0.7, f64)],
    ['one element along the axis [4, 1]', randn([4, 1], { seed: 4, ...f64 })],
  ];
}

describe('values: the fused kernels against the composites', () => {
  for (const [name, fused, ref] of kinds) {
    it(`${name} in float64 on every axis of contiguous and strided views (within 1e-14)`, () => {
      for (const [what, x] of views()) {
        for (let a = -Math.max(x.rank, 1); a < Math.max(x.rank, 1); a++) {
          const y = fused(x, a);
          expect(y.shape).toEqual(x.shape);
          expect(y.dtype).toBe('float64');
          expectAllClose(y, ref(x, a).toTypedArray(), { rtol: 1e-14, atol: 1e-15, what: `${name} ${what} axis ${a}` });
        }
      }
    });

    it(`${name} in float32: the float64 result rounded once (better than the float32 composite)`, () => {
      for (const [what, x64] of views()) {
        const x = x64.to('float32');
        for (let a = 0; a < Math.max(x.rank, 1); a++) {
          const y = fused(x, a);
          expect(y.dtype).toBe('float32');
          // Reference: the composite in float64 on the same (float32) inputs, rounded to float32.
          const exact = Float32Array.from(ref(x.to('float64'), a).toTypedArray());
          expectAllClose(y, exact, { rtol: 1.2e-7, atol: 1e-7, what: `${name} f32 ${what} axis ${a}` });
        }
      }
    });
  }

  it('is one graph node each way (the primitive, its gradient the fused backward)', () => {
    const x = randn([2, 3], { seed: 1, ...f64 }).requireGrad();
    const y = x.softmax(-1);
    expect(y.node!.op).toBe(OPS.softmax);
    const [g] = gradients([y], [x], { gradOutputs: [randn([2, 3], { seed: 2, ...f64 })], createGraph: true });
    expect(g!.node!.op).toBe(OPS.softmaxBackward);
    expect(y.node!.op.describe!(y.node!.ctx.attrs as never)).toBe('axis=1');
  });

  it('softmax rows sum to 1 and exp(logSoftmax) is softmax', () => {
    const x = randn([6, 7], { seed: 9, ...f64 }).mul(10);
    expectAllClose(x.softmax(1).sum(1), new Array(6).fill(1), { rtol: 1e-15, atol: 1e-15 });
    expectAllClose(x.logSoftmax(1).exp(), x.softmax(1).toTypedArray(), { rtol: 1e-14, atol: 1e-15 });
  });
});

describe('edge cases keep the composites’ values', () => {
  const rows = (values: number[][]) => tensor(values, f64);
  const cases: [string, Tensor][] = [
    ['huge logits ±1e4', rows([[1e4, -1e4, 0, 1e4 - 1], [-1e4, -1e4 + 2, -1e4 + 1, -1e4]])],
    ['−∞ entries', rows([[-Infinity, 0, 1, -Infinity], [2, -Infinity, -Infinity, -Infinity]])],
    ['a line of −∞ (NaN, as 0/0)', rows([[-Infinity, -Infinity, -Infinity, -Infinity], [0, 1, 2, 3]])],
    ['NaN spreads over its line only', rows([[0, NaN, 1, 2], [0, 1, 2, 3]])],
    ['+∞ entries', rows([[Infinity, 0, 1, 2], [Infinity, Infinity, 0, -Infinity]])],
  ];
  for (const [name, fused, ref] of kinds) {
    for (const [what, x] of cases) {
      it(`${name}: ${what}, float64 and float32`, () => {
        for (const dtype of ['float64', 'float32'] as const) {
          const xd = x.to(dtype);
          for (const a of [0, 1]) {
            const expected = ref(xd.to('float64'), a).toTypedArray();
            expectAllClose(fused(xd, a), dtype === 'float64' ? expected : Float32Array.from(expected), { rtol: 1e-7, atol: 1e-12, what: `${what} ${dtype} axis ${a}` });
          }
        }
      });
    }
  }

  it('a line of −∞ gives NaN, huge logits stay finite (explicit values)', () => {
    const y = rows([[-Infinity, -Infinity], [1e4, -1e4]]).softmax(1).toTypedArray();
    expect(Number.isNaN(y[0]!) && Number.isNaN(y[1]!)).toBe(true);
    expect([y[2], y[3]]).toEqual([1, 0]);
    expect(Array.from(rows([[1e4, 1e4 - Math.LN2]]).softmax(1).toTypedArray())).toEqual([2 / 3, 1 / 3].map((v) => expect.closeTo(v, 11)));
  });

  it('gradients at −∞ entries and huge logits match the composite’s', () => {
    const x = rows([[-Infinity, 0, 1, -Infinity], [1e4, -1e4, 0, 1e4 - 1]]);
    const c = randn([2, 4], { seed: 2, ...f64 });
    for (const [name, fused, ref] of kinds) {
      for (const a of [0, 1]) {
        const xg = x.requireGrad();
        const [g] = gradients([fused(xg, a).mul(c).sum()], [xg]);
        const xr = x.requireGrad();
        const [gr] = gradients([ref(xr, a).mul(c).sum()], [xr]);
        expectAllClose(g!, gr!.toTypedArray(), { rtol: 1e-13, atol: 1e-15, what: `${name} axis ${a}` });
      }
    }
  });
});

describe('gradients against float64 finite differences', () => {
  for (const [name, fused, ref] of kinds) {
    it(`${name}: first order on every axis, contiguous and permuted`, () => {
      const x = randn([3, 4, 5], { seed: 11, ...f64 });
      for (const a of [0, 1, 2, -1]) {
        gradcheck((t) => fused(t, a), [x], { name: `${name}(axis ${a})`, samples: 8 });
        gradcheck((t) => fused(t.permute([2, 0, 1]), a), [x], { name: `${name}(permuted, axis ${a})` });
      }
    });

    it(`${name}: second order (grad of grad) on every axis`, () => {
      const x = randn([3, 4], { seed: 12, ...f64 });
      for (const a of [0, 1]) gradgradcheck((t) => fused(t, a), [x], { name: `${name}(axis ${a})`, samples: 6 });
    });

    it(`${name}: third order agrees with the composite`, () => {
      const x = randn([2, 5], { seed: 13, ...f64 });
      const v = randn([2, 5], { seed: 14, ...f64 });
      // d/dx ⟨∇²f(x)·v, w⟩ through both, f = Σ c·tanh(softmax).
      const c = randn([2, 5], { seed: 15, ...f64 });
      const third = (s: (t: Tensor, a: number) => Tensor) =>
        grad((t: Tensor) => hvp((u: Tensor) => s(u, 1).tanh().mul(c).sum(), t, v).mul(c).sum())(x);
      expectAllClose(third(fused), third(ref).toTypedArray(), { rtol: 1e-12, atol: 1e-14, what: name });
    });

    it(`${name}: the gradient equals the composite's (float64, within 1e-13)`, () => {
      const x = randn([4, 6], { seed: 16, ...f64 }).mul(4);
      const c = randn([4, 6], { seed: 17, ...f64 });
      for (const a of [0, 1]) {
        const g = grad((t: Tensor) => fused(t, a).mul(c).sum())(x);
        const gr = grad((t: Tensor) => ref(t, a).mul(c).sum())(x);
        expectAllClose(g, gr.toTypedArray(), { rtol: 1e-13, atol: 1e-15, what: `${name} axis ${a}` });
      }
    });
  }

  it('softmaxBackward: both arguments, first and second order, on both axes and strided operands', () => {
    const y = randn([3, 4], { seed: 21, ...f64 }).softmax(1);
    const g = randn([3, 4], { seed: 23, ...f64 });
    for (const a of [0, 1]) {
      gradcheck((p, q) => softmaxBackward(p, q, a), [y, g], { name: `softmaxBackward(axis ${a})` });
      gradgradcheck((p, q) => softmaxBackward(p, q, a), [y, g], { name: `softmaxBackward(axis ${a})` });
    }
    gradcheck((p, q) => softmaxBackward(p.transpose(), q.slice([null, [0, 1]]).expand([3, 4]).transpose(), 0), [y, g], { name: 'softmaxBackward(strided)' });
  });

  it('softmaxBackward in float32 and float64 against y·(g − Σ g·y) written out', () => {
    const y = randn([5, 6], { seed: 26, ...f64 }).softmax(0);
    const g = randn([5, 6], { seed: 27, ...f64 });
    const want = y.mul(g.sub(g.mul(y).sum(0, true)));
    expectAllClose(softmaxBackward(y, g, 0), want.toTypedArray(), { rtol: 1e-13, atol: 1e-16 });
    const got32 = softmaxBackward(y.to('float32'), g.to('float32'), 0);
    expect(got32.dtype).toBe('float32');
    const want32 = y.to('float32').to('float64');
    const gw = g.to('float32').to('float64');
    expectAllClose(got32, Float32Array.from(want32.mul(gw.sub(gw.mul(want32).sum(0, true))).toTypedArray()), { rtol: 1e-6, atol: 1e-7 });
  });

  it('float32 gradients match the float64 ones', () => {
    const x = randn([8, 16], { seed: 24, ...f64 }).mul(3);
    const c = randn([8, 16], { seed: 25, ...f64 });
    for (const [name, fused] of kinds) {
      const g64 = grad((t: Tensor) => fused(t, 1).mul(c).sum())(x).toTypedArray();
      const g32 = grad((t: Tensor) => fused(t, 1).mul(c.to('float32')).sum())(x.to('float32'));
      expect(g32.dtype).toBe('float32');
      expectAllClose(g32, g64, { rtol: 1e-5, atol: 1e-6, what: name });
    }
  });
});

describe('transforms', () => {
  for (const [name, fused] of kinds) {
    it(`${name}: vmap equals a loop, batch on axis 0 or 1, softmax on every per-sample axis`, () => {
      const xs = randn([3, 4, 5], { seed: 31, ...f64 });
      for (const inAxis of [0, 1]) {
        const n = xs.shape[inAxis]!;
        for (const a of [0, 1, -1]) {
          const out = vmap((x: Tensor) => fused(x, a), { inAxes: [inAxis] })(xs);
          const loop = stack(Array.from({ length: n }, (_, i) => fused(pick(xs, inAxis, i), a)));
          expectAllClose(out, loop.toTypedArray(), { rtol: 0, atol: 0, what: `${name} inAxis ${inAxis} axis ${a}` });
        }
      }
    });

    it(`${name}: vmap(grad) and vmap of the fused backward equal a loop`, () => {
      const xs = randn([4, 6], { seed: 32, ...f64 });
      const c = randn([6], { seed: 33, ...f64 });
      const g = grad((x: Tensor) => fused(x, 0).tanh().mul(c).sum());
      const rows = vmap(g)(xs);
      const loop = stack(Array.from({ length: 4 }, (_, i) => g(pick(xs, 0, i))));
      expectAllClose(rows, loop.toTypedArray(), { rtol: 1e-15, atol: 1e-15, what: name });
      // One operand batched, the other not (broadcast inside the rule).
      const back = softmaxBackward;
      const y = fused(randn([6], { seed: 34, ...f64 }), 0);
      const out = vmap((gi: Tensor) => back(y, gi, 0))(xs);
      const loop2 = stack(Array.from({ length: 4 }, (_, i) => back(y, pick(xs, 0, i), 0)));
      expectAllClose(out, loop2.toTypedArray(), { rtol: 0, atol: 0, what: `${name}Backward` });
    });

    it(`${name}: jvp equals reverse mode (double vjp), and forward-over-reverse HVP equals reverse-over-reverse`, () => {
      const x = randn([3, 5], { seed: 35, ...f64 });
      const v = randn([3, 5], { seed: 36, ...f64 });
      for (const a of [0, 1]) {
        const f = (t: Tensor) => fused(t, a);
        const [y, t] = jvp(f, [x], [v]);
        const [y2, t2] = jvpByDoubleVjp(f, [x], [v]);
        expectAllClose(y, y2.toTypedArray(), { rtol: 0, atol: 0 });
        expectAllClose(t, t2.toTypedArray(), { rtol: 1e-14, atol: 1e-15, what: `${name} jvp axis ${a}` });
        const c = randn([3, 5], { seed: 37, ...f64 });
        const loss = (t: Tensor) => fused(t, a).mul(c).sum().add(fused(t, a).square().sum());
        const fwd = hvp(loss, x, v, { mode: 'forward' });
        const rev = hvp(loss, x, v, { mode: 'reverse' });
        expectAllClose(fwd, rev.toTypedArray(), { rtol: 1e-13, atol: 1e-14, what: `${name} hvp axis ${a}` });
      }
    });
  }
});

describe('per-sample gradients (batch-axis rules)', () => {
  const x = randn([4, 3, 5], { seed: 41, ...f64 });
  const W = randn([2, 5], { seed: 42, ...f64 }).requireGrad();
  // Σ c·softmax(x Wᵀ) along a per-sample axis, reduced per sample.
  const c = randn([3, 2], { seed: 43, ...f64 });
  const loss = (x: Tensor, a: number) => x.matmul(W.transpose()).softmax(a).mul(c).sum([1, 2]);

  it('a softmax along a per-sample axis keeps samples apart: the rows are the batch-of-one gradients', () => {
    for (const a of [1, 2, -1]) {
      const input = x.requireGrad();
      const [rows] = perSampleGradients(loss(input, a), [W], input);
      for (let i = 0; i < 4; i++) {
        const [g] = gradients([loss(x.slice([[i, i + 1]]), a).sum()], [W]);
        expectAllClose(rows!.slice([[i, i + 1]]), g!.toTypedArray(), { rtol: 1e-13, atol: 1e-15, what: `axis ${a} sample ${i}` });
      }
    }
  });

  it('a softmax over the batch axis is refused, naming the softmax', () => {
    const input = x.requireGrad();
    expect(() => perSampleGradients(loss(input, 0), [W], input)).toThrow(GradError);
    expect(() => perSampleGradients(loss(input, 0), [W], input)).toThrow(/samples interact through 'sum' \(the sum inside softmax runs along the batch axis\)/);
  });
});

describe('arguments', () => {
  it('an axis out of range or a non-float tensor is a clear error naming the op', () => {
    const x = randn([2, 3], { seed: 1 });
    expect(() => x.softmax(2)).toThrow(/softmax: axis 2 is out of range for a tensor of rank 2/);
    expect(() => x.logSoftmax(-3)).toThrow(/logSoftmax: axis -3 is out of range/);
    expect(() => tensor([1, 2], { dtype: 'int32' }).softmax(0)).toThrow(/softmax/);
  });

  it('an empty tensor gives an empty result', () => {
    const x = tensor([], { shape: [0, 3], ...f64 });
    expect(x.softmax(1).shape).toEqual([0, 3]);
    expect(x.softmax(0).shape).toEqual([0, 3]);
    expect(tensor([], { shape: [3, 0], ...f64 }).softmax(0).shape).toEqual([3, 0]);
  });
});
