/**
 * Curvature of a model's loss at its current parameters, from Hessian-vector products:
 * the exact Hessian of a small model and per-layer (diagonal block) trace and top eigenvalue.
 * The BatchNorm mode is explicit and the running statistics are left untouched (objective.ts).
 *
 * Why these: Jastrzębski et al. tie minimum width to λ_max(H), ‖H‖_F and tr H; Wu & Su's
 * stability conditions are λ_max ≤ 2/η (GD) and tr H ≤ 2/η (batch-1 SGD).
 */
import { tensor } from '../tensor/creation.js';
import { ValueError } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Module } from '../nn/module.js';
import type { Batch } from '../nn/per-sample.js';
import { hessianOperator, type ObjectiveOptions } from './objective.js';
import { applyOperator } from './apply-operator.js';
import { hutchinsonTrace, lanczos, type Estimate, type LinearOperator } from './lanczos.js';

/**
 * The P×P Hessian of the batch loss w.r.t. the flat parameter vector, column by column
 * (H eᵢ, one backward each), then symmetrised (H + Hᵀ)/2 — the exact Hessian is symmetric,
 * so this only averages away rounding. For small models: P products and P² memory.
 * Returned in float64 whatever the model dtype.
 */
export function fullHessian(model: Module, batch: Batch, options: ObjectiveOptions & { maxSize?: number }): Tensor {
  const op = hessianOperator(model, batch, options);
  const P = op.size;
  const maxSize = options.maxSize ?? 2000;
  if (P > maxSize) throw new ValueError(`fullHessian: the model has ${P} parameters (> maxSize ${maxSize}); use hessianOperator with lanczos/hutchinsonTrace instead`);
  return tensor(operatorMatrix(op), { shape: [P, P], dtype: 'float64' });
}

/** The dense matrix of a linear operator (row-major, symmetrised), from its action on the basis vectors. */
export function operatorMatrix(op: LinearOperator): Float64Array {
  const P = op.size;
  const columns = new Float64Array(P * P); // column i stored as row i
  const e = new Float64Array(P);
  for (let i = 0; i < P; i++) {
    e[i] = 1;
    const column = applyOperator(op, e, 'operatorMatrix', `basis vector ${i}`);
    e[i] = 0;
    for (let r = 0; r < P; r++) columns[i * P + r] = column[r]!;
  }
  const H = new Float64Array(P * P);
  for (let i = 0; i < P; i++) {
    for (let j = 0; j < P; j++) H[i * P + j] = 0.5 * (columns[i * P + j]! + columns[j * P + i]!);
  }
  return H;
}

/**
 * The operator of the diagonal block H_SS of a symmetric operator for the coordinates S:
 * u ↦ (H · embed_S(u))_S — the full operator applied to u padded with zeros, then masked.
 * One full product per application; cheap to write and exact.
 */
export function restrictOperator(op: LinearOperator, coordinates: ArrayLike<number>): LinearOperator {
  const idx = Int32Array.from(coordinates);
  for (const i of idx) if (i < 0 || i >= op.size) throw new ValueError(`restrictOperator: coordinate ${i} outside [0, ${op.size})`);
  const full = new Float64Array(op.size);
  return {
    size: idx.length,
    apply: (u: Tensor) => {
      if (u.rank !== 1 || u.size !== idx.length) throw new ValueError(`restrictOperator: expected a vector of ${idx.length} elements; got shape [${u.shape}]`);
      const values = u.toTypedArray();
      full.fill(0);
      idx.forEach((c, k) => (full[c] = values[k]!));
      const out = op.apply(tensor(full, { dtype: 'float64' })).toTypedArray();
      return tensor(Float64Array.from(idx, (c) => out[c]!), { dtype: 'float64' });
    },
  };
}

/** Options of perLayerCurvature: the objective's BatchNorm mode, the seed, and the estimator budgets per group. */
export interface LayerCurvatureOptions extends ObjectiveOptions {
  /** Seed for the probes and Lanczos start vectors (each group gets its own stream). */
  seed: number;
  /** Hutchinson probes per group (default 20). */
  probes?: number;
  /** Lanczos steps per group (default 20, capped at the group size). */
  iterations?: number;
  /** 'parameter': one group per named parameter; 'module': by module prefix ('0.weight' and '0.bias' → '0'). Default 'parameter'. */
  groupBy?: 'parameter' | 'module';
}

/** Curvature of one diagonal block H_SS of the Hessian (one parameter, or one module's parameters). */
export interface LayerCurvature {
  /** Parameter name, or module prefix with groupBy 'module' ('' for parameters of the root). */
  name: string;
  /** Number of coordinates in the block. */
  size: number;
  /** Hutchinson estimate of tr(H_SS). */
  trace: Estimate;
  /** Lanczos estimate of λ_max(H_SS) (algebraic). */
  topEigenvalue: number;
}

/**
 * Trace and top eigenvalue of each diagonal block H_SS of the Hessian, S a parameter (or a
 * module's parameters). Block traces sum to tr H; block eigenvalues interlace with H's
 * (Cauchy), so max over blocks of λ_max(H_SS) ≤ λ_max(H).
 * @example perLayerCurvature(model, batch, { batchNorm: 'eval', seed: 0, groupBy: 'module' })
 */
export function perLayerCurvature(model: Module, batch: Batch, options: LayerCurvatureOptions): LayerCurvature[] {
  const op = hessianOperator(model, batch, options);
  const groupBy = options.groupBy ?? 'parameter';
  if (groupBy !== 'parameter' && groupBy !== 'module') throw new ValueError(`perLayerCurvature: groupBy must be 'parameter' or 'module'; got '${String(groupBy)}'`);
  // Coordinates of each group in the flat vector (flattenParameters order = namedParameters order).
  const groups = new Map<string, number[]>();
  let offset = 0;
  for (const [name, p] of model.namedParameters()) {
    const key = groupBy === 'parameter' ? name : name.includes('.') ? name.slice(0, name.lastIndexOf('.')) : '';
    const coords = groups.get(key) ?? [];
    for (let i = 0; i < p.size; i++) coords.push(offset + i);
    groups.set(key, coords);
    offset += p.size;
  }
  let g = 0;
  return [...groups].map(([name, coords]) => {
    const block = restrictOperator(op, coords);
    const seed = options.seed + 1000003 * g++; // a distinct, reproducible stream per group
    const trace = hutchinsonTrace(block, { seed, maxProbes: options.probes ?? 20 });
    const top = lanczos(block, 1, { seed, iterations: Math.min(options.iterations ?? 20, coords.length) }).top[0]!;
    return { name, size: coords.length, trace, topEigenvalue: top };
  });
}
