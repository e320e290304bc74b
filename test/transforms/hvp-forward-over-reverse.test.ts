/**
 * hvp's two modes: forward-over-reverse ({ mode: 'forward' }, jvp of grad) against the default
 * reverse-over-reverse (double backward), in float64, on random small MLPs (BatchNorm in train
 * and eval mode), on pytree-free lists, and on bad options.
 */
import { describe, expect, it } from 'vitest';
import { crossEntropy, hvp, mlp, randn, tensor, ValueError, type Tensor } from '../../src/index.js';
import { objective } from '../../src/analysis/objective.js';
import { expectClose } from './close.js';

const TOL = 1e-10;

/** Random targets in [0, classes). */
function targets(batch: number, classes: number, seed: number): Int32Array {
  const y = new Int32Array(batch);
  let s = seed;
  for (let i = 0; i < batch; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    y[i] = s % classes;
  }
  return y;
}

describe('hvp: forward-over-reverse equals double backward (float64)', () => {
  const cases = [
    { sizes: [5, 7, 3], batchNorm: false, mode: 'eval' as const, activation: 'tanh' as const },
    { sizes: [4, 6, 5, 3], batchNorm: true, mode: 'train' as const, activation: 'tanh' as const },
    { sizes: [6, 8, 4], batchNorm: true, mode: 'train' as const, activation: 'relu' as const },
    { sizes: [3, 5, 5, 2], batchNorm: true, mode: 'eval' as const, activation: 'softplus' as const },
  ];
  cases.forEach((c, k) => {
    it(`MLP [${c.sizes}]${c.batchNorm ? ' + BatchNorm' : ''} (${c.mode}, ${c.activation})`, () => {
      const model = mlp(c.sizes, { seed: 10 + k, activation: c.activation, batchNorm: c.batchNorm, dtype: 'float64' });
      const batch = 6;
      const x = randn([batch, c.sizes[0]!], { seed: 20 + k, dtype: 'float64' });
      const F = objective(model, { x, targets: targets(batch, c.sizes.at(-1)!, k + 1) }, { batchNorm: c.mode });
      const w = model.flattenParameters();
      for (let j = 0; j < 2; j++) {
        const v = randn([model.numParameters()], { seed: 30 + 7 * k + j, dtype: 'float64' });
        const reverse = hvp(F, w, v, { mode: 'reverse' });
        expectClose(hvp(F, w, v), reverse, 0); // the default is double backward
        const forward = hvp(F, w, v, { mode: 'forward' });
        expect(forward.dtype).toBe('float64');
        expect(forward.requiresGrad).toBe(false);
        expectClose(forward, reverse, TOL);
      }
    });
  });

  it('the list form gives a block product, each block equal to the double-backward one', () => {
    const xw = randn([4, 3], { seed: 1, dtype: 'float64' });
    const y = targets(4, 2, 3);
    const f = (w1: Tensor, w2: Tensor) => crossEntropy(xw.matmul(w1).tanh().matmul(w2), y);
    const w1 = randn([3, 5], { seed: 2, dtype: 'float64' });
    const w2 = randn([5, 2], { seed: 3, dtype: 'float64' });
    const v1 = randn([3, 5], { seed: 4, dtype: 'float64' });
    const v2 = randn([5, 2], { seed: 5, dtype: 'float64' });
    const fwd = hvp(f, [w1, w2], [v1, v2], { mode: 'forward' });
    const rev = hvp(f, [w1, w2], [v1, v2]);
    expect(Array.isArray(fwd)).toBe(true);
    expect(fwd).toHaveLength(2);
    expectClose(fwd[0], rev[0], TOL);
    expectClose(fwd[1], rev[1], TOL);
  });

  it('a function without curvature in x gives zeros in both modes', () => {
    const x = tensor([1, 2, 3], { dtype: 'float64' });
    const v = tensor([1, -1, 2], { dtype: 'float64' });
    const f = (a: Tensor) => a.mul(tensor([2, 3, 4], { dtype: 'float64' })).sum();
    expect(Array.from(hvp(f, x, v, { mode: 'forward' }).toTypedArray())).toEqual([0, 0, 0]);
    expect(Array.from(hvp(f, x, v).toTypedArray())).toEqual([0, 0, 0]);
  });

  it('refuses an unknown mode and a non-object options', () => {
    const x = tensor([1, 2], { dtype: 'float64' });
    const f = (a: Tensor) => a.pow(3).sum();
    expect(() => hvp(f, x, x, { mode: 'sideways' as never })).toThrow(ValueError);
    expect(() => hvp(f, x, x, { mode: 'sideways' as never })).toThrow(/hvp: expected mode to be 'forward' or 'reverse'/);
    expect(() => hvp(f, x, x, 3 as never)).toThrow(/hvp/);
  });

  it('bad primals and directions give the same errors in both modes', () => {
    const x = tensor([1, 2], { dtype: 'float64' });
    const f = (a: Tensor) => a.pow(3).sum();
    for (const mode of ['forward', 'reverse'] as const) {
      expect(() => hvp(f, x, tensor([1, 2, 3], { dtype: 'float64' }), { mode })).toThrow(/hvp: direction 0 must have the primal's shape/);
      expect(() => hvp(f as never, [x, x], [x], { mode })).toThrow(/hvp: got 2 primals but 1 directions/);
    }
  });
});
