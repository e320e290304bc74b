/**
 * Multi-head attention, as torch.nn.MultiheadAttention(embed_dim E, num_heads h, bias,
 * batch_first=True, dropout=0) computes it:
 *
 *   Q = query W_qᵀ + b_q,  K = key W_kᵀ + b_k,  V = value W_vᵀ + b_v
 *       (W_q, W_k, W_v = rows 0:E, E:2E, 2E:3E of in_proj_weight [3E, E]; b likewise of in_proj_bias)
 *   split E into h consecutive heads of E/h:  [B, L, E] → [B, h, L, E/h]
 *   A = softmax(Q Kᵀ / √(E/h) + masks),  O = A V,  heads concatenated back to [B, Lq, E]
 *   out = O out_proj.weightᵀ + out_proj.bias
 *
 * Masks follow nn.MultiheadAttention's convention (the opposite of scaled_dot_product_attention's
 * for boolean masks): an int32 `keyPaddingMask` [B, Lk] or `attnMask` ([Lq, Lk] or [B·h, Lq, Lk])
 * is nonzero where a key is MASKED OUT; a float one is added to the scores.
 *
 * NOTE: when query, key and value are the same tensor (self-attention), Q, K and V come from one
 * product with the whole in_proj_weight, sliced afterwards — PyTorch's fast path, and the form
 * that per-sample gradients can follow (the slices are taken on the batch side). Otherwise the
 * weight itself is sliced into W_q, W_k, W_v; per-sample gradients then stop at the slice of a
 * parameter, with a GradError naming it.
 */
import { attentionProbabilities, type AttentionMasks } from '../autograd/composite/attention.js';
import { mean } from '../autograd/composite/reduce.js';
import { transpose } from '../autograd/composite/shape.js';
import { noGrad } from '../autograd/mode.js';
import { matmul } from '../autograd/ops/matmul.js';
import { floatOperand } from '../autograd/operands.js';
import { zeros } from '../tensor/creation.js';
import { DTypeError, ShapeError, ValueError, assertShape, describeValue, formatShape } from '../tensor/errors.js';
import { foldIn, makeKey } from '../tensor/random.js';
import { Tensor } from '../tensor/tensor.js';
import { initWeight, layerInit, type InitOptions } from './init.js';
import { Linear } from './linear.js';
import { Module } from './module.js';
import { boolArgument, intArgument, optionsArgument } from '../tensor/arguments.js';

/** The parameters of multiheadAttention, under torch.nn.MultiheadAttention's names (camelCase). */
export interface MultiheadAttentionParams {
  /** W_q, W_k, W_v stacked by rows, shape [3E, E] (in_proj_weight). */
  inProjWeight: Tensor;
  /** b_q, b_k, b_v, shape [3E], or null (in_proj_bias). */
  inProjBias?: Tensor | null;
  /** [E, E] (out_proj.weight). */
  outProjWeight: Tensor;
  /** [E] or null (out_proj.bias). */
  outProjBias?: Tensor | null;
}

/** Options of multiheadAttention and MultiheadAttention.attend (torch's arguments, in camelCase). */
export interface MultiheadAttentionOptions {
  /**
   * [B, Lk] ([Lk] for an unbatched input): int32, nonzero where a key is padding (ignored by
   * every head and query); or float in the inputs' dtype, added to the scores of that key.
   */
  keyPaddingMask?: Tensor | null;
  /**
   * [Lq, Lk] (the same for every sample and head) or [B·h, Lq, Lk] (sample-major, as PyTorch
   * lays it out): int32, nonzero where query i may NOT attend key j; or float, added.
   */
  attnMask?: Tensor | null;
  /**
   * Mask every key j > query i (the causal mask, built here; torch takes it as `attn_mask`
   * with the `is_causal` hint). Default false.
   */
  isCausal?: boolean;
  /** Return the attention probabilities too (default true, as torch). */
  needWeights?: boolean;
  /** Average the returned probabilities over the heads: [B, Lq, Lk] (default true); else [B, h, Lq, Lk]. */
  averageAttnWeights?: boolean;
}

/** What multiheadAttention returns: the output [B, Lq, E] and, with needWeights, the probabilities. */
export interface MultiheadAttentionResult {
  /** [B, Lq, E] ([Lq, E] for an unbatched input). */
  output: Tensor;
  /** [B, Lq, Lk] averaged over the heads, [B, h, Lq, Lk] per head, or null without needWeights. */
  weights: Tensor | null;
}

