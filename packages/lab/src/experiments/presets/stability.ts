/**
 * Wu & Su 2023 (docs/research.md §4): at an interpolating minimum of the square loss H = G = JᵀJ/n;
 * GD is linearly stable iff λ_max(G) ≤ 2/η, while batch-1 SGD stability forces Tr G ≤ 2/η. For a
 * diagonal linear network f(x) = ⟨a ⊙ b, x⟩, Tr G ≥ 2‖a ⊙ b‖₁·(feature scale), so stable SGD
 * minima have small ℓ₁ norm (sparse, better test error).
 *
 * The network is two parameter vectors a, b trained by plain float64 arithmetic (no autograd:
 * ∂L/∂a = b ⊙ g, ∂L/∂b = a ⊙ g with g = (1/|I|) Σ_{i∈I} rᵢ xᵢ); the per-sample output gradients
 * jᵢ = [b ⊙ xᵢ, a ⊙ xᵢ] form J, whose spectrum (Tr G, ‖G‖_F, λ_max(G)) comes from gramSpectrumOf.
 * GD and SGD runs of one seed start from the same init (paired seeds).
 *
 * The two-layer ReLU teacher–student part (same claim, path norm instead of ℓ₁) lives in
 * stability-relu.ts. Every independent run is a task (`diagonalRun`, `diagonalSwitch`,
 * `reluRun`), so `--workers N` spreads them over threads.
 */
import { diagonalLinear, gramSpectrumOf, tensor, uniformStream } from 'gradscope';
import type { Plot, Preset, PresetResult, RunContext, RunRecord, Size, Verdict } from '../preset.js';
import { reluInputs, reluRuleClause, reluRun, reluStabilityConfig, summarizeRelu, type ReluRunInput, type ReluRunOutput } from './stability-relu.js';

export interface StabilityConfig {
  nTrain: number;
  nTest: number;
  d: number;
  sparsity: number;
  dataSeed: number;
  /** Init: a = initScale·(1 + 0.1 z), b = 0.1·initScale·z' (z, z' standard normal from the seed). */
  initScale: number;
  etas: number[];
  steps: number;
  /** The switch test: η, continuation steps, and the "large" batch size. */
  switchEta: number;
  switchSteps: number;
  largeBatch: number;
  /** A run "reached a small training loss" when its final loss is below this. */
  lossTolerance: number;
  /** Relative tolerance of Tr G ≤ 2/η for SGD. */
  traceTolerance: number;
}

export function stabilityConfig(size: Size): StabilityConfig {
  return size === 'smoke'
    ? { nTrain: 20, nTest: 200, d: 40, sparsity: 3, dataSeed: 5, initScale: 1, etas: [0.05, 0.1, 0.15], steps: 6000, switchEta: 0.1, switchSteps: 2000, largeBatch: 10, lossTolerance: 1e-4, traceTolerance: 0.1 }
    : { nTrain: 40, nTest: 1000, d: 100, sparsity: 5, dataSeed: 5, initScale: 1, etas: [0.02, 0.03, 0.05, 0.08, 0.1], steps: 40000, switchEta: 0.05, switchSteps: 10000, largeBatch: 20, lossTolerance: 1e-4, traceTolerance: 0.1 };
}


