/**
 * Counter-based randomness (docs/design.md §7): Threefry-2x32-20 known-answer vectors, determinism,
 * independence of derived keys, shape-independence of element i, and rough distribution checks
 * (bounds are several standard errors wide, so they fail for a wrong distribution, not by chance:
 * each check at 5–6 standard errors has a false-alarm rate below 1e-6, and the seeds are fixed).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bernoulli, foldIn, makeKey, rand, randint, randn, randperm, splitKey, threefry2x32, type Key } from '../src/index.js';

const values = (t: { toTypedArray(): ArrayLike<number> }) => Array.from(t.toTypedArray());
const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
const variance = (xs: number[]) => {
  const m = mean(xs);
  return xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1);
};

describe('Threefry-2x32-20', () => {
  it('matches the Random123 known-answer vectors', () => {
    expect(threefry2x32(0, 0, 0, 0)).toEqual([0x6b200159, 0x99ba4efe]);
    expect(threefry2x32(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff)).toEqual([0x1cb996fc, 0xbb002be7]);
    expect(threefry2x32(0x13198a2e, 0x03707344, 0x243f6a88, 0x85a308d3)).toEqual([0xc4923a9c, 0x483df7a0]);
  });

  it('returns unsigned 32-bit words', () => {
    fc.assert(
      fc.property(fc.tuple(fc.nat(), fc.nat(), fc.nat(), fc.nat()).map((t) => t.map((v) => v >>> 0)), ([a, b, c, d]) => {
        for (const w of threefry2x32(a!, b!, c!, d!)) {
          expect(Number.isInteger(w)).toBe(true);
          expect(w).toBeGreaterThanOrEqual(0);
          expect(w).toBeLessThan(2 ** 32);
        }
      }),
      { numRuns: 50 },
    );
  });

  it('element i of a draw is Threefry(key, counter (0, i)) turned into a 53-bit uniform', () => {
    const [w0, w1] = threefry2x32(0, 0, 0, 0);
    const u0 = ((w0 >>> 5) * 2 ** 26 + (w1 >>> 6)) / 2 ** 53;
    const [v0, v1] = threefry2x32(0, 7, 0, 3); // seed 7 → key (0, 7); element 3
    const u3 = ((v0 >>> 5) * 2 ** 26 + (v1 >>> 6)) / 2 ** 53;
    expect(rand([1], { seed: 0, dtype: 'float64' }).item()).toBe(u0);
    expect(values(rand([4], { seed: 7, dtype: 'float64' }))[3]).toBe(u3);
    expect(makeKey(7)).toEqual([0, 7]);
    expect(makeKey(2 ** 40 + 5)).toEqual([2 ** 8, 5]);
  });
});

describe('determinism and independence', () => {
  it('the same seed (or the same key) gives identical numbers, for every random op', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 53 - 1 }), (seed) => {
        const key = makeKey(seed);
        const draws = [
          (o: object) => rand([3, 4], { ...o, dtype: 'float64' }),
          (o: object) => rand([7], { ...o, dtype: 'float32' }),
          (o: object) => randn([5], { ...o, dtype: 'float64' }),
          (o: object) => randint(-5, 5, [6], o),
          (o: object) => bernoulli(0.5, [8], o),
          (o: object) => randperm(9, o),
        ];
        for (const d of draws) {
          const a = values(d({ seed }));
          expect(values(d({ seed }))).toEqual(a);
          expect(values(d({ key }))).toEqual(a);
        }
      }),
      { numRuns: 20 },
    );
  });

  it('different seeds, foldIn ids and split keys give different streams', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 53 - 1 }), fc.integer({ min: 0, max: 2 ** 53 - 1 }), (s1, s2) => {
        fc.pre(s1 !== s2);
        expect(values(rand([8], { seed: s1, dtype: 'float64' }))).not.toEqual(values(rand([8], { seed: s2, dtype: 'float64' })));
        const key = makeKey(s1);
        const folded = [foldIn(key, s2), foldIn(key, s2 + 1 <= 2 ** 53 - 1 ? s2 + 1 : s2 - 1)];
        expect(folded[0]).not.toEqual(folded[1]);
        expect(foldIn(key, s2)).toEqual(folded[0]); // deterministic
        const split = splitKey(key, 4);
        const all: Key[] = [key, ...split, ...folded];
        const seen = new Set(all.map((k) => `${k[0]},${k[1]}`));
        expect(seen.size).toBe(all.length);
        const streams = split.map((k) => values(rand([4], { key: k, dtype: 'float64' })).join(','));
        expect(new Set(streams).size).toBe(4);
      }),
      { numRuns: 30 },
    );
  });

  it('foldIn and splitKey are separate counter domains: foldIn(key, i) ≠ splitKey(key, n)[i] ≠ element i', () => {
    const key = makeKey(123);
    const split = splitKey(key, 5);
    for (let i = 0; i < 5; i++) {
      expect(foldIn(key, i)).not.toEqual(split[i]);
      expect(threefry2x32(key[0], key[1], 0, i)).not.toEqual(foldIn(key, i));
      expect(threefry2x32(key[0], key[1], 0, i)).not.toEqual(split[i]);
    }
    expect(splitKey(key, 3)).toEqual(split.slice(0, 3));
  });

  it('element i does not depend on the shape: rand([10]) starts with rand([5]), rand([2,5]) is rand([10])', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 53 - 1 }), fc.constantFrom<'float32' | 'float64'>('float32', 'float64'), (seed, dtype) => {
        for (const draw of [
          (s: number[]) => rand(s, { seed, dtype }),
          (s: number[]) => randn(s, { seed, dtype }),
          (s: number[]) => randint(0, 100, s, { seed }),
          (s: number[]) => bernoulli(0.3, s, { seed, dtype }),
        ]) {
          const long = values(draw([10]));
          expect(values(draw([5]))).toEqual(long.slice(0, 5));
          expect(values(draw([2, 5]))).toEqual(long);
        }
      }),
      { numRuns: 20 },
    );
  });
});

describe('distributions', () => {
  const N = 20000;

  it('randn: mean ≈ 0 and variance ≈ 1 within 5 standard errors; options shift and scale it', () => {
    const x = values(randn([N], { seed: 42, dtype: 'float64' }));
    expect(Math.abs(mean(x))).toBeLessThan(5 / Math.sqrt(N));
    expect(Math.abs(variance(x) - 1)).toBeLessThan(5 * Math.sqrt(2 / N));
    // Normal tails: ≈ 4.55% beyond 2σ (binomial SE ≈ 0.15%).
    const tail = x.filter((v) => Math.abs(v) > 2).length / N;
    expect(Math.abs(tail - 0.0455)).toBeLessThan(5 * Math.sqrt(0.0455 * 0.9545 / N));
    // Consecutive elements are uncorrelated.
    let lag = 0;
    for (let i = 1; i < N; i++) lag += x[i]! * x[i - 1]!;
    expect(Math.abs(lag / (N - 1))).toBeLessThan(5 / Math.sqrt(N));
    const y = values(randn([N], { seed: 42, mean: 3, std: 2, dtype: 'float64' }));
    y.forEach((v, i) => expect(v).toBeCloseTo(3 + 2 * x[i]!, 12));
    expect(values(randn([N], { seed: 7, dtype: 'float32' })).every(Number.isFinite)).toBe(true);
  });

  it('rand: in [0, 1) for both dtypes, mean ≈ 1/2, variance ≈ 1/12; low/high rescale it', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      const u = values(rand([N], { seed: 3, dtype }));
      expect(Math.min(...u)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...u)).toBeLessThan(1);
      expect(Math.abs(mean(u) - 0.5)).toBeLessThan(5 * Math.sqrt(1 / 12 / N));
      expect(Math.abs(variance(u) - 1 / 12)).toBeLessThan(5 * Math.sqrt(1 / 180 / N));
    }
    const v = values(rand([N], { seed: 3, low: -2, high: 6, dtype: 'float64' }));
    expect(Math.min(...v)).toBeGreaterThanOrEqual(-2);
    expect(Math.max(...v)).toBeLessThan(6);
    expect(Math.abs(mean(v) - 2)).toBeLessThan(5 * 8 * Math.sqrt(1 / 12 / N));
  });

  it('randint: int32 values in [low, high), each value about equally often (χ² test)', () => {
    const low = -3;
    const high = 7;
    const t = randint(low, high, [N], { seed: 11 });
    expect(t.dtype).toBe('int32');
    const x = values(t);
    expect(x.every((v) => Number.isInteger(v) && v >= low && v < high)).toBe(true);
    const k = high - low;
    const counts = new Array<number>(k).fill(0);
    for (const v of x) counts[v - low]! += 1;
    const expected = N / k;
    const chi2 = counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
    // 9 degrees of freedom: P(χ² > 40) ≈ 7e-6.
    expect(chi2).toBeLessThan(40);
    expect(counts.every((c) => c > 0)).toBe(true);
  });

  it('bernoulli: 0/1 values with frequency ≈ p', () => {
    for (const p of [0, 0.3, 1]) {
      const x = values(bernoulli(p, [N], { seed: 5, dtype: 'float64' }));
      expect(x.every((v) => v === 0 || v === 1)).toBe(true);
      expect(Math.abs(mean(x) - p)).toBeLessThanOrEqual(5 * Math.sqrt((p * (1 - p)) / N));
    }
  });

  it('randperm is a permutation of 0…n−1, and different seeds shuffle differently', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 60 }), fc.nat(), (n, seed) => {
        const p = randperm(n, { seed });
        expect(p.dtype).toBe('int32');
        expect(p.shape).toEqual([n]);
        expect(values(p).sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
      }),
      { numRuns: 50 },
    );
    const perms = new Set(Array.from({ length: 20 }, (_, s) => values(randperm(20, { seed: s })).join(',')));
    expect(perms.size).toBe(20);
    // Every position receives every value about equally often (first position over 6000 shuffles of 3).
    const first = [0, 0, 0];
    for (let s = 0; s < 6000; s++) first[values(randperm(3, { seed: s }))[0]!]! += 1;
    for (const c of first) expect(Math.abs(c - 2000)).toBeLessThan(5 * Math.sqrt(6000 * (1 / 3) * (2 / 3)));
  });
});
