/**
 * The README's code (and the code block of docs/library.md), run as written at small sizes, so
 * that the documentation stays true.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadMnist } from '../src/data/index.js';
import { fileCheckpoint, loadCheckpoint } from '../src/io/index.js';
import {
  crossEntropy,
  customOp,
  gradients,
  functionalCall,
  grad,
  gradientNormMetrics,
  hessianOperator,
  hutchinsonTrace,
  hvp,
  jvp,
  lanczos,
  lenet5,
  mlp,
  noGrad,
  parametersByName,
  perSampleGrads,
  perSampleJacobian,
  PerSampleWorkspace,
  randn,
  schedule,
  SgdEstimator,
  SgdUpdate,
  spectralDensity,
  split,
  svrg,
  train,
  summary,
  tensor,
  tidy,
  toMermaid,
  valueAndGrad,
  vmap,
  type Tensor,
} from '../src/index.js';

describe('README', () => {
  it('data, optimizers and the training loop', () => {
    const mnist = loadMnist({ cacheDir: mkdtempSync(join(tmpdir(), 'gradscope-readme-')) });
    const { train: trainSet } = split(mnist, { seed: 0, fractions: { train: 0.03, test: 0.97 } });
    const sgdRun = train(lenet5({ seed: 1 }), trainSet, {
      estimator: new SgdEstimator(),
      update: new SgdUpdate({ momentum: 0.9 }),
      schedule: schedule(0.05, 128),
      epochs: 1,
      seed: 2,
    });
    expect(sgdRun.losses.every(Number.isFinite)).toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'gradscope-readme-'));
    const seen: number[] = [];
    train(lenet5({ seed: 1 }), trainSet, {
      estimator: svrg(),
      update: new SgdUpdate({ momentum: 0.9 }),
      schedule: schedule(0.05, 128),
      epochs: 1,
      seed: 2,
      positions: [0.02, 0.11, 0.33, 0.66, 0.98],
      onPosition: (info) => seen.push(info.stepInEpoch),
      checkpoint: fileCheckpoint(join(dir, 'svrg.json')),
    });
    expect(seen.length).toBeGreaterThan(0);
    expect(loadCheckpoint(join(dir, 'svrg.json')).epoch).toBe(1);
  });

  it('a short tour', () => {
    const x = tensor([1, 2, 3], { dtype: 'float64' });
    expect(grad((x: Tensor) => x.pow(3).sum())(x).toArray()).toEqual([3, 12, 27]);
    expect(grad(grad(grad((x: Tensor) => x.pow(3).sum())))(tensor(2, { dtype: 'float64' })).item()).toBe(6);
    const w = randn([3, 2], { seed: 0, dtype: 'float64' }).requireGrad();
    crossEntropy(randn([4, 3], { seed: 1, dtype: 'float64' }).matmul(w), [0, 1, 1, 0]).backward();
    expect(w.grad!.shape).toEqual([3, 2]);
    const f = (a: Tensor, b: Tensor) => a.mul(b).tanh().sum();
    const [, grads] = valueAndGrad(f, { argnums: [0, 1] })(x, x.mul(2));
    expect(grads).toHaveLength(2);
    expect((hvp((x: Tensor) => x.pow(3).sum(), x, tensor([1, 0, 0], { dtype: 'float64' })) as Tensor).toArray()).toEqual([6, 0, 0]);
    expect(jvp((x: Tensor) => x.exp(), [x], [tensor([1, 1, 1], { dtype: 'float64' })])[1].toArray()).toEqual(x.exp().toArray());
    expect(noGrad(() => x.mul(2)).requiresGrad).toBe(false);
    expect(toMermaid(x.detach().requireGrad().exp().sum())).toMatch(/exp/);
  });

  it('layers, models and per-sample gradients', () => {
    const model = lenet5({ seed: 0 });
    expect(summary(model)).toMatch(/44,878 parameters/);
    const x = randn([4, 1, 28, 28], { seed: 1 });
    const targets = [0, 1, 2, 3];
    model.eval();
    const { grads, norms } = perSampleGrads(model, { x, targets });
    expect(grads!.get('0.weight')!.shape).toEqual([4, 6, 1, 5, 5]);
    expect(norms).toHaveLength(4);
    expect(perSampleGrads(model, { x, targets }, { normsOnly: true, chunkSize: 2 }).grads).toBeNull();
    perSampleGrads(model, { x, targets }, { workspace: new PerSampleWorkspace() });
    model.train();
    expect(perSampleJacobian(model, { x, targets }).rows.get('0.weight')!.shape).toEqual([4, 6, 1, 5, 5]);
    const stats = model.saveStats();
    model.forward(x);
    model.restoreStats(stats);
    expect(model.saveStats()).toEqual(stats);
  });

  it('measuring curvature and gradient noise', () => {
    const model = mlp([20, 8, 3], { seed: 0, dtype: 'float64' });
    const batch = { x: randn([16, 20], { seed: 1, dtype: 'float64' }), targets: Array.from({ length: 16 }, (_, i) => i % 3) };
    const H = hessianOperator(model, batch, { batchNorm: 'eval' });
    const { top, min } = lanczos(H, 3, { seed: 0, iterations: 40 });
    expect(top).toHaveLength(3);
    expect(top[0]!).toBeGreaterThanOrEqual(min);
    const trace = hutchinsonTrace(H, { seed: 0, maxProbes: 100, tolerance: 0.02 });
    expect(trace.standardError).toBeGreaterThanOrEqual(0);
    expect(spectralDensity(H, { seed: 0, probes: 4, iterations: 40 }).density.length).toBeGreaterThan(0);
    const { m1, m2, variance } = gradientNormMetrics(model, batch, { batchNorm: 'eval' });
    expect(m1).toBeGreaterThanOrEqual(m2);
    expect(variance).toBeGreaterThan(0);
  });

  it('docs/library.md: memory, tidy (the loop as written, at a small size)', () => {
    const run = (scoped: boolean) => {
      const model = mlp([12, 6, 10], { seed: 0 });
      const rule = new SgdUpdate({ momentum: 0.9 });
      const x = randn([16, 12], { seed: 1 });
      const y = Array.from({ length: 16 }, (_, i) => i % 10);
      const losses: number[] = [];
      for (let step = 0; step < 3; step++) {
        const body = () => {
          const l = crossEntropy(model.forward(x), y);
          rule.step(model.parameters(), gradients([l], model.parameters()), 0.05);
          return l;
        };
        losses.push((scoped ? tidy(body) : body()).item());
      }
      return losses;
    };
    const scoped = run(true);
    expect(scoped).toEqual(run(false));
    expect(scoped[2]!).toBeLessThan(scoped[0]!);
  });

  it('docs/library.md: custom primitives, and models as functions', () => {
    const logcosh = customOp({
      name: 'logcosh',
      forward: (x) => x.abs().add(x.abs().mul(-2).exp().add(1).log()).sub(Math.LN2),
      backward: ({ inputs: [x] }, g) => [g.mul(x!.tanh())],
    });
    const g = grad((x: Tensor) => logcosh(x).sum())(tensor([800, -1], { dtype: 'float64' })).toArray() as number[];
    expect(g[0]).toBe(1);
    expect(g[1]).toBeCloseTo(-0.7616, 4);
    const net = mlp([4, 8, 3], { seed: 0, dtype: 'float64' });
    const sampleLoss = (p: Record<string, Tensor>, xi: Tensor, yi: Tensor) => crossEntropy(functionalCall(net, p, xi.unsqueeze(0)), yi.unsqueeze(0));
    const xb = randn([5, 4], { seed: 1, dtype: 'float64' });
    const rows = vmap(grad(sampleLoss), { inAxes: [null, 0, 0] })(parametersByName(net), xb, tensor([0, 1, 2, 1, 0], { dtype: 'int32' }));
    for (const [name, p] of net.namedParameters()) expect(rows[name]!.shape).toEqual([5, ...p.shape]);
  });
});
