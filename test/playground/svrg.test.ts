/** The playground's SVRG-vs-SGD panel computation, run in Node on the real MNIST digits. */
import { describe, expect, it } from 'vitest';
import { runSvrgPanel } from '../../playground/src/core/svrg.js';
import { nodePlaygroundData } from './node-data.js';

const ALL_ON = { transformLock: true, dropoutLock: true, bnReset: true };

describe('playground SVRG panel', () => {
  it('with every switch on: R = 0 at w = w̃, BN statistics untouched by snapshot passes', () => {
    const r = runSvrgPanel(nodePlaygroundData(), { switches: ALL_ON, epochs: 2, trainSize: 128 });
    expect(r.sgdLosses).toHaveLength(2 * 8);
    expect(r.svrgLosses).toHaveLength(2 * 8);
    const atSnapshot = r.ratios.filter((p) => p.position === 0);
    expect(atSnapshot).toHaveLength(2);
    for (const p of atSnapshot) expect(p.vSvrg).toBe(0);
    for (const p of r.ratios.filter((q) => q.position > 0)) expect(p.ratio).toBeGreaterThan(0);
    expect(r.snapshotStatsDrift).toEqual([0, 0]);
  });

  it('each switch off shows what breaks', () => {
    const data = nodePlaygroundData();
    const noDropoutLock = runSvrgPanel(data, { switches: { ...ALL_ON, dropoutLock: false }, epochs: 1, trainSize: 64 });
    expect(noDropoutLock.ratios[0]!.vSvrg).toBeGreaterThan(0);
    const noTransformLock = runSvrgPanel(data, { switches: { ...ALL_ON, transformLock: false }, epochs: 1, trainSize: 64 });
    expect(noTransformLock.ratios[0]!.vSvrg).toBeGreaterThan(0);
    const noReset = runSvrgPanel(data, { switches: { ...ALL_ON, bnReset: false }, epochs: 1, trainSize: 64 });
    expect(noReset.ratios[0]!.vSvrg).toBe(0);
    expect(noReset.snapshotStatsDrift[0]).toBeGreaterThan(0);
  });
});
