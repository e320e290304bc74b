/**
 * linearScan(a, b, axis): the first-order linear recurrence along `axis`
 *   hₖ = aₖ·hₖ₋₁ + bₖ,  h₋₁ = 0          (reverse: hₖ = aₖ·hₖ₊₁ + bₖ, hₙ = 0),
 * so h₀ = b₀ and a₀ is never used. cumsum is a = 1; cumprod is a = x with b = x₀ at k = 0 and
 * 0 elsewhere; logcumsumexp's derivatives are scans with coefficients exp(yⱼ − yₖ) ≤ 1.
 *
 * Reverse mode, with λ the adjoint of h (the gradient of the loss with respect to hₖ,
 * counting every later h it feeds): λₖ = gₖ + aₖ₊₁·λₖ₊₁ — the SAME recurrence run the other
 * way, with the coefficients shifted by one — and then
 *   ∂L/∂bₖ = λₖ,   ∂L/∂aₖ = λₖ·hₖ₋₁.
 * Forward mode: differentiating the recurrence, ḣₖ = aₖ·ḣₖ₋₁ + (ȧₖ·hₖ₋₁ + ḃₖ), one more scan.
 * Both are scans, shifts (slice + pad) and products, so every order of derivative is exact.
 * NOTE: a primitive because products along an axis need it: cumprod and prod built on it have
 * gradients (of any order) that are exact at zeros, with no division by x (the x·prod/x trick
 * gives 0/0 at a zero, and its second derivative is wrong even where it is patched).
 */
import { getBackend } from '../../kernels/registry.js';
import { assertSameDType } from '../../tensor/dtype.js';
import { assertShape, formatShape } from '../../tensor/errors.js';
import { Tensor } from '../../tensor/tensor.js';
import { floatOperand } from '../operands.js';
import { apply, defineOp, type OpDef } from '../op.js';
import { toFrontExpanded } from '../rules.js';
import type { ScanAttrs } from './cumsum.js';

/**
 * x shifted one step along the scan direction: element k holds x at the previous position of
 * the scan (k − 1, or k + 1 when `reverse`), and the first position of the scan holds 0.
 */
function prevAlong(x: Tensor, axis: number, reverse: boolean): Tensor {
  const n = x.shape[axis]!;
  if (n === 0) return x;
  const spec = x.shape.map((_, d) => (d === axis ? (reverse ? ([1, n] as const) : ([0, n - 1] as const)) : null));
  const widths = x.shape.map((_, d): [number, number] => (d === axis ? (reverse ? [0, 1] : [1, 0]) : [0, 0]));
  return x.slice(spec).pad(widths);
}

export const linearScanOp: OpDef<ScanAttrs> = defineOp<ScanAttrs>({
  name: 'linearScan',
  forward: ([a, b], { axis, reverse }) => Tensor.fromData(getBackend().linearScan(a!, b!, axis, reverse, b!.dtype), b!.shape),
  save: ([a], output) => [a!, output],
  backward: (ctx, gradOut) => {
    const [a, h] = ctx.saved;
    const { axis, reverse } = ctx.attrs;
    // The adjoint runs the other way; its coefficient at k is a at the next position of the
    // forward scan, which is prevAlong(a) of the reversed direction.
    const lambda = apply(linearScanOp, [prevAlong(a!, axis, !reverse), gradOut], { axis, reverse: !reverse });
    return [ctx.needsInputGrad[0] ? lambda.mul(prevAlong(h!, axis, reverse)) : null, ctx.needsInputGrad[1] ? lambda : null];
  },
  jvp: ({ inputs: [a], tangents: [ta, tb], output, attrs }) => {
    const { axis, reverse } = attrs;
    const driveA = ta ? ta.mul(prevAlong(output, axis, reverse)) : null;
    const drive = driveA && tb ? driveA.add(tb) : (driveA ?? tb!);
    return apply(linearScanOp, [a!, drive], attrs);
  },
  // Both operands batch-first (an unbatched one broadcast), the scan on axis + 1.
  batch: ({ inputs: [a, b], dims: [da, db], attrs: { axis, reverse }, size }) => ({
    value: apply(linearScanOp, [toFrontExpanded(a!, da!, size), toFrontExpanded(b!, db!, size)], { axis: axis + 1, reverse }),
    dim: 0,
  }),
  describe: ({ axis, reverse }) => `axis=${axis}${reverse ? ', reverse' : ''}`,
});

/**
 * The linear recurrence h[k] = a[k]·h[k−1] + b[k] (h[−1] = 0) along a normalised `axis` of
 * tensors a and b of one shape and float dtype, rank ≥ 1 (h[k] = a[k]·h[k+1] + b[k] when
 * `reverse`). Differentiable in a and b to any order. Internal: cumprod and prod are built on it.
 */
export function linearScan(a: Tensor, b: Tensor, axis: number, reverse: boolean): Tensor {
  floatOperand('linearScan', a);
  floatOperand('linearScan', b);
  assertSameDType('linearScan', a.dtype, b.dtype);
  assertShape(
    a.rank === b.rank && a.shape.every((d, i) => d === b.shape[i]),
    () => `linearScan: coefficients of shape ${formatShape(a.shape)} and inputs of shape ${formatShape(b.shape)} must have one shape`,
  );
  return apply(linearScanOp, [a, b], { axis, reverse });
}
