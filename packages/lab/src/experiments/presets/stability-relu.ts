/**
 * The two-layer ReLU part of the stability preset (Wu & Su 2023, docs/research.md §4).
 *
 * Student f(x) = Σ_j a_j·relu(w_jᵀx) (width m, no biases), trained with the square loss
 * L = ½·mean (f − y)² on n points labelled by a narrower ReLU teacher (reluTeacher), with n
 * small enough for the student to interpolate. At an interpolating minimum the Hessian of L is
 * the Gauss–Newton matrix G = (1/n) Σ ∇fᵢ ∇fᵢᵀ (the residual term (1/n) Σ rᵢ ∇²fᵢ vanishes with
 * rᵢ = 0), so its stability bounds are read off G: λ_max(G) ≤ 2/η for GD, Tr G ≤ 2/η for
 * batch-1 SGD (≈ 2B/η for batch B). Wu & Su tie Tr G to the path norm Σ_j |a_j|·‖w_j‖: here
 * Tr G = (1/n) Σᵢ Σ_{j: pᵢⱼ>0} (a_j²‖xᵢ‖² + pᵢⱼ²) ≥ (2/n) Σᵢ ‖xᵢ‖ Σ_j |a_j|·relu(w_jᵀxᵢ) (AM–GM),
 * a data-weighted path norm, so larger η (a tighter Tr G bound) should leave SGD at a smaller
 * path norm.
 *
 * Like the diagonal network, the student is trained by plain float64 arithmetic (no autograd):
 * for one sample, with pⱼ = w_jᵀx and r = f(x) − y,
 *   ∂f/∂a_j = relu(pⱼ),   ∂f/∂w_j = a_j·1[pⱼ > 0]·x,   ∂ℓ/∂θ = r·∂f/∂θ.
 * The same per-sample output gradients form the rows of J, and Tr G, ‖G‖_F and λ_max(G) come
 * from the n × n Gram matrix K = JJᵀ/n (gramSpectrumOf). The tests check J against the engine's
 * per-sample gradients and G against a finite-difference Hessian of L at an interpolating point.
 */
import { foldIn, gramSpectrumOf, makeKey, normalFromBits, randomBits, reluTeacher, tensor } from 'gradscope';
import type { Plot, RunRecord, Series, Size } from '../preset.js';

export interface ReluStabilityConfig {
  nTrain: number;
  nTest: number;
  /** Input dimension, teacher width and student width. */
  d: number;
  teacherHidden: number;
  width: number;
  dataSeed: number;
  /** Init: w_j ~ N(0, initScale²/d · I), a_j ~ N(0, initScale²/m). */
  initScale: number;
  etas: number[];
  /** Training steps for every method (one step = one update, whatever the batch). */
  steps: number;
  /** The third method: SGD with this batch size (between 1 and n). */
  largeBatch: number;
  /** A converged run must end with a training loss below this. */
  lossTolerance: number;
  /** Relative slack of the bounds Tr G ≤ 2/η (SGD) and λ_max(G) ≤ 2/η (GD). */
  traceTolerance: number;
}

export function reluStabilityConfig(size: Size): ReluStabilityConfig {
  return size === 'smoke'
    ? { nTrain: 16, nTest: 1000, d: 4, teacherHidden: 3, width: 24, dataSeed: 11, initScale: 1.5, etas: [0.03, 0.05, 0.07, 0.1, 0.2], steps: 10000, largeBatch: 4, lossTolerance: 1e-4, traceTolerance: 0.1 }
    : { nTrain: 64, nTest: 4000, d: 8, teacherHidden: 3, width: 48, dataSeed: 11, initScale: 1, etas: [0.03, 0.05, 0.065, 0.08, 0.1, 0.15, 0.2], steps: 20000, largeBatch: 8, lossTolerance: 1e-4, traceTolerance: 0.1 };
}

/** The student's parameters: W row-major [m, d] (row j is w_j) and a [m]. */
export interface ReluNet {
  W: Float64Array;
  a: Float64Array;
  m: number;
  d: number;
}

export interface RegressionData {
  x: Float64Array;
  y: Float64Array;
  n: number;
  d: number;
}

