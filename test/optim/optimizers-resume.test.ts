/**
 * Checkpoints of Adam, AdamW, RMSprop, Adagrad (and clipped and SGD rules) through train():
 * train k epochs with a file checkpoint, resume a fresh model and a fresh rule from the file,
 * continue, and compare bit for bit with an uninterrupted run — parameters, losses and the
 * optimizer state — in float64 and float32, with an SVRG direction and a decaying schedule.
 * A checkpoint whose optimizer state does not fit is refused before the model is touched.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gaussianMixture } from '../../src/data/synthetic.js';
import { fileCheckpoint, loadCheckpoint } from '../../src/io/checkpoint-file.js';
import { mlp } from '../../src/nn/zoo.js';
import {
  Adagrad,
  Adam,
  AdamW,
  ClippedUpdate,
  RMSprop,
  schedule,
  SgdUpdate,
  stepDecayLR,
  svrg,
  train,
  type TrainState,
  type UpdateRule,
} from '../../src/optim/index.js';

const data = gaussianMixture({ n: 40, d: 4, classes: 3, seed: 1 });
const dir = mkdtempSync(join(tmpdir(), 'gradscope-optim-resume-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const rules: [string, () => UpdateRule][] = [
  ['adam', () => new Adam({ weightDecay: 0.01 })],
  ['adam amsgrad', () => new Adam({ amsgrad: true, betas: [0.8, 0.95] })],
  ['adamw', () => new AdamW({ weightDecay: 0.05 })],
  ['rmsprop centered momentum', () => new RMSprop({ centered: true, momentum: 0.5, weightDecay: 0.01 })],
  ['rmsprop', () => new RMSprop({ alpha: 0.9 })],
  ['adagrad', () => new Adagrad({ lrDecay: 0.05, initialAccumulatorValue: 0.1 })],
  ['adam clipped by norm', () => new ClippedUpdate(new Adam(), { maxNorm: 0.05 })],
  ['sgd momentum clipped by value', () => new ClippedUpdate(new SgdUpdate({ momentum: 0.9 }), { clipValue: 0.01 })],
];

/** Every number of a state as its float64 bits, so −0 and NaN payloads count. */
const bits = (values: readonly number[]) => Buffer.from(Float64Array.from(values).buffer);

function flatNumbers(v: unknown): number[] {
  if (typeof v === 'number') return [v];
  if (Array.isArray(v)) return v.flatMap(flatNumbers);
  if (v && typeof v === 'object') return Object.values(v).flatMap(flatNumbers);
  return [];
}

describe.each(['float64', 'float32'] as const)('resume bit for bit through a checkpoint file (%s)', (dtype) => {
  const model = (seed = 2) => mlp([4, 6, 3], { seed, dtype, activation: 'tanh' });
  const options = (update: UpdateRule, epochs: number) => ({
    estimator: svrg(),
    update,
    schedule: schedule(stepDecayLR(0.02, 0.5, { every: 1 }), 8),
    epochs,
    seed: 7,
  });

  it.each(rules)('%s', (name, make) => {
    const whole = train(model(), data, options(make(), 4));

    const path = join(dir, `${name.replaceAll(' ', '-')}-${dtype}.json`);
    train(model(), data, { ...options(make(), 2), checkpoint: fileCheckpoint(path, 1) });
    const saved: TrainState = loadCheckpoint(path);
    expect(saved.step).toBe(10);
    expect(saved.update).not.toBeNull();
    const resumed = train(model(99), data, { ...options(make(), 4), resume: saved });

    expect(resumed.steps).toBe(whole.steps);
    expect(bits(resumed.state.parameters.flat()).equals(bits(whole.state.parameters.flat()))).toBe(true);
    expect(bits(resumed.losses).equals(bits(whole.losses))).toBe(true);
    const a = flatNumbers(resumed.state.update);
    expect(a.length).toBeGreaterThan(0);
    expect(bits(a).equals(bits(flatNumbers(whole.state.update)))).toBe(true);
  });
});

describe('a checkpoint whose optimizer state does not fit', () => {
  const model = (seed = 2) => mlp([4, 6, 3], { seed, dtype: 'float64', activation: 'tanh' });
  const run = (update: UpdateRule, epochs: number, extra: object = {}) =>
    train(model(), data, { estimator: svrg(), update, schedule: schedule(0.02, 8), epochs, seed: 7, ...extra });
  const path = join(dir, 'adam.json');
  run(new Adam(), 1, { checkpoint: fileCheckpoint(path, 1) });

  it.each([
    ['another rule', () => new RMSprop(), /rmsprop: restoreState: the state is one of 'adam'; this rule is 'rmsprop'/],
    ['other hyper-parameters', () => new Adam({ eps: 1e-6 }), /adam: restoreState: the state was saved with eps 1e-8; this rule has 0\.000001/],
    ['amsgrad switched on', () => new Adam({ amsgrad: true }), /adam: restoreState: the state was saved with amsgrad false; this rule has true/],
    ['SGD', () => new SgdUpdate({ momentum: 0.9 }), /sgd-momentum: restoreState got a value that is not an SgdUpdate state/],
  ] as const)('is refused for %s, leaving the model as it was', (_name, make, pattern) => {
    const m = model(99);
    const before = Array.from(m.flattenParameters().toTypedArray());
    expect(() => train(m, data, { estimator: svrg(), update: make(), schedule: schedule(0.02, 8), epochs: 2, seed: 7, resume: loadCheckpoint(path) })).toThrow(pattern);
    expect(Array.from(m.flattenParameters().toTypedArray())).toEqual(before);
  });

  it('is refused for a model of other shapes, naming the parameter', () => {
    const saved = loadCheckpoint(path);
    // Transpose the first parameter's state tensors: the same sizes, so only the shape check can see it.
    const update = saved.update as { state: Record<string, { shape: number[] }>[] };
    for (const name of ['exp_avg', 'exp_avg_sq']) {
      const t = update.state[0]![name]!;
      t.shape = [t.shape[1]!, t.shape[0]!];
    }
    expect(() => train(model(), data, { estimator: svrg(), update: new Adam(), schedule: schedule(0.02, 8), epochs: 2, seed: 7, resume: saved })).toThrow(
      /adam: restoreState: state\[0\]\.exp_avg has shape \[4,6\]; parameter 0 has \[6,4\]/,
    );
  });
});
