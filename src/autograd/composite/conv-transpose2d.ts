/**
 * convTranspose2d(x, w, b): the transposed convolution of x [N, Cin, H, W] with
 * w [Cin, Cout/groups, kh, kw] (in-channels first), plus an optional bias [Cout], as
 * torch.nn.functional.conv_transpose2d. For group j (input channels j·Cin/G …, output channels
 * j·Cout/G …) every input pixel scatters a weighted copy of its kernel:
 *
 *   out[n, j·Cout/G + o, h·s + i·d − p, w·s + l·d − p] += x[n, j·Cin/G + c, h, w] · w[j·Cin/G + c, o, i, l]
 *
 * (positions outside the output dropped), then + b, with
 * H_out = (H − 1)·s − 2p + d·(kh − 1) + outputPadding + 1 (likewise W_out).
 *
 * This IS the gradient of conv2d with respect to its input, for a conv2d from [N, Cout, H_out,
 * W_out] to [N, Cin, H, W] with the same stride, padding, dilation and groups — so it is the
 * conv2dBackwardInput primitive, whose rules make it differentiable to any order (∂/∂x is a
 * conv2d, ∂/∂w a conv2dBackwardWeight), give its JVP and its vmap rule. outputPadding only
 * picks which of the s conv2d input sizes that map onto H is meant: it goes into the
 * primitive's inputShape attr. That works while outputPadding < stride (then conv2d of the
 * H_out rows gives back exactly H); PyTorch also allows stride ≤ outputPadding < dilation, and
 * there the primitive runs without padding (the full, uncropped output) and the result is
 * cropped by `padding` with slice and extended with zeros by pad, both primitives.
 */
import type { Conv2dGeometry, Pair } from '../../kernels/geometry.js';
import { conv2dOutputShape } from '../../kernels/geometry.js';
import { assertSameDType } from '../../tensor/dtype.js';
import { assertInternal, assertShape, assertValue, formatShape } from '../../tensor/errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import { intArgument, optionsArgument, pairArgument } from '../../tensor/arguments.js';
import { floatOperand } from '../operands.js';
import { conv2dBackwardInput } from '../ops/conv2d-backward-input.js';
import { pad } from '../ops/pad.js';
import { reshape } from '../ops/reshape.js';
import { slice } from '../ops/slice.js';

/**
 * Geometry of convTranspose2d, as torch.nn.functional.conv_transpose2d. A number applies to
 * both height and width; a pair is `[h, w]`.
 */
export interface ConvTranspose2dOptions {
  /** Step between the input pixels' kernel copies in the output, integers ≥ 1; default 1. */
  stride?: number | Pair;
  /** Rows/columns cropped from each side of the full output, integers ≥ 0; default 0. */
  padding?: number | Pair;
  /**
   * Rows/columns added at the bottom/right of the output, integers ≥ 0 and smaller than stride
   * or dilation on each axis (PyTorch's rule); default 0. It resolves which output size is
   * meant when several conv2d input sizes give the same conv2d output.
   */
  outputPadding?: number | Pair;
  /** Number of channel groups, an integer ≥ 1 dividing Cin and Cout; default 1. */
  groups?: number;
  /** Spacing between kernel taps, integers ≥ 1; default 1. */
  dilation?: number | Pair;
}

/** The checked geometry of a convTranspose2d, its outputPadding and its output shape. */
export function convTranspose2dGeometry(
  op: string,
  x: readonly number[],
  w: readonly number[],
  options: ConvTranspose2dOptions,
): {
  /** stride, padding, dilation and groups, as the equivalent conv2d has them. */
  geometry: Conv2dGeometry;
  /** The outputPadding [h, w]. */
  outputPadding: Pair;
  /** [N, Cout, H_out, W_out]. */
  outShape: number[];
} {
  optionsArgument(op, options);
  const stride = pairArgument(op, 'stride', options.stride === undefined ? 1 : options.stride, 1);
  const padding = pairArgument(op, 'padding', options.padding === undefined ? 0 : options.padding, 0);
  const dilation = pairArgument(op, 'dilation', options.dilation === undefined ? 1 : options.dilation, 1);
  const outputPadding = pairArgument(op, 'outputPadding', options.outputPadding === undefined ? 0 : options.outputPadding, 0);
  const groups = intArgument(op, 'groups', options.groups, 1, 1);
  assertShape(x.length === 4, () => `${op}: expected input [N, Cin, H, W] (rank 4); got ${formatShape(x)}`);
  assertShape(w.length === 4, () => `${op}: expected weight [Cin, Cout/groups, kh, kw] (rank 4); got ${formatShape(w)}`);
  assertShape(w[1]! >= 1 && w[2]! >= 1 && w[3]! >= 1, () => `${op}: the weight ${formatShape(w)} is empty (Cout/groups, kh and kw must be ≥ 1)`);
  assertShape(
    x[1] === w[0],
    () => `${op}: the input ${formatShape(x)} has Cin = ${x[1]} channels but the weight ${formatShape(w)} expects ${w[0]} (weight[0] is Cin)`,
  );
  assertShape(x[1]! % groups === 0, () => `${op}: Cin = ${x[1]} (input ${formatShape(x)}) is not divisible by groups=${groups}`);
  assertValue(
    outputPadding.every((o, a) => o < Math.max(stride[a]!, dilation[a]!)),
    () =>
      `${op}: outputPadding must be smaller than stride or dilation on each axis (as PyTorch requires); ` +
      `got outputPadding [${outputPadding}] with stride [${stride}] and dilation [${dilation}]`,
  );
  const size = (a: 0 | 1) => (x[2 + a]! - 1) * stride[a] - 2 * padding[a] + dilation[a] * (w[2 + a]! - 1) + outputPadding[a] + 1;
  const outShape = [x[0]!, w[1]! * groups, size(0), size(1)];
  assertShape(
    outShape[2]! >= 1 && outShape[3]! >= 1,
    () =>
      `${op}: the output would be ${outShape[2]}×${outShape[3]} (H_out = (H − 1)·stride − 2·padding + dilation·(k − 1) + outputPadding + 1); ` +
      `input ${formatShape(x)}, kernel ${formatShape(w.slice(2))}, stride [${stride}], padding [${padding}], dilation [${dilation}], outputPadding [${outputPadding}]`,
  );
  return { geometry: { stride, padding, dilation, groups }, outputPadding, outShape };
}

