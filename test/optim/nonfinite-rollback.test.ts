/**
 * A step refused for a non-finite loss or direction leaves everything as it was before the
 * step: parameters, BatchNorm running statistics (bit for bit) and the estimator's state. The
 * step's train-mode forwards (and, with locking off, the SVRG snapshot pass at an epoch start)
 * have already written NaN into the running statistics by the time the loss is seen; the loop
 * must undo them.
 */
import { describe, expect, it } from 'vitest';
import type { Dataset } from '../../src/data/dataset.js';
import { gaussianMixture } from '../../src/data/synthetic.js';
import type { Module } from '../../src/nn/module.js';
import { mlp } from '../../src/nn/zoo.js';
import { alphaSvrg, NonFiniteError, SagaEstimator, ScsgEstimator, schedule, SgdEstimator, SgdUpdate, StreamingSvrgEstimator, svrg, train, type Estimator } from '../../src/optim/index.js';
import { contextOf, makeBatch, partition } from './helpers.js';

const clean = gaussianMixture({ n: 64, d: 4, classes: 3, seed: 1 });
const bnModel = () => mlp([4, 8, 3], { seed: 2, dtype: 'float64', activation: 'tanh', batchNorm: true });

/** The data, with every sample NaN once `armed` is set (from a hook, just before a chosen step). */
function poisonable(): { data: Dataset; arm: () => void } {
  let armed = false;
  const data: Dataset = {
    ...clean,
    name: 'poisonable',
    get: (i) => {
      const s = clean.get(i);
      return armed ? { ...s, x: s.x.map(() => NaN) } : s;
    },
  };
  return { data, arm: () => (armed = true) };
}

const bytes = (a: ArrayLike<number> & { buffer: ArrayBufferLike; byteOffset: number; byteLength: number }) => Array.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));

/** Parameters and buffers as raw bytes (bit-identical comparison), and the estimator's state. */
function snapshot(model: Module, estimator: Estimator) {
  return {
    parameters: model.parameters().map((p) => bytes(p.toTypedArray())),
    buffers: [...model.saveStats()].map(([name, values]) => [name, bytes(values)]),
    estimator: JSON.stringify(estimator.saveState?.() ?? null),
  };
}

/** Train until the armed step is refused; return the state seen just before it and the state after. */
function refuse(estimator: Estimator, where: { epoch: number; stepInEpoch: number }) {
  const model = bnModel();
  const { data, arm } = poisonable();
  let before: ReturnType<typeof snapshot> | null = null;
  const stepsInEpoch = Math.ceil(data.length / 16);
  const take = () => {
    before = snapshot(model, estimator);
    arm();
  };
  let error: unknown;
  try {
    train(model, data, {
      estimator,
      update: new SgdUpdate({ momentum: 0.9 }),
      schedule: schedule(0.05, 16),
      epochs: 3,
      seed: 3,
      // Step k > 0: the hook runs at the start of the step, before its batch is built. Step 0:
      // the end of the previous epoch, before the next epoch's snapshot.
      positions: where.stepInEpoch > 0 ? [(where.stepInEpoch + 0.5) / stepsInEpoch] : [],
      onPosition: (info) => {
        if (info.epoch === where.epoch) take();
      },
      onEpochEnd: (info) => {
        if (where.stepInEpoch === 0 && info.epoch + 1 === where.epoch) take();
      },
    });
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(NonFiniteError);
  expect((error as NonFiniteError).epoch).toBe(where.epoch);
  expect((error as NonFiniteError).step).toBe(where.epoch * stepsInEpoch + where.stepInEpoch);
  expect(before).not.toBeNull();
  return { before: before!, after: snapshot(model, estimator) };
}

describe('a refused step leaves the model and the estimator as they were', () => {
  it('SGD: BatchNorm running statistics are bit-identical to those before the step', () => {
    const { before, after } = refuse(new SgdEstimator(), { epoch: 1, stepInEpoch: 2 });
    // The running statistics had moved away from their initial 0 / 1 before the bad step.
    expect(before.buffers.length).toBe(2);
    expect(after.buffers).toEqual(before.buffers);
    expect(after.parameters).toEqual(before.parameters);
    expect(after.estimator).toBe(before.estimator);
  });

  it('SVRG (locked): buffers, parameters and the snapshot state are as before the step', () => {
    const { before, after } = refuse(svrg(), { epoch: 1, stepInEpoch: 2 });
    expect(after.buffers).toEqual(before.buffers);
    expect(after.parameters).toEqual(before.parameters);
    expect(after.estimator).toBe(before.estimator);
  });

  it('SVRG without locking, refused at an epoch start: the snapshot pass that updated the statistics is undone too', () => {
    const estimator = svrg({ locking: false, point: { ema: 0.5 } });
    const { before, after } = refuse(estimator, { epoch: 1, stepInEpoch: 0 });
    expect(after.buffers).toEqual(before.buffers);
    expect(after.parameters).toEqual(before.parameters);
    // The epoch-1 snapshot (μ̃ = NaN over the poisoned data) was taken back with its step.
    expect(after.estimator).toBe(before.estimator);
    expect(JSON.parse(after.estimator).mu.data.every(Number.isFinite)).toBe(true);
  });

  it('streaming SVRG: a new mega-batch taken inside the refused step is undone', () => {
    const { before, after } = refuse(new StreamingSvrgEstimator({ megaBatchFactor: 2, innerSteps: 2, locking: false }), { epoch: 1, stepInEpoch: 2 });
    expect(after.buffers).toEqual(before.buffers);
    expect(after.parameters).toEqual(before.parameters);
    expect(after.estimator).toBe(before.estimator);
  });
});

describe('Estimator.rollbackPoint puts back everything a step changed', () => {
  const cases: [string, () => Estimator][] = [
    ['sgd', () => new SgdEstimator()],
    ['svrg, step interval, tail point', () => svrg({ interval: { steps: 2 }, point: { tail: 0.5 } })],
    ['alpha-svrg, random point, unlocked', () => alphaSvrg(0.5, { point: 'random', locking: false })],
    ['streaming-svrg', () => new StreamingSvrgEstimator({ megaBatchFactor: 2, innerSteps: 1 })],
    ['scsg, fixed inner steps', () => new ScsgEstimator({ megaBatchFactor: 2, innerSteps: 2 })],
    ['saga', () => new SagaEstimator({ partition })],
  ];
  it.each(cases)('%s', (_name, make) => {
    const model = mlp([3, 5, 3], { seed: 4, dtype: 'float64', activation: 'tanh' });
    const estimator = make();
    const update = new SgdUpdate();
    // A few accepted steps first, so that there is state to lose.
    partition.slice(0, 3).forEach((indices, k) => {
      const context = contextOf(model, { step: k, stepInEpoch: k, indices });
      if (k === 0) estimator.startEpoch?.(context);
      update.step(model.parameters(), estimator.direction(context, makeBatch(indices, k)), 0.1);
    });
    const before = JSON.stringify(estimator.saveState!());
    const restore = estimator.rollbackPoint!();
    const context = contextOf(model, { step: 3, stepInEpoch: 3, indices: partition[3]! });
    estimator.direction(context, makeBatch(partition[3]!, 3));
    expect(JSON.stringify(estimator.saveState!())).not.toBe(before);
    restore();
    expect(JSON.stringify(estimator.saveState!())).toBe(before);
  });
});
