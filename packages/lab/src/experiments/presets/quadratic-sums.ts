/**
 * Patel 2017 (docs/research.md §3): on quadratic sums, the MEAN-SQUARE divergence threshold of SGD
 * depends on the batch size S and on the heterogeneity of the per-sample Hessians Aᵢ, not only
 * on the mean Hessian A; as S → n (without replacement) it tends to gradient descent's 2/λ_max(A).
 *
 * Two problems with the SAME mean Hessian A = diag(eigenvalues) (synthetic quadraticSum, one
 * heterogeneous, one homogenized: heterogeneity 0). For each S of the grid:
 * - η*(S): the exact MEAN-SQUARE threshold, bisection on ρ(T) = 1, sampling WITHOUT replacement
 *   (the headline; also WITH replacement, reported and plotted);
 * - an ALMOST-SURE threshold estimate: bisection on the sign of a seeded Lyapunov exponent
 *   (common random numbers: the same seed at every η), without replacement;
 * - SGD e_{k+1} = (I − ηĀ_k)e_k at 0.8η* and 1.5η* (η* of that problem), paired seeds across the
 *   two problems (the same seed gives the same batch sequence and start), divergence judged in
 *   the MEAN-SQUARE sense: the Monte-Carlo growth rate of the mean of ‖e_k‖² over `trials`
 *   trajectories is > 0. The fraction of single trajectories that grew (the almost-sure notion)
 *   is recorded alongside.
 */
import { lambdaMax, lyapunovExponent, meanSquareThreshold, type QuadraticDataset as QuadraticData, type QuadraticProblem as StabilityProblem, quadraticSum, type Sampling, simulateSecondMoment } from 'gradscope';
import type { Plot, Preset, PresetResult, RunContext, RunRecord, Verdict } from '../preset.js';

interface QuadraticSumsConfig {
  n: number;
  d: number;
  batchSizes: number[];
  heterogeneity: number;
  condition: number;
  problemSeed: number;
  /** Steps of each Lyapunov-exponent estimate. */
  lyapunovSteps: number;
  /** Bisection iterations of the almost-sure threshold. */
  lyapunovBisections: number;
  /** SGD simulation: steps and trajectories per (seed, problem, S, η). */
  sgdSteps: number;
  sgdTrials: number;
}

export function quadraticSumsConfig(size: 'smoke' | 'full'): QuadraticSumsConfig {
  return size === 'smoke'
    ? { n: 24, d: 4, batchSizes: [1, 2, 5, 24], heterogeneity: 1, condition: 10, problemSeed: 17, lyapunovSteps: 1500, lyapunovBisections: 12, sgdSteps: 300, sgdTrials: 40 }
    : {
        n: 100,
        d: 6,
        batchSizes: [1, 2, 4, 8, 16, 32, 64, 100],
        heterogeneity: 1,
        condition: 10,
        problemSeed: 17,
        lyapunovSteps: 6000,
        lyapunovBisections: 18,
        sgdSteps: 1000,
        sgdTrials: 200,
      };
}

/** The per-sample Hessians Aᵢ = aᵢaᵢᵀ of a consistent least-squares problem. */
export function toStabilityProblem(data: QuadraticData): StabilityProblem {
  const d = data.dim;
  const parts: Float64Array[] = [];
  for (let i = 0; i < data.length; i++) {
    const a = data.features.subarray(i * d, (i + 1) * d);
    const h = new Float64Array(d * d);
    for (let r = 0; r < d; r++) for (let s = 0; s < d; s++) h[r * d + s] = a[r]! * a[s]!;
    parts.push(h);
  }
  return { d, parts };
}

/**
 * ALMOST-SURE threshold estimate: sup{η : Lyapunov exponent < 0}, bisection on the sign of one
 * seeded exponent (the same seed at every η). Bracket: [lo, hi] with the exponent < 0 at lo
 * (the mean-square threshold, below which it is negative) and > 0 at hi (found by doubling).
 */
