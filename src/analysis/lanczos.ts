/**
 * Matrix-free spectral estimates of a symmetric linear operator (the Hessian, through H·v):
 * Hutchinson's trace, the Frobenius norm, Lanczos extreme eigenvalues, and the spectral
 * density by stochastic Lanczos quadrature. Every random draw comes from an explicit seed.
 *
 * Vectors handed to `op.apply` are float64 tensors; results are reduced in float64 whatever
 * dtype the operator computes in.
 */
import { bernoulli, randn } from '../tensor/creation.js';
import { ValueError } from '../tensor/errors.js';
import { foldIn, makeKey, type Key } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import { applyOperator, firstNonFinite } from './apply-operator.js';
import { tridiagonalEigen } from './eigen.js';

/** A symmetric linear operator v ↦ Av on vectors of `size` elements (hessianOperator returns one). */
export interface LinearOperator {
  /** Dimension P of the vectors it acts on. */
  size: number;
  /** A·v for a float64 vector v of shape [size]; returns a [size] vector (any float dtype). Must not modify v. */
  apply: (v: Tensor) => Tensor;
}

/** A Monte-Carlo estimate with its standard error (std of the samples / √probes). */
export interface Estimate {
  /** The sample mean over the probes (for frobeniusNorm: the square root of the squared-norm mean). */
  estimate: number;
  /** Standard error of `estimate`: std of the samples / √probes (Infinity after a single probe). */
  standardError: number;
  /** Number of probe vectors used. */
  probes: number;
}

