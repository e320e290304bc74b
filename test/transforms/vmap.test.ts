/**
 * vmap and forward-mode jvp against their definitions: vmap(f)(x)[i] = f(x[i]) (a loop over
 * samples, never the implementation), jvp against central differences and the double-vjp
 * trick, and the compositions the issue names (vmap∘grad, grad∘vmap, vmap∘vmap, vmap∘jvp,
 * forward-over-reverse HVPs), plus per-sample gradients of zoo models through functionalCall.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BatchNorm1d,
  Dropout,
  Linear,
  Sequential,
  Tanh,
  crossEntropy,
  functionalCall,
  grad,
  hvp,
  jvp,
  linearize,
  logsumexp,
  softmax,
  lenet5,
  mlp,
  resnet8,
  parametersByName,
  perSampleGrads,
  PerSampleWorkspace,
  rand,
  randn,
  stack,
  tensor,
  vmap,
  type Tensor,
} from '../../src/index.js';
import { jvpByDoubleVjp } from '../../src/autograd/transforms.js';
import { expectClose } from './close.js';

const f64 = { dtype: 'float64' as const };


/** The i-th sample of x along `axis`. */
const sample = (x: Tensor, axis: number, i: number) => x.slice(x.shape.map((_, d) => (d === axis ? ([i, i + 1] as const) : null))).squeeze(axis);

/** A per-sample function using a spread of primitives: broadcasting, reductions, products, views. */
const perSample = (x: Tensor, w: Tensor) => x.matmul(w).tanh().mul(x.sum(-1, true).exp()).sub(w.sum(0).sigmoid()).reshape([-1]).pow(2).div(3);

describe('vmap(f)(x)[i] = f(x[i])', () => {
  it('for random in-axes and out-axes (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: -2, max: 1 }), fc.integer({ min: 0, max: 500 }), (B, inAxis, outAxis, seed) => {
        const shape = [2, 3];
        shape.splice(inAxis, 0, B);
        const xs = randn(shape, { seed, ...f64 });
        const w = randn([3, 2], { seed: seed + 1, ...f64 });
        const out = vmap(perSample, { inAxes: [inAxis, null], outAxes: outAxis })(xs, w);
        const rows = Array.from({ length: B }, (_, i) => perSample(sample(xs, inAxis, i), w));
        expectClose(out, stack(rows, outAxis < 0 ? outAxis + 2 : outAxis));
      }),
      { numRuns: 40 },
    );
  });

  it('nested: vmap(vmap(f, [null, 0]), [0, null]) gives all pairs', () => {
    const x = randn([3, 4], { seed: 1, ...f64 });
    const y = randn([5, 4], { seed: 2, ...f64 });
    const d = (a: Tensor, b: Tensor) => a.sub(b).pow(2).sum();
    const out = vmap(vmap(d, { inAxes: [null, 0] }), { inAxes: [0, null] })(x, y);
    expect(out.shape).toEqual([3, 5]);
    const expected = stack(Array.from({ length: 3 }, (_, i) => stack(Array.from({ length: 5 }, (_, j) => d(sample(x, 0, i), sample(y, 0, j))))));
    expectClose(out, expected);
  });

  it('pytrees in and out, per-leaf in-axes, and unbatched results broadcast', () => {
    const params = { w: randn([2, 3, 2], { seed: 3, ...f64 }), b: randn([2], { seed: 4, ...f64 }) };
    const x = randn([3, 2], { seed: 5, ...f64 }); // the batch on axis 1
    const f = (p: { w: Tensor; b: Tensor }, xi: Tensor) => ({ y: xi.matmul(p.w).add(p.b), constant: p.b.mul(2) });
    const out = vmap(f, { inAxes: [{ w: 0, b: null }, 1] })(params, x) as unknown as { y: Tensor; constant: Tensor };
    expect(out.y.shape).toEqual([2, 2]);
    for (let i = 0; i < 2; i++) expectClose(sample(out.y, 0, i), sample(x, 1, i).matmul(sample(params.w, 0, i)).add(params.b));
    expectClose(out.constant, stack([params.b.mul(2), params.b.mul(2)]));
    expect(() => vmap(f, { inAxes: [{ w: 0 }, 1] })(params, x)).toThrow(/vmap: inAxes\[0\] has keys \[w\] but the value there has \[w,b\]/);
  });

  it('chunkSize changes nothing', () => {
    const xs = randn([7, 2, 3], { seed: 6, ...f64 });
    const w = randn([3, 2], { seed: 7, ...f64 });
    const whole = vmap(perSample, { inAxes: [0, null] })(xs, w);
    expectClose(vmap(perSample, { inAxes: [0, null], chunkSize: 3 })(xs, w), whole, 0);
  });
});

