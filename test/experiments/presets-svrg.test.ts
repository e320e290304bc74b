import { beforeAll, describe, expect, it } from 'vitest';
import type { PresetResult } from '../../packages/lab/src/experiments/preset.js';
import { expectWellFormed, runSmoke } from './well-formed.js';
import { checkBatchNorm, lockingPreset, measureLocking } from '../../packages/lab/src/experiments/presets/locking.js';
import { mnistSubsets, POSITIONS, varianceRatioPreset } from '../../packages/lab/src/experiments/presets/variance-ratio.js';

describe('locking preset (Defazio & Bottou Fig. 1): mechanics', () => {
  const { train: data } = mnistSubsets(5, 64, 0);

  it('with locking the SVRG variance at the first step after a snapshot is 0; without it is > 0', () => {
    const m = measureLocking(5, data, 16);
    expect(m.vSgd).toBeGreaterThan(0);
    expect(m.vLocked / m.vSgd).toBeLessThanOrEqual(1e-12);
    expect(m.vUnlocked / m.vSgd).toBeGreaterThan(0.01);
  });

  it('BatchNorm running statistics are bit-identical across the locked snapshot pass (and move without locking)', () => {
    const bn = checkBatchNorm(5, data, 16, 2);
    expect(bn.lockedUnchanged).toBe(true);
    expect(bn.lockedMaxChange).toBe(0);
    expect(bn.lockedStepMatchesPlain).toBe(true);
    expect(bn.unlockedMaxChange).toBeGreaterThan(0);
  });

  it('runs end to end with labelled plots and every run listed', async () => {
    const progress: number[] = [];
    const result = await runSmoke(lockingPreset, [1, 2], (f) => progress.push(f));
    expectWellFormed(result, 'locking');
    // locked, unlocked and BatchNorm per seed.
    expect(result.runs.map((r) => r.id).sort()).toEqual(['batchnorm-seed1', 'batchnorm-seed2', 'locked-seed1', 'locked-seed2', 'unlocked-seed1', 'unlocked-seed2']);
    expect(Object.values(result.checks).every(Boolean)).toBe(true);
    expect(progress.every((f) => f >= 0 && f <= 1)).toBe(true);
  });
});

describe('variance-ratio preset (Defazio & Bottou Fig. 2–3): mechanics', () => {
  let result: PresetResult;
  beforeAll(async () => {
    result = await runSmoke(varianceRatioPreset, [1]);
  }, 120_000);

  it('measures R = 0 exactly at the snapshot (before the first step of an epoch)', () => {
    expect(result.checks.ratioZeroAtSnapshot).toBe(true);
    for (const run of result.runs) expect(Math.abs(run.metrics.ratioAtSnapshot!)).toBeLessThanOrEqual(1e-12);
  });

  it('has labelled plots (log-y ratio plot) and every run listed', () => {
    expectWellFormed(result, 'variance-ratio');
    expect(result.runs.map((r) => r.id).sort()).toEqual(['large-seed1', 'small-seed1']);
    const ratio = result.plots.find((p) => p.id === 'variance-ratio')!;
    expect(ratio.yLog).toBe(true);
    expect(ratio.series[0]!.x).toHaveLength(POSITIONS.length);
    expect(result.plots.some((p) => p.id === 'distance')).toBe(true);
    expect(result.plots.some((p) => p.id === 'stale-snapshot')).toBe(true);
    for (const run of result.runs) {
      expect(Number.isFinite(run.metrics['R e0 @2%']!)).toBe(true);
      expect(run.metrics['distance e0 @2%']!).toBeGreaterThan(0);
    }
  });
});
