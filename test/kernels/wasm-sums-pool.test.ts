/**
 * The wasm backend's bias-gradient sums (src/kernels/wasm/sums.ts) and max pooling's backward
 * scatter (pool.ts) against the cpu kernels: the column sums and the scatter to the bit
 * (the same additions in the same order), the per-channel sums to float64 rounding before the
 * float32 result; the layouts they leave to cpu; an out-of-range index still names the op.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { getBackend, setBackend } from '../../src/index.js';
import { cpuBackend } from '../../src/kernels/cpu/index.js';
import { simdAvailable } from '../../src/kernels/wasm/index.js';
import { wasmMaxPool2dBackward, wasmMaxPoolBackwardApplies } from '../../src/kernels/wasm/pool.js';
import { tryWasmRuntime } from '../../src/kernels/wasm/runtime.js';
import { sumLayout, wasmSum } from '../../src/kernels/wasm/sums.js';
import type { PoolGeometry } from '../../src/kernels/geometry.js';
import type { View } from '../../src/tensor/storage.js';
import { mulberry32 } from '../arbitraries.js';

const bits = (a: ArrayLike<number>) => Array.from(new Uint32Array(Float32Array.from(a).buffer));

function contiguous(data: Float32Array | Int32Array, shape: number[]): View {
  const strides = shape.map((_, d) => shape.slice(d + 1).reduce((p, s) => p * s, 1));
  return { data, shape, strides, offset: 0 };
}

const randomValues = (n: number, rng: () => number) => Float32Array.from({ length: n }, () => (2 * rng() - 1) * 2 ** Math.floor(30 * rng() - 15));

describe.skipIf(!simdAvailable())('wasm sums and max-pool scatter', () => {
  const previous = getBackend().name;
  afterEach(() => setBackend(previous));

  it('take float32 sums that keep one contiguous run of axes, above the size threshold', () => {
    const x = contiguous(new Float32Array(128 * 6 * 24 * 24), [128, 6, 24, 24]);
    expect(sumLayout(x, [0, 2, 3], 'float32')).toEqual({ R: 128, C: 6, S: 576 });
    expect(sumLayout(contiguous(new Float32Array(128 * 256), [128, 256]), [0], 'float32')).toEqual({ R: 128, C: 256, S: 1 });
    expect(sumLayout(x, [1], 'float32')).toBeNull(); // kept axes 0, 2, 3 are not one run
    expect(sumLayout(x, [0, 2, 3], 'float64')).toBeNull();
    expect(sumLayout(contiguous(new Float32Array(128 * 10), [128, 10]), [0], 'float32')).toBeNull(); // 10 columns: not whole vectors
    expect(sumLayout(contiguous(new Float32Array(8 * 16), [8, 16]), [0], 'float32')).toBeNull(); // below the threshold
  });

  it('column sums equal the cpu reduction bit for bit; channel sums to rounding (property)', () => {
    const rt = tryWasmRuntime('float32')!;
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 0, max: 1 << 30 }), (R, C4, S4, seed) => {
        const rng = mulberry32(seed);
        const rows = contiguous(randomValues(Math.max(R, 1100) * 4 * C4, rng), [Math.max(R, 1100), 4 * C4]);
        const dims = sumLayout(rows, [0], 'float32')!;
        expect(bits(wasmSum(rt, rows, dims)!)).toEqual(bits(cpuBackend.reduce('sum', rows, [0], 'float32')));
        const x = contiguous(randomValues(R * C4 * 4 * S4 * 4 * 8, rng), [R * 8, C4, 4 * S4, 4]);
        const channel = sumLayout(x, [0, 2, 3], 'float32');
        if (!channel) return; // below the threshold
        const got = wasmSum(rt, x, channel)!;
        const want = cpuBackend.reduce('sum', x, [0, 2, 3], 'float32');
        let scale = 0;
        for (let i = 0; i < x.data.length; i++) scale = Math.max(scale, Math.abs(x.data[i]!));
        for (let c = 0; c < C4; c++) expect(Math.abs(got[c]! - want[c]!)).toBeLessThanOrEqual(Math.abs(want[c]!) * 2 ** -23 + scale * 1e-12);
      }),
      { numRuns: 40 },
    );
  });

  it('the max-pool scatter equals the cpu backward bit for bit, overlapping windows summed in order', () => {
    const rt = tryWasmRuntime('float32')!;
    const rng = mulberry32(3);
    const windows: PoolGeometry[] = [
      { kernel: [2, 2], stride: [2, 2], padding: [0, 0], dilation: [1, 1] },
      { kernel: [3, 3], stride: [2, 2], padding: [1, 1], dilation: [1, 1] },
    ];
    for (const g of windows) {
      const shape = [3, 4, 11, 9];
      const x = contiguous(randomValues(3 * 4 * 11 * 9, rng), shape);
      const { indices } = cpuBackend.maxPool2d(x, g, 'float32');
      const outShape = [3, 4, indices.length / (3 * 4 * (g.kernel[0] === 2 ? 4 : 5)), g.kernel[0] === 2 ? 4 : 5];
      const gy = contiguous(randomValues(indices.length, rng), outShape);
      const iv = contiguous(indices, outShape);
      expect(wasmMaxPoolBackwardApplies(gy, iv, 'float32')).toBe(true);
      expect(bits(wasmMaxPool2dBackward(rt, gy, iv, shape)!)).toEqual(bits(cpuBackend.maxPool2dBackward(gy, iv, shape, g, 'float32')));
    }
  });

  it('an index outside the plane: null from the kernel, the cpu ValueError through the backend', () => {
    const rt = tryWasmRuntime('float32')!;
    const shape = [1, 1, 4, 4];
    const gy = contiguous(new Float32Array([1, 2, 3, 4]), [1, 1, 2, 2]);
    for (const bad of [16, -1]) {
      const iv = contiguous(new Int32Array([0, 2, 8, bad]), [1, 1, 2, 2]);
      expect(wasmMaxPool2dBackward(rt, gy, iv, shape)).toBeNull();
      setBackend('wasm');
      const g: PoolGeometry = { kernel: [2, 2], stride: [2, 2], padding: [0, 0], dilation: [1, 1] };
      expect(() => getBackend().maxPool2dBackward(gy, iv, shape, g, 'float32')).toThrow(/maxPool2dBackward: index -?\d+ is out of range/);
    }
  });
});
