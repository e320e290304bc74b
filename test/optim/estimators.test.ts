/**
 * The estimators (docs/design.md §9) on a tiny float64 problem: SVRG's direction at w = w̃ is μ̃,
 * unbiasedness over a full partition at a fixed point, BP-SVRG's 4× variance at w = w̃,
 * dropout locking, BatchNorm reset, snapshot points, cost counting, determinism, save/restore.
 */
import { describe, expect, it } from 'vitest';
import { estimatorVariance } from '../../src/analysis/gradient-stats.js';
import { mlp } from '../../src/nn/zoo.js';
import type { Module } from '../../src/nn/module.js';
import { randn, tensor } from '../../src/index.js';
import type { Estimator } from '../../src/optim/estimator.js';
import { batchGradientAt } from '../../src/optim/gradient.js';
import { SagaEstimator } from '../../src/optim/saga.js';
import { SgdEstimator } from '../../src/optim/sgd.js';
import { SgdUpdate } from '../../src/optim/sgd-update.js';
import { ScsgEstimator, StreamingSvrgEstimator } from '../../src/optim/streaming.js';
import { alphaSvrg, bpSvrg, bSvrg, svrg, SvrgEstimator } from '../../src/optim/svrg.js';
import { contextOf, flat, flatOf, makeBatch, N, partition, train } from './helpers.js';

const f64 = { dtype: 'float64' as const };
const all = Array.from({ length: N }, (_, i) => i);

function model(options: { dropout?: number; batchNorm?: boolean } = {}): Module {
  return mlp([3, 6, 3], { seed: 3, activation: 'tanh', ...f64, ...options });
}

/** Move the model away from where it is (a fixed perturbation). */
function perturb(m: Module, seed = 5): void {
  const w = m.flattenParameters();
  m.assignParameters(m.unflattenParameters(w.add(randn([w.size], { seed, ...f64 }).mul(0.2))).map((t) => t.contiguous()));
}

/** The direction of every block of the partition at the current point, each from the same estimator state. */
function blockDirections(m: Module, e: Estimator, seed = 7): number[][] {
  return partition.map((indices, k) => {
    const state = e.saveState?.();
    const v = flatOf(e.direction(contextOf(m, { stepInEpoch: k, indices }), makeBatch(indices, seed + k)));
    if (state !== undefined) e.restoreState!(state);
    return v;
  });
}

const mean = (rows: number[][]) => rows[0]!.map((_, j) => rows.reduce((s, r) => s + r[j]!, 0) / rows.length);
const fullGradient = (m: Module) => Array.from(batchGradientAt(m, makeBatch(all), m.flattenParameters()).grad.toTypedArray());

