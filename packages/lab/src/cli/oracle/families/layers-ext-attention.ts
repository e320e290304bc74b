/**
 * Oracle family 9 (`layers_ext.json`), its Transformer half: layer norm, scaled dot-product
 * attention, multi-head attention and the pre-norm encoder block (packages/lab/oracle/README.md,
 * "Family 9"). Each case: the output, the gradient of phi = sum(out * R) with respect to every
 * float input and parameter (R = `cotangent`), the attention probabilities where the case
 * stores them, and for the block the Hessian-vector product of phi in the flattened parameters.
 */
import {
  attentionWeights,
  type FloatDType,
  hvp,
  layerNorm,
  multiheadAttention,
  scaledDotProductAttention,
  type Tensor,
  TransformerEncoderLayer,
  ValueError,
  where,
} from 'gradscope';
import { inputOf, paramOf, toTensor, type OracleCase, type Results } from '../format.js';
import { vjpResults } from './vjp.js';

type Runner = (c: OracleCase, dtype: FloatDType) => Results;

const input = (c: OracleCase, name: string, dtype: FloatDType): Tensor => toTensor(inputOf(c, name), dtype);
const leaf = (c: OracleCase, name: string, dtype: FloatDType): Tensor => input(c, name, dtype).requireGrad();
const param = (c: OracleCase, name: string, dtype: FloatDType): Tensor => toTensor(paramOf(c, name), dtype).requireGrad();

/** y = LN(x) over config.normalized_shape, with weight and bias when config.affine. */
const layerNormCase: Runner = (c, dtype) => {
  const x = leaf(c, 'x', dtype);
  const affine = Boolean(c.config.affine);
  const w = affine ? param(c, 'weight', dtype) : null;
  const b = affine ? param(c, 'bias', dtype) : null;
  const out = layerNorm(x, c.config.normalized_shape, w, b, c.config.eps);
  return vjpResults(c, dtype, out, affine ? { x, weight: w!, bias: b! } : { x });
};

/**
 * softmax(q kᵀ · scale + bias + M) v. The case's key padding mask (1 = padded key, [B, Lk]) is
 * sdpa's boolean mask inverted (nonzero = the key takes part) and broadcast over heads and
 * queries; with a float bias as well, the two are folded into one float mask (−∞ where padded).
 */
const sdpaCase: Runner = (c, dtype) => {
  const q = leaf(c, 'q', dtype);
  const k = leaf(c, 'k', dtype);
  const v = leaf(c, 'v', dtype);
  const bias = c.config.bias ? leaf(c, 'bias', dtype) : null;
  let keep: Tensor | null = null;
  if (c.config.key_padding_mask) {
    const padded = input(c, 'key_padding_mask', dtype);
    const [B, Lk] = padded.shape as [number, number];
    keep = padded.eq(0).reshape(q.rank === 4 ? [B, 1, 1, Lk] : [B, 1, Lk]);
  }
  const attnMask = bias && keep ? where(keep, bias, -Infinity) : (bias ?? keep);
  const options = { attnMask, isCausal: Boolean(c.config.causal), scale: c.config.scale };
  const out = scaledDotProductAttention(q, k, v, options);
  const results = vjpResults(c, dtype, out, bias ? { q, k, v, bias } : { q, k, v });
  results.attn = attentionWeights(q, k, options).detach();
  return results;
};

const MHA_PARAMS = ['in_proj_weight', 'in_proj_bias', 'out_proj.weight', 'out_proj.bias'] as const;

/** torch.nn.MultiheadAttention (batch_first) through the functional form, on the case's parameters. */
const mhaCase: Runner = (c, dtype) => {
  const cfg = c.config;
  const names: string[] = cfg.param_names ?? [...MHA_PARAMS];
  if (names.join() !== MHA_PARAMS.join()) throw new ValueError(`oracle layers_ext/${c.name}: expected param_names ${MHA_PARAMS.join(', ')}; got ${names.join(', ')}`);
  const params = MHA_PARAMS.map((n) => param(c, n, dtype));
  const inputNames = cfg.self_attention ? ['x'] : ['query', 'key', 'value'];
  const inputs = inputNames.map((n) => leaf(c, n, dtype));
  const [query, key, value] = cfg.self_attention ? [inputs[0]!, inputs[0]!, inputs[0]!] : inputs;
  const { output, weights } = multiheadAttention(
    query!,
    key!,
    value!,
    cfg.num_heads,
    { inProjWeight: params[0]!, inProjBias: params[1]!, outProjWeight: params[2]!, outProjBias: params[3]! },
    {
      keyPaddingMask: cfg.key_padding_mask ? input(c, 'key_padding_mask', dtype) : null,
      isCausal: Boolean(cfg.causal),
      needWeights: true,
      averageAttnWeights: cfg.average_attn_weights,
    },
  );
  const wrt: Record<string, Tensor> = {};
  inputNames.forEach((n, i) => (wrt[n] = inputs[i]!));
  MHA_PARAMS.forEach((n, i) => (wrt[n] = params[i]!));
  const results = vjpResults(c, dtype, output, wrt);
  results.attn_weights = weights!.detach();
  return results;
};

/** nn.TransformerEncoderLayer (batch_first, dropout 0) with the case's parameters; hvp in the flat parameters. */
const blockCase: Runner = (c, dtype) => {
  const cfg = c.config;
  const block = new TransformerEncoderLayer(cfg.d_model, cfg.nhead, {
    seed: 0,
    dtype,
    dimFeedforward: cfg.dim_feedforward,
    activation: cfg.activation,
    layerNormEps: cfg.layer_norm_eps,
    normFirst: cfg.norm_first,
  });
  const ours = block.namedParameters().map(([n]) => n);
  const order: string[] = cfg.param_order;
  if (ours.join() !== order.join()) throw new ValueError(`oracle layers_ext/${c.name}: parameter order ${order.join(', ')} is not gradscope's ${ours.join(', ')}`);
  block.assignParameters(order.map((n) => toTensor(paramOf(c, n), dtype)));
  const masks = {
    srcKeyPaddingMask: cfg.key_padding_mask ? input(c, 'key_padding_mask', dtype) : null,
    isCausal: Boolean(cfg.causal),
  };
  const x = leaf(c, 'x', dtype);
  const out = block.encode(x, masks);
  const params = block.parameters();
  const wrt: Record<string, Tensor> = { x };
  order.forEach((n, i) => (wrt[n] = params[i]!));
  const results = vjpResults(c, dtype, out, wrt);
  const R = input(c, 'cotangent', dtype);
  const xFixed = x.detach();
  const phi = (w: Tensor) => block.callWithVector(w, () => block.encode(xFixed, masks).mul(R).sum());
  results.hvp = hvp(phi, block.flattenParameters(), input(c, 'hvp_direction', dtype));
  return results;
};

/** The layers_ext ops this table runs, keyed by config.op. */
export const ATTENTION_LAYERS: ReadonlyMap<string, Runner> = new Map([
  ['layer_norm', layerNormCase],
  ['sdpa', sdpaCase],
  ['multihead_attention', mhaCase],
  ['transformer_encoder_block', blockCase],
]);
