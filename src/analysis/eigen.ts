/**
 * Dense symmetric eigenvalues in float64, for the full Hessian of a small model (P ≲ 300) and
 * for the tridiagonal matrices Lanczos builds.
 *
 * Two classical steps (Golub & Van Loan §8.3):
 * 1. Householder tridiagonalisation  A = Q T Qᵀ, T tridiagonal, in (4/3)·n³ flops;
 * 2. implicit QL with Wilkinson-style shifts on T, O(n²) overall.
 * Both are backward stable: the computed eigenvalues are exact for A + E with ‖E‖ ≈ ε·‖A‖,
 * so each eigenvalue is accurate to a few ε·‖A‖ (Weyl) — about 1e-14 relative to the
 * spectral norm, far below the 1e-10 the curvature measurements need.
 */
import { ShapeError, ValueError } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';

/** Eigen-decomposition of a symmetric tridiagonal matrix (ascending), with optional first components. */
export interface TridiagonalEigen {
  /** Eigenvalues, ascending. */
  values: Float64Array;
  /** First component of each (unit) eigenvector, in the order of `values`; the Gauss quadrature weights are their squares. */
  firstComponents: Float64Array;
}

/**
 * All eigenvalues of a symmetric matrix, ascending, in float64.
 * The input is symmetrised, (A + Aᵀ)/2, so a Hessian assembled from HVPs need not be exactly symmetric.
 * @example symmetricEigenvalues(tensor([[2, 1], [1, 2]])) // Float64Array [1, 3]
 */
export function symmetricEigenvalues(A: Tensor | readonly (readonly number[])[]): Float64Array {
  const { n, a } = denseSymmetric(A);
  const { diagonal, offDiagonal } = householderTridiagonal(a, n);
  return tridiagonalEigen(diagonal, offDiagonal).values;
}

/** A row-major float64 copy of a square matrix, symmetrised. */
function denseSymmetric(A: Tensor | readonly (readonly number[])[]): { n: number; a: Float64Array } {
  let n: number;
  let flat: ArrayLike<number>;
  if (Array.isArray(A)) {
    n = A.length;
    for (const row of A) {
      if (row.length !== n) throw new ShapeError(`symmetricEigenvalues: expected a square matrix; got a row of ${row.length} in a ${n}-row matrix`);
    }
    flat = (A as number[][]).flat();
  } else {
    const t = A as Tensor;
    if (t.rank !== 2 || t.shape[0] !== t.shape[1]) throw new ShapeError(`symmetricEigenvalues: expected a square matrix; got shape [${t.shape}]`);
    n = t.shape[0]!;
    flat = t.toTypedArray();
  }
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const v = 0.5 * (flat[i * n + j]! + flat[j * n + i]!);
      if (!Number.isFinite(v)) throw new ValueError(`symmetricEigenvalues: entry (${i}, ${j}) is not finite (${v})`);
      a[i * n + j] = v;
    }
  }
  return { n, a };
}

/**
 * Householder reduction of a symmetric matrix to tridiagonal form (destroys `a`).
 *
 * Step k zeroes column k below the subdiagonal with H = I − 2vvᵀ acting on rows/columns k+1…:
 * with x = A[k+1:, k], H x = α e₁, α = −sign(x₀)‖x‖ (the sign avoids cancellation in v = x − αe₁).
 * The trailing block is updated as A ← HAH = A − v wᵀ − w vᵀ, where p = 2Av and
 * w = p − (vᵀp) v — a rank-2 update, so each step costs O(m²) instead of O(m³).
 */
function householderTridiagonal(a: Float64Array, n: number): { diagonal: Float64Array; offDiagonal: Float64Array } {
  const diagonal = new Float64Array(n);
  const offDiagonal = new Float64Array(Math.max(n - 1, 0));
  const v = new Float64Array(n);
  const p = new Float64Array(n);
  for (let k = 0; k < n - 2; k++) {
    const s = k + 1; // first row of the trailing block
    let norm = 0;
    for (let i = s; i < n; i++) norm = Math.hypot(norm, a[i * n + k]!);
    const x0 = a[s * n + k]!;
    const alpha = x0 > 0 ? -norm : norm;
    diagonal[k] = a[k * n + k]!;
    offDiagonal[k] = alpha;
    // v = (x − αe₁)/‖x − αe₁‖; if x is already a multiple of e₁ there is nothing to do.
    let vNorm = 0;
    for (let i = s; i < n; i++) {
      v[i] = a[i * n + k]! - (i === s ? alpha : 0);
      vNorm = Math.hypot(vNorm, v[i]!);
    }
    if (vNorm === 0) continue;
    for (let i = s; i < n; i++) v[i]! /= vNorm;
    // p = 2·A22·v and K = vᵀp.
    let K = 0;
    for (let i = s; i < n; i++) {
      let sum = 0;
      for (let j = s; j < n; j++) sum += a[i * n + j]! * v[j]!;
      p[i] = 2 * sum;
      K += v[i]! * p[i]!;
    }
    // w = p − K·v (stored in p), then A22 −= v wᵀ + w vᵀ.
    for (let i = s; i < n; i++) p[i]! -= K * v[i]!;
    for (let i = s; i < n; i++) {
      for (let j = s; j < n; j++) a[i * n + j]! -= v[i]! * p[j]! + p[i]! * v[j]!;
    }
  }
  if (n >= 2) {
    diagonal[n - 2] = a[(n - 2) * n + (n - 2)]!;
    offDiagonal[n - 2] = a[(n - 1) * n + (n - 2)]!;
  }
  if (n >= 1) diagonal[n - 1] = a[(n - 1) * n + (n - 1)]!;
  return { diagonal, offDiagonal };
}

