import { beforeAll, describe, expect, it } from 'vitest';
import { hessianVectorProduct } from '../../src/analysis/objective.js';
import { makeBatch } from '../../src/data/sampler.js';
import type { PresetResult } from '../../packages/lab/src/experiments/preset.js';
import { BUDGET, COST_FACTOR, METHODS, bpSvrgPreset, directionVariance, lossAndAccuracy, milestones, topHessianEigenvalue, trainRun, type TrainOutput } from '../../packages/lab/src/experiments/presets/bp-svrg.js';
import { flatMlp, mnistSubsets } from '../../packages/lab/src/experiments/presets/variance-ratio.js';
import { randn } from '../../src/tensor/creation.js';
import { expectWellFormed, runSmoke } from './well-formed.js';

describe('bp-svrg preset (Jin, Lin & Zhang 2019): mechanics', () => {
  it('at w = w̃ the BP-SVRG direction has exactly 4× the SGD variance and B-SVRG has none (estimators’ own directions)', () => {
    const { train: data } = mnistSubsets(7, 48, 0);
    const v = directionVariance(7, data, 8, 16);
    expect(v.vSgd).toBeGreaterThan(0);
    expect(v.vBp / v.vSgd).toBeCloseTo(4, 9);
    expect(v.vB / v.vSgd).toBeLessThanOrEqual(1e-12);
  });

  it('the learning-rate milestones are at 1/2 and 3/4 of the run (scaled by 3 for the long SGD run)', () => {
    expect(milestones(8)).toEqual([4, 6]);
    expect(milestones(8).map((m) => m * COST_FACTOR)).toEqual(milestones(8 * COST_FACTOR));
  });

  it('λ_max from Lanczos bounds the Rayleigh quotient of a random direction; accuracy is a fraction of the batch', () => {
    const { train: data } = mnistSubsets(3, 32, 0);
    const model = flatMlp([784, 8, 10], 3);
    const batch = makeBatch(data, Array.from({ length: 32 }, (_, i) => i), { dtype: 'float64' });
    const lambda = topHessianEigenvalue(model, batch, 12, 3);
    const v = randn([model.numParameters()], { seed: 11, dtype: 'float64' });
    const Hv = hessianVectorProduct(model, batch, v, { batchNorm: 'eval' }).toTypedArray();
    const vs = v.toTypedArray();
    let vHv = 0;
    let vv = 0;
    for (let j = 0; j < vs.length; j++) {
      vHv += vs[j]! * Hv[j]!;
      vv += vs[j]! * vs[j]!;
    }
    expect(lambda).toBeGreaterThan(0);
    expect(lambda).toBeGreaterThanOrEqual(vHv / vv);
    const { accuracy, loss } = lossAndAccuracy(model, batch);
    expect(Number.isInteger(accuracy * 32)).toBe(true);
    expect(loss).toBeGreaterThan(0);
  });

  describe('paired runs of one seed', () => {
    const runs = new Map<string, TrainOutput>();
    beforeAll(() => {
      for (const method of METHODS) runs.set(method, trainRun({ method, seed: 4, size: 'smoke' }));
    }, 60_000);

    it('every method starts from the same loss and test accuracy, and the runs then differ', () => {
      const sgd = runs.get('sgd')!;
      for (const method of METHODS) {
        expect(runs.get(method)!.initialLoss).toBe(sgd.initialLoss);
        expect(runs.get(method)!.points[0]!.testAccuracy).toBe(sgd.points[0]!.testAccuracy);
        expect(runs.get(method)!.points[0]!.m1).toBe(sgd.points[0]!.m1);
      }
      expect(runs.get('bp-svrg')!.final.trainLoss).not.toBe(runs.get('b-svrg')!.final.trainLoss);
      expect(runs.get('b-svrg')!.final.trainLoss).not.toBe(sgd.final.trainLoss);
    });

    it('counts gradient evaluations honestly: SVRG epochs cost 3N, the long SGD run spends exactly as many', () => {
      const { n, epochs } = BUDGET.smoke;
      expect(runs.get('sgd')!.final.evaluations).toBe(n * epochs);
      expect(runs.get('b-svrg')!.final.evaluations).toBe(3 * n * epochs);
      expect(runs.get('bp-svrg')!.final.evaluations).toBe(3 * n * epochs);
      expect(runs.get('sgd-long')!.final.evaluations).toBe(3 * n * epochs);
      for (const r of runs.values()) {
        const evals = r.points.map((p) => p.evaluations);
        for (let k = 1; k < evals.length; k++) expect(evals[k]!).toBeGreaterThan(evals[k - 1]!);
      }
      // Per SVRG epoch: N for the snapshot, 2N for the steps.
      expect(runs.get('bp-svrg')!.points.map((p) => p.evaluations)).toEqual(Array.from({ length: epochs + 1 }, (_, e) => 3 * n * e));
      // The long SGD run measures M1, M2 at the SVRG runs' evaluation counts only.
      const long = runs.get('sgd-long')!.points;
      expect(long).toHaveLength(COST_FACTOR * epochs + 1);
      expect(long.filter((p) => Number.isFinite(p.m1)).map((p) => p.evaluations)).toEqual(runs.get('b-svrg')!.points.map((p) => p.evaluations));
    });

    it('M1, M2 and V satisfy (1/n) Σ ‖gᵢ‖² = M2² + V and M2 ≤ M1', () => {
      for (const r of runs.values()) {
        const f = r.final;
        expect(Math.abs(f.meanSquaredNorm - (f.m2 ** 2 + f.variance))).toBeLessThanOrEqual(1e-10 * f.meanSquaredNorm);
        expect(f.m2).toBeLessThanOrEqual(f.m1);
        expect(f.m1 ** 2).toBeLessThanOrEqual(f.meanSquaredNorm * (1 + 1e-12)); // Jensen
        expect(Number.isFinite(f.lambdaMax)).toBe(true);
      }
    });
  });

  describe('end to end', () => {
    let result: PresetResult;
    beforeAll(async () => {
      result = await runSmoke(bpSvrgPreset, [1, 2]);
    }, 120_000);

    it('lists every run, passes its mechanics checks, and has labelled plots', () => {
      expectWellFormed(result, 'bp-svrg');
      const ids = result.runs.map((r) => r.id).sort();
      expect(ids).toEqual([...METHODS.flatMap((m) => [`${m}-seed1`, `${m}-seed2`]), 'direction-variance-seed1', 'direction-variance-seed2'].sort());
      for (const [name, ok] of Object.entries(result.checks)) expect(ok, name).toBe(true);
      for (const id of ['test-accuracy-epoch', 'test-accuracy-evaluations', 'm1-evaluations', 'm2-evaluations', 'final-lambda-max', 'direction-variance']) {
        expect(result.plots.some((p) => p.id === id)).toBe(true);
      }
    });

    it('the verdict follows the declared rule from the per-seed paired differences', () => {
      let forClaim = 0;
      let against = 0;
      for (const seed of [1, 2]) {
        const dAcc = result.numbers[`seed ${seed}: Δ test accuracy (BP-SVRG − B-SVRG)`]!;
        const dLambda = result.numbers[`seed ${seed}: Δ λ_max (BP-SVRG − B-SVRG)`]!;
        if (dAcc >= 0 && dLambda < 0) forClaim++;
        else if (dAcc < 0 && dLambda >= 0) against++;
      }
      expect(result.numbers['seeds FOR the claim']).toBe(forClaim);
      expect(result.numbers['seeds AGAINST the claim']).toBe(against);
      const expected = forClaim > 1 ? 'REPRODUCED' : against > 1 ? 'NOT REPRODUCED' : 'INCONCLUSIVE';
      expect(result.verdict).toBe(expected);
    });
  });
});
