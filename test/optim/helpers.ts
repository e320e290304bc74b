/** A tiny classification problem, its batches and a step context, for the optimizer tests. */
import { randn, tensor } from '../../src/index.js';
import type { Dataset } from '../../src/data/dataset.js';
import type { Module } from '../../src/nn/module.js';
import type { Batch } from '../../src/nn/per-sample.js';
import type { Estimator, StepContext, UpdateRule } from '../../src/optim/estimator.js';

export const N = 12;
export const D = 3;
const X = randn([N, D], { seed: 11, dtype: 'float64' }).toTypedArray();
const Y = Array.from({ length: N }, (_, i) => (i * 7) % 3);

export const data: Dataset = {
  name: 'toy',
  length: N,
  sampleShape: [D],
  classes: 3,
  get: (i) => ({ x: Float64Array.from(X.slice(i * D, (i + 1) * D)), y: Y[i]!, id: 100 + i }),
};

/** Batch of dataset indices; sample ids are the dataset's stable ids. */
export function makeBatch(indices: readonly number[], seed = 0): Batch {
  const rows = new Float64Array(indices.length * D);
  indices.forEach((i, k) => rows.set(X.slice(i * D, (i + 1) * D), k * D));
  return { x: tensor(rows, { shape: [indices.length, D], dtype: 'float64' }), targets: indices.map((i) => Y[i]!), sampleIds: indices.map((i) => 100 + i), seed };
}

/** The fixed partition into 4 blocks of 3. */
export const partition = [
  [0, 5, 9],
  [1, 4, 11],
  [2, 7, 8],
  [3, 6, 10],
];

export function contextOf(model: Module, over: Partial<StepContext> = {}): StepContext {
  return { model, data, epoch: 0, step: 0, stepInEpoch: 0, stepsInEpoch: partition.length, makeBatch, ...over };
}

export const flat = (model: Module) => Array.from(model.flattenParameters().toTypedArray());
export const flatOf = (ts: readonly { toTypedArray(): ArrayLike<number>; contiguous(): any }[]) => ts.flatMap((t) => Array.from(t.contiguous().toTypedArray() as ArrayLike<number>));

/** Train over epochs of index lists; batch seed = 1000·epoch + step. Returns the trajectory. */
export function train(model: Module, estimator: Estimator, update: UpdateRule, epochs: readonly (readonly number[][])[], lr: number): number[][] {
  const trajectory: number[][] = [];
  let step = 0;
  epochs.forEach((batches, epoch) => {
    estimator.startEpoch?.(contextOf(model, { epoch, step, stepsInEpoch: batches.length }));
    batches.forEach((indices, stepInEpoch) => {
      const context = contextOf(model, { epoch, step, stepInEpoch, stepsInEpoch: batches.length, indices });
      const direction = estimator.direction(context, makeBatch(indices, 1000 * epoch + step));
      update.step(model.parameters(), direction, lr);
      trajectory.push(flat(model));
      step++;
    });
  });
  return trajectory;
}
