/**
 * The training loop: learning happens, hooks fire where asked, the first non-finite value
 * stops the run with its step, the same seed gives bit-identical runs, and a run resumed from
 * a checkpoint file continues bit-identically (SVRG state included), and `maxSteps` stops a run
 * at a step from which it resumes bit-identically.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Dataset } from '../../src/data/dataset.js';
import { epochPermutation } from '../../src/data/sampler.js';
import { gaussianMixture } from '../../src/data/synthetic.js';
import { fileCheckpoint, loadCheckpoint } from '../../src/io/checkpoint-file.js';
import { mlp } from '../../src/nn/zoo.js';
import { schedule, SgdEstimator, SgdUpdate, svrg, train, NonFiniteError, type StepInfo, type TrainState } from '../../src/optim/index.js';

const data = gaussianMixture({ n: 96, d: 4, classes: 3, seed: 1 });
const model = (seed = 2) => mlp([4, 8, 3], { seed, dtype: 'float64', activation: 'tanh' });

describe('train', () => {
  it('lowers the loss with SGD + momentum and reports hooks at the asked positions', () => {
    const m = model();
    const positions: StepInfo[] = [];
    const ends: number[] = [];
    const result = train(m, data, {
      estimator: new SgdEstimator(),
      update: new SgdUpdate({ momentum: 0.9 }),
      schedule: schedule(0.1, 16),
      epochs: 4,
      seed: 3,
      positions: [0.02, 0.5, 0.98],
      onPosition: (info) => positions.push(info),
      onEpochEnd: (info) => ends.push(info.meanLoss),
    });
    expect(result.steps).toBe(4 * 6);
    expect(ends[3]!).toBeLessThan(ends[0]! * 0.8);
    expect(positions.map((p) => [p.epoch, p.stepInEpoch])).toEqual([0, 1, 2, 3].flatMap((e) => [[e, 0], [e, 3], [e, 5]]));
    expect(result.cost).toBe(4 * 96);
  });

  it('stops at the first non-finite loss, naming the step, with the parameters before it', () => {
    // One sample carries a NaN feature: the step whose batch holds it must stop the run.
    const poisoned = 40;
    const bad: Dataset = {
      name: 'poisoned',
      length: data.length,
      sampleShape: data.sampleShape,
      classes: data.classes,
      get: (i) => {
        const s = data.get(i);
        if (i !== poisoned) return s;
        const x = s.x.slice();
        x[0] = NaN;
        return { ...s, x };
      },
    };
    const expectedStep = Math.floor(Array.from(epochPermutation(data.length, 3, 0)).indexOf(poisoned) / 16);
    const m = model();
    let error: unknown;
    try {
      train(m, bad, { estimator: new SgdEstimator(), update: new SgdUpdate(), schedule: schedule(0.1, 16), epochs: 2, seed: 3 });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(NonFiniteError);
    expect((error as NonFiniteError).step).toBe(expectedStep);
    expect((error as Error).message).toMatch(new RegExp(`^train: non-finite (loss|gradient) at step ${expectedStep} \\(epoch 0\\)`));
    // The poisoned step was not applied: every parameter is still finite.
    expect(Array.from(m.flattenParameters().toTypedArray()).every(Number.isFinite)).toBe(true);
  });

  it('the same seed gives bit-identical runs; a checkpointed run resumes bit-identically', () => {
    const run = (epochs: number, extra: object = {}) => {
      const m = model();
      const r = train(m, data, { estimator: svrg(), update: new SgdUpdate({ momentum: 0.9 }), schedule: schedule(0.05, 16), epochs, seed: 5, ...extra });
      return r;
    };
    const a = run(3);
    const b = run(3);
    expect(b.state.parameters).toEqual(a.state.parameters);
    expect(b.losses).toEqual(a.losses);

    const dir = mkdtempSync(join(tmpdir(), 'gradscope-train-'));
    try {
      const path = join(dir, 'ckpt.json');
      run(2, { checkpoint: fileCheckpoint(path, 1) });
      const saved: TrainState = loadCheckpoint(path);
      expect(saved.epoch).toBe(2);
      const m = model(99); // different init: everything must come from the checkpoint
      const resumed = train(m, data, { estimator: svrg(), update: new SgdUpdate({ momentum: 0.9 }), schedule: schedule(0.05, 16), epochs: 3, seed: 5, resume: saved });
      expect(resumed.state.parameters).toEqual(a.state.parameters);
      expect(resumed.losses).toEqual(a.losses);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('maxSteps stops before that global step, mid-epoch or at an epoch start, and the state resumes bit-identically', () => {
    // A fresh estimator and update rule (momentum) for every run.
    const options = () => ({ estimator: svrg(), update: new SgdUpdate({ momentum: 0.9 }), schedule: schedule(0.05, 16), epochs: 3, seed: 5 });
    const full = train(model(), data, options());
    expect(full.stopped).toBe('epochs');
    // 6 steps an epoch: 8 stops in epoch 1 at step 2, 12 before epoch 2 (its snapshot not taken).
    for (const [maxSteps, epoch, stepInEpoch, epochEnds] of [[8, 1, 2, 1], [12, 2, 0, 2], [0, 0, 0, 0]] as const) {
      const ends: number[] = [];
      const estimator = svrg();
      const cut = train(model(), data, { ...options(), estimator, maxSteps, onEpochEnd: (info) => ends.push(info.epoch) });
      expect(cut.stopped).toBe('maxSteps');
      expect(cut.steps).toBe(maxSteps);
      expect([cut.state.epoch, cut.state.stepInEpoch, cut.state.step]).toEqual([epoch, stepInEpoch, maxSteps]);
      expect(cut.losses).toEqual(full.losses.slice(0, maxSteps));
      expect(ends).toEqual([0, 1].slice(0, epochEnds));
      // SVRG's cost: a full pass (96 gradients) per epoch begun, 2 × 16 a step (at w and at the snapshot).
      expect(estimator.cost).toBe(96 * (epoch + (stepInEpoch > 0 ? 1 : 0)) + 32 * maxSteps);
      const resumed = train(model(99), data, { ...options(), resume: JSON.parse(JSON.stringify(cut.state)) as TrainState });
      expect(resumed.state.parameters).toEqual(full.state.parameters);
      expect(resumed.losses).toEqual(full.losses);
    }
    const beyond = train(model(), data, { ...options(), maxSteps: 100 });
    expect(beyond.stopped).toBe('epochs');
    expect(beyond.state.parameters).toEqual(full.state.parameters);
    for (const bad of [-1, 2.5, Number.NaN]) {
      expect(() => train(model(), data, { ...options(), maxSteps: bad })).toThrow(`train: maxSteps must be an integer ≥ 0; got ${bad}`);
    }
  });
});
