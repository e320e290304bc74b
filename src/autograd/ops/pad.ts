/**
 * pad(x, widths, value): widths[i] = [before, after] elements of `value` added on axis i
 * (NumPy's np.pad order; missing trailing axes are not padded);
 * ∂/∂x = gradOut sliced back to x's region (the padding is constant), and the tangent is
 * padded with zeros.
 */
import { getBackend } from '../../kernels/registry.js';
import { allocate } from '../../tensor/dtype.js';
import { assertValue, describeValue } from '../../tensor/errors.js';
import { contiguousStrides, sizeOf } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { floatOperand } from '../operands.js';
import { apply, defineOp } from '../op.js';
import { numberArgument } from '../../tensor/arguments.js';
import { shiftedBatch } from '../rules.js';

export const padOp = defineOp<{
  /** `[before, after]` element counts for every axis (full rank; unpadded axes are [0, 0]). */
  widths: [number, number][];
  /** The constant written into the padding. */
  value: number;
}>({
  name: 'pad',
  forward: ([x], { widths, value }) => {
    const shape = x!.shape.map((d, i) => d + widths[i]![0] + widths[i]![1]);
    const data = allocate(x!.dtype, sizeOf(shape));
    if (value !== 0) data.fill(value);
    const strides = contiguousStrides(shape);
    const offset = widths.reduce((o, [before], i) => o + before * strides[i]!, 0);
    getBackend().copyInto(x!, { data, shape: x!.shape, strides, offset });
    return Tensor.fromData(data, shape);
  },
  // pad is affine in x: the padding `value` is a constant, so the tangent pads with 0.
  jvp: ({ tangents: [t], attrs: { widths } }): Tensor => apply(padOp, [t!], { widths, value: 0 }),
  batch: shiftedBatch(
    (x, attrs): Tensor => apply(padOp, [x], attrs),
    ({ widths, value }) => ({ widths: [[0, 0], ...widths], value }),
  ),
  backward: (ctx, gradOut) => [
    gradOut.slice(ctx.attrs.widths.map(([before], i) => [before, before + ctx.inputShapes[0]![i]!] as const)),
  ],
  describe: ({ widths, value }) => `widths=${JSON.stringify(widths)}${value !== 0 ? `, value=${value}` : ''}`,
});

/**
 * Constant padding: `widths[i] = [before, after]` elements of `value` (default 0) added on
 * axis i, in NumPy's np.pad order (first axis first; axes past the list are not padded —
 * note torch.nn.functional.pad lists the LAST axis first). Returns a new contiguous tensor;
 * differentiable in x. Throws ValueError for negative or non-integer widths.
 * @example tensor([1, 2]).pad([[1, 2]]) // [0, 1, 2, 0, 0]
 */
export function pad(x: Tensor, widths: readonly (readonly [number, number])[], value = 0): Tensor {
  floatOperand('pad', x);
  assertValue(Array.isArray(widths), () => `pad: expected widths as a list of [before, after] pairs; got ${describeValue(widths)}`);
  numberArgument('pad', 'the pad value', value);
  assertValue(widths.length <= x.rank, () => `pad: got widths for ${widths.length} axes but the tensor has rank ${x.rank}`);
  const full: [number, number][] = [];
  for (let d = 0; d < x.rank; d++) {
    const w = d < widths.length ? widths[d] : [0, 0];
    assertValue(Array.isArray(w) && w.length === 2, () => `pad: the widths of axis ${d} must be a pair [before, after]; got ${Array.isArray(w) ? JSON.stringify(w) : describeValue(w)}`);
    const [before, after] = w;
    assertValue(
      Number.isInteger(before) && Number.isInteger(after) && before >= 0 && after >= 0,
      () => `pad: widths must be integers ≥ 0; got [${before}, ${after}] on axis ${d}`,
    );
    full.push([before, after]);
  }
  return apply(padOp, [x], { widths: full, value });
}