describe('vmap composes with grad', () => {
  const loss = (w: Tensor, x: Tensor) => x.matmul(w).tanh().pow(2).sum();
  const w = randn([3, 2], { seed: 8, ...f64 });
  const xs = randn([4, 5, 3], { seed: 9, ...f64 });

  it('vmap(grad(f)) rows are the batch-of-one gradients', () => {
    const rows = vmap(grad(loss), { inAxes: [null, 0] })(w, xs);
    expect(rows.shape).toEqual([4, 3, 2]);
    for (let i = 0; i < 4; i++) expectClose(sample(rows, 0, i), grad(loss)(w, sample(xs, 0, i)));
  });

  it('vmap(grad(f)) with the batch on another axis (x stored [T, B, C])', () => {
    const stored = xs.permute([1, 0, 2]); // [5, 4, 3]: axis 1 is the batch
    const rows = vmap(grad(loss), { inAxes: [null, 1] })(w, stored);
    for (let i = 0; i < 4; i++) expectClose(sample(rows, 0, i), grad(loss)(w, sample(xs, 0, i)));
  });

  it('grad of a vmapped sum equals the gradient of the batch sum', () => {
    const total = (w: Tensor) => vmap((x: Tensor) => loss(w, x))(xs).sum();
    const direct = (w: Tensor) => xs.matmul(w).tanh().pow(2).sum();
    expectClose(grad(total)(w), grad(direct)(w));
  });

  it('per-sample gradients sum to the batch gradient', () => {
    const rows = vmap(grad(loss), { inAxes: [null, 0] })(w, xs);
    expectClose(rows.sum(0), grad((w: Tensor) => xs.matmul(w).tanh().pow(2).sum())(w));
  });
});

describe('vmap(grad) rows are batch-of-one gradients on random programs (property)', () => {
  // Per-sample x is [3, 3] and the batch is 3 too, so no rule could find the batch by its size.
  const STEPS = ['transpose', 'scale', 'bias', 'tanh', 'linear', 'centre', 'softmax', 'logsumexp'] as const;
  it('with the batch stored on any axis', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...STEPS), { minLength: 1, maxLength: 6 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 400 }), (steps, axis, seed) => {
        const p = { scale: randn([3, 3], { seed, ...f64 }), bias: randn([3], { seed: seed + 1, ...f64 }), w: randn([3, 3], { seed: seed + 2, ...f64 }).mul(0.5) };
        const f = (p: { scale: Tensor; bias: Tensor; w: Tensor }, x: Tensor) => {
          let h = x;
          for (const step of steps) {
            if (step === 'transpose') h = h.transpose();
            else if (step === 'scale') h = h.mul(p.scale);
            else if (step === 'bias') h = h.add(p.bias);
            else if (step === 'tanh') h = h.tanh();
            else if (step === 'linear') h = h.matmul(p.w.transpose());
            else if (step === 'centre') h = h.sub(h.mean(0, true));
            else if (step === 'softmax') h = softmax(h, 0);
            else h = h.sub(logsumexp(h, 1, true));
          }
          return h.mul(h).sum().add(p.scale.mul(p.w).sum().mul(0.1));
        };
        const samples = randn([3, 3, 3], { seed: seed + 3, ...f64 });
        const stored = samples.permute(axis === 0 ? [0, 1, 2] : axis === 1 ? [1, 0, 2] : [1, 2, 0]);
        const rows = vmap(grad(f), { inAxes: [null, axis] })(p, stored) as unknown as Record<string, Tensor>;
        for (let i = 0; i < 3; i++) {
          const one = grad(f)(p, sample(samples, 0, i)) as unknown as Record<string, Tensor>;
          for (const k of ['scale', 'bias', 'w']) expectClose(sample(rows[k]!, 0, i), one[k]!, 1e-10);
        }
      }),
      { numRuns: 40 },
    );
  });
});

