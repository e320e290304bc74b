/**
 * Ops whose derivative is zero almost everywhere, so they never record a graph node and their
 * results never require grad: comparisons, sign, argmax/argmin. Comparisons return 1/0 in
 * the operands' dtype (a mask that can multiply or select); arg-reductions return int32.
 *
 * Each is a `NonDiffOpDef` run through `applyNonDiff`, never a bare kernel call: inside vmap
 * its inputs can be batched tensors, whose storage the kernels cannot read, and its batching
 * rule then runs it on the physical tensors instead.
 */
import { getBackend } from '../kernels/registry.js';
import type { BinaryFn } from '../kernels/scalar.js';
import { assertValue, formatShape } from '../tensor/errors.js';
import { normalizeAxes, normalizeAxis, reducedShape } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { mapTensor, zipTensors } from './ops/_kernels.js';
import { boolArgument } from '../tensor/arguments.js';
import { binaryOperands, tensorArgument } from './operands.js';
import { applyNonDiff, type NonDiffOpDef } from './op.js';
import { elementwiseBatch, shiftAxes, toFront } from './rules.js';

type Comparison = 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge';

function compareOp(fn: Comparison): NonDiffOpDef<undefined> {
  return {
    name: fn,
    forward: ([a, b]) => zipTensors(fn, fn, a!, b!),
    batch: elementwiseBatch(([a, b]) => compare(fn, a!, b!)),
  };
}

const compareOps: Record<Comparison, NonDiffOpDef<undefined>> = {
  eq: compareOp('eq'),
  ne: compareOp('ne'),
  lt: compareOp('lt'),
  le: compareOp('le'),
  gt: compareOp('gt'),
  ge: compareOp('ge'),
};

function compare(fn: Comparison & BinaryFn, a: Tensor | number, b: Tensor | number): Tensor {
  return applyNonDiff(compareOps[fn], binaryOperands(fn, a, b, false), undefined);
}

/** 1 where a = b, else 0, in the operands' dtype (broadcasting; any dtype, not differentiable). */
export const eq = (a: Tensor | number, b: Tensor | number): Tensor => compare('eq', a, b);
/** 1 where a ≠ b, else 0, in the operands' dtype (broadcasting; any dtype, not differentiable). */
export const ne = (a: Tensor | number, b: Tensor | number): Tensor => compare('ne', a, b);
/** 1 where a < b, else 0, in the operands' dtype (broadcasting; any dtype, not differentiable). */
export const lt = (a: Tensor | number, b: Tensor | number): Tensor => compare('lt', a, b);
/** 1 where a ≤ b, else 0, in the operands' dtype (broadcasting; any dtype, not differentiable). */
export const le = (a: Tensor | number, b: Tensor | number): Tensor => compare('le', a, b);
/** 1 where a > b, else 0, in the operands' dtype (broadcasting; any dtype, not differentiable). */
export const gt = (a: Tensor | number, b: Tensor | number): Tensor => compare('gt', a, b);
/** 1 where a ≥ b, else 0, in the operands' dtype (broadcasting; any dtype, not differentiable). */
export const ge = (a: Tensor | number, b: Tensor | number): Tensor => compare('ge', a, b);

const signOp: NonDiffOpDef<undefined> = {
  name: 'sign',
  forward: ([x]) => mapTensor('sign', x!),
  batch: elementwiseBatch(([x]) => sign(x!)),
};

/** Elementwise sign: −1, 0 or 1 in x's dtype (NaN stays NaN); not differentiable (torch.sign). */
export function sign(x: Tensor): Tensor {
  return applyNonDiff(signOp, [tensorArgument('sign', x)], undefined);
}

/** axis: a normalized axis, or null for the flat index over all elements. */
type ArgReduceAttrs = { axis: number | null; keepdim: boolean };

