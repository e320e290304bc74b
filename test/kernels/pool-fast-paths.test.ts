/**
 * The cpu backend's loops for 2×2 windows at stride 2 (src/kernels/cpu/pool.ts) — max pooling,
 * average pooling and its backward — against the direct loops of test/reference/conv-pool.ts,
 * to the bit, in both float types: odd sizes (a row and a column in no window), batches and
 * channels, rows contiguous at an offset or padded (the fast loops), channels-last storage
 * (the general ones), values with ties and NaN (the first maximum wins; NaN beats numbers, the
 * first NaN wins), both countIncludePad settings. Then the wasm backend's branch-free kernel
 * for the same window against the cpu kernel.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cpuBackend as cpu } from '../../src/kernels/cpu/index.js';
import { createWasmBackend, simdAvailable } from '../../src/kernels/wasm/index.js';
import { wasmMaxPoolApplies } from '../../src/kernels/wasm/pool.js';
import type { AvgPoolGeometry, PoolGeometry } from '../../src/kernels/geometry.js';
import type { FloatDType } from '../../src/tensor/dtype.js';
import type { View } from '../../src/tensor/storage.js';
import * as reference from '../reference/conv-pool.js';
import { mulberry32 } from '../arbitraries.js';

const G: PoolGeometry = { kernel: [2, 2], stride: [2, 2], padding: [0, 0], dilation: [1, 1] };

/**
 * A [N, C, H, W] view: layout 0 contiguous, 1 at an offset with 3 unused numbers after every
 * row, 2 channels-last. Values from {−1, −½, 0, ½, 1} (ties) or uniform, some NaN.
 */
function view(shape: readonly number[], dtype: FloatDType, layout: number, ties: boolean, nans: number, rng: () => number): View {
  const [n, c, h, w] = shape as [number, number, number, number];
  const value = () => (rng() < nans ? NaN : ties ? [-1, -0.5, 0, 0.5, 1][Math.floor(rng() * 5)]! : Math.fround(2 * rng() - 1));
  const make = (size: number) => (dtype === 'float64' ? new Float64Array(size) : new Float32Array(size)).fill(NaN);
  if (layout === 2) {
    const data = make(n * h * w * c).map(value);
    return { data, shape: shape.slice(), strides: [h * w * c, 1, w * c, c], offset: 0 };
  }
  const pad = layout === 1 ? 3 : 0;
  const offset = layout === 1 ? 5 : 0;
  const row = w + pad;
  const data = make(offset + n * c * h * row);
  for (let p = 0; p < n * c; p++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[offset + (p * h + y) * row + x] = value();
  return { data, shape: shape.slice(), strides: [c * h * row, h * row, row, 1], offset };
}

function expectSameBits(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i])) expect.fail(`${what}: element ${i} is ${actual[i]}, expected ${expected[i]}`);
  }
}

const shapes = fc.record({
  n: fc.integer({ min: 1, max: 3 }),
  c: fc.integer({ min: 1, max: 4 }),
  h: fc.integer({ min: 2, max: 11 }),
  w: fc.integer({ min: 2, max: 11 }),
  layout: fc.integer({ min: 0, max: 2 }),
  ties: fc.boolean(),
  seed: fc.integer({ min: 0, max: 1e6 }),
});

