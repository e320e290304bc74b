/**
 * Products along an axis, as composites of the linearScan primitive (ops/linear-scan.ts):
 *
 *   cumprod(x)ₖ = Π_{j ≤ k} xⱼ = hₖ  with  hₖ = xₖ·hₖ₋₁ + bₖ,  b = (x₀, 0, …, 0),
 *   prod(x)     = the last element of cumprod(x).
 *
 * Differentiating the recurrence (linearScan's rules) gives, for prod, the adjoint
 * λₖ = g·Π_{j > k} xⱼ (a reversed scan) times hₖ₋₁ = Π_{j < k} xⱼ, i.e.
 *   ∂prod/∂xₖ = (exclusive prefix product) × (exclusive suffix product) = Π_{j ≠ k} xⱼ,
 * with no division: at a single zero the gradient is the product of the others, with two
 * zeros in a slice the whole slice's gradient is 0, exactly as PyTorch. Higher derivatives are
 * scans and products again (∂²prod/∂xₖ∂xₘ = Π_{j ≠ k, m} xⱼ), so Hessian-vector products are
 * exact at zeros too — which the x·prod/x shortcut cannot give.
 */
import { boolArgument } from '../../tensor/arguments.js';
import { normalizeAxis } from '../../tensor/shape.js';
import type { Tensor } from '../../tensor/tensor.js';
import { floatOperand } from '../operands.js';
import { linearScan } from '../ops/linear-scan.js';
import { sum } from '../ops/sum.js';

/** cumprod along a normalised axis of a tensor of rank ≥ 1 (unvalidated). */
function cumprodAlong(x: Tensor, axis: number): Tensor {
  const n = x.shape[axis]!;
  if (n === 0) return x.clone();
  // b = x₀ at position 0 and zeros after it, so that h₀ = x₀ and hₖ = xₖ·hₖ₋₁.
  const first = x.slice(x.shape.map((_, d) => (d === axis ? ([0, 1] as const) : null)));
  const b = first.pad(x.shape.map((_, d): [number, number] => (d === axis ? [0, n - 1] : [0, 0])));
  return linearScan(x, b, axis, false);
}

/**
 * Cumulative product along `axis` (negative counts from the end), as torch.cumprod(x, dim):
 * element k is the product of elements 0 … k. Differentiable to any order, exactly at zeros
 * (no division by x). A 0-d x gives a copy of itself. Float x only; throws ValueError for an
 * axis out of range.
 * @example cumprod(tensor([1, 2, 3]), 0) // [1, 2, 6]
 */
export function cumprod(x: Tensor, axis: number): Tensor {
  floatOperand('cumprod', x);
  const ax = normalizeAxis('cumprod', axis, x.rank);
  return x.rank === 0 ? cumprodAlong(x.reshape([1]), 0).reshape([]) : cumprodAlong(x, ax);
}

/**
 * Product of the elements along `axis` (negative counts from the end), dropping it unless
 * `keepdim`, or of all elements (a 0-d result; keepdim keeps every axis as size 1) when `axis`
 * is null or omitted — torch.prod(x) / torch.prod(x, dim, keepdim). The product over an
 * empty axis is 1. Differentiable to any order, with PyTorch's gradients at zeros: the gradient
 * at a single zero is the product of the other elements, and a slice with two zeros has a zero
 * gradient (but a nonzero Hessian). Float x only; throws ValueError for an axis out of range.
 * @example prod(tensor([[1, 2], [3, 4]]), 1) // [2, 12]
 */
export function prod(x: Tensor, axis?: number | null, keepdim = false): Tensor {
  floatOperand('prod', x);
  const keep = boolArgument('prod', 'keepdim', keepdim, false);
  if (axis === null || axis === undefined) {
    const all = prod(x.reshape([x.size]), 0, true);
    return all.reshape(keep ? x.shape.map(() => 1) : []);
  }
  const ax = normalizeAxis('prod', axis, x.rank);
  if (x.rank === 0) return x.clone();
  const n = x.shape[ax]!;
  // The empty product is 1; sum keeps the (empty) operand in the graph.
  if (n === 0) return sum(x, ax, keep).add(1);
  const last = cumprodAlong(x, ax).slice(x.shape.map((_, d) => (d === ax ? ([n - 1, n] as const) : null)));
  return keep ? last : last.squeeze(ax);
}