/** The seeded init; the same for every method of a seed (paired seeds). */
export function reluInit(d: number, m: number, scale: number, seed: number): ReluNet {
  const key = foldIn(makeKey(seed), 0x7e1);
  const normal = (i: number) => {
    const [w0, w1] = randomBits(key, i);
    return normalFromBits(w0, w1);
  };
  const W = Float64Array.from({ length: m * d }, (_, i) => (scale / Math.sqrt(d)) * normal(i));
  const a = Float64Array.from({ length: m }, (_, j) => (scale / Math.sqrt(m)) * normal(m * d + j));
  return { W, a, m, d };
}

export function cloneNet(net: ReluNet): ReluNet {
  return { W: Float64Array.from(net.W), a: Float64Array.from(net.a), m: net.m, d: net.d };
}

/** f(xᵢ); fills `pre` (length m) with the pre-activations w_jᵀxᵢ when given. */
export function reluOutput(net: ReluNet, x: Float64Array, i: number, pre?: Float64Array): number {
  const { m, d, W, a } = net;
  const o = i * d;
  let f = 0;
  for (let j = 0; j < m; j++) {
    let p = 0;
    for (let q = 0; q < d; q++) p += W[j * d + q]! * x[o + q]!;
    if (pre) pre[j] = p;
    if (p > 0) f += a[j]! * p;
  }
  return f;
}

/** ½ mean (f − y)². */
export function reluSquareLoss(net: ReluNet, data: RegressionData): number {
  let s = 0;
  for (let i = 0; i < data.n; i++) s += (reluOutput(net, data.x, i) - data.y[i]!) ** 2;
  return (0.5 * s) / data.n;
}

/**
 * J [n, P] with P = m·d + m: row i is ∇_θ f(xᵢ) in the order (W row-major, then a), the order of
 * the engine's Linear(d → m).weight followed by Linear(m → 1).weight.
 */
export function reluJacobian(net: ReluNet, data: RegressionData): Float64Array {
  const { m, d } = net;
  const P = m * d + m;
  const J = new Float64Array(data.n * P);
  const pre = new Float64Array(m);
  for (let i = 0; i < data.n; i++) {
    reluOutput(net, data.x, i, pre);
    const row = i * P;
    for (let j = 0; j < m; j++) {
      // NOTE: relu'(0) = 0, as in the engine's relu.
      if (pre[j]! > 0) {
        J[row + m * d + j] = pre[j]!;
        const aj = net.a[j]!;
        for (let q = 0; q < d; q++) J[row + j * d + q] = aj * data.x[i * d + q]!;
      }
    }
  }
  return J;
}

export interface GramNumbers {
  traceG: number;
  frobeniusG: number;
  lambdaMaxG: number;
}

/** Tr G, ‖G‖_F and λ_max(G) for G = JᵀJ/n at `net` on `data`. */
export function reluGram(net: ReluNet, data: RegressionData): GramNumbers {
  const P = net.m * net.d + net.m;
  const g = gramSpectrumOf(tensor(reluJacobian(net, data), { shape: [data.n, P], dtype: 'float64' }));
  return { traceG: g.traceG, frobeniusG: g.frobeniusG, lambdaMaxG: g.lambdaMaxG };
}

/** The path norm Σ_j |a_j|·‖w_j‖₂. */
export function pathNorm(net: ReluNet): number {
  let s = 0;
  for (let j = 0; j < net.m; j++) {
    let w2 = 0;
    for (let q = 0; q < net.d; q++) w2 += net.W[j * net.d + q]! ** 2;
    s += Math.abs(net.a[j]!) * Math.sqrt(w2);
  }
  return s;
}

function allFinite(v: Float64Array): boolean {
  for (const x of v) if (!Number.isFinite(x)) return false;
  return true;
}

export interface ReluTrainResult {
  net: ReluNet;
  diverged: boolean;
  initialLoss: number;
  finalLoss: number;
}

/**
 * Minibatch SGD with batch size B (B ≥ n: full-batch GD, samples in order), batches without
 * replacement from a seeded reshuffle each epoch (the shuffle depends on the seed only, so two
 * batch-1 runs of one seed see the same order). Diverged when the loss is not finite or exceeds
 * 1e8, or a parameter is not finite (checked every 50 steps and at the end). `start` is not modified.
 */