describe('SVRG family', () => {
  it('the SVRG direction at w = w̃ is exactly μ̃, and μ̃ is the full gradient', () => {
    const m = model();
    const e = svrg();
    e.startEpoch(contextOf(m));
    const mu = Array.from(e.snapshot!.mu.toTypedArray());
    fullGradient(m).forEach((g, j) => expect(mu[j]).toBeCloseTo(g, 13));
    for (const v of blockDirections(m, e)) expect(v).toEqual(mu);
  });

  it.each([
    ['svrg', () => svrg()],
    ['b-svrg', () => bSvrg()],
    ['bp-svrg', () => bpSvrg()],
    ['alpha-svrg', () => alphaSvrg(0.6)],
  ])('%s is unbiased: the mean direction over a partition is the full gradient (w ≠ w̃)', (_name, make) => {
    const m = model();
    const e = make();
    e.startEpoch(contextOf(m));
    perturb(m);
    const got = mean(blockDirections(m, e));
    fullGradient(m).forEach((g, j) => expect(got[j]).toBeCloseTo(g, 12));
  });

  it("BP-SVRG's variance at w = w̃ is exactly 4× SGD's; SVRG's is 0", () => {
    const m = model();
    const sgdRows = blockDirections(m, new SgdEstimator());
    const bp = bpSvrg();
    bp.startEpoch(contextOf(m));
    const s = svrg();
    s.startEpoch(contextOf(m));
    const vSgd = estimatorVariance(sgdRows);
    expect(vSgd).toBeGreaterThan(1e-4);
    expect(estimatorVariance(blockDirections(m, bp)) / vSgd).toBeCloseTo(4, 12);
    expect(estimatorVariance(blockDirections(m, s))).toBe(0);
  });

  it('with locking the variance at the first step of an epoch is 0 even with dropout; without locking it is not', () => {
    const locked = svrg();
    const m = model({ dropout: 0.5 });
    locked.startEpoch(contextOf(m));
    expect(estimatorVariance(blockDirections(m, locked))).toBe(0);
    const unlocked = svrg({ locking: false });
    unlocked.startEpoch(contextOf(m));
    expect(estimatorVariance(blockDirections(m, unlocked))).toBeGreaterThan(1e-6);
  });

  it('BatchNorm running statistics are bit-identical before and after a snapshot pass with locking', () => {
    const m = model({ batchNorm: true });
    const before = m.saveStats();
    const e = svrg();
    e.startEpoch(contextOf(m));
    expect(m.saveStats()).toEqual(before);
    // A step's statistics are those of the plain train forward at w, as with SGD.
    const twin = model({ batchNorm: true });
    e.direction(contextOf(m, { indices: partition[0] }), makeBatch(partition[0]!, 3));
    new SgdEstimator().direction(contextOf(twin), makeBatch(partition[0]!, 3));
    expect(m.saveStats()).toEqual(twin.saveStats());
    expect(m.saveStats()).not.toEqual(before);
    // Without locking the snapshot pass updates them (the ablation).
    const m2 = model({ batchNorm: true });
    svrg({ locking: false }).startEpoch(contextOf(m2));
    expect(m2.saveStats()).not.toEqual(before);
  });

  it('α-SVRG: α decays linearly to 0 and is held within a snapshot interval', () => {
    const e = alphaSvrg({ initial: 0.8, totalSteps: 8 }, { interval: { steps: 4 } });
    expect([0, 4, 8, 12].map((t) => e.coefficientAt(t))).toEqual([0.8, 0.4, 0, 0]);
    const m = model();
    train(m, e, new SgdUpdate(), [partition, partition], 0.1);
    // Snapshots at steps 0 and 4 (interval of 4 steps); after step 4 the coefficient is α(4).
    expect(e.snapshot!.coefficient).toBeCloseTo(0.4, 15);
  });

  it("tail averaging of 100 % gives the mean of the interval's iterates; 'last' the last one", () => {
    const m = model();
    const e = svrg({ interval: { steps: 4 }, point: { tail: 1 } });
    const trajectory = train(m, e, new SgdUpdate(), [partition, [partition[0]!]], 0.1);
    const want = mean(trajectory.slice(0, 4));
    Array.from(e.snapshot!.wTilde.toTypedArray()).forEach((v, j) => expect(v).toBeCloseTo(want[j]!, 14));
    const last = svrg({ interval: { steps: 4 } });
    const t2 = train(model(), last, new SgdUpdate(), [partition, [partition[0]!]], 0.1);
    expect(Array.from(last.snapshot!.wTilde.toTypedArray())).toEqual(t2[3]);
  });

  it('counts cost in sample-gradient evaluations: N per snapshot, 2b per step', () => {
    const e = svrg();
    train(model(), e, new SgdUpdate(), [partition, partition], 0.1);
    expect(e.cost).toBe(2 * N + 2 * 2 * N);
    const s = new SgdEstimator();
    train(model(), s, new SgdUpdate(), [partition], 0.1);
    expect(s.cost).toBe(N);
  });

  it('rejects bad options, naming the estimator', () => {
    expect(() => new SvrgEstimator({ variant: 'alpha-svrg' })).toThrow(/alpha-svrg: alpha/);
    expect(() => bpSvrg({ interval: { epochs: 0 } })).toThrow(/bp-svrg: the snapshot interval/);
    expect(() => svrg({ point: { tail: 2 } })).toThrow(/svrg: snapshot point/);
    expect(() => svrg().restoreState(null)).toThrow(/svrg: restoreState/);
  });
});

