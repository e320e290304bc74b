import { describe, expect, it } from 'vitest';
import { diagonalLinear, gaussianMixture, quadraticSum, reluTeacherOutput, reluTeacher } from '../../src/data/synthetic.js';

describe('quadratic sums', () => {
  it('mean Hessian stays fixed while row-norm heterogeneity grows', () => {
    const eigenvalues = [4, 2, 1, 0.5, 0.25];
    const cvs: number[] = [];
    for (const heterogeneity of [0, 0.5, 1, 1.5]) {
      const p = quadraticSum({ n: 200, d: 5, seed: 1, heterogeneity, eigenvalues });
      const h = p.empiricalMeanHessian();
      const target = p.meanHessian;
      for (let k = 0; k < 25; k++) expect(h[k]!).toBeCloseTo(target[k]!, 10);
      cvs.push(p.rowNormCV());
    }
    for (let k = 1; k < cvs.length; k++) expect(cvs[k]!).toBeGreaterThan(cvs[k - 1]!);
    expect(cvs[3]!).toBeGreaterThan(3 * cvs[0]!);
  });

  it('is consistent: b_i = a_i·x*, so x* interpolates every sample', () => {
    const p = quadraticSum({ n: 50, d: 4, seed: 2, heterogeneity: 1 });
    for (let i = 0; i < p.length; i++) {
      const s = p.get(i);
      let dot = 0;
      for (let j = 0; j < 4; j++) dot += s.x[j]! * p.xStar[j]!;
      expect(s.y).toBeCloseTo(dot, 12);
      expect(s.id).toBe(i);
    }
    // Default spectrum: geometric from 1 to 1/condition.
    expect(p.eigenvalues[0]).toBeCloseTo(1, 12);
    expect(p.eigenvalues[3]).toBeCloseTo(0.1, 12);
  });

  it('is seeded', () => {
    const a = quadraticSum({ n: 20, d: 3, seed: 5, heterogeneity: 0.7 });
    const b = quadraticSum({ n: 20, d: 3, seed: 5, heterogeneity: 0.7 });
    const c = quadraticSum({ n: 20, d: 3, seed: 6, heterogeneity: 0.7 });
    expect(Array.from(a.features)).toEqual(Array.from(b.features));
    expect(Array.from(a.features)).not.toEqual(Array.from(c.features));
    expect(() => quadraticSum({ n: 2, d: 3, seed: 0 })).toThrow();
  });
});

describe('teachers and mixtures', () => {
  it('diagonal linear: k-sparse teacher, y = <w*, x>', () => {
    const p = diagonalLinear({ n: 30, d: 20, sparsity: 3, seed: 4 });
    const w = p.teacher['w']!;
    expect(w.filter((v) => v !== 0).length).toBe(3);
    expect(Array.from(p.teacher['support']!).every((j) => Math.abs(w[j]!) === 1)).toBe(true);
    for (let i = 0; i < p.length; i++) {
      const s = p.get(i);
      let dot = 0;
      for (let j = 0; j < 20; j++) dot += w[j]! * s.x[j]!;
      expect(s.y).toBeCloseTo(dot, 12);
    }
    expect(p.classes).toBe(0);
    expect(Array.from(diagonalLinear({ n: 30, d: 20, sparsity: 3, seed: 4 }).targets)).toEqual(Array.from(p.targets));
  });

  it('ReLU teacher: labels are the teacher network outputs', () => {
    const p = reluTeacher({ n: 40, d: 6, hidden: 5, seed: 8 });
    const W = p.teacher['W']!;
    const v = p.teacher['v']!;
    expect(W.length).toBe(30);
    let active = 0;
    for (let i = 0; i < p.length; i++) {
      const s = p.get(i);
      let y = 0;
      for (let j = 0; j < 5; j++) {
        let pre = 0;
        for (let q = 0; q < 6; q++) pre += W[j * 6 + q]! * s.x[q]!;
        if (pre > 0) { y += v[j]! * pre; active++; }
      }
      expect(s.y).toBeCloseTo(y, 12);
      expect(reluTeacherOutput(W, v, s.x)).toBeCloseTo(y, 12);
    }
    expect(active).toBeGreaterThan(0);
    expect(active).toBeLessThan(200);
  });

  it('Gaussian mixture: all classes present, nearest-mean classifies well-separated data', () => {
    const p = gaussianMixture({ n: 300, d: 10, classes: 3, seed: 2, separation: 6, std: 1 });
    expect(p.classes).toBe(3);
    const means = p.teacher['means']!;
    let correct = 0;
    const seen = new Set<number>();
    for (let i = 0; i < p.length; i++) {
      const s = p.get(i);
      seen.add(s.y);
      let best = -1;
      let bestD = Infinity;
      for (let c = 0; c < 3; c++) {
        let dist = 0;
        for (let j = 0; j < 10; j++) dist += (s.x[j]! - means[c * 10 + j]!) ** 2;
        if (dist < bestD) { bestD = dist; best = c; }
      }
      if (best === s.y) correct++;
    }
    expect(seen.size).toBe(3);
    expect(correct / p.length).toBeGreaterThan(0.95);
    for (let c = 0; c < 3; c++) {
      let norm = 0;
      for (let j = 0; j < 10; j++) norm += means[c * 10 + j]! ** 2;
      expect(Math.sqrt(norm)).toBeCloseTo(6, 10);
    }
  });
});
