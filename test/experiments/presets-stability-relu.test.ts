/** The two-layer ReLU part of the stability preset (Wu & Su 2023): mechanics of the student, G and the clause. */
import { describe, expect, it } from 'vitest';
import { gramSpectrum, gramSpectrumOf } from '../../src/analysis/gram.js';
import { Sequential } from '../../src/nn/container.js';
import { Linear } from '../../src/nn/linear.js';
import { ReLU } from '../../src/nn/activations.js';
import { tensor } from '../../src/tensor/creation.js';
import {
  pathNorm,
  reluGram,
  reluInit,
  reluInputs,
  reluJacobian,
  reluOutput,
  reluRun,
  reluSquareLoss,
  reluStabilityConfig,
  summarizeRelu,
  trainRelu,
  type RegressionData,
  type ReluNet,
  type ReluRunOutput,
} from '../../packages/lab/src/experiments/presets/stability-relu.js';

/** A tiny problem: m = 3 hidden units, d = 2, n = 4 inputs, labels from `labelNet` (interpolated by it). */
function tiny(labelNet?: ReluNet): { net: ReluNet; data: RegressionData } {
  const net = reluInit(2, 3, 1, 9);
  const x = Float64Array.from([1.0, 0.3, -0.4, 1.1, 0.7, -0.9, -1.2, -0.5]);
  const data: RegressionData = { x, y: new Float64Array(4), n: 4, d: 2 };
  for (let i = 0; i < 4; i++) data.y[i] = reluOutput(labelNet ?? net, x, i);
  return { net, data };
}

/** Flatten (W, a) to one vector and back. */
const flat = (net: ReluNet) => Float64Array.from([...net.W, ...net.a]);
const unflat = (v: Float64Array, m: number, d: number): ReluNet => ({ W: v.slice(0, m * d), a: v.slice(m * d), m, d });

