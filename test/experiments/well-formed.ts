/** The mechanics every preset result must satisfy, whatever its verdict. */
import { expect } from 'vitest';
import type { PresetResult } from '../../src/experiments/preset.js';

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