export function trainRelu(start: ReluNet, data: RegressionData, options: { eta: number; batch: number; steps: number; seed: number }): ReluTrainResult {
  const { n } = data;
  const { m, d } = start;
  const net = cloneNet(start);
  const { W, a } = net;
  const key = foldIn(makeKey(options.seed), 0x5c3d);
  let draws = 0;
  const order = Array.from({ length: n }, (_, i) => i);
  let cursor = n;
  const B = Math.min(options.batch, n);
  const gW = new Float64Array(m * d);
  const ga = new Float64Array(m);
  const pre = new Float64Array(m);
  const initialLoss = reluSquareLoss(net, data);
  for (let step = 0; step < options.steps; step++) {
    gW.fill(0);
    ga.fill(0);
    for (let k = 0; k < B; k++) {
      if (B < n && cursor >= n) {
        for (let i = n - 1; i > 0; i--) {
          const [w0] = randomBits(key, draws++);
          const j = Math.floor((w0 / 4294967296) * (i + 1));
          [order[i], order[j]] = [order[j]!, order[i]!];
        }
        cursor = 0;
      }
      const i = B === n ? k : order[cursor++]!;
      const r = (reluOutput(net, data.x, i, pre) - data.y[i]!) / B;
      for (let j = 0; j < m; j++) {
        const p = pre[j]!;
        if (p <= 0) continue;
        ga[j] += r * p;
        const c = r * a[j]!;
        for (let q = 0; q < d; q++) gW[j * d + q] += c * data.x[i * d + q]!;
      }
    }
    for (let j = 0; j < m; j++) a[j] = a[j]! - options.eta * ga[j]!;
    for (let t = 0; t < m * d; t++) W[t] = W[t]! - options.eta * gW[t]!;
    if (step % 50 === 49 || step === options.steps - 1) {
      // NOTE: the parameters are checked too: a NaN pre-activation fails `p > 0`, so a blown-up
      // network can output 0 everywhere and show a finite loss.
      const loss = reluSquareLoss(net, data);
      if (!Number.isFinite(loss) || loss > 1e8 || !allFinite(W) || !allFinite(a)) return { net, diverged: true, initialLoss, finalLoss: NaN };
    }
  }
  return { net, diverged: false, initialLoss, finalLoss: reluSquareLoss(net, data) };
}

/** The seeded train/test split of one teacher draw, and the teacher's own path norm. */
export function reluSplit(cfg: ReluStabilityConfig): { train: RegressionData; test: RegressionData; teacherPathNorm: number; testLabelVariance: number } {
  const all = reluTeacher({ n: cfg.nTrain + cfg.nTest, d: cfg.d, hidden: cfg.teacherHidden, seed: cfg.dataSeed });
  const d = cfg.d;
  const train = { x: all.features.slice(0, cfg.nTrain * d), y: all.targets.slice(0, cfg.nTrain), n: cfg.nTrain, d };
  const test = { x: all.features.slice(cfg.nTrain * d), y: all.targets.slice(cfg.nTrain), n: cfg.nTest, d };
  const teacher = { W: all.teacher.W!, a: all.teacher.v!, m: cfg.teacherHidden, d };
  let mean = 0;
  for (const v of test.y) mean += v / test.n;
  let variance = 0;
  for (const v of test.y) variance += (v - mean) ** 2 / test.n;
  return { train, test, teacherPathNorm: pathNorm(teacher), testLabelVariance: variance };
}

export type ReluMethod = 'GD' | 'SGD' | 'SGD-large-batch';

/** One grid point of the ReLU part (the input of the `reluRun` task). */
export interface ReluRunInput {
  size: Size;
  seed: number;
  eta: number;
  method: ReluMethod;
}

export interface ReluRunOutput {
  batch: number;
  diverged: boolean;
  /** The training loss at the init (equal across the methods of a seed: paired starts). */
  initialLoss: number;
  /** Σ of the init's parameters, a cheap fingerprint of the paired init. */
  initChecksum: number;
  metrics: Record<string, number>;
}

export function reluBatch(method: ReluMethod, cfg: ReluStabilityConfig): number {
  return method === 'GD' ? cfg.nTrain : method === 'SGD' ? 1 : cfg.largeBatch;
}

