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

/**
 * Plain minibatch SGD as an Estimator: the direction is g_B(w) of the loop's batch, with no
 * state beyond its cost counter. Pair it with {@link SgdUpdate} for momentum and weight decay.
 */
export class SgdEstimator implements Estimator {
  /** Always 'sgd'. */
  readonly name = 'sgd';
  private spent = 0;
  /** Mean loss of the last batch at the parameters before the step. */
  lastLoss = NaN;

  /** Sample-gradient evaluations so far: the sum of the batch sizes seen. */
  get cost(): number {
    return this.spent;
  }

  /** g_B(w) at the model's current parameters, one tensor per parameter. */
  direction(context: StepContext, batch: Batch): Tensor[] {
    const { grad, loss } = batchGradientAt(context.model, batch, context.model.flattenParameters());
    this.spent += batchSize(batch);
    this.lastLoss = loss;
    return unflatten(context.model, grad);
  }

  /** Saves the cost counter and last loss; the returned function puts them back. */
  rollbackPoint(): () => void {
    const { spent, lastLoss } = this;
    return () => {
      this.spent = spent;
      this.lastLoss = lastLoss;
    };
  }

  /** The estimator's whole state: its cost counter. */
  saveState(): {
    /** Sample-gradient evaluations so far. */
    cost: number;
  } {
    return { cost: this.spent };
  }

  /** Restore the cost counter from a `saveState` value. */
  restoreState(state: unknown): void {
    this.spent = (state as { cost: number }).cost;
  }
}