describe('forward-mode jvp', () => {
  const f = (x: Tensor, y: Tensor) => x.mul(y).exp().sum(1).div(y.sum().add(3));
  const x = randn([2, 3], { seed: 10, ...f64 });
  const y = randn([2, 3], { seed: 11, ...f64 });
  const tx = randn([2, 3], { seed: 12, ...f64 });
  const ty = randn([2, 3], { seed: 13, ...f64 });

  it('matches central differences and the double-vjp trick', () => {
    const [value, tangent] = jvp(f, [x, y], [tx, ty]);
    expectClose(value, f(x, y));
    const h = 1e-6;
    const fd = f(x.add(tx.mul(h)), y.add(ty.mul(h))).sub(f(x.sub(tx.mul(h)), y.sub(ty.mul(h)))).div(2 * h);
    expectClose(tangent, fd, 1e-7);
    expectClose(tangent, jvpByDoubleVjp(f, [x, y], [tx, ty])[1], 1e-12);
  });

  it('forward-over-reverse HVP equals the double-backward HVP', () => {
    const g = (w: Tensor) => w.pow(3).mul(w.sum().exp()).sum();
    const v = randn([2, 3], { seed: 14, ...f64 });
    const [, forwardOverReverse] = jvp((w: Tensor) => grad(g)(w), [x], [v]);
    expectClose(forwardOverReverse, hvp(g, x, v) as Tensor, 1e-10);
  });

  it('reverse-over-forward: grad of a jvp tangent', () => {
    const h = (a: Tensor) => jvp((x: Tensor) => x.pow(3).sum(), [a], [tx])[1];
    // d/da ⟨3a², t⟩ = 6a·t
    expectClose(grad(h)(x), x.mul(tx).mul(6), 1e-12);
  });

  it('forward-over-forward: a second directional derivative', () => {
    const inner = (a: Tensor) => jvp((x: Tensor) => x.pow(3).sum(), [a], [tx])[1];
    const [, second] = jvp(inner, [x], [ty]);
    // d²/ds dt Σ (x + s·ty + t·tx)³ = Σ 6x·tx·ty
    expectClose(second, x.mul(tx).mul(ty).mul(6).sum(), 1e-12);
  });

  it('vmap(jvp) gives one directional derivative per sample', () => {
    const tangents = randn([4, 2, 3], { seed: 15, ...f64 });
    const out = vmap((t: Tensor) => jvp((x: Tensor) => x.exp().sum(), [x], [t])[1])(tangents);
    for (let i = 0; i < 4; i++) expectClose(sample(out, 0, i), x.exp().mul(sample(tangents, 0, i)).sum());
  });

  it('vmap(hvp): one Hessian-vector product per direction, and per sample', () => {
    const g = (w: Tensor) => w.pow(3).mul(w.sum().exp()).sum();
    const directions = randn([3, 2, 3], { seed: 20, ...f64 });
    const out = vmap((v: Tensor) => hvp(g, x, v) as Tensor)(directions);
    for (let i = 0; i < 3; i++) expectClose(sample(out, 0, i), hvp(g, x, sample(directions, 0, i)) as Tensor, 1e-12);
    const points = randn([3, 2, 3], { seed: 21, ...f64 });
    const perPoint = vmap((p: Tensor, v: Tensor) => hvp(g, p, v) as Tensor)(points, directions);
    for (let i = 0; i < 3; i++) expectClose(sample(perPoint, 0, i), hvp(g, sample(points, 0, i), sample(directions, 0, i)) as Tensor, 1e-12);
  });

  it('linearize applies J to many tangents', () => {
    const [value, apply] = linearize((x: Tensor) => x.mul(x).sum(), x);
    expectClose(value, x.mul(x).sum());
    expectClose(apply(tx), x.mul(tx).mul(2).sum(), 1e-12);
  });
});

