/**
 * Scaled dot-product attention (Vaswani et al. 2017), as
 * torch.nn.functional.scaled_dot_product_attention computes it in its reference ("math") form:
 *
 *   A = softmax(q kᵀ · scale + F + M, axis −1),   out = A v,
 *
 * with q [..., Lq, d], k [..., Lk, d], v [..., Lk, dv], scale = 1/√d unless given, F a float
 * mask added to the scores (a learned bias, ALiBi, …) and M = −∞ where a key may not be attended
 * (a boolean mask, the causal mask, padded keys). The gradient is that of the composite:
 * ∂A/∂s = A ⊙ (g − Σ g ⊙ A) row by row, and −∞ positions have A = 0 exactly and receive no
 * gradient (they are selected with `where`, which routes the gradient instead of multiplying
 * by a 0/1 mask, so no 0·∞ appears).
 *
 * NOTE: a composite (matmul, mul, where, the stable softmax, matmul): its gradient of any order,
 * its JVP, vmap and per-sample gradients come from those primitives. A fused kernel would save
 * the [..., Lq, Lk] probabilities' round trips, not change the numbers.
 *
 * NOTE (masks): gradscope has no bool dtype, so a "boolean" mask is an int32 tensor of 0/1.
 * PyTorch's conventions differ between its functions, and each is kept: for
 * scaled_dot_product_attention a true (nonzero) attn_mask entry means the key TAKES PART,
 * while for nn.MultiheadAttention a true attn_mask or key_padding_mask entry means the key is
 * MASKED OUT (nn/attention.ts converts). Float masks are added in both. A query row whose keys
 * are all masked gives NaN, as PyTorch's reference implementation does.
 */
import { DTypeError, ShapeError, ValueError, assertShape, describeValue, formatShape } from '../../tensor/errors.js';
import { broadcastShapes, broadcastsTo } from '../../tensor/shape.js';
import { tensor } from '../../tensor/creation.js';
import { Tensor } from '../../tensor/tensor.js';
import { floatOperand } from '../operands.js';
import { matmul } from '../ops/matmul.js';
import { where } from '../ops/where.js';
import { softmax } from './reduce.js';
import { transpose } from './shape.js';
import { boolArgument, numberArgument, optionsArgument } from '../../tensor/arguments.js';

/** Options of scaledDotProductAttention and attentionWeights. */
export interface AttentionOptions {
  /**
   * A mask broadcastable to the scores [..., Lq, Lk]: int32 (boolean) — nonzero where the key
   * takes part, 0 where it is masked out (torch's `attn_mask` of bool dtype) — or float in the
   * inputs' dtype, added to the scores (−∞ masks a key). Null for none.
   */
  attnMask?: Tensor | null;
  /**
   * Mask every key j > query i (PyTorch's `is_causal`: the lower-triangular mask aligned at the
   * top left, so for Lq ≠ Lk query i sees keys 0 … i). Default false. May be combined with
   * `attnMask` (PyTorch refuses both at once; here both apply).
   */
  isCausal?: boolean;
  /** The factor on q kᵀ; default 1/√d, d being the last axis of q (PyTorch's `scale`). */
  scale?: number | null;
}

/** The masks of one attention call, in the form the core takes. */
export interface AttentionMasks {
  /** Float masks added to the scores (in the inputs' dtype), each broadcastable to them. */
  additive: readonly Tensor[];
  /** int32 masks, nonzero where a key may be attended, each broadcastable to the scores. */
  keep: readonly Tensor[];
  /** The causal mask (key j > query i masked). */
  causal: boolean;
}

/** The int32 mask [Lq, Lk] of the keys a query may see causally: 1 where j ≤ i. */
function causalKeepMask(Lq: number, Lk: number): Tensor {
  const data = new Int32Array(Lq * Lk);
  for (let i = 0; i < Lq; i++) for (let j = 0; j <= Math.min(i, Lk - 1); j++) data[i * Lk + j] = 1;
  return tensor(data, { shape: [Lq, Lk], dtype: 'int32' });
}

/**
 * Check that `mask` (named `name`) can mask scores of shape `scores` (dtype `dtype`): an int32
 * mask or a float one of the inputs' dtype, broadcastable to the scores.
 */
function checkMask(op: string, name: string, mask: unknown, scores: readonly number[], dtype: string): Tensor {
  if (!(mask instanceof Tensor)) throw new ValueError(`${op}: expected ${name} to be a Tensor or null; got ${describeValue(mask)}`);
  if (mask.dtype !== 'int32' && mask.dtype !== dtype) {
    throw new DTypeError(`${op}: ${name} must be int32 (a boolean mask) or ${dtype} like the inputs (an additive mask); got ${mask.dtype}`);
  }
  if (!broadcastsTo(mask.shape, scores)) {
    throw new ShapeError(`${op}: ${name} of shape ${formatShape(mask.shape)} cannot be broadcast to the attention scores ${formatShape(scores)} ([..., Lq, Lk])`);
  }
  return mask;
}

/**
 * The attention probabilities softmax(q kᵀ · scale + masks) [..., Lq, Lk] of already checked
 * operands: the core of scaledDotProductAttention and nn.MultiheadAttention.
 */
