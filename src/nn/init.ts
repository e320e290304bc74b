/**
 * Parameter initialisation, always from an explicit seed (gradscope has no global RNG).
 *
 * - `pytorchDefault`: U(−1/√fan_in, 1/√fan_in) for weights and biases, which is what
 *   torch.nn.Linear and Conv2d use (kaiming_uniform with a = √5 reduces to this bound).
 * - `kaimingNormal` (He et al. 2015): N(0, 2/fan_in), for ReLU networks.
 * - `xavierUniform` (Glorot & Bengio 2010): U(±√(6/(fan_in + fan_out))).
 *
 * fan_in of a weight [out, in, k…] is in·Πk; fan_out is out·Πk.
 */
import { rand, randn, zeros } from '../tensor/creation.js';
import type { FloatDType } from '../tensor/dtype.js';
import { ValueError, describeValue } from '../tensor/errors.js';
import { foldIn, makeKey, type Key } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import { floatDTypeArgument, intArgument, keyArgument, optionsArgument, shapeArgument } from '../tensor/arguments.js';

/**
 * How a layer's weights are drawn (see the file comment): 'pytorch' is torch.nn.Linear's and
 * Conv2d's default U(±1/√fan_in), 'kaiming' is N(0, 2/fan_in), 'xavier' is
 * U(±√(6/(fan_in + fan_out))). Biases are U(±1/√fan_in) under 'pytorch', zeros otherwise.
 */
export type InitScheme = 'pytorch' | 'kaiming' | 'xavier';

/**
 * fan_in and fan_out of a weight [out, in, k…]: in·Πk and out·Πk, as
 * torch.nn.init._calculate_fan_in_and_fan_out. Throws a ValueError for a rank below 2.
 * @example fans([6, 1, 5, 5]) // { fanIn: 25, fanOut: 150 }
 */
export function fans(shape: readonly number[]): {
  /** in·Πk: the inputs that feed one output element. */
  fanIn: number;
  /** out·Πk: the outputs that one input element feeds. */
  fanOut: number;
} {
  shapeArgument('init', shape, 'the weight shape');
  if (shape.length < 2) throw new ValueError(`init: fan-in needs a weight of rank ≥ 2; got shape [${shape}]`);
  const receptive = shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: shape[1]! * receptive, fanOut: shape[0]! * receptive };
}

/** The weight of `shape` under `scheme`, drawn from `key`. */
export function initWeight(shape: readonly number[], scheme: InitScheme, key: Key, dtype: FloatDType): Tensor {
  const { fanIn, fanOut } = fans(shape);
  schemeArgument('init', scheme);
  keyArgument('init', key);
  floatDTypeArgument('init', dtype);
  switch (scheme) {
    case 'pytorch': {
      const bound = 1 / Math.sqrt(fanIn);
      return rand(shape, { key, dtype, low: -bound, high: bound });
    }
    case 'kaiming':
      return randn(shape, { key, dtype, std: Math.sqrt(2 / fanIn) });
    case 'xavier': {
      const bound = Math.sqrt(6 / (fanIn + fanOut));
      return rand(shape, { key, dtype, low: -bound, high: bound });
    }
  }
}

/** A bias of `size` for a weight of `weightShape`: U(±1/√fan_in) (PyTorch) or zeros (otherwise). */
export function initBias(size: number, weightShape: readonly number[], scheme: InitScheme, key: Key, dtype: FloatDType): Tensor {
  intArgument('init', 'the bias size', size);
  fans(weightShape);
  schemeArgument('init', scheme);
  keyArgument('init', key);
  floatDTypeArgument('init', dtype);
  if (scheme !== 'pytorch') return zeros([size], { dtype });
  const bound = 1 / Math.sqrt(fans(weightShape).fanIn);
  return rand([size], { key, dtype, low: -bound, high: bound });
}

/** The initialisation options every layer with weights takes. */
export interface InitOptions {
  /** Seed of this layer's parameters. Required: there is no global random state. */
  seed: number;
  /** How the weights (and biases) are drawn; default 'pytorch', torch.nn's default. */
  scheme?: InitScheme;
  /** dtype of the parameters (default 'float32'). */
  dtype?: FloatDType;
}

const SCHEMES: readonly InitScheme[] = ['pytorch', 'kaiming', 'xavier'];

function schemeArgument(op: string, v: unknown): InitScheme {
  if (!SCHEMES.includes(v as InitScheme)) throw new ValueError(`${op}: unknown init scheme ${describeValue(v)} (expected 'pytorch', 'kaiming' or 'xavier')`);
  return v as InitScheme;
}

/**
 * The InitOptions of a layer with weights (`op` names the layer), checked: the seed, the
 * scheme and the dtype, with the keys of its weight and bias.
 */
export function layerInit(
  op: string,
  options: InitOptions,
): {
  /** layerKeys(options.seed): the keys of the weight and the bias. */
  keys: {
    /** The key the weight is drawn from. */
    weight: Key;
    /** The key the bias is drawn from. */
    bias: Key;
  };
  /** The scheme, 'pytorch' if none was given. */
  scheme: InitScheme;
  /** The dtype, 'float32' if none was given. */
  dtype: FloatDType;
} {
  optionsArgument(op, options, 'the options ({ seed, … })', true);
  const keys = layerKeys(options.seed, op);
  const scheme = options.scheme === undefined ? 'pytorch' : schemeArgument(op, options.scheme);
  return { keys, scheme, dtype: floatDTypeArgument(op, options.dtype, 'float32') };
}

/** Independent keys for the weight and the bias of a layer seeded with `seed` (`op` names the caller in the error). */
export function layerKeys(seed: number, op = 'init'): {
  /** foldIn(makeKey(seed), 0): the key of the weight. */
  weight: Key;
  /** foldIn(makeKey(seed), 1): the key of the bias. */
  bias: Key;
} {
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new ValueError(`${op}: a layer with weights needs { seed }, an integer in [0, 2^53) (gradscope has no global random state); got ${describeValue(seed)}`);
  }
  const key = makeKey(seed);
  return { weight: foldIn(key, 0), bias: foldIn(key, 1) };
}
