/**
 * The Transformer encoder block (torch.nn.TransformerEncoderLayer with batch_first=True and no
 * dropout) and the zoo's tiny Transformer classifier built from it.
 *
 * Pre-norm (normFirst: true, the form of GPT-2, ViT and most recent models):
 *
 *   x₁  = x + MHA(LN₁(x))                 self-attention: query = key = value = LN₁(x)
 *   out = x₁ + linear2(act(linear1(LN₂(x₁))))
 *
 * Post-norm (normFirst: false, PyTorch's default and the original Transformer's):
 *
 *   x₁  = LN₁(x + MHA(x)),   out = LN₂(x₁ + linear2(act(linear1(x₁))))
 *
 * Children in PyTorch's order and under its names: 'self_attn', 'linear1', 'linear2', 'norm1',
 * 'norm2', so the parameters are 'self_attn.in_proj_weight', …, 'norm2.bias' as in a PyTorch
 * state_dict.
 */
import { mean } from '../autograd/composite/reduce.js';
import { gelu } from '../autograd/ops/gelu.js';
import { relu } from '../autograd/ops/relu.js';
import { randn } from '../tensor/creation.js';
import type { FloatDType } from '../tensor/dtype.js';
import { ValueError, assertShape, describeValue, formatShape } from '../tensor/errors.js';
import { foldIn, makeKey } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import { MultiheadAttention } from './attention.js';
import { Sequential } from './container.js';
import { layerInit, type InitOptions } from './init.js';
import { LayerNorm } from './layer-norm.js';
import { Linear } from './linear.js';
import { Module } from './module.js';
import { boolArgument, finiteArgument, intArgument, optionsArgument } from '../tensor/arguments.js';

/**
 * The feed-forward activation of a TransformerEncoderLayer: 'relu' (PyTorch's default), 'gelu'
 * (the exact, erf form, as torch's "gelu"), or any function of a tensor.
 */
export type TransformerActivation = 'relu' | 'gelu' | ((x: Tensor) => Tensor);

function activationOf(op: string, v: unknown): (x: Tensor) => Tensor {
  if (v === undefined || v === 'relu') return relu;
  if (v === 'gelu') return (x) => gelu(x, 'none');
  if (typeof v === 'function') return v as (x: Tensor) => Tensor;
  throw new ValueError(`${op}: expected activation to be 'relu', 'gelu' or a function; got ${describeValue(v)}`);
}

/** Independent integer seeds for the sublayers of a layer seeded with `seed` (32-bit words of foldIn keys). */
function childSeeds(seed: number): (k: number) => number {
  const key = makeKey(seed);
  return (k) => foldIn(key, k)[0];
}

/** Options of TransformerEncoderLayer (torch's arguments, in camelCase). */
export interface TransformerEncoderLayerOptions extends InitOptions {
  /** F, the hidden size of the feed-forward network (default 2048, as torch). */
  dimFeedforward?: number;
  /** The feed-forward activation (default 'relu', as torch). */
  activation?: TransformerActivation;
  /** ε of both LayerNorms (default 1e-5). */
  layerNormEps?: number;
  /** Pre-norm (true) or post-norm (false, torch's default); see the file comment. */
  normFirst?: boolean;
  /** Biases in the attention, the linear layers and the LayerNorms (default true). */
  bias?: boolean;
}

/** The masks of one encoder call (torch's src_mask, src_key_padding_mask, is_causal). */
export interface EncoderMasks {
  /** As MultiheadAttentionOptions.attnMask: [L, L] or [B·h, L, L], int32 nonzero = masked out, or float added. */
  srcMask?: Tensor | null;
  /** As MultiheadAttentionOptions.keyPaddingMask: [B, L], int32 nonzero = padding, or float added. */
  srcKeyPaddingMask?: Tensor | null;
  /** Mask every key j > query i (default false). */
  isCausal?: boolean;
}

/**
 * A Transformer encoder block (torch.nn.TransformerEncoderLayer, batch_first=True, dropout 0):
 * x [B, L, dModel] → [B, L, dModel]. Its sublayers are initialised as PyTorch's are (see
 * MultiheadAttention, Linear, LayerNorm), each from its own seed derived from `seed`.
 * `forward(x)` runs it without masks; `encode(x, masks)` with them.
 * @example const block = new TransformerEncoderLayer(64, 4, { seed: 0, dimFeedforward: 128, normFirst: true, activation: 'gelu' });
 */
export class TransformerEncoderLayer extends Module {
  /** 'self_attn'. */
  readonly selfAttn: MultiheadAttention;
  /** 'linear1': dModel → F. */
  readonly linear1: Linear;
  /** 'linear2': F → dModel. */
  readonly linear2: Linear;
  /** 'norm1': before the attention (pre-norm) or after its residual (post-norm). */
  readonly norm1: LayerNorm;
  /** 'norm2': around the feed-forward network likewise. */
  readonly norm2: LayerNorm;
  /** Pre-norm (true) or post-norm (false). */
  readonly normFirst: boolean;
  /** F. */
  readonly dimFeedforward: number;
  private readonly activation: (x: Tensor) => Tensor;

