/**
 * What every loss shares (reductions, class targets), and cross-entropy of logits [N, C] and
 * class indices [N] on the fused primitive alone. The engine's own per-sample and training
 * code call `crossEntropyOfRows`, so that a page that bundles perSampleGrads does not also
 * carry class weights, ignored targets and label smoothing (loss.ts, docs/losses.md).
 */
import { DTypeError, ValueError, assertShape, describeValue, formatShape } from '../../tensor/errors.js';
import { Tensor } from '../../tensor/tensor.js';
import { floatOperand } from '../operands.js';
import { crossEntropyRows } from '../ops/cross-entropy.js';
import { mean } from './reduce.js';

/**
 * How a loss reduces its per-element values, as PyTorch's `reduction` argument: 'mean'
 * (average, a 0-d tensor), 'sum' (total, 0-d) or 'none' (the unreduced losses).
 */
export type Reduction = 'mean' | 'sum' | 'none';

const REDUCTIONS: readonly string[] = ['mean', 'sum', 'none'];

/** A reduction argument checked up front (before any work), with the loss's name. */
export function reductionArgument<R extends string = Reduction>(op: string, v: unknown, allowed: readonly string[] = REDUCTIONS): R {
  if (typeof v !== 'string' || !allowed.includes(v)) {
    const list = allowed.map((r) => `'${r}'`);
    const expected = `${list.slice(0, -1).join(', ')} or ${list[list.length - 1]}`;
    throw new ValueError(`${op}: reduction must be ${expected}; got ${typeof v === 'string' ? `'${v}'` : describeValue(v)}`);
  }
  return v as R;
}

/** Reduce elementwise losses: their mean, their sum, or themselves ('none'). */
export function reduce(op: string, losses: Tensor, reduction: Reduction): Tensor {
  switch (reduction) {
    case 'mean':
      return mean(losses);
    case 'sum':
      return losses.sum();
    case 'none':
      return losses;
    default:
      throw new ValueError(`${op}: reduction must be 'mean', 'sum' or 'none'; got '${String(reduction)}'`);
  }
}

/** Class targets as an int32 tensor (shape [N] when given as a plain array). */
export function classTargets(targets: Tensor | Int32Array | readonly number[], op = 'crossEntropy'): Tensor {
  if (targets instanceof Tensor) {
    if (targets.dtype !== 'int32') {
      throw new DTypeError(`${op}: targets must be int32 class indices; got ${targets.dtype} (use .to('int32'))`);
    }
    return targets;
  }
  // NOTE: Int32Array.from would coerce: 0.5 → 0, 1.9 → 1, NaN → 0, '2' → 2. Each target is
  // checked to be an integer number first (a plain array, or a typed array of another kind).
  if (!(targets instanceof Int32Array) && !Array.isArray(targets) && !ArrayBuffer.isView(targets)) {
    throw new ValueError(`${op}: targets must be a Tensor, an Int32Array or an array of class indices; got ${describeValue(targets)}`);
  }
  const list = targets as ArrayLike<unknown>;
  const data = new Int32Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const k = list[i];
    if (typeof k !== 'number' || !Number.isInteger(k)) {
      throw new ValueError(`${op}: targets must be integer class indices; got ${k === undefined ? 'a hole (undefined)' : describeValue(k)} at index ${i}`);
    }
    // Out-of-range values are left to the range check below; only int32 wrapping is stopped here.
    data[i] = k >= 2 ** 31 ? -1 : k;
  }
  return Tensor.fromData(data, [data.length]);
}

/**
 * The target values when they can be read (null for vmap's per-sample targets, whose range
 * the gather kernel checks on the batched values instead), after checking that each is a
 * class in [0, C) or `ignoreIndex`.
 */
export function checkedTargetValues(op: string, t: Tensor, given: unknown, classes: number, ignoreIndex: number | null): Int32Array | null {
  if (t.isBatched) return null;
  const values = t.toTypedArray() as Int32Array;
  const bad = values.findIndex((k) => !(k >= 0 && k < classes) && k !== ignoreIndex);
  if (bad >= 0) {
    const k = Array.isArray(given) ? (given as number[])[bad] : values[bad];
    const ignore = ignoreIndex === null ? '' : `; only ignoreIndex (${ignoreIndex}) may lie outside`;
    throw new ValueError(`${op}: target ${k} is out of range for ${classes} classes (expected 0 … ${classes - 1}), at index ${bad}${ignore}`);
  }
  return values;
}

/**
 * Cross-entropy of logits [N, C] and class indices [N] (every target a class in [0, C)),
 * reduced: PyTorch's cross_entropy without weights, ignored targets or label smoothing, on the
 * fused primitive. crossEntropy takes this path whenever it can.
 */
export function crossEntropyOfRows(logits: Tensor, targets: Tensor | Int32Array | readonly number[], reduction: Reduction = 'mean'): Tensor {
  floatOperand('crossEntropy', logits);
  const t = classTargets(targets);
  assertShape(
    logits.rank === 2 && t.rank === 1 && t.shape[0] === logits.shape[0],
    () => `crossEntropy: expected logits [N, C] and targets [N]; got ${formatShape(logits.shape)} and ${formatShape(t.shape)}`,
  );
  checkedTargetValues('crossEntropy', t, targets, logits.shape[1]!, null);
  return reduce('crossEntropy', crossEntropyRows(logits, t), reductionArgument<Reduction>('crossEntropy', reduction));
}