export function attentionProbabilities(q: Tensor, k: Tensor, scale: number, masks: AttentionMasks): Tensor {
  let scores = matmul(q, transpose(k, -2, -1)).mul(scale);
  for (const m of masks.additive) scores = scores.add(m);
  const Lq = scores.shape[scores.rank - 2]!;
  const Lk = scores.shape[scores.rank - 1]!;
  const keep = masks.causal ? [...masks.keep, causalKeepMask(Lq, Lk)] : masks.keep;
  for (const m of keep) scores = where(m, scores, -Infinity);
  return softmax(scores, -1);
}

/** q, k (and v, unless `v` is 'none') checked as attention operands; returns the score shape [..., Lq, Lk]. */
function attentionShapes(op: string, q: Tensor, k: Tensor, value: Tensor | 'none'): number[] {
  floatOperand(op, q, 'the query to be a Tensor');
  floatOperand(op, k, 'the key to be a Tensor');
  const v = value === 'none' ? null : floatOperand(op, value, 'the value to be a Tensor');
  const operands = v ? `q ${formatShape(q.shape)}, k ${formatShape(k.shape)}, v ${formatShape(v.shape)}` : `q ${formatShape(q.shape)}, k ${formatShape(k.shape)}`;
  assertShape(q.rank >= 2 && k.rank >= 2 && (!v || v.rank >= 2), () => `${op}: expected q [..., Lq, d], k [..., Lk, d] and v [..., Lk, dv]; got ${operands}`);
  for (const [name, t] of [['key', k], ['value', v]] as const) {
    if (t && t.dtype !== q.dtype) throw new DTypeError(`${op}: the ${name} is ${t.dtype} but the query is ${q.dtype} (convert one with .to('${q.dtype}'))`);
  }
  const d = q.shape[q.rank - 1]!;
  assertShape(k.shape[k.rank - 1] === d, () => `${op}: q and k must have the same feature size d (last axis); got ${operands}`);
  const Lk = k.shape[k.rank - 2]!;
  assertShape(!v || v.shape[v.rank - 2] === Lk, () => `${op}: k and v must have the same number of keys Lk (axis −2); got ${operands}`);
  let batch: number[];
  try {
    batch = broadcastShapes(op, q.shape.slice(0, -2), k.shape.slice(0, -2));
    if (v) batch = broadcastShapes(op, batch, v.shape.slice(0, -2));
  } catch {
    throw new ShapeError(`${op}: the leading (batch) axes of q, k and v cannot be broadcast together; got ${operands}`);
  }
  return [...batch, q.shape[q.rank - 2]!, Lk];
}

function attentionOptions(op: string, q: Tensor, scores: readonly number[], options: AttentionOptions): { scale: number; masks: AttentionMasks } {
  const { attnMask, isCausal, scale } = optionsArgument(op, options);
  const s = scale === null || scale === undefined ? 1 / Math.sqrt(q.shape[q.rank - 1]!) : numberArgument(op, 'scale', scale, undefined, true);
  const causal = boolArgument(op, 'isCausal', isCausal, false);
  const masks: AttentionMasks = { additive: [], keep: [], causal };
  if (attnMask !== null && attnMask !== undefined) {
    const m = checkMask(op, 'attnMask', attnMask, scores, q.dtype);
    masks[m.dtype === 'int32' ? 'keep' : 'additive'] = [m];
  }
  return { scale: s, masks };
}

/**
 * The attention probabilities softmax(q kᵀ · scale + mask) [..., Lq, Lk] of
 * scaledDotProductAttention (the `A` with out = A v), for inspecting or plotting them. Same
 * options and checks as scaledDotProductAttention; differentiable.
 * @example attentionWeights(q, k, { isCausal: true }) // q [B, h, L, d] → [B, h, L, L]
 */
export function attentionWeights(q: Tensor, k: Tensor, options: AttentionOptions = {}): Tensor {
  const op = 'attentionWeights';
  const scores = attentionShapes(op, q, k, 'none');
  const { scale, masks } = attentionOptions(op, q, scores, options);
  return attentionProbabilities(q, k, scale, masks);
}

/**
 * Scaled dot-product attention softmax(q kᵀ · scale + mask) v, as
 * torch.nn.functional.scaled_dot_product_attention (without dropout): q [..., Lq, d],
 * k [..., Lk, d], v [..., Lk, dv] → [..., Lq, dv], the leading axes broadcast. `attnMask`
 * follows PyTorch's convention for this function: an int32 (boolean) mask is nonzero where a
 * key TAKES PART; a float mask is added to the scores. Differentiable to any order in q, k, v
 * and a float mask; works under vmap and per-sample gradients.
 * @example scaledDotProductAttention(q, k, v, { isCausal: true }) // q, k, v [B, h, L, d]
 */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = {}): Tensor {
  const op = 'scaledDotProductAttention';
  const scores = attentionShapes(op, q, k, v);
  const { scale, masks } = attentionOptions(op, q, scores, options);
  return matmul(attentionProbabilities(q, k, scale, masks), v);
}