function gaussian(random: () => number): number {
  const u = Math.max(random(), 1e-300);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/** The diagonal linear network's parameters. */
export interface DiagonalNet {
  a: Float64Array;
  b: Float64Array;
}

/** The seeded init (the same for every method of a seed: paired seeds). */
export function diagonalInit(d: number, scale: number, seed: number): DiagonalNet {
  const random = uniformStream(seed * 7919 + 1);
  const a = Float64Array.from({ length: d }, () => scale * (1 + 0.1 * gaussian(random)));
  const b = Float64Array.from({ length: d }, () => 0.1 * scale * gaussian(random));
  return { a, b };
}

interface Data {
  x: Float64Array;
  y: Float64Array;
  n: number;
  d: number;
}

function predict(net: DiagonalNet, data: Data, i: number): number {
  let s = 0;
  const o = i * data.d;
  for (let j = 0; j < data.d; j++) s += net.a[j]! * net.b[j]! * data.x[o + j]!;
  return s;
}

/** ½ mean (f − y)². */
export function squareLoss(net: DiagonalNet, data: Data): number {
  let s = 0;
  for (let i = 0; i < data.n; i++) s += (predict(net, data, i) - data.y[i]!) ** 2;
  return (0.5 * s) / data.n;
}

/** G = JᵀJ/n at `net` on `data`: jᵢ = [b ⊙ xᵢ, a ⊙ xᵢ]. */
export function diagonalGram(net: DiagonalNet, data: Data): { traceG: number; frobeniusG: number; lambdaMaxG: number } {
  const { n, d } = data;
  const J = new Float64Array(n * 2 * d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      J[i * 2 * d + j] = net.b[j]! * data.x[i * d + j]!;
      J[i * 2 * d + d + j] = net.a[j]! * data.x[i * d + j]!;
    }
  }
  const g = gramSpectrumOf(tensor(J, { shape: [n, 2 * d], dtype: 'float64' }));
  return { traceG: g.traceG, frobeniusG: g.frobeniusG, lambdaMaxG: g.lambdaMaxG };
}

export interface TrainResult {
  net: DiagonalNet;
  diverged: boolean;
  finalLoss: number;
  /** The largest training loss seen after the first `watchFrom` steps (the switch test). */
  maxLoss: number;
}

/**
 * Minibatch SGD with batch size B (B = n: full-batch GD), batches without replacement from a
 * seeded reshuffle each epoch. Diverged when the loss is not finite or exceeds 1e8.
 */
export function trainDiagonal(start: DiagonalNet, data: Data, options: { eta: number; batch: number; steps: number; seed: number }): TrainResult {
  const { n, d } = data;
  const a = Float64Array.from(start.a);
  const b = Float64Array.from(start.b);
  const net = { a, b };
  const random = uniformStream(options.seed * 104729 + 3);
  const order = Array.from({ length: n }, (_, i) => i);
  let cursor = n;
  const g = new Float64Array(d);
  let maxLoss = squareLoss(net, data);
  const B = Math.min(options.batch, n);
  for (let step = 0; step < options.steps; step++) {
    g.fill(0);
    for (let k = 0; k < B; k++) {
      if (cursor >= n) {
        for (let i = n - 1; i > 0; i--) {
          const j = Math.floor(random() * (i + 1));
          [order[i], order[j]] = [order[j]!, order[i]!];
        }
        cursor = 0;
      }
      const i = B === n ? k : order[cursor++]!;
      const r = predict(net, data, i) - data.y[i]!;
      for (let j = 0; j < d; j++) g[j] += (r * data.x[i * d + j]!) / B;
    }
    for (let j = 0; j < d; j++) {
      const aj = a[j]!;
      a[j] = aj - options.eta * b[j]! * g[j]!;
      b[j] = b[j]! - options.eta * aj * g[j]!;
    }
    if (step % 50 === 49 || step === options.steps - 1) {
      const loss = squareLoss(net, data);
      if (!Number.isFinite(loss) || loss > 1e8) return { net, diverged: true, finalLoss: NaN, maxLoss: Infinity };
      maxLoss = Math.max(maxLoss, loss);
    }
  }
  return { net, diverged: false, finalLoss: squareLoss(net, data), maxLoss };
}

function l1Product(net: DiagonalNet): number {
  let s = 0;
  for (let j = 0; j < net.a.length; j++) s += Math.abs(net.a[j]! * net.b[j]!);
  return s;
}

function splitData(cfg: StabilityConfig): { train: Data; test: Data; teacherL1: number } {
  const all = diagonalLinear({ n: cfg.nTrain + cfg.nTest, d: cfg.d, sparsity: cfg.sparsity, seed: cfg.dataSeed });
  const d = cfg.d;
  const train = { x: all.features.slice(0, cfg.nTrain * d), y: all.targets.slice(0, cfg.nTrain), n: cfg.nTrain, d };
  const test = { x: all.features.slice(cfg.nTrain * d), y: all.targets.slice(cfg.nTrain), n: cfg.nTest, d };
  let teacherL1 = 0;
  for (const w of all.teacher.w!) teacherL1 += Math.abs(w);
  return { train, test, teacherL1 };
}