describe('2×2 stride-2 pooling loops equal the direct loops, to the bit', () => {
  for (const dtype of ['float64', 'float32'] as const) {
    it(`maxPool2d values and indices (${dtype})`, () => {
      fc.assert(
        fc.property(shapes, fc.constantFrom(0, 0.1), ({ n, c, h, w, layout, ties, seed }, nans) => {
          const x = view([n, c, h, w], dtype, layout, ties, nans, mulberry32(seed));
          const got = cpu.maxPool2d(x, G, dtype);
          const want = reference.maxPool2d(x, G, dtype);
          expectSameBits(got.indices, want.indices, `indices [${n},${c},${h},${w}] layout ${layout}`);
          expectSameBits(got.values, want.values, `values [${n},${c},${h},${w}] layout ${layout}`);
        }),
        { numRuns: 100 },
      );
    });

    it(`avgPool2d and avgPool2dBackward (${dtype})`, () => {
      fc.assert(
        fc.property(shapes, fc.boolean(), ({ n, c, h, w, layout, ties, seed }, countIncludePad) => {
          const rng = mulberry32(seed);
          const g: AvgPoolGeometry = { ...G, countIncludePad };
          const x = view([n, c, h, w], dtype, layout, ties, 0, rng);
          expectSameBits(cpu.avgPool2d(x, g, dtype), reference.avgPool2d(x, g, dtype), `avgPool2d [${n},${c},${h},${w}] layout ${layout}`);
          const gy = view([n, c, Math.floor(h / 2), Math.floor(w / 2)], dtype, layout, ties, 0, rng);
          expectSameBits(
            cpu.avgPool2dBackward(gy, [n, c, h, w], g, dtype),
            reference.avgPool2dBackward(gy, [n, c, h, w], g, dtype),
            `avgPool2dBackward [${n},${c},${h},${w}] layout ${layout}`,
          );
        }),
        { numRuns: 100 },
      );
    });
  }

  it('an odd last row and column get no gradient; −0 sums to +0 as in the general loop', () => {
    const gy: View = { data: new Float64Array([-0, 4]), shape: [1, 1, 1, 2], strides: [2, 2, 2, 1], offset: 0 };
    const dx = cpu.avgPool2dBackward(gy, [1, 1, 3, 5], { ...G, countIncludePad: true }, 'float64');
    expectSameBits(dx, [0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0], 'dx');
  });
});

describe.skipIf(!simdAvailable())('the wasm backend’s 2×2 stride-2 max pooling (conv-module.ts maxPool2x2) equals the cpu kernel, to the bit', () => {
  const wasm = createWasmBackend();
  for (const dtype of ['float64', 'float32'] as const) {
    it(`values and indices, ties and NaN, every layout (${dtype})`, () => {
      fc.assert(
        fc.property(shapes, fc.constantFrom(0, 0.02, 0.3), ({ n, c, h, w, layout, ties, seed }, nans) => {
          const x = view([n, c, h, w], dtype, layout, ties, nans, mulberry32(seed));
          expect(wasmMaxPoolApplies(x.shape, G)).toBe(true);
          const got = wasm.maxPool2d(x, G, dtype);
          const want = cpu.maxPool2d(x, G, dtype);
          expect(got.values).toBeInstanceOf(dtype === 'float64' ? Float64Array : Float32Array);
          expectSameBits(got.indices, want.indices, `indices [${n},${c},${h},${w}] layout ${layout}`);
          expectSameBits(got.values, want.values, `values [${n},${c},${h},${w}] layout ${layout}`);
        }),
        { numRuns: 150 },
      );
    });
  }

  it('infinities, −0 and a LeNet-sized batch', () => {
    const data = new Float64Array([-Infinity, -Infinity, Infinity, 1, -Infinity, -Infinity, 1, Infinity, -0, 0, NaN, 2, 0, -0, 3, NaN]);
    const x: View = { data, shape: [1, 1, 4, 4], strides: [16, 16, 4, 1], offset: 0 };
    for (const dtype of ['float64', 'float32'] as const) {
      const typed = { ...x, data: dtype === 'float64' ? data : Float32Array.from(data) };
      const got = wasm.maxPool2d(typed, G, dtype);
      const want = cpu.maxPool2d(typed, G, dtype);
      expectSameBits(got.values, want.values, `${dtype} values`);
      expectSameBits(got.indices, want.indices, `${dtype} indices`);
    }
    const big = view([16, 6, 24, 24], 'float32', 0, false, 0, mulberry32(3));
    expectSameBits(wasm.maxPool2d(big, G, 'float32').indices, cpu.maxPool2d(big, G, 'float32').indices, 'LeNet-sized');
    // Other windows are not this kernel's.
    expect(wasmMaxPoolApplies([1, 1, 4, 4], { ...G, stride: [1, 1] })).toBe(false);
    expect(wasmMaxPoolApplies([1, 1, 4, 4], { ...G, padding: [1, 1] })).toBe(false);
  });
});