export function almostSureThreshold(
  problem: StabilityProblem,
  S: number,
  options: { sampling: Sampling; seed: number; steps: number; bisections: number; start: number },
): number {
  const unstable = (eta: number) => lyapunovExponent(problem, eta, S, { sampling: options.sampling, seed: options.seed, steps: options.steps }) > 0;
  let lo = 0.5 * options.start;
  let hi = options.start * 1.25;
  for (let k = 0; k < 8 && !unstable(hi); k++) {
    lo = hi;
    hi *= 2;
  }
  for (let k = 0; k < options.bisections; k++) {
    const mid = 0.5 * (lo + hi);
    if (unstable(mid)) hi = mid;
    else lo = mid;
  }
  return 0.5 * (lo + hi);
}

type ProblemKey = 'heterogeneous' | 'homogenized';
const PROBLEMS: readonly ProblemKey[] = ['heterogeneous', 'homogenized'];

/** The two problems share the mean Hessian A = diag(eigenvalues); only the heterogeneity differs. */
function problemData(key: ProblemKey, cfg: QuadraticSumsConfig): QuadraticData {
  return quadraticSum({ n: cfg.n, d: cfg.d, seed: cfg.problemSeed, heterogeneity: key === 'heterogeneous' ? cfg.heterogeneity : 0, condition: cfg.condition });
}

/** A task: one problem at one batch size, with every seed's SGD runs. */
export interface PointInput {
  problem: ProblemKey;
  S: number;
  size: 'smoke' | 'full';
  seeds: number[];
}

export interface SgdRun {
  seed: number;
  side: 'below' | 'above';
  factor: number;
  eta: number;
  growthRate: number;
  meanSquaredNorm: number;
  fractionGrowing: number;
}

export interface PointOutput {
  etaStar: number;
  etaStarWith: number;
  etaAs: number;
  sgd: SgdRun[];
}

/** The thresholds of one (problem, S) and SGD at 0.8η* and 1.5η* for every seed. */
export function measurePoint({ problem: key, S, size, seeds }: PointInput): PointOutput {
  const cfg = quadraticSumsConfig(size);
  const problem = toStabilityProblem(problemData(key, cfg));
  const etaStar = meanSquareThreshold(problem, S, { sampling: 'without-replacement' });
  const etaStarWith = meanSquareThreshold(problem, S, { sampling: 'with-replacement' });
  const etaAs = almostSureThreshold(problem, S, {
    sampling: 'without-replacement',
    seed: cfg.problemSeed,
    steps: cfg.lyapunovSteps,
    bisections: cfg.lyapunovBisections,
    start: etaStar,
  });
  const sgd: SgdRun[] = [];
  const singles = Math.min(cfg.sgdTrials, 20);
  for (const seed of seeds) {
    for (const [factor, side] of [
      [0.8, 'below'],
      [1.5, 'above'],
    ] as const) {
      const eta = factor * etaStar;
      const simulation = { sampling: 'without-replacement' as const, seed, steps: cfg.sgdSteps };
      const ms = simulateSecondMoment(problem, eta, S, { ...simulation, trials: cfg.sgdTrials });
      // Single trajectories (the almost-sure notion): seeds seed·1000 + t, shared across problems.
      let grew = 0;
      for (let t = 0; t < singles; t++) {
        if (lyapunovExponent(problem, eta, S, { ...simulation, seed: seed * 1000 + t }) > 0) grew++;
      }
      sgd.push({ seed, side, factor, eta, growthRate: ms.growthRate, meanSquaredNorm: ms.meanSquaredNorm, fractionGrowing: grew / singles });
    }
  }
  return { etaStar, etaStarWith, etaAs, sgd };
}

