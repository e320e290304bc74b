/**
 * Build a gradscope model from the oracle's layer spec (packages/lab/oracle/README.md, "the layer
 * spec") and load the case's parameters and running statistics into it. The spec names its
 * parameters; gradscope's own names follow its module tree, so parameters are matched by
 * position in the documented order and checked by shape.
 */
import { AvgPool2d, BatchNorm1d, BatchNorm2d, Conv2d, Flatten, type FloatDType, Linear, MaxPool2d, type Module, ReLU, Residual, Sequential, Tanh, ValueError } from 'gradscope';
import { inputOf, paramOf, toTensor, type OracleCase } from '../format.js';

type Layer = Record<string, any>;

function build(layer: Layer, dtype: FloatDType): Module {
  switch (layer.type) {
    case 'linear':
      return new Linear(layer.in_features, layer.out_features, { seed: 0, dtype, bias: layer.bias !== null });
    case 'conv2d':
      return new Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size, {
        seed: 0,
        dtype,
        bias: layer.bias !== null,
        stride: layer.stride,
        padding: layer.padding,
        dilation: layer.dilation,
        groups: layer.groups,
      });
    case 'batch_norm1d':
      return new BatchNorm1d(layer.num_features, { dtype, momentum: layer.momentum, eps: layer.eps });
    case 'batch_norm2d':
      return new BatchNorm2d(layer.num_features, { dtype, momentum: layer.momentum, eps: layer.eps });
    case 'relu':
      return new ReLU();
    case 'tanh':
      return new Tanh();
    case 'max_pool2d':
      return new MaxPool2d(layer.kernel_size, { stride: layer.stride, padding: layer.padding });
    case 'avg_pool2d':
      return new AvgPool2d(layer.kernel_size, { stride: layer.stride, padding: layer.padding, countIncludePad: layer.count_include_pad });
    case 'flatten':
      return new Flatten();
    case 'residual':
      return new Residual(sequence(layer.body, dtype), layer.shortcut.length ? sequence(layer.shortcut, dtype) : null);
    default:
      throw new ValueError(`oracle: unknown layer type '${layer.type}'`);
  }
}

/** The model of a layer spec, freshly initialised (shared with the interop family, which loads a file into it). */
export function sequence(layers: Layer[], dtype: FloatDType): Sequential {
  return new Sequential(...layers.map((l) => build(l, dtype)));
}

/** The layer types this builder knows (others make a case "skipped"). */
export const LAYER_TYPES = new Set(['linear', 'conv2d', 'batch_norm1d', 'batch_norm2d', 'relu', 'tanh', 'max_pool2d', 'avg_pool2d', 'flatten', 'residual']);

export function unknownLayer(layers: Layer[]): string | null {
  for (const l of layers) {
    if (!LAYER_TYPES.has(l.type)) return `layer ${l.type}`;
    if (l.type === 'residual') {
      const inner = unknownLayer([...l.body, ...l.shortcut]);
      if (inner) return inner;
    }
  }
  return null;
}

/** The model of a case with its parameters and running statistics loaded, and the spec names in gradscope's order. */
export function modelOf(c: OracleCase, dtype: FloatDType): { model: Sequential; paramNames: string[]; bufferNames: string[] } {
  const model = sequence(c.config.layers, dtype);
  const paramNames: string[] = c.config.param_order;
  const bufferNames: string[] = c.config.buffer_order ?? [];
  const ours = model.namedParameters();
  if (ours.length !== paramNames.length) {
    throw new ValueError(`oracle: the spec lists ${paramNames.length} parameters, the model built from it has ${ours.length}`);
  }
  model.assignParameters(paramNames.map((n) => toTensor(paramOf(c, n), dtype)));
  const buffers = model.namedBuffers();
  if (buffers.length !== bufferNames.length) {
    throw new ValueError(`oracle: the spec lists ${bufferNames.length} buffers, the model built from it has ${buffers.length}`);
  }
  model.restoreStats(new Map(buffers.map(([ours], k) => [ours, toTensor(inputOf(c, bufferNames[k]!), dtype).toTypedArray()])));
  return { model, paramNames, bufferNames };
}
