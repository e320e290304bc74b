/**
 * A user-defined primitive (customOp) passes the checks built-in ops pass: its gradient and
 * second derivative against central differences, its forward mode (given, or derived from
 * backward) against central differences, and vmap against a loop — and it is one node to
 * autograd, so its own backward decides the gradient.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GradError, ValueError, customOp, grad, jvp, perSampleGradients, randn, stack, tensor, toMermaid, vmap, type Tensor } from '../../src/index.js';
import { gradcheck, gradgradcheck } from '../gradcheck.js';

const f64 = { dtype: 'float64' as const };

// log cosh x = |x| + log(1 + e^{−2|x|}) − log 2: finite for every x (cosh overflows past 710).
const logcosh = customOp({
  name: 'logcosh',
  forward: (x) => x.abs().add(x.abs().mul(-2).exp().add(1).log()).sub(Math.LN2),
  backward: ({ inputs: [x] }, g) => [g.mul(x!.tanh())],
  jvp: ({ inputs: [x], tangents: [t] }) => t!.mul(x!.tanh()),
});

// The same function without a jvp or batch rule: forward mode and vmap fall back.
const logcoshPlain = customOp({
  name: 'logcosh-plain',
  forward: (x) => x.abs().add(x.abs().mul(-2).exp().add(1).log()).sub(Math.LN2),
  backward: ({ inputs: [x] }, g) => [g.mul(x!.tanh())],
});

// Two inputs with broadcasting: a·b + b.
const fma = customOp({
  name: 'fma',
  forward: (a, b) => a.mul(b).add(b),
  backward: ({ inputs: [a, b] }, g) => [g.mul(b!), g.mul(a!.add(1))],
});

const values = fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: 1, maxLength: 6 });

function close(a: Tensor, b: Tensor, tol: number): void {
  const x = a.toTypedArray();
  const y = b.toTypedArray();
  expect(a.shape).toEqual(b.shape);
  x.forEach((v, i) => expect(Math.abs(v - y[i]!)).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(y[i]!))));
}

describe('customOp', () => {
  it('value: log cosh, finite where cosh overflows', () => {
    const x = tensor([0, 1, -2, 800], f64);
    close(logcosh(x), tensor([0, Math.log(Math.cosh(1)), Math.log(Math.cosh(2)), 800 - Math.LN2], f64), 1e-14);
  });

  it('gradient and second derivative against central differences (property)', () => {
    fc.assert(
      fc.property(values, (v) => {
        const x = tensor(v, f64);
        for (const op of [logcosh, logcoshPlain]) {
          gradcheck((x) => op(x), [x], { name: 'logcosh' });
          gradgradcheck((x) => op(x), [x], { name: 'logcosh' });
        }
        const b = tensor(v.map((u) => u / 2 + 0.1), f64);
        gradcheck((a, b) => fma(a, b), [x, b], { name: 'fma' });
        gradgradcheck((a, b) => fma(a, b), [x, b], { name: 'fma' });
      }),
      { numRuns: 25 },
    );
  });

  it('forward mode: the given rule and the one derived from backward agree with central differences', () => {
    fc.assert(
      fc.property(values, (v) => {
        const x = tensor(v, f64);
        const t = tensor(v.map((u) => Math.cos(u)), f64);
        const h = 1e-6;
        const fd = logcosh(x.add(t.mul(h))).sub(logcosh(x.sub(t.mul(h)))).div(2 * h);
        close(jvp((x) => logcosh(x), [x], [t])[1], fd, 1e-7);
        close(jvp((x) => logcoshPlain(x), [x], [t])[1], fd, 1e-7);
        const b = tensor(v.map((u) => u + 1), f64);
        const fdFma = fma(x.add(t.mul(h)), b.add(t.mul(h))).sub(fma(x.sub(t.mul(h)), b.sub(t.mul(h)))).div(2 * h);
        close(jvp((a, b) => fma(a, b), [x, b], [t, t])[1], fdFma, 1e-7);
      }),
      { numRuns: 25 },
    );
  });

  it('vmap without a batching rule loops over samples; vmap(grad) gives per-sample gradients', () => {
    const xs = randn([4, 3], { seed: 1, ...f64 });
    const rows = Array.from({ length: 4 }, (_, i) => logcoshPlain(xs.slice([[i, i + 1]]).squeeze(0)));
    close(vmap((x: Tensor) => logcoshPlain(x))(xs), stack(rows), 1e-15);
    close(vmap((x: Tensor) => logcoshPlain(x), { inAxes: 1 })(xs.transpose()), stack(rows), 1e-15);
    const w = randn([3], { seed: 2, ...f64 });
    const perSample = vmap(grad((w: Tensor, x: Tensor) => fma(w, x).sum()), { inAxes: [null, 0] })(w, xs);
    close(perSample, xs, 1e-15); // ∂/∂w Σ (w·x + x) = x, one row per sample
  });

  it('is one node in the graph, and its backward decides the gradient (a straight-through estimator)', () => {
    // Forward squares; backward passes the gradient straight through: grad is 1, not 2x.
    const squareThrough = customOp({ name: 'square-ste', forward: (x) => x.mul(x), backward: (_c, g) => [g] });
    const x = tensor([1.5, -2], f64);
    close(grad((x: Tensor) => squareThrough(x).sum())(x), tensor([1, 1], f64), 0);
    const graph = toMermaid(squareThrough(x.detach().requireGrad()).sum());
    expect(graph).toMatch(/custom:square-ste/);
    expect(graph).not.toMatch(/\bmul\b/);
  });

  it('bad definitions and calls are named errors; per-sample gradients refuse it rather than guess', () => {
    expect(() => customOp({ name: '', forward: (x) => x, backward: (_c, g) => [g] })).toThrow(/customOp: expected a name/);
    const broken = customOp({ name: 'broken', forward: (x) => x.mul(1), backward: () => [] });
    expect(() => grad((x: Tensor) => broken(x).sum())(tensor([1, 2], f64))).toThrow(/custom:broken: backward must return one gradient \(or null\) per input, 1; got 0/);
    expect(() => logcosh('x' as never)).toThrow(ValueError);
    const x = randn([3, 2], { seed: 3, ...f64 }).requireGrad();
    const w = randn([2], { seed: 4, ...f64 }).requireGrad();
    expect(() => perSampleGradients(logcosh(x).mul(w).sum(1), [w], x)).toThrow(GradError);
    expect(() => perSampleGradients(logcosh(x).mul(w).sum(1), [w], x)).toThrow(/custom:logcosh/);
    expect(toMermaid(logcosh(x).sum())).toMatch(/custom:logcosh/);
  });
});
