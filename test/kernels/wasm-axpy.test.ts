/**
 * The wasm backend's in-place update `dst ← dst + α·src` (src/kernels/wasm/axpy.ts, what
 * Tensor.add_(g, α) takes there on contiguous float32 tensors from WASM_AXPY_MIN_ELEMENTS
 * numbers up) against the pure-TypeScript loop, to the bit: lengths not a multiple of four,
 * offsets into larger arrays, values spanning many binades, ±0, ±∞ and NaN; then through
 * Tensor.add_ on the wasm backend, and the cases it leaves to the cpu loop.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { getBackend, randn, setBackend } from '../../src/index.js';
import { addScaledInPlace } from '../../src/kernels/cpu/elementwise.js';
import { WASM_AXPY_MIN_ELEMENTS, wasmAddScaledInPlace, wasmAxpyApplies } from '../../src/kernels/wasm/axpy.js';
import { simdAvailable } from '../../src/kernels/wasm/index.js';
import { tryWasmRuntime } from '../../src/kernels/wasm/runtime.js';
import { mulberry32 } from '../arbitraries.js';

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

function values(n: number, rng: () => number, specials: boolean): Float32Array {
  const out = new Float32Array(n);
  const special = [0, -0, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN, 1e-40, -3e38];
  for (let i = 0; i < n; i++) out[i] = specials && rng() < 0.02 ? special[Math.floor(rng() * special.length)]! : (2 * rng() - 1) * 2 ** Math.floor(40 * rng() - 20);
  return out;
}

describe.skipIf(!simdAvailable())('wasm addScaledInPlace (f32x4 axpy)', () => {
  const previous = getBackend().name;
  afterEach(() => setBackend(previous));

  it('equals the cpu loop bit for bit', () => {
    const rt = tryWasmRuntime('float32');
    expect(rt).not.toBeNull();
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 7 }), fc.double({ min: -3, max: 3, noNaN: true }), fc.boolean(), fc.integer({ min: 0, max: 1 << 30 }), (n, dOff, sOff, alpha, specials, seed) => {
        const rng = mulberry32(seed);
        const dst = values(dOff + n + 3, rng, specials);
        const src = values(sOff + n + 2, rng, specials);
        const expected = dst.slice();
        addScaledInPlace(expected, dOff, src, sOff, n, alpha);
        const got = dst.slice();
        expect(wasmAddScaledInPlace(rt!, got, dOff, src, sOff, n, alpha)).toBe(true);
        // NaN payloads are not specified; compare NaNs as NaN and everything else to the bit.
        const canon = (a: Float32Array) => bits(a.map((v) => (Number.isNaN(v) ? Number.NaN : v)));
        expect(canon(got)).toEqual(canon(expected));
      }),
      { numRuns: 150 },
    );
  });

  it('is what Tensor.add_ takes on the wasm backend, same result as on cpu; float64 and small tensors stay on the cpu loop', () => {
    const big = new Float32Array(WASM_AXPY_MIN_ELEMENTS);
    expect(wasmAxpyApplies(big, big, big.length)).toBe(true);
    expect(wasmAxpyApplies(big, big, 16)).toBe(false);
    expect(wasmAxpyApplies(new Float64Array(WASM_AXPY_MIN_ELEMENTS), new Float64Array(WASM_AXPY_MIN_ELEMENTS), WASM_AXPY_MIN_ELEMENTS)).toBe(false);
    for (const shape of [[257, 33], [3, 5], [784, 256]]) {
      for (const dtype of ['float32', 'float64'] as const) {
        const run = (backend: string) => {
          setBackend(backend);
          const p = randn(shape, { seed: 3, dtype });
          const g = randn(shape, { seed: 4, dtype, std: 10 });
          const version = p.version;
          p.add_(g, -0.01);
          expect(p.version).toBe(version + 1);
          return Array.from(p.toTypedArray());
        };
        expect(run('wasm')).toEqual(run('cpu'));
      }
    }
  });
});
