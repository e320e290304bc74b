/**
 * The backward engine and the function transforms: accumulation, graph lifetime, the in-place
 * version check, grad modes, higher-order gradients, grad/valueAndGrad/vjp/jvp/hvp, and the
 * graph export.
 */
import { describe, expect, it } from 'vitest';
import {
  GradError,
  enableGrad,
  gradients,
  grad,
  hvp,
  isGradEnabled,
  jvp,
  matmul,
  noGrad,
  tensor,
  toDot,
  toMermaid,
  valueAndGrad,
  vjp,
  type Tensor,
} from '../src/index.js';
import { expectAllClose } from './gradcheck.js';

const f64 = (v: Parameters<typeof tensor>[0]) => tensor(v, { dtype: 'float64' });
const leaf = (v: Parameters<typeof tensor>[0]) => f64(v).requireGrad();
const arr = (t: Tensor | null) => t!.toArray();

describe('accumulation', () => {
  it('fan-in: x·x gives 2x (both uses of x are summed)', () => {
    const x = leaf([1, -2, 3]);
    x.mul(x).sum().backward();
    expect(arr(x.grad)).toEqual([2, -4, 6]);
  });

  it('slices that tile a tensor: their gradients are joined by one concat, to any order', () => {
    // A flat vector split into pieces, as callWithVector splits the flat parameters.
    const w = leaf([0.5, -1, 2, 0.25, 3, -0.5]);
    const f = (v: Tensor) => {
      const [p, q, r] = [v.slice([[3, 5]]), v.slice([[0, 3]]), v.slice([[5, 6]])];
      return p.mul(p).sum().add(q.exp().sum().mul(r.sum()));
    };
    const [g] = gradients([f(w)], [w], { createGraph: true });
    expect(g!.node?.op.name, 'joined with concat, not summed unslices').toBe('concat');
    const [p, q, r] = [[0.5, -1, 2], [0.25, 3], [-0.5]];
    const expected = [...p.map((v) => Math.exp(v) * r[0]!), ...q.map((v) => 2 * v), p.reduce((s, v) => s + Math.exp(v), 0)];
    expectAllClose(g!, expected, { what: 'gradient' });
    // Second order: ∂/∂w of ⟨g, u⟩ against the analytic Hessian-vector product.
    const u = [1, 0, -1, 2, 1, 3];
    const [hu] = gradients([g!.mul(f64(u)).sum()], [w]);
    const sumExp = (i: number) => Math.exp(p[i]!);
    expectAllClose(hu!, [
      sumExp(0) * r[0]! * u[0]! + sumExp(0) * 3,
      0 + sumExp(1) * 3,
      sumExp(2) * r[0]! * -1 + sumExp(2) * 3,
      2 * 2,
      2 * 1,
      sumExp(0) * 1 + sumExp(1) * 0 + sumExp(2) * -1,
    ], { what: 'Hessian-vector product' });
  });

  it('slices that tile along axis 1, and slices that do not tile (gaps, overlaps, steps), give the summed gradient', () => {
    const x = leaf([[1, 2, 3], [4, 5, 6]]);
    const cols = (t: Tensor) => t.slice([null, [0, 1]]).mul(2).sum().add(t.slice([null, [1, 3]]).square().sum());
    expect(arr(gradients([cols(x)], [x])[0]!)).toEqual([[2, 4, 6], [2, 10, 12]]);
    const v = leaf([1, 2, 3, 4, 5]);
    const gap = (t: Tensor) => t.slice([[0, 2]]).sum().add(t.slice([[3, 5]]).mul(3).sum());
    expect(arr(gradients([gap(v)], [v])[0]!)).toEqual([1, 1, 0, 3, 3]);
    const overlap = (t: Tensor) => t.slice([[0, 3]]).sum().add(t.slice([[2, 5]]).mul(3).sum());
    expect(arr(gradients([overlap(v)], [v])[0]!)).toEqual([1, 1, 4, 3, 3]);
    const steps = (t: Tensor) => t.slice([[0, 5, 2]]).sum().add(t.slice([[1, 5, 2]]).mul(3).sum());
    expect(arr(gradients([steps(v)], [v])[0]!)).toEqual([1, 3, 1, 3, 1]);
    // A slice used twice, and a slice of an intermediate tensor: the pieces still add up.
    const twice = (t: Tensor) => {
      const e = t.mul(2);
      const head = e.slice([[0, 2]]);
      return head.sum().add(head.sum()).add(e.slice([[2, 5]]).sum());
    };
    expect(arr(gradients([twice(v)], [v])[0]!)).toEqual([4, 4, 2, 2, 2]);
  });

  it('shared subgraph (diamond): a = eˣ feeds two branches whose gradients add', () => {
    const x = leaf([0, 1]);
    const a = x.exp();
    a.mul(2).add(a.mul(3)).sum().backward();
    expectAllClose(x.grad!, [5, 5 * Math.E], { rtol: 1e-15, atol: 0 });
  });

  it('a node reached along paths of different lengths is visited once, after all its consumers', () => {
    const x = leaf([2]);
    const a = x.mul(3); // 3x
    const b = a.mul(a); // 9x²
    const c = b.mul(a).add(a); // 27x³ + 3x
    c.sum().backward();
    expect(arr(x.grad)).toEqual([81 * 4 + 3]);
  });

  it('.grad accumulates across two backward calls', () => {
    const x = leaf([1, 2]);
    x.mul(x).sum().backward();
    x.mul(3).sum().backward();
    expect(arr(x.grad)).toEqual([2 + 3, 4 + 3]);
  });

  it('zeroGrad clears .grad, and the next backward starts from scratch', () => {
    const x = leaf([1, 2]);
    x.mul(x).sum().backward();
    x.zeroGrad();
    expect(x.grad).toBeNull();
    x.mul(5).sum().backward();
    expect(arr(x.grad)).toEqual([5, 5]);
  });

  it('.grad is a tensor of its own: writing to it in place changes neither other grads nor the seed', () => {
    // After sum's backward the gradient is an expanded (stride-0) view of one cell, and add's
    // backward hands the same tensor to both inputs. `.grad` must still behave as an ordinary
    // dense tensor (PyTorch's AccumulateGrad copies such gradients), because optimizers and
    // gradient clipping update it in place.
    const x = leaf([1, 2, 3]);
    x.sum().backward();
    noGrad(() => x.grad!.add_(f64([10, 20, 30])));
    expect(arr(x.grad)).toEqual([11, 21, 31]);

    const a = leaf([1, 1]);
    const b = leaf([2, 2]);
    const seed = f64([1, 2]);
    a.add(b).backward({ gradient: seed });
    noGrad(() => a.grad!.mul_(10));
    expect(arr(a.grad)).toEqual([10, 20]);
    expect(arr(b.grad)).toEqual([1, 2]);
    expect(arr(seed)).toEqual([1, 2]);
  });

  it('only leaves that require grad receive .grad; constants and intermediates do not', () => {
    const x = leaf([1, 2]);
    const c = f64([3, 4]);
    const h = x.mul(c);
    h.sum().backward();
    expect(arr(x.grad)).toEqual([3, 4]);
    expect(c.grad).toBeNull();
    expect(h.grad).toBeNull();
  });

  it('a deep chain (5000 ops) does not overflow the stack', () => {
    const x = leaf([1]);
    let y: Tensor = x;
    for (let i = 0; i < 5000; i++) y = y.add(1);
    y.sum().backward();
    expect(arr(x.grad)).toEqual([1]);
  });
});

