/**
 * The two networks the training rows step, described once as layer shapes so that the
 * gradscope implementation, the TensorFlow.js implementation and the FLOP count all read
 * the same numbers.
 */

/** A dense layer x[B, inputs] @ W[inputs, outputs] + b. */
export interface DenseLayer {
  inputs: number;
  outputs: number;
}

/** A convolution (stride 1, no padding) followed by ReLU and a `pool`×`pool` max-pool. */
export interface ConvLayer {
  inChannels: number;
  outChannels: number;
  kernel: number;
  /** Input height and width (square images). */
  inSize: number;
  /** Convolution output height and width, before pooling. */
  outSize: number;
  pool: number;
}

/** MLP: dense layers of the given widths, ReLU between them, logits out. */
export function mlpLayers(widths: readonly number[]): DenseLayer[] {
  return widths.slice(1).map((outputs, i) => ({ inputs: widths[i]!, outputs }));
}

export interface LeNet {
  image: number;
  convs: ConvLayer[];
  /** Features after the last pool, flattened: the first dense layer's input width. */
  flat: number;
  dense: DenseLayer[];
}

/**
 * LeNet-5 on 28×28×1: conv 6@5×5 → relu → maxpool 2 → conv 16@5×5 → relu → maxpool 2 →
 * flatten 256 → fc 120 → relu → fc 84 → relu → fc 10.
 */
export function lenet5(): LeNet {
  const image = 28;
  const convs: ConvLayer[] = [];
  let size = image;
  let channels = 1;
  for (const outChannels of [6, 16]) {
    const kernel = 5;
    const outSize = size - kernel + 1;
    convs.push({ inChannels: channels, outChannels, kernel, inSize: size, outSize, pool: 2 });
    size = outSize / 2;
    channels = outChannels;
  }
  const flat = channels * size * size;
  return { image, convs, flat, dense: mlpLayers([flat, 120, 84, 10]) };
}
