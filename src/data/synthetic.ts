/**
 * Seeded synthetic problems (docs/research.md §3–4). Every draw comes from the Threefry key of the
 * seed: stream k is foldIn(makeKey(seed), k) and element i of a stream uses counter i, so a
 * problem is a pure function of its options. Features are float64, sample ids are 0 … n−1.
 *
 * - quadraticSum: consistent least squares f_i(x) = ½(a_i·x − b_i)², b_i = a_i·x*, per-sample
 *   Hessians A_i = a_i a_iᵀ whose mean A = (1/n) Σ a_i a_iᵀ equals diag(eigenvalues) EXACTLY
 *   (up to rounding) for every heterogeneity; the heterogeneity knob spreads the row norms.
 * - diagonalLinear: data for f(x) = ⟨a ⊙ b, x⟩ with a k-sparse teacher w*.
 * - reluTeacher: a two-layer ReLU teacher y = Σ_j v_j relu(w_j·x) and its labels.
 * - gaussianMixture: classification with one isotropic Gaussian per class.
 */
import { ValueError } from '../tensor/errors.js';
import { foldIn, makeKey, normalFromBits, randomBits, uniform53, type Key } from '../tensor/random.js';
import type { Dataset, Sample } from './dataset.js';
import { keyedPermutation } from './split.js';

/** A dataset held in memory: features n × d (float64), one target per sample, id = position. */
export class ArrayDataset implements Dataset {
  /** Number of samples n (= targets.length). */
  readonly length: number;
  /** `[dim]`: each sample is a flat feature vector. */
  readonly sampleShape: readonly number[];

  /** Throws ValueError unless `features.length === targets.length · dim`. */
  constructor(
    /** Name used in messages (e.g. 'quadratic-sum'). */
    readonly name: string,
    /** All features, row-major n × dim: sample i is `features[i·dim, (i+1)·dim)`. */
    readonly features: Float64Array,
    /** One target per sample: a regression value, or a class index stored as a float. */
    readonly targets: Float64Array,
    /** Feature dimension d of one sample. */
    readonly dim: number,
    /** Number of classes (0 for regression). */
    readonly classes: number,
  ) {
    if (features.length !== targets.length * dim) throw new ValueError(`${name}: ${features.length} features for ${targets.length} samples of dimension ${dim}`);
    this.length = targets.length;
    this.sampleShape = [dim];
  }

  /**
   * Sample `index`: a float64 copy of its feature row (safe to modify), its target, and id =
   * index. Throws ValueError unless index is an integer in [0, length).
   */
  get(index: number): Sample {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) {
      throw new ValueError(`${this.name}.get: index ${index} out of range [0, ${this.length})`);
    }
    return { x: this.features.slice(index * this.dim, (index + 1) * this.dim), y: this.targets[index]!, id: index };
  }
}

function stream(seed: number, k: number): Key {
  return foldIn(makeKey(seed), k);
}

function normals(key: Key, count: number, scale = 1): Float64Array {
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const [w0, w1] = randomBits(key, i);
    out[i] = scale * normalFromBits(w0, w1);
  }
  return out;
}

function checkInt(op: string, name: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) throw new ValueError(`${op}: ${name} must be an integer ≥ ${min}; got ${v}`);
}

// ---- quadratic sums ----------------------------------------------------------------------

/** Options of {@link quadraticSum}. */
export interface QuadraticOptions {
  /** Number of samples (rows a_i), an integer ≥ d (the rows must span R^d). */
  n: number;
  /** Dimension of x, an integer ≥ 1. */
  d: number;
  /** Seed of the Threefry key every draw derives from; the same options give the same problem. */
  seed: number;
  /**
   * Row-norm heterogeneity h ≥ 0 (default 0): before whitening, row i is scaled by exp(h·z_i),
   * z_i standard normal; larger h gives more unequal ‖a_i‖ (so more unequal per-sample
   * curvatures Tr A_i = ‖a_i‖²) while the mean Hessian stays fixed.
   */
  heterogeneity?: number;
  /** Eigenvalues of the mean Hessian A = diag(eigenvalues) (default: geometric from 1 to 1/condition). */
  eigenvalues?: readonly number[];
  /** Condition number of the default spectrum (default 10). */
  condition?: number;
  /** The minimizer x* (default: standard normal, stream 3). */
  xStar?: readonly number[];
}

