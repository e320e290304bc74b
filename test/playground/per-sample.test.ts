/** The playground's per-sample panel computation, run in Node on the real MNIST digits. */
import { describe, expect, it } from 'vitest';
import { computePerSample } from '../../playground/src/core/per-sample.js';
import { nodePlaygroundData } from './node-data.js';

describe('playground per-sample panel', () => {
  it('mean of per-sample rows = batch gradient; BatchNorm train mode uses the exact Jacobian', () => {
    const { evaluation } = nodePlaygroundData();
    const r = computePerSample(evaluation);
    expect(r.plain.kind).toBe('per-sample');
    expect(r.bnTrain.kind).toBe('batch-jacobian');
    for (const s of [r.plain, r.bnEval, r.bnTrain]) {
      expect(s.norms).toHaveLength(8);
      expect(s.maxDiff).toBeLessThan(1e-12);
      expect(s.meanNorm).toBeCloseTo(s.batchNorm, 10);
    }
    expect(r.refusal).toMatch(/BatchNorm/);
    // train-mode rows are not the eval-mode ones
    expect(Math.max(...r.bnTrain.norms.map((v, i) => Math.abs(v - r.bnEval.norms[i]!)))).toBeGreaterThan(1e-3);
  });
});