  constructor(
    /** dModel (E), the feature size of input and output; divisible by nhead. */
    readonly dModel: number,
    /** The number of attention heads. */
    readonly nhead: number,
    options: TransformerEncoderLayerOptions,
  ) {
    super();
    const op = 'TransformerEncoderLayer';
    intArgument(op, 'dModel', dModel, 1);
    intArgument(op, 'nhead', nhead, 1);
    if (dModel % nhead !== 0) throw new ValueError(`${op}: dModel (${dModel}) must be divisible by nhead (${nhead})`);
    const { dtype } = layerInit(op, options);
    this.dimFeedforward = intArgument(op, 'dimFeedforward', options.dimFeedforward, 1, 2048);
    this.activation = activationOf(op, options.activation);
    const eps = finiteArgument(op, 'layerNormEps', options.layerNormEps, 1e-5);
    this.normFirst = boolArgument(op, 'normFirst', options.normFirst, false);
    const bias = boolArgument(op, 'bias', options.bias, true);
    const seed = childSeeds(options.seed);
    this.selfAttn = this.registerModule('self_attn', new MultiheadAttention(dModel, nhead, { seed: seed(0), dtype, bias }));
    this.linear1 = this.registerModule('linear1', new Linear(dModel, this.dimFeedforward, { seed: seed(1), dtype, bias }));
    this.linear2 = this.registerModule('linear2', new Linear(this.dimFeedforward, dModel, { seed: seed(2), dtype, bias }));
    // NOTE: torch's LayerNorm(bias=False) keeps the weight; gradscope's LayerNorm has both or
    // neither, so bias: false here keeps both LayerNorm parameters (only linear/attention biases go).
    this.norm1 = this.registerModule('norm1', new LayerNorm(dModel, { eps, dtype }));
    this.norm2 = this.registerModule('norm2', new LayerNorm(dModel, { eps, dtype }));
  }

  override describe(): string {
    return `TransformerEncoderLayer(E ${this.dModel}, ${this.nhead} heads, F ${this.dimFeedforward}, ${this.normFirst ? 'pre-norm' : 'post-norm'})`;
  }

  private attention(x: Tensor, masks: EncoderMasks): Tensor {
    return this.selfAttn.attend(x, x, x, {
      attnMask: masks.srcMask,
      keyPaddingMask: masks.srcKeyPaddingMask,
      isCausal: masks.isCausal,
      needWeights: false,
    }).output;
  }

  private feedForward(x: Tensor): Tensor {
    return this.linear2.forward(this.activation(this.linear1.forward(x)));
  }

  /** x [B, L, dModel] (or [L, dModel]) through the block with masks (see EncoderMasks). */
  encode(x: Tensor, masks: EncoderMasks = {}): Tensor {
    const input = this.input(x);
    optionsArgument(this.describe(), masks, 'the masks');
    assertShape(
      (input.rank === 3 || input.rank === 2) && input.shape[input.rank - 1] === this.dModel,
      () => `${this.describe()}: expected input [B, L, ${this.dModel}] (or [L, ${this.dModel}]); got ${formatShape(input.shape)}`,
    );
    if (this.normFirst) {
      const x1 = input.add(this.attention(this.norm1.forward(input), masks));
      return x1.add(this.feedForward(this.norm2.forward(x1)));
    }
    const x1 = this.norm1.forward(input.add(this.attention(input, masks)));
    return this.norm2.forward(x1.add(this.feedForward(x1)));
  }

  /** x [B, L, dModel] through the block without masks. */
  forward(x: Tensor): Tensor {
    return this.encode(x);
  }
}

/** Options of TinyTransformer (and the zoo's tinyTransformer). */
export interface TinyTransformerOptions {
  /** Seed of the whole model; sublayer k is initialised from its own derived seed. */
  seed: number;
  /** dtype of every parameter (default 'float32'). */
  dtype?: FloatDType;
  /** Features of each input token (default 28: one MNIST row). */
  inputDim?: number;
  /** The (maximum) sequence length: rows of the learned positional embedding (default 28). */
  seqLen?: number;
  /** dModel (default 32). */
  dModel?: number;
  /** Attention heads per block (default 4); must divide dModel. */
  numHeads?: number;
  /** Encoder blocks (default 2). */
  numLayers?: number;
  /** Hidden size of each block's feed-forward network (default 2·dModel). */
  dimFeedforward?: number;
  /** Outputs of the classifier (default 10). */
  classes?: number;
  /** Feed-forward activation of every block (default 'gelu'). */
  activation?: TransformerActivation;
}

