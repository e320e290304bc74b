/**
 * Losses, as composites (their gradients follow from the primitives). Cross-entropy's
 * per-sample losses are one fused primitive (ops/cross-entropy.ts), the reduction on top of
 * them a composite.
 */
import { DTypeError, ValueError, assertShape, describeValue, formatShape } from '../../tensor/errors.js';
import { shapesEqual } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { floatOperand } from '../operands.js';
import { crossEntropyRows } from '../ops/cross-entropy.js';
import { mean } from './reduce.js';

/**
 * How a loss reduces its per-element values, as PyTorch's `reduction` argument: 'mean'
 * (average, a 0-d tensor), 'sum' (total, 0-d) or 'none' (the unreduced losses).
 */
export type Reduction = 'mean' | 'sum' | 'none';

function reduce(op: string, losses: Tensor, reduction: Reduction): Tensor {
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

/** Class targets as an int32 tensor of shape [N]. */
function classTargets(targets: Tensor | Int32Array | readonly number[]): Tensor {
  if (targets instanceof Tensor) {
    if (targets.dtype !== 'int32') {
      throw new DTypeError(`crossEntropy: targets must be int32 class indices; got ${targets.dtype} (use .to('int32'))`);
    }
    return targets;
  }
  // NOTE: Int32Array.from would coerce: 0.5 → 0, 1.9 → 1, NaN → 0, '2' → 2. Each target is
  // checked to be an integer number first (a plain array, or a typed array of another kind).
  if (!(targets instanceof Int32Array) && !Array.isArray(targets) && !ArrayBuffer.isView(targets)) {
    throw new ValueError(`crossEntropy: targets must be a Tensor, an Int32Array or an array of class indices; got ${describeValue(targets)}`);
  }
  const list = targets as ArrayLike<unknown>;
  const data = new Int32Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const k = list[i];
    if (typeof k !== 'number' || !Number.isInteger(k)) {
      throw new ValueError(`crossEntropy: targets must be integer class indices; got ${k === undefined ? 'a hole (undefined)' : describeValue(k)} at index ${i}`);
    }
    // Out-of-range values are left to the range check below; only int32 wrapping is stopped here.
    data[i] = k >= 2 ** 31 ? -1 : k;
  }
  return Tensor.fromData(data, [data.length]);
}

/**
 * Cross-entropy of logits [N, C] against integer class targets [N]:
 * ℓₙ = −log softmax(logitsₙ)[targetₙ], reduced by mean (default), sum, or none. Stable for
 * any magnitude of logits (each row is shifted by its maximum), differentiable to any order
 * (HVPs through it work), and with 'none' sample-separable, so perSampleGrads takes it.
 * @example crossEntropy(logits, [3, 0, 1])
 */
export function crossEntropy(
  logits: Tensor,
  targets: Tensor | Int32Array | readonly number[],
  reduction: Reduction = 'mean',
): Tensor {
  floatOperand('crossEntropy', logits);
  const t = classTargets(targets);
  assertShape(
    logits.rank === 2 && t.rank === 1 && t.shape[0] === logits.shape[0],
    () => `crossEntropy: expected logits [N, C] and targets [N]; got ${formatShape(logits.shape)} and ${formatShape(t.shape)}`,
  );
  const classes = logits.shape[1]!;
  // Per-sample targets inside vmap have no readable values here; the kernel checks their
  // range on the batched targets instead (an out-of-range class is still an error).
  const values = t.isBatched ? new Int32Array(0) : t.toTypedArray();
  const bad = values.findIndex((k) => !(k >= 0 && k < classes));
  if (bad >= 0) {
    const given = Array.isArray(targets) ? (targets as number[])[bad] : values[bad];
    throw new ValueError(`crossEntropy: target ${given} is out of range for ${classes} classes (expected 0 … ${classes - 1}), at index ${bad}`);
  }
  return reduce('crossEntropy', crossEntropyRows(logits, t), reduction);
}

/** Mean squared error: (a − b)² reduced by mean (default, over all elements), sum, or none. */
export function mseLoss(a: Tensor, b: Tensor, reduction: Reduction = 'mean'): Tensor {
  floatOperand('mseLoss', a);
  floatOperand('mseLoss', b, 'the target to be a Tensor');
  assertShape(
    shapesEqual(a.shape, b.shape),
    () => `mseLoss: input and target must have the same shape; got ${formatShape(a.shape)} and ${formatShape(b.shape)}`,
  );
  const d = a.sub(b);
  return reduce('mseLoss', d.mul(d), reduction);
}
