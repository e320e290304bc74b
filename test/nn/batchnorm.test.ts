/**
 * BatchNorm against a hand-written reference with PyTorch's semantics: the BIASED batch
 * variance normalizes, the UNBIASED one enters running_var, running ← (1 − m)·running + m·batch
 * with m = 0.1 and ε = 1e-5 by default; eval mode uses the running statistics. Then the
 * explicit state of docs/design.md §8: saveStats/restoreStats bit for bit, withFrozenStats, and
 * clear, all-or-nothing errors from restoreStats.
 */
import { describe, expect, it } from 'vitest';
import { ShapeError, ValueError, tensor, type Tensor } from '../../src/index.js';
import { BatchNorm1d, BatchNorm2d, Linear, Sequential, type Module, type SavedStats } from '../../src/nn/index.js';
import { mulberry32 } from '../arbitraries.js';
import { expectAllClose, randomTensor } from '../gradcheck.js';

const values = (t: Tensor) => Array.from(t.toTypedArray());

/** Per-channel values of x [N, C, …] (channel axis 1), row-major. */
function channelValues(x: number[], shape: number[], c: number): number[] {
  const [N, C] = shape as [number, number];
  const inner = shape.slice(2).reduce((a, b) => a * b, 1);
  const out: number[] = [];
  for (let n = 0; n < N; n++) for (let i = 0; i < inner; i++) out.push(x[(n * C + c) * inner + i]!);
  return out;
}

interface Reference {
  y: number[];
  mean: number[];
  biasedVar: number[];
  unbiasedVar: number[];
}

/** y = (x − μ)/√(σ² + ε)·γ + β with the batch's μ and biased σ² per channel. */
function refTrain(x: number[], shape: number[], gamma: number[], beta: number[], eps: number): Reference {
  const C = shape[1]!;
  const inner = shape.slice(2).reduce((a, b) => a * b, 1);
  const mean: number[] = [];
  const biasedVar: number[] = [];
  const unbiasedVar: number[] = [];
  for (let c = 0; c < C; c++) {
    const v = channelValues(x, shape, c);
    const mu = v.reduce((a, b) => a + b, 0) / v.length;
    const ss = v.reduce((a, b) => a + (b - mu) ** 2, 0);
    mean.push(mu);
    biasedVar.push(ss / v.length);
    unbiasedVar.push(ss / (v.length - 1));
  }
  const y = x.map((v, i) => {
    const c = Math.floor(i / inner) % C;
    return ((v - mean[c]!) / Math.sqrt(biasedVar[c]! + eps)) * gamma[c]! + beta[c]!;
  });
  return { y, mean, biasedVar, unbiasedVar };
}

function refEval(x: number[], shape: number[], rm: number[], rv: number[], gamma: number[], beta: number[], eps: number): number[] {
  const C = shape[1]!;
  const inner = shape.slice(2).reduce((a, b) => a * b, 1);
  return x.map((v, i) => {
    const c = Math.floor(i / inner) % C;
    return ((v - rm[c]!) / Math.sqrt(rv[c]! + eps)) * gamma[c]! + beta[c]!;
  });
}

function buffer(m: Module, name: string): number[] {
  return values(m.namedBuffers().find(([n]) => n === name)![1]);
}

const statBytes = (s: SavedStats) => new Map([...s].map(([k, v]) => [k, Array.from(new Uint8Array(v.buffer, v.byteOffset, v.byteLength))]));

