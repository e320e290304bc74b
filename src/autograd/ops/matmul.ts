/**
 * matmul(A, B) = A·B over the last two axes, with the leading (batch) axes broadcast;
 * ∂/∂A = G·Bᵀ, ∂/∂B = Aᵀ·G. The transposes are views: the kernel reads them with their
 * strides, nothing is copied. The engine sums the gradient over broadcast batch axes.
 * 1-D operands follow torch.matmul: a vector is a row (left) or a column (right) that is
 * removed from the result again.
 */
import { getBackend } from '../../kernels/registry.js';
import { assertShape, formatShape } from '../../tensor/errors.js';
import { broadcastShapes } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { apply, defineOp, interpreters } from '../op.js';
import { isGradEnabled } from '../mode.js';
import { workspaceArray, workspaceTensor } from '../vmap-workspace.js';
import { alignForBroadcast, sumTangents, toFront } from '../rules.js';
import { broadcastView } from './_kernels.js';
import { binaryOperands, floatOperand } from '../operands.js';

export const matmulOp = defineOp({
  name: 'matmul',
  forward: ([a, b]) => {
    const batch = broadcastShapes('matmul', a!.shape.slice(0, -2), b!.shape.slice(0, -2));
    const [M, K] = a!.shape.slice(-2) as [number, number];
    const N = b!.shape[b!.rank - 1]!;
    const av = broadcastView(a!, [...batch, M, K]);
    const bv = broadcastView(b!, [...batch, K, N]);
    return Tensor.fromData(getBackend().matmul(av, bv, a!.dtype), [...batch, M, N]);
  },
  save: ([a, b]) => [a!, b!],
  backward: (ctx, gradOut) => {
    const [a, b] = ctx.saved;
    // Each gradient in its operand's layout: a Linear layer multiplies by Wᵀ, a transposed
    // view of W, and Aᵀ·G would come back row-major in Wᵀ's shape, so that W's gradient is a
    // transposed view that every later read (the flat gradient, an optimizer step) has to copy
    // with a strided walk. (Gᵀ·A)ᵀ is the same numbers, computed row-major in W's shape.
    return [
      ctx.needsInputGrad[0] ? (isTransposed(a!) ? b!.matmul(gradOut.transpose(-1, -2)).transpose(-1, -2) : gradOut.matmul(b!.transpose(-1, -2))) : null,
      ctx.needsInputGrad[1] ? (isTransposed(b!) ? gradOut.transpose(-1, -2).matmul(a!).transpose(-1, -2) : a!.transpose(-1, -2).matmul(gradOut)) : null,
    ];
  },
  // Bilinear: ṫ = t_A·B + A·t_B.
  jvp: ({ inputs: [a, b], tangents: [ta, tb], output }) => sumTangents(output, [ta ? ta.matmul(b!) : null, tb ? a!.matmul(tb) : null]),
  // Per-sample operands are at least 2-D here (matmul turns vectors into matrices first).
  batch: ({ inputs: [a, b], dims: [da, db] }) => {
    const fa = toFront(a!, da!);
    const fb = toFront(b!, db!);
    const K = fa.shape[fa.rank - 1]!;
    const N = fb.shape[fb.rank - 1]!;
    // Only the left operand batched, the right one a plain matrix: every sample's rows are
    // rows of ONE product (as JAX's dot_general batching folds them): [B, …, M, K] → [B·…·M, K].
    if (db === null && b!.rank === 2) {
      return { value: matmul(fa.reshape([-1, K]), b!).reshape([...fa.shape.slice(0, -1), N]), dim: 0 };
    }
    // Only the right operand batched (per-sample [K, N]), the left a plain matrix [M, K]: the
    // samples' columns are columns of one product: [K, B·N], then [M, B, N].
    if (da === null && a!.rank === 2 && fb.rank === 3) {
      const B = fb.shape[0]!;
      const columns = fb.permute([1, 0, 2]).reshape([K, B * N]);
      return { value: matmul(a!, columns).reshape([a!.shape[0]!, B, N]), dim: 1 };
    }
    // Otherwise the batch axis goes first, with the per-sample batch dims padded by size-1
    // axes (alignForBroadcast) so both operands broadcast, and the matrix axes stay last.
    const [pa, pb] = alignForBroadcast([a!, b!], [da!, db!]);
    // Outer products (K = 1), the per-sample weight gradients of a Linear layer: one
    // broadcasting multiply rather than B packed products of depth 1 (≈ 2× faster measured).
    if (K === 1) return { value: outerProducts(pa!, pb!, da, db) ?? pa!.mul(pb!), dim: 0 };
    return { value: matmul(pa!, pb!), dim: 0 };
  },
});

/**
 * B outer products [B, M, 1]·[B, 1, N] written by the backend's outer-product kernel into
 * vmap's workspace (vmap's `workspace` option), or null to multiply as usual. NOTE: the kernel
 * is not differentiable, so this runs only where nothing records a graph through these
 * operands or carries their tangents — a backward pass inside vmap(grad(…)), the case that
 * writes B × P numbers — and only on plain physical tensors (not a lower vmap level's).
 */
function outerProducts(a: Tensor, b: Tensor, da: number | null, db: number | null): Tensor | null {
  if (da === null || db === null || a.rank !== 3 || b.rank !== 3 || a.isBatched || b.isBatched) return null;
  if (interpreters.tangents !== null || (isGradEnabled() && (a.requiresGrad || b.requiresGrad))) return null;
  const [B, M] = a.shape as [number, number];
  const N = b.shape[2]!;
  const into = workspaceArray([B, M, N], a.dtype);
  if (!into) return null;
  getBackend().outerRows(a.reshape([B, M]), b.reshape([B, N]), a.dtype, into);
  return workspaceTensor(into, [B, M, N]);
}

/** Whether the last two axes of `t` are stored column-major (a transposed view), not row-major. */
function isTransposed(t: Tensor): boolean {
  const [rows, cols] = t.shape.slice(-2) as [number, number];
  const [rowStride, colStride] = t.strides.slice(-2) as [number, number];
  return rows > 1 && cols > 1 && rowStride === 1 && colStride === rows;
}

/** @example matmul(ones([2, 3]), ones([3, 4])) // shape [2, 4], every entry 3 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  floatOperand('matmul', a, 'the first operand to be a Tensor');
  floatOperand('matmul', b, 'the second operand to be a Tensor');
  binaryOperands('matmul', a, b);
  assertShape(a.rank >= 1 && b.rank >= 1, () => `matmul: both operands need at least 1 dimension; got ${formatShape(a.shape)} @ ${formatShape(b.shape)}`);
  if (a.rank === 1) return matmul(a.unsqueeze(0), b).squeeze(b.rank === 1 ? 0 : -2);
  if (b.rank === 1) return matmul(a, b.unsqueeze(1)).squeeze(-1);
  const K = a.shape[a.rank - 1]!;
  const Kb = b.shape[b.rank - 2]!;
  assertShape(
    K === Kb,
    () => `matmul: inner dimensions must match, got ${formatShape(a.shape)} @ ${formatShape(b.shape)} (${K} ≠ ${Kb})`,
  );
  return apply(matmulOp, [a, b], undefined);
}
