/**
 * maxPool2d(x): the maximum of each window of x [N, C, H, W] (implicit −∞ padding), with the
 * flat index h·W + w of each maximum within its (n, c) plane.
 *
 * Two steps. The index kernel finds each window's (first) maximum; it reads x's storage and
 * has no derivative, so it runs as a non-differentiable op with a batching rule of its own.
 * Then the primitive `maxPool2d` picks the values at those indices: given the indices it is
 * linear in x, y = P·x with P the 0/1 matrix that selects each window's maximum, so
 *
 *   ∂/∂x = Pᵀ·gradOut = maxPool2dBackward(gradOut)   (gradOut added at each saved index,
 *                                                     summed where windows overlap)
 *
 * and maxPool2dBackward's own derivative is P again — this op applied to its gradient — so
 * gradients of gradients cost nothing extra. The tangent is the tangent picked alike (P·ẋ).
 */
import { getBackend } from '../../kernels/registry.js';
import { poolOutputShape, type Pair, type PoolGeometry } from '../../kernels/geometry.js';
import { allocate, type TypedArray } from '../../tensor/dtype.js';
import { assertShape, assertValue, formatShape } from '../../tensor/errors.js';
import { contiguousStrides, shapesEqual, type Shape } from '../../tensor/shape.js';
import type { View } from '../../tensor/storage.js';
import { Tensor } from '../../tensor/tensor.js';
import { floatOperand } from '../operands.js';
import { optionsArgument, pairArgument } from '../../tensor/arguments.js';
import { apply, applyNonDiff, defineOp, type Batched, type NonDiffOpDef } from '../op.js';
import { mergeBatchIntoLeading, splitLeading, toFrontExpanded } from '../rules.js';
import { maxPool2dBackward } from './max-pool2d-backward.js';

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

/**
 * The values the index kernel found along with the indices, kept for the one `maxPool2d` call
 * that picks them next (see maxPool2dOp's forward), with what identifies its input.
 *
 * NOTE: the kernel computes the maxima anyway, and picking them again from x costs a gather
 * pass (≈ 1 ms for LeNet-5's first pooling at batch 128). The values are reused only for the
 * very indices array the kernel returned and the same view of the same storage at the same
 * version, so a hit can only be that call; anything else (a tangent, a gradient, another view)
 * gathers. The slot is emptied by the next pick, hit or not.
 */
let lastPooled: {
  indices: Int32Array;
  values: TypedArray;
  data: TypedArray;
  offset: number;
  shape: Shape;
  strides: readonly number[];
  version: number;
} | null = null;

/** The flat within-plane index of each window's maximum, [N, C, Ho, Wo] (int32, no gradient). */
export const maxPool2dIndicesOp: NonDiffOpDef<PoolGeometry> = {
  name: 'maxPool2dIndices',
  forward: ([x], g) => {
    const { values, indices } = getBackend().maxPool2d(x!, g, x!.dtype);
    lastPooled = { indices, values, data: x!.data, offset: x!.offset, shape: x!.shape, strides: x!.strides, version: x!.version };
    return Tensor.fromData(indices, poolOutputShape(x!.shape, g));
  },
  // Samples are independent images: the batch axis merges into N and splits off again.
  batch: ({ inputs: [x], dims: [d], attrs, size }) => ({
    value: splitLeading(applyNonDiff(maxPool2dIndicesOp, [mergeBatchIntoLeading(x!, d!)], attrs), size),
    dim: 0,
  }),
};

/** The geometry alone (attrs without the tensors in them). */
export function geometryOf(a: PoolGeometry): PoolGeometry {
  return { kernel: a.kernel, stride: a.stride, padding: a.padding, dilation: a.dilation };
}

/**
 * The primitive: x's values at the window maxima the index kernel found (`indices`, an attr),
 * linear in x given them; its backward is maxPool2dBackward (see the file comment).
 */
