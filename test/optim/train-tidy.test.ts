/**
 * train() runs each step in a tidy scope (and the snapshot passes one scope per chunk): the
 * memory a step frees is reused by the next. These tests check that no step reads memory that
 * tidy gave back. Each run is repeated twice. The first run has a pool that holds nothing, so
 * every allocation is fresh, as without tidy. The second has a pool that fills every array it
 * takes back with NaN. A tensor stored across steps without keep() would throw. A raw array still
 * read after its release would show NaN. Either would make the two runs differ. They must agree
 * to the bit, on both CPU backends, for every estimator, with BatchNorm and dropout in the model.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { gaussianMixture } from '../../src/data/synthetic.js';
import { getBackend, setBackend } from '../../src/kernels/registry.js';
import { mlp } from '../../src/nn/zoo.js';
import { makeBatch as stackSamples } from '../../src/data/sampler.js';
import type { Dataset } from '../../src/data/dataset.js';
import type { Batch } from '../../src/nn/per-sample.js';
import type { Estimator, StepContext } from '../../src/optim/estimator.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { SagaEstimator } from '../../src/optim/saga.js';
import { schedule } from '../../src/optim/schedules.js';
import { SgdEstimator } from '../../src/optim/sgd.js';
import { SgdUpdate } from '../../src/optim/sgd-update.js';
import { ScsgEstimator, StreamingSvrgEstimator } from '../../src/optim/streaming.js';
import { bpSvrg, svrg } from '../../src/optim/svrg.js';
import { train } from '../../src/optim/train.js';
import { setTidyPoolTesting, tidy, tidyPoolSize } from '../../src/tensor/tidy.js';

const data = gaussianMixture({ n: 96, d: 24, classes: 4, seed: 1 });
const model = () => mlp([24, 64, 64, 4], { seed: 2, batchNorm: true, dropout: 0.2 });

const ESTIMATORS: [string, () => Estimator][] = [
  ['sgd', () => new SgdEstimator()],
  ['svrg, a snapshot every epoch', () => svrg({ chunkSize: 40 })],
  ['svrg, every 4 steps at a random point', () => svrg({ interval: { steps: 4 }, point: 'random', chunkSize: 40 })],
  ['bp-svrg without locking', () => bpSvrg({ locking: false, chunkSize: 40 })],
  ['streaming svrg', () => new StreamingSvrgEstimator({ megaBatchFactor: 3, chunkSize: 20 })],
  ['scsg, inner batches from the mega-batch', () => new ScsgEstimator({ megaBatchFactor: 3, innerSteps: 4, chunkSize: 20 })],
];

/** The run's losses, final parameters and estimator state, and the pool's bytes at each epoch's end. */
function run(estimator: Estimator) {
  const m = model();
  const poolAtEpochEnd: number[] = [];
  const result = train(m, data, {
    estimator,
    update: new SgdUpdate({ momentum: 0.9 }),
    schedule: schedule(0.05, 16),
    epochs: 4,
    seed: 3,
    onEpochEnd: () => poolAtEpochEnd.push(tidyPoolSize().bytes),
  });
  return { losses: result.losses, parameters: result.state.parameters, estimator: estimator.saveState?.(), poolAtEpochEnd };
}

const initialBackend = getBackend().name;
afterEach(() => {
  setTidyPoolTesting();
  setBackend(initialBackend);
});

