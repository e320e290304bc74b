/**
 * streaming-variance.ts against exact enumeration: for a tiny population (N = 7 rows of
 * dimension 3) every mega-batch M and every minibatch S is listed, so the variance of
 * v = mean_S d + mean_M a is computed exactly and must match the closed forms.
 */
import { describe, expect, it } from 'vitest';
import { meanVarianceFactor, streamingStepVariance } from '../../src/analysis/streaming-variance.js';
import { tensor } from '../../src/tensor/creation.js';

const N = 7;
const P = 3;

/** Deterministic, irregular values. */
function rows(shift: number): number[][] {
  return Array.from({ length: N }, (_, i) => Array.from({ length: P }, (_, j) => Math.sin(1.7 * i + 2.3 * j + shift) * (1 + 0.3 * i)));
}

function subsets(items: readonly number[], k: number): number[][] {
  if (k === 0) return [[]];
  if (items.length < k) return [];
  const [first, ...rest] = items;
  return [...subsets(rest, k - 1).map((s) => [first!, ...s]), ...subsets(rest, k)];
}

const mean = (xs: readonly number[][], idx: readonly number[]) => Array.from({ length: P }, (_, j) => idx.reduce((s, i) => s + xs[i]![j]!, 0) / idx.length);

/** Total variance (trace of the covariance) of equally likely vectors. */
function variance(vs: readonly number[][]): number {
  const m = Array.from({ length: P }, (_, j) => vs.reduce((s, v) => s + v[j]!, 0) / vs.length);
  return vs.reduce((s, v) => s + v.reduce((t, x, j) => t + (x - m[j]!) ** 2, 0), 0) / vs.length;
}

const asTensor = (xs: number[][]) => tensor(Float64Array.from(xs.flat()), { shape: [N, P], dtype: 'float64' });

describe('streamingStepVariance', () => {
  const g = rows(0);
  const a = rows(0.4).map((r, i) => r.map((x, j) => x + 0.2 * g[i]![j]!));
  const d = g.map((r, i) => r.map((x, j) => x - a[i]![j]!));
  const all = Array.from({ length: N }, (_, i) => i);
  const b = 2;
  const B = 4;

  it('matches exact enumeration with S independent of M (streaming SVRG, SCSG geometric)', () => {
    const vs: number[][] = [];
    for (const M of subsets(all, B)) for (const S of subsets(all, b)) vs.push(mean(d, S).map((x, j) => x + mean(a, M)[j]!));
    const out = streamingStepVariance(asTensor(g), asTensor(a), { N, b, B, innerFromMegaBatch: false });
    expect(out.vStreaming).toBeCloseTo(variance(vs), 12);
    expect(out.vSgd).toBeCloseTo(variance(subsets(all, b).map((S) => mean(g, S))), 12);
    expect(out.cross).toBe(0);
  });

  it('matches exact enumeration with S drawn from M (SCSG reference code), cross term included', () => {
    const vs: number[][] = [];
    for (const M of subsets(all, B)) for (const S of subsets(M, b)) vs.push(mean(d, S).map((x, j) => x + mean(a, M)[j]!));
    const out = streamingStepVariance(asTensor(g), asTensor(a), { N, b, B, innerFromMegaBatch: true });
    expect(out.vStreaming).toBeCloseTo(variance(vs), 12);
    expect(Math.abs(out.cross)).toBeGreaterThan(1e-6);
  });

  it('at w = w̃ the ratio is exactly (b/B)(N − B)/(N − b)', () => {
    const out = streamingStepVariance(asTensor(g), asTensor(g), { N, b, B, innerFromMegaBatch: true });
    expect(out.vDifference).toBe(0);
    expect(out.ratio).toBeCloseTo(((b / B) * (N - B)) / (N - b), 14);
  });

  it('meanVarianceFactor: 1/k with replacement-like limit, 0 for the whole population; rejects bad sizes', () => {
    expect(meanVarianceFactor(10, 10)).toBe(0);
    expect(meanVarianceFactor(1e9, 4)).toBeCloseTo(0.25, 8);
    expect(() => meanVarianceFactor(5, 6)).toThrow(/1 ≤ k ≤ N/);
    expect(() => streamingStepVariance(asTensor(g), asTensor(a), { N, b: 5, B: 4, innerFromMegaBatch: false })).toThrow(/b ≤ B ≤ N/);
  });
});