/**
 * A small pre-norm Transformer classifier for sequences of vectors (MNIST read row by row by
 * default): token embedding Linear(inputDim → dModel) + a learned positional embedding →
 * numLayers pre-norm TransformerEncoderLayers → LayerNorm → mean over the sequence →
 * Linear(dModel → classes). Input [B, L, inputDim], or [B, 1, L, inputDim] (an image with one
 * channel, read as L rows), with L ≤ seqLen; output logits [B, classes].
 *
 * Parameters, in order: 'pos_embedding' [seqLen, dModel] (N(0, 0.02²), as ViT's), 'embed.weight',
 * 'embed.bias', 'layers.0.self_attn.in_proj_weight', …, 'layers.{n−1}.norm2.bias', 'norm.weight',
 * 'norm.bias', 'head.weight', 'head.bias'. Samples never interact, so perSampleGrads works
 * (with L = seqLen: a shorter sequence slices the positional embedding, which it cannot follow).
 * @example const model = new TinyTransformer({ seed: 0 }); model.forward(images); // [B, 1, 28, 28] → [B, 10]
 */
export class TinyTransformer extends Module {
  /** 'embed': the token embedding. */
  readonly embed: Linear;
  /** 'layers': the encoder blocks ('layers.0', 'layers.1', …). */
  readonly layers: Sequential;
  /** 'norm': the final LayerNorm of a pre-norm stack. */
  readonly norm: LayerNorm;
  /** 'head': the classifier. */
  readonly head: Linear;
  /** Features per token. */
  readonly inputDim: number;
  /** Rows of the positional embedding. */
  readonly seqLen: number;
  /** dModel. */
  readonly dModel: number;

  constructor(options: TinyTransformerOptions) {
    super();
    const op = 'TinyTransformer';
    optionsArgument(op, options, 'the options ({ seed, … })', true);
    const { dtype } = layerInit(op, { seed: options.seed, dtype: options.dtype });
    this.inputDim = intArgument(op, 'inputDim', options.inputDim, 1, 28);
    this.seqLen = intArgument(op, 'seqLen', options.seqLen, 1, 28);
    this.dModel = intArgument(op, 'dModel', options.dModel, 1, 32);
    const numHeads = intArgument(op, 'numHeads', options.numHeads, 1, 4);
    const numLayers = intArgument(op, 'numLayers', options.numLayers, 0, 2);
    const dimFeedforward = intArgument(op, 'dimFeedforward', options.dimFeedforward, 1, 2 * this.dModel);
    const classes = intArgument(op, 'classes', options.classes, 1, 10);
    if (this.dModel % numHeads !== 0) throw new ValueError(`${op}: dModel (${this.dModel}) must be divisible by numHeads (${numHeads})`);
    const activation = options.activation ?? 'gelu';
    activationOf(op, activation);
    const seed = childSeeds(options.seed);
    this.registerParameter('pos_embedding', randn([this.seqLen, this.dModel], { key: foldIn(makeKey(options.seed), 1 << 20), dtype, std: 0.02 }));
    this.embed = this.registerModule('embed', new Linear(this.inputDim, this.dModel, { seed: seed(0), dtype }));
    const blocks = Array.from(
      { length: numLayers },
      (_, i) => new TransformerEncoderLayer(this.dModel, numHeads, { seed: seed(i + 1), dtype, dimFeedforward, activation, normFirst: true }),
    );
    this.layers = this.registerModule('layers', new Sequential(...blocks));
    this.norm = this.registerModule('norm', new LayerNorm(this.dModel, { dtype }));
    this.head = this.registerModule('head', new Linear(this.dModel, classes, { seed: seed(numLayers + 1), dtype }));
  }

  override describe(): string {
    return `TinyTransformer(${this.seqLen}×${this.inputDim} → E ${this.dModel}, ${this.layers.layers.length} blocks)`;
  }

  /** Logits [B, classes] of x [B, L, inputDim] or [B, 1, L, inputDim] (L ≤ seqLen). */
  forward(x: Tensor): Tensor {
    const input = this.input(x);
    const rows = input.rank === 4 && input.shape[1] === 1 ? input.reshape([input.shape[0]!, input.shape[2]!, input.shape[3]!]) : input;
    assertShape(
      rows.rank === 3 && rows.shape[2] === this.inputDim && rows.shape[1]! <= this.seqLen,
      () => `${this.describe()}: expected input [B, L, ${this.inputDim}] or [B, 1, L, ${this.inputDim}] with L ≤ ${this.seqLen}; got ${formatShape(input.shape)}`,
    );
    const L = rows.shape[1]!;
    const pos = this.param('pos_embedding');
    let h = this.embed.forward(rows).add(L === this.seqLen ? pos : pos.slice([[0, L]]));
    for (const block of this.layers.layers) h = block.forward(h);
    return this.head.forward(mean(this.norm.forward(h), 1));
  }
}
