/**
 * conv2d(x, w): cross-correlation of x [N, Cin, H, W] with w [Cout, Cin/groups, kh, kw]
 * (stride, padding, dilation, groups as in torch.nn.functional.conv2d; bias is a separate add).
 *
 * conv2d is bilinear, and its two partial derivatives are the two "backward convolutions":
 *   ⟨conv2d(x, w), g⟩ = ⟨x, conv2dBackwardInput(g, w)⟩ = ⟨w, conv2dBackwardWeight(x, g)⟩,
 * so  ∂/∂x = conv2dBackwardInput(gradOut, w)  and  ∂/∂w = conv2dBackwardWeight(x, gradOut).
 * Those two are primitives too, and the three are each other's derivatives, so convolutions
 * are differentiable to any order.
 *
 * Forward mode: d conv2d(x, w) = conv2d(dx, w) + conv2d(x, dw). Batching: a batched input
 * merges into N; a batched weight turns into a grouped convolution (see the rule).
 */
import { getBackend } from '../../kernels/registry.js';
import { conv2dOutputShape, type Conv2dGeometry, type Pair } from '../../kernels/geometry.js';
import { assertSameDType } from '../../tensor/dtype.js';
import { assertShape, assertValue, formatShape } from '../../tensor/errors.js';
import { Tensor } from '../../tensor/tensor.js';
import { floatOperand } from '../operands.js';
import { apply, defineOp, type Batched } from '../op.js';
import { conv2dBackwardInput } from './conv2d-backward-input.js';
import { conv2dBackwardWeight } from './conv2d-backward-weight.js';
import { intArgument, optionsArgument, pairArgument } from '../../tensor/arguments.js';
import { mergeBatchIntoChannels, mergeBatchIntoLeading, splitChannels, splitLeading, sumTangents, toFront } from '../rules.js';

export const conv2dOp = defineOp<Conv2dGeometry>({
  name: 'conv2d',
  forward: ([x, w], g) => Tensor.fromData(getBackend().conv2d(x!, w!, g, x!.dtype), conv2dOutputShape(x!.shape, w!.shape, g)),
  save: ([x, w]) => [x!, w!],
  backward: (ctx, gradOut) => {
    const [x, w] = ctx.saved;
    return [
      ctx.needsInputGrad[0] ? conv2dBackwardInput(gradOut, w!, x!.shape, ctx.attrs) : null,
      ctx.needsInputGrad[1] ? conv2dBackwardWeight(x!, gradOut, w!.shape, ctx.attrs) : null,
    ];
  },
  // Bilinear: d conv(x, w) = conv(dx, w) + conv(x, dw).
  jvp: ({ inputs: [x, w], tangents: [tx, tw], output, attrs }): Tensor =>
    sumTangents(output, [tx ? apply(conv2dOp, [tx, w!], attrs) : null, tw ? apply(conv2dOp, [x!, tw], attrs) : null]),
  batch: ({ inputs: [x, w], dims: [dx, dw], attrs, size }): Batched => {
    if (dw === null) {
      // One weight for all: the samples' images are just more images (B·N of them).
      return { value: splitLeading(apply(conv2dOp, [mergeBatchIntoLeading(x!, dx!), w!], attrs), size), dim: 0 };
    }
    if (dx === null) return sharedInputBatch(x!, toFront(w!, dw), attrs, size);
    // Both batched: B·groups groups over the samples laid side by side as channels —
    // group b·groups + j of the result is group j of sample b.
    const xs = mergeBatchIntoChannels(x!, dx, size);
    const ws = mergeBatchIntoLeading(w!, dw);
    return { value: splitChannels(apply(conv2dOp, [xs, ws], { ...attrs, groups: attrs.groups * size }), size), dim: 1 };
  },
  describe: describeGeometry,
});

/**
 * conv2d of one input x with B weights w [B, Cout, Cg, kh, kw], without copying x B times:
 * the weights stacked as more output channels of each group (group j gets the B samples'
 * filters of group j, B·Cout/groups of them), then the output channels sorted back to
 * [N, B, Cout, Ho, Wo].
 */
function sharedInputBatch(x: Tensor, w: Tensor, attrs: Conv2dGeometry, size: number): Batched {
  const [, cout, cg, kh, kw] = w.shape as [number, number, number, number, number];
  const groups = attrs.groups;
  const perGroup = cout / groups;
  const stacked = w
    .reshape([size, groups, perGroup, cg, kh, kw])
    .permute([1, 0, 2, 3, 4, 5])
    .reshape([groups * size * perGroup, cg, kh, kw]);
  const y: Tensor = apply(conv2dOp, [x, stacked], attrs);
  const [n, , ho, wo] = y.shape as [number, number, number, number];
  const sorted = y.reshape([n, groups, size, perGroup, ho, wo]).permute([0, 2, 1, 3, 4, 5]).reshape([n, size, cout, ho, wo]);
  return { value: sorted, dim: 1 };
}

