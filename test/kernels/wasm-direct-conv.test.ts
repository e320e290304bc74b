/**
 * The direct convolutions (src/kernels/wasm/direct-conv.ts) against the pure-TypeScript
 * backend in float64: random geometries at stride 1 (padding 0–2, 1–3 input channels, kernels
 * up to 5×5, 1–20 output channels, so that channel blocks end short, and rows of 1–5 vectors,
 * so that every forward tile width occurs) and operand layouts (contiguous, channels-last, at
 * an offset, a broadcast output gradient), to 10⁻¹² (float64) or 3·10⁻⁵ (float32) of the
 * terms' magnitudes (conv-operands.ts says why); the batch sizes sharing one emitted module;
 * non-finite inputs, which must give cpu's NaN and infinities in the same places; and which convolutions take the path,
 * through the backend. (The fallback when memory cannot grow: wasm-memory-fallback.test.ts.)
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { cpuBackend } from '../../src/kernels/cpu/index.js';
import { convDims, conv2dOutputShape, type Conv2dGeometry } from '../../src/kernels/geometry.js';
import { createWasmBackend, simdAvailable } from '../../src/kernels/wasm/index.js';
import { direct, directConv2d, directConv2dBackwardWeight, directConvApplies } from '../../src/kernels/wasm/direct-conv.js';
import { wasmRuntime } from '../../src/kernels/wasm/runtime.js';
import { enableRelaxedSimd } from '../../packages/lab/src/cli/engine-flags.js';
import type { FloatDType } from '../../src/tensor/dtype.js';
import type { View } from '../../src/tensor/storage.js';
import { mulberry32 } from '../arbitraries.js';
import { expectClose, operand, reference, type ConvProblem, type Shape4 } from './conv-operands.js';

enableRelaxedSimd();

const LANES = { float32: 4, float64: 2 } as const;
const saved = { ...direct };
afterEach(() => void Object.assign(direct, saved));

const int = (min: number, max: number) => fc.integer({ min, max });
/** Random stride-1 problems whose output rows are `lanes`-number vectors, 1–5 of them. */
const problems = (lanes: number): fc.Arbitrary<ConvProblem> =>
  fc
    .record({ n: int(1, 3), cin: int(1, 3), cout: int(1, 20), kh: int(1, 5), kw: int(1, 5), ph: int(0, 2), pw: int(0, 2), ho: int(1, 7), vectors: int(1, 5), xLayout: int(0, 2), gyLayout: int(0, 3), seed: int(0, 1e6) })
    .filter(({ kw, pw, vectors }) => vectors * lanes + kw - 1 - 2 * pw >= 1)
    .map(({ n, cin, cout, kh, kw, ph, pw, ho, vectors, xLayout, gyLayout, seed }) => ({
      x: [n, cin, Math.max(1, ho + kh - 1 - 2 * ph), vectors * lanes + kw - 1 - 2 * pw],
      w: [cout, cin, kh, kw],
      g: { stride: [1, 1], padding: [ph, pw], dilation: [1, 1], groups: 1 },
      xLayout,
      gyLayout,
      seed,
    }));

/** The forward and the weight gradient against cpu float64 (`values` may change x first). */
function check(p: ConvProblem, dtype: FloatDType, values?: (x: View) => void): void {
  const rng = mulberry32(p.seed);
  const x = operand(p.x, dtype, p.xLayout, rng);
  values?.(x);
  const w = operand(p.w, dtype, p.seed % 2 ? 1 : 0, rng);
  const gy = operand(conv2dOutputShape(p.x, p.w, p.g), dtype, p.gyLayout, rng);
  const rt = wasmRuntime(dtype);
  const d = convDims(p.x, p.w, p.g);
  expect(d.Wo % LANES[dtype]).toBe(0);
  const what = `${dtype} x [${p.x}] w [${p.w}] padding [${p.g.padding}] layouts ${p.xLayout}/${p.gyLayout}`;
  expectClose(directConv2d(rt, x, w, d)!, reference((x, w) => cpuBackend.conv2d(x, w, p.g, 'float64'), x, w), dtype, `${what}: conv2d`);
  expectClose(directConv2dBackwardWeight(rt, x, gy, d)!, reference((x, gy) => cpuBackend.conv2dBackwardWeight(x, gy, p.w, p.g, 'float64'), x, gy), dtype, `${what}: ∂/∂w`);
}

