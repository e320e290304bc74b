/**
 * erfc(x) = 1 − erf(x);  d/dx = −(2/√π) e^{−x²}.
 * NOTE: a primitive, not 1 − erf(x): erfc(5) = 1.5e-12, and 1 − erf(5) keeps only 4 of its
 * digits (none beyond x ≈ 6, where erf rounds to 1). The kernel (kernels/scalar.ts'
 * errorFunction, mode 1) is accurate in relative terms down to erfc's underflow near x = 26.5.
 */
import { Tensor } from '../../tensor/tensor.js';
import { floatOperand } from '../operands.js';
import { apply, defineOp } from '../op.js';
import { elementwiseBatch, unaryJvp } from '../rules.js';
import { mapTensor } from './_kernels.js';
import { erfSlope } from './erf.js';

export const erfcOp = defineOp({
  name: 'erfc',
  forward: ([x]) => mapTensor('errorFunction', x!, 1),
  save: ([x]) => [x!],
  backward: (ctx, gradOut) => {
    const [x] = ctx.saved;
    return [gradOut.mul(erfSlope(x!).neg())];
  },
  jvp: unaryJvp((x) => erfSlope(x).neg()),
  batch: elementwiseBatch(([x]) => erfc(x!)),
});

/**
 * Elementwise complementary error function 1 − erf(x) (float x), accurate in relative terms for
 * large x (no cancellation), as torch.erfc; differentiable (−(2/√π)e^{−x²}). A function, not a
 * Tensor method.
 */
export function erfc(x: Tensor): Tensor {
  return apply(erfcOp, [floatOperand('erfc', x)], undefined);
}