describe('grad modes and detach', () => {
  it('detach stops gradients and shares storage', () => {
    const x = leaf([1, 2, 3]);
    const d = x.detach();
    expect(d.requiresGrad).toBe(false);
    expect(d.node).toBeNull();
    expect(d.storage).toBe(x.storage);
    x.mul(d).sum().backward(); // d is a constant: gradient x·1 → d
    expect(arr(x.grad)).toEqual([1, 2, 3]);
  });

  it('noGrad records nothing: the result does not require grad and has no node', () => {
    const x = leaf([1, 2]);
    const y = noGrad(() => {
      expect(isGradEnabled()).toBe(false);
      return x.mul(x).exp();
    });
    expect(y.requiresGrad).toBe(false);
    expect(y.node).toBeNull();
    expect(isGradEnabled()).toBe(true);
    expect(() => y.sum().backward()).toThrow(/does not require grad/);
  });

  it('noGrad restores the mode when its body throws; enableGrad records inside noGrad', () => {
    expect(() =>
      noGrad(() => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(isGradEnabled()).toBe(true);
    const x = leaf([2]);
    const y = noGrad(() => enableGrad(() => x.mul(x)));
    expect(y.requiresGrad).toBe(true);
    expect(y.node).not.toBeNull();
  });

  it('requireGrad is for float leaves only', () => {
    expect(() => leaf([1]).mul(2).requireGrad()).toThrow(GradError);
    expect(() => tensor([1], { dtype: 'int32' }).requireGrad()).toThrow(/float32 or float64/);
  });
});

describe('graph lifetime and in-place safety', () => {
  it('a second backward through a freed graph throws', () => {
    const x = leaf([1, 2]);
    const y = x.mul(x).sum();
    y.backward();
    expect(() => y.backward()).toThrow(/second time/);
    expect(() => y.backward()).toThrow(GradError);
  });

  it('retainGraph allows a second backward (and the gradients add up)', () => {
    const x = leaf([1, 2]);
    const y = x.mul(x).sum();
    y.backward({ retainGraph: true });
    y.backward();
    expect(arr(x.grad)).toEqual([4, 8]);
  });

  it('modifying a saved tensor in place (under noGrad) makes backward throw', () => {
    const x = leaf([1, 2]);
    const y = x.mul(x).sum(); // mul saves x
    noGrad(() => x.add_(1));
    expect(() => y.backward()).toThrow(/modified in place/);
  });

  it('the version counter is shared by views: writing through a view also invalidates', () => {
    const base = f64([1, 2, 3, 4]);
    const w = leaf([1, 1]);
    const view = base.slice([[0, 2]]);
    const y = view.mul(w).sum(); // saves view (for w's gradient)
    noGrad(() => base.slice([[1, 2]]).fill_(9));
    expect(() => y.backward()).toThrow(/modified in place/);
  });

  it('in-place ops bump the version; the unmodified graph still works', () => {
    const x = leaf([1, 2]);
    const v0 = x.version;
    noGrad(() => x.mul_(2));
    expect(x.version).toBe(v0 + 1);
    x.mul(x).sum().backward();
    expect(arr(x.grad)).toEqual([4, 8]);
  });

  it('in-place updates: add_ with alpha, copy_ with broadcasting, mul_, fill_, zero_', () => {
    const x = f64([[1, 2], [3, 4]]);
    noGrad(() => x.add_(f64([1, 1]), -2));
    expect(arr(x)).toEqual([[-1, 0], [1, 2]]);
    x.mul_(f64([[2], [3]]));
    expect(arr(x)).toEqual([[-2, 0], [3, 6]]);
    x.copy_(f64([9, 8]));
    expect(arr(x)).toEqual([[9, 8], [9, 8]]);
    x.transpose().slice([[0, 1]]).fill_(0); // writes through a strided view
    expect(arr(x)).toEqual([[0, 8], [0, 8]]);
    x.zero_();
    expect(arr(x)).toEqual([[0, 0], [0, 0]]);
  });

  it('in-place on a tensor that requires grad while recording throws', () => {
    const x = leaf([1, 2]);
    expect(() => x.add_(1)).toThrow(/in place/);
    expect(() => x.mul(2).mul_(3)).toThrow(/in place/);
    expect(() => x.fill_(0)).toThrow(GradError);
    expect(arr(x)).toEqual([1, 2]);
  });

  it('backward of a non-scalar needs an explicit gradient', () => {
    const x = leaf([1, 2]);
    expect(() => x.mul(2).backward()).toThrow(/scalar/);
    x.mul(2).backward({ gradient: f64([1, 10]) });
    expect(arr(x.grad)).toEqual([2, 20]);
    expect(() => x.mul(2).backward({ gradient: f64([1, 2, 3]) })).toThrow(/shape/);
  });
});

describe('transforms', () => {
  it('grad(grad(x³)) = 6x and grad∘grad∘grad = 6', () => {
    const cube = (x: Tensor) => x.pow(3).sum();
    const x = f64([1, -2, 0.5]);
    expect(arr(grad(cube)(x))).toEqual([3, 12, 0.75]);
    expect(arr(grad((t: Tensor) => grad(cube)(t).sum())(x))).toEqual([6, -12, 3]);
    const third = grad((t: Tensor) => grad((u: Tensor) => grad(cube)(u).sum())(t).sum())(x);
    expect(arr(third)).toEqual([6, 6, 6]);
    expect(grad(grad(grad((t: Tensor) => t.pow(3))))(f64(2)).item()).toBe(6);
  });

  it('backward of a scalar leaf gives .grad = 1', () => {
    const x = leaf(2);
    x.backward();
    expect(arr(x.grad)).toBe(1);
  });

  for (const createGraph of [undefined, true]) {
    it(`nested grad through a closed-over variable, createGraph ${createGraph} (no perturbation confusion)`, () => {
      // d/dx [x · d/dy (x·y)] = d/dx x² = 2x, and d/dx [x · d/dy (x + y)] = 1 (Siskind–Pearlmutter).
      // Without the flag the inner grad must notice that its result depends on the outer x.
      const one = f64(1);
      const inner = (x: Tensor) => grad((y: Tensor) => x.mul(y).sum(), { createGraph })(one);
      expect(grad((x: Tensor) => x.mul(inner(x)).sum())(f64(3)).item()).toBe(6);
      const sp = (x: Tensor) => grad((y: Tensor) => x.add(y).sum(), { createGraph })(one);
      expect(grad((x: Tensor) => x.mul(sp(x)).sum())(f64(3)).item()).toBe(1);
    });
  }

  it('a top-level grad does not record its backward (the result has no graph)', () => {
    const g = grad((x: Tensor) => x.pow(3).sum())(f64(2));
    expect(g.requiresGrad).toBe(false);
    expect(g.node).toBeNull();
  });

  it('createGraph on gradients() makes the gradient differentiable', () => {
    const x = leaf([1, 2]);
    const [g] = gradients([x.pow(3).sum()], [x], { createGraph: true });
    expect(g!.requiresGrad).toBe(true);
    const [h] = gradients([g!.sum()], [x]);
    expect(arr(h!)).toEqual([6, 12]);
    // Without createGraph the gradient is a constant.
    const [c] = gradients([x.pow(3).sum()], [x]);
    expect(c!.requiresGrad).toBe(false);
  });

  it('backward with createGraph leaves a differentiable .grad', () => {
    const x = leaf([3]);
    x.pow(3).sum().backward({ createGraph: true });
    const g = x.grad!;
    expect(arr(g)).toEqual([27]);
    const [h] = gradients([g.sum()], [x]);
    expect(arr(h!)).toEqual([18]);
  });

  it('grad with an argnums list returns one gradient per listed argument', () => {
    const f = (a: Tensor, b: Tensor, c: Tensor) => a.mul(b).add(c.square()).sum();
    const a = f64([1, 2]);
    const b = f64([3, 4]);
    const c = f64([5, 6]);
    const [gc, ga] = grad(f, { argnums: [2, 0] })(a, b, c);
    expect(arr(gc!)).toEqual([10, 12]);
    expect(arr(ga!)).toEqual([3, 4]);
    expect(arr(grad(f, { argnums: 1 })(a, b, c))).toEqual([1, 2]);
    expect(() => grad(f, { argnums: 3 })(a, b, c)).toThrow(/argnums/);
  });

  it('grad does not touch .grad of the arguments or of closed-over parameters', () => {
    const w = leaf([2]);
    const x = f64([3]);
    const g = grad((t: Tensor) => t.mul(w).sum())(x);
    expect(arr(g)).toEqual([2]);
    expect(w.grad).toBeNull();
    expect(x.grad).toBeNull();
    expect(x.requiresGrad).toBe(false);
  });

  it('grad of a non-scalar function throws /scalar/', () => {
    expect(() => grad((t: Tensor) => t.mul(2))(f64([1, 2]))).toThrow(/scalar/);
  });

  it('valueAndGrad returns f(x) and ∇f(x)', () => {
    const [value, g] = valueAndGrad((t: Tensor) => t.square().sum())(f64([1, 2, 3]));
    expect(value.item()).toBe(14);
    expect(value.requiresGrad).toBe(false);
    expect(arr(g)).toEqual([2, 4, 6]);
  });

  it('vjp: the pullback can be called twice, with different cotangents', () => {
    const W = f64([[1, 2], [3, 4], [5, 6]]);
    const [y, pullback] = vjp((x: Tensor) => matmul(W, x).square(), f64([1, -1]));
    expect(arr(y)).toEqual([1, 1, 1]);
    // J = diag(2Wx)·W with Wx = [-1, -1, -1].
    const [g1] = pullback(f64([1, 0, 0]));
    const [g2] = pullback(f64([0, 1, 1]));
    expect(arr(g1!)).toEqual([-2, -4]);
    expect(arr(g2!)).toEqual([-16, -20]);
    const [g1again] = pullback(f64([1, 0, 0]));
    expect(arr(g1again!)).toEqual([-2, -4]);
  });

  it('jvp equals the Jacobian–vector product computed by hand', () => {
    const W = f64([[1, 2], [3, 4], [5, 6]]);
    const x = f64([0.5, -1]);
    const v = f64([1, 2]);
    const f = (t: Tensor) => matmul(W, t).tanh();
    const [y, jv] = jvp(f, [x], [v]);
    const Wx = [0.5 - 2, 1.5 - 4, 2.5 - 6];
    const Wv = [5, 11, 17];
    expectAllClose(y, Wx.map(Math.tanh), { rtol: 1e-15, atol: 0 });
    expectAllClose(jv, Wx.map((z, i) => (1 - Math.tanh(z) ** 2) * Wv[i]!), { rtol: 1e-14, atol: 0 });
    // Two primals: d(a·b) = a·db + da·b.
    const [, t] = jvp((a: Tensor, b: Tensor) => a.mul(b), [f64([1, 2]), f64([3, 4])], [f64([1, 0]), f64([0, 1])]);
    expect(arr(t)).toEqual([3, 2]);
  });

  it('hvp of a quadratic form xᵀAx + bᵀx equals (A + Aᵀ)v exactly', () => {
    const A = [[1, 2, 0], [-1, 3, 4], [0.5, 0, 2]];
    const b = f64([1, -2, 3]);
    const At = f64(A);
    const f = (x: Tensor) => x.mul(matmul(At, x)).sum().add(b.mul(x).sum());
    const x = f64([0.3, -0.7, 1.1]);
    const v = f64([1, 2, -1]);
    const vv = [1, 2, -1];
    const expected = A.map((row, i) => row.reduce((s, aij, j) => s + (aij + A[j]![i]!) * vv[j]!, 0));
    expectAllClose(hvp(f, x, v) as Tensor, expected, { rtol: 1e-15, atol: 1e-15 });
  });

  it('hvp with a list of primals applies the block Hessian', () => {
    // f(a, b) = Σ a²·b: H = [[2b, 2a], [2a, 0]] (diagonal blocks per element).
    const a = f64([1, 2]);
    const b = f64([3, 4]);
    const [ha, hb] = hvp((x: Tensor, y: Tensor) => x.square().mul(y).sum(), [a, b], [f64([1, 0]), f64([0, 1])]) as Tensor[];
    expect(arr(ha!)).toEqual([2 * 3 * 1 + 0, 2 * 2 * 1]);
    expect(arr(hb!)).toEqual([2 * 1 * 1, 0]);
  });

  it('the gradient with respect to an input the output does not depend on is zero', () => {
    const [ga, gb] = grad((a: Tensor, _b: Tensor) => a.square().sum(), { argnums: [0, 1] })(f64([1, 2]), f64([[3, 4]]));
    expect(arr(ga!)).toEqual([2, 4]);
    expect(gb!.shape).toEqual([1, 2]);
    expect(arr(gb!)).toEqual([[0, 0]]);
    const x = leaf([1]);
    const u = leaf([5, 6]);
    const [gu] = gradients([x.square().sum()], [u]);
    expect(arr(gu!)).toEqual([0, 0]);
  });

  it('gradients() with respect to an intermediate tensor', () => {
    const x = leaf([1, 2]);
    const h = x.exp();
    const y = h.square().sum();
    const [gh, gx] = gradients([y], [h, x]);
    expectAllClose(gh!, [2 * Math.E, 2 * Math.exp(2)], { rtol: 1e-15, atol: 0 });
    expectAllClose(gx!, [2 * Math.exp(2), 2 * Math.exp(4)], { rtol: 1e-15, atol: 0 });
    expect(x.grad).toBeNull();
  });

  it('gradients() rejects inputs that do not require grad unless allowUnused', () => {
    const x = leaf([1]);
    const c = f64([2]);
    expect(() => gradients([x.mul(c).sum()], [c])).toThrow(/does not require grad/);
    expect(arr(gradients([x.mul(c).sum()], [c], { allowUnused: true })[0]!)).toEqual([0]);
  });

  it('cast is differentiable and returns the gradient in the source dtype', () => {
    const g = grad((t: Tensor) => t.to('float32').square().sum())(f64([1.5, -2]));
    expect(g.dtype).toBe('float64');
    expect(arr(g)).toEqual([3, -4]);
  });
});

describe('graph export', () => {
  const build = () => {
    const x = leaf([[1, 2, 3], [4, 5, 6]]);
    x.label = 'x';
    const w = leaf([1, 2, 3]);
    const y = x.mul(w).exp().sum();
    return { x, w, y };
  };

  it('toDot and toMermaid show op names, labels, output shapes and saved shapes', () => {
    const { y } = build();
    for (const text of [toDot(y), toMermaid(y)]) {
      expect(text).toMatch(/mul/);
      expect(text).toMatch(/exp/);
      expect(text).toMatch(/sum\(axes=\[0,1\]\)/);
      expect(text).toMatch(/\bx\b/);
      expect(text).toMatch(/\[2,3\] float64/);
      expect(text).toMatch(/saved: \[2,3\] \[3\]/); // mul saves both operands
      expect(text).not.toMatch(/freed/);
    }
    expect(toDot(y)).toMatch(/^digraph/);
    expect(toDot(y)).toMatch(/n\d+ -> n\d+/);
    expect(toMermaid(y)).toMatch(/^flowchart/);
  });

  it('after a backward the saved tensors show as freed', () => {
    const { y } = build();
    y.backward();
    expect(toDot(y)).toMatch(/saved: \(freed\)/);
    expect(toDot(y)).not.toMatch(/saved: \[2,3\]/);
    expect(toMermaid(y)).toMatch(/saved: \(freed\)/);
  });
});