export const maxPool2dOp = defineOp<PoolGeometry & {
  /** int32 [N, C, Ho, Wo]: the flat in-plane index h·W + w of each window's maximum (a constant, never differentiated). */
  indices: Tensor;
}>({
  name: 'maxPool2d',
  forward: ([x], a) => Tensor.fromData(pickValues(x!, a.indices), a.indices.shape),
  backward: (ctx, gradOut) => [maxPool2dBackward(gradOut, ctx.attrs.indices, ctx.inputShapes[0]!, ctx.attrs)],
  // Linear in x (the indices are a constant attr): the tangent is picked at the same indices.
  jvp: ({ tangents: [t], attrs }): Tensor => apply(maxPool2dOp, [t!], attrs),
  // Samples are independent images: x and the indices merge their batch axes into N (an
  // unbatched one broadcast to the batch size first), and the result splits off again.
  batch: ({ inputs: [x], dims: [d], attrs, size, unwrap }): Batched => {
    const index = unwrap(attrs.indices);
    const xs = mergeBatchIntoLeading(toFrontExpanded(x!, d!, size), 0);
    const indices = mergeBatchIntoLeading(toFrontExpanded(index.value, index.dim, size), 0);
    return { value: splitLeading(apply(maxPool2dOp, [xs], { ...geometryOf(attrs), indices }), size), dim: 0 };
  },
  describe: (a) => `kernel=[${a.kernel}], stride=[${a.stride}], padding=[${a.padding}], dilation=[${a.dilation}]`,
});

/**
 * x [N, C, H, W] at the in-plane indices [N, C, Ho, Wo]: the kernel's own values when these
 * are the indices it just returned for this x (lastPooled), else a gather along each
 * flattened plane.
 */
function pickValues(x: Tensor, indices: Tensor): TypedArray {
  const hit = lastPooled;
  lastPooled = null;
  const contiguous = contiguousStrides(indices.shape);
  if (
    hit !== null &&
    hit.indices === indices.data &&
    indices.offset === 0 &&
    indices.size === hit.indices.length &&
    indices.strides.every((s, i) => s === contiguous[i]) &&
    hit.data === x.data &&
    hit.offset === x.offset &&
    hit.version === x.version &&
    shapesEqual(hit.shape, x.shape) &&
    hit.strides.every((s, i) => s === x.strides[i])
  ) {
    return withWinners(hit.values, x, hit.indices);
  }
  return getBackend().gather(planes(x), 2, planes(indices), x.dtype);
}

/**
 * The kernel's values made equal to x at the indices everywhere: a window where nothing beats
 * −∞ (all its taps −∞, or all in the padding) has value −∞ from the kernel but index 0, so
 * its value is x's element there, as gathering gives (a rare case: one pass to find none).
 */
function withWinners(values: TypedArray, x: Tensor, indices: Int32Array): TypedArray {
  const [, C, , W] = x.shape as [number, number, number, number];
  const [s0, s1, s2, s3] = x.strides as [number, number, number, number];
  const L = values.length / (x.shape[0]! * C);
  for (let o = 0; o < values.length; o++) {
    if (values[o] !== -Infinity) continue;
    const plane = Math.floor(o / L);
    const n = Math.floor(plane / C);
    const h = Math.floor(indices[o]! / W);
    values[o] = x.data[x.offset + n * s0 + (plane - n * C) * s1 + h * s2 + (indices[o]! - h * W) * s3]!;
  }
  return values;
}

/** A 4-D view as [N, C, H·W]: the same storage where H and W merge into one stride, else a contiguous copy. */
function planes(v: Tensor): View {
  const [N, C, H, W] = v.shape as [number, number, number, number];
  const [s0, s1, s2, s3] = v.strides as [number, number, number, number];
  if (H === 1 || s2 === W * s3) return { data: v.data, shape: [N, C, H * W], strides: [s0, s1, s3], offset: v.offset };
  const copy = allocate(v.dtype, v.size);
  getBackend().copyInto(v, { data: copy, shape: v.shape, strides: contiguousStrides(v.shape), offset: 0 });
  return { data: copy, shape: [N, C, H * W], strides: [C * H * W, H * W, 1], offset: 0 };
}

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
  const indices = applyNonDiff(maxPool2dIndicesOp, [x], g);
  return { values: apply(maxPool2dOp, [x], { ...g, indices }), indices };
}