/**
 * A consistent least-squares problem F(x) = (1/n) Σ ½(a_i·x − b_i)² (Patel 2017's quadratic
 * sums with A_i = a_i a_iᵀ), built by {@link quadraticSum}: `features` are the rows a_i,
 * `targets` the b_i = a_i·x*, so F(x*) = 0 and every per-sample gradient vanishes at x*. It
 * is a regression dataset (classes 0) named 'quadratic-sum'.
 */
export class QuadraticProblem extends ArrayDataset {
  /** Wraps the rows and targets built by {@link quadraticSum}; use that function instead. */
  constructor(
    features: Float64Array,
    targets: Float64Array,
    dim: number,
    /** Eigenvalues of the mean Hessian A = diag(eigenvalues) = (1/n) Σ a_i a_iᵀ. */
    readonly eigenvalues: Float64Array,
    /** The common minimizer x* [d] of every f_i (interpolation: zero loss on every sample). */
    readonly xStar: Float64Array,
    /** The row-norm heterogeneity h the rows were drawn with (see QuadraticOptions). */
    readonly heterogeneity: number,
  ) {
    super('quadratic-sum', features, targets, dim, 0);
  }

  /** The target mean Hessian diag(eigenvalues), row-major d × d. */
  get meanHessian(): Float64Array {
    const d = this.dim;
    const h = new Float64Array(d * d);
    for (let j = 0; j < d; j++) h[j * d + j] = this.eigenvalues[j]!;
    return h;
  }

  /** (1/n) Σ a_i a_iᵀ computed from the rows (equals meanHessian up to rounding). */
  empiricalMeanHessian(): Float64Array {
    const d = this.dim;
    const h = new Float64Array(d * d);
    for (let i = 0; i < this.length; i++) {
      for (let p = 0; p < d; p++) {
        const ap = this.features[i * d + p]!;
        for (let q = 0; q < d; q++) h[p * d + q]! += ap * this.features[i * d + q]!;
      }
    }
    for (let k = 0; k < h.length; k++) h[k]! /= this.length;
    return h;
  }

  /** ‖a_i‖² for each row (the per-sample curvature Tr A_i). */
  rowNormsSquared(): Float64Array {
    const d = this.dim;
    const out = new Float64Array(this.length);
    for (let i = 0; i < this.length; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += this.features[i * d + j]! ** 2;
      out[i] = s;
    }
    return out;
  }

  /** Coefficient of variation (std / mean) of ‖a_i‖²: 0 for equal row norms. */
  rowNormCV(): number {
    const r = this.rowNormsSquared();
    let m = 0;
    for (const v of r) m += v;
    m /= r.length;
    let s = 0;
    for (const v of r) s += (v - m) ** 2;
    return Math.sqrt(s / r.length) / m;
  }
}

/**
 * Consistent least squares with a fixed mean Hessian: Z_i = exp(h·z_i)·g_i (g_i ~ N(0, I)),
 * M = (1/n) ZᵀZ = L Lᵀ (Cholesky), u_i = L⁻¹ Z_i so (1/n) Σ u_i u_iᵀ = I exactly, then
 * a_i = diag(√λ) u_i and b_i = a_i·x*. Needs n ≥ d.
 */