/** The `reluRun` task: train one method at one η from the seed's init and measure the minimum. */
export function reluRun(input: ReluRunInput): ReluRunOutput {
  const cfg = reluStabilityConfig(input.size);
  const { train, test } = reluSplit(cfg);
  const init = reluInit(cfg.d, cfg.width, cfg.initScale, input.seed);
  let initChecksum = 0;
  for (const v of init.W) initChecksum += v;
  for (const v of init.a) initChecksum += v;
  const batch = reluBatch(input.method, cfg);
  const result = trainRelu(init, train, { eta: input.eta, batch, steps: cfg.steps, seed: input.seed });
  const bounds = { twoOverEta: 2 / input.eta, twoBOverEta: (2 * batch) / input.eta };
  if (result.diverged) {
    const metrics = { trainLoss: NaN, testError: NaN, traceG: NaN, frobeniusG: NaN, lambdaMaxG: NaN, pathNorm: NaN, ...bounds };
    return { batch, diverged: true, initialLoss: result.initialLoss, initChecksum, metrics };
  }
  const g = reluGram(result.net, train);
  const metrics = {
    trainLoss: result.finalLoss,
    // Mean squared error on held-out teacher labels (no label noise).
    testError: 2 * reluSquareLoss(result.net, test),
    traceG: g.traceG,
    frobeniusG: g.frobeniusG,
    lambdaMaxG: g.lambdaMaxG,
    pathNorm: pathNorm(result.net),
    ...bounds,
  };
  return { batch, diverged: false, initialLoss: result.initialLoss, initChecksum, metrics };
}

export const RELU_METHODS: readonly ReluMethod[] = ['GD', 'SGD', 'SGD-large-batch'];

/** The grid of the ReLU part: seed × η × method, every method of a seed from the same init. */
export function reluInputs(size: Size, seeds: readonly number[]): ReluRunInput[] {
  const cfg = reluStabilityConfig(size);
  return seeds.flatMap((seed) => cfg.etas.flatMap((eta) => RELU_METHODS.map((method) => ({ size, seed, eta, method }))));
}

/** The ReLU clause of the preset's rule, with the config's numbers filled in. */
export function reluRuleClause(cfg: ReluStabilityConfig): string {
  const tol = cfg.traceTolerance;
  return (
    `ReLU clause (two-layer ReLU teacher–student): INCONCLUSIVE if a non-diverged GD or batch-1 SGD run ends with training loss ≥ ${cfg.lossTolerance}, or batch-1 SGD converges on every seed at fewer than two η of the grid. ` +
    `It passes if every converged batch-1 SGD run ends with Tr G ≤ (2/η)(1 + ${tol}), every converged GD run with λ_max(G) ≤ (2/η)(1 + ${tol}), at least one converged GD run ends with Tr G > 2/η, ` +
    `and the mean (over seeds) path norm Σ|a_j|‖w_j‖ of batch-1 SGD is smaller at the largest η than at the smallest η among the η where SGD converged on every seed. The batch-${cfg.largeBatch} runs are reported (against 2B/η) but do not enter the verdict.`
  );
}

export interface ReluSummary {
  runs: RunRecord[];
  plots: Plot[];
  numbers: Record<string, number>;
  /** The clause's precondition failed. */
  inconclusive: boolean;
  /** The clause's claim held (meaningful when not inconclusive). */
  pass: boolean;
  detail: string;
  checks: Record<string, boolean>;
}

function mean(values: number[]): number {
  return values.length === 0 ? NaN : values.reduce((s, v) => s + v, 0) / values.length;
}

