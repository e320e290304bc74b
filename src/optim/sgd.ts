/**
 * The SGD estimator: the gradient of the minibatch mean loss at the current parameters,
 *
 *   v = g_B(w) = ∇ (1/|B|) Σ_{i∈B} ℓ_i(w),
 *
 * cost |B| sample-gradient evaluations per step.
 */
import type { Batch } from '../nn/per-sample.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Estimator, StepContext } from './estimator.js';
import { batchGradientAt, batchSize, unflatten } from './gradient.js';

export class SgdEstimator implements Estimator {
  readonly name = 'sgd';
  private spent = 0;
  /** Mean loss of the last batch at the parameters before the step. */
  lastLoss = NaN;

  get cost(): number {
    return this.spent;
  }

  direction(context: StepContext, batch: Batch): Tensor[] {
    const { grad, loss } = batchGradientAt(context.model, batch, context.model.flattenParameters());
    this.spent += batchSize(batch);
    this.lastLoss = loss;
    return unflatten(context.model, grad);
  }

  rollbackPoint(): () => void {
    const { spent, lastLoss } = this;
    return () => {
      this.spent = spent;
      this.lastLoss = lastLoss;
    };
  }

  saveState(): { cost: number } {
    return { cost: this.spent };
  }

  restoreState(state: unknown): void {
    this.spent = (state as { cost: number }).cost;
  }
}