function runMetrics(result: TrainResult, train: Data, test: Data, eta: number): Record<string, number> {
  if (result.diverged) {
    return { trainLoss: NaN, testError: NaN, traceG: NaN, frobeniusG: NaN, lambdaMaxG: NaN, twoOverEta: 2 / eta, l1Norm: NaN };
  }
  const g = diagonalGram(result.net, train);
  return {
    trainLoss: result.finalLoss,
    testError: 2 * squareLoss(result.net, test),
    traceG: g.traceG,
    frobeniusG: g.frobeniusG,
    lambdaMaxG: g.lambdaMaxG,
    twoOverEta: 2 / eta,
    l1Norm: l1Product(result.net),
  };
}

/** One grid point of the diagonal part (the input of the `diagonalRun` task). */
export interface DiagonalRunInput {
  size: Size;
  seed: number;
  eta: number;
  method: 'GD' | 'SGD';
}

export interface DiagonalRunOutput {
  diverged: boolean;
  metrics: Record<string, number>;
}

/** The `diagonalRun` task: GD (batch n) or batch-1 SGD at one η from the seed's init. */
export function diagonalRun(input: DiagonalRunInput): DiagonalRunOutput {
  const cfg = stabilityConfig(input.size);
  const { train, test } = splitData(cfg);
  const init = diagonalInit(cfg.d, cfg.initScale, input.seed);
  const batch = input.method === 'GD' ? cfg.nTrain : 1;
  const result = trainDiagonal(init, train, { eta: input.eta, batch, steps: cfg.steps, seed: input.seed });
  return { diverged: result.diverged, metrics: runMetrics(result, train, test, input.eta) };
}

export interface SwitchContinuation {
  label: 'batch1' | 'largeBatch';
  batch: number;
  diverged: boolean;
  metrics: Record<string, number>;
  /** batch1: escaped the GD minimum; largeBatch: stayed at it. */
  outcome: boolean;
}

export interface DiagonalSwitchOutput {
  gd: DiagonalRunOutput;
  /** Empty when the GD run diverged. */
  continuations: SwitchContinuation[];
}

/**
 * The `diagonalSwitch` task: GD to a minimum at switchEta, then continue from it with batch 1
 * and with the large batch (same η).
 */
export function diagonalSwitch(input: { size: Size; seed: number }): DiagonalSwitchOutput {
  const cfg = stabilityConfig(input.size);
  const { train, test } = splitData(cfg);
  const { seed } = input;
  const eta = cfg.switchEta;
  const init = diagonalInit(cfg.d, cfg.initScale, seed);
  const gd = trainDiagonal(init, train, { eta, batch: cfg.nTrain, steps: cfg.steps, seed });
  const gdMetrics = runMetrics(gd, train, test, eta);
  if (gd.diverged) return { gd: { diverged: true, metrics: gdMetrics }, continuations: [] };
  const continuations: SwitchContinuation[] = [];
  for (const [label, batch] of [
    ['batch1', 1],
    ['largeBatch', cfg.largeBatch],
  ] as const) {
    const cont = trainDiagonal(gd.net, train, { eta, batch, steps: cfg.switchSteps, seed: seed + 100 });
    const metrics = runMetrics(cont, train, test, eta);
    const traceChange = cont.diverged ? NaN : (metrics.traceG! - gdMetrics.traceG!) / gdMetrics.traceG!;
    const escaped = cont.diverged || cont.maxLoss > 1e-2 || traceChange < -0.05;
    const stayed = !cont.diverged && cont.maxLoss <= 1e-2 && Math.abs(traceChange) <= 0.05;
    continuations.push({
      label,
      batch,
      diverged: cont.diverged,
      metrics: { ...metrics, maxTrainLoss: cont.maxLoss, relativeTraceChange: traceChange, escaped: escaped ? 1 : 0 },
      outcome: label === 'batch1' ? escaped : stayed,
    });
  }
  return { gd: { diverged: false, metrics: gdMetrics }, continuations };
}

