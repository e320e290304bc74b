/**
 * Native per-sample gradients against the reference they must equal: a loop over samples,
 * each a batch of one (never the implementation). Also: rows average to the batch gradient,
 * chunks and workspaces change nothing, norms, the BatchNorm train-mode refusal, and the
 * exact train-mode Jacobian.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crossEntropy, Embedding, gradients, LayerNorm, randn, tensor, vmapPerSampleGrads, type Tensor } from '../../src/index.js';
import { perSampleGrads, perSampleJacobian, PerSampleWorkspace } from '../../src/nn/per-sample.js';
import { lenet5, mlp, resnet8 } from '../../src/nn/zoo.js';
import { Dropout } from '../../src/nn/dropout.js';
import { Flatten, Sequential } from '../../src/nn/container.js';
import { Linear } from '../../src/nn/linear.js';
import { Module } from '../../src/nn/module.js';

const f64 = { dtype: 'float64' as const };

/** Per-sample gradients by a loop over batches of one (the reference). */
function loopReference(model: Module, x: Tensor, targets: number[], context: (i: number) => object = () => ({})): Tensor[][] {
  const params = model.parameters();
  return targets.map((t, i) => {
    const xi = x.slice([[i, i + 1]]);
    const loss = crossEntropy(model.forward(xi, context(i)), [t], 'sum');
    return gradients([loss], params, { allowUnused: true });
  });
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function expectMatchesLoop(model: Module, x: Tensor, targets: number[], tolerance = 1e-12): void {
  const result = perSampleGrads(model, { x, targets });
  const reference = loopReference(model, x, targets);
  model.namedParameters().forEach(([name], k) => {
    const rows = result.grads!.get(name)!;
    expect(rows.shape).toEqual([targets.length, ...model.parameters()[k]!.shape]);
    targets.forEach((_, i) => {
      const row = rows.slice([[i, i + 1]]).toTypedArray();
      expect(maxAbsDiff(row, reference[i]![k]!.toTypedArray()), `${name} row ${i}`).toBeLessThan(tolerance);
    });
  });
}

describe('perSampleGrads', () => {
  it('equals the per-sample loop for MLPs of random sizes and activations (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 3 }),
        fc.constantFrom('relu' as const, 'tanh' as const, 'elu' as const, 'softplus' as const),
        fc.integer({ min: 0, max: 1000 }),
        (B, hidden, activation, seed) => {
          const sizes = [3, ...hidden, 4];
          const model = mlp(sizes, { seed, activation, ...f64 });
          const x = randn([B, 3], { seed: seed + 1, ...f64 });
          const targets = Array.from({ length: B }, (_, i) => (i * 7 + seed) % 4);
          expectMatchesLoop(model, x, targets);
        },
      ),
      { numRuns: 25 },
    );
  });

  it('equals the loop for LeNet-5 and ResNet-8 with BatchNorm in eval mode (conv, pooling, residuals)', () => {
    const x = randn([3, 1, 28, 28], { seed: 5, ...f64 });
    expectMatchesLoop(lenet5({ seed: 1, ...f64 }).eval(), x, [1, 7, 3], 1e-10);
    expectMatchesLoop(resnet8({ seed: 2, width: 4, ...f64 }).eval(), x, [0, 9, 4], 1e-10);
  });

  it('follows parameters through arithmetic before they meet the batch (add, sub, mul, neg on [C], as BatchNorm eval does)', () => {
    /** y = x·s + t with s = γ·c and t = β − m·s − (−γ) from constants c and m: every parameter-side rule. */
    class Affine extends Module {
      constructor() {
        super();
        this.registerParameter('gamma', randn([4], { seed: 11, ...f64 }));
        this.registerParameter('beta', randn([4], { seed: 12, ...f64 }));
      }
      forward(x: Tensor): Tensor {
        const [c, m] = [randn([4], { seed: 13, ...f64 }), randn([4], { seed: 14, ...f64 })];
        const s = this.param('gamma').mul(c);
        const t = this.param('beta').sub(m.mul(s)).sub(this.param('gamma').neg());
        return x.mul(s).add(t).mul(s);
      }
    }
    const model = new Sequential(new Affine(), new Linear(4, 3, { seed: 15, ...f64 }));
    expectMatchesLoop(model, randn([5, 4], { seed: 16, ...f64 }), [0, 2, 1, 1, 0]);
  });

  it('works when the first layer reshapes the input (Flatten before Linear)', () => {
    const model = new Sequential(new Flatten(), new Linear(12, 3, { seed: 1, ...f64 }));
    const x = randn([4, 1, 3, 4], { seed: 2, ...f64 });
    expectMatchesLoop(model, x, [0, 1, 2, 1]);
  });

  it('rows average to the batch gradient of the mean loss', () => {
    const model = lenet5({ seed: 3, ...f64 }).eval();
    const x = randn([4, 1, 28, 28], { seed: 6, ...f64 });
    const targets = [2, 5, 5, 0];
    const rows = perSampleGrads(model, { x, targets }).grads!;
    const batch = gradients([crossEntropy(model.forward(x), targets)], model.parameters());
    model.namedParameters().forEach(([name], k) => {
      expect(maxAbsDiff(rows.get(name)!.mean(0).toTypedArray(), batch[k]!.toTypedArray()), name).toBeLessThan(1e-12);
    });
  });

  it('chunks, norms-only and a reused workspace give the same numbers', () => {
    const model = mlp([6, 5, 3], { seed: 4, ...f64 });
    const x = randn([7, 6], { seed: 7, ...f64 });
    const targets = [0, 1, 2, 0, 1, 2, 0];
    const whole = perSampleGrads(model, { x, targets });
    const chunked = perSampleGrads(model, { x, targets }, { chunkSize: 3 });
    const ws = new PerSampleWorkspace();
    perSampleGrads(model, { x: randn([7, 6], { seed: 8, ...f64 }), targets }, { workspace: ws });
    const reused = perSampleGrads(model, { x, targets }, { workspace: ws });
    for (const [name, g] of whole.grads!) {
      expect(chunked.grads!.get(name)!.toTypedArray()).toEqual(g.toTypedArray());
      expect(reused.grads!.get(name)!.toTypedArray()).toEqual(g.toTypedArray());
    }
    const normsOnly = perSampleGrads(model, { x, targets }, { normsOnly: true, chunkSize: 2 });
    expect(normsOnly.grads).toBeNull();
    const expected = Array.from({ length: 7 }, (_, i) =>
      Math.sqrt([...whole.grads!.values()].reduce((s, g) => s + g.slice([[i, i + 1]]).square().sum().item(), 0)),
    );
    expect(maxAbsDiff(normsOnly.norms, expected)).toBeLessThan(1e-12);
    expect(maxAbsDiff(whole.norms, expected)).toBeLessThan(1e-12);
  });

  it('keeps dropout masks per sample: equals the loop with the same seed and sample ids', () => {
    const model = new Sequential(new Linear(4, 6, { seed: 1, ...f64 }), new Dropout(0.5, 0), new Linear(6, 3, { seed: 2, ...f64 }));
    const x = randn([5, 4], { seed: 9, ...f64 });
    const targets = [0, 1, 2, 1, 0];
    const sampleIds = [10, 11, 12, 13, 14];
    const result = perSampleGrads(model, { x, targets, sampleIds, seed: 42 });
    const reference = loopReference(model, x, targets, (i) => ({ sampleIds: [sampleIds[i]!], seed: 42 }));
    model.namedParameters().forEach(([name], k) => {
      targets.forEach((_, i) => {
        expect(maxAbsDiff(result.grads!.get(name)!.slice([[i, i + 1]]).toTypedArray(), reference[i]![k]!.toTypedArray())).toBeLessThan(1e-12);
      });
    });
  });

  it('refuses BatchNorm in train mode (samples interact) and says what to use', () => {
    const model = mlp([4, 5, 3], { seed: 1, batchNorm: true, ...f64 });
    expect(() => perSampleGrads(model, { x: randn([3, 4], { seed: 1, ...f64 }), targets: [0, 1, 2] })).toThrow(
      /samples interact through 'batchNormTrain' \(its batch statistics sum over the batch axis\).*perSampleJacobian/,
    );
  });
});

