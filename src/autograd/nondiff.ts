/**
 * Ops whose derivative is zero almost everywhere, so they never record a graph node and their
 * results never require grad: comparisons, sign, argmax/argmin. Comparisons return 1/0 in
 * the operands' dtype (a mask that can multiply or select); arg-reductions return int32.
 */
import { getBackend } from '../kernels/registry.js';
import type { BinaryFn } from '../kernels/scalar.js';
import { assertValue, formatShape } from '../tensor/errors.js';
import { normalizeAxes, normalizeAxis, reducedShape } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { mapTensor, zipTensors } from './ops/_kernels.js';
import { boolArgument } from '../tensor/arguments.js';
import { binaryOperands, tensorArgument } from './operands.js';

function compare(fn: BinaryFn, a: Tensor | number, b: Tensor | number): Tensor {
  const [ta, tb] = binaryOperands(fn, a, b, false);
  return zipTensors(fn, fn, ta, tb);
}

/** 1 where a = b, else 0. */
export const eq = (a: Tensor | number, b: Tensor | number): Tensor => compare('eq', a, b);
/** 1 where a ≠ b, else 0. */
export const ne = (a: Tensor | number, b: Tensor | number): Tensor => compare('ne', a, b);
/** 1 where a < b, else 0. */
export const lt = (a: Tensor | number, b: Tensor | number): Tensor => compare('lt', a, b);
/** 1 where a ≤ b, else 0. */
export const le = (a: Tensor | number, b: Tensor | number): Tensor => compare('le', a, b);
/** 1 where a > b, else 0. */
export const gt = (a: Tensor | number, b: Tensor | number): Tensor => compare('gt', a, b);
/** 1 where a ≥ b, else 0. */
export const ge = (a: Tensor | number, b: Tensor | number): Tensor => compare('ge', a, b);

/** −1, 0 or 1 (NaN stays NaN). */
export function sign(x: Tensor): Tensor {
  return mapTensor('sign', tensorArgument('sign', x));
}

function argReduce(fn: 'argmax' | 'argmin', x: Tensor, axis: number | null | undefined, keepdim: boolean): Tensor {
  tensorArgument(fn, x);
  boolArgument(fn, 'keepdim', keepdim, false);
  if (axis === null || axis === undefined) {
    assertValue(x.size > 0, () => `${fn}: cannot reduce an empty tensor of shape ${formatShape(x.shape)}`);
    // Over all elements: the flat row-major index, as PyTorch returns.
    const flat = x.detach().reshape([x.size]);
    const out = Tensor.fromData(getBackend().argReduce(fn, flat, 0), []);
    return keepdim ? out.reshape(x.shape.map(() => 1)) : out;
  }
  const ax = normalizeAxis(fn, axis, x.rank);
  assertValue(x.shape[ax] !== 0, () => `${fn}: cannot reduce an empty axis ${ax} of shape ${formatShape(x.shape)}`);
  const data = getBackend().argReduce(fn, x, ax);
  const shape = x.shape.filter((_, d) => d !== ax);
  const out = Tensor.fromData(data, shape);
  return keepdim ? out.unsqueeze(ax) : out;
}

/** Index of the first maximum along `axis` (flat index over all elements when axis is null). */
export function argmax(x: Tensor, axis?: number | null, keepdim = false): Tensor {
  return argReduce('argmax', x, axis, keepdim);
}

/** Index of the first minimum along `axis` (flat index over all elements when axis is null). */
export function argmin(x: Tensor, axis?: number | null, keepdim = false): Tensor {
  return argReduce('argmin', x, axis, keepdim);
}

/**
 * Max over `axes` as a constant (no graph), for numerical shifts such as logsumexp's: the shift
 * cancels analytically, so it needs no gradient. Infinite maxima become 0 so that the shifted
 * values stay finite (an all −∞ row then gives −∞, not NaN).
 */
export function stopGradientMax(x: Tensor, axis: number | readonly number[] | null | undefined): Tensor {
  const axes = normalizeAxes('max', axis, x.rank);
  const data = getBackend().reduce('max', x, axes, x.dtype);
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i]!)) data[i] = 0;
  return Tensor.fromData(data, reducedShape(x.shape, axes, true));
}
