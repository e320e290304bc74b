/**
 * Seeded initialisation: reproducible from the seed alone, PyTorch's default U(±1/√fan_in)
 * for weights and biases, Kaiming normal N(0, 2/fan_in) and Xavier uniform
 * U(±√(6/(fan_in + fan_out))) with roughly the right spread, and the fans of conv weights
 * [out, in/groups, kh, kw].
 */
import { describe, expect, it } from 'vitest';
import type { Tensor } from '../../src/index.js';
import { Conv2d, Linear, fans, initBias, initWeight, layerKeys, type Module } from '../../src/nn/index.js';

const values = (t: Tensor) => Array.from(t.toTypedArray());
const weightOf = (m: Module) => values(m.namedParameters().find(([n]) => n === 'weight')![1]);
const biasOf = (m: Module) => values(m.namedParameters().find(([n]) => n === 'bias')![1]);

function moments(v: number[]): { mean: number; std: number; maxAbs: number } {
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const variance = v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length;
  return { mean, std: Math.sqrt(variance), maxAbs: Math.max(...v.map(Math.abs)) };
}

describe('init: reproducible from the seed', () => {
  it('the same seed gives identical parameters; other seeds differ', () => {
    for (const scheme of ['pytorch', 'kaiming', 'xavier'] as const) {
      const a = new Linear(6, 5, { seed: 42, scheme, dtype: 'float64' });
      const b = new Linear(6, 5, { seed: 42, scheme, dtype: 'float64' });
      const c = new Linear(6, 5, { seed: 43, scheme, dtype: 'float64' });
      expect(weightOf(a), scheme).toEqual(weightOf(b));
      expect(biasOf(a), scheme).toEqual(biasOf(b));
      expect(weightOf(a), scheme).not.toEqual(weightOf(c));
    }
    const convA = new Conv2d(2, 3, 3, { seed: 7 });
    expect(weightOf(convA)).toEqual(weightOf(new Conv2d(2, 3, 3, { seed: 7 })));
    expect(weightOf(convA)).not.toEqual(weightOf(new Conv2d(2, 3, 3, { seed: 8 })));
  });

  it('weight and bias use independent keys (the bias is not the start of the weight stream)', () => {
    const lin = new Linear(3, 3, { seed: 5, dtype: 'float64' });
    expect(biasOf(lin)).not.toEqual(weightOf(lin).slice(0, 3));
    const keys = layerKeys(5);
    expect(keys.weight).not.toEqual(keys.bias);
    expect(layerKeys(5)).toEqual(keys);
  });

  it('a missing or invalid seed is a clear error', () => {
    expect(() => new Linear(3, 3, {} as { seed: number })).toThrow(/^Linear: a layer with weights needs \{ seed \}, an integer in \[0, 2\^53\).*got undefined/);
    expect(() => new Conv2d(1, 1, 3, { seed: -1 })).toThrow(/needs \{ seed \}.*got -1/);
    expect(() => new Linear(3, 3, { seed: 0.5 })).toThrow(/got 0\.5/);
  });
});

describe('init: fans', () => {
  it('fan_in = in·Πk and fan_out = out·Πk', () => {
    expect(fans([5, 3])).toEqual({ fanIn: 3, fanOut: 5 });
    expect(fans([6, 2, 3, 3])).toEqual({ fanIn: 18, fanOut: 54 });
    expect(fans([8, 4, 2, 5])).toEqual({ fanIn: 40, fanOut: 80 });
    expect(() => fans([4])).toThrow(/init: fan-in needs a weight of rank ≥ 2; got shape \[4\]/);
  });

  it('a grouped conv weight [out, in/groups, kh, kw] has fan_in (in/groups)·kh·kw', () => {
    const conv = new Conv2d(8, 6, [3, 2], { seed: 1, groups: 2, dtype: 'float64' });
    const bound = 1 / Math.sqrt((8 / 2) * 3 * 2);
    const w = moments(weightOf(conv));
    expect(w.maxAbs).toBeLessThanOrEqual(bound);
    // 144 uniform draws: the largest |w| is within a few percent of the bound.
    expect(w.maxAbs).toBeGreaterThan(0.9 * bound);
    expect(moments(biasOf(conv)).maxAbs).toBeLessThanOrEqual(bound);
  });
});

