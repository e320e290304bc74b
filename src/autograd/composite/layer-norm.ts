/**
 * Layer normalisation (Ba, Kiros & Hinton 2016), as torch.nn.functional.layer_norm: over the
 * last k = len(normalizedShape) axes of x,
 *
 *   μ = mean(x),  σ² = mean((x − μ)²)  (biased),  y = (x − μ) / √(σ² + ε) · γ + β.
 *
 * NOTE: the normalization x̂ = (x − μ)/√(σ² + ε) is the fused primitive layerNorm
 * (autograd/ops/layer-norm.ts), one kernel forward and one backward instead of ≈8 and ≈20
 * passes of mean, sub, mul, sqrt and div; its gradient is a primitive too, whose own rules are
 * composites, so every order works (HVPs through a Transformer block need the second). The
 * kernels keep the two-pass formula — the variance of the centred values, accumulated in
 * float64, not E[x²] − μ², which cancels catastrophically in float32 when |μ| ≫ σ. With both
 * γ and β the primitive applies them in the same pass (its affine mode); with one of them it is
 * an ordinary op after the normalization. Per-sample gradients and vmap work as before (the
 * statistics run over the feature axes, never the batch).
 */
import { assertShape, DTypeError, describeValue, formatShape, ValueError } from '../../tensor/errors.js';
import { shapesEqual } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { floatOperand } from '../operands.js';
import { apply } from '../op.js';
import { layerNormOp } from '../ops/layer-norm.js';
import { finiteArgument, shapeArgument } from '../../tensor/arguments.js';

/** A normalized shape (an integer or a non-empty list of integers ≥ 1), as a list. */
export function normalizedShapeArgument(op: string, v: unknown): number[] {
  const shape = shapeArgument(op, typeof v === 'number' ? [v] : v, 'normalizedShape');
  if (shape.length === 0 || shape.includes(0)) {
    throw new ValueError(`${op}: normalizedShape must be a non-empty list of sizes ≥ 1 (the last axes of the input); got [${shape}]`);
  }
  return shape;
}

function affineArgument(op: string, name: 'weight' | 'bias', v: Tensor | null | undefined, x: Tensor, shape: readonly number[]): Tensor | null {
  if (v === null || v === undefined) return null;
  if (!(v instanceof Tensor)) throw new ValueError(`${op}: expected ${name} to be a Tensor or null; got ${describeValue(v)}`);
  assertShape(shapesEqual(v.shape, shape), () => `${op}: ${name} must have the normalized shape ${formatShape(shape)}; got ${formatShape(v.shape)}`);
  if (v.dtype !== x.dtype) throw new DTypeError(`${op}: ${name} is ${v.dtype} but the input is ${x.dtype} (convert one with .to('${x.dtype}'))`);
  return v;
}

/**
 * Layer normalisation over the last `normalizedShape.length` axes of x, as
 * torch.nn.functional.layer_norm(x, normalized_shape, weight, bias, eps): each slice is centred
 * by its mean and divided by √(biased variance + eps), then scaled by `weight` and shifted by
 * `bias` (both of shape `normalizedShape`; null for none). Differentiable to any order in x,
 * weight and bias. Throws a ShapeError when the last axes of x are not `normalizedShape`.
 * @example layerNorm(x, [64], gamma, beta) // x [B, T, 64]
 */
export function layerNorm(
  x: Tensor,
  normalizedShape: number | readonly number[],
  weight: Tensor | null = null,
  bias: Tensor | null = null,
  eps = 1e-5,
): Tensor {
  const op = 'layerNorm';
  floatOperand(op, x);
  const shape = normalizedShapeArgument(op, normalizedShape);
  const k = shape.length;
  assertShape(
    x.rank >= k && shapesEqual(x.shape.slice(x.rank - k), shape),
    () => `${op}: expected an input whose last ${k === 1 ? 'axis is' : `${k} axes are`} ${formatShape(shape)} (the normalized shape); got ${formatShape(x.shape)}`,
  );
  const epsilon = finiteArgument(op, 'eps', eps);
  if (epsilon < 0) throw new ValueError(`${op}: expected eps ≥ 0; got ${epsilon}`);
  const w = affineArgument(op, 'weight', weight, x, shape);
  const b = affineArgument(op, 'bias', bias, x, shape);
  // With both γ and β the primitive applies them in its own pass (its affine mode); with one of
  // them it is an ordinary op after the normalisation.
  if (w && b) return apply(layerNormOp, [x, w, b], { k, eps: epsilon, affine: true });
  let y: Tensor = apply(layerNormOp, [x], { k, eps: epsilon, affine: false });
  if (w) y = y.mul(w);
  if (b) y = y.add(b);
  return y;
}
