/**
 * conv1d(x, w, b): 1-D cross-correlation of x [N, Cin, L] with w [Cout, Cin/groups, k], plus an
 * optional bias [Cout], as torch.nn.functional.conv1d:
 *
 *   out[n, o, l] = b[o] + Σ_{c, i} x[n, j·Cin/G + c, l·s + i·d − p] · w[o, c, i]
 *
 * (j = o's group, positions outside [0, L) read 0), with L_out = ⌊(L + 2p − d(k − 1) − 1)/s⌋ + 1.
 *
 * A composite: it is conv2d over an image of height 1 — x as [N, Cin, 1, L], w as
 * [Cout, Cin/groups, 1, k], geometry stride [1, s], padding [0, p], dilation [1, d]. Its
 * derivatives of any order, its JVP and its vmap rule are conv2d's; the reshapes keep the
 * batch axis 0 whole, so native per-sample gradients go through conv2d's weight rule.
 */
import { assertSameDType } from '../../tensor/dtype.js';
import { assertShape, formatShape } from '../../tensor/errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import { intArgument, optionsArgument } from '../../tensor/arguments.js';
import { floatOperand } from '../operands.js';
import { conv2d } from '../ops/conv2d.js';
import { reshape } from '../ops/reshape.js';

/** Geometry of conv1d, as in torch.nn.functional.conv1d (integers; no 'same'/'valid' strings). */
export interface Conv1dOptions {
  /** Step of the sliding window, an integer ≥ 1; default 1. */
  stride?: number;
  /** Zeros added at each end of L, an integer ≥ 0; default 0. */
  padding?: number;
  /** Spacing between kernel taps, an integer ≥ 1; default 1. */
  dilation?: number;
  /** Number of channel groups, an integer ≥ 1 dividing Cin and Cout; default 1. */
  groups?: number;
}

/** The checked geometry of a conv1d of x [N, Cin, L] with w [Cout, Cin/groups, k]. */
function conv1dGeometry(op: string, x: readonly number[], w: readonly number[], options: Conv1dOptions): Required<Conv1dOptions> {
  optionsArgument(op, options);
  const stride = intArgument(op, 'stride', options.stride, 1, 1);
  const padding = intArgument(op, 'padding', options.padding, 0, 0);
  const dilation = intArgument(op, 'dilation', options.dilation, 1, 1);
  const groups = intArgument(op, 'groups', options.groups, 1, 1);
  assertShape(x.length === 3, () => `${op}: expected input [N, Cin, L] (rank 3); got ${formatShape(x)}`);
  assertShape(w.length === 3, () => `${op}: expected weight [Cout, Cin/groups, k] (rank 3); got ${formatShape(w)}`);
  assertShape(w[1]! >= 1 && w[2]! >= 1, () => `${op}: the weight ${formatShape(w)} is empty (Cin/groups and k must be ≥ 1)`);
  assertShape(
    x[1]! % groups === 0 && w[0]! % groups === 0 && w[1]! * groups === x[1],
    () =>
      `${op}: input ${formatShape(x)} and weight ${formatShape(w)} do not fit groups=${groups} ` +
      `(need Cin = weight[1]·groups = ${w[1]! * groups} and Cout = ${w[0]} divisible by groups; the input has Cin = ${x[1]})`,
  );
  const span = dilation * (w[2]! - 1) + 1;
  assertShape(
    x[2]! + 2 * padding >= span,
    () => `${op}: the kernel of ${w[2]} taps (dilation ${dilation}, span ${span}) does not fit the padded length ${x[2]! + 2 * padding} (L = ${x[2]}, padding ${padding})`,
  );
  return { stride, padding, dilation, groups };
}

/**
 * 1-D convolution (cross-correlation), as torch.nn.functional.conv1d: x [N, Cin, L] and
 * w [Cout, Cin/groups, k] (and an optional bias [Cout]) of one float dtype give
 * [N, Cout, L_out] with L_out = ⌊(L + 2·padding − dilation·(k − 1) − 1) / stride⌋ + 1.
 * Differentiable in x, w and b to any order (it is conv2d over a height-1 image). Throws
 * ShapeError when the shapes do not fit the groups or the kernel does not fit the padded
 * input, ValueError for a bad geometry, DTypeError for mixed or integer dtypes.
 * @example conv1d(x, w, b, { stride: 2, padding: 1 }) // x [N, Cin, L], w [Cout, Cin, k], b [Cout]
 */
export function conv1d(x: Tensor, w: Tensor, b?: Tensor | null, options: Conv1dOptions = {}): Tensor {
  floatOperand('conv1d', x);
  floatOperand('conv1d', w, 'the weight to be a Tensor');
  assertSameDType('conv1d', x.dtype, w.dtype);
  const { stride, padding, dilation, groups } = conv1dGeometry('conv1d', x.shape, w.shape, options);
  const [n, cin, length] = x.shape as [number, number, number];
  const [cout, cg, k] = w.shape as [number, number, number];
  if (b !== undefined && b !== null) {
    floatOperand('conv1d', b, 'the bias (3rd argument) to be a Tensor or null (the options come 4th: conv1d(x, w, null, options))');
    assertSameDType('conv1d', x.dtype, b.dtype);
    assertShape(b.rank === 1 && b.shape[0] === cout, () => `conv1d: expected bias of shape [${cout}] (Cout); got ${formatShape(b.shape)}`);
  }
  const y = conv2d(reshape(x, [n, cin, 1, length]), reshape(w, [cout, cg, 1, k]), {
    stride: [1, stride],
    padding: [0, padding],
    dilation: [1, dilation],
    groups,
  });
  const out = reshape(y, [n, cout, y.shape[3]!]);
  return b === undefined || b === null ? out : out.add(reshape(b, [1, cout, 1]));
}
