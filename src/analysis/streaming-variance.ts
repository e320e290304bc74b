/**
 * Per-step variance of the mega-batch SVRG estimators (streaming SVRG, SCSG; docs/research.md §1,
 * Defazio & Bottou 2019 §6, Fig. 4), from per-sample gradient rows at w and at the snapshot w̃.
 *
 * The step direction after a mega-batch M (|M| = B) is
 *
 *   v = g_S(w) − g_S(w̃) + g_M(w̃),     |S| = b,
 *
 * with S and M drawn uniformly without replacement from the N training samples. Unlike the
 * full-data SVRG of gradient-stats.ts, the snapshot gradient g̃ = g_M(w̃) is itself random, and
 * its randomness is what the paper's Fig. 4 shows at the first inner step. With dᵢ = gᵢ(w) − gᵢ(w̃),
 * aᵢ = gᵢ(w̃), and the population (co)variances over the data
 *
 *   V(x) = (1/N) Σ ‖xᵢ − x̄‖²,   C(d, a) = (1/N) Σ ⟨dᵢ − d̄, aᵢ − ā⟩,
 *
 * the variance of the mean of k samples drawn without replacement is f(N, k)·V with
 * f(N, k) = (N − k) / (k (N − 1)). Hence
 *
 *   SGD:                       Var(g_S(w))  = f(N, b) · V(g(w))
 *   S independent of M:        Var(v)       = f(N, b) · V(d) + f(N, B) · V(a)
 *   S ⊂ M (SCSG, ref. code):   Var(v)       = f(N, b) · V(d) + f(N, B) · V(a) + 2 f(N, B) · C(d, a)
 *
 * (the cross term: given M, g_M(w̃) is fixed and E[g_S(w) − g_S(w̃) | M] = mean over M of d, so
 * Cov = Cov(mean_M d, mean_M a) = f(N, B)·C). At the first inner step w = w̃, d ≡ 0, and the ratio
 * to SGD is exactly f(N, B)/f(N, b) = (b/B)·(N − B)/(N − b) ≈ b/B.
 *
 * The rows are a sample of the data (e.g. a fixed random subset of the training set) standing
 * in for the population; N is the size of the set S and M are drawn from.
 */
import { ShapeError, ValueError } from '../tensor/errors.js';
import { Tensor } from '../tensor/tensor.js';

/** Variance of the mean of k of N values drawn without replacement, per unit population variance. */
export function meanVarianceFactor(N: number, k: number): number {
  if (!(Number.isInteger(N) && Number.isInteger(k) && k >= 1 && k <= N)) {
    throw new ValueError(`meanVarianceFactor: need integers 1 ≤ k ≤ N; got N = ${N}, k = ${k}`);
  }
  return N === 1 ? 0 : (N - k) / (k * (N - 1));
}

/** The sampling setup of streamingStepVariance: population size, batch sizes (b ≤ B ≤ N), and how S is drawn. */
export interface StreamingStepOptions {
  /** Size of the training set S and M are drawn from. */
  N: number;
  /** Minibatch size b = |S|. */
  b: number;
  /** Mega-batch size B = |M|, which estimates the snapshot gradient. */
  B: number;
  /** Inner minibatches drawn from the mega-batch (SCSG reference code) rather than independently. */
  innerFromMegaBatch: boolean;
}

/** The per-step variances of SGD and of the streaming (mega-batch) SVRG direction (file comment). */
export interface StreamingStepVariance {
  /** V(g(w)): population variance of the rows at w. */
  vAtW: number;
  /** V(a) = V(g(w̃)): population variance of the rows at the snapshot. */
  vAtSnapshot: number;
  /** V(d) = V(g(w) − g(w̃)). */
  vDifference: number;
  /** C(d, a) = (1/N) Σ ⟨dᵢ − d̄, aᵢ − ā⟩. */
  covariance: number;
  /** f(N, b)·V(g(w)): the variance of the SGD minibatch direction. */
  vSgd: number;
  /** Var(v) of the streaming direction: inner + mega + cross. */
  vStreaming: number;
  /** The inner part of vStreaming, f(N, b)·V(d). */
  inner: number;
  /** The mega-batch part of vStreaming, f(N, B)·V(a). */
  mega: number;
  /** The cross part of vStreaming, 2f(N, B)·C(d, a) when S ⊂ M, 0 when S is independent of M. */
  cross: number;
  /** vStreaming / vSgd. */
  ratio: number;
}

function rowArrays(rows: Tensor, op: string): { n: number; P: number; data: Float64Array } {
  if (rows.rank !== 2) throw new ShapeError(`${op}: rows must be an [n, P] tensor; got shape [${rows.shape}]`);
  const [n, P] = rows.shape as [number, number];
  if (n < 1) throw new ValueError(`${op}: need at least one row; got none`);
  return { n, P, data: Float64Array.from(rows.contiguous().toTypedArray()) };
}

/**
 * The variances above from per-sample gradient rows [n, P] at w and at w̃ (same samples, same order).
 * @example streamingStepVariance(gradientRows(model, batch, w, o), gradientRows(model, batch, wTilde, o), { N: 2048, b: 16, B: 160, innerFromMegaBatch: false })
 */
export function streamingStepVariance(rowsAtW: Tensor, rowsAtSnapshot: Tensor, options: StreamingStepOptions): StreamingStepVariance {
  const g = rowArrays(rowsAtW, 'streamingStepVariance');
  const a = rowArrays(rowsAtSnapshot, 'streamingStepVariance');
  if (g.n !== a.n || g.P !== a.P) throw new ShapeError(`streamingStepVariance: rows at w are [${g.n}, ${g.P}] but rows at the snapshot are [${a.n}, ${a.P}]`);
  const { n, P } = g;
  const { N, b, B } = options;
  if (!(b <= B && B <= N)) throw new ValueError(`streamingStepVariance: need b ≤ B ≤ N; got b = ${b}, B = ${B}, N = ${N}`);
  const meanG = new Float64Array(P);
  const meanA = new Float64Array(P);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < P; j++) {
      meanG[j] += g.data[i * P + j]!;
      meanA[j] += a.data[i * P + j]!;
    }
  }
  for (let j = 0; j < P; j++) {
    meanG[j] /= n;
    meanA[j] /= n;
  }
  let vAtW = 0;
  let vAtSnapshot = 0;
  let vDifference = 0;
  let covariance = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < P; j++) {
      const cg = g.data[i * P + j]! - meanG[j]!;
      const ca = a.data[i * P + j]! - meanA[j]!;
      const cd = cg - ca;
      vAtW += cg * cg;
      vAtSnapshot += ca * ca;
      vDifference += cd * cd;
      covariance += cd * ca;
    }
  }
  vAtW /= n;
  vAtSnapshot /= n;
  vDifference /= n;
  covariance /= n;
  const fb = meanVarianceFactor(N, b);
  const fB = meanVarianceFactor(N, B);
  const vSgd = fb * vAtW;
  const inner = fb * vDifference;
  const mega = fB * vAtSnapshot;
  const cross = options.innerFromMegaBatch ? 2 * fB * covariance : 0;
  const vStreaming = inner + mega + cross;
  return { vAtW, vAtSnapshot, vDifference, covariance, vSgd, vStreaming, inner, mega, cross, ratio: vStreaming / vSgd };
}
