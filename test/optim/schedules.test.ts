/** Learning-rate / batch-size schedules, the scaling rules and tail averaging. */
import { describe, expect, it } from 'vitest';
import { constantLR, cyclicBatchSize, cyclicLR, linearScaling, schedule, sqrtScaling, stepDecayLR, TailAverage } from '../../src/optim/schedules.js';

describe('schedules', () => {
  it('constant', () => {
    const s = schedule(constantLR(0.1), 128);
    expect([s.learningRate(0, 0, 10), s.learningRate(7, 3, 10)]).toEqual([0.1, 0.1]);
    expect(s.batchSize(5)).toBe(128);
    expect(schedule(0.2, 64).learningRate(3, 1, 4)).toBe(0.2);
  });

  it('step decay by period and by milestones', () => {
    const every = stepDecayLR(1, 0.1, { every: 2 });
    expect([0, 1, 2, 3, 4].map((e) => every(e, 0, 1))).toEqual([1, 1, 0.1, 0.1, 1 * 0.1 ** 2]);
    const milestones = stepDecayLR(0.5, 0.5, { milestones: [3, 1] });
    expect([0, 1, 2, 3, 9].map((e) => milestones(e, 0, 1))).toEqual([0.5, 0.25, 0.25, 0.125, 0.125]);
  });

  it('cyclic learning rate: triangular per step between low and high', () => {
    const lr = cyclicLR(0.1, 0.5, 2);
    expect(lr(0, 0, 4)).toBeCloseTo(0.1, 15);
    expect(lr(0, 2, 4)).toBeCloseTo(0.3, 15); // t = 0.5 epochs of a period 2: halfway up
    expect(lr(1, 0, 4)).toBeCloseTo(0.5, 15);
    expect(lr(1, 2, 4)).toBeCloseTo(0.3, 15);
    expect(lr(2, 0, 4)).toBeCloseTo(0.1, 15);
  });

  it('cyclic batch size alternates 128 ↔ 640', () => {
    const bs = cyclicBatchSize(128, 640);
    expect([0, 1, 2, 3].map(bs)).toEqual([128, 640, 128, 640]);
    expect([0, 1, 2, 3, 4].map(cyclicBatchSize(128, 640, 2))).toEqual([128, 128, 640, 640, 128]);
  });

  it('linear and square-root scaling', () => {
    expect(linearScaling(0.1, 128, 512)).toBeCloseTo(0.4, 15);
    expect(sqrtScaling(0.1, 128, 512)).toBeCloseTo(0.2, 15);
    expect(linearScaling(0.1, 128, 128)).toBe(0.1);
  });

  it('tail average of the iterates from a start step', () => {
    const avg = new TailAverage(2);
    [[1, 1], [2, 2], [3, 5], [5, 7]].forEach((w, t) => avg.observe(t, w));
    expect(avg.count).toBe(2);
    expect(Array.from(avg.value())).toEqual([4, 6]);
    expect(() => new TailAverage(5).value()).toThrow(/TailAverage: no iterate/);
  });

  it('rejects bad values, naming the schedule', () => {
    expect(() => constantLR(0)).toThrow(/constantLR: lr/);
    expect(() => cyclicBatchSize(0, 640)).toThrow(/cyclicBatchSize: low/);
    expect(() => stepDecayLR(1, 0.1, { every: 0 })).toThrow(/stepDecayLR: every/);
  });
});
