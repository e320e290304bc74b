/**
 * The wasm backend's BatchNorm train-mode kernels (src/kernels/wasm/batch-norm.ts, f64x2 rows on
 * staged copies) against the cpu kernels they stand in for: the statistics to float64 rounding
 * (the same float64 sums in another order), the output and the three gradients to a float32
 * ulp or two of what the cpu loops give from those statistics, with and without γ and β, a
 * large offset (|μ| ≫ σ), and the layouts left to the cpu kernel.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cpuBackend } from '../../src/kernels/cpu/index.js';
import { wasmBatchNormBackward, wasmBatchNormDims, wasmBatchNormForward } from '../../src/kernels/wasm/batch-norm.js';
import { simdAvailable } from '../../src/kernels/wasm/index.js';
import { tryWasmRuntime } from '../../src/kernels/wasm/runtime.js';
import type { View } from '../../src/tensor/storage.js';
import { mulberry32 } from '../arbitraries.js';

const contiguous = (data: Float32Array, shape: number[]): View => {
  const strides = shape.map((_, d) => shape.slice(d + 1).reduce((p, s) => p * s, 1));
  return { data, shape, strides, offset: 0 };
};

function close(got: ArrayLike<number>, want: ArrayLike<number>, relative: number): void {
  expect(got.length).toBe(want.length);
  let scale = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]!));
  for (let i = 0; i < want.length; i++) {
    if (Math.abs(got[i]! - want[i]!) > relative * Math.max(scale, 1e-30)) {
      expect.fail(`element ${i}: ${got[i]} against ${want[i]} (scale ${scale})`);
    }
  }
}

describe.skipIf(!simdAvailable())('wasm BatchNorm train-mode kernels', () => {
  it('take contiguous float32 [N, C, S…] with S a whole number of vectors, and nothing else', () => {
    const x = contiguous(new Float32Array(2 * 3 * 4 * 2), [2, 3, 4, 2]);
    expect(wasmBatchNormDims(x, 'float32')).toEqual({ N: 2, C: 3, S: 8 });
    expect(wasmBatchNormDims(x, 'float64')).toBeNull();
    expect(wasmBatchNormDims(contiguous(new Float32Array(6 * 5), [6, 5]), 'float32')).toBeNull(); // BatchNorm1d [N, C]
    expect(wasmBatchNormDims(contiguous(new Float32Array(2 * 3 * 3 * 3), [2, 3, 3, 3]), 'float32')).toBeNull(); // S = 9
    expect(wasmBatchNormDims({ ...x, strides: [24, 1, 6, 3] }, 'float32')).toBeNull(); // channels last
  });

  it('equal the cpu kernels: statistics to float64 rounding, outputs and gradients to float32 rounding (property)', () => {
    const rt = tryWasmRuntime('float32')!;
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 6 }),
        fc.constantFrom(4, 8, 16, 36, 64),
        fc.boolean(),
        fc.constantFrom(0, 1000),
        fc.integer({ min: 0, max: 1 << 30 }),
        (N, C, S, affine, offset, seed) => {
          if (N * S === 1) return;
          const rng = mulberry32(seed);
          const shape = [N, C, S / 4, 4];
          const values = (n: number, shift = 0) => Float32Array.from({ length: n }, () => shift + 4 * rng() - 2);
          const x = contiguous(values(N * C * S, offset), shape);
          const gy = contiguous(values(N * C * S), shape);
          const weight = affine ? contiguous(values(C), [C]) : null;
          const bias = affine ? contiguous(values(C), [C]) : null;
          const dims = wasmBatchNormDims(x, 'float32')!;
          const got = wasmBatchNormForward(rt, x, weight, bias, 1e-5, dims)!;
          const want = cpuBackend.batchNormForward(x, weight, bias, 1e-5, 'float32');
          close(got.mean, want.mean, 1e-14);
          close(got.variance, want.variance, offset ? 1e-9 : 1e-13);
          close(got.y, want.y, 1e-5);
          close(wasmBatchNormBackward(rt, x, gy, weight, 1e-5, dims)!, cpuBackend.batchNormBackward(x, gy, weight, 1e-5, 'float32'), 1e-4);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('leave a strided output gradient to the cpu kernel', () => {
    const rt = tryWasmRuntime('float32')!;
    const x = contiguous(new Float32Array(2 * 2 * 4).fill(1), [2, 2, 4]);
    const broadcast: View = { data: new Float32Array([1]), shape: [2, 2, 4], strides: [0, 0, 0], offset: 0 };
    expect(wasmBatchNormBackward(rt, x, broadcast, null, 1e-5, wasmBatchNormDims(x, 'float32')!)).toBeNull();
  });
});
