/**
 * softplus(x) = (1/β)·ln(1 + e^{βx}), and x itself where βx > threshold (PyTorch);
 * d/dx = σ(βx), and 1 above the threshold.
 */
import { ValueError } from '../../tensor/errors.js';
import { Tensor } from '../../tensor/tensor.js';
import { floatOperand } from '../operands.js';
import { apply, defineOp } from '../op.js';
import { elementwiseBatch, unaryJvp } from '../rules.js';
import { mapTensor } from './_kernels.js';
import { where } from './where.js';
import { finiteArgument } from '../../tensor/arguments.js';

export const softplusOp = defineOp<{
  /** β > 0, the sharpness: softplus tends to relu as β → ∞. */
  beta: number;
  /** Where βx exceeds this the op returns x itself (linear regime, no overflow of e^{βx}). */
  threshold: number;
}>({
  name: 'softplus',
  forward: ([x], { beta, threshold }) => mapTensor('softplus', x!, beta, threshold),
  save: ([x]) => [x!],
  backward: (ctx, gradOut) => {
    const [x] = ctx.saved;
    return [gradOut.mul(slope(x!, ctx.attrs))];
  },
  jvp: unaryJvp((x, _y, attrs) => slope(x, attrs)),
  batch: elementwiseBatch(([x], { beta, threshold }) => softplus(x!, beta, threshold)),
  describe: ({ beta, threshold }) => `beta=${beta}, threshold=${threshold}`,
});

/** d softplus / dx: σ(βx), and 1 above the threshold. */
function slope(x: Tensor, { beta, threshold }: { beta: number; threshold: number }): Tensor {
  const bx = x.mul(beta);
  return where(bx.gt(threshold), 1, bx.sigmoid());
}

/**
 * Elementwise softplus (1/β)·ln(1 + e^{βx}), and x itself where βx > threshold, exactly as
 * torch.nn.functional.softplus; differentiable (σ(βx)). Defaults β = 1, threshold = 20;
 * throws ValueError unless β > 0 and both are finite.
 */
export function softplus(x: Tensor, beta = 1, threshold = 20): Tensor {
  finiteArgument('softplus', 'beta', beta);
  finiteArgument('softplus', 'threshold', threshold);
  if (!(beta > 0)) throw new ValueError(`softplus: beta must be > 0; got ${beta}`);
  return apply(softplusOp, [floatOperand('softplus', x)], { beta, threshold });
}
