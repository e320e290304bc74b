/**
 * The nn public API: the Module tree, layers, initialisation, the model zoo and model
 * (de)serialization. File-system save/load lives in src/io/model-file.ts.
 */
export { Module, type ForwardContext, type SavedStats } from './module.js';
export { Linear, type LinearOptions } from './linear.js';
export { Conv2d, type Conv2dLayerOptions } from './conv.js';
export { ELU, ReLU, Sigmoid, Softplus, Tanh } from './activations.js';
export { AvgPool2d, GlobalAvgPool2d, MaxPool2d, type PoolLayerOptions } from './pooling.js';
export { Flatten, Residual, Sequential } from './container.js';
export { BatchNorm1d, BatchNorm2d, type BatchNormOptions } from './batchnorm.js';
export { Dropout, dropoutMask } from './dropout.js';
export { GroupNorm, type GroupNormOptions } from './group-norm.js';
export { Embedding, type EmbeddingLayerOptions } from './embedding.js';
export { Conv1d, type Conv1dLayerOptions } from './conv1d.js';
export { ConvTranspose2d, type ConvTranspose2dLayerOptions } from './conv-transpose2d.js';
export { LayerNorm, type LayerNormOptions } from './layer-norm.js';
export {
  MultiheadAttention,
  multiheadAttention,
  type MultiheadAttentionLayerOptions,
  type MultiheadAttentionOptions,
  type MultiheadAttentionParams,
  type MultiheadAttentionResult,
} from './attention.js';
export {
  TinyTransformer,
  TransformerEncoderLayer,
  type EncoderMasks,
  type TinyTransformerOptions,
  type TransformerActivation,
  type TransformerEncoderLayerOptions,
} from './transformer.js';
export { fans, initBias, initWeight, layerKeys, type InitOptions, type InitScheme } from './init.js';
export { lenet5, mlp, resnet8, summary, tinyTransformer, type Activation, type MLPOptions, type ZooOptions } from './zoo.js';
export {
  MODEL_FILE_FORMAT,
  MODEL_FILE_MAGIC,
  MODEL_FILE_ORDER,
  MODEL_FILE_VERSION,
  crc32,
  deserializeInto,
  readModelBytes,
  serializeModel,
  type EntryKind,
  type ModelFileContents,
  type ModelFileEntry,
  type ModelFileHeader,
} from './serialize.js';
export { functionalCall, parametersByName } from './functional-call.js';