export function quadraticSum(options: QuadraticOptions): QuadraticProblem {
  const { n, d, seed } = options;
  checkInt('quadraticSum', 'd', d, 1);
  checkInt('quadraticSum', 'n', n, d);
  const h = options.heterogeneity ?? 0;
  if (!(h >= 0 && Number.isFinite(h))) throw new ValueError(`quadraticSum: heterogeneity must be ≥ 0; got ${h}`);
  const cond = options.condition ?? 10;
  const lambda = options.eigenvalues
    ? Float64Array.from(options.eigenvalues)
    : Float64Array.from({ length: d }, (_, j) => (d === 1 ? 1 : cond ** (-j / (d - 1))));
  if (lambda.length !== d || lambda.some((l) => !(l > 0))) throw new ValueError(`quadraticSum: need ${d} positive eigenvalues`);
  const z = normals(stream(seed, 1), n * d);
  const scales = normals(stream(seed, 2), n);
  for (let i = 0; i < n; i++) {
    const s = Math.exp(h * scales[i]!);
    for (let j = 0; j < d; j++) z[i * d + j]! *= s;
  }
  // M = (1/n) ZᵀZ and its Cholesky factor L (lower triangular).
  const m = new Float64Array(d * d);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < d; p++) {
      const zp = z[i * d + p]!;
      for (let q = 0; q <= p; q++) m[p * d + q]! += zp * z[i * d + q]!;
    }
  }
  const L = new Float64Array(d * d);
  for (let p = 0; p < d; p++) {
    for (let q = 0; q <= p; q++) {
      let s = m[p * d + q]! / n;
      for (let k = 0; k < q; k++) s -= L[p * d + k]! * L[q * d + k]!;
      if (p === q) {
        if (!(s > 0)) throw new ValueError('quadraticSum: rows are rank-deficient; increase n');
        L[p * d + p] = Math.sqrt(s);
      } else {
        L[p * d + q] = s / L[q * d + q]!;
      }
    }
  }
  const xStar = options.xStar ? Float64Array.from(options.xStar) : normals(stream(seed, 3), d);
  if (xStar.length !== d) throw new ValueError(`quadraticSum: xStar has ${xStar.length} entries, expected ${d}`);
  const a = new Float64Array(n * d);
  const b = new Float64Array(n);
  const u = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < d; p++) {
      let s = z[i * d + p]!;
      for (let k = 0; k < p; k++) s -= L[p * d + k]! * u[k]!;
      u[p] = s / L[p * d + p]!;
    }
    let dot = 0;
    for (let j = 0; j < d; j++) {
      const v = Math.sqrt(lambda[j]!) * u[j]!;
      a[i * d + j] = v;
      dot += v * xStar[j]!;
    }
    b[i] = dot;
  }
  return new QuadraticProblem(a, b, d, lambda, xStar, h);
}

// ---- diagonal linear network with a sparse teacher ---------------------------------------

/** Options of {@link diagonalLinear}. */
export interface DiagonalLinearOptions {
  /** Number of samples, an integer ≥ 1. */
  n: number;
  /** Input dimension, an integer ≥ 1. */
  d: number;
  /** Number of nonzero teacher entries (k ≤ d). */
  sparsity: number;
  /** Seed of the Threefry key every draw derives from; the same options give the same data. */
  seed: number;
  /** Standard deviation of additive label noise (default 0). */
  noise?: number;
  /** Magnitude of the nonzero teacher entries (default 1; signs random, stream 4). */
  scale?: number;
}

/**
 * A synthetic dataset together with the parameters of the model that generated it, built by
 * {@link diagonalLinear} ('diagonal-linear'), {@link reluTeacher} ('relu-teacher') or
 * {@link gaussianMixture} ('gaussian-mixture'), so an experiment can compare what it learns
 * with the truth.
 */
export class TeacherProblem extends ArrayDataset {
  /** Wraps generated data; see {@link ArrayDataset} for the arguments' layout. */
  constructor(
    name: string,
    features: Float64Array,
    targets: Float64Array,
    dim: number,
    /**
     * The generating parameters, flat float64 arrays keyed by name: `w` [d] and `support`
     * [k] (sorted indices) for diagonalLinear; `W` [hidden, d] row-major and `v` [hidden] for
     * reluTeacher; `means` [classes, d] row-major for gaussianMixture.
     */
    readonly teacher: Readonly<Record<string, Float64Array>>,
    classes = 0,
  ) {
    super(name, features, targets, dim, classes);
  }
}

/**
 * Data for a diagonal linear network f(x) = ⟨a ⊙ b, x⟩: x ~ N(0, I_d) (stream 1), a k-sparse
 * teacher w* (support: first k of a keyed permutation, stream 2; entries ±scale) and
 * y = ⟨w*, x⟩ + noise·ε (stream 3). `teacher.w` is w*, `teacher.support` its indices.
 */
export function diagonalLinear(options: DiagonalLinearOptions): TeacherProblem {
  const { n, d, sparsity: k, seed } = options;
  checkInt('diagonalLinear', 'n', n, 1);
  checkInt('diagonalLinear', 'd', d, 1);
  if (!Number.isInteger(k) || k < 0 || k > d) throw new ValueError(`diagonalLinear: sparsity must be an integer in [0, ${d}]; got ${k}`);
  const scale = options.scale ?? 1;
  const support = Float64Array.from(keyedPermutation(d, stream(seed, 2)).subarray(0, k)).sort();
  const w = new Float64Array(d);
  const signKey = stream(seed, 4);
  support.forEach((j, r) => {
    const [w0, w1] = randomBits(signKey, r);
    w[j] = uniform53(w0, w1) < 0.5 ? -scale : scale;
  });
  const x = normals(stream(seed, 1), n * d);
  const eps = normals(stream(seed, 3), n, options.noise ?? 0);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = eps[i]!;
    for (const j of support) s += w[j]! * x[i * d + j]!;
    y[i] = s;
  }
  return new TeacherProblem('diagonal-linear', x, y, d, { w, support });
}