describe.skipIf(!simdAvailable())('direct convolutions against the cpu backend', () => {
  for (const dtype of ['float64', 'float32'] as const) {
    it(`random stride-1 geometries and layouts (${dtype})`, () => {
      fc.assert(fc.property(problems(LANES[dtype]), (p) => check(p, dtype)), { numRuns: 150 });
    });
  }

  it("LeNet-5's first layer (1 → 6 5×5 on 28×28, with and without padding 2), both types", () => {
    for (const dtype of ['float64', 'float32'] as const) {
      for (const padding of [0, 2]) {
        const p: ConvProblem = { x: [9, 1, 28, 28], w: [6, 1, 5, 5], g: { stride: [1, 1], padding: [padding, padding], dilation: [1, 1], groups: 1 }, xLayout: 0, gyLayout: 0, seed: padding };
        check(p, dtype);
      }
    }
  });

  it('one module serves every batch size of a geometry, and geometries in turn', () => {
    // Wo = 8 or 10: whole f64x2 vectors.
    const geometry = (i: number): ConvProblem => ({ x: [1 + (i % 4), 2, 6 + (i % 3), 9], w: [5, 2, 3, 2], g: { stride: [1, 1], padding: [i % 2, i % 2], dilation: [1, 1], groups: 1 }, xLayout: 0, gyLayout: 0, seed: i });
    for (let i = 0; i < 24; i++) check(geometry(i), 'float64');
  });

  it("gives cpu's NaN and infinities where the input has them, and nowhere else", () => {
    for (const dtype of ['float64', 'float32'] as const) {
      fc.assert(
        fc.property(problems(LANES[dtype]), fc.array(fc.tuple(fc.nat(), fc.constantFrom(NaN, Infinity, -Infinity)), { minLength: 1, maxLength: 3 }), (p, specials) => {
          check({ ...p, xLayout: 0 }, dtype, (x) => {
            const size = x.data.length;
            for (const [at, value] of specials) x.data[at % size] = value;
          });
        }),
        { numRuns: 60 },
      );
    }
  });
});

describe.skipIf(!simdAvailable())('which convolutions run direct', () => {
  const dims = (x: Shape4, w: Shape4, g: Partial<Conv2dGeometry> = {}) => convDims(x, w, { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1, ...g });
  const rt = wasmRuntime('float32');

  it("LeNet-5's first layer both ways; its second layer's forward (16 channels), not its weight gradient (150 taps)", () => {
    expect(directConvApplies(rt, dims([128, 1, 28, 28], [6, 1, 5, 5]), false)).toBe(true);
    expect(directConvApplies(rt, dims([128, 1, 28, 28], [6, 1, 5, 5]), true)).toBe(true);
    expect(directConvApplies(rt, dims([128, 6, 12, 12], [16, 6, 5, 5]), false)).toBe(true);
    expect(directConvApplies(rt, dims([128, 6, 12, 12], [16, 6, 5, 5]), true)).toBe(false);
  });

  it('not with many taps and channels, a stride, a dilation, groups or rows of part of a vector', () => {
    expect(directConvApplies(rt, dims([8, 16, 32, 32], [32, 16, 3, 3]), false)).toBe(false);
    expect(directConvApplies(rt, dims([8, 1, 28, 28], [6, 1, 5, 5], { stride: [2, 1] }), false)).toBe(false);
    expect(directConvApplies(rt, dims([8, 1, 28, 28], [6, 1, 5, 5], { dilation: [1, 2] }), false)).toBe(false);
    expect(directConvApplies(rt, dims([8, 2, 28, 28], [6, 1, 5, 5], { groups: 2 }), false)).toBe(false);
    expect(directConvApplies(rt, dims([8, 1, 27, 27], [6, 1, 5, 5]), false)).toBe(false); // Wo = 23
    expect(directConvApplies(rt, dims([8, 1, 27, 27], [6, 1, 5, 5]), true)).toBe(false);
    expect(directConvApplies(rt, dims([8, 1, 27, 28], [6, 1, 5, 5]), true)).toBe(true); // Wo = 24, Ho = 23
    expect(directConvApplies(wasmRuntime('float64'), dims([8, 1, 26, 26], [6, 1, 5, 5]), true)).toBe(true); // Wo = 22: whole f64x2 vectors
  });

  it("the backend's conv2d and weight gradient take the path, the GEMM's when it is switched off, and both agree with cpu", () => {
    const backend = createWasmBackend();
    const rng = mulberry32(7);
    const x = operand([16, 1, 28, 28], 'float32', 0, rng);
    const w = operand([6, 1, 5, 5], 'float32', 0, rng);
    const gy = operand([16, 6, 24, 24], 'float32', 0, rng);
    const g: Conv2dGeometry = { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 };
    const expected = {
      conv2d: reference((x, w) => cpuBackend.conv2d(x, w, g, 'float64'), x, w),
      '∂/∂w': reference((x, gy) => cpuBackend.conv2dBackwardWeight(x, gy, w.shape, g, 'float64'), x, gy),
    };
    const runs = () => [backend.conv2d(x, w, g, 'float32'), backend.conv2dBackwardWeight(x, gy, w.shape, g, 'float32')];
    const [y, dw] = runs();
    const d = convDims(x.shape, w.shape, g);
    expect(Array.from(y!)).toEqual(Array.from(directConv2d(wasmRuntime('float32'), x, w, d)!));
    expect(Array.from(dw!)).toEqual(Array.from(directConv2dBackwardWeight(wasmRuntime('float32'), x, gy, d)!));
    Object.assign(direct, { maxTaps: 0, maxChannels: 0 });
    const [yGemm, dwGemm] = runs();
    for (const [a, b, what] of [[y, yGemm, 'conv2d'], [dw, dwGemm, '∂/∂w']] as const) {
      expectClose(a!, expected[what], 'float32', `direct ${what}`);
      expectClose(b!, expected[what], 'float32', `GEMM ${what}`);
    }
  });
});