describe('BatchNorm: PyTorch semantics against a hand-computed reference', () => {
  const rng = mulberry32(3);

  it('starts at γ = 1, β = 0, running_mean = 0, running_var = 1, with PyTorch names', () => {
    const bn = new BatchNorm2d(3, { dtype: 'float64' });
    expect(bn.namedParameters().map(([n]) => n)).toEqual(['weight', 'bias']);
    expect(bn.namedBuffers().map(([n]) => n)).toEqual(['running_mean', 'running_var']);
    expect(values(bn.parameters()[0]!)).toEqual([1, 1, 1]);
    expect(values(bn.parameters()[1]!)).toEqual([0, 0, 0]);
    expect(buffer(bn, 'running_mean')).toEqual([0, 0, 0]);
    expect(buffer(bn, 'running_var')).toEqual([1, 1, 1]);
    expect(bn.momentum).toBe(0.1);
    expect(bn.eps).toBe(1e-5);
    expect(new BatchNorm1d(2).parameters()[0]!.dtype).toBe('float32');
    expect(new BatchNorm1d(2).buffers()[0]!.dtype).toBe('float32');
  });

  for (const [name, make, shape] of [
    ['BatchNorm1d on [N, C]', () => new BatchNorm1d(3, { dtype: 'float64' }), [5, 3]],
    ['BatchNorm1d on [N, C, L]', () => new BatchNorm1d(3, { dtype: 'float64' }), [2, 3, 4]],
    ['BatchNorm2d on [N, C, H, W]', () => new BatchNorm2d(3, { dtype: 'float64' }), [2, 3, 3, 2]],
  ] as const) {
    it(`${name}: train output, two running-stat updates, then eval`, () => {
      const bn = make();
      const gamma = [1.5, -0.5, 2];
      const beta = [0.1, 0.2, -0.3];
      bn.assignParameters([tensor(gamma, { dtype: 'float64' }), tensor(beta, { dtype: 'float64' })]);
      let rm = [0, 0, 0];
      let rv = [1, 1, 1];
      for (let step = 0; step < 2; step++) {
        // Non-zero means and unequal scales per channel, so every term matters.
        const x = randomTensor(shape, rng).mul(3).add(step + 1);
        const ref = refTrain(values(x), [...shape], gamma, beta, 1e-5);
        expectAllClose(bn.forward(x), ref.y, { rtol: 1e-10, atol: 1e-12, shape });
        rm = rm.map((r, c) => 0.9 * r + 0.1 * ref.mean[c]!);
        rv = rv.map((r, c) => 0.9 * r + 0.1 * ref.unbiasedVar[c]!);
        expectAllClose(buffer(bn, 'running_mean'), rm, { rtol: 1e-12, atol: 1e-14, what: 'running_mean' });
        expectAllClose(buffer(bn, 'running_var'), rv, { rtol: 1e-12, atol: 1e-14, what: 'running_var (unbiased)' });
      }
      bn.eval();
      const x = randomTensor(shape, rng);
      const before = bn.saveStats();
      expectAllClose(bn.forward(x), refEval(values(x), [...shape], rm, rv, gamma, beta, 1e-5), { rtol: 1e-12, atol: 1e-13, shape });
      expect(statBytes(bn.saveStats())).toEqual(statBytes(before));
    });
  }

  it('the biased variance normalizes: train output has per-channel mean 0 and variance 1 (ε = 0-ish)', () => {
    const bn = new BatchNorm1d(2, { dtype: 'float64', eps: 1e-12 });
    const y = values(bn.forward(randomTensor([4, 2], rng).mul(5)));
    for (const c of [0, 1]) {
      const v = channelValues(y, [4, 2], c);
      const mean = v.reduce((a, b) => a + b, 0) / 4;
      expect(Math.abs(mean)).toBeLessThan(1e-12);
      expect(v.reduce((a, b) => a + b * b, 0) / 4).toBeCloseTo(1, 9);
    }
  });

  it('custom momentum and eps, affine off (no parameters; still two buffers)', () => {
    const bn = new BatchNorm2d(2, { dtype: 'float64', momentum: 0.3, eps: 1e-2, affine: false });
    expect(bn.namedParameters()).toEqual([]);
    expect(bn.namedBuffers().map(([n]) => n)).toEqual(['running_mean', 'running_var']);
    const x = randomTensor([3, 2, 2, 2], rng).mul(2).sub(1);
    const ref = refTrain(values(x), [3, 2, 2, 2], [1, 1], [0, 0], 1e-2);
    expectAllClose(bn.forward(x), ref.y, { rtol: 1e-10, atol: 1e-12, shape: [3, 2, 2, 2] });
    expectAllClose(buffer(bn, 'running_mean'), ref.mean.map((m) => 0.3 * m), { rtol: 1e-12, atol: 1e-14 });
    expectAllClose(buffer(bn, 'running_var'), ref.unbiasedVar.map((v) => 0.7 + 0.3 * v), { rtol: 1e-12, atol: 1e-14 });
  });

  it('eval mode treats samples independently (a sample alone = the same sample in a batch)', () => {
    const bn = new BatchNorm1d(3, { dtype: 'float64' });
    bn.forward(randomTensor([6, 3], rng).mul(2));
    bn.eval();
    const x = randomTensor([4, 3], rng);
    const batch = values(bn.forward(x));
    const alone = values(bn.forward(x.slice([[2, 3]])));
    expect(alone).toEqual(batch.slice(6, 9));
  });
});

