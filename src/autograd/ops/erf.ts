/**
 * erf(x) = (2/√π) ∫₀ˣ e^{−t²} dt;  d/dx = (2/√π) e^{−x²}.
 * JavaScript has no Math.erf: the kernel is kernels/scalar.ts' errorFunction (mode 0), accurate
 * to ≤ 1e-15 relative everywhere (see there for the method).
 */
import { Tensor } from '../../tensor/tensor.js';
import { floatOperand } from '../operands.js';
import { apply, defineOp } from '../op.js';
import { elementwiseBatch, unaryJvp } from '../rules.js';
import { mapTensor } from './_kernels.js';

export const erfOp = defineOp({
  name: 'erf',
  forward: ([x]) => mapTensor('errorFunction', x!, 0),
  save: ([x]) => [x!],
  backward: (ctx, gradOut) => {
    const [x] = ctx.saved;
    return [gradOut.mul(erfSlope(x!))];
  },
  jvp: unaryJvp((x) => erfSlope(x)),
  batch: elementwiseBatch(([x]) => erf(x!)),
});

/** d erf / dx = (2/√π) e^{−x²} (erfc's is its negative). */
export const erfSlope = (x: Tensor): Tensor => x.mul(x).neg().exp().mul(1.1283791670955126);

/** Elementwise error function (float x), as torch.erf; differentiable ((2/√π)e^{−x²}). A function, not a Tensor method. */
export function erf(x: Tensor): Tensor {
  return apply(erfOp, [floatOperand('erf', x)], undefined);
}
