/**
 * Gradient statistics of the SGD / SVRG family (docs/research.md §1, §5) and the loss along a line
 * (§2), in float64: variances against a naive loop, the exact identities
 * V_SVRG + V_BP = 2V(w) + 2V(w̃) and (1/n) Σ‖gᵢ‖² = M2² + V, the snapshot cases, BatchNorm
 * in train mode through a minibatch partition, and the running statistics left untouched.
 */
import { describe, expect, it } from 'vitest';
import { crossEntropy, gradients, linspace, randn, tensor, type Tensor } from '../../src/index.js';
import {
  CONTROL_VARIATE,
  controlVariateRows,
  curvatureEstimate,
  distanceFromSnapshot,
  estimatorVariance,
  gradientAt,
  gradientNormMetrics,
  gradientRows,
  sgdRows,
  svrgRows,
  varianceRatio,
} from '../../src/analysis/gradient-stats.js';
import { lossAlongLine } from '../../src/analysis/interpolation.js';
import { Linear } from '../../src/nn/linear.js';
import type { Module } from '../../src/nn/module.js';
import { mlp } from '../../src/nn/zoo.js';

const f64 = { dtype: 'float64' as const };
const eval_ = { batchNorm: 'eval' as const };

const n = 8;
const x = randn([n, 3], { seed: 2, ...f64 });
const y = [0, 1, 2, 1, 0, 2, 2, 1];
const batch = { x, targets: y };

/** gᵢ by a loop over batches of one (the reference), flattened. */
function naiveRows(model: Module): number[][] {
  return y.map((t, i) => {
    const g = gradients([crossEntropy(model.forward(x.slice([[i, i + 1]])), [t], 'sum')], model.parameters());
    return g.flatMap((gi) => Array.from(gi.contiguous().toTypedArray()));
  });
}

function naiveVariance(rows: number[][]): number {
  const P = rows[0]!.length;
  const mean = Array.from({ length: P }, (_, j) => rows.reduce((s, r) => s + r[j]!, 0) / rows.length);
  return rows.reduce((s, r) => s + r.reduce((t, v, j) => t + (v - mean[j]!) ** 2, 0), 0) / rows.length;
}

const perturbed = (w: Tensor, seed: number, scale = 0.3) => w.add(randn([w.size], { seed, ...f64 }).mul(scale));

describe('estimatorVariance', () => {
  it('matches a naive loop, from a tensor or a list of vectors', () => {
    const model = mlp([3, 5, 3], { seed: 1, ...f64 });
    const rows = naiveRows(model);
    const expected = naiveVariance(rows);
    const viaModel = sgdRows(model, batch, undefined, eval_);
    expect(viaModel.shape).toEqual([n, model.numParameters()]);
    expect(estimatorVariance(viaModel)).toBeCloseTo(expected, 12);
    expect(estimatorVariance(rows)).toBeCloseTo(expected, 14);
    expect(estimatorVariance(rows.map((r) => tensor(r, f64)))).toBeCloseTo(expected, 14);
  });

  it('reads tensor rows in place without changing them: float64 views at an offset, float32 and transposed inputs alike', () => {
    const big = randn([9, 6], { seed: 3, ...f64 });
    const rows = big.slice([[2, 7]]); // contiguous, at an offset into big's storage
    const snapshot = randn([5, 6], { seed: 4, ...f64 });
    const before = Array.from(big.toTypedArray());
    const asLists = (t: Tensor) => Array.from({ length: t.shape[0]! }, (_, i) => Array.from(t.slice([[i, i + 1]]).toTypedArray()));
    expect(estimatorVariance(rows)).toBe(estimatorVariance(asLists(rows)));
    const cv = controlVariateRows(rows, snapshot, 1);
    expect(Array.from(cv.toTypedArray())).toEqual(Array.from(controlVariateRows(asLists(rows), asLists(snapshot), 1).toTypedArray()));
    expect(Array.from(big.toTypedArray())).toEqual(before);
    const transposed = randn([6, 5], { seed: 5, ...f64 }).transpose(0, 1);
    expect(estimatorVariance(transposed)).toBe(estimatorVariance(transposed.contiguous()));
    const single = rows.to('float32');
    expect(estimatorVariance(single)).toBe(estimatorVariance(asLists(single)));
  });

  it('is zero for identical rows, and rejects ragged or empty input', () => {
    expect(estimatorVariance([[1, 2], [1, 2]])).toBe(0);
    expect(() => estimatorVariance([[1, 2], [1]])).toThrow(/estimatorVariance: every row must have 2 elements; row 1 has 1/);
    expect(() => estimatorVariance([])).toThrow(/estimatorVariance: need at least one row/);
    expect(() => varianceRatio(1, 0)).toThrow(/varianceRatio: the reference variance must be > 0/);
    expect(varianceRatio(1, 4)).toBe(0.25);
  });
});

