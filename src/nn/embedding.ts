/**
 * Embedding: a lookup table of numEmbeddings vectors of size embeddingDim, indexed by int32
 * token ids (torch.nn.Embedding). The weight [V, D] is drawn from N(0, 1), as PyTorch does,
 * from the layer's seed; with a paddingIdx that row is set to zero and never receives a
 * gradient (it stays the fixed pad vector). The lookup is the embedding composite
 * (src/autograd/composite/embedding.ts).
 */
import { embedding, paddingIndex } from '../autograd/composite/embedding.js';
import { randn } from '../tensor/creation.js';
import type { FloatDType } from '../tensor/dtype.js';
import { DTypeError } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { layerInit } from './init.js';
import { Module } from './module.js';
import { intArgument } from '../tensor/arguments.js';

/** Options of Embedding: the seed of its N(0, 1) weight (required), a padding row, the dtype. */
export interface EmbeddingLayerOptions {
  /** Seed of the weight. Required: there is no global random state. */
  seed: number;
  /** A row in [−V, V) that is initialised to zero and gets no gradient (negative counts from the end); default none. */
  paddingIdx?: number | null;
  /** dtype of the weight (default 'float32'). */
  dtype?: FloatDType;
}

/**
 * A lookup table (torch.nn.Embedding): int32 indices of any shape → indices.shape + [D].
 * Parameter 'weight' [numEmbeddings, embeddingDim] ~ N(0, 1) from the seed, its paddingIdx
 * row zero. Indices outside [0, numEmbeddings) are refused.
 * @example new Embedding(1000, 64, { seed: 0, paddingIdx: 0 }).forward(tokens) // tokens [B, T] int32 → [B, T, 64]
 */
export class Embedding extends Module {
  /** The padding row, made non-negative (null when there is none). */
  readonly paddingIdx: number | null;

  constructor(
    /** V, the number of rows (the vocabulary size); an integer ≥ 1. */
    readonly numEmbeddings: number,
    /** D, the size of each vector; an integer ≥ 1. */
    readonly embeddingDim: number,
    options: EmbeddingLayerOptions,
  ) {
    super();
    intArgument('Embedding', 'numEmbeddings', numEmbeddings, 1);
    intArgument('Embedding', 'embeddingDim', embeddingDim, 1);
    const { keys, dtype } = layerInit('Embedding', options);
    this.paddingIdx = paddingIndex('Embedding', options.paddingIdx, numEmbeddings);
    const weight = randn([numEmbeddings, embeddingDim], { key: keys.weight, dtype });
    // A fresh contiguous tensor, not yet in any graph: its pad row is zeroed in place.
    const pad = this.paddingIdx;
    if (pad !== null) weight.data.fill(0, pad * embeddingDim, (pad + 1) * embeddingDim);
    this.registerParameter('weight', weight);
  }

  override describe(): string {
    return `Embedding(${this.numEmbeddings}, ${this.embeddingDim}${this.paddingIdx === null ? '' : `, paddingIdx=${this.paddingIdx}`})`;
  }

  forward(x: Tensor): Tensor {
    if (this.input(x, false).dtype !== 'int32') {
      throw new DTypeError(`${this.describe()}: expected int32 indices; got ${x.dtype} (use .to('int32'))`);
    }
    return embedding(x, this.param('weight'), { paddingIdx: this.paddingIdx });
  }
}