/** Turn the `reluRun` outputs (in `inputs` order) into run records, plots, numbers and the clause's verdict. */
export function summarizeRelu(size: Size, seeds: readonly number[], inputs: readonly ReluRunInput[], outputs: readonly ReluRunOutput[]): ReluSummary {
  const cfg = reluStabilityConfig(size);
  const { teacherPathNorm, testLabelVariance } = reluSplit(cfg);
  const tol = cfg.traceTolerance;
  const runs: RunRecord[] = inputs.map((input, k) => {
    const out = outputs[k]!;
    return {
      id: `relu-${input.method}-eta${input.eta}-seed${input.seed}`,
      config: { part: 'relu', method: input.method, eta: input.eta, batch: out.batch, seed: input.seed, steps: cfg.steps },
      diverged: out.diverged,
      metrics: { ...out.metrics, initialLoss: out.initialLoss },
    };
  });
  const at = (method: ReluMethod, eta: number) => runs.filter((r) => r.config.method === method && r.config.eta === eta);
  const converged = (method: ReluMethod) => runs.filter((r) => r.config.method === method && !r.diverged);

  const smallLoss = [...converged('GD'), ...converged('SGD')].every((r) => r.metrics.trainLoss! < cfg.lossTolerance);
  const sgdEtas = cfg.etas.filter((eta) => at('SGD', eta).every((r) => !r.diverged));
  const inconclusive = !smallLoss || sgdEtas.length < 2;
  const sgdTraceOk = converged('SGD').every((r) => r.metrics.traceG! <= (2 / (r.config.eta as number)) * (1 + tol));
  const gdLambdaOk = converged('GD').every((r) => r.metrics.lambdaMaxG! <= (2 / (r.config.eta as number)) * (1 + tol));
  const gdTraceAbove = converged('GD').some((r) => r.metrics.traceG! > 2 / (r.config.eta as number));
  const sgdPath = (eta: number) => mean(at('SGD', eta).map((r) => r.metrics.pathNorm!));
  const smallEta = sgdEtas[0];
  const largeEta = sgdEtas[sgdEtas.length - 1];
  const pathSmall = smallEta === undefined ? NaN : sgdPath(smallEta);
  const pathLarge = largeEta === undefined ? NaN : sgdPath(largeEta);
  const pathNormDecreases = sgdEtas.length >= 2 && pathLarge < pathSmall;
  const pass = sgdTraceOk && gdLambdaOk && gdTraceAbove && pathNormDecreases;

  const ratio = (method: ReluMethod, key: 'traceG' | 'lambdaMaxG') => {
    const values = converged(method).map((r) => (r.metrics[key]! * (r.config.eta as number)) / 2);
    return values.length === 0 ? NaN : Math.max(...values);
  };
  const divergedCount = (method: ReluMethod) => runs.filter((r) => r.config.method === method && r.diverged).length;
  const numbers: Record<string, number> = {
    'relu.nTrain': cfg.nTrain,
    'relu.d': cfg.d,
    'relu.width': cfg.width,
    'relu.teacherPathNorm': teacherPathNorm,
    'relu.testLabelVariance': testLabelVariance,
    'relu.SGD.maxTraceTimesEtaOver2': ratio('SGD', 'traceG'),
    'relu.GD.maxTraceTimesEtaOver2': ratio('GD', 'traceG'),
    'relu.GD.maxLambdaMaxTimesEtaOver2': ratio('GD', 'lambdaMaxG'),
    'relu.SGD.pathNorm.smallestConvergedEta': pathSmall,
    'relu.SGD.pathNorm.largestConvergedEta': pathLarge,
    'relu.SGD.largestEtaConvergedOnEverySeed': largeEta ?? NaN,
    // Generalization at that η (reported, not part of the clause): SGD against GD from the same inits.
    'relu.SGD.testError.largestConvergedEta': largeEta === undefined ? NaN : mean(at('SGD', largeEta).map((r) => r.metrics.testError!)),
    'relu.GD.testError.sameEta': largeEta === undefined ? NaN : mean(at('GD', largeEta).filter((r) => !r.diverged).map((r) => r.metrics.testError!)),
    'relu.GD.diverged': divergedCount('GD'),
    'relu.SGD.diverged': divergedCount('SGD'),
    'relu.SGD-large-batch.diverged': divergedCount('SGD-large-batch'),
  };

  // Means over the seeds that converged (NaN where none did).
  const etas = [...cfg.etas];
  const avg = (method: ReluMethod, key: string) => etas.map((eta) => mean(at(method, eta).filter((r) => !r.diverged).map((r) => r.metrics[key]!)));
  const label = (m: ReluMethod) => (m === 'SGD-large-batch' ? `SGD B=${cfg.largeBatch}` : m === 'SGD' ? 'SGD B=1' : 'GD');
  const scatter = (m: ReluMethod): Series => {
    const points = converged(m)
      .map((r) => [r.metrics.pathNorm!, r.metrics.traceG!] as const)
      .sort((p, q) => p[0] - q[0]);
    // A method with no converged run keeps its legend entry with one missing (NaN) point.
    if (points.length === 0) return { label: `${label(m)} (no converged run)`, x: [NaN], y: [NaN] };
    return { label: `${label(m)} (every converged run)`, x: points.map((p) => p[0]), y: points.map((p) => p[1]) };
  };
  const plots: Plot[] = [
    {
      id: 'relu-sharpness-vs-eta',
      title: `Two-layer ReLU: sharpness of the final minimum vs 2/η and 2B/η (mean over converged seeds)`,
      xLabel: 'learning rate η',
      yLabel: 'Tr G, ‖G‖_F, λ_max(G)',
      xLog: true,
      yLog: true,
      series: [
        { label: '2/η', x: etas, y: etas.map((e) => 2 / e) },
        { label: `2B/η (B = ${cfg.largeBatch})`, x: etas, y: etas.map((e) => (2 * cfg.largeBatch) / e) },
        ...RELU_METHODS.flatMap((m) => [
          { label: `${label(m)}: Tr G`, x: etas, y: avg(m, 'traceG') },
          { label: `${label(m)}: ‖G‖_F`, x: etas, y: avg(m, 'frobeniusG') },
          { label: `${label(m)}: λ_max(G)`, x: etas, y: avg(m, 'lambdaMaxG') },
        ]),
      ],
    },
    {
      id: 'relu-path-norm-vs-eta',
      title: 'Two-layer ReLU: path norm Σ|a_j|‖w_j‖ of the final network vs learning rate',
      xLabel: 'learning rate η',
      yLabel: 'path norm',
      xLog: true,
      series: [...RELU_METHODS.map((m) => ({ label: label(m), x: etas, y: avg(m, 'pathNorm') })), { label: 'teacher', x: etas, y: etas.map(() => teacherPathNorm) }],
    },
    {
      id: 'relu-test-error-vs-eta',
      title: 'Two-layer ReLU: test mean squared error vs learning rate',
      xLabel: 'learning rate η',
      yLabel: 'test MSE',
      xLog: true,
      series: [...RELU_METHODS.map((m) => ({ label: label(m), x: etas, y: avg(m, 'testError') })), { label: 'predict 0 (label variance)', x: etas, y: etas.map(() => testLabelVariance) }],
    },
    {
      id: 'relu-trace-vs-path-norm',
      title: 'Two-layer ReLU: Tr G against path norm at the final minima',
      xLabel: 'path norm Σ|a_j|‖w_j‖',
      yLabel: 'Tr G',
      series: RELU_METHODS.map(scatter),
    },
  ];

  const pairedStarts = seeds.every((seed) => {
    const own = inputs.map((input, k) => (input.seed === seed ? outputs[k]! : undefined)).filter((o) => o !== undefined);
    return own.every((o) => o.initialLoss === own[0]!.initialLoss && o.initChecksum === own[0]!.initChecksum);
  });
  const detail =
    `ReLU: converged GD and SGD runs reach loss < ${cfg.lossTolerance}: ${smallLoss}; η where batch-1 SGD converged on every seed: [${sgdEtas.join(', ')}]; ` +
    `SGD Tr G ≤ (2/η)(1+${tol}): ${sgdTraceOk} (max Tr G·η/2 = ${numbers['relu.SGD.maxTraceTimesEtaOver2']!.toFixed(3)}); GD λ_max ≤ (2/η)(1+${tol}): ${gdLambdaOk} (max λ_max·η/2 = ${numbers['relu.GD.maxLambdaMaxTimesEtaOver2']!.toFixed(3)}); ` +
    `GD Tr G > 2/η for some η: ${gdTraceAbove} (max Tr G·η/2 = ${numbers['relu.GD.maxTraceTimesEtaOver2']!.toFixed(3)}); SGD path norm ${pathSmall.toFixed(3)} at η = ${smallEta} → ${pathLarge.toFixed(3)} at η = ${largeEta}: decreases ${pathNormDecreases}; ` +
    `diverged runs: GD ${numbers['relu.GD.diverged']}, SGD ${numbers['relu.SGD.diverged']}, batch ${cfg.largeBatch} ${numbers['relu.SGD-large-batch.diverged']}.`;
  return {
    runs,
    plots,
    numbers,
    inconclusive,
    pass,
    detail,
    checks: { reluPairedStartsIdentical: pairedStarts, reluEveryRunListed: runs.length === seeds.length * cfg.etas.length * RELU_METHODS.length },
  };
}
