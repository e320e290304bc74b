/**
 * The bp-svrg preset (Jin, Lin & Zhang 2019): the estimators' mechanics, the run's accounting of
 * gradient evaluations and --max-steps, the eight claim parts' logic on constructed outputs, and an
 * end-to-end smoke run (the paper size: preset-bp-svrg-paper.test.ts).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { hessianVectorProduct } from '../../src/analysis/objective.js';
import { makeBatch } from '../../src/data/sampler.js';
import { MAX_SERIES_PER_PLOT, type PresetResult } from '../../packages/lab/src/experiments/preset.js';
import {
  BUDGET,
  COST_FACTOR,
  directionVariance,
  evaluate,
  type FinalMeasurements,
  LEARNING_RATES,
  lossAndAccuracy,
  METHODS,
  type Method,
  milestones,
  NON_SUPERIORITY_MARGIN,
  partsAtRate,
  bpSvrgPreset,
  topHessianEigenvalue,
  trainRun,
  type TrainOutput,
} from '../../packages/lab/src/experiments/presets/bp-svrg.js';
import { flatMlp, mnistSubsets } from '../../packages/lab/src/experiments/presets/datasets.js';
import { randn } from '../../src/tensor/creation.js';
import { expectWellFormed, runSmoke } from './well-formed.js';

describe('bp-svrg preset (Jin, Lin & Zhang 2019): mechanics', () => {
  it('at w = w̃ BP-SVRG’s direction has exactly 4× the SGD variance and B-SVRG’s none (their own directions)', () => {
    const { train: data } = mnistSubsets(7, 48, 0);
    const v = directionVariance(7, data, 8, flatMlp([784, 16, 10], 7));
    expect(v.vSgd).toBeGreaterThan(0);
    expect(v.vBp / v.vSgd).toBeCloseTo(4, 9);
    expect(v.vB / v.vSgd).toBeLessThanOrEqual(1e-12);
  });

  it('at full size it tests on every MNIST digit it does not train on, and a split past the 10,000 is refused', () => {
    const { n, testN } = BUDGET.full;
    const { train: data, evaluation } = mnistSubsets(1, n, testN);
    expect([data.length, evaluation.length, n + testN]).toEqual([4096, 5904, 10000]);
    expect(() => mnistSubsets(1, n, testN + 1)).toThrow(/mnistSubsets: 4096 training \+ 5905 evaluation digits need 10001; MNIST has 10000/);
  });

  it('the learning-rate milestones are at 1/2 and 3/4 of the run (scaled by 3 for the long SGD run)', () => {
    expect(milestones(8)).toEqual([4, 6]);
    expect(milestones(8).map((m) => m * COST_FACTOR)).toEqual(milestones(8 * COST_FACTOR));
  });

  it('λ_max from Lanczos bounds a random direction’s Rayleigh quotient; accuracy is a fraction of the batch', () => {
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

  it('the chunked evaluation over more samples than one chunk equals the one-batch evaluation', () => {
    const { train: data } = mnistSubsets(5, 2100, 0);
    const model = flatMlp([784, 8, 10], 5);
    const all = makeBatch(data, Array.from({ length: 2100 }, (_, i) => i), { dtype: 'float64' });
    const whole = lossAndAccuracy(model, all);
    const chunked = evaluate(model, data, 2100);
    expect(chunked.accuracy).toBe(whole.accuracy);
    expect(chunked.loss).toBeCloseTo(whole.loss, 12);
  });
});

describe('bp-svrg preset: paired runs of one seed (smoke size)', () => {
  const lr = LEARNING_RATES[1];
  const runs = new Map<Method, TrainOutput>();
  beforeAll(() => {
    for (const method of METHODS) runs.set(method, trainRun({ method, lr, seed: 4, size: 'smoke' }));
  }, 60_000);

  it('every method starts from the same loss and test accuracy, and the runs then differ', () => {
    const long = runs.get('sgd-long')!;
    for (const method of METHODS) {
      expect(runs.get(method)!.initialLoss).toBe(long.initialLoss);
      expect(runs.get(method)!.points[0]!.testAccuracy).toBe(long.points[0]!.testAccuracy);
      expect(runs.get(method)!.points[0]!.m1).toBe(long.points[0]!.m1);
    }
    expect(runs.get('bp-svrg')!.final.trainLoss).not.toBe(runs.get('b-svrg')!.final.trainLoss);
    expect(runs.get('b-svrg')!.final.trainLoss).not.toBe(long.final.trainLoss);
  });

  it('counts gradient evaluations honestly: SVRG epochs cost 3N, the long SGD run spends exactly as many', () => {
    const { n, epochs } = BUDGET.smoke;
    expect(runs.get('b-svrg')!.final.evaluations).toBe(3 * n * epochs);
    expect(runs.get('bp-svrg')!.final.evaluations).toBe(3 * n * epochs);
    expect(runs.get('sgd-long')!.final.evaluations).toBe(3 * n * epochs);
    for (const r of runs.values()) {
      const evals = r.points.map((p) => p.evaluations);
      for (let k = 1; k < evals.length; k++) expect(evals[k]!).toBeGreaterThan(evals[k - 1]!);
    }
    // Per SVRG epoch: N for the snapshot, 2N for the steps.
    const bpEvaluations = runs.get('bp-svrg')!.points.map((p) => p.evaluations);
    expect(bpEvaluations).toEqual(Array.from({ length: epochs + 1 }, (_, e) => 3 * n * e));
    // The long SGD run is measured at the SVRG runs' evaluation counts: every COST_FACTOR of its epochs.
    const long = runs.get('sgd-long')!.points;
    expect(long.map((p) => p.epoch)).toEqual(Array.from({ length: epochs + 1 }, (_, e) => COST_FACTOR * e));
    expect(long.map((p) => p.evaluations)).toEqual(runs.get('b-svrg')!.points.map((p) => p.evaluations));
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

  it('the learning rate is part of the run: the same seed at the other rate ends elsewhere from the same start', () => {
    const other = trainRun({ method: 'bp-svrg', lr: LEARNING_RATES[0], seed: 4, size: 'smoke' });
    expect(other.initialLoss).toBe(runs.get('bp-svrg')!.initialLoss);
    expect(other.final.trainLoss).not.toBe(runs.get('bp-svrg')!.final.trainLoss);
  });

  it('--max-steps stops a run after that many steps, within an epoch or at its end', () => {
    const { n, batch } = BUDGET.smoke;
    const sgd = trainRun({ method: 'sgd-long', lr, seed: 4, size: 'smoke', maxSteps: 3 });
    expect(sgd.final.evaluations).toBe(3 * batch);
    expect(sgd.points.map((p) => p.evaluations)).toEqual([0, 3 * batch]);
    // BP-SVRG: the snapshot's full pass, then two gradients per sample of each step.
    const bp = trainRun({ method: 'bp-svrg', lr, seed: 4, size: 'smoke', maxSteps: 3 });
    expect(bp.final.evaluations).toBe(n + 2 * 3 * batch);
    const stepsPerEpoch = n / batch;
    const epoch = trainRun({ method: 'sgd-long', lr, seed: 4, size: 'smoke', maxSteps: stepsPerEpoch });
    expect(epoch.final.evaluations).toBe(n);
    expect(epoch.points.map((p) => p.epoch)).toEqual([0, 1]);
    expect(Number.isFinite(epoch.points[1]!.m1)).toBe(true);
  });
});

// ---- the claim parts on constructed outputs ------------------------------------------------

/** Final measurements with the given test accuracy, λ_max and M1 (the rest irrelevant to the parts). */
function finalOf(testAccuracy: number, lambdaMax: number, m1: number): FinalMeasurements {
  const rest = { trainLoss: 0.1, trainAccuracy: 0.99, m2: 0.1, meanSquaredNorm: 1, variance: 1, evaluations: 1 };
  return { testAccuracy, lambdaMax, m1, ...rest };
}

