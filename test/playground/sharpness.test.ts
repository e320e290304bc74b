/** The playground's sharpness panel computation, run in Node on the real MNIST digits. */
import { describe, expect, it } from 'vitest';
import { runSharpness } from '../../playground/src/core/sharpness.js';
import { nodePlaygroundData } from './node-data.js';

describe('playground sharpness panel', () => {
  it('tracks λ₁ per epoch for both ratios and the loss along the line between the solutions', () => {
    const r = runSharpness(nodePlaygroundData(), { epochs: 2 });
    expect(r.runs).toHaveLength(2);
    for (const run of r.runs) {
      expect(run.topEigenvalue).toHaveLength(3);
      for (const l of run.topEigenvalue) expect(l).toBeGreaterThan(0);
    }
    expect(r.alphas).toHaveLength(21);
    expect(r.line.map((c) => c.name)).toEqual(['train', 'evaluation']);
    // α = 0 and α = 1 are the two solutions (α = -0.5 + 0.1·i): the large-η/B run trains faster here.
    const train = r.line[0]!.loss;
    for (const v of [...train, ...r.line[1]!.loss]) expect(Number.isFinite(v)).toBe(true);
    expect(r.alphas[5]).toBeCloseTo(0, 12);
    expect(r.alphas[15]).toBeCloseTo(1, 12);
    expect(train[5]).toBeLessThan(train[15]!);
  });
});
