/**
 * Keyed dropout (docs/design.md §7), as fast-check properties: a sample's mask is a pure function
 * of (seed, layer id, sample id, element), so it does not depend on what else is in the batch
 * or in which order; other seeds / ids give other masks; kept elements are scaled by 1/(1 − p)
 * and kept with frequency 1 − p; eval mode is the identity; misuse throws clearly.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ValueError, ones } from '../../src/index.js';
import { Dropout, Sequential, mlp } from '../../src/nn/index.js';
import { foldIn, makeKey, randomBits, uniform53 } from '../../src/tensor/random.js';
import { mulberry32 } from '../arbitraries.js';
import { randomTensor } from '../gradcheck.js';

/** Per-sample shape [4, 8]: 32 elements, so two independent masks at p = 0.5 agree with probability 2^-32. */
const FEATURES = [4, 8];
const PER_SAMPLE = 32;

const seedArb = fc.integer({ min: 0, max: 2 ** 40 });
const idArb = fc.integer({ min: 0, max: 2 ** 31 });
const pArb = fc.constantFrom(0.1, 0.25, 0.5, 0.7);

/** The mask rows of a batch: forward a batch of ones. */
function masks(layer: Dropout, ids: readonly number[], seed: number, dtype: 'float32' | 'float64' = 'float64'): number[][] {
  const y = layer.forward(ones([ids.length, ...FEATURES], { dtype }), { seed, sampleIds: ids });
  const v = Array.from(y.toTypedArray());
  return ids.map((_, i) => v.slice(i * PER_SAMPLE, (i + 1) * PER_SAMPLE));
}

/** Element j of sample `id` is kept iff u(key(seed, layer, id), j) < 1 − p (the documented rule). */
function referenceMask(p: number, seed: number, layerId: number, id: number): number[] {
  const key = foldIn(foldIn(makeKey(seed), layerId), id);
  return Array.from({ length: PER_SAMPLE }, (_, j) => {
    const [w0, w1] = randomBits(key, j);
    return uniform53(w0, w1) < 1 - p ? 1 / (1 - p) : 0;
  });
}

describe('Dropout: keyed masks', () => {
  it('a sample keeps its mask whatever else is in its batch, and in any order', () => {
    fc.assert(
      fc.property(
        seedArb,
        pArb,
        fc.uniqueArray(idArb, { minLength: 2, maxLength: 6 }),
        fc.uniqueArray(idArb, { minLength: 0, maxLength: 4 }),
        fc.integer({ min: 0, max: 1000 }),
        (seed, p, ids, others, shuffleSeed) => {
          const layer = new Dropout(p, 3);
          const alone = ids.map((id) => masks(layer, [id], seed)[0]!);
          // Another batch: the same ids shuffled, mixed with other samples.
          const rng = mulberry32(shuffleSeed);
          const mixed = [...ids, ...others.filter((o) => !ids.includes(o))].sort(() => rng() - 0.5);
          const rows = masks(layer, mixed, seed);
          ids.forEach((id, k) => expect(rows[mixed.indexOf(id)]).toEqual(alone[k]));
        },
      ),
      { numRuns: 30 },
    );
  });

  it('follows the documented key derivation foldIn(foldIn(makeKey(seed), layerId), sampleId)', () => {
    fc.assert(
      fc.property(seedArb, pArb, fc.integer({ min: 0, max: 50 }), fc.uniqueArray(idArb, { minLength: 1, maxLength: 4 }), (seed, p, layerId, ids) => {
        const rows = masks(new Dropout(p, layerId), ids, seed);
        ids.forEach((id, i) => expect(rows[i]).toEqual(referenceMask(p, seed, layerId, id)));
      }),
      { numRuns: 25 },
    );
  });

  it('different seeds, sample ids or layer ids give different masks', () => {
    fc.assert(
      fc.property(seedArb, seedArb, idArb, idArb, fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 100 }), (s1, s2, i1, i2, l1, l2) => {
        fc.pre(s1 !== s2 && i1 !== i2 && l1 !== l2);
        const at = (seed: number, id: number, layerId: number) => masks(new Dropout(0.5, layerId), [id], seed)[0]!;
        const base = at(s1, i1, l1);
        expect(at(s2, i1, l1)).not.toEqual(base);
        expect(at(s1, i2, l1)).not.toEqual(base);
        expect(at(s1, i1, l2)).not.toEqual(base);
        expect(at(s1, i1, l1)).toEqual(base);
      }),
      { numRuns: 30 },
    );
  });

  it('the mask does not depend on the dtype or the input values', () => {
    fc.assert(
      fc.property(seedArb, pArb, fc.uniqueArray(idArb, { minLength: 1, maxLength: 3 }), (seed, p, ids) => {
        const layer = new Dropout(p);
        const m64 = masks(layer, ids, seed, 'float64');
        const m32 = masks(layer, ids, seed, 'float32');
        expect(m32.map((r) => r.map((v) => v !== 0))).toEqual(m64.map((r) => r.map((v) => v !== 0)));
      }),
      { numRuns: 15 },
    );
  });
});