describe('SVRG family', () => {
  const model = mlp([3, 5, 3], { seed: 1, ...f64 });
  const wTilde = model.flattenParameters();
  const w = perturbed(wTilde, 7);

  it('V_SVRG + V_BP = 2V(w) + 2V(w̃) exactly (up to rounding)', () => {
    const gw = gradientRows(model, batch, w, eval_);
    const gt = gradientRows(model, batch, wTilde, eval_);
    // Rows at a point other than the model's parameters average to the gradient there.
    const full = gradientAt(model, batch, w, eval_).toTypedArray();
    const meanRow = gw.mean(0).toTypedArray();
    full.forEach((v, j) => expect(meanRow[j]).toBeCloseTo(v, 14));
    const vSvrg = estimatorVariance(controlVariateRows(gw, gt, CONTROL_VARIATE.svrg));
    const vBp = estimatorVariance(controlVariateRows(gw, gt, CONTROL_VARIATE.bpSvrg));
    const lhs = vSvrg + vBp;
    const rhs = 2 * estimatorVariance(gw) + 2 * estimatorVariance(gt);
    expect(Math.abs(lhs - rhs)).toBeLessThan(1e-13 * rhs);
    // The model-level helper builds the same rows.
    expect(estimatorVariance(svrgRows(model, batch, w, wTilde, 1, eval_))).toBeCloseTo(vSvrg, 14);
    // c = 0 is SGD.
    expect(estimatorVariance(controlVariateRows(gw, gt, CONTROL_VARIATE.sgd))).toBeCloseTo(estimatorVariance(gw), 14);
  });

  it('at w = w̃: SVRG has zero variance, BP-SVRG exactly 4× SGD', () => {
    const vSgd = estimatorVariance(sgdRows(model, batch, wTilde, eval_));
    expect(vSgd).toBeGreaterThan(0);
    expect(estimatorVariance(svrgRows(model, batch, wTilde, wTilde, 1, eval_))).toBeLessThan(1e-28);
    const vBp = estimatorVariance(svrgRows(model, batch, wTilde, wTilde, -1, eval_));
    expect(Math.abs(vBp / vSgd - 4)).toBeLessThan(1e-13);
  });

  it('with BatchNorm in train mode, rows are minibatch gradients of a fixed partition; statistics untouched', () => {
    const bn = mlp([3, 6, 3], { seed: 4, batchNorm: true, ...f64 });
    const stats = bn.saveStats();
    const params = bn.flattenParameters().toTypedArray();
    const train = { batchNorm: 'train' as const, minibatchSize: 4 };
    const snap = bn.flattenParameters();
    const at = perturbed(snap, 9, 0.1);
    // Per-sample rows are undefined in train mode (samples interact).
    expect(() => gradientRows(bn, batch, at, { batchNorm: 'train' })).toThrow();
    expect(() => gradientRows(bn, batch, at, { batchNorm: 'train', minibatchSize: 3 })).toThrow(/minibatchSize must be an integer ≥ 1 that divides the batch size 8; got 3/);
    const gw = gradientRows(bn, batch, at, train);
    expect(gw.shape).toEqual([2, bn.numParameters()]);
    // Row k is the gradient of minibatch k as one train-mode batch.
    const first = gradientAt(bn, { x: x.slice([[0, 4]]), targets: y.slice(0, 4) }, at, { batchNorm: 'train' });
    const row0 = gw.slice([[0, 1]]).reshape([bn.numParameters()]).toTypedArray();
    first.toTypedArray().forEach((v, j) => expect(row0[j]).toBeCloseTo(v, 14));
    const gt = gradientRows(bn, batch, snap, train);
    const lhs = estimatorVariance(controlVariateRows(gw, gt, 1)) + estimatorVariance(controlVariateRows(gw, gt, -1));
    expect(lhs).toBeCloseTo(2 * estimatorVariance(gw) + 2 * estimatorVariance(gt), 12);
    expect(estimatorVariance(svrgRows(bn, batch, snap, snap, 1, train))).toBeLessThan(1e-28);
    // Nothing about the model changed.
    expect(bn.flattenParameters().toTypedArray()).toEqual(params);
    for (const [name, values] of bn.saveStats()) expect(Array.from(values)).toEqual(Array.from(stats.get(name)!));
    expect(bn.training).toBe(true);
  });
});

describe('gradientNormMetrics', () => {
  it('M1, M2 and V against the naive loop, and (1/n) Σ‖gᵢ‖² = M2² + V', () => {
    const model = mlp([3, 5, 3], { seed: 3, ...f64 });
    const rows = naiveRows(model);
    const m = gradientNormMetrics(model, batch, eval_);
    const norms = rows.map((r) => Math.sqrt(r.reduce((s, v) => s + v * v, 0)));
    expect(m.m1).toBeCloseTo(norms.reduce((s, v) => s + v, 0) / n, 12);
    const P = rows[0]!.length;
    const mean = Array.from({ length: P }, (_, j) => rows.reduce((s, r) => s + r[j]!, 0) / n);
    expect(m.m2).toBeCloseTo(Math.sqrt(mean.reduce((s, v) => s + v * v, 0)), 12);
    expect(m.variance).toBeCloseTo(naiveVariance(rows), 12);
    expect(Math.abs(m.meanSquaredNorm - (m.m2 ** 2 + m.variance))).toBeLessThan(1e-13 * m.meanSquaredNorm);
    // M1 ≥ M2 (triangle inequality).
    expect(m.m1).toBeGreaterThanOrEqual(m.m2);
  });
});

