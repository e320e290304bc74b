/**
 * Oracle family 4 (`models.json`): whole models from a layer spec. Checks the batch loss,
 * logits and gradient (BatchNorm in train mode), the running statistics after that one train
 * forward, the eval-mode loss and gradient, the native per-sample losses and gradients
 * (BatchNorm in eval mode with the given statistics) and the exact train-mode Jacobian rows.
 */
import { crossEntropy, type FloatDType, gradients, perSampleGrads, perSampleJacobian, type Tensor } from 'gradscope';
import { inputOf, toTensor, type Family, type OracleCase, type Results } from '../format.js';
import { modelOf, unknownLayer } from './model-spec.js';

export const modelsFamily: Family = {
  missing: (c: OracleCase) => (c.config.loss !== 'cross_entropy_mean' ? `loss ${c.config.loss}` : unknownLayer(c.config.layers)),

  run(c: OracleCase, dtype: FloatDType): Results {
    const { model, paramNames, bufferNames } = modelOf(c, dtype);
    const x = toTensor(inputOf(c, 'x'), dtype);
    const targets = toTensor(inputOf(c, 'target'), dtype);
    const params = model.parameters();
    const results: Results = {};
    const initialStats = model.saveStats();
    // gradscope's names for the spec's parameters, position by position.
    const ourNames = model.namedParameters().map(([n]) => n);
    const record = (prefix: string, values: readonly Tensor[]) => paramNames.forEach((n, k) => (results[`${prefix}/${n}`] = values[k]!));

    // 1. One batch forward in train mode: loss, logits, gradient, updated running statistics.
    model.train();
    const logits = model.forward(x);
    const loss = crossEntropy(logits, targets);
    results.loss = loss.item();
    results.logits = logits.detach();
    record('grad', gradients([loss], params));
    const buffers = model.namedBuffers();
    bufferNames.forEach((n, k) => (results[`updated/${n}`] = buffers[k]![1]));
    model.restoreStats(initialStats);

    // 2. Eval mode (running statistics) over the whole batch: BN models only (README, family 4);
    // without BatchNorm it would repeat step 1 under names no file expects.
    model.eval();
    if (c.config.has_batchnorm) {
      const logitsEval = model.forward(x);
      const lossEval = crossEntropy(logitsEval, targets);
      results.loss_eval = lossEval.item();
      results.logits_eval = logitsEval.detach();
      record('grad_eval', gradients([lossEval], params));
    }

    // 3. Native per-sample gradients (eval mode: samples do not interact).
    const perSample = perSampleGrads(model, { x, targets });
    results.per_sample_loss = perSample.losses;
    record('per_sample_grad', ourNames.map((n) => perSample.grads!.get(n)!));

    // 4. The exact train-mode Jacobian of the per-sample losses of one batch forward.
    if (c.config.has_batchnorm) {
      model.train();
      const jacobian = perSampleJacobian(model, { x, targets });
      results.batch_losses_train = jacobian.losses;
      record('jacobian', ourNames.map((n) => jacobian.rows.get(n)!));
    }
    return results;
  },
};