/** x Wᵀ + b. */
function project(x: Tensor, w: Tensor, b: Tensor | null): Tensor {
  const y = matmul(x, transpose(w));
  return b ? y.add(b) : y;
}

/** [B, L, E] → [B, h, L, E/h]: consecutive features form a head. */
function splitHeads(x: Tensor, h: number): Tensor {
  const [B, L, E] = x.shape as [number, number, number];
  return x.reshape([B, L, h, E / h]).permute([0, 2, 1, 3]);
}

function optionalTensor(op: string, name: string, v: unknown): Tensor | null {
  if (v === null || v === undefined) return null;
  if (!(v instanceof Tensor)) throw new ValueError(`${op}: expected ${name} to be a Tensor or null; got ${describeValue(v)}`);
  return v;
}

function paramOfShape(op: string, name: string, v: unknown, shape: readonly number[], dtype: string): Tensor {
  if (!(v instanceof Tensor)) throw new ValueError(`${op}: expected ${name} to be a Tensor; got ${describeValue(v)}`);
  assertShape(v.rank === shape.length && v.shape.every((d, i) => d === shape[i]), () => `${op}: ${name} must have shape ${formatShape(shape)}; got ${formatShape(v.shape)}`);
  if (v.dtype !== dtype) throw new DTypeError(`${op}: ${name} is ${v.dtype} but the query is ${dtype} (convert one with .to('${dtype}'))`);
  return v;
}

/** A mask in MHA's convention (nonzero / float added) as the attention core's masks, reshaped to `to`. */
function addMask(op: string, name: string, m: Tensor, to: readonly number[], dtype: string, masks: { additive: Tensor[]; keep: Tensor[] }): void {
  if (m.dtype === 'int32') masks.keep.push(m.eq(0).reshape(to));
  else if (m.dtype === dtype) masks.additive.push(m.reshape(to));
  else throw new DTypeError(`${op}: ${name} must be int32 (a boolean mask, nonzero = masked out) or ${dtype} like the inputs (an additive mask); got ${m.dtype}`);
}

/**
 * Multi-head attention as a function of its parameters (torch.nn.functional.multi_head_attention_forward
 * with batch_first inputs and no dropout): query [B, Lq, E], key [B, Lk, E], value [B, Lk, E]
 * (or all three without the batch axis) and `numHeads` h dividing E. Pass the same tensor as
 * query, key and value for self-attention. See the file comment for the computation and the
 * mask convention. Differentiable to any order in the inputs, the parameters and float masks.
 * @example const { output, weights } = multiheadAttention(x, x, x, 4, params, { isCausal: true });
 */
