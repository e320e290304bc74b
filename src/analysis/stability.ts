/**
 * Linear stability of SGD at a minimum (Patel 2017; Wu & Su 2023; docs/research.md §3–4).
 *
 * Problem: a quadratic sum fᵢ(x) = ½ (x − x*)ᵀ Hᵢ (x − x*), H = (1/n) Σ Hᵢ, or SGD linearized
 * at an interpolating minimum of the square loss (Hᵢ = jᵢ jᵢᵀ, jᵢ = ∇_θ f(xᵢ)). The SGD error
 * with batch I of size S is e_{k+1} = (I − η H_I) e_k, H_I = (1/S) Σ_{i∈I} Hᵢ.
 *
 * Two notions of stability, named wherever they are used:
 * - MEAN-SQUARE: P_k = E[e_k e_kᵀ] evolves by the linear operator
 *     T(P) = P − η(HP + PH) + η²[(1 − c) HPH + c·(1/n) Σ Hᵢ P Hᵢ],
 *     c = 1/S (with replacement) or (n − S)/(S(n − 1)) (without replacement),
 *   and SGD is mean-square stable iff ρ(T) ≤ 1.
 *   T = (1 − c)·C_H + c·(1/n) Σ C_{Hᵢ} with C_M(P) = (I − ηM) P (I − ηM): a positive map and
 *   self-adjoint for the Frobenius inner product, so on symmetric matrices it is a symmetric
 *   operator whose spectral radius is its largest eigenvalue (attained on the PSD cone). We
 *   form it in an orthonormal basis of symmetric d × d matrices (dimension d(d+1)/2) and take
 *   its eigenvalues exactly with a small Jacobi solver (gram.ts).
 * - ALMOST-SURE: the top Lyapunov exponent lim (1/k) log ‖e_k‖ of one trajectory (< 0: the
 *   iterates converge with probability 1). Mean-square stability implies almost-sure
 *   stability, not conversely: the almost-sure threshold in η is at least the mean-square one.
 */
import { ShapeError, ValueError } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { uniformStream } from '../tensor/random.js';
import { checkOperatorOutput } from './apply-operator.js';
import { smallSymmetricEigenvalues } from './gram.js';

/** n symmetric d × d matrices Hᵢ (row-major), the per-sample Hessians of a quadratic sum. */
export interface QuadraticProblem {
  /** Dimension d of the parameter space (each Hᵢ is d × d). */
  d: number;
  /** The n matrices Hᵢ, each d·d entries, row-major and symmetric. */
  parts: Float64Array[];
}

/** How SGD draws a batch of size S from the n samples: independently (with replacement) or as S distinct samples. */
export type Sampling = 'with-replacement' | 'without-replacement';

/** The batch sampling scheme, which fixes the coefficient c of T (samplingCoefficient). */
export interface SamplingOptions {
  /** With or without replacement; required (the two give different thresholds). */
  sampling: Sampling;
}

/** A QuadraticProblem from nested arrays Hᵢ[d][d] (checked square and symmetric). */
export function quadraticProblem(parts: readonly (readonly (readonly number[])[])[]): QuadraticProblem {
  if (parts.length === 0) throw new ValueError('quadraticProblem: need at least one Hᵢ; got none');
  const d = parts[0]!.length;
  const flat = parts.map((h, i) => {
    if (h.length !== d || h.some((row) => row.length !== d)) throw new ShapeError(`quadraticProblem: H${i} must be ${d}×${d}`);
    const a = Float64Array.from(h.flat());
    for (let r = 0; r < d; r++) {
      for (let s = 0; s < r; s++) {
        if (Math.abs(a[r * d + s]! - a[s * d + r]!) > 1e-12 * (1 + Math.abs(a[r * d + s]!))) {
          throw new ValueError(`quadraticProblem: H${i} is not symmetric at (${r}, ${s})`);
        }
      }
    }
    return a;
  });
  return { d, parts: flat };
}

/**
 * SGD linearized at an interpolating minimum of ½·mean (f − y)²: Hᵢ = jᵢ jᵢᵀ from the rows of J
 * ([n, P], e.g. outputJacobian), restricted to the span of the rows (dimension r ≤ n): every
 * Hᵢ vanishes on its orthogonal complement, where SGD does not move. Coordinates come from an
 * orthonormal basis Q of the row span (modified Gram–Schmidt, twice), so Hᵢ ↦ (Qᵀjᵢ)(Qᵀjᵢ)ᵀ.
 */