describe('perSampleJacobian', () => {
  it('rows are the gradients of each loss inside one train-mode batch forward, and average to the batch gradient', () => {
    const model = mlp([4, 5, 3], { seed: 2, batchNorm: true, ...f64 });
    const x = randn([4, 4], { seed: 3, ...f64 });
    const targets = [0, 2, 1, 2];
    const before = model.saveStats();
    const { rows, losses, kind } = perSampleJacobian(model, { x, targets });
    expect(kind).toBe('batch-jacobian');
    // The running statistics are untouched by default.
    for (const [name, values] of model.saveStats()) expect(values).toEqual(before.get(name));
    const params = model.parameters();
    for (let i = 0; i < targets.length; i++) {
      const li = model.withFrozenStats(() => crossEntropy(model.forward(x), targets, 'none').slice([[i, i + 1]]).sum());
      expect(li.item()).toBeCloseTo(losses.toTypedArray()[i]!, 12);
      const gi = gradients([li], params);
      model.namedParameters().forEach(([name], k) => {
        expect(maxAbsDiff(rows.get(name)!.slice([[i, i + 1]]).toTypedArray(), gi[k]!.toTypedArray())).toBeLessThan(1e-12);
      });
    }
    const batch = model.withFrozenStats(() => gradients([crossEntropy(model.forward(x), targets)], params));
    model.namedParameters().forEach(([name], k) => {
      expect(maxAbsDiff(rows.get(name)!.mean(0).toTypedArray(), batch[k]!.toTypedArray())).toBeLessThan(1e-12);
    });
  });

  it('equals perSampleGrads when samples do not interact', () => {
    const model = mlp([3, 4, 2], { seed: 5, ...f64 });
    const x = randn([3, 3], { seed: 4, ...f64 });
    const jac = perSampleJacobian(model, { x, targets: [0, 1, 1] });
    const per = perSampleGrads(model, { x, targets: [0, 1, 1] });
    for (const [name, g] of per.grads!) expect(maxAbsDiff(jac.rows.get(name)!.toTypedArray(), g.toTypedArray())).toBeLessThan(1e-12);
  });
});

