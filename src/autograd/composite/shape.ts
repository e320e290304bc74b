/**
 * Shape composites: each is a reshape, permute or concat in disguise.
 */
import { assertValue } from '../../tensor/errors.js';
import { normalizeAxes, normalizeAxis } from '../../tensor/shape.js';
import type { Tensor } from '../../tensor/tensor.js';
import { concat } from '../ops/concat.js';
import { permute } from '../ops/permute.js';
import { reshape } from '../ops/reshape.js';
import { tensorArgument, tensorListArgument } from '../operands.js';

/**
 * Merge axes startAxis … endAxis (inclusive, negative counts from the end; default all) into
 * one, as torch.flatten; a 0-d tensor becomes shape [1]. A reshape, so a view when possible.
 */
export function flatten(x: Tensor, startAxis = 0, endAxis = -1): Tensor {
  if (tensorArgument('flatten', x).rank === 0) {
    normalizeAxis('flatten', startAxis, 0);
    normalizeAxis('flatten', endAxis, 0);
    return reshape(x, [1]);
  }
  const s = normalizeAxis('flatten', startAxis, x.rank);
  const e = normalizeAxis('flatten', endAxis, x.rank);
  assertValue(s <= e, () => `flatten: startAxis (${startAxis}) must not come after endAxis (${endAxis})`);
  const merged = x.shape.slice(s, e + 1).reduce((p, d) => p * d, 1);
  return reshape(x, [...x.shape.slice(0, s), merged, ...x.shape.slice(e + 1)]);
}

/**
 * Swap two axes (default the last two, −2 and −1), as torch.transpose; a view, differentiable.
 * A 0-d or 1-d tensor called without axes is returned unchanged (like x.T).
 */
export function transpose(x: Tensor, axis0?: number, axis1?: number): Tensor {
  // With no axes, a 0-d or 1-d tensor is its own transpose (as x.T is in PyTorch and NumPy).
  tensorArgument('transpose', x);
  if (axis0 === undefined && axis1 === undefined && x.rank < 2) return x;
  if (axis0 === undefined) axis0 = -2;
  if (axis1 === undefined) axis1 = -1;
  const a = normalizeAxis('transpose', axis0, x.rank);
  const b = normalizeAxis('transpose', axis1, x.rank);
  if (x.rank === 0) return x; // axes 0 / -1 of a 0-d tensor are both "the" axis
  const dims = x.shape.map((_, i) => i);
  dims[a] = b;
  dims[b] = a;
  return permute(x, dims);
}

/** Remove size-1 axes: all of them, or those listed (listed axes of another size are kept, as in PyTorch). A reshape, so differentiable. */
export function squeeze(x: Tensor, axis?: number | readonly number[]): Tensor {
  const axes = axis === undefined ? null : normalizeAxes('squeeze', axis, tensorArgument('squeeze', x).rank);
  return reshape(
    x,
    x.shape.filter((d, i) => d !== 1 || (axes !== null && !axes.includes(i))),
  );
}

/** Insert a size-1 axis at position `axis` of the result (−1 appends), as torch.unsqueeze; a reshape. */
export function unsqueeze(x: Tensor, axis: number): Tensor {
  const a = normalizeAxis('unsqueeze', axis, tensorArgument('unsqueeze', x).rank + 1);
  const shape = x.shape.slice();
  shape.splice(a, 0, 1);
  return reshape(x, shape);
}

/** Stack same-shaped tensors along a new axis `axis` (default 0), as torch.stack; differentiable. */
export function stack(tensors: readonly Tensor[], axis = 0): Tensor {
  tensorListArgument('stack', tensors);
  assertValue(tensors.length > 0, () => 'stack: expected at least one tensor; got an empty list');
  const a = normalizeAxis('stack', axis, tensors[0]!.rank + 1);
  return concat(
    tensors.map((t) => unsqueeze(t, a)),
    a,
  );
}