describe.each(['cpu', 'wasm'] as const)('train() in tidy scopes on the %s backend', (backend) => {
  it.each(ESTIMATORS)('%s: the same bits whether freed memory is reused (poisoned) or never', (_, make) => {
    setBackend(backend);
    expect(getBackend().name).toBe(backend);
    setTidyPoolTesting({ maxBytes: 0 });
    const fresh = run(make());
    setTidyPoolTesting({ poison: true });
    const reused = run(make());
    expect(fresh.poolAtEpochEnd.every((bytes) => bytes === 0)).toBe(true);
    // The scopes did hand memory back (or this test would compare two fresh runs).
    expect(reused.poolAtEpochEnd.every((bytes) => bytes > 0)).toBe(true);
    expect(reused.losses.every(Number.isFinite)).toBe(true);
    expect(reused.losses).toEqual(fresh.losses);
    expect(reused.parameters).toEqual(fresh.parameters);
    expect(reused.estimator).toEqual(fresh.estimator);
  });

  it('the pool stays the size of one epoch: it does not grow from epoch to epoch', () => {
    setBackend(backend);
    const { poolAtEpochEnd } = run(svrg({ chunkSize: 40 }));
    expect(new Set(poolAtEpochEnd.slice(1)).size).toBe(1);
  });

  it('a makeBatch that hands out cached batches again works: batches are never released', () => {
    setBackend(backend);
    // One batch of the whole dataset, its samples in index order: every epoch's step asks for
    // the same batch, and from the second epoch on the cache hands out the first one's tensors.
    const sorted = (d: Dataset, indices: readonly number[]) => stackSamples(d, [...indices].sort((a, b) => a - b), { seed: 0, dtype: 'float32' });
    const cache = new Map<string, Batch>();
    const cached = (d: Dataset, indices: readonly number[]) => {
      const key = [...indices].sort((a, b) => a - b).join(',');
      if (!cache.has(key)) cache.set(key, sorted(d, indices));
      return cache.get(key)!;
    };
    const options = { update: new SgdUpdate(), schedule: schedule(0.05, 96), epochs: 3, seed: 3 };
    const withCache = train(model(), data, { ...options, estimator: new SgdEstimator(), makeBatch: cached });
    const fresh = train(model(), data, { ...options, estimator: new SgdEstimator(), makeBatch: sorted });
    expect(cache.size).toBe(1);
    expect(withCache.losses).toEqual(fresh.losses);
  });

  it('a custom estimator that stores a tensor without keep() fails loudly at the next step, naming tidy and train()', () => {
    setBackend(backend);
    class Careless implements Estimator {
      readonly name = 'careless';
      readonly cost = 0;
      private previous: Tensor[] | null = null;
      private readonly inner = new SgdEstimator();
      direction(context: StepContext, batch: Batch): Tensor[] {
        const d = this.inner.direction(context, batch);
        const average = this.previous ? d.map((t, k) => t.add(this.previous![k]!).div(2)) : d;
        this.previous = d;
        return average;
      }
    }
    const options = { update: new SgdUpdate(), schedule: schedule(0.05, 16), epochs: 1, seed: 3 };
    expect(() => train(model(), data, { ...options, estimator: new Careless() })).toThrow(/released by tidy\(\).*train\(\) runs each step in tidy/);
  });

  it('saga: its table entries and their mean outlive the step that made them', () => {
    setBackend(backend);
    // SAGA needs the same minibatches every epoch, which train() does not deal: a loop of its own.
    const partition = Array.from({ length: 6 }, (_, k) => Array.from({ length: 16 }, (_, i) => 16 * k + i));
    const sagaRun = () => {
      const m = model();
      const e = new SagaEstimator({ partition, seed: 4 });
      const rule = new SgdUpdate({ momentum: 0.9 });
      const makeBatch = (indices: readonly number[], seed?: number) => stackSamples(data, indices, { seed: seed ?? 0, dtype: 'float32' });
      const losses: number[] = [];
      for (let epoch = 0; epoch < 3; epoch++) {
        partition.forEach((indices, k) => {
          const context: StepContext = { model: m, data, epoch, step: 6 * epoch + k, stepInEpoch: k, stepsInEpoch: 6, makeBatch, indices };
          tidy(() => rule.step(m.parameters(), e.direction(context, makeBatch(indices, 6 * epoch + k)), 0.05));
          losses.push(e.lastLoss);
        });
      }
      return { losses, parameters: Array.from(m.flattenParameters().toTypedArray()), table: e.saveState() };
    };
    setTidyPoolTesting({ maxBytes: 0 });
    const fresh = sagaRun();
    setTidyPoolTesting({ poison: true });
    const reused = sagaRun();
    expect(tidyPoolSize().bytes).toBeGreaterThan(0);
    expect(reused).toEqual(fresh);
  });
});
