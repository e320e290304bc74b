/**
 * floor, ceil and round: piecewise constant, so d/dx = 0 wherever the derivative exists.
 * Like sign (nondiff.ts) they record no graph node and carry no tangent: a gradient or tangent
 * through them is zero (grad of a function of floor(x) alone is all zeros, as in PyTorch).
 * They still run through applyNonDiff, so that vmap can batch them.
 */
import { Tensor } from '../../tensor/tensor.js';
import { tensorArgument } from '../operands.js';
import { applyNonDiff, type NonDiffOpDef } from '../op.js';
import { elementwiseBatch } from '../rules.js';
import { mapTensor } from './_kernels.js';

type Rounding = 'floor' | 'ceil' | 'round';

function roundingOp(fn: Rounding): NonDiffOpDef<undefined> {
  const op: NonDiffOpDef<undefined> = {
    name: fn,
    forward: ([x]) => mapTensor(fn, x!),
    batch: elementwiseBatch(([x]) => applyNonDiff(op, [x!], undefined)),
  };
  return op;
}

const floorOp = roundingOp('floor');
const ceilOp = roundingOp('ceil');
const roundOp = roundingOp('round');

/** Elementwise ⌊x⌋ in x's dtype, as torch.floor; zero gradient. A function, not a Tensor method. */
export function floor(x: Tensor): Tensor {
  return applyNonDiff(floorOp, [tensorArgument('floor', x)], undefined);
}

/** Elementwise ⌈x⌉ in x's dtype, as torch.ceil; zero gradient. A function, not a Tensor method. */
export function ceil(x: Tensor): Tensor {
  return applyNonDiff(ceilOp, [tensorArgument('ceil', x)], undefined);
}

/**
 * Elementwise round to the nearest integer, halves to even (0.5 → 0, 1.5 → 2, −2.5 → −2), in
 * x's dtype, as torch.round; zero gradient. A function, not a Tensor method.
 */
export function round(x: Tensor): Tensor {
  return applyNonDiff(roundOp, [tensorArgument('round', x)], undefined);
}