const DIAGONAL_RULE =
  'INCONCLUSIVE if any non-diverged GD or SGD run ends with training loss ≥ 1e-4 (or every SGD run diverges). Otherwise REPRODUCED if, for every seed, every converged batch-1 SGD run ends with Tr G ≤ (2/η)(1 + 0.1) and every GD run with λ_max(G) ≤ (2/η)(1 + 0.1), GD ends with Tr G > 2/η for at least one η, at some η where both converged from the same init SGD ends with a smaller Tr G than GD, and in the switch test (from the GD minimum at the switch η, per seed) batch-1 SGD escapes (training loss rises above 1e-2 or Tr G falls by > 5%) while the large batch stays (loss stays ≤ 1e-2 and Tr G changes by ≤ 5%); else NOT REPRODUCED. Diverged runs are reported (metrics NaN).';

export const stabilityPreset: Preset = {
  name: 'stability',
  paper: 'Wu & Su 2023, "The implicit regularization of dynamical stability in SGD" (diagonal linear network, switch test, two-layer ReLU teacher–student)',
  claim:
    'At an interpolating minimum of the square loss, GD only needs λ_max(G) ≤ 2/η while batch-1 SGD needs Tr G ≤ 2/η, so SGD minima have small trace (small ‖a ⊙ b‖₁ for a diagonal linear network, small path norm for a two-layer ReLU network, smaller at larger η); from a GD minimum with Tr G > 2/η, batch-1 SGD escapes while a large batch stays.',
  rule:
    `Diagonal linear network: ${DIAGONAL_RULE} ` +
    `${reluRuleClause(reluStabilityConfig('full'))} (The smoke size uses batch ${reluStabilityConfig('smoke').largeBatch} for the reported larger batch.) ` +
    'Overall: INCONCLUSIVE if the diagonal part or the ReLU clause is inconclusive; REPRODUCED if the diagonal part is REPRODUCED and the ReLU clause passes; NOT REPRODUCED otherwise.',
  seeds: [1, 2],
  tasks: { diagonalRun, diagonalSwitch, reluRun },
  async run(context: RunContext): Promise<PresetResult> {
    const cfg = stabilityConfig(context.size);
    const { train, teacherL1 } = splitData(cfg);
    const runs: RunRecord[] = [];
    const gridInputs: DiagonalRunInput[] = context.seeds.flatMap((seed) => cfg.etas.flatMap((eta) => (['GD', 'SGD'] as const).map((method) => ({ size: context.size, seed, eta, method }))));
    const switchInputs = context.seeds.map((seed) => ({ size: context.size, seed }));
    const reluGrid = reluInputs(context.size, context.seeds);
    const total = gridInputs.length + switchInputs.length + reluGrid.length;
    const progressFrom = (base: number, what: string) => (done: number, count: number) => context.progress(Math.min(1, (base + done) / total), `${what}: ${done} of ${count}`);
    const gridOutputs = await context.map<DiagonalRunInput, DiagonalRunOutput>('diagonalRun', gridInputs, progressFrom(0, 'diagonal network, GD and SGD'));
    const switchOutputs = await context.map<{ size: Size; seed: number }, DiagonalSwitchOutput>('diagonalSwitch', switchInputs, progressFrom(gridInputs.length, 'diagonal network, switch test'));
    const reluOutputs = await context.map<ReluRunInput, ReluRunOutput>('reluRun', reluGrid, progressFrom(gridInputs.length + switchInputs.length, 'two-layer ReLU, GD and SGD'));
    const tol = cfg.traceTolerance;
    let sgdTraceOk = true;
    let gdLambdaOk = true;
    let gdTraceAbove = false;
    let allSmallLoss = true;
    let anySgdConverged = false;
    let switchOk = true;
    let initsIdentical = true;
    // The implicit-regularization contrast itself: at one η, from one init, both converged and
    // SGD's minimum is flatter (smaller Tr G) than GD's.
    let sgdFlatterSomewhere = false;
    let expectedRuns = 0;
    const perMethod: Record<string, Record<string, number[]>> = { GD: {}, SGD: {} };
    for (const m of ['GD', 'SGD']) for (const k of ['traceG', 'frobeniusG', 'lambdaMaxG', 'testError', 'l1Norm']) perMethod[m]![k] = cfg.etas.map(() => 0);
    const counts: Record<string, number[]> = { GD: cfg.etas.map(() => 0), SGD: cfg.etas.map(() => 0) };
    const numbers: Record<string, number> = { nTrain: cfg.nTrain, d: cfg.d, sparsity: cfg.sparsity, teacherL1 };

    context.seeds.forEach((seed, s) => {
      const init = diagonalInit(cfg.d, cfg.initScale, seed);
      const initAgain = diagonalInit(cfg.d, cfg.initScale, seed);
      if (!init.a.every((v, j) => v === initAgain.a[j]) || !init.b.every((v, j) => v === initAgain.b[j])) initsIdentical = false;
      const initGram = diagonalGram(init, train);
      numbers[`init.traceG.seed${seed}`] = initGram.traceG;
      numbers[`init.lambdaMaxG.seed${seed}`] = initGram.lambdaMaxG;
      cfg.etas.forEach((eta, e) => {
        const traceAt: Partial<Record<'GD' | 'SGD', number>> = {};
        (['GD', 'SGD'] as const).forEach((method, k) => {
          const batch = method === 'GD' ? cfg.nTrain : 1;
          expectedRuns++;
          const { diverged, metrics } = gridOutputs[(s * cfg.etas.length + e) * 2 + k]!;
          runs.push({ id: `${method}-eta${eta}-seed${seed}`, config: { method, eta, batch, seed, steps: cfg.steps }, diverged, metrics });
          if (!diverged) {
            if (!(metrics.trainLoss! < cfg.lossTolerance)) allSmallLoss = false;
            for (const key of Object.keys(perMethod[method]!)) perMethod[method]![key]![e]! += metrics[key]!;
            counts[method]![e]!++;
            traceAt[method] = metrics.traceG!;
            if (method === 'SGD') {
              anySgdConverged = true;
              if (metrics.traceG! > (2 / eta) * (1 + tol)) sgdTraceOk = false;
            } else {
              if (metrics.lambdaMaxG! > (2 / eta) * (1 + tol)) gdLambdaOk = false;
              if (metrics.traceG! > 2 / eta) gdTraceAbove = true;
            }
          } else if (method === 'GD') {
            gdLambdaOk = false;
          }
        });
        if (traceAt.GD !== undefined && traceAt.SGD !== undefined && traceAt.SGD < traceAt.GD) sgdFlatterSomewhere = true;
      });

      // Switch test: GD to a minimum at switchEta, then continue with batch 1 and a large batch.
      const eta = cfg.switchEta;
      const { gd, continuations } = switchOutputs[s]!;
      expectedRuns += gd.diverged ? 1 : 3;
      runs.push({ id: `switch-GD-eta${eta}-seed${seed}`, config: { method: 'GD', phase: 'switch-start', eta, batch: cfg.nTrain, seed, steps: cfg.steps }, diverged: gd.diverged, metrics: gd.metrics });
      if (gd.diverged) {
        switchOk = false;
        return;
      }
      if (!(gd.metrics.trainLoss! < cfg.lossTolerance)) allSmallLoss = false;
      numbers[`switch.start.traceOverTwoOverEta.seed${seed}`] = gd.metrics.traceG! / (2 / eta);
      const outcome: Record<string, boolean> = {};
      for (const cont of continuations) {
        outcome[cont.label] = cont.outcome;
        runs.push({
          id: `switch-${cont.label}-eta${eta}-seed${seed}`,
          config: { method: cont.label === 'batch1' ? 'SGD' : 'SGD-large-batch', phase: 'switch-continue', eta, batch: cont.batch, seed, steps: cfg.switchSteps },
          diverged: cont.diverged,
          metrics: cont.metrics,
        });
      }
      if (!(gd.metrics.traceG! > 2 / eta && outcome.batch1 && outcome.largeBatch)) switchOk = false;
    });

    const relu = summarizeRelu(context.size, context.seeds, reluGrid, reluOutputs);
    runs.push(...relu.runs);
    expectedRuns += relu.runs.length;
    Object.assign(numbers, relu.numbers);

    const avg = (m: string, k: string) => perMethod[m]![k]!.map((v, e) => (counts[m]![e]! > 0 ? v / counts[m]![e]! : NaN));
    const diagonalInconclusive = !allSmallLoss || !anySgdConverged;
    const diagonalPass = sgdTraceOk && gdLambdaOk && gdTraceAbove && switchOk && sgdFlatterSomewhere;
    let verdict: Verdict;
    if (diagonalInconclusive || relu.inconclusive) verdict = 'INCONCLUSIVE';
    else if (diagonalPass && relu.pass) verdict = 'REPRODUCED';
    else verdict = 'NOT REPRODUCED';
    const verdictDetail =
      `Diagonal: all converged runs reach loss < ${cfg.lossTolerance}: ${allSmallLoss}; SGD Tr G ≤ (2/η)(1+${tol}): ${sgdTraceOk}; GD λ_max ≤ (2/η)(1+${tol}): ${gdLambdaOk}; ` +
      `GD Tr G > 2/η for some η: ${gdTraceAbove}; SGD ends flatter than GD (smaller Tr G) at some η where both converged: ${sgdFlatterSomewhere}; switch test (batch 1 escapes, batch ${cfg.largeBatch} stays): ${switchOk}; ` +
      `${runs.filter((r) => r.diverged && r.config.method === 'SGD' && r.config.phase === undefined && r.config.part === undefined).length} batch-1 SGD grid runs diverged (counted as not settling at a minimum with Tr G > 2/η). ` +
      `Diagonal part: ${diagonalInconclusive ? 'inconclusive' : diagonalPass ? 'passes' : 'fails'}. ${relu.detail} ReLU clause: ${relu.inconclusive ? 'inconclusive' : relu.pass ? 'passes' : 'fails'}.`;
    const etas = [...cfg.etas];
    const plots: Plot[] = [
      {
        id: 'sharpness-vs-eta',
        title: 'Diagonal linear network: sharpness of the final minimum vs 2/η (mean over converged seeds)',
        xLabel: 'learning rate η',
        yLabel: 'Tr G, ‖G‖_F, λ_max(G)',
        xLog: true,
        yLog: true,
        series: [
          { label: '2/η', x: etas, y: etas.map((e) => 2 / e) },
          ...(['GD', 'SGD'] as const).flatMap((m) => [
            { label: `${m}: Tr G`, x: etas, y: avg(m, 'traceG') },
            { label: `${m}: ‖G‖_F`, x: etas, y: avg(m, 'frobeniusG') },
            { label: `${m}: λ_max(G)`, x: etas, y: avg(m, 'lambdaMaxG') },
          ]),
        ],
      },
      {
        id: 'generalization-vs-eta',
        title: 'Diagonal linear network: test error and ‖a ⊙ b‖₁ vs learning rate',
        xLabel: 'learning rate η',
        yLabel: 'test mean squared error / ℓ₁ norm',
        xLog: true,
        series: [
          ...(['GD', 'SGD'] as const).flatMap((m) => [
            { label: `${m}: test MSE`, x: etas, y: avg(m, 'testError') },
            { label: `${m}: ‖a ⊙ b‖₁`, x: etas, y: avg(m, 'l1Norm') },
          ]),
          { label: `teacher ‖w*‖₁`, x: etas, y: etas.map(() => teacherL1) },
        ],
      },
      ...relu.plots,
    ];
    const converged = runs.filter((r) => !r.diverged);
    context.progress(1, 'done');
    return {
      preset: 'stability',
      size: context.size,
      verdict,
      verdictDetail,
      numbers,
      plots,
      runs,
      checks: {
        traceAtLeastLambdaMax: converged.every((r) => r.metrics.traceG! >= r.metrics.lambdaMaxG! * (1 - 1e-12)),
        frobeniusAtMostTrace: converged.every((r) => r.metrics.frobeniusG! <= r.metrics.traceG! * (1 + 1e-12)),
        everyRunListed: runs.length === expectedRuns,
        pairedInitsIdentical: initsIdentical,
        divergedRunsHaveNaNMetrics: runs.filter((r) => r.diverged).every((r) => Number.isNaN(r.metrics.traceG)),
        ...relu.checks,
      },
    };
  },
};
