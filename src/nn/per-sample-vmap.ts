/**
 * Per-sample gradients of models whose input cannot be traced: int32 token ids, which an
 * Embedding takes as a gather index rather than as an operand the batch axis could be followed
 * through (autograd/per-sample.ts follows operands only). The rows are computed as torch.func
 * computes them, vmap(valueAndGrad(loss ∘ functionalCall)) over (xᵢ, tᵢ): batched ops, not a loop
 * over samples, and the same numbers as each sample on its own.
 *
 * A module of its own, not a branch of perSampleGrads, so that a bundle of perSampleGrads does not
 * carry vmap (test/consumer/run.mjs holds that bundle to its budget).
 */
import { valueAndGrad } from '../autograd/transforms.js';
import { vmap } from '../autograd/vmap.js';
import { GradError } from '../tensor/errors.js';
import { Tensor } from '../tensor/tensor.js';
import { Dropout } from './dropout.js';
import { functionalCall, parametersByName } from './functional-call.js';
import type { Module } from './module.js';
import { perSampleResult, type Batch, type PerSampleChunk, type PerSampleOptions, type PerSampleResult } from './per-sample.js';

/** One chunk through vmap: each sample is a batch of one inside the mapped function. */
const vmappedChunk: PerSampleChunk = (model, { x, targets, seed }, loss) => {
  const t = targets instanceof Tensor ? targets : Tensor.fromData(Int32Array.from(targets), [targets.length]);
  const one = (p: Record<string, Tensor>, xi: Tensor, ti: Tensor) => loss(functionalCall(model, p, xi.unsqueeze(0), { seed }), ti.unsqueeze(0)).sum();
  const [losses, grads] = vmap(valueAndGrad(one), { inAxes: [null, 0, 0] })(parametersByName(model), x, t) as unknown as [Tensor, Record<string, Tensor>];
  return { losses, grads: model.namedParameters().map(([name]) => grads[name]!) };
};

/**
 * perSampleGrads computed through vmap, for inputs it cannot trace (int32 token ids into an
 * Embedding); the same result and options, except `workspace`. Samples must not interact, as for
 * perSampleGrads (BatchNorm in eval mode), and dropout must be off: its masks are keyed by sample
 * id, which the one batched trace of vmap cannot give each sample.
 * @example
 * const { grads } = vmapPerSampleGrads(textModel.eval(), { x: tokenIds, targets });
 */
export function vmapPerSampleGrads(model: Module, batch: Batch, options: Omit<PerSampleOptions, 'workspace'> = {}): PerSampleResult {
  const dropout = model.namedModules().find(([, m]) => m.training && m instanceof Dropout && m.p > 0);
  if (dropout) {
    throw new GradError(
      `vmapPerSampleGrads: vmap cannot key dropout masks by sample id; put '${dropout[0]}' (${dropout[1].describe()}) in eval mode, or loop over the samples`,
    );
  }
  return perSampleResult(model, batch, { ...options, workspace: undefined }, vmappedChunk);
}