export function multiheadAttention(
  query: Tensor,
  key: Tensor,
  value: Tensor,
  numHeads: number,
  params: MultiheadAttentionParams,
  options: MultiheadAttentionOptions = {},
): MultiheadAttentionResult {
  const op = 'multiheadAttention';
  floatOperand(op, query, 'the query to be a Tensor');
  floatOperand(op, key, 'the key to be a Tensor');
  floatOperand(op, value, 'the value to be a Tensor');
  optionsArgument(op, params, 'the parameters ({ inProjWeight, inProjBias, outProjWeight, outProjBias })', true);
  const opts = optionsArgument(op, options);
  const h = intArgument(op, 'numHeads', numHeads, 1);
  const shapes = () => `query ${formatShape(query.shape)}, key ${formatShape(key.shape)}, value ${formatShape(value.shape)}`;
  const batched = query.rank === 3;
  assertShape(
    (query.rank === 3 || query.rank === 2) && key.rank === query.rank && value.rank === query.rank,
    () => `${op}: expected query [B, Lq, E], key and value [B, Lk, E] (or all three without the batch axis); got ${shapes()}`,
  );
  const E = query.shape[query.rank - 1]!;
  assertShape(E % h === 0, () => `${op}: the embedding size E = ${E} (last axis of the query) must be divisible by numHeads = ${h}`);
  assertShape(key.shape[key.rank - 1] === E && value.shape[value.rank - 1] === E, () => `${op}: query, key and value must all have E = ${E} features (last axis); got ${shapes()}`);
  assertShape(key.shape[key.rank - 2] === value.shape[value.rank - 2], () => `${op}: key and value must have the same number of keys Lk; got ${shapes()}`);
  assertShape(!batched || (key.shape[0] === query.shape[0] && value.shape[0] === query.shape[0]), () => `${op}: query, key and value must have the same batch size; got ${shapes()}`);
  for (const [name, t] of [['key', key], ['value', value]] as const) {
    if (t.dtype !== query.dtype) throw new DTypeError(`${op}: the ${name} is ${t.dtype} but the query is ${query.dtype} (convert one with .to('${query.dtype}'))`);
  }
  const dtype = query.dtype;
  const W = paramOfShape(op, 'inProjWeight', params.inProjWeight, [3 * E, E], dtype);
  const bIn = params.inProjBias === null || params.inProjBias === undefined ? null : paramOfShape(op, 'inProjBias', params.inProjBias, [3 * E], dtype);
  const Wo = paramOfShape(op, 'outProjWeight', params.outProjWeight, [E, E], dtype);
  const bOut = params.outProjBias === null || params.outProjBias === undefined ? null : paramOfShape(op, 'outProjBias', params.outProjBias, [E], dtype);
  const needWeights = boolArgument(op, 'needWeights', opts.needWeights, true);
  const average = boolArgument(op, 'averageAttnWeights', opts.averageAttnWeights, true);
  const causal = boolArgument(op, 'isCausal', opts.isCausal, false);
  const selfAttention = query === key && key === value;

  // An unbatched call is a batch of one.
  const q3 = batched ? query : query.unsqueeze(0);
  const k3 = batched ? key : key.unsqueeze(0);
  const v3 = batched ? value : value.unsqueeze(0);
  const B = q3.shape[0]!;
  const Lq = q3.shape[1]!;
  const Lk = k3.shape[1]!;

  const masks: AttentionMasks & { additive: Tensor[]; keep: Tensor[] } = { additive: [], keep: [], causal };
  const kpm = optionalTensor(op, 'keyPaddingMask', opts.keyPaddingMask);
  if (kpm) {
    const expected = batched ? [B, Lk] : [Lk];
    assertShape(kpm.rank === expected.length && kpm.shape.every((d, i) => d === expected[i]), () => `${op}: keyPaddingMask must have shape ${formatShape(expected)} (${batched ? 'batch, keys' : 'keys'}); got ${formatShape(kpm.shape)}`);
    addMask(op, 'keyPaddingMask', kpm, [B, 1, 1, Lk], dtype, masks);
  }
  const am = optionalTensor(op, 'attnMask', opts.attnMask);
  if (am) {
    const perHead = [B * h, Lq, Lk];
    const same = am.rank === 2 && am.shape[0] === Lq && am.shape[1] === Lk;
    const each = am.rank === 3 && am.shape.every((d, i) => d === perHead[i]);
    if (!same && !each) {
      throw new ShapeError(`${op}: attnMask must have shape ${formatShape([Lq, Lk])} or ${formatShape(perHead)} (batch·heads, queries, keys); got ${formatShape(am.shape)}`);
    }
    addMask(op, 'attnMask', am, same ? [Lq, Lk] : [B, h, Lq, Lk], dtype, masks);
  }

  let Q: Tensor, K: Tensor, V: Tensor;
  if (selfAttention) {
    const qkv = project(q3, W, bIn);
    Q = qkv.slice([null, null, [0, E]]);
    K = qkv.slice([null, null, [E, 2 * E]]);
    V = qkv.slice([null, null, [2 * E, 3 * E]]);
  } else {
    const rows = (i: number) => W.slice([[i * E, (i + 1) * E]]);
    const bias = (i: number) => (bIn ? bIn.slice([[i * E, (i + 1) * E]]) : null);
    Q = project(q3, rows(0), bias(0));
    K = project(k3, rows(1), bias(1));
    V = project(v3, rows(2), bias(2));
  }
  const A = attentionProbabilities(splitHeads(Q, h), splitHeads(K, h), 1 / Math.sqrt(E / h), masks);
  const O = matmul(A, splitHeads(V, h)).permute([0, 2, 1, 3]).reshape([B, Lq, E]);
  const out = project(O, Wo, bOut);
  const weights = needWeights ? (average ? mean(A, 1) : A) : null;
  return {
    output: batched ? out : out.squeeze(0),
    weights: weights && !batched ? weights.squeeze(0) : weights,
  };
}