// ---- two-layer ReLU teacher–student ------------------------------------------------------

/** Options of {@link reluTeacher}. */
export interface ReluTeacherOptions {
  /** Number of samples, an integer ≥ 1. */
  n: number;
  /** Input dimension, an integer ≥ 1. */
  d: number;
  /** Hidden width of the teacher, an integer ≥ 1. */
  hidden: number;
  /** Seed of the Threefry key every draw derives from; the same options give the same data. */
  seed: number;
  /** Standard deviation of additive label noise (default 0). */
  noise?: number;
}

/**
 * Two-layer ReLU teacher y = Σ_j v_j·relu(w_j·x) + noise·ε: x ~ N(0, I_d) (stream 1),
 * W [hidden, d] with entries N(0, 1/d) (stream 2), v [hidden] with entries N(0, 1/hidden)
 * (stream 4), ε stream 3. `teacher.W` (row-major) and `teacher.v` are the teacher's weights.
 */
export function reluTeacher(options: ReluTeacherOptions): TeacherProblem {
  const { n, d, hidden, seed } = options;
  checkInt('reluTeacher', 'n', n, 1);
  checkInt('reluTeacher', 'd', d, 1);
  checkInt('reluTeacher', 'hidden', hidden, 1);
  const x = normals(stream(seed, 1), n * d);
  const W = normals(stream(seed, 2), hidden * d, 1 / Math.sqrt(d));
  const v = normals(stream(seed, 4), hidden, 1 / Math.sqrt(hidden));
  const eps = normals(stream(seed, 3), n, options.noise ?? 0);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) y[i] = reluTeacherOutput(W, v, x.subarray(i * d, (i + 1) * d)) + eps[i]!;
  return new TeacherProblem('relu-teacher', x, y, d, { W, v });
}

/** The teacher's output Σ_j v_j·relu(w_j·x) for one input. */
export function reluTeacherOutput(W: Float64Array, v: Float64Array, x: ArrayLike<number>): number {
  const d = x.length;
  let y = 0;
  for (let j = 0; j < v.length; j++) {
    let pre = 0;
    for (let q = 0; q < d; q++) pre += W[j * d + q]! * x[q]!;
    if (pre > 0) y += v[j]! * pre;
  }
  return y;
}

// ---- Gaussian mixtures -------------------------------------------------------------------

/** Options of {@link gaussianMixture}. */
export interface GaussianMixtureOptions {
  /** Number of samples, an integer ≥ 1. */
  n: number;
  /** Input dimension, an integer ≥ 1. */
  d: number;
  /** Number of classes (one Gaussian each), an integer ≥ 2. */
  classes: number;
  /** Seed of the Threefry key every draw derives from; the same options give the same data. */
  seed: number;
  /** Norm of each class mean (default 3). */
  separation?: number;
  /** Within-class standard deviation per coordinate (default 1). */
  std?: number;
}

/**
 * Classification: class means μ_c = separation·(unit vector, stream 2), labels uniform
 * (stream 4), x_i = μ_{y_i} + std·N(0, I) (stream 1). `teacher.means` is [classes, d].
 */
export function gaussianMixture(options: GaussianMixtureOptions): TeacherProblem {
  const { n, d, classes, seed } = options;
  checkInt('gaussianMixture', 'n', n, 1);
  checkInt('gaussianMixture', 'd', d, 1);
  checkInt('gaussianMixture', 'classes', classes, 2);
  const sep = options.separation ?? 3;
  const std = options.std ?? 1;
  const means = normals(stream(seed, 2), classes * d);
  for (let c = 0; c < classes; c++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += means[c * d + j]! ** 2;
    const f = sep / Math.sqrt(s);
    for (let j = 0; j < d; j++) means[c * d + j]! *= f;
  }
  const labelKey = stream(seed, 4);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const [w0, w1] = randomBits(labelKey, i);
    y[i] = Math.floor(uniform53(w0, w1) * classes);
  }
  const x = normals(stream(seed, 1), n * d, std);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) x[i * d + j]! += means[y[i]! * d + j]!;
  return new TeacherProblem('gaussian-mixture', x, y, d, { means }, classes);
}
