/**
 * embedding(indices, W): rows of the table W [V, D] looked up by int32 indices of any shape,
 * as torch.nn.functional.embedding:
 *
 *   out[k…, :] = W[indices[k…], :],   shape indices.shape + [D]
 *   ∂/∂W = Σ_k e_{indices[k]} ⊗ gradOut[k, :]   (a scatter-add of the gradient rows; repeats add)
 *
 * except that, with a paddingIdx p, row p receives no gradient even where it is read — it is a
 * constant "pad" vector (PyTorch: it "remains as a fixed pad"; a fresh Embedding sets it to 0).
 *
 * A composite of gather (whose backward is scatterAdd, whose backward is gather again: linear
 * either way, so every derivative order follows). The indices are flattened to [K] and
 * repeated along D as the [K, D] index gather wants (an expand: a view, no copy). The pad rows
 * are then re-selected by `where` from the same values with the gradient cut (detach): the
 * forward values are exactly W's, and no gradient reaches row p. Forward mode follows the same
 * function, so the pad row's tangent is 0 too. vmap batches the indices and/or W through
 * gather's and where's rules.
 */
import { DTypeError, ValueError, assertShape, formatShape } from '../../tensor/errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import { optionsArgument, signedIntArgument } from '../../tensor/arguments.js';
import { eq } from '../nondiff.js';
import { floatOperand, tensorArgument } from '../operands.js';
import { expand } from '../ops/expand.js';
import { gather } from '../ops/gather.js';
import { reshape } from '../ops/reshape.js';
import { where } from '../ops/where.js';

/** Options of embedding, as torch.nn.functional.embedding's (no max_norm, scale_grad_by_freq or sparse). */
export interface EmbeddingOptions {
  /**
   * The row that receives no gradient (the padding token), in [−V, V) (negative counts from
   * the end, as in PyTorch); default none.
   */
  paddingIdx?: number | null;
}

/** paddingIdx checked against V rows and made non-negative (null when none). */
export function paddingIndex(op: string, paddingIdx: number | null | undefined, rows: number): number | null {
  if (paddingIdx === undefined || paddingIdx === null) return null;
  const p = signedIntArgument(op, 'paddingIdx', paddingIdx);
  if (p < -rows || p >= rows) throw new ValueError(`${op}: paddingIdx must be in [−${rows}, ${rows}) for ${rows} embeddings; got ${p}`);
  return p < 0 ? p + rows : p;
}

/**
 * Look up rows of `weight` [V, D] by int32 `indices` of any shape, as
 * torch.nn.functional.embedding: the result has shape indices.shape + [D]. Differentiable in
 * weight to any order (repeated indices accumulate); with `paddingIdx`, that row is read but
 * gets no gradient. Throws DTypeError for non-int32 indices or an integer weight, ShapeError
 * for a weight that is not 2-D, ValueError for an index outside [0, V) or a bad paddingIdx.
 * @example embedding(tensor([[1, 0, 3]], { dtype: 'int32' }), weight, { paddingIdx: 0 }) // [1, 3, D]
 */
export function embedding(indices: Tensor, weight: Tensor, options: EmbeddingOptions = {}): Tensor {
  tensorArgument('embedding', indices, 'the indices to be an int32 Tensor');
  if (indices.dtype !== 'int32') throw new DTypeError(`embedding: indices must be an int32 tensor; got ${indices.dtype} (use .to('int32'))`);
  floatOperand('embedding', weight, 'the weight to be a Tensor');
  assertShape(weight.rank === 2, () => `embedding: expected weight [numEmbeddings, embeddingDim] (rank 2); got ${formatShape(weight.shape)}`);
  const { paddingIdx } = optionsArgument('embedding', options);
  const [rows, dim] = weight.shape as [number, number];
  const pad = paddingIndex('embedding', paddingIdx, rows);
  // Inside vmap the indices' values cannot be read here; gather's kernel still refuses them.
  if (!indices.isBatched) checkRange(indices, rows);
  const k = indices.size;
  const flat = reshape(indices, [k, 1]);
  const looked = gather(weight, 0, expand(flat, [k, dim]));
  const out = pad === null ? looked : where(eq(flat, pad), looked.detach(), looked);
  return reshape(out, [...indices.shape, dim]);
}

/** Every index in [0, rows), or a ValueError naming the first that is not. */
function checkRange(indices: Tensor, rows: number): void {
  const values = indices.contiguous().toTypedArray();
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v < 0 || v >= rows) {
      throw new ValueError(`embedding: index ${v} is out of range for ${rows} embeddings (expected 0 … ${rows - 1}), at flat position ${i} of indices ${formatShape(indices.shape)}`);
    }
  }
}