/** The geometry as `stride=[…], padding=[…], dilation=[…], groups=…`, for graph exports. */
export function describeGeometry(g: Conv2dGeometry): string {
  return `stride=[${g.stride}], padding=[${g.padding}], dilation=[${g.dilation}], groups=${g.groups}`;
}

/**
 * Geometry of conv2d, as in torch.nn.functional.conv2d. A number applies to both height and
 * width; a pair is `[h, w]`.
 */
export interface Conv2dOptions {
  /** Step of the sliding window, integers ≥ 1; default 1. */
  stride?: number | Pair;
  /** Zeros added on each side of H and W (before and after), integers ≥ 0; default 0. */
  padding?: number | Pair;
  /** Spacing between kernel taps (à trous), integers ≥ 1; default 1. */
  dilation?: number | Pair;
  /**
   * Number of channel groups, an integer ≥ 1 dividing both Cin and Cout; default 1.
   * groups = Cin with Cout = k·Cin is a depthwise convolution.
   */
  groups?: number;
}

/** Fill in defaults and check a convolution's arguments; shared by the three conv ops. */
export function conv2dGeometry(op: string, x: readonly number[], w: readonly number[], options: Conv2dOptions): Conv2dGeometry {
  const g: Conv2dGeometry = {
    stride: pairArgument(op, 'stride', options.stride === undefined ? 1 : options.stride, 1),
    padding: pairArgument(op, 'padding', options.padding === undefined ? 0 : options.padding, 0),
    dilation: pairArgument(op, 'dilation', options.dilation === undefined ? 1 : options.dilation, 1),
    groups: intArgument(op, 'groups', options.groups, 1, 1),
  };
  const ints = (p: Pair, min: number) => p.length === 2 && p.every((v) => Number.isInteger(v) && v >= min);
  assertValue(ints(g.stride, 1) && ints(g.dilation, 1) && ints(g.padding, 0), () => `${op}: stride and dilation must be integers ≥ 1 and padding ≥ 0; got stride [${g.stride}], padding [${g.padding}], dilation [${g.dilation}]`);
  assertShape(x.length === 4, () => `${op}: expected input [N, C, H, W]; got ${formatShape(x)}`);
  assertShape(w.length === 4, () => `${op}: expected weight [Cout, Cin/groups, kh, kw]; got ${formatShape(w)}`);
  assertValue(Number.isInteger(g.groups) && g.groups >= 1, () => `${op}: groups must be an integer ≥ 1; got ${g.groups}`);
  assertShape(
    w[1]! >= 1 && w[2]! >= 1 && w[3]! >= 1,
    () => `${op}: the weight ${formatShape(w)} is empty (Cin/groups, kh and kw must be ≥ 1)`,
  );
  assertShape(
    x[1]! % g.groups === 0 && w[0]! % g.groups === 0 && w[1]! * g.groups === x[1],
    () => `${op}: input ${formatShape(x)} and weight ${formatShape(w)} do not fit groups=${g.groups} (need Cin = weight[1]·groups and Cout divisible by groups)`,
  );
  const out = conv2dOutputShape(x, w, g);
  assertShape(out[2]! >= 1 && out[3]! >= 1, () => `${op}: the kernel ${formatShape(w.slice(2))} (dilation [${g.dilation}]) does not fit the padded input ${formatShape(x.slice(2))} (padding [${g.padding}])`);
  return g;
}

/**
 * 2-D convolution (cross-correlation, no kernel flip), NCHW, as torch.nn.functional.conv2d
 * without bias: x [N, Cin, H, W] and w [Cout, Cin/groups, kh, kw] of one float dtype give
 * [N, Cout, Ho, Wo] with Ho = ⌊(H + 2·padding − dilation·(kh − 1) − 1) / stride⌋ + 1.
 * Differentiable in x and w to any order. Throws ShapeError when the shapes do not fit the
 * groups or the kernel does not fit the padded input, ValueError for a bad geometry.
 * @example conv2d(x, w, { stride: 2, padding: 1 }) // x [N, Cin, H, W], w [Cout, Cin, k, k]
 */
export function conv2d(x: Tensor, w: Tensor, options: Conv2dOptions = {}): Tensor {
  floatOperand('conv2d', x);
  floatOperand('conv2d', w, 'the weight to be a Tensor');
  assertSameDType('conv2d', x.dtype, w.dtype);
  return apply(conv2dOp, [x, w], conv2dGeometry('conv2d', x.shape, w.shape, optionsArgument('conv2d', options)));
}
