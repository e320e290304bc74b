/**
 * The bp-svrg preset at paper size (CIFAR-10 from --data, ResNet-8): the refusal without a data
 * folder, and one BP-SVRG training run for two steps (--max-steps 2) on generated CIFAR-format
 * batches. A whole paper-size preset run, even for two steps, trains 30 ResNet-8 runs with a
 * 20-step Lanczos each (≈ 20 s of CPU per run here), too heavy for a test; this file runs one.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUDGET, bpSvrgPreset, COST_FACTOR, trainRun } from '../../packages/lab/src/experiments/presets/bp-svrg.js';
import { MissingDataError } from '../../packages/lab/src/experiments/presets/datasets.js';
import { inlinePool } from '../../packages/lab/src/experiments/task-pool.js';
import { cifarBatch } from './fixtures/cifar.js';


describe('bp-svrg preset: paper size (CIFAR-10, ResNet-8)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'bp-svrg-cifar-'));
    for (let b = 1; b <= 5; b++) writeFileSync(join(dir, `data_batch_${b}.bin`), cifarBatch(4, 4 * b));
    writeFileSync(join(dir, 'test_batch.bin'), cifarBatch(6, 0));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('declares the paper-size budget on CIFAR-10 and says what is not known', async () => {
    expect(BUDGET.paper!.data).toBe('cifar10');
    const pool = inlinePool();
    const map = <I, O>(task: string, inputs: readonly I[]) => pool.map<I, O>(bpSvrgPreset, task, inputs, () => {});
    const run = bpSvrgPreset.run({ size: 'paper', seeds: [1, 2], progress: () => {}, map });
    await expect(Promise.resolve(run)).rejects.toThrow(MissingDataError);
    await expect(Promise.resolve(run)).rejects.toThrow(/--size paper of 'bp-svrg' trains on CIFAR-10.*--data DIR/);
  });

  it('runs a BP-SVRG training run for two steps on generated CIFAR-format batches (--max-steps 2)', () => {
    const r = trainRun({ method: 'bp-svrg', lr: 0.1, seed: 1, size: 'paper', dataDir: dir, maxSteps: 2 });
    expect(r.diverged).toBe(false);
    const n = 20; // 5 batches of 4 records: fewer than one batch of 128, so one step per epoch
    expect(r.final.evaluations).toBe(2 * COST_FACTOR * n);
    // Measured at the start and where --max-steps stopped it (the paper size measures every 5 epochs).
    expect(r.points.map((p) => p.epoch)).toEqual([0, 2]);
    expect(Number.isFinite(r.final.lambdaMax)).toBe(true);
    expect(Number.isFinite(r.final.m1)).toBe(true);
    expect(r.final.testAccuracy * 6).toBeCloseTo(Math.round(r.final.testAccuracy * 6), 9);
  }, 600_000);
});
