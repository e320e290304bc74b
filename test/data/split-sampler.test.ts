import { describe, expect, it } from 'vitest';
import { augmentSample, compose, horizontalFlip, randomCrop, randomShift, sampleKey, translate } from '../../src/data/augment.js';
import type { Dataset, Sample } from '../../src/data/dataset.js';
import { BatchPlan, epochIndices, epochPermutation, makeBatch } from '../../src/data/sampler.js';
import { normalizationStats, normalize, split, subset } from '../../src/data/split.js';
import { Tensor } from '../../src/tensor/tensor.js';

/** A toy image dataset [1, 4, 4] whose ids are 1000 + index (so ids ≠ positions). */
function toy(n: number): Dataset {
  return {
    name: 'toy',
    length: n,
    sampleShape: [1, 4, 4],
    classes: 3,
    get(i: number): Sample {
      return { x: Float32Array.from({ length: 16 }, (_, k) => (i * 16 + k) / (16 * n)), y: i % 3, id: 1000 + i };
    },
  };
}

const sorted = (a: ArrayLike<number>): number[] => Array.from(a).sort((p, q) => p - q);
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

describe('split', () => {
  const ds = toy(101);
  const fractions = { train: 0.7, validation: 0.1, test: 0.2 };

  it('is disjoint, complete, with the requested sizes, and keeps stable ids', () => {
    const s = split(ds, { seed: 3, fractions });
    expect([s.train.length, s.validation.length, s.test.length]).toEqual([71, 10, 20]);
    expect(sorted([...s.train.indices, ...s.validation.indices, ...s.test.indices])).toEqual(range(101));
    for (let i = 0; i < s.test.length; i++) expect(s.test.get(i).id).toBe(1000 + s.test.indices[i]!);
    expect(s.train.sampleShape).toEqual([1, 4, 4]);
    expect(s.train.classes).toBe(3);
  });

  it('is a function of the seed', () => {
    const a = split(ds, { seed: 3, fractions });
    const b = split(ds, { seed: 3, fractions });
    const c = split(ds, { seed: 4, fractions });
    expect(Array.from(a.test.indices)).toEqual(Array.from(b.test.indices));
    expect(Array.from(a.test.indices)).not.toEqual(Array.from(c.test.indices));
  });

  it('keeps groups together', () => {
    const groups = range(101).map((i) => Math.floor(i / 4));
    const s = split(ds, { seed: 1, fractions: { train: 0.5, test: 0.5 }, groups });
    const trainGroups = new Set(Array.from(s.train.indices, (i) => groups[i]));
    for (const i of s.test.indices) expect(trainGroups.has(groups[i]!)).toBe(false);
    expect(s.train.length + s.test.length).toBe(101);
  });

  it('rejects fractions that do not sum to 1', () => {
    expect(() => split(ds, { seed: 0, fractions: { train: 0.5, test: 0.4 } })).toThrow(/sum to 1/);
  });

  it('normalization statistics of the train split make it zero-mean, unit-std', () => {
    const s = split(ds, { seed: 3, fractions });
    const stats = normalizationStats(s.train);
    const norm = normalizationStats(normalize(s.train, stats));
    expect(norm.mean[0]).toBeCloseTo(0, 5);
    expect(norm.std[0]).toBeCloseTo(1, 5);
    // Applied to the test split with the train statistics (not its own).
    const t = normalize(s.test, stats).get(0);
    const raw = s.test.get(0);
    expect(t.x[5]).toBeCloseTo((raw.x[5]! - stats.mean[0]!) / stats.std[0]!, 5);
    expect(t.id).toBe(raw.id);
  });
});