describe('two-layer ReLU student (stability preset, ReLU part)', () => {
  it('J matches the engine’s per-sample gradients of Linear(d→m, no bias) → ReLU → Linear(m→1, no bias)', () => {
    const { net, data } = tiny();
    const model = new Sequential(new Linear(2, 3, { seed: 1, bias: false, dtype: 'float64' }), new ReLU(), new Linear(3, 1, { seed: 2, bias: false, dtype: 'float64' }));
    model.assignParameters([tensor(net.W, { shape: [3, 2], dtype: 'float64' }), tensor(net.a, { shape: [1, 3], dtype: 'float64' })]);
    const x = tensor(data.x, { shape: [4, 2], dtype: 'float64' });
    const engine = gramSpectrum(model, x, { batchNorm: 'eval' });
    const J = engine.jacobian.contiguous().toTypedArray();
    const ours = reluJacobian(net, data);
    expect(J.length).toBe(ours.length);
    ours.forEach((v, k) => expect(v).toBeCloseTo(J[k]!, 12));
    const g = reluGram(net, data);
    expect(g.traceG).toBeCloseTo(engine.traceG, 12);
    expect(g.frobeniusG).toBeCloseTo(engine.frobeniusG, 12);
    expect(g.lambdaMaxG).toBeCloseTo(engine.lambdaMaxG, 12);
  });

  it('at an interpolating point G equals the finite-difference Hessian of ½·mean (f − y)²', () => {
    const { net, data } = tiny();
    expect(reluSquareLoss(net, data)).toBe(0);
    // Keep away from the ReLU kinks, where the finite difference would cross a kink.
    const pre = new Float64Array(3);
    for (let i = 0; i < 4; i++) {
      reluOutput(net, data.x, i, pre);
      for (const p of pre) expect(Math.abs(p)).toBeGreaterThan(0.05);
    }
    const theta = flat(net);
    const P = theta.length;
    const loss = (v: Float64Array) => reluSquareLoss(unflat(v, 3, 2), data);
    const h = 1e-4;
    const H = new Float64Array(P * P);
    for (let p = 0; p < P; p++) {
      for (let q = 0; q < P; q++) {
        const at = (sp: number, sq: number) => {
          const v = Float64Array.from(theta);
          v[p] += sp * h;
          v[q] += sq * h;
          return loss(v);
        };
        H[p * P + q] = (at(1, 1) - at(1, -1) - at(-1, 1) + at(-1, -1)) / (4 * h * h);
      }
    }
    const J = reluJacobian(net, data);
    for (let p = 0; p < P; p++) {
      for (let q = 0; q < P; q++) {
        let g = 0;
        for (let i = 0; i < 4; i++) g += (J[i * P + p]! * J[i * P + q]!) / 4;
        expect(H[p * P + q]).toBeCloseTo(g, 6);
      }
    }
    // Away from interpolation the Hessian differs from G (the residual term r·∇²f is not zero).
    const { data: other } = tiny(reluInit(2, 3, 1, 10));
    const lossOther = (v: Float64Array) => reluSquareLoss(unflat(v, 3, 2), other);
    const mixed = (p: number, q: number) => {
      const at = (sp: number, sq: number) => {
        const v = Float64Array.from(theta);
        v[p] += sp * h;
        v[q] += sq * h;
        return lossOther(v);
      };
      return (at(1, 1) - at(1, -1) - at(-1, 1) + at(-1, -1)) / (4 * h * h);
    };
    const Jo = reluJacobian(net, other);
    // ∂²f/∂a_j∂w_jq ≠ 0 for an active unit: pick unit 0's a and its first weight.
    let g = 0;
    for (let i = 0; i < 4; i++) g += (Jo[i * P + 6]! * Jo[i * P + 0]!) / 4;
    expect(Math.abs(mixed(6, 0) - g)).toBeGreaterThan(1e-3);
  });

  it('a full-batch step is θ − η·Jᵀr/n; training does not modify the start', () => {
    const { net: start } = tiny();
    const { data } = tiny(reluInit(2, 3, 1, 10));
    const before = flat(start);
    const eta = 0.1;
    const stepped = trainRelu(start, data, { eta, batch: 4, steps: 1, seed: 1 });
    expect(Array.from(flat(start))).toEqual(Array.from(before));
    const J = reluJacobian(start, data);
    const P = before.length;
    const expected = Float64Array.from(before);
    for (let i = 0; i < 4; i++) {
      const r = reluOutput(start, data.x, i) - data.y[i]!;
      for (let p = 0; p < P; p++) expected[p] -= (eta * r * J[i * P + p]!) / 4;
    }
    flat(stepped.net).forEach((v, p) => expect(v).toBeCloseTo(expected[p]!, 14));
    expect(stepped.initialLoss).toBe(reluSquareLoss(start, data));
  });

  it('marks a blown-up run as diverged (even when NaN weights make the output 0)', () => {
    const { net } = tiny();
    const { data } = tiny(reluInit(2, 3, 1, 10));
    const r = trainRelu(net, data, { eta: 1e3, batch: 1, steps: 200, seed: 1 });
    expect(r.diverged).toBe(true);
    expect(Number.isNaN(r.finalLoss)).toBe(true);
  });

  it('the path norm is invariant under the ReLU rescaling (a_j·c, w_j/c), and so is f', () => {
    const { net, data } = tiny();
    const c = [2, 0.5, 3];
    const scaled: ReluNet = { ...net, W: net.W.map((v, t) => v / c[Math.floor(t / 2)]!), a: net.a.map((v, j) => v * c[j]!) };
    expect(pathNorm(scaled)).toBeCloseTo(pathNorm(net), 12);
    for (let i = 0; i < 4; i++) expect(reluOutput(scaled, data.x, i)).toBeCloseTo(reluOutput(net, data.x, i), 12);
    const manual = [0, 1, 2].reduce((s, j) => s + Math.abs(net.a[j]!) * Math.hypot(net.W[2 * j]!, net.W[2 * j + 1]!), 0);
    expect(pathNorm(net)).toBeCloseTo(manual, 14);
    // Tr G is not rescaling-invariant: the Gram numbers are those of the explicit J.
    const g = reluGram(scaled, data);
    const direct = gramSpectrumOf(tensor(reluJacobian(scaled, data), { shape: [4, 9], dtype: 'float64' }));
    expect(g.traceG).toBeCloseTo(direct.traceG, 12);
  });

  it('GD, batch-1 SGD and the larger batch of one seed start from the same init and loss', () => {
    const cfg = reluStabilityConfig('smoke');
    const eta = cfg.etas[0]!;
    const outs = (['GD', 'SGD', 'SGD-large-batch'] as const).map((method) => reluRun({ size: 'smoke', seed: 3, eta, method }));
    expect(outs.map((o) => o.batch)).toEqual([cfg.nTrain, 1, cfg.largeBatch]);
    for (const o of outs) {
      expect(o.initialLoss).toBe(outs[0]!.initialLoss);
      expect(o.initChecksum).toBe(outs[0]!.initChecksum);
      expect(o.diverged).toBe(false);
      expect(o.metrics.trainLoss).toBeLessThan(o.initialLoss);
      expect(o.metrics.twoOverEta).toBe(2 / eta);
    }
    const other = reluRun({ size: 'smoke', seed: 4, eta, method: 'GD' });
    expect(other.initChecksum).not.toBe(outs[0]!.initChecksum);
  });
});