export function linearizedProblem(jacobian: Tensor): QuadraticProblem {
  if (jacobian.rank !== 2) throw new ShapeError(`linearizedProblem: J must be [n, P]; got shape [${jacobian.shape}]`);
  const [n, P] = jacobian.shape as [number, number];
  const J = Float64Array.from(jacobian.contiguous().toTypedArray());
  const rows = Array.from({ length: n }, (_, i) => J.subarray(i * P, (i + 1) * P));
  const basis: Float64Array[] = [];
  const largest = Math.max(...rows.map((r) => Math.sqrt(dot(r, r))));
  for (const row of rows) {
    const v = Float64Array.from(row);
    for (let pass = 0; pass < 2; pass++) {
      for (const q of basis) {
        const proj = dot(v, q);
        for (let j = 0; j < P; j++) v[j] -= proj * q[j]!;
      }
    }
    const norm = Math.sqrt(dot(v, v));
    if (norm > 1e-10 * largest) basis.push(v.map((x) => x / norm));
  }
  const d = basis.length;
  if (d === 0) throw new ValueError('linearizedProblem: every row of J is zero');
  const parts = rows.map((row) => {
    const c = basis.map((q) => dot(row, q));
    const h = new Float64Array(d * d);
    for (let r = 0; r < d; r++) for (let s = 0; s < d; s++) h[r * d + s] = c[r]! * c[s]!;
    return h;
  });
  return { d, parts };
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += a[j]! * b[j]!;
  return s;
}

/** C = A·B for d × d row-major matrices. */
function matmul(a: Float64Array, b: Float64Array, d: number): Float64Array {
  const c = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let k = 0; k < d; k++) {
      const aik = a[i * d + k]!;
      if (aik === 0) continue;
      for (let j = 0; j < d; j++) c[i * d + j] += aik * b[k * d + j]!;
    }
  }
  return c;
}

/** H = (1/n) Σ Hᵢ. */
export function meanHessian(problem: QuadraticProblem): Float64Array {
  const { d, parts } = problem;
  const h = new Float64Array(d * d);
  for (const p of parts) for (let j = 0; j < d * d; j++) h[j] += p[j]! / parts.length;
  return h;
}

/** c of T: 1/S with replacement, (n − S)/(S(n − 1)) without (0 at S = n: gradient descent). */
export function samplingCoefficient(n: number, S: number, sampling: Sampling): number {
  if (!Number.isInteger(S) || S < 1) throw new ValueError(`samplingCoefficient: batch size must be an integer ≥ 1; got ${S}`);
  if (sampling === 'with-replacement') return 1 / S;
  if (sampling !== 'without-replacement') throw new ValueError(`samplingCoefficient: sampling must be 'with-replacement' or 'without-replacement'; got '${String(sampling)}'`);
  if (S > n) throw new ValueError(`samplingCoefficient: without replacement the batch size must be ≤ n = ${n}; got ${S}`);
  return n === 1 ? 0 : (n - S) / (S * (n - 1));
}

/** The mean-square operator T of the file comment, P ↦ T(P) on d × d matrices. */
export interface SecondMomentOperator {
  /** Dimension d: T acts on d × d matrices. */
  d: number;
  /** T(P) for a d × d row-major matrix P (a new array; P is not modified). */
  apply(P: Float64Array): Float64Array;
}

/**
 * The mean-square operator T of SGD with step `eta` and batch size S on `problem`: the linear
 * map P_k ↦ P_{k+1} of the second moment E[e_k e_kᵀ] (file comment). Throws ValueError for a
 * bad batch size or sampling scheme.
 */
export function secondMomentOperator(problem: QuadraticProblem, eta: number, S: number, options: SamplingOptions): SecondMomentOperator {
  const { d, parts } = problem;
  const c = samplingCoefficient(parts.length, S, options.sampling);
  const H = meanHessian(problem);
  return {
    d,
    apply(P: Float64Array): Float64Array {
      const HP = matmul(H, P, d);
      const PH = matmul(P, H, d);
      const HPH = matmul(HP, H, d);
      const mixed = new Float64Array(d * d);
      if (c !== 0) {
        for (const Hi of parts) {
          const term = matmul(matmul(Hi, P, d), Hi, d);
          for (let j = 0; j < d * d; j++) mixed[j] += term[j]! / parts.length;
        }
      }
      const out = new Float64Array(d * d);
      for (let j = 0; j < d * d; j++) {
        out[j] = P[j]! - eta * (HP[j]! + PH[j]!) + eta * eta * ((1 - c) * HPH[j]! + c * mixed[j]!);
      }
      return out;
    },
  };
}