describe('vmapPerSampleGrads: integer inputs (token ids into an Embedding)', () => {
  const tokens = () => tensor(Int32Array.from([1, 0, 5, 5, 2, 2, 0, 0, 3, 4, 1, 1, 5, 3, 2, 0]), { shape: [4, 4], dtype: 'int32' });
  const textModel = (dropout = 0) =>
    new Sequential(new Embedding(6, 3, { seed: 8, paddingIdx: 0, ...f64 }), new Flatten(), new Dropout(dropout), new Linear(12, 3, { seed: 9, ...f64 }), new LayerNorm([3], f64));
  const targets = [0, 2, 1, 2];

  it('perSampleGrads refuses int32 inputs and names the function that takes them', () => {
    expect(() => perSampleGrads(textModel().eval(), { x: tokens(), targets })).toThrow(/int32 \(token ids\?\).*vmapPerSampleGrads/);
  });

  it('equals the per-sample loop, in chunks and as norms, the padding row getting zeros', () => {
    const model = textModel().eval();
    const whole = vmapPerSampleGrads(model, { x: tokens(), targets });
    const reference = loopReference(model, tokens(), targets);
    model.namedParameters().forEach(([name], k) => {
      targets.forEach((_, i) => expect(maxAbsDiff(whole.grads!.get(name)!.slice([[i, i + 1]]).toTypedArray(), reference[i]![k]!.toTypedArray()), `${name} row ${i}`).toBeLessThan(1e-12));
    });
    const chunked = vmapPerSampleGrads(model, { x: tokens(), targets }, { chunkSize: 3 });
    for (const [name, g] of whole.grads!) expect(maxAbsDiff(chunked.grads!.get(name)!.toTypedArray(), g.toTypedArray())).toBeLessThan(1e-15);
    const norms = vmapPerSampleGrads(model, { x: tokens(), targets }, { normsOnly: true }).norms;
    expect(maxAbsDiff(norms, whole.norms)).toBeLessThan(1e-12);
    expect(maxAbsDiff(whole.losses.toTypedArray(), crossEntropy(model.forward(tokens()), targets, 'none').toTypedArray())).toBeLessThan(1e-14);
    expect([...whole.grads!.get('0.weight')!.slice([null, [0, 1]]).toTypedArray()]).toEqual(new Array(12).fill(0));
  });

  it('refuses train-mode dropout, whose masks vmap cannot key by sample id', () => {
    const model = textModel(0.5);
    model.train();
    expect(() => vmapPerSampleGrads(model, { x: tokens(), targets, seed: 0 })).toThrow(/cannot key dropout masks.*'2' \(Dropout/);
    model.eval();
    expect(() => vmapPerSampleGrads(model, { x: tokens(), targets })).not.toThrow();
  });
});
