/**
 * arcsin(x);  d/dx = 1/√(1 − x²), written 1/√((1 − x)(1 + x)): 1 − x² would round away the
 * digits of 1 − |x| near ±1, where the derivative grows without bound.
 */
import { Tensor } from '../../tensor/tensor.js';
import { floatOperand } from '../operands.js';
import { apply, defineOp } from '../op.js';
import { elementwiseBatch, unaryJvp } from '../rules.js';
import { mapTensor } from './_kernels.js';
import { rsqrt } from './rsqrt.js';

export const asinOp = defineOp({
  name: 'asin',
  forward: ([x]) => mapTensor('asin', x!),
  save: ([x]) => [x!],
  backward: (ctx, gradOut) => {
    const [x] = ctx.saved;
    return [gradOut.mul(slope(x!))];
  },
  jvp: unaryJvp((x) => slope(x)),
  batch: elementwiseBatch(([x]) => asin(x!)),
});

/** d arcsin / dx = 1/√((1 − x)(1 + x)). */
const slope = (x: Tensor): Tensor => rsqrt(x.neg().add(1).mul(x.add(1)));

/** Elementwise arcsine (float x, NaN outside [−1, 1]), as torch.asin; differentiable (1/√(1 − x²), +∞ at ±1). A function, not a Tensor method. */
export function asin(x: Tensor): Tensor {
  return apply(asinOp, [floatOperand('asin', x)], undefined);
}