function argReduceOp(fn: 'argmax' | 'argmin'): NonDiffOpDef<ArgReduceAttrs> {
  return {
    name: fn,
    forward: ([x], { axis, keepdim }) => {
      if (axis === null) {
        // Over all elements: the flat row-major index, as PyTorch returns.
        const flat = x!.detach().reshape([x!.size]);
        const out = Tensor.fromData(getBackend().argReduce(fn, flat, 0), []);
        return keepdim ? out.reshape(x!.shape.map(() => 1)) : out;
      }
      const data = getBackend().argReduce(fn, x!, axis);
      const out = Tensor.fromData(data, x!.shape.filter((_, d) => d !== axis));
      return keepdim ? out.unsqueeze(axis) : out;
    },
    // Batch axis first; over all elements, each sample's elements flattened into one axis.
    batch: ({ inputs: [x], dims: [d], attrs: { axis, keepdim }, size }) => {
      const front = toFront(x!, d!);
      if (axis !== null) return { value: applyNonDiff(argReduceOps[fn], [front], { axis: axis + 1, keepdim }), dim: 0 };
      const flat = applyNonDiff(argReduceOps[fn], [front.reshape([size, front.shape.slice(1).reduce((p, n) => p * n, 1)])], { axis: 1, keepdim: false });
      return { value: keepdim ? flat.reshape([size, ...front.shape.slice(1).map(() => 1)]) : flat, dim: 0 };
    },
  };
}

const argReduceOps = { argmax: argReduceOp('argmax'), argmin: argReduceOp('argmin') };

function argReduce(fn: 'argmax' | 'argmin', x: Tensor, axis: number | null | undefined, keepdim: boolean): Tensor {
  tensorArgument(fn, x);
  boolArgument(fn, 'keepdim', keepdim, false);
  if (axis === null || axis === undefined) {
    assertValue(x.size > 0, () => `${fn}: cannot reduce an empty tensor of shape ${formatShape(x.shape)}`);
    return applyNonDiff(argReduceOps[fn], [x], { axis: null, keepdim });
  }
  const ax = normalizeAxis(fn, axis, x.rank);
  assertValue(x.shape[ax] !== 0, () => `${fn}: cannot reduce an empty axis ${ax} of shape ${formatShape(x.shape)}`);
  return applyNonDiff(argReduceOps[fn], [x], { axis: ax, keepdim });
}

/**
 * int32 index of the first maximum along `axis` (the flat row-major index over all elements
 * when axis is null or omitted), dropping the axis unless `keepdim`; not differentiable.
 * Throws ValueError for an empty tensor or axis.
 */
export function argmax(x: Tensor, axis?: number | null, keepdim = false): Tensor {
  return argReduce('argmax', x, axis, keepdim);
}

/**
 * int32 index of the first minimum along `axis` (the flat row-major index over all elements
 * when axis is null or omitted), dropping the axis unless `keepdim`; not differentiable.
 * Throws ValueError for an empty tensor or axis.
 */
export function argmin(x: Tensor, axis?: number | null, keepdim = false): Tensor {
  return argReduce('argmin', x, axis, keepdim);
}

/**
 * Max over `axes` as a constant (no graph), for numerical shifts such as logsumexp's: the shift
 * cancels analytically, so it needs no gradient. Infinite maxima become 0 so that the shifted
 * values stay finite (an all −∞ row then gives −∞, not NaN).
 */
export function stopGradientMax(x: Tensor, axis: number | readonly number[] | null | undefined): Tensor {
  return applyNonDiff(constantMaxOp, [x], { axes: normalizeAxes('max', axis, x.rank), finite: true });
}

/** The max over normalized `axes`, kept as size 1, as a constant (no graph): NaN and ±∞ stay as they are. */
export function constantMax(x: Tensor, axes: number[]): Tensor {
  return applyNonDiff(constantMaxOp, [x], { axes, finite: false });
}

/** axes: normalized (an empty list reduces nothing, as for a 0-d tensor); finite: infinite maxima become 0. */
const constantMaxOp: NonDiffOpDef<{ axes: number[]; finite: boolean }> = {
  name: 'max',
  forward: ([x], { axes, finite }) => {
    const data = getBackend().reduce('max', x!, axes, x!.dtype);
    if (finite) for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i]!)) data[i] = 0;
    return Tensor.fromData(data, reducedShape(x!.shape, axes, true));
  },
  batch: ({ inputs: [x], dims: [d], attrs: { axes, finite } }) => ({
    value: applyNonDiff(constantMaxOp, [toFront(x!, d!)], { axes: shiftAxes(axes), finite }),
    dim: 0,
  }),
};
