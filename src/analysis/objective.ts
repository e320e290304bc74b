/**
 * A model's loss as a function of its flattened parameter vector, over a fixed batch — the
 * object every curvature measurement differentiates.
 *
 * BatchNorm mode is explicit: 'train' normalises with the batch statistics (the loss the
 * optimizer sees), 'eval' with the running statistics. Either way the model's running
 * statistics and train/eval flags are left exactly as they were.
 */
import { crossEntropyOfRows } from '../autograd/composite/loss-core.js';
import { gradients } from '../autograd/engine.js';
import { withGradMode } from '../autograd/mode.js';
import { hvp } from '../autograd/transforms.js';
import type { Module } from '../nn/module.js';
import type { Batch, PerSampleLoss } from '../nn/per-sample.js';
import { ValueError } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';

/**
 * How BatchNorm layers normalise during a measurement: 'train' with the batch's statistics
 * (the loss the optimizer sees), 'eval' with the running statistics. The running statistics
 * are never updated either way.
 */
export type BatchNormMode = 'train' | 'eval';

/** The measured objective F(w): a BatchNorm mode and the per-sample loss whose batch mean F is. */
export interface ObjectiveOptions {
  /** How BatchNorm layers normalise during the measurement (required: no silent default). */
  batchNorm: BatchNormMode;
  /** Per-sample losses [B]; the objective is their mean. Default: cross-entropy. */
  loss?: PerSampleLoss;
}

/** Run fn with every module in `mode`, restoring each module's own flag and the running statistics. */
export function withMode<T>(model: Module, mode: BatchNormMode, fn: () => T): T {
  if (mode !== 'train' && mode !== 'eval') throw new ValueError(`batchNorm mode must be 'train' or 'eval'; got '${String(mode)}'`);
  const flags = model.namedModules().map(([, m]) => m.training);
  model.train(mode === 'train');
  try {
    return model.withFrozenStats(fn);
  } finally {
    model.namedModules().forEach(([, m], i) => (m.training = flags[i]!));
  }
}

/**
 * F(w) = mean loss of the batch at parameters w (a flat vector), as a differentiable function.
 * @example const F = objective(model, batch, { batchNorm: 'eval' }); grad(F)(model.flattenParameters());
 */
export function objective(model: Module, batch: Batch, options: ObjectiveOptions): (w: Tensor) => Tensor {
  const loss = options.loss ?? ((out, t) => crossEntropyOfRows(out, t, 'none'));
  const ids = batch.sampleIds ?? Array.from({ length: batch.x.shape[0]! }, (_, i) => i);
  return (w: Tensor) =>
    withMode(model, options.batchNorm, () =>
      model.callWithVector(w, () => loss(model.forward(batch.x, { sampleIds: ids, seed: batch.seed }), batch.targets).mean()),
    );
}

/** ∇F(w) at the model's current parameters (flat). */
export function flatGradient(model: Module, batch: Batch, options: ObjectiveOptions): Tensor {
  const w = model.flattenParameters().requireGrad();
  const F = objective(model, batch, options);
  return withGradMode(true, () => gradients([F(w)], [w])[0]!);
}

/**
 * H·v, the Hessian of F at the model's current parameters applied to the flat vector v, by
 * double backward (grad of ⟨∇F, v⟩).
 */
export function hessianVectorProduct(model: Module, batch: Batch, v: Tensor, options: ObjectiveOptions): Tensor {
  return hvp(objective(model, batch, options), model.flattenParameters(), v) as Tensor;
}

/**
 * A reusable H·v operator at fixed parameters: builds ∇F once with its graph, then each call
 * is one backward pass of ⟨∇F, v⟩ — cheaper than hessianVectorProduct when many products are
 * needed (trace, Lanczos, the full Hessian).
 */
export function hessianOperator(
  model: Module,
  batch: Batch,
  options: ObjectiveOptions,
): {
  /** P, the number of parameters (the length of the flat vector). */
  size: number;
  /** H·v for a flat vector v of P elements (cast to the model's dtype); throws ValueError for another shape. */
  apply: (v: Tensor) => Tensor;
} {
  const w = model.flattenParameters().requireGrad();
  const F = objective(model, batch, options);
  const g = withGradMode(true, () => gradients([F(w)], [w], { createGraph: true })[0]!);
  return {
    size: w.size,
    apply: (v: Tensor) => {
      if (v.rank !== 1 || v.size !== w.size) throw new ValueError(`hessianOperator: expected a vector of ${w.size} elements; got shape [${v.shape}]`);
      if (!g.requiresGrad) return v.mul(0);
      return gradients([g], [w], { gradOutputs: [v.to(g.dtype)], retainGraph: true, allowUnused: true })[0]!;
    },
  };
}