describe('the ReLU clause of the stability rule', () => {
  const size = 'smoke' as const;
  const seeds = [1, 2];
  const cfg = reluStabilityConfig(size);
  const inputs = reluInputs(size, seeds);
  /** Synthetic outputs: SGD at Tr G = sgdRatio·2/η with path norm falling in η; GD at λ_max = 0.5·2/η, Tr G = gdRatio·2/η. */
  function fake(options: { sgdRatio: number; gdRatio: number; sgdDivergesAbove?: number; pathSlope?: number; loss?: number }): ReluRunOutput[] {
    return inputs.map((input) => {
      const two = 2 / input.eta;
      const diverged = input.method === 'SGD' && input.eta > (options.sgdDivergesAbove ?? Infinity);
      const ratio = input.method === 'GD' ? options.gdRatio : options.sgdRatio;
      const nan = NaN;
      return {
        batch: input.method === 'GD' ? cfg.nTrain : input.method === 'SGD' ? 1 : cfg.largeBatch,
        diverged,
        initialLoss: 1,
        initChecksum: input.seed,
        metrics: diverged
          ? { trainLoss: nan, testError: nan, traceG: nan, frobeniusG: nan, lambdaMaxG: nan, pathNorm: nan, twoOverEta: two, twoBOverEta: two }
          : { trainLoss: options.loss ?? 1e-8, testError: 0.1, traceG: ratio * two, frobeniusG: 0.4 * ratio * two, lambdaMaxG: 0.3 * ratio * two, pathNorm: 5 + (options.pathSlope ?? -1) * input.eta, twoOverEta: two, twoBOverEta: two },
      };
    });
  }

  it('passes when SGD respects Tr G ≤ 2/η, GD only λ_max, and the SGD path norm falls', () => {
    const s = summarizeRelu(size, seeds, inputs, fake({ sgdRatio: 0.7, gdRatio: 1.5, sgdDivergesAbove: 0.08 }));
    expect(s.inconclusive).toBe(false);
    expect(s.pass).toBe(true);
    expect(s.runs.length).toBe(inputs.length);
    expect(s.runs.filter((r) => r.diverged).every((r) => Number.isNaN(r.metrics.traceG))).toBe(true);
    expect(s.checks.reluPairedStartsIdentical).toBe(true);
    const sharp = s.plots.find((p) => p.id === 'relu-sharpness-vs-eta')!;
    expect(sharp.series.map((x) => x.label)).toContain('2/η');
    expect(sharp.series.some((x) => x.label.startsWith('2B/η'))).toBe(true);
  });

  it('fails when an SGD minimum has Tr G above (2/η)(1 + slack), when GD never exceeds 2/η in trace, or when the path norm grows', () => {
    expect(summarizeRelu(size, seeds, inputs, fake({ sgdRatio: 1.2, gdRatio: 1.5 })).pass).toBe(false);
    expect(summarizeRelu(size, seeds, inputs, fake({ sgdRatio: 0.7, gdRatio: 0.9 })).pass).toBe(false);
    expect(summarizeRelu(size, seeds, inputs, fake({ sgdRatio: 0.7, gdRatio: 1.5, pathSlope: 1 })).pass).toBe(false);
    // GD with λ_max above 2/η(1 + slack): λ_max = 0.3·Tr G, so Tr G = 4·2/η puts it at 1.2·2/η.
    expect(summarizeRelu(size, seeds, inputs, fake({ sgdRatio: 0.7, gdRatio: 4 })).pass).toBe(false);
  });

  it('is inconclusive when runs do not fit the data or SGD converges at fewer than two η', () => {
    expect(summarizeRelu(size, seeds, inputs, fake({ sgdRatio: 0.7, gdRatio: 1.5, loss: 1e-3 })).inconclusive).toBe(true);
    expect(summarizeRelu(size, seeds, inputs, fake({ sgdRatio: 0.7, gdRatio: 1.5, sgdDivergesAbove: cfg.etas[0]! })).inconclusive).toBe(true);
  });

  it('flags unpaired starts', () => {
    const outs = fake({ sgdRatio: 0.7, gdRatio: 1.5 });
    outs[1] = { ...outs[1]!, initialLoss: 2 };
    expect(summarizeRelu(size, seeds, inputs, outs).checks.reluPairedStartsIdentical).toBe(false);
  });
});
