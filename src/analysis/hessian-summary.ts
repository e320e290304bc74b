/**
 * The three width measures of Jastrzębski et al. 2018 (docs/research.md §2) from one H·v operator,
 * sharing the operator applications where the estimators allow it:
 *
 *   λ_max(H)   the largest algebraic eigenvalue, by Lanczos (`iterations` products);
 *   tr H       Hutchinson, E[zᵀHz] = tr H for Rademacher z;
 *   ‖H‖_F      E‖Hz‖² = E[zᵀH²z] = tr H² = ‖H‖²_F (H symmetric), for the same z.
 *
 * The trace and the Frobenius norm read the SAME probe products Hz, so `probes` products buy
 * both (hutchinsonTrace and frobeniusNorm in lanczos.ts each pay for their own). With the same
 * seed the probes are exactly those of hutchinsonTrace / frobeniusNorm, so the estimates agree
 * with theirs up to rounding; the Lanczos start vector comes from a separate stream of the seed.
 */
import { randn } from '../tensor/creation.js';
import { ValueError } from '../tensor/errors.js';
import { foldIn, makeKey } from '../tensor/random.js';
import { applyOperator } from './apply-operator.js';
import { lanczosFor, rademacher, type Estimate, type LinearOperator } from './lanczos.js';

/** Options of hessianSummary: one seed, and the operator budget of each estimator. */
export interface HessianSummaryOptions {
  /** Seed of the probes (probe j: foldIn(makeKey(seed), j)) and of the Lanczos start vector. */
  seed: number;
  /** Lanczos steps (capped at the operator size). */
  iterations: number;
  /** Rademacher probes shared by the trace and the Frobenius estimates (≥ 2 for a standard error). */
  probes: number;
}

/** The three width measures of a symmetric operator (hessianSummary), from shared operator products. */
export interface HessianSummary {
  /** Top Ritz value: a lower bound on λ_max that converges from below as iterations grow. */
  lambdaMax: number;
  /** Bottom Ritz value (negative curvature shows here). */
  lambdaMin: number;
  /** Hutchinson's estimate of tr H: the mean of zᵀHz over the probes. */
  trace: Estimate;
  /** √(mean ‖Hz‖²) with the delta-method standard error se(X)/(2√X). */
  frobenius: Estimate;
  /** Operator applications spent: Lanczos steps + probes. */
  products: number;
}

/** Tag of the Lanczos start-vector stream (kept apart from the probe stream j = 0, 1, …). */
const START_STREAM = 0x1a2c05;

/** Mean and standard error (std of the samples / √n) of a list of samples. */
function meanAndError(samples: readonly number[]): Estimate {
  const n = samples.length;
  const mean = samples.reduce((s, x) => s + x, 0) / n;
  const variance = n > 1 ? samples.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1) : Infinity;
  return { estimate: mean, standardError: Math.sqrt(variance / n), probes: n };
}

/**
 * λ_max, tr H and ‖H‖_F of a symmetric operator (e.g. hessianOperator(model, batch, …)).
 * @example hessianSummary(hessianOperator(model, batch, { batchNorm: 'train' }), { seed: 0, iterations: 20, probes: 10 })
 */
export function hessianSummary(op: LinearOperator, options: HessianSummaryOptions): HessianSummary {
  const { seed, iterations, probes } = options;
  if (!Number.isInteger(seed) || seed < 0) throw new ValueError(`hessianSummary: seed must be an integer ≥ 0; got ${seed}`);
  if (!Number.isInteger(iterations) || iterations < 1) throw new ValueError(`hessianSummary: iterations must be an integer ≥ 1; got ${iterations}`);
  if (!Number.isInteger(probes) || probes < 1) throw new ValueError(`hessianSummary: probes must be an integer ≥ 1; got ${probes}`);
  const root = makeKey(seed);
  const start = Float64Array.from(randn([op.size], { key: foldIn(root, START_STREAM), dtype: 'float64' }).toTypedArray());
  const spectrum = lanczosFor('hessianSummary', '', op, 1, { seed, iterations, start });
  const quadratic: number[] = [];
  const squaredNorm: number[] = [];
  for (let j = 0; j < probes; j++) {
    const z = rademacher(op.size, foldIn(root, j));
    const hz = applyOperator(op, z, 'hessianSummary', `probe ${j}`);
    let zHz = 0;
    let hz2 = 0;
    for (let i = 0; i < hz.length; i++) {
      zHz += z[i]! * hz[i]!;
      hz2 += hz[i]! * hz[i]!;
    }
    quadratic.push(zHz);
    squaredNorm.push(hz2);
  }
  const squared = meanAndError(squaredNorm);
  const norm = Math.sqrt(Math.max(squared.estimate, 0));
  return {
    lambdaMax: spectrum.top[0]!,
    lambdaMin: spectrum.min,
    trace: meanAndError(quadratic),
    frobenius: { estimate: norm, standardError: norm > 0 ? squared.standardError / (2 * norm) : squared.standardError, probes },
    products: spectrum.iterations + probes,
  };
}
