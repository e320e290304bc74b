/**
 * Oracle family 5 (`second_order.json`): loss, flat gradient and Hessian-vector products of a
 * model's batch loss, and — for small models — exact curvature metrics from the full Hessian
 * and the dense eigensolver (no estimators: the oracle values are exact), plus the gradient
 * norms of BP-SVRG's indicators M1 (mean per-sample gradient norm) and M2 (norm of the mean).
 */
import { type BatchNormMode, flatGradient, type FloatDType, fullHessian, hessianOperator, objective, perSampleGrads, perSampleJacobian, symmetricEigenvalues, tensor, type Tensor, withMode } from 'gradscope';
import { inputOf, toTensor, type Family, type OracleCase, type Results } from '../format.js';
import { modelOf, unknownLayer } from './model-spec.js';

function norm(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i]! * values[i]!;
  return Math.sqrt(s);
}

function mean(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i]!;
  return s / values.length;
}

/** ‖row i‖₂ of a per-sample result (parameter name → [B, …]), over all parameters. */
function rowNorms(rows: Iterable<Tensor>, B: number): Float64Array {
  const squared = new Float64Array(B);
  for (const t of rows) {
    const data = t.toTypedArray();
    const size = data.length / B;
    for (let i = 0; i < B; i++) for (let j = i * size; j < (i + 1) * size; j++) squared[i]! += data[j]! * data[j]!;
  }
  return squared.map(Math.sqrt);
}

export const secondOrderFamily: Family = {
  missing: (c: OracleCase) => (c.config.loss !== 'cross_entropy_mean' ? `loss ${c.config.loss}` : unknownLayer(c.config.layers)),

  run(c: OracleCase, dtype: FloatDType): Results {
    const { model } = modelOf(c, dtype);
    const x = toTensor(inputOf(c, 'x'), dtype);
    const targets = toTensor(inputOf(c, 'target'), dtype);
    const batch = { x, targets };
    // Non-BN models do not care; the BN case names its mode ("train": batch statistics).
    const batchNorm: BatchNormMode = c.config.batchnorm_mode === 'train' ? 'train' : 'eval';
    const opts = { batchNorm };

    const results: Results = {};
    results.loss = objective(model, batch, opts)(model.flattenParameters()).item();
    const grad = flatGradient(model, batch, opts);
    results.grad = grad;
    const op = hessianOperator(model, batch, opts);
    for (let j = 0; j < (c.config.num_hvp ?? 3); j++) results[`hvp${j}`] = op.apply(toTensor(inputOf(c, `v${j}`), dtype));

    if (!c.config.full_hessian_metrics) return results;
    const H = fullHessian(model, batch, opts);
    const P = H.shape[0]!;
    const h = H.toTypedArray();
    const eigenvalues = symmetricEigenvalues(H);
    let trace = 0;
    for (let i = 0; i < P; i++) trace += h[i * P + i]!;
    results.hessian_trace = trace;
    results.hessian_fro = norm(h);
    results.hessian_top3_eigs = tensor(Float64Array.from(eigenvalues.slice(P - 3)).reverse(), { dtype: 'float64' });
    results.hessian_min_eig = eigenvalues[0]!;
    results.hessian_eigenvalues = tensor(eigenvalues, { dtype: 'float64' });
    if (c.config.stores_full_hessian) results.hessian = H;

    // M2 = ‖(1/N) Σ ∇ℓᵢ‖ (the batch gradient in the case's mode); M1 = (1/N) Σ ‖∇ℓᵢ‖ with
    // batch-of-one gradients, BatchNorm on its running statistics (samples must not interact).
    results.grad_norm_of_mean = norm(grad.toTypedArray());
    const perSample = withMode(model, 'eval', () => perSampleGrads(model, batch));
    results.mean_per_sample_grad_norm = mean(perSample.norms);
    if (c.config.has_batchnorm) {
      // Rows of the exact train-mode Jacobian: samples couple through the batch statistics.
      const jacobian = withMode(model, 'train', () => perSampleJacobian(model, batch));
      results.mean_batch_row_grad_norm = mean(rowNorms(jacobian.rows.values(), x.shape[0]!));
    }
    return results;
  },
};
