/**
 * The model zoo: an MLP, LeNet-5 with BatchNorm and ReLU (the model of Defazio & Bottou's
 * experiments), ResNet-8 for 28×28 inputs, and a tiny pre-norm Transformer that reads an image
 * row by row. Every model is built from one explicit seed; layer k's parameters use
 * seed·1009 + k (the Transformer's sublayers: seeds folded from its one seed, see
 * nn/transformer.ts), so two models with the same seed are identical.
 */
import type { FloatDType } from '../tensor/dtype.js';
import { ValueError, describeValue } from '../tensor/errors.js';
import { ELU, ReLU, Sigmoid, Softplus, Tanh } from './activations.js';
import { BatchNorm1d, BatchNorm2d } from './batchnorm.js';
import { Flatten, Residual, Sequential } from './container.js';
import { Conv2d } from './conv.js';
import { Dropout } from './dropout.js';
import { Linear } from './linear.js';
import { moduleArgument, type Module } from './module.js';
import { GlobalAvgPool2d, MaxPool2d } from './pooling.js';
import { TinyTransformer, type TinyTransformerOptions } from './transformer.js';
import { boolArgument, finiteArgument, floatDTypeArgument, intArgument, optionsArgument, shapeArgument } from '../tensor/arguments.js';

/** The hidden-layer activation of `mlp`: ReLU, Tanh, Sigmoid, ELU (α = 1) or Softplus (β = 1, threshold 20). */
export type Activation = 'relu' | 'tanh' | 'sigmoid' | 'elu' | 'softplus';

const ACTIVATIONS: Record<Activation, () => Module> = {
  relu: () => new ReLU(),
  tanh: () => new Tanh(),
  sigmoid: () => new Sigmoid(),
  elu: () => new ELU(),
  softplus: () => new Softplus(),
};

/** Options every zoo model takes. */
export interface ZooOptions {
  /**
   * Seed of the whole model, an integer ≥ 0 below 2^53 / 1009 (required: there is no global
   * random state); layer k is initialised from seed·1009 + k.
   */
  seed: number;
  /** dtype of every parameter and buffer (default 'float32'). */
  dtype?: FloatDType;
}

/** Hands out the per-layer seeds of one model. */
function seeds(seed: number): () => number {
  let k = 0;
  return () => seed * 1009 + k++;
}

/** A zoo model's options, checked (`op` names the model): its dtype and the seeds of its layers. */
function zooOptions(op: string, options: ZooOptions): { dtype: FloatDType; next: () => number } {
  optionsArgument(op, options, 'the options ({ seed, … })', true);
  // Layer k gets seed·1009 + k: keep that a safe integer.
  if (!(Number.isSafeInteger(options.seed) && options.seed >= 0 && options.seed * 1009 + 1000 < 2 ** 53)) {
    throw new ValueError(`${op}: a model needs { seed }, an integer ≥ 0 below 2^53 / 1009 (gradscope has no global random state); got ${describeValue(options.seed)}`);
  }
  return { dtype: floatDTypeArgument(op, options.dtype, 'float32'), next: seeds(options.seed) };
}

/** Options of `mlp`. */
export interface MLPOptions extends ZooOptions {
  /** The activation after every hidden layer (default 'relu'); none after the output layer. */
  activation?: Activation;
  /** A BatchNorm1d after every hidden linear layer (before the activation). */
  batchNorm?: boolean;
  /** Dropout probability after every hidden activation (0 = none). */
  dropout?: number;
}

/**
 * MLP with layer sizes [in, hidden…, out].
 * @example mlp([784, 256, 256, 10], { seed: 0, activation: 'relu' })
 */
export function mlp(sizes: readonly number[], options: MLPOptions): Sequential {
  shapeArgument('mlp', sizes, 'sizes');
  if (sizes.length < 2) throw new ValueError(`mlp: need at least input and output sizes; got [${sizes}]`);
  if (sizes.includes(0)) throw new ValueError(`mlp: every layer size must be ≥ 1; got [${sizes}]`);
  const { dtype, next } = zooOptions('mlp', options);
  const activation = options.activation === undefined ? 'relu' : options.activation;
  if (!Object.hasOwn(ACTIVATIONS, activation)) throw new ValueError(`mlp: unknown activation ${describeValue(activation)} (expected ${Object.keys(ACTIVATIONS).join(', ')})`);
  const batchNorm = boolArgument('mlp', 'batchNorm', options.batchNorm, false);
  const dropout = finiteArgument('mlp', 'dropout', options.dropout, 0);
  const layers: Module[] = [];
  for (let i = 0; i + 1 < sizes.length; i++) {
    layers.push(new Linear(sizes[i]!, sizes[i + 1]!, { seed: next(), dtype }));
    if (i + 2 === sizes.length) break;
    if (batchNorm) layers.push(new BatchNorm1d(sizes[i + 1]!, { dtype }));
    layers.push(ACTIVATIONS[activation]());
    if (dropout > 0) layers.push(new Dropout(dropout, i));
  }
  return new Sequential(...layers);
}