export const quadraticSumsPreset: Preset = {
  name: 'quadratic-sums',
  paper: 'Patel 2017, "Impact of local geometry and batch size on convergence and divergence of SGD"',
  claim:
    'At a fixed mean Hessian, heterogeneous per-sample curvature lowers the mean-square divergence threshold η*(S) of small-batch SGD, and η*(S) → 2/λ_max(A) (gradient descent) as S → n.',
  rule:
    'Mean-square thresholds η*(S) from ρ(T) = 1, sampling without replacement. REPRODUCED if η*(S) of the heterogeneous problem is strictly below the homogenized one at the smallest S, both equal 2/λ_max(A) at S = n within 1e-9 relative, and every SGD run (every seed, problem and S) diverges in mean square at 1.5η* and converges at 0.8η*; NOT REPRODUCED if the heterogeneous threshold is above the homogenized one at the smallest S; otherwise INCONCLUSIVE.',
  seeds: [1, 2, 3],
  tasks: { point: measurePoint },
  async run(context: RunContext): Promise<PresetResult> {
    const cfg = quadraticSumsConfig(context.size);
    const { n, d } = cfg;
    const batchSizes = cfg.batchSizes;
    const data = Object.fromEntries(PROBLEMS.map((key) => [key, problemData(key, cfg)])) as Record<ProblemKey, QuadraticData>;
    // λ_max of the exact mean Hessian diag(eigenvalues), shared by both problems.
    const exactTop = Math.max(...data.heterogeneous.eigenvalues);
    const gdThreshold = 2 / exactTop;
    const grid: PointInput[] = PROBLEMS.flatMap((problem) => batchSizes.map((S) => ({ problem, S, size: context.size, seeds: [...context.seeds] })));
    const points = await context.map<PointInput, PointOutput>('point', grid, (done, total) => context.progress(done / total, `${done} of ${total} (problem, S) points`));

    const msWithout: Record<string, number[]> = {};
    const msWith: Record<string, number[]> = {};
    const asWithout: Record<string, number[]> = {};
    const runs: RunRecord[] = [];
    const numbers: Record<string, number> = { gdThreshold, n, d, meanHessianLambdaMaxEmpirical: lambdaMax(toStabilityProblem(data.heterogeneous)) };
    let everyDivergesAbove = true;
    let everyConvergesBelow = true;
    const sgdRate: Record<string, { below: number[]; above: number[] }> = {};
    for (const key of PROBLEMS) {
      numbers[`rowNormCV.${key}`] = data[key].rowNormCV();
      msWithout[key] = [];
      msWith[key] = [];
      asWithout[key] = [];
      sgdRate[key] = { below: [], above: [] };
    }
    grid.forEach(({ problem: key, S }, i) => {
      const point = points[i]!;
      msWithout[key]!.push(point.etaStar);
      msWith[key]!.push(point.etaStarWith);
      asWithout[key]!.push(point.etaAs);
      numbers[`etaStar.meanSquare.withoutReplacement.${key}.S${S}`] = point.etaStar;
      numbers[`etaStar.meanSquare.withReplacement.${key}.S${S}`] = point.etaStarWith;
      numbers[`etaStar.almostSure.withoutReplacement.${key}.S${S}`] = point.etaAs;
      for (const run of point.sgd) {
        const diverged = run.growthRate > 0;
        if (run.side === 'above' && !diverged) everyDivergesAbove = false;
        if (run.side === 'below' && diverged) everyConvergesBelow = false;
        runs.push({
          id: `${key}-S${S}-${run.side}-seed${run.seed}`,
          config: { problem: key, S, seed: run.seed, eta: run.eta, etaOverThreshold: run.factor, sampling: 'without-replacement', steps: cfg.sgdSteps, trials: cfg.sgdTrials, divergence: 'mean-square' },
          diverged,
          metrics: {
            meanSquareGrowthRate: run.growthRate,
            log10MeanSquaredNorm: Math.log10(run.meanSquaredNorm),
            fractionTrajectoriesGrowing: run.fractionGrowing,
          },
        });
      }
      sgdRate[key]!.below.push(mean(point.sgd.filter((r) => r.side === 'below').map((r) => r.growthRate)));
      sgdRate[key]!.above.push(mean(point.sgd.filter((r) => r.side === 'above').map((r) => r.growthRate)));
    });

    const hetSmall = msWithout.heterogeneous![0]!;
    const homSmall = msWithout.homogenized![0]!;
    const last = batchSizes.length - 1;
    const atN = batchSizes[last] === n;
    const relErr = (v: number) => Math.abs(v - gdThreshold) / gdThreshold;
    const thresholdAtNEqualsGD = atN && relErr(msWithout.heterogeneous![last]!) <= 1e-9 && relErr(msWithout.homogenized![last]!) <= 1e-9;
    const heterogeneousBelow = hetSmall < homSmall;
    numbers.etaStarSmallestS_heterogeneous = hetSmall;
    numbers.etaStarSmallestS_homogenized = homSmall;
    numbers.relErrAtN_heterogeneous = relErr(msWithout.heterogeneous![last]!);
    numbers.relErrAtN_homogenized = relErr(msWithout.homogenized![last]!);

    let verdict: Verdict;
    if (heterogeneousBelow && thresholdAtNEqualsGD && everyDivergesAbove && everyConvergesBelow) verdict = 'REPRODUCED';
    else if (hetSmall > homSmall) verdict = 'NOT REPRODUCED';
    else verdict = 'INCONCLUSIVE';
    const verdictDetail =
      `η*(S=${batchSizes[0]}) mean-square without replacement: heterogeneous ${hetSmall.toPrecision(6)} vs homogenized ${homSmall.toPrecision(6)}; ` +
      `at S = n = ${n}: ${msWithout.heterogeneous![last]!.toPrecision(12)} and ${msWithout.homogenized![last]!.toPrecision(12)} vs 2/λ_max(A) = ${gdThreshold.toPrecision(12)}; ` +
      `SGD (mean square): ${everyDivergesAbove ? 'every' : 'not every'} run diverges at 1.5η*, ${everyConvergesBelow ? 'every' : 'not every'} run converges at 0.8η*.`;

    const plots: Plot[] = [
      {
        id: 'thresholds',
        title: 'Divergence threshold η*(S) vs batch size (same mean Hessian)',
        xLabel: 'batch size S',
        yLabel: 'learning-rate threshold η',
        xLog: true,
        series: [
          ...PROBLEMS.map((key) => ({ label: `${key}: mean-square, without replacement`, x: [...batchSizes], y: msWithout[key]! })),
          ...PROBLEMS.map((key) => ({ label: `${key}: mean-square, with replacement`, x: [...batchSizes], y: msWith[key]! })),
          ...PROBLEMS.map((key) => ({ label: `${key}: almost-sure estimate, without replacement`, x: [...batchSizes], y: asWithout[key]! })),
          { label: 'gradient descent 2/λ_max(A)', x: [...batchSizes], y: batchSizes.map(() => gdThreshold) },
        ],
      },
      {
        id: 'sgd-growth',
        title: 'SGD mean-square growth rate at 0.8η* and 1.5η* (mean over seeds)',
        xLabel: 'batch size S',
        yLabel: '(1/k) log mean ‖e_k‖²',
        xLog: true,
        series: PROBLEMS.flatMap((key) => [
          { label: `${key}: η = 0.8η*`, x: [...batchSizes], y: sgdRate[key]!.below },
          { label: `${key}: η = 1.5η*`, x: [...batchSizes], y: sgdRate[key]!.above },
        ]),
      },
    ];
    return {
      preset: 'quadratic-sums',
      size: context.size,
      verdict,
      verdictDetail,
      numbers,
      plots,
      runs,
      checks: {
        thresholdAtNEqualsGD,
        heterogeneousBelowHomogenizedAtSmallestS: heterogeneousBelow,
        heterogeneousAtMostHomogenizedAtS1: batchSizes[0] === 1 && hetSmall <= homSmall,
        sgdDivergesAbove: everyDivergesAbove,
        sgdConvergesBelow: everyConvergesBelow,
        almostSureAtLeastMeanSquare: PROBLEMS.every((key) => asWithout[key]!.every((v, i) => v >= msWithout[key]![i]! * (1 - 0.05))),
      },
    };
  },
};

function mean(v: number[]): number {
  return v.length === 0 ? NaN : v.reduce((s, x) => s + x, 0) / v.length;
}