describe('samplers', () => {
  it('epoch permutations are complete, seeded, and differ across epochs', () => {
    const p = epochPermutation(50, 7, 0);
    expect(sorted(p)).toEqual(range(50));
    expect(Array.from(epochPermutation(50, 7, 0))).toEqual(Array.from(p));
    expect(Array.from(epochPermutation(50, 7, 1))).not.toEqual(Array.from(p));
    expect(Array.from(epochPermutation(50, 8, 0))).not.toEqual(Array.from(p));
  });

  it('with replacement: n draws in range, seeded, with repeats', () => {
    const a = epochIndices(200, { seed: 1, epoch: 2, replacement: true });
    expect(a.length).toBe(200);
    expect(a.every((i) => i >= 0 && i < 200)).toBe(true);
    expect(Array.from(epochIndices(200, { seed: 1, epoch: 2, replacement: true }))).toEqual(Array.from(a));
    expect(new Set(a).size).toBeLessThan(200);
    expect(new Set(a).size).toBeGreaterThan(100); // ≈ (1 − 1/e)·200 ≈ 126
  });

  it('a batch plan covers each epoch once and names the same batches every time', () => {
    const plan = new BatchPlan(23, { seed: 5, batchSize: 5 });
    expect(plan.batchesPerEpoch).toBe(5);
    const all = plan.epoch(0).flatMap((b) => Array.from(b));
    expect(sorted(all)).toEqual(range(23));
    expect(plan.epoch(0).map((b) => b.length)).toEqual([5, 5, 5, 5, 3]);
    const again = new BatchPlan(23, { seed: 5, batchSize: 5 });
    for (let b = 0; b < 5; b++) expect(Array.from(again.batch(0, b))).toEqual(Array.from(plan.batch(0, b)));
    expect(Array.from(again.batch(1, 0))).not.toEqual(Array.from(plan.batch(0, 0)));
    expect(new BatchPlan(23, { seed: 5, batchSize: 5, dropLast: true }).batchesPerEpoch).toBe(4);
    expect(() => plan.batch(0, 5)).toThrow();
  });

  it('makeBatch stacks samples with int32 targets and stable ids', () => {
    const ds = toy(10);
    const b = makeBatch(ds, [4, 1, 7], { seed: 9 });
    expect(b.x.shape).toEqual([3, 1, 4, 4]);
    expect(b.targets).toBeInstanceOf(Int32Array);
    expect(Array.from(b.targets as Int32Array)).toEqual([1, 1, 1]);
    expect(Array.from(b.sampleIds!)).toEqual([1004, 1001, 1007]);
    expect(b.seed).toBe(9);
    const x = b.x.data;
    expect(x[16]).toBeCloseTo(ds.get(1).x[0]!, 6);
  });

  it('regression datasets get float targets', () => {
    const ds: Dataset = { ...toy(4), classes: 0, get: (i) => ({ x: new Float64Array(16), y: i + 0.5, id: i }) };
    const b = makeBatch(ds, [0, 3]);
    expect(b.targets).toBeInstanceOf(Tensor);
    expect(Array.from((b.targets as Tensor).data)).toEqual([0.5, 3.5]);
  });
});

describe('augmentations', () => {
  const ds = toy(12);
  const aug = compose(randomCrop({ padding: 1 }), horizontalFlip());

  it('depend only on (seed, id): same transform in any batch and order', () => {
    const a = makeBatch(ds, [0, 1, 2, 3, 4, 5], { augment: aug, augmentSeed: 11 });
    const b = makeBatch(ds, [5, 3, 1, 11, 0], { augment: aug, augmentSeed: 11 });
    const row = (batch: ReturnType<typeof makeBatch>, r: number): number[] => Array.from(batch.x.data.subarray(r * 16, (r + 1) * 16));
    expect(row(b, 0)).toEqual(row(a, 5));
    expect(row(b, 1)).toEqual(row(a, 3));
    expect(row(b, 4)).toEqual(row(a, 0));
    // Same as applying it to the sample directly with its key.
    const s = ds.get(3);
    expect(Array.from(augmentSample(aug, s.x, ds.sampleShape, 11, s.id))).toEqual(row(a, 3));
    // A different seed changes some transform.
    const c = makeBatch(ds, [0, 1, 2, 3, 4, 5], { augment: aug, augmentSeed: 12 });
    expect(Array.from(c.x.data)).not.toEqual(Array.from(a.x.data));
  });

  it('needs a seed', () => {
    expect(() => makeBatch(ds, [0], { augment: aug })).toThrow(/augmentSeed/);
  });

  it('crop = shift within the padding; flip mirrors columns; shifts stay in range', () => {
    const x = Float32Array.from(range(16), (v) => v + 1);
    const shape = [1, 4, 4];
    expect(Array.from(translate(x, shape, 0, 1))).toEqual([0, 1, 2, 3, 0, 5, 6, 7, 0, 9, 10, 11, 0, 13, 14, 15]);
    const flipAll = horizontalFlip({ p: 1 });
    expect(Array.from(flipAll(x, shape, sampleKey(0, 0))).slice(0, 4)).toEqual([4, 3, 2, 1]);
    expect(Array.from(horizontalFlip({ p: 0 })(x, shape, sampleKey(0, 0)))).toEqual(Array.from(x));
    const seen = new Set<string>();
    for (let id = 0; id < 200; id++) {
      const out = randomCrop({ padding: 1 })(x, shape, sampleKey(3, id));
      // Find the shift that reproduces it.
      let found = '';
      for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) {
        if (Array.from(translate(x, shape, dy, dx)).join() === Array.from(out).join()) found = `${dy},${dx}`;
      }
      expect(found).not.toBe('');
      seen.add(found);
      const sh = randomShift({ maxShift: 2 })(x, shape, sampleKey(3, id));
      expect(sh.length).toBe(16);
    }
    expect(seen.size).toBe(9);
  });

  it('works on subsets: ids, not positions, key the transform', () => {
    const sub = subset(ds, [7, 2]);
    const a = makeBatch(sub, [0], { augment: aug, augmentSeed: 4 });
    const b = makeBatch(ds, [7], { augment: aug, augmentSeed: 4 });
    expect(Array.from(a.x.data)).toEqual(Array.from(b.x.data));
    expect(Array.from(a.sampleIds!)).toEqual([1007]);
  });
});