/**
 * Eigenvalues (ascending) and eigenvector first components of the symmetric tridiagonal
 * matrix with `diagonal` d (n) and `offDiagonal` e (n − 1), by the implicit QL algorithm.
 *
 * Each sweep chases a bulge up the unreduced block [l, m] with Givens rotations, shifted by the
 * eigenvalue of the leading 2×2 block closest to d[l] (Wilkinson's shift: cubic convergence in
 * practice). A sub-diagonal entry is declared zero when |e[m]| ≤ ε(|d[m]| + |d[m+1]|).
 * Only the first row of the accumulated rotations is kept: that is all Gauss quadrature
 * (Golub–Welsch) needs, and it keeps the cost O(n²).
 */
export function tridiagonalEigen(diagonal: ArrayLike<number>, offDiagonal: ArrayLike<number>): TridiagonalEigen {
  const n = diagonal.length;
  if (offDiagonal.length < n - 1) throw new ShapeError(`tridiagonalEigen: ${n} diagonal entries need ${n - 1} off-diagonal entries; got ${offDiagonal.length}`);
  // QL cannot converge on NaN/±∞; that is the caller's input, not a convergence failure of ours.
  for (const [name, values, count] of [['diagonal', diagonal, n], ['off-diagonal', offDiagonal, n - 1]] as const) {
    for (let i = 0; i < count; i++) {
      if (!Number.isFinite(values[i]!)) throw new ValueError(`tridiagonalEigen: the ${name} must be finite; entry ${i} is ${values[i]}`);
    }
  }
  const d = Float64Array.from(diagonal);
  const e = new Float64Array(n); // e[i] couples i and i+1; e[n−1] = 0 is a sentinel
  for (let i = 0; i < n - 1; i++) e[i] = offDiagonal[i]!;
  const z = new Float64Array(n); // first row of the eigenvector matrix
  if (n > 0) z[0] = 1;
  const EPS = Number.EPSILON;
  for (let l = 0; l < n; l++) {
    let iterations = 0;
    for (;;) {
      // Find the first negligible sub-diagonal entry at or after l.
      let m = l;
      for (; m < n - 1; m++) {
        if (Math.abs(e[m]!) <= EPS * (Math.abs(d[m]!) + Math.abs(d[m + 1]!))) break;
      }
      if (m === l) break; // d[l] has converged
      if (++iterations > 60) throw new ValueError(`tridiagonalEigen: internal: QL did not converge for eigenvalue ${l} of ${n}`);
      // Shift: the eigenvalue of the leading 2×2 block nearer to d[l].
      let g = (d[l + 1]! - d[l]!) / (2 * e[l]!);
      let r = Math.hypot(g, 1);
      g = d[m]! - d[l]! + e[l]! / (g + (g >= 0 ? r : -r));
      let s = 1;
      let c = 1;
      let p = 0;
      let i = m - 1;
      let underflow = false;
      for (; i >= l; i--) {
        const f = s * e[i]!;
        const b = c * e[i]!;
        r = Math.hypot(f, g);
        e[i + 1] = r;
        if (r === 0) {
          // The rotation degenerated: deflate and restart this block.
          d[i + 1]! -= p;
          e[m] = 0;
          underflow = true;
          break;
        }
        s = f / r;
        c = g / r;
        g = d[i + 1]! - p;
        r = (d[i]! - g) * s + 2 * c * b;
        p = s * r;
        d[i + 1] = g + p;
        g = c * r - b;
        // Apply the same rotation to the first row of the eigenvector matrix.
        const zi1 = z[i + 1]!;
        z[i + 1] = s * z[i]! + c * zi1;
        z[i] = c * z[i]! - s * zi1;
      }
      if (underflow) continue;
      d[l]! -= p;
      e[l] = g;
      e[m] = 0;
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => d[i]! - d[j]!);
  return { values: Float64Array.from(order, (i) => d[i]!), firstComponents: Float64Array.from(order, (i) => z[i]!) };
}