describe('BatchNorm state as a value (saveStats / restoreStats / withFrozenStats)', () => {
  const rng = mulberry32(9);
  const model = () =>
    new Sequential(new Linear(3, 4, { seed: 1, dtype: 'float64' }), new BatchNorm1d(4, { dtype: 'float64' }), new Linear(4, 2, { seed: 2, dtype: 'float64' }), new BatchNorm1d(2, { dtype: 'float64' }));

  it('restoreStats puts back bit-identical buffers after train-mode passes', () => {
    const m = model();
    m.forward(randomTensor([5, 3], rng));
    const saved = m.saveStats();
    const savedBytes = statBytes(saved);
    expect([...saved.keys()]).toEqual(['1.running_mean', '1.running_var', '3.running_mean', '3.running_var']);
    for (let i = 0; i < 3; i++) m.forward(randomTensor([5, 3], rng));
    expect(statBytes(m.saveStats())).not.toEqual(savedBytes);
    // The saved value is a copy: the passes did not touch it.
    expect(statBytes(saved)).toEqual(savedBytes);
    m.restoreStats(saved);
    expect(statBytes(m.saveStats())).toEqual(savedBytes);
    // … and restoring copies too: further passes leave `saved` intact.
    m.forward(randomTensor([5, 3], rng));
    expect(statBytes(saved)).toEqual(savedBytes);
  });

  it('keeps −0 and NaN payloads bit for bit (float32 and float64)', () => {
    const f32 = new BatchNorm1d(2);
    const bits32 = new Uint32Array([0x80000000, 0x7f800001]);
    f32.restoreStats(new Map([['running_mean', new Float32Array(bits32.buffer)], ['running_var', Float32Array.of(0.5, 2)]]));
    expect(Array.from(new Uint32Array(f32.saveStats().get('running_mean')!.buffer))).toEqual(Array.from(bits32));
    const f64 = new BatchNorm1d(2, { dtype: 'float64' });
    const bits64 = new BigUint64Array([0x8000000000000000n, 0x7ff0000000000abcn]);
    f64.restoreStats(new Map([['running_mean', Float64Array.of(1, 2)], ['running_var', new Float64Array(bits64.buffer)]]));
    expect(Array.from(new BigUint64Array(f64.saveStats().get('running_var')!.buffer))).toEqual(Array.from(bits64));
  });

  it('withFrozenStats returns fn’s value and restores the statistics', () => {
    const m = model();
    m.forward(randomTensor([5, 3], rng));
    const before = statBytes(m.saveStats());
    const out = m.withFrozenStats(() => {
      m.forward(randomTensor([5, 3], rng));
      m.forward(randomTensor([5, 3], rng));
      expect(statBytes(m.saveStats())).not.toEqual(before);
      return 42;
    });
    expect(out).toBe(42);
    expect(statBytes(m.saveStats())).toEqual(before);
  });

  it('withFrozenStats restores even when fn throws, and rethrows', () => {
    const m = model();
    const before = statBytes(m.saveStats());
    expect(() =>
      m.withFrozenStats(() => {
        m.forward(randomTensor([5, 3], rng));
        throw new Error('snapshot pass failed');
      }),
    ).toThrow('snapshot pass failed');
    expect(statBytes(m.saveStats())).toEqual(before);
  });

  it('restoreStats rejects wrong names, sizes and dtypes clearly, and changes nothing', () => {
    const m = model();
    m.forward(randomTensor([5, 3], rng));
    const good = m.saveStats();
    const before = statBytes(good);

    const missing = new Map(good);
    missing.delete('3.running_var');
    expect(() => m.restoreStats(missing)).toThrow(ValueError);
    expect(() => m.restoreStats(missing)).toThrow(/restoreStats: .*missing: '3\.running_var'/);

    const renamed = new Map(good);
    renamed.set('3.running_varx', renamed.get('3.running_var')!);
    renamed.delete('3.running_var');
    expect(() => m.restoreStats(renamed)).toThrow(/missing: '3\.running_var'; not in the model: '3\.running_varx'/);

    const extra = new Map(good);
    extra.set('9.running_mean', new Float64Array(2));
    expect(() => m.restoreStats(extra)).toThrow(/not in the model: '9\.running_mean'/);

    // A valid first entry followed by a bad one: nothing may be applied.
    const wrongSize = new Map([...good].map(([k, v]) => [k, k === '3.running_var' ? new Float64Array(3) : new Float64Array(v.length).fill(7)]));
    expect(() => m.restoreStats(wrongSize)).toThrow(ShapeError);
    expect(() => m.restoreStats(wrongSize)).toThrow(/restoreStats: buffer '3\.running_var' is \[2\] float64; the saved value has 3 float64 values/);
    expect(statBytes(m.saveStats())).toEqual(before);

    const wrongDtype = new Map(good);
    wrongDtype.set('1.running_mean', new Float32Array(4));
    expect(() => m.restoreStats(wrongDtype)).toThrow(/buffer '1\.running_mean' is \[4\] float64; the saved value has 4 float32 values/);
    expect(statBytes(m.saveStats())).toEqual(before);
  });
});