describe('Dropout: values', () => {
  it('inverted scaling: each output is 0 or x/(1 − p); the gradient is the mask', () => {
    fc.assert(
      fc.property(seedArb, pArb, fc.integer({ min: 0, max: 1000 }), (seed, p, dataSeed) => {
        const x = randomTensor([3, ...FEATURES], mulberry32(dataSeed)).requireGrad();
        const ids = [5, 6, 7];
        const y = new Dropout(p).forward(x, { seed, sampleIds: ids });
        const xv = Array.from(x.toTypedArray());
        const yv = Array.from(y.toTypedArray());
        const expectedMask = ids.flatMap((id) => referenceMask(p, seed, 0, id));
        yv.forEach((v, i) => {
          if (expectedMask[i] === 0) expect(v === 0, `element ${i}`).toBe(true); // ±0: x·0 keeps the sign of x, as in PyTorch
          else expect(Math.abs(v - xv[i]! / (1 - p))).toBeLessThanOrEqual(1e-15 * Math.abs(v));
        });
        y.sum().backward();
        const g = Array.from(x.grad!.toTypedArray());
        g.forEach((v, i) => expect(Math.abs(v - expectedMask[i]!)).toBeLessThanOrEqual(1e-15 * expectedMask[i]!));
      }),
      { numRuns: 25 },
    );
  });

  it('keeps elements with frequency ≈ 1 − p', () => {
    fc.assert(
      fc.property(seedArb, fc.constantFrom(0.05, 0.3, 0.5, 0.9), (seed, p) => {
        const n = 500;
        const ids = Array.from({ length: n }, (_, i) => i);
        const kept = masks(new Dropout(p), ids, seed)
          .flat()
          .filter((v) => v !== 0).length;
        const total = n * PER_SAMPLE;
        // 5 standard deviations of a Binomial(total, 1 − p) frequency.
        const sigma = Math.sqrt((p * (1 - p)) / total);
        expect(Math.abs(kept / total - (1 - p))).toBeLessThan(5 * sigma);
      }),
      { numRuns: 8 },
    );
  });

  it('eval mode and p = 0 are the identity (no seed needed)', () => {
    fc.assert(
      fc.property(pArb, fc.integer({ min: 0, max: 1000 }), (p, dataSeed) => {
        const x = randomTensor([2, 5], mulberry32(dataSeed));
        const layer = new Dropout(p).eval();
        expect(Array.from(layer.forward(x).toTypedArray())).toEqual(Array.from(x.toTypedArray()));
        expect(Array.from(new Dropout(0).forward(x).toTypedArray())).toEqual(Array.from(x.toTypedArray()));
      }),
      { numRuns: 10 },
    );
  });
});

describe('Dropout: misuse', () => {
  const x = ones([2, 3], { dtype: 'float64' });

  it('train mode without seed or sample ids throws, naming the layer', () => {
    const layer = new Dropout(0.5, 2);
    const message = /Dropout\(p=0\.5, layer 2\): train mode needs \{ seed, sampleIds \} in the forward context/;
    expect(() => layer.forward(x)).toThrow(ValueError);
    expect(() => layer.forward(x)).toThrow(message);
    expect(() => layer.forward(x, { seed: 1 })).toThrow(message);
    expect(() => layer.forward(x, { sampleIds: [0, 1] })).toThrow(message);
    expect(() => layer.forward(x, { seed: 1, sampleIds: [0] })).toThrow(/Dropout\(p=0\.5, layer 2\): got 1 sample ids for a batch of 2/);
    expect(() => layer.forward(x, { seed: 1, sampleIds: [0, 1.5] })).toThrow(/sample ids must be integers in \[0, 2\^53\); got 1\.5 at position 1/);
    expect(() => layer.forward(x, { seed: 1, sampleIds: [-1, 0] })).toThrow(/got -1 at position 0/);
  });

  it('a model with dropout passes the context through Sequential, and needs it in train mode', () => {
    const model = mlp([3, 4, 4, 2], { seed: 1, dtype: 'float64', dropout: 0.5 });
    const dropouts = model.namedModules().filter(([, m]) => m instanceof Dropout).map(([, m]) => (m as Dropout).layerId);
    expect(dropouts).toEqual([0, 1]);
    expect(() => model.forward(x)).toThrow(/train mode needs \{ seed, sampleIds \}/);
    const a = model.forward(x, { seed: 4, sampleIds: [0, 1] });
    const b = model.forward(x, { seed: 4, sampleIds: [0, 1] });
    expect(Array.from(a.toTypedArray())).toEqual(Array.from(b.toTypedArray()));
    expect(Array.from(model.eval().forward(x).toTypedArray()).every(Number.isFinite)).toBe(true);
    expect(new Sequential(new Dropout(0.3)).eval().forward(x).toTypedArray()).toEqual(x.toTypedArray());
  });

  it('p outside [0, 1) and bad layer ids are rejected', () => {
    fc.assert(
      fc.property(fc.oneof(fc.double({ max: -Number.MIN_VALUE, noNaN: true }), fc.double({ min: 1, noNaN: true }), fc.constant(Number.NaN)), (p) => {
        expect(() => new Dropout(p)).toThrow(/Dropout: p must be in \[0, 1\); got/);
      }),
      { numRuns: 30 },
    );
    expect(() => new Dropout(0.5, -1)).toThrow(/Dropout: layerId must be an integer ≥ 0; got -1/);
    expect(() => new Dropout(0.5, 1.5)).toThrow(/layerId must be an integer/);
    expect(() => new Dropout(0)).not.toThrow();
    expect(() => new Dropout(0.999)).not.toThrow();
  });
});