/** Constructed paired outcomes: per seed, BP-SVRG's offsets from B-SVRG and from SGD (same evaluations). */
function constructed(offsets: { accuracy: number[]; lambdaRatio: number[]; m1Ratio: number[]; vsLong: number[] }) {
  const seeds = offsets.accuracy.map((_, i) => i + 1);
  const b = seeds.map((_, i) => finalOf(0.9 + 0.001 * i, 6 + 0.1 * i, 3 + 0.05 * i));
  const bp = b.map((f, i) => {
    const accuracy = f.testAccuracy + offsets.accuracy[i]! / 100;
    return finalOf(accuracy, f.lambdaMax * offsets.lambdaRatio[i]!, f.m1 * offsets.m1Ratio[i]!);
  });
  const long = bp.map((f, i) => finalOf(f.testAccuracy - offsets.vsLong[i]! / 100, 5, 2));
  const byMethod: Record<Method, FinalMeasurements[]> = { 'b-svrg': b, 'bp-svrg': bp, 'sgd-long': long };
  return { seeds, of: (method: Method) => byMethod[method] };
}

const noise = [0.31, -0.27, 0.12, -0.2, 0.05, -0.08, 0.22, -0.15];
const verdicts = (offsets: Parameters<typeof constructed>[0]) =>
  Object.fromEntries(
    partsAtRate(0.1, constructed(offsets), 0.05).map((p) => [p.id.replace(/-lr0\.1$/, ''), p.verdict]),
  );