/**
 * T as a symmetric m × m matrix, m = d(d+1)/2, in the orthonormal basis {E_rr} ∪
 * {(E_rs + E_sr)/√2, r < s} of symmetric matrices (Frobenius inner product).
 */
export function secondMomentMatrix(T: SecondMomentOperator): {
  /** m = d(d+1)/2, the dimension of the space of symmetric d × d matrices. */
  m: number;
  /** T's m × m matrix, row-major and symmetric. */
  matrix: Float64Array;
} {
  const { d } = T;
  const basis: Float64Array[] = [];
  for (let r = 0; r < d; r++) {
    for (let s = r; s < d; s++) {
      const b = new Float64Array(d * d);
      const v = r === s ? 1 : Math.SQRT1_2;
      b[r * d + s] = v;
      b[s * d + r] = v;
      basis.push(b);
    }
  }
  const m = basis.length;
  const matrix = new Float64Array(m * m);
  basis.forEach((bk, k) => {
    const image = T.apply(bk);
    checkOperatorOutput('secondMomentMatrix', `basis matrix ${k}`, image, 'the per-sample Hessians or the learning rate give a non-finite T(P) (non-finite entries, or η so large that T overflows)');
    basis.forEach((bl, l) => (matrix[l * m + k] = dot(bl, image)));
  });
  return { m, matrix };
}

/** ρ(T), exactly (up to rounding) from the eigenvalues of the symmetric matrix of T. */
export function spectralRadius(T: SecondMomentOperator): number {
  const { m, matrix } = secondMomentMatrix(T);
  const eig = smallSymmetricEigenvalues(matrix, m);
  return Math.max(Math.abs(eig[0]!), Math.abs(eig[m - 1]!));
}

/** λ_max(H) of the mean Hessian. */
export function lambdaMax(problem: QuadraticProblem): number {
  const eig = smallSymmetricEigenvalues(meanHessian(problem), problem.d);
  return eig[problem.d - 1]!;
}

/**
 * MEAN-SQUARE divergence threshold η*(S) = sup{η : ρ(T_η) ≤ 1}, by bisection on
 * [0, 2/λ_max(H)] (mean-square stability implies stability of the mean, which needs
 * η ≤ 2/λ_max(H); the stable set is an interval because ⟨P, T_η P⟩ = ‖P‖² − η a(P) + η² b(P)
 * with a, b ≥ 0 for PSD P). As S → n without replacement, η* → 2/λ_max(H).
 */
export function meanSquareThreshold(
  problem: QuadraticProblem,
  S: number,
  options: SamplingOptions & { tolerance?: number },
): number {
  const { tolerance = 1e-10 } = options;
  const top = lambdaMax(problem);
  if (!(top > 0)) throw new ValueError(`meanSquareThreshold: the mean Hessian must have a positive eigenvalue; got λ_max = ${top}`);
  const stable = (eta: number) => spectralRadius(secondMomentOperator(problem, eta, S, options)) <= 1 + 1e-12;
  let lo = 0;
  let hi = 2 / top;
  if (stable(hi)) return hi;
  while (hi - lo > tolerance * hi) {
    const mid = 0.5 * (lo + hi);
    if (stable(mid)) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi);
}

// ---- simulation --------------------------------------------------------------------------


/** Indices of one batch of size S. */
function drawBatch(n: number, S: number, sampling: Sampling, random: () => number): number[] {
  if (sampling === 'with-replacement') return Array.from({ length: S }, () => Math.floor(random() * n));
  // Partial Fisher–Yates: the first S entries of a random permutation.
  const idx = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < S; i++) {
    const j = i + Math.floor(random() * (n - i));
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  return idx.slice(0, S);
}

/** e ← (I − η H_I) e for one batch I. */
function sgdStep(problem: QuadraticProblem, eta: number, batch: number[], e: Float64Array): Float64Array {
  const { d, parts } = problem;
  const out = Float64Array.from(e);
  for (const i of batch) {
    const h = parts[i]!;
    for (let r = 0; r < d; r++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += h[r * d + k]! * e[k]!;
      out[r] -= (eta / batch.length) * s;
    }
  }
  return out;
}

/** Options of the SGD error simulations (lyapunovExponent, simulateSecondMoment). */
export interface SimulationOptions extends SamplingOptions {
  /** Seed of the batch draws and the random start: the same seed gives the same trajectories. */
  seed: number;
  /** Number k of SGD steps per trajectory, an integer ≥ 1. */
  steps: number;
}

