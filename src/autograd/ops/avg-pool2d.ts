/**
 * avgPool2d(x): the mean of each window of x [N, C, H, W] (zero padding; the divisor counts
 * padded positions or not, `countIncludePad`, as in PyTorch). The op is linear, so
 * ∂/∂x = avgPool2dBackward(gradOut) — its transpose, which spreads each output gradient
 * evenly over its window — and avgPool2dBackward's own derivative is avgPool2d again. Being
 * linear, its tangent is the pooled tangent.
 */
import { getBackend } from '../../kernels/registry.js';
import { poolOutputShape, type AvgPoolGeometry, type Pair } from '../../kernels/geometry.js';
import { Tensor } from '../../tensor/tensor.js';
import { floatOperand } from '../operands.js';
import { apply, defineOp, type Batched } from '../op.js';
import { avgPool2dBackward } from './avg-pool2d-backward.js';
import { poolGeometry } from './max-pool2d.js';
import { boolArgument, optionsArgument } from '../../tensor/arguments.js';
import { mergeBatchIntoLeading, splitLeading } from '../rules.js';

export const avgPool2dOp = defineOp<AvgPoolGeometry>({
  name: 'avgPool2d',
  forward: ([x], g) => Tensor.fromData(getBackend().avgPool2d(x!, g, x!.dtype), poolOutputShape(x!.shape, g)),
  backward: (ctx, gradOut) => [avgPool2dBackward(gradOut, ctx.inputShapes[0]!, ctx.attrs)],
  jvp: ({ tangents: [t], attrs }): Tensor => apply(avgPool2dOp, [t!], attrs),
  // Samples are independent images: the batch axis merges into N and splits off again.
  batch: ({ inputs: [x], dims: [d], attrs, size }): Batched => ({
    value: splitLeading(apply(avgPool2dOp, [mergeBatchIntoLeading(x!, d!)], attrs), size),
    dim: 0,
  }),
  describe: (g) => `kernel=[${g.kernel}], stride=[${g.stride}], padding=[${g.padding}]${g.countIncludePad ? '' : ', excludePad'}`,
});

/** Geometry of avgPool2d, as torch.nn.functional.avg_pool2d (a number means both H and W). */
export interface AvgPool2dOptions {
  /** Step of the window, integers ≥ 1. Default: the kernel size (non-overlapping windows). */
  stride?: number | Pair;
  /** Implicit zeros on each side of H and W, at most half the kernel; default 0. */
  padding?: number | Pair;
  /** Count padded zeros in the divisor (PyTorch's default, true). */
  countIncludePad?: boolean;
}

/**
 * Average pooling over `kernel` windows ([kh, kw], or one number for both) of x [N, C, H, W]
 * (float), giving [N, C, Ho, Wo]. Linear and differentiable to any order (its backward is
 * avgPool2dBackward). Throws ValueError for a bad geometry, ShapeError if x is not 4-D or the
 * window does not fit.
 * @example avgPool2d(x, 2) // 2×2 windows, stride 2
 */
export function avgPool2d(x: Tensor, kernel: number | Pair, options: AvgPool2dOptions = {}): Tensor {
  floatOperand('avgPool2d', x);
  options = optionsArgument('avgPool2d', options);
  const g = poolGeometry('avgPool2d', x.shape, kernel, { ...options, dilation: 1 });
  return apply(avgPool2dOp, [x], { ...g, countIncludePad: boolArgument('avgPool2d', 'countIncludePad', options.countIncludePad, true) });
}
