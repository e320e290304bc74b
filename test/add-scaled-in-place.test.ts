/**
 * `p.add_(g, α)` on contiguous tensors takes a one-pass kernel (the optimizer's update); it must
 * give bit for bit what the general path (a product, then a sum, each rounded to the dtype) gives.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { randn, tensor } from '../src/index.js';

describe('add_ with alpha, one pass', () => {
  it('equals the general path bit for bit in float32 and float64', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 7 }), fc.integer({ min: 2, max: 9 }), fc.double({ min: -3, max: 3, noNaN: true }), fc.constantFrom('float32', 'float64' as const), fc.integer({ min: 0, max: 1000 }), (r, c, alpha, dtype, seed) => {
        const p = randn([r, c], { seed, dtype });
        const g = randn([r, c], { seed: seed + 1, dtype, std: 10 });
        const fast = p.clone().add_(g, alpha);
        // A transposed copy of g is not contiguous, so add_ takes the general path.
        const strided = g.transpose().contiguous().transpose();
        expect(strided.isContiguous()).toBe(false);
        const general = p.clone().add_(strided, alpha);
        expect(Array.from(fast.toTypedArray())).toEqual(Array.from(general.toTypedArray()));
      }),
      { numRuns: 200 },
    );
  });

  it('propagates NaN and ±∞ as the general path does, bumps the version, and keeps aliasing safe', () => {
    const p = tensor([1, Number.NaN, Number.POSITIVE_INFINITY, 4], { dtype: 'float32' });
    const before = p.version;
    p.add_(tensor([Number.POSITIVE_INFINITY, 1, Number.NEGATIVE_INFINITY, 2], { dtype: 'float32' }), 0.5);
    expect(Array.from(p.toTypedArray())).toEqual([Number.POSITIVE_INFINITY, Number.NaN, Number.NaN, 5]);
    expect(p.version).toBe(before + 1);
    const q = tensor([1, 2, 3], { dtype: 'float64' });
    q.add_(q, 2); // same storage: the general path, which computes from a copy
    expect(Array.from(q.toTypedArray())).toEqual([3, 6, 9]);
  });
});