/**
 * 2-D transposed convolution ("deconvolution"), NCHW, as torch.nn.functional.conv_transpose2d:
 * x [N, Cin, H, W] and w [Cin, Cout/groups, kh, kw] (and an optional bias [Cout]) of one float
 * dtype give [N, Cout, H_out, W_out] with
 * H_out = (H − 1)·stride − 2·padding + dilation·(kh − 1) + outputPadding + 1. It is the
 * gradient of conv2d with respect to its input; differentiable in x, w and b to any order.
 * Throws ShapeError when the shapes do not fit (Cin, groups) or the output would be empty,
 * ValueError for a bad geometry (outputPadding ≥ both stride and dilation included).
 * @example convTranspose2d(x, w, b, { stride: 2, padding: 1, outputPadding: 1 }) // doubles H and W for k = 3
 */
export function convTranspose2d(x: Tensor, w: Tensor, b?: Tensor | null, options: ConvTranspose2dOptions = {}): Tensor {
  floatOperand('convTranspose2d', x);
  floatOperand('convTranspose2d', w, 'the weight to be a Tensor');
  assertSameDType('convTranspose2d', x.dtype, w.dtype);
  const { geometry, outputPadding, outShape } = convTranspose2dGeometry('convTranspose2d', x.shape, w.shape, options);
  const cout = outShape[1]!;
  if (b !== undefined && b !== null) {
    floatOperand('convTranspose2d', b, 'the bias (3rd argument) to be a Tensor or null (the options come 4th: convTranspose2d(x, w, null, options))');
    assertSameDType('convTranspose2d', x.dtype, b.dtype);
    assertShape(b.rank === 1 && b.shape[0] === cout, () => `convTranspose2d: expected bias of shape [${cout}] (Cout); got ${formatShape(b.shape)}`);
  }
  const y = outputPadding[0] < geometry.stride[0] && outputPadding[1] < geometry.stride[1]
    ? direct(x, w, geometry, outShape)
    : croppedFull(x, w, geometry, outShape);
  return b === undefined || b === null ? y : y.add(reshape(b, [1, cout, 1, 1]));
}

/** outputPadding < stride: the conv2d from outShape with this geometry has x's shape exactly. */
function direct(x: Tensor, w: Tensor, geometry: Conv2dGeometry, outShape: number[]): Tensor {
  const back = conv2dOutputShape(outShape, w.shape, geometry);
  assertInternal(back[2] === x.shape[2] && back[3] === x.shape[3], () => `convTranspose2d: conv2d of ${formatShape(outShape)} gives ${formatShape(back)}, not ${formatShape(x.shape)}`);
  return conv2dBackwardInput(x, w, outShape, geometry);
}

/**
 * stride ≤ outputPadding < dilation on some axis: the full output (padding 0, no output
 * padding: every contribution kept), then rows p … p + H_out − 1 of it, the ones past its end zero.
 */
function croppedFull(x: Tensor, w: Tensor, geometry: Conv2dGeometry, outShape: number[]): Tensor {
  const { stride, dilation, padding } = geometry;
  const fullSize = (a: 0 | 1) => (x.shape[2 + a]! - 1) * stride[a] + dilation[a] * (w.shape[2 + a]! - 1) + 1;
  const full = [outShape[0]!, outShape[1]!, fullSize(0), fullSize(1)];
  const y = conv2dBackwardInput(x, w, full, { ...geometry, padding: [0, 0] });
  const end = (a: 0 | 1) => Math.min(full[2 + a]!, padding[a] + outShape[2 + a]!);
  const cropped = slice(y, [null, null, [padding[0], end(0)], [padding[1], end(1)]]);
  const extra = (a: 0 | 1) => outShape[2 + a]! - (end(a) - padding[a]);
  return extra(0) === 0 && extra(1) === 0 ? cropped : pad(cropped, [[0, 0], [0, 0], [0, extra(0)], [0, extra(1)]]);
}
