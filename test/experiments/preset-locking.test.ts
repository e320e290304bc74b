/**
 * locking (Defazio & Bottou 2019, Fig. 1): the mechanics (locked variance exactly 0 at w = w̃,
 * the BatchNorm bit-identity), the two claim parts' logic on constructed outputs, and the paper
 * size (LeNet-5 with crops and flips) end to end on generated CIFAR-format files.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MissingDataError, mnistSubsets } from '../../packages/lab/src/experiments/presets/datasets.js';
import {
  checkBatchNorm,
  judgeLocking,
  type LockingOutput,
  lockingPreset,
  measureLocking,
} from '../../packages/lab/src/experiments/presets/locking.js';
import { inlinePool } from '../../packages/lab/src/experiments/task-pool.js';
import { expectWellFormed, runSmoke } from './well-formed.js';
import { writeCifar } from './fixtures/cifar.js';

describe('locking preset: mechanics', () => {
  const { train: data } = mnistSubsets(5, 64, 0);

  it('with locking the SVRG variance at the first step after a snapshot is 0; without it is > 0', () => {
    const m = measureLocking(5, data, 16);
    expect(m.vSgd).toBeGreaterThan(0);
    expect(m.vLocked / m.vSgd).toBeLessThanOrEqual(1e-12);
    expect(m.vUnlocked / m.vSgd).toBeGreaterThan(0.01);
  });

  it('BatchNorm running statistics are bit-identical across the locked snapshot pass (move without locking)', () => {
    const bn = checkBatchNorm(5, data, 16, 2);
    expect(bn.lockedUnchanged).toBe(true);
    expect(bn.lockedMaxChange).toBe(0);
    expect(bn.lockedStepMatchesPlain).toBe(true);
    expect(bn.unlockedMaxChange).toBeGreaterThan(0);
  });

  it('runs end to end with both parts judged, per-seed points and every run listed', async () => {
    const progress: number[] = [];
    const result = await runSmoke(lockingPreset, [1, 2], (f) => progress.push(f));
    expectWellFormed(result, 'locking');
    const ids = ['batchnorm', 'locked', 'unlocked'].flatMap((kind) => [`${kind}-seed1`, `${kind}-seed2`]);
    expect(result.runs.map((r) => r.id).sort()).toEqual(ids);
    expect(Object.values(result.checks).every(Boolean)).toBe(true);
    expect(result.claims.map((c) => c.id)).toEqual(['locked-zero', 'unlocked-sizeable']);
    // 2 of 2 seeds at 0 cannot reach α with an exact sign test: the part is undecided, not supported.
    expect(result.claims[0]!.verdict).toBe('INCONCLUSIVE');
    expect(result.plots[0]!.series[0]!.style).toBe('points');
    expect(progress.every((f) => f >= 0 && f <= 1)).toBe(true);
  });
});

const output = (seed: number, locked: number, unlocked: number): LockingOutput => ({
  seed,
  m: { vSgd: 2, vLocked: 2 * locked, vUnlocked: 2 * unlocked },
  bn: { lockedUnchanged: true, lockedStepMatchesPlain: true, lockedMaxChange: 0, unlockedMaxChange: 0.1 },
});
const seeds = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
const spread = [0.02, -0.03, 0.01, 0.04, -0.02, 0, 0.03, -0.01, -0.04, 0.02];

describe('locking preset: the claim parts on constructed outputs', () => {
  it('REPRODUCES both parts when the locked ratio is 0 on all ten seeds and the unlocked one ≈ 1.4', () => {
    const parts = judgeLocking(seeds.map((s, i) => output(s, 0, 1.4 + spread[i]!)), 0.05);
    expect(parts.map((p) => p.verdict)).toEqual(['REPRODUCED', 'REPRODUCED']);
    expect(parts[0]!.p).toBeLessThan(0.005);
    expect(parts[0]!.effect).toBe(1);
  });

  it('does NOT reproduce when the locked variance is never 0, or the unlocked ratio is far below 1/3', () => {
    const parts = judgeLocking(seeds.map((s, i) => output(s, 0.2, 0.05 + spread[i]! / 10)), 0.05);
    expect(parts.map((p) => p.verdict)).toEqual(['NOT REPRODUCED', 'NOT REPRODUCED']);
  });

  it('is INCONCLUSIVE with 8 of 10 seeds at 0 and an unlocked ratio scattered around 1/3', () => {
    const parts = judgeLocking(seeds.map((s, i) => output(s, i < 8 ? 0 : 1e-6, 1 / 3 + spread[i]! * 5)), 0.05);
    expect(parts.map((p) => p.verdict)).toEqual(['INCONCLUSIVE', 'INCONCLUSIVE']);
  });
});


describe('locking preset: paper size (LeNet-5 on CIFAR-10, crops and flips)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gradscope-locking-cifar-'));
  // 5 × 52 = 260 training images: two minibatches of 128 rows.
  beforeAll(() => writeCifar(dir, 52, 999));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const pool = inlinePool();
  const map = <I, O>(task: string, inputs: readonly I[]) => pool.map<I, O>(lockingPreset, task, inputs);

  it('runs with --max-steps 2: locked variance exactly 0 with BatchNorm and augmentation, unlocked not', async () => {
    const context = { size: 'paper', seeds: [1, 2], progress: () => {}, map, dataDir: dir, maxSteps: 2 } as const;
    const result = await lockingPreset.run(context);
    expect(result.size).toBe('paper');
    expect(result.checks['locked variance is 0 at w = w̃']).toBe(true);
    expect(result.checks['BN statistics unchanged by the locked snapshot pass']).toBe(true);
    expect(result.checks['unlocked variance > 0 at w = w̃']).toBe(true);
    expect(result.budget).toContain('LeNet-5');
    expect(result.scaleDown.length).toBeGreaterThan(0);
    // Four snapshot passes of LeNet-5 over 260 images per seed: seconds alone, minutes on a loaded machine.
  }, 300_000);

  it('refuses without --data, naming what to pass', async () => {
    const run = lockingPreset.run({ size: 'paper', seeds: [1, 2], progress: () => {}, map });
    await expect(run).rejects.toThrow(MissingDataError);
  });
});