/**
 * LeNet-5 for 1×28×28 inputs with BatchNorm and ReLU:
 * conv 6@5×5 → BN → ReLU → maxpool 2 → conv 16@5×5 → BN → ReLU → maxpool 2 → flatten (256)
 * → fc 120 → BN → ReLU → fc 84 → BN → ReLU → fc classes.
 */
export function lenet5(
  options: ZooOptions & {
    /** Outputs of the last layer (default 10). */
    classes?: number;
    /** The BatchNorm layers (default true); false gives the plain conv–ReLU–pool LeNet-5. */
    batchNorm?: boolean;
  },
): Sequential {
  const { dtype, next } = zooOptions('lenet5', options);
  const classes = intArgument('lenet5', 'classes', options.classes, 1, 10);
  const batchNorm = boolArgument('lenet5', 'batchNorm', options.batchNorm, true);
  const bn2 = (c: number) => (batchNorm ? [new BatchNorm2d(c, { dtype })] : []);
  const bn1 = (c: number) => (batchNorm ? [new BatchNorm1d(c, { dtype })] : []);
  return new Sequential(
    new Conv2d(1, 6, 5, { seed: next(), dtype }),
    ...bn2(6),
    new ReLU(),
    new MaxPool2d(2),
    new Conv2d(6, 16, 5, { seed: next(), dtype }),
    ...bn2(16),
    new ReLU(),
    new MaxPool2d(2),
    new Flatten(),
    new Linear(256, 120, { seed: next(), dtype }),
    ...bn1(120),
    new ReLU(),
    new Linear(120, 84, { seed: next(), dtype }),
    ...bn1(84),
    new ReLU(),
    new Linear(84, classes, { seed: next(), dtype }),
  );
}

/** A basic residual block: conv3-BN-ReLU-conv3-BN plus the shortcut (1×1 conv + BN when the shape changes). */
function basicBlock(cin: number, cout: number, stride: number, next: () => number, dtype: FloatDType): Module {
  const body = new Sequential(
    new Conv2d(cin, cout, 3, { seed: next(), dtype, stride, padding: 1, bias: false }),
    new BatchNorm2d(cout, { dtype }),
    new ReLU(),
    new Conv2d(cout, cout, 3, { seed: next(), dtype, padding: 1, bias: false }),
    new BatchNorm2d(cout, { dtype }),
  );
  const projection =
    stride !== 1 || cin !== cout
      ? new Sequential(new Conv2d(cin, cout, 1, { seed: next(), dtype, stride, bias: false }), new BatchNorm2d(cout, { dtype }))
      : null;
  return new Sequential(new Residual(body, projection), new ReLU());
}

/**
 * ResNet-8 for 1×28×28 inputs: stem conv 3×3 (width) → three basic blocks of widths
 * width, 2·width, 4·width (the last two with stride 2: 28 → 14 → 7) → global average pool → fc.
 */
export function resnet8(
  options: ZooOptions & {
    /** Outputs of the last layer (default 10). */
    classes?: number;
    /** Channels of the stem and the first block (default 16). */
    width?: number;
    /** Channels of the input image (default 1). */
    inChannels?: number;
  },
): Sequential {
  const { dtype, next } = zooOptions('resnet8', options);
  const classes = intArgument('resnet8', 'classes', options.classes, 1, 10);
  const width = intArgument('resnet8', 'width', options.width, 1, 16);
  const inChannels = intArgument('resnet8', 'inChannels', options.inChannels, 1, 1);
  return new Sequential(
    new Conv2d(inChannels, width, 3, { seed: next(), dtype, padding: 1, bias: false }),
    new BatchNorm2d(width, { dtype }),
    new ReLU(),
    basicBlock(width, width, 1, next, dtype),
    basicBlock(width, 2 * width, 2, next, dtype),
    basicBlock(2 * width, 4 * width, 2, next, dtype),
    new GlobalAvgPool2d(),
    new Linear(4 * width, classes, { seed: next(), dtype }),
  );
}

/**
 * A tiny pre-norm Transformer classifier (docs/transformer.md): an MNIST image [B, 1, 28, 28]
 * (or [B, 28, 28]) is read as a sequence of 28 rows of 28 pixels → Linear(28 → dModel) +
 * learned positions → numLayers encoder blocks (pre-norm, GELU) → LayerNorm → mean over the
 * rows → Linear(dModel → classes). Defaults: dModel 32, 4 heads, 2 blocks, feed-forward 64,
 * 10 classes (19,306 parameters). See TinyTransformer for the parameter names.
 * @example const model = tinyTransformer({ seed: 0 }); model.forward(images); // [B, 10]
 */
export function tinyTransformer(options: Omit<TinyTransformerOptions, 'dtype' | 'seed'> & ZooOptions): TinyTransformer {
  const { dtype } = zooOptions('tinyTransformer', options);
  return new TinyTransformer({ ...options, dtype });
}

/** One line per model: its layers' descriptions and the parameter count. */
export function summary(model: Module): string {
  const lines = moduleArgument('summary', model, 'a model (Module)')
    .namedModules()
    .filter(([, m]) => m.children().length === 0)
    .map(([name, m]) => `  ${name.padEnd(24)} ${m.describe()}`);
  return `${lines.join('\n')}\n  ${model.numParameters().toLocaleString('en-US')} parameters`;
}