describe('snapshot geometry', () => {
  const model = mlp([3, 5, 3], { seed: 1, ...f64 });
  const wTilde = model.flattenParameters();

  it('distanceFromSnapshot is ‖w − w̃‖', () => {
    const w = wTilde.add(tensor(new Float64Array(wTilde.size).fill(0.5), f64));
    expect(distanceFromSnapshot(w, wTilde)).toBeCloseTo(0.5 * Math.sqrt(wTilde.size), 14);
    expect(() => distanceFromSnapshot(w, tensor([1, 2], f64))).toThrow(/distanceFromSnapshot: expected two flat vectors of one length/);
  });

  it('curvatureEstimate is ‖g_S(w) − g_S(w̃)‖ / ‖w − w̃‖; it approaches ‖H·u‖ as w → w̃ along u', () => {
    const u = randn([wTilde.size], { seed: 5, ...f64 });
    const unit = u.div(Math.sqrt(u.mul(u).sum().item()));
    const h = 1e-6;
    const estimate = curvatureEstimate(model, batch, wTilde.add(unit.mul(h)), wTilde, eval_);
    // H·u by double backward.
    const F = (v: Tensor) => model.callWithVector(v, () => crossEntropy(model.forward(x), y));
    const leaf = wTilde.detach().requireGrad();
    const g = gradients([F(leaf)], [leaf], { createGraph: true })[0]!;
    const hu = gradients([g], [leaf], { gradOutputs: [unit] })[0]!;
    expect(estimate).toBeCloseTo(Math.sqrt(hu.mul(hu).sum().item()), 5);
    expect(() => curvatureEstimate(model, batch, wTilde, wTilde, eval_)).toThrow(/curvatureEstimate: w equals the snapshot/);
  });
});

describe('lossAlongLine', () => {
  it('endpoints equal the losses at w_A and w_B, on every data set; the model is untouched', () => {
    const model = mlp([3, 5, 3], { seed: 1, ...f64 });
    const wA = model.flattenParameters();
    const wB = perturbed(wA, 11, 0.5);
    const test = { x: randn([6, 3], { seed: 12, ...f64 }), targets: [2, 1, 0, 0, 1, 2] };
    const alphas = Array.from(linspace(-0.5, 1.5, 21, f64).toTypedArray());
    const result = lossAlongLine(model, [{ name: 'train', batch }, { name: 'test', batch: test }], wA, wB, alphas, eval_);
    expect(result.alphas).toHaveLength(21);
    const lossAt = (w: Tensor, b: typeof batch) => model.callWithVector(w, () => crossEntropy(model.forward(b.x), b.targets).item());
    const i0 = alphas.indexOf(0);
    const i1 = alphas.indexOf(1);
    expect(i0).toBe(5);
    expect(i1).toBe(15);
    for (const [k, b] of [batch, test].entries()) {
      const curve = result.curves[k]!;
      expect(curve.loss[i0]).toBeCloseTo(lossAt(wA, b), 14);
      expect(curve.loss[i1]).toBeCloseTo(lossAt(wB, b), 14);
      expect(curve.accuracy).toHaveLength(21);
      curve.accuracy!.forEach((a) => expect(a).toBeGreaterThanOrEqual(0));
    }
    expect(result.curves.map((c) => c.name)).toEqual(['train', 'test']);
    expect(model.flattenParameters().toTypedArray()).toEqual(wA.toTypedArray());
  });

  it('is an exact convex quadratic in α for a linear model under square loss', () => {
    const model = new Linear(3, 1, { seed: 2, ...f64 });
    const targets = randn([n, 1], { seed: 3, ...f64 });
    const square = (out: Tensor, t: Tensor | Int32Array | readonly number[]) => out.sub(t as Tensor).pow(2).reshape([n]);
    const wA = model.flattenParameters();
    const wB = perturbed(wA, 4, 1);
    const alphas = Array.from(linspace(-0.5, 1.5, 21, f64).toTypedArray());
    const { curves } = lossAlongLine(model, [{ name: 'train', batch: { x, targets } }], wA, wB, alphas, { ...eval_, loss: square });
    const L = curves[0]!.loss;
    expect(curves[0]!.accuracy).toBeNull();
    const second = L.slice(2).map((v, i) => v - 2 * L[i + 1]! + L[i]!);
    // Equal spacing: constant, positive second differences.
    second.forEach((d) => {
      expect(d).toBeGreaterThan(0);
      expect(d).toBeCloseTo(second[0]!, 10);
    });
  });
});
