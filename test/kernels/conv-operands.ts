/**
 * What the WebAssembly convolution tests (wasm-conv-packers, wasm-direct-conv) share: random
 * operands in the layouts the kernels must read, and the comparison with the float64 cpu
 * backend.
 *
 * The tolerance is relative to Σ|terms| — the same op on the operands' absolute values — and
 * not to the result: a convolution's output is a sum of products, and the rounding error of a
 * sum scales with the magnitudes of its terms. Relative to the result the check fails at
 * random where the sum cancels towards 0 (a broadcast output gradient makes a weight gradient
 * g·Σx, whose random signs cancel; CI met one at 0.7 % of the result and 1.7·10⁻⁸ of Σ|terms|,
 * a third of one float32 rounding).
 */
import { expect } from 'vitest';
import type { Conv2dGeometry } from '../../src/kernels/geometry.js';
import type { FloatDType, TypedArray } from '../../src/tensor/dtype.js';
import type { View } from '../../src/tensor/storage.js';

/**
 * Float32: 3·10⁻⁵ of Σ|terms| is 500 float32 roundings (u = 6·10⁻⁸), 6× the random walk of
 * √K roundings of a plain running sum at the largest K here (≈ 6,300), while the kernels'
 * blocked sums measured at most 3.6 over one run of both files' random cases. It is below an
 * average term's share (1/K of Σ|terms|, ≥ 1.6·10⁻⁴ here), so a lost or doubled term fails.
 * Float64: 10⁻¹².
 */
const TOLERANCE = { float32: { rtol: 3e-5, atol: 1e-7 }, float64: { rtol: 1e-12, atol: 1e-14 } } as const;

export type Shape4 = [number, number, number, number];

/** A convolution to check: shapes, geometry, operand layouts (see `operand`) and the seed of their values. */
export interface ConvProblem {
  x: Shape4;
  w: Shape4;
  g: Conv2dGeometry;
  /** The input's layout, 0–2; the output gradient's, 0–3 (3: one broadcast value). */
  xLayout: number;
  gyLayout: number;
  seed: number;
}

/** A 4-D view of values in [−1, 1) (float32-exact): 0 contiguous, 1 channels-last, 2 at an offset (NaN before), 3 one broadcast value. */
export function operand(shape: readonly number[], dtype: FloatDType, layout: number, rng: () => number): View {
  const size = shape.reduce((a, b) => a * b, 1);
  const Array_ = dtype === 'float64' ? Float64Array : Float32Array;
  const value = () => Math.fround(2 * rng() - 1);
  const [, c, h, w] = shape as Shape4;
  if (layout === 3) return { data: Array_.of(value()), shape: shape.slice(), strides: [0, 0, 0, 0], offset: 0 };
  if (layout === 1) return { data: new Array_(size).map(value), shape: shape.slice(), strides: [h * w * c, 1, w * c, c], offset: 0 };
  const offset = layout === 2 ? 7 : 0;
  const data = new Array_(offset + size).fill(NaN);
  for (let i = 0; i < size; i++) data[offset + i] = value();
  return { data, shape: shape.slice(), strides: [c * h * w, h * w, w, 1], offset };
}

/** The same view in float64 (what the reference computes on). */
const asFloat64 = (v: View): View => ({ ...v, data: Float64Array.from(v.data) });

const magnitudes = (v: View): View => ({ ...v, data: Float64Array.from(v.data, Math.abs) });

/** An op's float64 result on these operands, and Σ|terms| (the op on their absolute values). */
export function reference(op: (a: View, b: View) => TypedArray, a: View, b: View): [TypedArray, TypedArray] {
  return [op(asFloat64(a), asFloat64(b)), op(magnitudes(a), magnitudes(b))];
}

/** Close to the reference within the dtype's tolerance of Σ|terms|; a non-finite expected value must be matched exactly (NaN by NaN). */
export function expectClose(actual: TypedArray, [expected, magnitude]: [TypedArray, TypedArray], dtype: FloatDType, what: string): void {
  const { rtol, atol } = TOLERANCE[dtype];
  expect(actual, `${what}: type`).toBeInstanceOf(dtype === 'float64' ? Float64Array : Float32Array);
  expect(actual.length, `${what}: length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const [a, e, m] = [actual[i]!, expected[i]!, magnitude[i]!];
    const ok = Number.isFinite(e) ? Math.abs(a - e) <= atol + rtol * m : Object.is(a, e);
    if (!ok) expect.fail(`${what}: element ${i} is ${a}, expected ${e} (rtol ${rtol} of Σ|terms| ${m}, atol ${atol})`);
  }
}