function checkSimulation(op: string, problem: QuadraticProblem, S: number, options: SimulationOptions): void {
  if (!Number.isInteger(options.steps) || options.steps < 1) throw new ValueError(`${op}: steps must be an integer ≥ 1; got ${options.steps}`);
  samplingCoefficient(problem.parts.length, S, options.sampling);
}

/**
 * ALMOST-SURE stability: the top Lyapunov exponent (1/k) log ‖e_k‖ of one seeded SGD error
 * trajectory from a random unit start (renormalized each step, so it never overflows).
 * Negative: the trajectory converges; positive: it diverges.
 */
export function lyapunovExponent(problem: QuadraticProblem, eta: number, S: number, options: SimulationOptions): number {
  checkSimulation('lyapunovExponent', problem, S, options);
  const random = uniformStream(options.seed);
  let e: Float64Array = Float64Array.from({ length: problem.d }, () => random() - 0.5);
  const startNorm = Math.sqrt(dot(e, e));
  e = e.map((v) => v / startNorm);
  let logGrowth = 0;
  for (let k = 0; k < options.steps; k++) {
    e = sgdStep(problem, eta, drawBatch(problem.parts.length, S, options.sampling, random), e);
    const norm = Math.sqrt(dot(e, e));
    if (norm === 0) return -Infinity;
    logGrowth += Math.log(norm);
    e = e.map((v) => v / norm);
  }
  return logGrowth / options.steps;
}

/**
 * MEAN-SQUARE behaviour by Monte Carlo: (1/k) log of the average of ‖e_k‖² over `trials`
 * seeded trajectories from e₀ = the all-ones direction, unit norm. For a large number of
 * trials this approaches log ρ(T) from below (rare large trajectories dominate the mean).
 */
export function simulateSecondMoment(
  problem: QuadraticProblem,
  eta: number,
  S: number,
  options: SimulationOptions & { trials: number },
): {
  /** (1/k) log E‖e_k‖², k = steps: compare with log ρ(T) (< 0: mean-square stable). */
  growthRate: number;
  /** E‖e_k‖² over the trials, from unit-norm starts (may overflow to ∞ when divergent). */
  meanSquaredNorm: number;
} {
  checkSimulation('simulateSecondMoment', problem, S, options);
  const random = uniformStream(options.seed);
  const start = new Float64Array(problem.d).fill(1 / Math.sqrt(problem.d));
  // Accumulate in log space: ‖e_k‖² over trials can span hundreds of orders of magnitude.
  const logs: number[] = [];
  for (let t = 0; t < options.trials; t++) {
    let e: Float64Array = start;
    let logNorm2 = 0;
    for (let k = 0; k < options.steps; k++) {
      e = sgdStep(problem, eta, drawBatch(problem.parts.length, S, options.sampling, random), e);
      const n2 = dot(e, e);
      if (n2 === 0) {
        logNorm2 = -Infinity;
        break;
      }
      logNorm2 += Math.log(n2);
      e = e.map((v) => v / Math.sqrt(n2));
    }
    logs.push(logNorm2);
  }
  const top = Math.max(...logs);
  const logMean = top === -Infinity ? -Infinity : top + Math.log(logs.reduce((s, l) => s + Math.exp(l - top), 0) / logs.length);
  return { growthRate: logMean / options.steps, meanSquaredNorm: Math.exp(logMean) };
}

// ---- Wu & Su's bounds --------------------------------------------------------------------

/** Which of Wu & Su's (2023) linear-stability conditions a minimum satisfies at a learning rate η. */
export interface StabilityBounds {
  /** GD linear stability: λ_max ≤ 2/η. */
  gd: boolean;
  /** SGD batch-1 necessary condition: Tr ≤ 2/η. */
  sgdBatch1: boolean;
  /** SGD batch-B (loosened) condition: Tr ≤ 2B/η. */
  sgdBatchB: boolean;
}

/** The three stability conditions of Wu & Su 2023 for a minimum with λ_max(G) and Tr G. */
export function stabilityBounds(spectrum: { lambdaMax: number; trace: number }, eta: number, batchSize = 1): StabilityBounds {
  if (!(eta > 0)) throw new ValueError(`stabilityBounds: the learning rate must be > 0; got ${eta}`);
  return {
    gd: spectrum.lambdaMax <= 2 / eta,
    sgdBatch1: spectrum.trace <= 2 / eta,
    sgdBatchB: spectrum.trace <= (2 * batchSize) / eta,
  };
}