/** Options of the Hutchinson-type estimators (hutchinsonTrace, frobeniusNorm). */
export interface ProbeOptions {
  /** Seed of the probe stream: probe j uses the key foldIn(makeKey(seed), j). */
  seed: number;
  /** Upper bound on the number of probes (each costs one operator application). */
  maxProbes: number;
  /** Stop once standardError ≤ tolerance·|estimate| (never before minProbes). */
  tolerance?: number;
  /** Probes drawn before the tolerance is checked (default min(10, maxProbes)): a standard error from 2–3 samples is itself too noisy to stop on. */
  minProbes?: number;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** A Rademacher vector (±1 with probability ½ each) from a key. */
export function rademacher(size: number, key: Key): Float64Array {
  const bits = bernoulli(0.5, [size], { key, dtype: 'float64' }).toTypedArray();
  return Float64Array.from(bits, (b) => 2 * b - 1);
}

function checkProbes(op: string, options: ProbeOptions): void {
  if (!Number.isInteger(options.seed) || options.seed < 0) throw new ValueError(`${op}: seed must be an integer ≥ 0; got ${options.seed}`);
  if (!Number.isInteger(options.maxProbes) || options.maxProbes < 1) throw new ValueError(`${op}: maxProbes must be an integer ≥ 1; got ${options.maxProbes}`);
}

/**
 * Mean and standard error of sample(z_j) over Rademacher probes z_j, with Welford's running
 * variance and early stopping on the relative standard error.
 */
function probeMean(op: LinearOperator, name: string, options: ProbeOptions, sample: (z: Float64Array, Az: Float64Array) => number): Estimate {
  checkProbes(name, options);
  const minProbes = Math.min(options.minProbes ?? 10, options.maxProbes);
  const root = makeKey(options.seed);
  let mean = 0;
  let m2 = 0; // Σ (x − mean)², Welford
  let n = 0;
  while (n < options.maxProbes) {
    const z = rademacher(op.size, foldIn(root, n));
    const x = sample(z, applyOperator(op, z, name, `probe ${n}`));
    // Finite products can still overflow in the sample (‖Az‖² past 1e308): a NaN/∞ mean is never an estimate.
    if (!Number.isFinite(x)) throw new ValueError(`${name}: probe ${n} gave a non-finite sample (${x}) from finite operator values; the operator's scale overflows float64`);
    n++;
    const delta = x - mean;
    mean += delta / n;
    m2 += delta * (x - mean);
    const standardError = n > 1 ? Math.sqrt(m2 / (n - 1) / n) : Infinity;
    if (options.tolerance !== undefined && n >= minProbes && standardError <= options.tolerance * Math.abs(mean)) break;
  }
  return { estimate: mean, standardError: n > 1 ? Math.sqrt(m2 / (n - 1) / n) : Infinity, probes: n };
}

/**
 * Hutchinson's estimator of tr(A): for Rademacher z, E[zᵀAz] = Σᵢⱼ Aᵢⱼ E[zᵢzⱼ] = Σᵢ Aᵢᵢ.
 * Among probe distributions with unbiased zᵀAz, Rademacher has the least variance,
 * Var = 2(‖A‖²_F − Σᵢ Aᵢᵢ²).
 * @example hutchinsonTrace(hessianOperator(model, batch, { batchNorm: 'eval' }), { seed: 0, maxProbes: 100, tolerance: 0.01 })
 */
export function hutchinsonTrace(op: LinearOperator, options: ProbeOptions): Estimate {
  return probeMean(op, 'hutchinsonTrace', options, (z, Az) => dot(z, Az));
}

/**
 * ‖A‖_F from E‖Az‖² = E[zᵀA²z] = tr(A²) = ‖A‖²_F (A symmetric, z Rademacher). The mean of
 * ‖Az‖² estimates ‖A‖²_F; its square root and the delta-method standard error
 * se(√X) ≈ se(X) / (2√X) are returned.
 */
export function frobeniusNorm(
  op: LinearOperator,
  options: ProbeOptions,
): Estimate & {
  /** The underlying estimate of ‖A‖²_F = tr(A²), the mean of ‖Az‖². */
  squared: Estimate;
} {
  // Stop on the squared norm's tolerance at twice the requested one: se(√X)/√X = se(X)/(2X).
  const tolerance = options.tolerance === undefined ? undefined : 2 * options.tolerance;
  const squared = probeMean(op, 'frobeniusNorm', { ...options, tolerance }, (_z, Az) => dot(Az, Az));
  const estimate = Math.sqrt(Math.max(squared.estimate, 0));
  return { estimate, standardError: estimate > 0 ? squared.standardError / (2 * estimate) : squared.standardError, probes: squared.probes, squared };
}

/** Options of lanczos. */
export interface LanczosOptions {
  /** Seed of the starting vector. */
  seed: number;
  /** Krylov dimension m (capped at the operator size); each step is one operator application. */
  iterations: number;
  /** Starting vector instead of a seeded Gaussian one (normalised here). */
  start?: Float64Array;
}

/** What lanczos returns: Ritz values (eigenvalue estimates) and the tridiagonal matrix they come from. */
export interface LanczosResult {
  /** The k algebraically largest Ritz values, largest first. */
  top: number[];
  /** The algebraically smallest Ritz value. */
  min: number;
  /** All Ritz values (eigenvalues of T), ascending. */
  ritzValues: Float64Array;
  /** Squared first components of T's eigenvectors (Gauss quadrature weights, sum 1), matching ritzValues. */
  weights: Float64Array;
  /** Diagonal α (m entries) of the tridiagonal T = QᵀAQ. */
  alpha: Float64Array;
  /** Off-diagonal β (m − 1 entries) of T; a 0 marks a restart after an invariant subspace. */
  beta: Float64Array;
  /** Operator applications performed. */
  iterations: number;
}

/**
 * The Lanczos process with full reorthogonalisation: builds an orthonormal basis q₁…q_m of the
 * Krylov space span{q₁, Aq₁, …, A^{m−1}q₁} and T = QᵀAQ, tridiagonal:
 *   β_j q_{j+1} = A q_j − α_j q_j − β_{j−1} q_{j−1},   α_j = q_jᵀ A q_j.
 * In floating point the three-term recurrence loses orthogonality as Ritz values converge
 * (Paige), producing spurious copies; re-projecting every new vector against all previous
 * ones, twice ("twice is enough", Kahan–Parlett), keeps Q orthonormal to working precision at
 * O(m²P) extra cost. When β_j vanishes the Krylov space is invariant; we restart with a fresh
 * random vector orthogonal to Q (β_j = 0), so repeated eigenvalues are not lost.
 *
 * Ritz values converge first at BOTH ends of the spectrum, so the top-k ALGEBRAIC values are
 * read from the upper end of T's spectrum — a large negative eigenvalue is the bottom Ritz
 * value, never mistaken for the top one (power iteration, which finds the largest |λ|, would).
 * @example lanczos(hessianOperator(model, batch, { batchNorm: 'eval' }), 3, { seed: 0, iterations: 40 }).top
 */
export function lanczos(op: LinearOperator, k: number, options: LanczosOptions): LanczosResult {
  return lanczosFor('lanczos', '', op, k, options);
}

/**
 * The Lanczos process on behalf of `caller` (spectralDensity, hessianSummary): errors name the
 * caller, and `prefix` (e.g. 'probe 2, ') locates the run among the caller's runs.
 */
export function lanczosFor(caller: string, prefix: string, op: LinearOperator, k: number, options: LanczosOptions): LanczosResult {
  const P = op.size;
  if (!Number.isInteger(k) || k < 1) throw new ValueError(`lanczos: k must be an integer ≥ 1; got ${k}`);
  if (!Number.isInteger(options.iterations) || options.iterations < 1) throw new ValueError(`lanczos: iterations must be an integer ≥ 1; got ${options.iterations}`);
  if (!Number.isInteger(options.seed) || options.seed < 0) throw new ValueError(`lanczos: seed must be an integer ≥ 0; got ${options.seed}`);
  const m = Math.min(options.iterations, P);
  if (k > m) throw new ValueError(`lanczos: asked for the top ${k} eigenvalues but only ${m} iterations (operator size ${P}) are run`);
  const root = makeKey(options.seed);
  const Q: Float64Array[] = [];
  const alpha = new Float64Array(m);
  const beta = new Float64Array(Math.max(m - 1, 0));
  let restarts = 0;
  const fresh = (): Float64Array => Float64Array.from(randn([P], { key: foldIn(root, restarts++), dtype: 'float64' }).toTypedArray());
  let q = options.start ? Float64Array.from(options.start) : fresh();
  if (q.length !== P) throw new ValueError(`lanczos: start vector has ${q.length} elements; the operator has ${P}`);
  const badStart = firstNonFinite(q);
  if (badStart) throw new ValueError(`${caller}: the start vector must be finite; element ${badStart.index} is ${badStart.value}`);
  let qNorm = Math.sqrt(dot(q, q));
  if (!(qNorm > 0)) throw new ValueError('lanczos: the start vector is zero');
  q = q.map((x) => x / qNorm);
  let scale = 0; // running estimate of ‖A‖ for the breakdown test
  for (let j = 0; j < m; j++) {
    Q.push(q);
    const w = applyOperator(op, q, caller, `${prefix}Lanczos iteration ${j}`);
    alpha[j] = dot(q, w);
    // Full reorthogonalisation (classical Gram–Schmidt, two passes) subsumes the three-term recurrence.
    for (let pass = 0; pass < 2; pass++) {
      for (const qi of Q) {
        const c = dot(qi, w);
        for (let t = 0; t < P; t++) w[t]! -= c * qi[t]!;
      }
    }
    if (j === m - 1) break;
    const b = Math.sqrt(dot(w, w));
    scale = Math.max(scale, Math.abs(alpha[j]!) + b + (j > 0 ? beta[j - 1]! : 0));
    if (b > 1e-10 * scale) {
      beta[j] = b;
      q = w.map((x) => x / b);
      continue;
    }
    // Invariant subspace: continue from a random vector orthogonal to everything so far.
    beta[j] = 0;
    let r = fresh();
    for (let pass = 0; pass < 2; pass++) {
      for (const qi of Q) {
        const c = dot(qi, r);
        for (let t = 0; t < P; t++) r[t]! -= c * qi[t]!;
      }
    }
    qNorm = Math.sqrt(dot(r, r));
    q = r.map((x) => x / qNorm);
  }
  const { values, firstComponents } = tridiagonalEigen(alpha, beta);
  const top = Array.from(values.slice(values.length - k)).reverse();
  return {
    top,
    min: values[0]!,
    ritzValues: values,
    weights: firstComponents.map((c) => c * c),
    alpha,
    beta,
    iterations: m,
  };
}

/** Options of spectralDensity (stochastic Lanczos quadrature). */
export interface SpectralDensityOptions {
  /** Seed of the probe stream (probe j starts from the Rademacher vector with key foldIn(makeKey(seed), j)). */
  seed: number;
  /** Number of independent Lanczos runs averaged. */
  probes: number;
  /** Lanczos steps per probe. */
  iterations: number;
  /** Points where the density is evaluated, or how many evenly spaced points to place over [min Ritz − 5σ, max Ritz + 5σ] (default 256). */
  grid?: ArrayLike<number> | number;
  /** Width of the Gaussian kernel (default 1% of the Ritz value range, or 1e-3 if that is 0). */
  sigma?: number;
}

/** The estimated spectral density φ of an operator, sampled on a grid (spectralDensity). */
export interface SpectralDensity {
  /** The points t where φ is evaluated, as given or evenly spaced. */
  grid: Float64Array;
  /** φ(t) at each grid point: the probe average of Gaussian-broadened quadrature rules (∫φ = 1). */
  density: Float64Array;
  /** The quadrature nodes (Ritz values) and weights of each probe, before broadening. */
  nodes: {
    /** The probe's Ritz values θₖ, ascending. */
    values: Float64Array;
    /** Their Gauss quadrature weights τₖ (sum 1). */
    weights: Float64Array;
  }[];
  /** The width of the Gaussian kernel used (given, or the default). */
  sigma: number;
}

/**
 * Spectral density φ(t) = (1/P) Σᵢ δ(t − λᵢ) by stochastic Lanczos quadrature (Ubaru, Chen &
 * Saad 2017; Ghorbani, Krishnan & Xiao 2019). For a unit probe v = z/‖z‖,
 *   vᵀ f(A) v = Σᵢ (vᵀuᵢ)² f(λᵢ) ≈ Σₖ τₖ f(θₖ),
 * the m-point Gauss quadrature whose nodes θₖ are the Ritz values of m Lanczos steps from v
 * and whose weights τₖ are the squared first components of T's eigenvectors (Golub–Welsch).
 * Since E[(vᵀuᵢ)²] = 1/P, averaging over probes estimates φ; each δ is broadened to a
 * Gaussian N(θₖ, σ²) so the result is a smooth density with ∫φ = Σ τₖ = 1.
 */
export function spectralDensity(op: LinearOperator, options: SpectralDensityOptions): SpectralDensity {
  if (!Number.isInteger(options.probes) || options.probes < 1) throw new ValueError(`spectralDensity: probes must be an integer ≥ 1; got ${options.probes}`);
  const root = makeKey(options.seed);
  const nodes: SpectralDensity['nodes'] = [];
  for (let j = 0; j < options.probes; j++) {
    // Rademacher probes: ‖z‖² = P exactly, so the first quadrature moment Σ τθ = zᵀAz/P is Hutchinson's.
    const run = lanczosFor('spectralDensity', `probe ${j}, `, op, 1, { seed: options.seed, iterations: options.iterations, start: rademacher(op.size, foldIn(root, j)) });
    nodes.push({ values: run.ritzValues, weights: run.weights });
  }
  let lo = Infinity;
  let hi = -Infinity;
  for (const { values } of nodes) {
    lo = Math.min(lo, values[0]!);
    hi = Math.max(hi, values[values.length - 1]!);
  }
  const sigma = options.sigma ?? (hi > lo ? 0.01 * (hi - lo) : 1e-3);
  if (!(sigma > 0)) throw new ValueError(`spectralDensity: sigma must be > 0; got ${sigma}`);
  const gridOption = options.grid ?? 256;
  let grid: Float64Array;
  if (typeof gridOption === 'number') {
    if (!Number.isInteger(gridOption) || gridOption < 2) throw new ValueError(`spectralDensity: grid must be ≥ 2 points; got ${gridOption}`);
    const a = lo - 5 * sigma;
    const b = hi + 5 * sigma;
    grid = Float64Array.from({ length: gridOption }, (_, i) => a + ((b - a) * i) / (gridOption - 1));
  } else {
    grid = Float64Array.from(gridOption);
  }
  const density = new Float64Array(grid.length);
  const norm = 1 / (options.probes * sigma * Math.sqrt(2 * Math.PI));
  for (const { values, weights } of nodes) {
    for (let k = 0; k < values.length; k++) {
      for (let g = 0; g < grid.length; g++) {
        const u = (grid[g]! - values[k]!) / sigma;
        density[g]! += norm * weights[k]! * Math.exp(-0.5 * u * u);
      }
    }
  }
  return { grid, density, nodes, sigma };
}