describe('bp-svrg preset: the claim parts follow the declared tests', () => {
  it('strong effects on the claimed sides reproduce every part', () => {
    const v = verdicts({
      accuracy: noise.map((e) => 0.5 + 0.1 * e),
      lambdaRatio: noise.map((e) => 0.6 * Math.exp(0.05 * e)),
      m1Ratio: noise.map((e) => 0.9 * Math.exp(0.02 * e)),
      vsLong: noise.map((e) => -1 + 0.2 * e),
    });
    expect(v).toEqual({
      'flatter-lambda': 'REPRODUCED',
      'flatter-m1': 'REPRODUCED',
      'accuracy-vs-b-svrg': 'REPRODUCED',
      'not-above-sgd-same-evaluations': 'REPRODUCED',
    });
  });

  it('strong effects on the other sides are NOT REPRODUCED, for the non-superiority part once above the margin', () => {
    const v = verdicts({
      accuracy: noise.map((e) => -0.5 + 0.1 * e),
      lambdaRatio: noise.map((e) => 1.5 * Math.exp(0.05 * e)),
      m1Ratio: noise.map((e) => 1.2 * Math.exp(0.02 * e)),
      vsLong: noise.map((e) => NON_SUPERIORITY_MARGIN + 1 + 0.2 * e),
    });
    expect(Object.values(v)).toEqual(Array(4).fill('NOT REPRODUCED'));
  });

  it('noise around no effect is INCONCLUSIVE (never support), and so is BP-SVRG − SGD around the margin', () => {
    const v = verdicts({
      accuracy: noise,
      lambdaRatio: noise.map((e) => Math.exp(e)),
      m1Ratio: noise.map((e) => Math.exp(e / 2)),
      vsLong: noise.map((e) => NON_SUPERIORITY_MARGIN + e),
    });
    expect(Object.values(v)).toEqual(Array(4).fill('INCONCLUSIVE'));
  });

  it('the non-superiority part is tested against the margin, not against zero', () => {
    // BP-SVRG clearly above SGD, but by less than the margin: the claim "not better by the margin" holds.
    const [part] = partsAtRate(0.1, constructed({
      accuracy: noise,
      lambdaRatio: noise.map(() => 1),
      m1Ratio: noise.map(() => 1),
      vsLong: noise.map((e) => 0.2 + 0.05 * e),
    }), 0.05).filter((p) => p.id.startsWith('not-above'));
    expect(part!.effect).toBeGreaterThan(0);
    expect(part!.verdict).toBe('REPRODUCED');
    expect(part!.test).toMatch(/margin \+0\.5 points/);
    expect(part!.interval[1]).toBeLessThan(NON_SUPERIORITY_MARGIN);
  });

  it('the flatness parts are tests of log-ratios: a ratio of 1/2 on every seed is an effect of ln ½', () => {
    const parts = partsAtRate(0.05, constructed({
      accuracy: noise,
      lambdaRatio: noise.map(() => 0.5),
      m1Ratio: noise.map((e) => 0.5 * Math.exp(0.01 * e)),
      vsLong: noise.map(() => -1),
    }), 0.05);
    const lambda = parts.find((p) => p.id === 'flatter-lambda-lr0.05')!;
    expect(lambda.effect).toBeCloseTo(Math.log(0.5), 12);
    expect(lambda.verdict).toBe('REPRODUCED');
    expect(parts.find((p) => p.id === 'flatter-m1-lr0.05')!.effect).toBeCloseTo(Math.log(0.5), 2);
  });

  it('a seed whose run diverged leaves its pairs, and a part with fewer than two pairs is refused by name', () => {
    const finals = constructed({
      accuracy: [0.5, 0.6, 0.55],
      lambdaRatio: [0.5, 0.6, 0.55],
      m1Ratio: [0.9, 0.9, 0.8],
      vsLong: [-1, -1.2, -0.9],
    });
    const nan = finalOf(NaN, NaN, NaN);
    const bp = finals.of('bp-svrg');
    const replaced = (bpFinals: FinalMeasurements[]) => ({
      seeds: finals.seeds,
      of: (m: Method) => (m === 'bp-svrg' ? bpFinals : finals.of(m)),
    });
    expect(partsAtRate(0.1, replaced([nan, bp[1]!, bp[2]!]), 0.05).every((p) => p.n === 2)).toBe(true);
    expect(() => partsAtRate(0.1, replaced([nan, nan, bp[2]!]), 0.05)).toThrow(
      /bp-svrg: part 'flatter-lambda-lr0.1' needs at least 2 seeds/,
    );
  });
});

