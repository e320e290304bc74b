/**
 * A refused step leaves no trace: what the loop captures before each step and puts back when
 * it refuses the step (NonFiniteError).
 *
 * Why this is needed: the non-finite loss or direction is only seen after the step's forwards
 * have run, and train-mode forwards have side effects. BatchNorm has already folded the bad
 * batch's statistics (NaN) into its running buffers — in the step's own forward, and in the
 * snapshot passes of the SVRG family when locking is off — and the estimator has already moved
 * (a new snapshot or mega-batch, SAGA's table entry, the snapshot tracker, counters, costs).
 * Parameters and the update rule's state are not touched before the checks (the update runs
 * after them), so the buffers and the estimator are what must be restored.
 *
 * The capture is cheap: buffer values are typed-array copies (BatchNorm's are 2·C numbers) and
 * estimators keep references to tensors they never write (Estimator.rollbackPoint).
 */
import type { Module } from '../nn/module.js';
import type { Estimator } from './estimator.js';

/** Capture the model's buffers and the estimator's state; the returned function restores both bit for bit. */
export function captureStep(model: Module, estimator: Estimator): () => void {
  const stats = model.saveStats();
  const restoreEstimator = estimatorRollback(estimator);
  return () => {
    model.restoreStats(stats);
    restoreEstimator();
  };
}

function estimatorRollback(estimator: Estimator): () => void {
  if (estimator.rollbackPoint) return estimator.rollbackPoint();
  // A JSON copy: slower, but every estimator that can be checkpointed can be rolled back.
  if (estimator.saveState && estimator.restoreState) {
    const state = estimator.saveState();
    return () => estimator.restoreState!(state);
  }
  return () => undefined;
}
