/** neg(x) = −x;  d/dx = −1. */
import { Tensor } from '../../tensor/tensor.js';
import { floatOperand } from '../operands.js';
import { apply, defineOp } from '../op.js';
import { elementwiseBatch, linearJvp } from '../rules.js';
import { mapTensor } from './_kernels.js';

export const negOp = defineOp({
  name: 'neg',
  forward: ([x]) => mapTensor('neg', x!),
  backward: (_ctx, gradOut) => [gradOut.neg()],
  jvp: linearJvp((t) => t.neg()),
  batch: elementwiseBatch(([x]) => neg(x!)),
});

/** Elementwise −x; differentiable. Like every differentiable op, refuses an int32 x (DTypeError). */
export function neg(x: Tensor): Tensor {
  return apply(negOp, [floatOperand('neg', x)], undefined);
}
