/**
 * arsinh(x);  d/dx = 1/√(x² + 1) (0 where x² overflows).
 * NOTE: a primitive, not ln(x + √(x² + 1)), which cancels for x < 0 and loses precision near 0.
 */
import { Tensor } from '../../tensor/tensor.js';
import { floatOperand } from '../operands.js';
import { apply, defineOp } from '../op.js';
import { elementwiseBatch, unaryJvp } from '../rules.js';
import { mapTensor } from './_kernels.js';
import { rsqrt } from './rsqrt.js';

export const asinhOp = defineOp({
  name: 'asinh',
  forward: ([x]) => mapTensor('asinh', x!),
  save: ([x]) => [x!],
  backward: (ctx, gradOut) => {
    const [x] = ctx.saved;
    return [gradOut.mul(slope(x!))];
  },
  jvp: unaryJvp((x) => slope(x)),
  batch: elementwiseBatch(([x]) => asinh(x!)),
});

/** d arsinh / dx = 1/√(x² + 1). */
const slope = (x: Tensor): Tensor => rsqrt(x.mul(x).add(1));

/** Elementwise inverse hyperbolic sine (float x), as torch.asinh; differentiable (1/√(x² + 1)). A function, not a Tensor method. */
export function asinh(x: Tensor): Tensor {
  return apply(asinhOp, [floatOperand('asinh', x)], undefined);
}