describe('init: distributions', () => {
  it('PyTorch default: weight and bias uniform on ±1/√fan_in (float64 and float32)', () => {
    for (const dtype of ['float64', 'float32'] as const) {
      const lin = new Linear(64, 300, { seed: 3, dtype });
      const bound = 1 / Math.sqrt(64);
      // float32 storage may round a value onto fround(bound).
      const limit = dtype === 'float32' ? Math.fround(bound) : bound;
      const w = moments(weightOf(lin));
      const b = moments(biasOf(lin));
      expect(w.maxAbs).toBeLessThanOrEqual(limit);
      expect(b.maxAbs).toBeLessThanOrEqual(limit);
      expect(w.maxAbs).toBeGreaterThan(0.99 * bound);
      // U(−a, a): mean 0, std a/√3. 19 200 draws: std error of the std ≈ 0.4 %.
      expect(Math.abs(w.mean)).toBeLessThan(0.02 * bound);
      expect(w.std / (bound / Math.sqrt(3))).toBeGreaterThan(0.97);
      expect(w.std / (bound / Math.sqrt(3))).toBeLessThan(1.03);
      expect(b.maxAbs).toBeGreaterThan(0.9 * bound);
    }
  });

  it('Kaiming normal: std √(2/fan_in), mean 0, ≈68 % within one std; zero bias', () => {
    const lin = new Linear(200, 300, { seed: 4, scheme: 'kaiming', dtype: 'float64' });
    const std = Math.sqrt(2 / 200);
    const v = weightOf(lin);
    const w = moments(v);
    expect(Math.abs(w.mean)).toBeLessThan(0.02 * std);
    expect(w.std / std).toBeGreaterThan(0.98);
    expect(w.std / std).toBeLessThan(1.02);
    const within = v.filter((x) => Math.abs(x) < std).length / v.length;
    expect(within).toBeGreaterThan(0.67);
    expect(within).toBeLessThan(0.695);
    // A normal, not a uniform: values beyond 3σ exist (≈0.27 % of 60 000).
    expect(v.filter((x) => Math.abs(x) > 3 * std).length).toBeGreaterThan(50);
    expect(biasOf(lin).every((x) => x === 0)).toBe(true);
  });

  it('Kaiming on a conv weight uses fan_in = in·kh·kw', () => {
    const conv = new Conv2d(16, 64, 3, { seed: 5, scheme: 'kaiming', dtype: 'float64' });
    const std = Math.sqrt(2 / (16 * 9));
    const w = moments(weightOf(conv));
    expect(w.std / std).toBeGreaterThan(0.97);
    expect(w.std / std).toBeLessThan(1.03);
  });

  it('Xavier uniform: bound √(6/(fan_in + fan_out)), std bound/√3; zero bias', () => {
    const conv = new Conv2d(10, 20, 3, { seed: 6, scheme: 'xavier', dtype: 'float64' });
    const bound = Math.sqrt(6 / (10 * 9 + 20 * 9));
    const w = moments(weightOf(conv));
    expect(w.maxAbs).toBeLessThanOrEqual(bound);
    expect(w.maxAbs).toBeGreaterThan(0.99 * bound);
    expect(w.std / (bound / Math.sqrt(3))).toBeGreaterThan(0.97);
    expect(w.std / (bound / Math.sqrt(3))).toBeLessThan(1.03);
    expect(biasOf(conv).every((x) => x === 0)).toBe(true);
  });

  it('initWeight / initBias directly', () => {
    const keys = layerKeys(9);
    const w = initWeight([3, 4], 'pytorch', keys.weight, 'float64');
    expect(w.shape).toEqual([3, 4]);
    expect(w.dtype).toBe('float64');
    const b = initBias(3, [3, 4], 'pytorch', keys.bias, 'float32');
    expect(b.shape).toEqual([3]);
    expect(b.dtype).toBe('float32');
    expect(values(b).every((x) => Math.abs(x) <= Math.fround(0.5))).toBe(true);
    expect(values(initBias(3, [3, 4], 'xavier', keys.bias, 'float64'))).toEqual([0, 0, 0]);
    expect(() => initWeight([4], 'kaiming', keys.weight, 'float64')).toThrow(/rank ≥ 2/);
  });
});