describe('randomness inside vmap', () => {
  const xs = randn([4, 3], { seed: 16, ...f64 });
  const noisy = (x: Tensor) => x.add(rand([3], { seed: 5, ...f64 }));
  it("'error' (the default) refuses a draw", () => {
    expect(() => vmap(noisy)(xs)).toThrow(/rand: a random draw inside vmap; say whether samples share it/);
  });
  it("'same' shares one draw; 'different' draws per sample from foldIn(key, i), independent of chunkSize", () => {
    const same = vmap(noisy, { randomness: 'same' })(xs).sub(xs);
    for (let i = 1; i < 4; i++) expectClose(sample(same, 0, i), sample(same, 0, 0));
    const different = vmap(noisy, { randomness: 'different' })(xs).sub(xs);
    expect(Math.abs(sample(different, 0, 1).sub(sample(different, 0, 0)).abs().sum().item())).toBeGreaterThan(1e-3);
    expectClose(vmap(noisy, { randomness: 'different', chunkSize: 3 })(xs).sub(xs), different, 0);
  });
});

describe('vmap with a workspace', () => {
  it('gives the same per-sample gradients, reuses its arrays, and invalidates what the last call returned', () => {
    const model = mlp([6, 5, 3], { seed: 4, ...f64 }).eval();
    const loss = (p: Record<string, Tensor>, xi: Tensor, yi: Tensor) => crossEntropy(functionalCall(model, p, xi.unsqueeze(0)), yi.unsqueeze(0));
    const x = randn([4, 6], { seed: 5, ...f64 });
    const y = tensor([0, 2, 1, 2], { dtype: 'int32' });
    // Detached, as torch.func's recipe does: the gradients then record no graph back to the model.
    const params = Object.fromEntries(Object.entries(parametersByName(model)).map(([k, v]) => [k, v.detach()]));
    const plain = vmap(grad(loss), { inAxes: [null, 0, 0] })(params, x, y) as unknown as Record<string, Tensor>;
    const workspace = new PerSampleWorkspace();
    const withWs = vmap(grad(loss), { inAxes: [null, 0, 0], workspace });
    const first = withWs(params, x, y) as unknown as Record<string, Tensor>;
    for (const k of Object.keys(plain)) expectClose(first[k]!, plain[k]!, 0);
    const version = first['0.weight']!.version;
    const second = withWs(params, x.mul(2), y) as unknown as Record<string, Tensor>;
    expect(second['0.weight']!.data.buffer).toBe(first['0.weight']!.data.buffer); // the same memory…
    expect(first['0.weight']!.version).toBeGreaterThan(version); // …and the first call's result knows it was overwritten
  });
});

describe('keyed dropout inside vmap', () => {
  const model = new Sequential(new Linear(4, 6, { seed: 1, ...f64 }), new Dropout(0.5, 3), new Linear(6, 2, { seed: 2, ...f64 }));
  const xs = randn([5, 4], { seed: 19, ...f64 });
  const perSample = (xi: Tensor) => model.forward(xi.unsqueeze(0), { seed: 7 }).squeeze(0);
  it("'different' gives each sample its own mask: the batch forward's with sample ids 0 … B−1, whatever the chunk size", () => {
    const batch = model.forward(xs, { seed: 7, sampleIds: [0, 1, 2, 3, 4] });
    expectClose(vmap(perSample, { randomness: 'different' })(xs), batch, 1e-14);
    expectClose(vmap(perSample, { randomness: 'different', chunkSize: 2 })(xs), batch, 1e-14);
  });
  it("'same' shares one mask; 'error' refuses", () => {
    const shared = vmap(perSample, { randomness: 'same' })(xs);
    expectClose(shared, model.forward(xs, { seed: 7, sampleIds: [0, 0, 0, 0, 0] }), 1e-14);
    expect(() => vmap(perSample)(xs)).toThrow(/Dropout\(p=0.5, layer 3\): a random mask inside vmap; say whether samples share it/);
  });
});

