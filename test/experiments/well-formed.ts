/** Shared by the preset tests: the mechanics every preset result must satisfy, and a smoke run. */
import { expect } from 'vitest';
import type { Preset, PresetResult } from '../../packages/lab/src/experiments/preset.js';
import { inlinePool } from '../../packages/lab/src/experiments/task-pool.js';

export function expectWellFormed(result: PresetResult, name: string): void {
  expect(result.preset).toBe(name);
  expect(result.size).toBe('smoke');
  expect(['REPRODUCED', 'NOT REPRODUCED', 'INCONCLUSIVE']).toContain(result.verdict);
  expect(result.verdictDetail.length).toBeGreaterThan(0);
  expect(result.plots.length).toBeGreaterThan(0);
  for (const plot of result.plots) {
    expect(plot.title.length).toBeGreaterThan(0);
    expect(plot.xLabel.length).toBeGreaterThan(0);
    expect(plot.yLabel.length).toBeGreaterThan(0);
    expect(plot.series.length).toBeGreaterThan(0);
    for (const s of plot.series) {
      expect(s.label.length).toBeGreaterThan(0);
      expect(s.x.length).toBeGreaterThan(0);
      expect(s.y.length).toBe(s.x.length);
    }
  }
  expect(new Set(result.runs.map((r) => r.id)).size).toBe(result.runs.length);
}

/** Run a preset at smoke size in this thread (its tasks inline), as `gradscope run` would with --workers 1. */
export function runSmoke(preset: Preset, seeds: readonly number[] = preset.seeds, progress: (fraction: number, message: string) => void = () => {}): Promise<PresetResult> {
  const pool = inlinePool();
  const map = <I, O>(task: string, inputs: readonly I[], onResult?: (done: number, total: number) => void) =>
    pool.map<I, O>(preset, task, inputs, (i) => onResult?.(i + 1, inputs.length));
  return Promise.resolve(preset.run({ size: 'smoke', seeds, progress, map }));
}