describe('mega-batch estimators and SAGA', () => {
  it('streaming SVRG and SCSG with a mega-batch of all the data are unbiased at a fixed point', () => {
    for (const e of [new StreamingSvrgEstimator({ megaBatchFactor: 4 }), new ScsgEstimator({ megaBatchFactor: 4 })]) {
      const m = model();
      e.direction(contextOf(m), makeBatch(partition[0]!, 1)); // draws M (|M| = 4·3 = N) at w̃
      perturb(m);
      const got = mean(blockDirections(m, e));
      fullGradient(m).forEach((g, j) => expect(got[j]).toBeCloseTo(g, 12));
    }
  });

  it("streaming SVRG's first step after a mega-batch is g̃; a new mega-batch comes every m steps", () => {
    const m = model();
    const e = new StreamingSvrgEstimator({ megaBatchFactor: 2, innerSteps: 3, seed: 4 });
    const v = flatOf(e.direction(contextOf(m), makeBatch(partition[0]!, 1)));
    expect(v).toEqual(Array.from(e.snapshot!.gTilde.toTypedArray()));
    expect(e.snapshot!.megaBatch.length).toBe(6);
    expect(e.cost).toBe(6 + 6);
    train(m, e, new SgdUpdate(), [partition], 0.1);
    expect(e.cost).toBe(6 + 6 + 6 + 4 * 6); // one more mega-batch after 3 steps
  });

  it('SCSG draws geometric inner loops with mean B/b, or fixed loops over minibatches of M', () => {
    const e = new ScsgEstimator({ megaBatchFactor: 4, seed: 9 });
    const lengths: number[] = [];
    for (let i = 0; i < 4000; i++) lengths.push((e as any).innerSteps(40, 4));
    expect(Math.min(...lengths)).toBeGreaterThanOrEqual(1);
    expect(lengths.reduce((a, b) => a + b, 0) / lengths.length).toBeCloseTo(10, 0);
    const fixed = new ScsgEstimator({ megaBatchFactor: 2, innerSteps: 10, seed: 1 });
    const m = model();
    train(m, fixed, new SgdUpdate(), [partition, partition, partition], 0.05);
    expect(fixed.cost).toBe(2 * 6 + 12 * 6); // 12 steps = 2 mega-batches (10 inner steps each)
  });

  it('SAGA with its table filled is unbiased at a fixed point, and identifies blocks by indices', () => {
    const m = model();
    const e = new SagaEstimator({ partition });
    e.startEpoch(contextOf(m));
    expect(e.cost).toBe(N);
    perturb(m);
    const got = mean(blockDirections(m, e));
    fullGradient(m).forEach((g, j) => expect(got[j]).toBeCloseTo(g, 12));
    expect(() => e.direction(contextOf(m, { indices: [0, 1, 2] }), makeBatch([0, 1, 2]))).toThrow(/saga: the batch \[0, 1, 2\] is not one of/);
    expect(() => e.direction(contextOf(m), makeBatch([0, 1, 2]))).toThrow(/saga: the loop must pass context.indices/);
  });

  it('SGD is unbiased: the mean over a partition is the full gradient', () => {
    const m = model();
    const got = mean(blockDirections(m, new SgdEstimator()));
    fullGradient(m).forEach((g, j) => expect(got[j]).toBeCloseTo(g, 13));
  });
});

describe('determinism and checkpoints', () => {
  const epochs = [partition, [...partition].reverse(), partition];
  const runs: [string, () => Estimator][] = [
    ['svrg (random snapshot point)', () => svrg({ point: 'random', seed: 3 })],
    ['bp-svrg (EMA snapshot)', () => bpSvrg({ point: { ema: 0.5 }, interval: { steps: 5 } })],
    ['svrg unlocked', () => svrg({ locking: false, seed: 2 })],
    ['scsg', () => new ScsgEstimator({ megaBatchFactor: 2, seed: 6 })],
    ['streaming-svrg', () => new StreamingSvrgEstimator({ megaBatchFactor: 2, innerSteps: 2, seed: 6 })],
    ['saga', () => new SagaEstimator({ partition })],
  ];

  it.each(runs)('%s: the same seed gives a bit-identical trajectory (dropout model)', (_name, make) => {
    const a = train(model({ dropout: 0.3 }), make(), new SgdUpdate({ momentum: 0.9 }), epochs, 0.05);
    const b = train(model({ dropout: 0.3 }), make(), new SgdUpdate({ momentum: 0.9 }), epochs, 0.05);
    expect(a).toEqual(b);
    expect(a.every((row) => row.every(Number.isFinite))).toBe(true);
  });

  it.each(runs)('%s: save/restore (through JSON) resumes bit-identically', (_name, make) => {
    const m = model({ dropout: 0.3 });
    const e = make();
    const u = new SgdUpdate({ momentum: 0.9 });
    train(m, e, u, [partition], 0.05);
    const saved = JSON.parse(JSON.stringify({ e: e.saveState!(), u: u.saveState(), w: flat(m) }));
    const rest = [epochs[1]!, epochs[2]!];
    const continued = trainFrom(m, e, u, rest);
    const m2 = model({ dropout: 0.3 });
    m2.assignParameters(m2.unflattenParameters(tensor(saved.w, f64)).map((t) => t.contiguous()));
    const e2 = make();
    e2.restoreState!(saved.e);
    const u2 = new SgdUpdate({ momentum: 0.9 });
    u2.restoreState(saved.u);
    expect(trainFrom(m2, e2, u2, rest)).toEqual(continued);
  });
});

/** Continue training from epoch 1 (so seeds match the uninterrupted run). */
function trainFrom(m: Module, e: Estimator, u: SgdUpdate, epochs: number[][][]): number[][] {
  const out: number[][] = [];
  let step = partition.length;
  epochs.forEach((batches, k) => {
    const epoch = k + 1;
    e.startEpoch?.(contextOf(m, { epoch, step, stepsInEpoch: batches.length }));
    batches.forEach((indices, stepInEpoch) => {
      const dir = e.direction(contextOf(m, { epoch, step, stepInEpoch, stepsInEpoch: batches.length, indices }), makeBatch(indices, 1000 * epoch + step));
      u.step(m.parameters(), dir, 0.05);
      out.push(flat(m));
      step++;
    });
  });
  return out;
}