describe('vmap refuses what it cannot do, clearly', () => {
  const xs = randn([3, 2], { seed: 17, ...f64 });
  it('batch sizes that disagree, and no batched argument', () => {
    expect(() => vmap((a: Tensor, b: Tensor) => a.add(b))(xs, randn([4, 2], { seed: 1, ...f64 }))).toThrow(
      /vmap: the batched arguments disagree on the batch size: argument 0 has size 3 on axis 0, argument 1 has size 4/,
    );
    expect(() => vmap((a: Tensor) => a, { inAxes: null })(xs)).toThrow(/vmap: no argument is batched/);
    expect(() => vmap((a: Tensor) => a, { inAxes: 2 })(xs)).toThrow(/vmap: inAxes for argument 0 of shape \[3,2\]: axis 2 is out of range/);
  });
  it('reading values inside vmap, and a batched tensor kept after vmap returned', () => {
    expect(() => vmap((a: Tensor) => tensor(a.toArray() as number[]))(xs)).toThrow(/toTypedArray: cannot read the values of a batched tensor inside vmap/);
    let kept: Tensor | null = null;
    vmap((a: Tensor) => (kept = a).exp())(xs);
    expect(() => kept!.exp()).toThrow(/a batched tensor from a vmap that has already returned was used/);
  });
  it('BatchNorm in train mode names perSampleJacobian', () => {
    const model = new Sequential(new Linear(2, 3, { seed: 0, ...f64 }), new BatchNorm1d(3, f64), new Tanh());
    expect(() => vmap((x: Tensor) => model.forward(x.unsqueeze(0)))(xs)).toThrow(/train mode inside vmap.*perSampleJacobian/);
  });
  it('BatchNorm with perSampleStatistics: each sample by its own statistics, running statistics untouched', () => {
    const bn = new BatchNorm1d(3, { ...f64, perSampleStatistics: true });
    const x = randn([4, 3, 5], { seed: 18, ...f64 });
    const before = bn.saveStats();
    const out = vmap((xi: Tensor) => bn.forward(xi.unsqueeze(0)).squeeze(0))(x);
    expect(bn.saveStats()).toEqual(before);
    const rows = Array.from({ length: 4 }, (_, i) => bn.withFrozenStats(() => bn.forward(sample(x, 0, i).unsqueeze(0)).squeeze(0)));
    expectClose(out, stack(rows), 1e-12);
  });
  it('in-place writes to a batched tensor', () => {
    expect(() => vmap((a: Tensor) => a.add_(1))(xs)).toThrow(/add_: cannot modify a batched tensor in place inside vmap/);
  });
});

describe('per-sample gradients of zoo models: perSampleGrads = vmap(grad) through functionalCall', () => {
  function viaVmap(model: ReturnType<typeof mlp>, x: Tensor, targets: number[]): Record<string, Tensor> {
    const loss = (p: Record<string, Tensor>, xi: Tensor, yi: Tensor) => crossEntropy(functionalCall(model, p, xi.unsqueeze(0)), yi.unsqueeze(0));
    return vmap(grad(loss), { inAxes: [null, 0, 0] })(parametersByName(model), x, tensor(targets, { dtype: 'int32' })) as unknown as Record<string, Tensor>;
  }
  it('MLP with BatchNorm in eval mode (property over seeds and batch sizes)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 300 }), (B, seed) => {
        const model = mlp([4, 5, 3], { seed, batchNorm: true, ...f64 }).eval();
        const x = randn([B, 4], { seed: seed + 1, ...f64 });
        const targets = Array.from({ length: B }, (_, i) => (i + seed) % 3);
        const fast = perSampleGrads(model, { x, targets }).grads!;
        const reference = viaVmap(model, x, targets);
        for (const [name] of model.namedParameters()) expectClose(fast.get(name)!, reference[name]!, 1e-10);
      }),
      { numRuns: 10 },
    );
  });
  it('ResNet-8 in eval mode, and an out-of-range class inside vmap is still an error', () => {
    const model = resnet8({ seed: 5, width: 2, ...f64 }).eval();
    const x = randn([2, 1, 28, 28], { seed: 6, ...f64 });
    const fast = perSampleGrads(model, { x, targets: [1, 9] }).grads!;
    const reference = viaVmap(model as never, x, [1, 9]);
    for (const [name] of model.namedParameters()) expectClose(fast.get(name)!, reference[name]!, 1e-10);
    expect(() => viaVmap(model as never, x, [1, 12])).toThrow(/out of range/);
  });
  it('LeNet-5 in eval mode', () => {
    const model = lenet5({ seed: 3, ...f64 }).eval();
    const x = randn([2, 1, 28, 28], { seed: 4, ...f64 });
    const fast = perSampleGrads(model, { x, targets: [3, 7] }).grads!;
    const reference = viaVmap(model as never, x, [3, 7]);
    for (const [name] of model.namedParameters()) expectClose(fast.get(name)!, reference[name]!, 1e-10);
  });
});
