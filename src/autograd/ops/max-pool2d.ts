/**
 * maxPool2d(x): the maximum of each window of x [N, C, H, W] (implicit −∞ padding), with the
 * flat index h·W + w of each maximum within its (n, c) plane.
 *
 * Not a primitive: the kernel finds the indices, and the values are gathered from each
 * plane at those indices — so the gradient, ∂/∂x = gradOut routed to each window's argmax
 * (accumulated where windows overlap), is gather's backward (scatterAdd), and higher
 * derivatives follow too.
 *
 * The index kernel reads x's storage, so it runs as a non-differentiable op with a batching
 * rule of its own (under vmap the values then come from gather's rule, with a batched index).
 */
import { getBackend } from '../../kernels/registry.js';
import { poolOutputShape, type Pair, type PoolGeometry } from '../../kernels/geometry.js';
import { assertShape, assertValue, formatShape } from '../../tensor/errors.js';
import type { Shape } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { floatOperand } from '../operands.js';
import { gather } from './gather.js';
import { optionsArgument, pairArgument } from '../../tensor/arguments.js';
import { applyNonDiff, type NonDiffOpDef } from '../op.js';
import { mergeBatchIntoLeading, splitLeading } from '../rules.js';

/** Geometry of maxPool2d, as torch.nn.functional.max_pool2d (a number means both H and W). */
export interface PoolOptions {
  /** Step of the window, integers ≥ 1. Default: the kernel size (non-overlapping windows). */
  stride?: number | Pair;
  /** Implicit −∞ padding on each side of H and W, at most half the kernel; default 0. */
  padding?: number | Pair;
  /** Spacing between window taps, integers ≥ 1; default 1. */
  dilation?: number | Pair;
}

/** Defaults and checks shared by the pooling ops. */
export function poolGeometry(op: string, x: Shape, kernel: number | Pair, options: PoolOptions): PoolGeometry {
  options = optionsArgument(op, options);
  const k = pairArgument(op, 'the kernel size', kernel, 1);
  const g: PoolGeometry = {
    kernel: k,
    // stride null means the kernel size, as in PyTorch; padding and dilation have no such value.
    stride: pairArgument(op, 'stride', options.stride ?? k, 1),
    padding: pairArgument(op, 'padding', options.padding === undefined ? 0 : options.padding, 0),
    dilation: pairArgument(op, 'dilation', options.dilation === undefined ? 1 : options.dilation, 1),
  };
  assertShape(x.length === 4, () => `${op}: expected input [N, C, H, W]; got ${formatShape(x)}`);
  const ints = (p: Pair, min: number) => p.length === 2 && p.every((v) => Number.isInteger(v) && v >= min);
  assertValue(
    ints(g.kernel, 1) && ints(g.stride, 1) && ints(g.dilation, 1) && ints(g.padding, 0),
    () => `${op}: kernel, stride and dilation must be integers ≥ 1 and padding ≥ 0; got kernel [${g.kernel}], stride [${g.stride}], padding [${g.padding}], dilation [${g.dilation}]`,
  );
  assertValue(
    g.padding[0] * 2 <= g.kernel[0] && g.padding[1] * 2 <= g.kernel[1],
    () => `${op}: padding must be at most half the kernel; got padding [${g.padding}] for kernel [${g.kernel}]`,
  );
  const out = poolOutputShape(x, g);
  assertShape(out[2]! >= 1 && out[3]! >= 1, () => `${op}: the window [${g.kernel}] does not fit the input ${formatShape(x)} with padding [${g.padding}]`);
  return g;
}

/** The flat within-plane index of each window's maximum, [N, C, Ho·Wo] (int32, no gradient). */
export const maxPool2dIndicesOp: NonDiffOpDef<PoolGeometry> = {
  name: 'maxPool2dIndices',
  forward: ([x], g) => {
    const out = poolOutputShape(x!.shape, g);
    return Tensor.fromData(getBackend().maxPool2d(x!, g, x!.dtype).indices, [out[0]!, out[1]!, out[2]! * out[3]!]);
  },
  // Samples are independent images: the batch axis merges into N and splits off again.
  batch: ({ inputs: [x], dims: [d], attrs, size }) => ({
    value: splitLeading(applyNonDiff(maxPool2dIndicesOp, [mergeBatchIntoLeading(x!, d!)], attrs), size),
    dim: 0,
  }),
};

/**
 * Max pooling of x [N, C, H, W] (float) over `kernel` windows, like
 * torch.nn.functional.max_pool2d(return_indices=True). Differentiable in x to any order (the
 * gradient goes to each window's first maximum). Throws ValueError for a bad geometry,
 * ShapeError if x is not 4-D or the window does not fit.
 * @example const { values } = maxPool2d(x, 2);
 */
export function maxPool2d(
  x: Tensor,
  kernel: number | Pair,
  options: PoolOptions = {},
): {
  /** The window maxima, [N, C, Ho, Wo]. */
  values: Tensor;
  /** int32 [N, C, Ho, Wo]: the flat index h·W + w of each maximum within its (n, c) plane, as torch's. */
  indices: Tensor;
} {
  floatOperand('maxPool2d', x);
  const g = poolGeometry('maxPool2d', x.shape, kernel, options);
  const outShape = poolOutputShape(x.shape, g);
  const idx = applyNonDiff(maxPool2dIndicesOp, [x], g);
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const values = gather(x.reshape([N, C, H * W]), 2, idx).reshape(outShape);
  return { values, indices: idx.reshape(outShape) };
}