// ---- end to end ------------------------------------------------------------------------------

describe('bp-svrg preset: end to end (smoke size)', () => {
  let result: PresetResult;
  beforeAll(async () => {
    result = await runSmoke(bpSvrgPreset, [1, 2]);
  }, 120_000);

  it('lists every run at both rates, passes its mechanics checks, and has labelled plots of ≤ 10 series', () => {
    expectWellFormed(result, 'bp-svrg');
    const ids = result.runs.map((r) => r.id).sort();
    const trainIds = METHODS.flatMap((m) => LEARNING_RATES.flatMap((lr) => [1, 2].map((s) => `${m}-lr${lr}-seed${s}`)));
    expect(ids).toEqual([...trainIds, 'direction-variance-seed1', 'direction-variance-seed2'].sort());
    for (const [name, ok] of Object.entries(result.checks)) expect(ok, name).toBe(true);
    expect(Object.keys(result.checks)).toContain('SVRG runs cost 3N per epoch (N snapshot + 2N steps)');
    for (const plot of result.plots) expect(plot.series.length).toBeLessThanOrEqual(MAX_SERIES_PER_PLOT);
    const accuracy = result.plots.find((p) => p.id === 'test-accuracy-lr0.1')!;
    for (const s of accuracy.series) {
      expect(s.band!.lower.length).toBe(s.x.length);
      s.y.forEach((y, k) => expect(s.band!.lower[k]!).toBeLessThanOrEqual(y));
      s.y.forEach((y, k) => expect(s.band!.upper[k]!).toBeGreaterThanOrEqual(y));
    }
    // Per-seed values are drawn as points, never joined by a line.
    for (const id of ['paired-accuracy', 'paired-flatness', 'final-lambda-max', 'direction-variance']) {
      expect(result.plots.find((p) => p.id === id)!.series.every((s) => s.style === 'points'), id).toBe(true);
    }
  });

  it('judges four parts at each learning rate, and the verdict follows from the parts', () => {
    const ids = result.claims.map((c) => c.id);
    expect(ids).toEqual(
      LEARNING_RATES.flatMap((lr) =>
        ['flatter-lambda', 'flatter-m1', 'accuracy-vs-b-svrg', 'not-above-sgd-same-evaluations'].map(
          (p) => `${p}-lr${lr}`,
        ),
      ),
    );
    for (const c of result.claims) {
      expect(c.n).toBe(2);
      expect(c.alpha).toBe(0.05);
      expect(c.interval[0]).toBeLessThanOrEqual(c.interval[1]);
    }
    const vs = result.claims.map((c) => c.verdict);
    const allReproduced = vs.every((v) => v === 'REPRODUCED');
    const expected = vs.includes('NOT REPRODUCED') ? 'NOT REPRODUCED' : allReproduced ? 'REPRODUCED' : 'INCONCLUSIVE';
    expect(result.verdict).toBe(expected);
    // The learning-rate change is disclosed on the page.
    expect(result.scaleDown).toMatch(/0\.05/);
    expect(result.scaleDown).toMatch(/0\.1/);
    expect(bpSvrgPreset.claim).toMatch(/0\.05.*0\.1/);
  });
});