/** Options of the MultiheadAttention layer. */
export interface MultiheadAttentionLayerOptions extends InitOptions {
  /** in_proj_bias [3E] and out_proj.bias [E] (default true). */
  bias?: boolean;
}

/**
 * Multi-head attention (torch.nn.MultiheadAttention with batch_first=True, dropout 0): the
 * parameters 'in_proj_weight' [3E, E], 'in_proj_bias' [3E] and the child 'out_proj' (a Linear
 * E → E: 'out_proj.weight', 'out_proj.bias'), initialised as PyTorch does: in_proj_weight
 * Xavier-uniform, out_proj.weight U(±1/√E), both biases 0. `forward(x)` is self-attention
 * without masks; `attend(query, key, value, options)` is the full call (masks, weights).
 * @example const mha = new MultiheadAttention(64, 4, { seed: 0 }); mha.forward(x); // x [B, L, 64]
 */
export class MultiheadAttention extends Module {
  /** The child Linear E → E applied to the concatenated heads ('out_proj'). */
  readonly outProj: Linear;
  private readonly hasBias: boolean;

  constructor(
    /** E, the feature size of query, key, value and output; divisible by numHeads. */
    readonly embedDim: number,
    /** h, the number of heads, each of E/h features. */
    readonly numHeads: number,
    options: MultiheadAttentionLayerOptions,
  ) {
    super();
    const op = 'MultiheadAttention';
    intArgument(op, 'embedDim', embedDim, 1);
    intArgument(op, 'numHeads', numHeads, 1);
    if (embedDim % numHeads !== 0) throw new ValueError(`${op}: embedDim (${embedDim}) must be divisible by numHeads (${numHeads})`);
    const { dtype } = layerInit(op, options);
    this.hasBias = boolArgument(op, 'bias', options.bias, true);
    const key = makeKey(options.seed);
    // PyTorch's _reset_parameters: xavier_uniform_(in_proj_weight), zero biases, and out_proj's
    // weight as an ordinary Linear's (U(±1/√E)). Three independent keys of the one seed.
    this.registerParameter('in_proj_weight', initWeight([3 * embedDim, embedDim], 'xavier', foldIn(key, 0), dtype));
    if (this.hasBias) this.registerParameter('in_proj_bias', zeros([3 * embedDim], { dtype }));
    this.outProj = this.registerModule('out_proj', new Linear(embedDim, embedDim, { seed: options.seed, dtype, bias: this.hasBias }));
    const outWeight = initWeight([embedDim, embedDim], 'pytorch', foldIn(key, 2), dtype);
    noGrad(() => this.outProj.assignParameters(this.hasBias ? [outWeight, zeros([embedDim], { dtype })] : [outWeight]));
  }

  override describe(): string {
    return `MultiheadAttention(E ${this.embedDim}, ${this.numHeads} heads${this.hasBias ? '' : ', no bias'})`;
  }

  /** This layer's parameters as multiheadAttention takes them (the stand-ins inside withParameters). */
  attentionParams(): MultiheadAttentionParams {
    const [outWeight, outBias] = this.outProj.parameters();
    return {
      inProjWeight: this.param('in_proj_weight'),
      inProjBias: this.hasBias ? this.param('in_proj_bias') : null,
      outProjWeight: outWeight!,
      outProjBias: this.hasBias ? outBias! : null,
    };
  }

  /**
   * query [B, Lq, E], key and value [B, Lk, E] → { output [B, Lq, E], weights }, with masks
   * as nn.MultiheadAttention takes them (see MultiheadAttentionOptions).
   */
  attend(query: Tensor, key: Tensor, value: Tensor, options: MultiheadAttentionOptions = {}): MultiheadAttentionResult {
    this.input(query);
    this.input(key);
    this.input(value);
    assertShape(
      query.rank >= 1 && query.shape[query.rank - 1] === this.embedDim,
      () => `${this.describe()}: expected query [B, Lq, ${this.embedDim}]; got ${formatShape(query.shape)}`,
    );
    return multiheadAttention(query, key, value, this.numHeads, this.attentionParams(), options);
  }

  /** Self-attention of x [B, L, E] without masks; the output only (no weights are computed). */
  forward(x: Tensor): Tensor {
    return this.attend(x, x, x, { needWeights: false }).output;
  }
}
