/**
 * Dropout with keyed masks (docs/design.md §7): in train mode element j of sample i is kept iff
 * u < 1 − p, where u is the uniform number of counter j under the key
 * foldIn(foldIn(makeKey(seed), layerId), sampleId) — a pure function of (seed, layer id,
 * sample id, element). A sample therefore gets the same mask whenever the same seed is used,
 * whatever else is in its batch and in whatever order: locking dropout between the SVRG
 * snapshot and the current point is just passing the same seed. Kept elements are scaled by
 * 1/(1 − p) (inverted dropout); eval mode is the identity.
 */
import { mul } from '../autograd/ops/mul.js';
import { allocate, type DType } from '../tensor/dtype.js';
import { ValueError, describeValue } from '../tensor/errors.js';
import { perSampleView, randomnessError, vmapRandomness } from '../tensor/random-context.js';
import { foldIn, makeKey, randomBits, uniform53 } from '../tensor/random.js';
import { Tensor } from '../tensor/tensor.js';
import { Module, type ForwardContext } from './module.js';
import { floatDTypeArgument, intArgument, shapeArgument } from '../tensor/arguments.js';

/**
 * Inverted dropout (torch.nn.Dropout) with masks keyed by (seed, layerId, sample id, element)
 * rather than drawn from a global generator (see the file comment). In train mode with p > 0,
 * forward needs `{ seed, sampleIds }` in its context (one id per row of axis 0) and throws a
 * ValueError without them; in eval mode it is the identity. Inside vmap, the mask follows
 * vmap's `randomness` option.
 */
export class Dropout extends Module {
  /**
   * @param p probability of dropping an element
   * @param layerId distinguishes the masks of different Dropout layers of one model
   */
  constructor(
    readonly p: number,
    readonly layerId = 0,
  ) {
    super();
    if (!(typeof p === 'number' && p >= 0 && p < 1)) throw new ValueError(`Dropout: p must be in [0, 1); got ${describeValue(p)}`);
    if (!Number.isInteger(layerId) || layerId < 0) throw new ValueError(`Dropout: layerId must be an integer ≥ 0; got ${describeValue(layerId)}`);
  }

  override describe(): string {
    return `Dropout(p=${this.p}, layer ${this.layerId})`;
  }

  forward(x: Tensor, context: ForwardContext = {}): Tensor {
    this.input(x);
    if (!this.training || this.p === 0) return x;
    if (x.isBatched) return this.forwardInsideVmap(x, context);
    const { sampleIds, seed } = context;
    if (seed === undefined || sampleIds === undefined) {
      throw new ValueError(`${this.describe()}: train mode needs { seed, sampleIds } in the forward context (masks are keyed by them)`);
    }
    if (sampleIds.length !== x.shape[0]) {
      throw new ValueError(`${this.describe()}: got ${sampleIds.length} sample ids for a batch of ${x.shape[0]}`);
    }
    for (let i = 0; i < sampleIds.length; i++) {
      const id = sampleIds[i]!;
      if (!Number.isSafeInteger(id) || id < 0) throw new ValueError(`${this.describe()}: sample ids must be integers in [0, 2^53); got ${id} at position ${i}`);
    }
    return mul(x, dropoutMask(x.shape, x.dtype, this.p, seed, this.layerId, sampleIds));
  }

  /**
   * Inside vmap the per-sample function sees one sample: its mask follows vmap's randomness.
   * 'different': sample b of the vmap gets the mask keyed by sample id b (b counted over the
   * whole batch, so chunkSize changes nothing) — exactly the masks of the batch forward with
   * sampleIds 0 … B−1. 'same': every sample gets the mask of sample id 0. 'error' refuses, as
   * every random draw inside vmap does. Only `seed` is read from the context.
   */
  private forwardInsideVmap(x: Tensor, context: ForwardContext): Tensor {
    const frame = vmapRandomness();
    if (!frame || frame.mode === 'error') throw randomnessError(this.describe(), 'a random mask');
    const { seed } = context;
    if (seed === undefined) throw new ValueError(`${this.describe()}: train mode needs { seed } in the forward context (masks are keyed by it)`);
    const one = [1, ...x.shape];
    if (frame.mode === 'same') return mul(x, dropoutMask(one, x.dtype, this.p, seed, this.layerId, [0]).reshape(x.shape));
    const ids = Array.from({ length: frame.size }, (_, b) => frame.offset + b);
    const masks = dropoutMask([frame.size, ...x.shape], x.dtype, this.p, seed, this.layerId, ids);
    return mul(x, perSampleView.wrap!(masks, frame.level));
  }
}

/** The mask (0 or 1/(1 − p)) of a batch, sample i keyed by sampleIds[i]. */
export function dropoutMask(
  shape: readonly number[],
  dtype: DType,
  p: number,
  seed: number,
  layerId: number,
  sampleIds: ArrayLike<number>,
): Tensor {
  const op = 'dropoutMask';
  shapeArgument(op, shape);
  if (shape.length === 0) throw new ValueError(`${op}: expected a shape [N, …] with a batch axis; got []`);
  floatDTypeArgument(op, dtype);
  if (!(typeof p === 'number' && p >= 0 && p < 1)) throw new ValueError(`${op}: p must be a number in [0, 1); got ${describeValue(p)}`);
  intArgument(op, 'the seed', seed);
  intArgument(op, 'layerId', layerId);
  if (typeof sampleIds !== 'object' || sampleIds === null || sampleIds.length !== shape[0]) {
    throw new ValueError(`${op}: expected ${shape[0]} sample ids (one per sample of the batch); got ${describeValue(sampleIds)}${typeof sampleIds === 'object' && sampleIds !== null ? ` of length ${sampleIds.length}` : ''}`);
  }
  for (let i = 0; i < sampleIds.length; i++) {
    const id = sampleIds[i];
    if (!Number.isSafeInteger(id) || id! < 0) throw new ValueError(`${op}: sample ids must be integers in [0, 2^53); got ${describeValue(id)} at position ${i}`);
  }
  const perSample = shape.slice(1).reduce((a, b) => a * b, 1);
  const data = allocate(dtype, perSample * shape[0]!);
  const layerKey = foldIn(makeKey(seed), layerId);
  const scale = 1 / (1 - p);
  for (let i = 0; i < shape[0]!; i++) {
    const key = foldIn(layerKey, sampleIds[i]!);
    for (let j = 0; j < perSample; j++) {
      const [w0, w1] = randomBits(key, j);
      data[i * perSample + j] = uniform53(w0, w1) < 1 - p ? scale : 0;
    }
  }
  return Tensor.fromData(data, shape);
}
