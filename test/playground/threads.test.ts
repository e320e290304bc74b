/**
 * The playground's threads check in Node: its product is large enough to be split, gives the
 * same bits on two threads as on one, and its corner equals a float64 reference to float32
 * rounding.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { digestFloat32, productCheck, productOperands } from '../../playground/src/core/threads.js';
import { currentBackendInfo } from '../../src/kernels/registry.js';
import { setWasmThreads, simdAvailable, wasmRuntime } from '../../src/kernels/wasm/index.js';

afterEach(async () => {
  await setWasmThreads(1);
});

describe('playground threads check', () => {
  it('digest: bit patterns, not values (−0 and +0 differ)', () => {
    expect(digestFloat32(new Float32Array([0]))).not.toBe(digestFloat32(new Float32Array([-0])));
    expect(digestFloat32(new Float32Array([1, 2]))).toBe(digestFloat32(new Float32Array([1, 2])));
  });

  it('C[0][0..3] equals a float64 sum to float32 rounding', () => {
    const n = 64;
    const { a, b } = productOperands(n);
    const check = productCheck(n, 1);
    for (let j = 0; j < 4; j++) {
      let sum = 0;
      for (let k = 0; k < n; k++) sum += a[k]! * b[k * n + j]!;
      expect(Math.abs(check.corner[j]! - sum)).toBeLessThan(1e-4);
    }
  });

  const canThread = currentBackendInfo().name === 'wasm' && simdAvailable() && wasmRuntime().shared;
  it.skipIf(!canThread)('two threads give the one-thread bits', async () => {
    const one = productCheck(256, 1);
    expect(one.threads).toBe(1);
    await setWasmThreads(2);
    const two = productCheck(256, 1);
    expect(two.threads).toBe(2);
    expect(two.digest).toBe(one.digest);
    expect(two.corner).toEqual(one.corner);
  });
});
