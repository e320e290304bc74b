/**
 * The output-gradient (Gauss–Newton) matrix of a scalar-output model and its spectrum through
 * the n × n Gram matrix (Wu & Su 2023, docs/research.md §4).
 *
 * With J the n × P matrix whose row i is ∇_θ f(xᵢ),
 *   G = Jᵀ J / n   (P × P; the Hessian of ½·mean (f − y)² at an interpolating minimum),
 *   K = J Jᵀ / n   (n × n).
 * G and K share their nonzero eigenvalues (J Jᵀ u = λu ⇒ Jᵀ J (Jᵀu) = λ Jᵀu), so
 *   Tr G = Tr K,  ‖G‖_F = ‖K‖_F,  λ_max(G) = λ_max(K),
 * and for small n the n × n problem is far cheaper than the P × P one.
 */
import { withGradMode } from '../autograd/mode.js';
import type { Module } from '../nn/module.js';
import { perSampleGrads } from '../nn/per-sample.js';
import { tensor } from '../tensor/creation.js';
import { symmetricEigenvalues } from './eigen.js';
import { ShapeError, ValueError } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { perSampleMatrix } from './gradient-stats.js';
import { withMode, type BatchNormMode } from './objective.js';

/**
 * Eigenvalues of a small symmetric matrix given row-major (m × m), ascending — the eigen.ts
 * solver (Householder + implicit QL) on a flat array.
 */
export function smallSymmetricEigenvalues(a: ArrayLike<number>, m: number): Float64Array {
  if (a.length !== m * m) throw new ShapeError(`smallSymmetricEigenvalues: expected ${m}×${m} = ${m * m} values; got ${a.length}`);
  return symmetricEigenvalues(tensor(Float64Array.from(a), { shape: [m, m], dtype: 'float64' }));
}

/**
 * J: row i = ∇_θ f(xᵢ) for a model with one output per sample ([n] or [n, 1]), as an [n, P]
 * float64 tensor, from per-sample gradients of the raw output (no interaction between samples:
 * BatchNorm must be in eval mode).
 */
export function outputJacobian(model: Module, x: Tensor, options: { batchNorm: BatchNormMode }): Tensor {
  const n = x.shape[0]!;
  const rawOutput = (out: Tensor): Tensor => {
    if (out.size !== n) throw new ShapeError(`outputJacobian: the model must have one output per sample; got output shape [${out.shape}] for ${n} samples`);
    return out.reshape([n]);
  };
  const result = withMode(model, options.batchNorm, () =>
    withGradMode(true, () => perSampleGrads(model, { x, targets: new Array<number>(n).fill(0) }, { loss: rawOutput })),
  );
  return perSampleMatrix(result.grads!, n);
}

/** The Gram-matrix view of G = JᵀJ/n for a scalar-output model (gramSpectrum, gramSpectrumOf). */
export interface GramSpectrum {
  /** J, [n, P]. */
  jacobian: Tensor;
  /** K = J Jᵀ / n, [n, n] (float64). */
  K: Tensor;
  /** Tr G = Tr K. */
  traceG: number;
  /** ‖G‖_F = ‖K‖_F. */
  frobeniusG: number;
  /** λ_max(G) = λ_max(K). */
  lambdaMaxG: number;
  /** All eigenvalues of K, ascending (the nonzero spectrum of G, padded with zeros). */
  eigenvalues: Float64Array;
}

/** The spectrum of G = Jᵀ J / n through K = J Jᵀ / n, given J as an [n, P] tensor. */
export function gramSpectrumOf(jacobian: Tensor): GramSpectrum {
  if (jacobian.rank !== 2) throw new ShapeError(`gramSpectrumOf: J must be [n, P]; got shape [${jacobian.shape}]`);
  const [n, P] = jacobian.shape as [number, number];
  if (n === 0) throw new ValueError('gramSpectrumOf: J has no rows');
  const J = jacobian.contiguous().toTypedArray();
  const K = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let k = i; k < n; k++) {
      let s = 0;
      for (let j = 0; j < P; j++) s += J[i * P + j]! * J[k * P + j]!;
      K[i * n + k] = s / n;
      K[k * n + i] = s / n;
    }
  }
  let trace = 0;
  let frob = 0;
  for (let i = 0; i < n; i++) trace += K[i * n + i]!;
  for (const v of K) frob += v * v;
  const eigenvalues = smallSymmetricEigenvalues(K, n);
  return {
    jacobian,
    K: tensor(K, { shape: [n, n], dtype: 'float64' }),
    traceG: trace,
    frobeniusG: Math.sqrt(frob),
    lambdaMaxG: eigenvalues[n - 1]!,
    eigenvalues,
  };
}

/**
 * Tr G, ‖G‖_F and λ_max(G) of a scalar-output model on inputs x (small n), for comparing with
 * the stability bounds λ_max ≤ 2/η (GD) and Tr ≤ 2/η (SGD, batch 1).
 */
export function gramSpectrum(model: Module, x: Tensor, options: { batchNorm: BatchNormMode }): GramSpectrum {
  return gramSpectrumOf(outputJacobian(model, x, options));
}
