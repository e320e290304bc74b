/**
 * streaming-svrg: Defazio & Bottou 2019, §6 and Fig. 4 (docs/research.md §1), in small form.
 *
 * The mega-batch variants of SVRG replace the full-data snapshot gradient μ̃ by g̃ = g_M(w̃) on a
 * mega-batch M (|M| = B, 10–32 × b) and take a short inner loop of steps
 *
 *   v = g_S(w) − g_S(w̃) + g̃,      |S| = b.
 *
 * We train a float64 MLP on a seeded MNIST subset with the engine's own estimators
 * (src/optim/streaming.ts), each wrapped in a probe that lets the real `direction` run and then
 * measures, at the point w where that direction was computed and at the estimator's own
 * snapshot w̃, the per-step variance of the direction over the data (analysis/streaming-variance.ts):
 *
 *   V_stream = f(N,b)·V(g(w) − g(w̃)) + f(N,B)·V(g(w̃)) [+ 2 f(N,B)·C when S ⊂ M],
 *   V_SGD    = f(N,b)·V(g(w)),          f(N,k) = (N − k)/(k(N − 1)),
 *
 * with per-sample rows on a fixed random subset of the training set standing in for "the full
 * dataset" (no BatchNorm, so rows do not interact). The mega-batch term is what makes the first
 * step ≈ b/B rather than 0: variance-ratio.ts's per-sample form, which treats the snapshot
 * gradient as fixed, is the inner part alone, V(g(w) − g(w̃)) / V(g(w)), plotted separately.
 *
 * The ratio R_k = V_stream / V_SGD is recorded at every inner step k = 0, 1, 2, … after a
 * mega-batch, for the first few mega-batches after a warm-up, for
 *   - streaming SVRG, fixed m = 10 inner steps, S independent of M;
 *   - SCSG with N ~ Geometric (mean B/b) inner steps, S independent of M;
 *   - SCSG as in the reference code: 10 inner steps, S drawn from M (adds the cross term),
 * each at B = 10 b and B = 32 b. Paired: per seed every run has the same data subset,
 * initialisation and batch order; the methods differ only in their estimator.
 */
import { type Batch, distanceFromSnapshot, type Estimator, flattenDirection, gradientRows, makeBatch, NonFiniteError, schedule, ScsgEstimator, SgdUpdate, type StepContext, streamingStepVariance, StreamingSvrgEstimator, type Tensor, train } from 'gradscope';
import type { Plot, Preset, PresetResult, RunContext, RunRecord, Series, Size } from '../preset.js';
import { flatMlp, mnistSubsets } from './variance-ratio.js';

export const METHODS = ['streaming-svrg', 'scsg-geometric', 'scsg-fixed10'] as const;
export type StreamingMethod = (typeof METHODS)[number];

const METHOD_LABEL: Record<StreamingMethod, string> = {
  'streaming-svrg': 'streaming SVRG (m = 10)',
  'scsg-geometric': 'SCSG (geometric inner count)',
  'scsg-fixed10': 'SCSG (10 steps from M, reference code)',
};

/** Mega-batch factors B / b. */
export const FACTORS = [10, 32] as const;
/** Inner steps of streaming SVRG and of reference-code SCSG. */
const INNER_STEPS = 10;
const SIZES = [784, 32, 10] as const;
const MOMENTUM = 0.9;

interface Budget {
  /** Training samples N (S and M are drawn from them). */
  n: number;
  /** Rows of the variance estimate: the first evalN training samples (a random subset). */
  evalN: number;
  batch: number;
  lr: number;
  /** Steps of training (by the method itself) before the measured mega-batches. */
  warmupSteps: number;
  /** Mega-batches measured, and inner steps measured per mega-batch (k = 0 … K − 1). */
  cycles: number;
  K: number;
}

const BUDGET: Record<Size, Budget> = {
  smoke: { n: 1024, evalN: 48, batch: 8, lr: 0.05, warmupSteps: 40, cycles: 2, K: 6 },
  // Warm-up: two epochs (2048 / 16 = 128 steps each).
  full: { n: 2048, evalN: 192, batch: 16, lr: 0.05, warmupSteps: 256, cycles: 4, K: 10 },
};

/** The inner step at which the rise is judged (the fifth step after the snapshot). */
export const RISE_STEP = 4;
/** Rule thresholds, declared before running. */
const STEP0_FACTOR = 2;
const RISE_FACTOR = 3;
const NO_RISE_FACTOR = 1.5;

export const RULE =
  `With b/B = 1/${FACTORS[0]} and 1/${FACTORS[1]} and R_k = V_stream/V_SGD at inner step k after a mega-batch: ` +
  `REPRODUCED if (a) on every seed, for every method and B, the mean over measured mega-batches of R_0 lies within a factor ${STEP0_FACTOR} of b/B, ` +
  `(b) on every seed and method R_0 at B = ${FACTORS[1]}b is below R_0 at B = ${FACTORS[0]}b, and ` +
  `(c) for every method and B, R_${RISE_STEP} (mean over seeds and mega-batches) is ≥ ${RISE_FACTOR} × R_0; ` +
  `NOT REPRODUCED if (a) or (b) fails on any seed, or R_${RISE_STEP} < ${NO_RISE_FACTOR} × R_0 for every method and B (no fast rise); INCONCLUSIVE otherwise ` +
  `(including a method and B with no mega-batch reaching step ${RISE_STEP}).`;

// ---- one run (a task) ----------------------------------------------------------------------

export interface StreamingInput {
  seed: number;
  method: StreamingMethod;
  factor: number;
  size: Size;
}

export interface StepMeasurement {
  cycle: number;
  k: number;
  step: number;
  ratio: number;
  vSgd: number;
  vStreaming: number;
  /** The three parts of V_stream divided by V_SGD. */
  innerPart: number;
  megaPart: number;
  crossPart: number;
  /** V(g(w) − g(w̃)) over the rows (0 at k = 0). */
  vDifference: number;
  distance: number;
}

export interface StreamingRun {
  measurements: StepMeasurement[];
  /** Lengths (inner steps) of the measured mega-batch cycles that completed. */
  cycleLengths: number[];
  /** |M| of every measured mega-batch. */
  megaBatchSizes: number[];
  /** max |v − g̃| / max |g̃| over the first inner steps (0 when v = g̃ exactly). */
  firstStepMismatch: number;
  N: number;
  b: number;
  B: number;
  diverged: boolean;
  /** Minibatch loss of the last step taken. */
  lastLoss: number;
}

type MegaEstimator = StreamingSvrgEstimator | ScsgEstimator;

function makeEstimator(method: StreamingMethod, factor: number, seed: number): MegaEstimator {
  const common = { megaBatchFactor: factor, locking: true, seed: seed * 1009 + 7 };
  if (method === 'streaming-svrg') return new StreamingSvrgEstimator({ ...common, innerSteps: INNER_STEPS });
  if (method === 'scsg-geometric') return new ScsgEstimator({ ...common, innerSteps: 'geometric' });
  return new ScsgEstimator({ ...common, innerSteps: INNER_STEPS });
}

/** What the probe sees after the real estimator produced a direction. */
interface ProbeStep {
  context: StepContext;
  /** The point w the direction was computed at (the parameters before the update). */
  w: Tensor;
  /** Whether this step took a new mega-batch (the snapshot object changed). */
  fresh: boolean;
  snapshot: { wTilde: Tensor; gTilde: Tensor; megaBatch: readonly number[] };
  direction: Tensor[];
}

/** Delegates everything to the real estimator and shows each step to `observe`. */
class Probe implements Estimator {
  readonly name: string;
  constructor(
    private readonly inner: MegaEstimator,
    private readonly observe: (step: ProbeStep) => void,
  ) {
    this.name = `probe(${inner.name})`;
  }

  get cost(): number {
    return this.inner.cost;
  }

  get lastLoss(): number {
    return this.inner.lastLoss;
  }

  direction(context: StepContext, batch: Batch): Tensor[] {
    const before = this.inner.snapshot?.wTilde ?? null;
    const w = context.model.flattenParameters();
    const direction = this.inner.direction(context, batch);
    const snapshot = this.inner.snapshot!;
    this.observe({ context, w, fresh: snapshot.wTilde !== before, snapshot, direction });
    return direction;
  }
}

/** Thrown by the probe once every cycle is measured, to end training early. */
class MeasurementDone extends Error {}

/** Train with one mega-batch estimator and measure R_k for the first `cycles` mega-batches after the warm-up. */
export function measureStreaming({ seed, method, factor, size }: StreamingInput): StreamingRun {
  const budget = BUDGET[size];
  const { train: data } = mnistSubsets(seed, budget.n, 0);
  const model = flatMlp(SIZES, seed);
  const evalBatch = makeBatch(data, Array.from({ length: budget.evalN }, (_, i) => i), { dtype: 'float64', seed });
  const options = { batchNorm: 'eval' as const };
  const N = data.length;
  const b = budget.batch;
  const B = Math.min(N, factor * b);
  const warmupSteps = budget.warmupSteps;

  const measurements: StepMeasurement[] = [];
  const cycleLengths: number[] = [];
  const megaBatchSizes: number[] = [];
  let firstStepMismatch = 0;
  let cycle = -1;
  let k = 0;
  let snapshotRows: Tensor | null = null;

  const inner = makeEstimator(method, factor, seed);
  const probe = new Probe(inner, ({ context, w, fresh, snapshot, direction }) => {
    if (fresh) {
      if (cycle >= 0) cycleLengths.push(k + 1);
      if (cycle >= 0 || context.step >= warmupSteps) cycle++;
      k = 0;
      if (cycle >= budget.cycles) throw new MeasurementDone();
      if (cycle >= 0) {
        snapshotRows = gradientRows(model, evalBatch, snapshot.wTilde, options);
        megaBatchSizes.push(snapshot.megaBatch.length);
        // At w = w̃ the direction is g_S(w̃) − g_S(w̃) + g̃ = g̃ exactly.
        const v = flattenDirection(direction);
        const g = snapshot.gTilde.contiguous().toTypedArray();
        let diff = 0;
        let scale = 0;
        for (let j = 0; j < v.length; j++) {
          diff = Math.max(diff, Math.abs(v[j]! - g[j]!));
          scale = Math.max(scale, Math.abs(g[j]!));
        }
        firstStepMismatch = Math.max(firstStepMismatch, diff / scale);
      }
    } else {
      k++;
    }
    if (cycle < 0 || k >= budget.K) return;
    const rowsW = k === 0 ? snapshotRows! : gradientRows(model, evalBatch, w, options);
    const s = streamingStepVariance(rowsW, snapshotRows!, { N, b, B, innerFromMegaBatch: method === 'scsg-fixed10' });
    measurements.push({
      cycle,
      k,
      step: context.step,
      ratio: s.ratio,
      vSgd: s.vSgd,
      vStreaming: s.vStreaming,
      innerPart: s.inner / s.vSgd,
      megaPart: s.mega / s.vSgd,
      crossPart: s.cross / s.vSgd,
      vDifference: s.vDifference,
      distance: distanceFromSnapshot(w, snapshot.wTilde),
    });
  });

  let diverged = false;
  let lastLoss = Number.NaN;
  try {
    // Generous cap: training normally stops through MeasurementDone.
    const result = train(model, data, {
      estimator: probe,
      update: new SgdUpdate({ momentum: MOMENTUM }),
      schedule: schedule(budget.lr, b),
      epochs: Math.ceil(budget.warmupSteps / Math.ceil(N / b)) + 3,
      seed,
    });
    lastLoss = result.losses.at(-1) ?? Number.NaN;
  } catch (error) {
    if (error instanceof MeasurementDone) lastLoss = inner.lastLoss;
    else if (error instanceof NonFiniteError) diverged = true;
    else throw error;
  }
  return { measurements, cycleLengths, megaBatchSizes, firstStepMismatch, N, b, B, diverged, lastLoss };
}

// ---- the preset ----------------------------------------------------------------------------

const mean = (xs: readonly number[]) => (xs.length === 0 ? Number.NaN : xs.reduce((s, v) => s + v, 0) / xs.length);

/** Mean of a field at inner step k over the given runs' measured cycles (NaN when none reached k). */
function atStep(runs: readonly StreamingRun[], k: number, f: (m: StepMeasurement) => number): number {
  return mean(runs.flatMap((r) => r.measurements.filter((m) => m.k === k).map(f)));
}

export const streamingSvrgPreset: Preset = {
  name: 'streaming-svrg',
  paper: 'Defazio & Bottou 2019, "On the ineffectiveness of variance reduced optimization for deep learning", §6, Fig. 4',
  claim: 'The first step after a mega-batch snapshot of streaming SVRG / SCSG has about b/B of SGD’s variance (only the mega-batch term is left), and the variance then rises quickly over the following inner steps.',
  rule: RULE,
  seeds: [1, 2],
  tasks: { measure: measureStreaming },
  async run(context: RunContext): Promise<PresetResult> {
    const budget = BUDGET[context.size];
    const seeds = context.seeds;
    const grid: StreamingInput[] = seeds.flatMap((seed) => METHODS.flatMap((method) => FACTORS.map((factor) => ({ seed, method, factor, size: context.size }))));
    context.progress(0, `${grid.length} runs`);
    const outputs = await context.map<StreamingInput, StreamingRun>('measure', grid, (done, total) => context.progress(done / total, `${done} of ${total} runs`));
    const byKey = new Map<string, StreamingRun>();
    const key = (seed: number, method: string, factor: number) => `${method}-B${factor}b-seed${seed}`;
    grid.forEach((g, i) => byKey.set(key(g.seed, g.method, g.factor), outputs[i]!));

    // ---- every run ------------------------------------------------------------------------
    const runs: RunRecord[] = grid.map((g, i) => {
      const r = outputs[i]!;
      const metrics: Record<string, number> = {
        N: r.N,
        b: r.b,
        B: r.B,
        'b/B': r.b / r.B,
        lastLoss: r.lastLoss,
        measuredCycles: r.megaBatchSizes.length,
        firstStepMismatch: r.firstStepMismatch,
      };
      for (let k = 0; k < budget.K; k++) {
        const v = atStep([r], k, (m) => m.ratio);
        if (Number.isFinite(v)) metrics[`R_${k}`] = v;
      }
      r.cycleLengths.forEach((len, c) => (metrics[`cycle ${c} length`] = len));
      return {
        id: key(g.seed, g.method, g.factor),
        config: { seed: g.seed, method: g.method, factor: g.factor, b: r.b, B: r.B, N: r.N, evalN: budget.evalN, lr: budget.lr, momentum: MOMENTUM, warmupSteps: budget.warmupSteps, model: SIZES.join('-') },
        diverged: r.diverged,
        metrics,
      };
    });

    // ---- verdict, by the declared rule ----------------------------------------------------------
    const numbers: Record<string, number> = {};
    let step0Ok = true;
    let orderOk = true;
    let allRise = true;
    let noneRise = true;
    let missing = false;
    const failures: string[] = [];
    const slow: string[] = [];
    for (const seed of seeds) {
      for (const method of METHODS) {
        const r0 = FACTORS.map((f) => atStep([byKey.get(key(seed, method, f))!], 0, (m) => m.ratio));
        FACTORS.forEach((f, i) => {
          const target = 1 / f;
          const ok = r0[i]! >= target / STEP0_FACTOR && r0[i]! <= target * STEP0_FACTOR;
          if (!ok) {
            step0Ok = false;
            failures.push(`seed ${seed} ${method} B=${f}b: R_0 = ${r0[i]!.toPrecision(3)}`);
          }
        });
        if (!(r0[1]! < r0[0]!)) {
          orderOk = false;
          failures.push(`seed ${seed} ${method}: R_0 not smaller at the larger B`);
        }
      }
    }
    for (const method of METHODS) {
      for (const f of FACTORS) {
        const own = seeds.map((seed) => byKey.get(key(seed, method, f))!);
        const r0 = atStep(own, 0, (m) => m.ratio);
        const rise = atStep(own, RISE_STEP, (m) => m.ratio);
        numbers[`${method}, B=${f}b: R_0 (b/B = ${(1 / f).toPrecision(3)})`] = r0;
        numbers[`${method}, B=${f}b: R_1`] = atStep(own, 1, (m) => m.ratio);
        numbers[`${method}, B=${f}b: R_${RISE_STEP}`] = rise;
        numbers[`${method}, B=${f}b: R_${budget.K - 1}`] = atStep(own, budget.K - 1, (m) => m.ratio);
        if (!Number.isFinite(rise)) {
          missing = true;
          allRise = false;
          continue;
        }
        if (!(rise >= RISE_FACTOR * r0)) {
          allRise = false;
          slow.push(`${method} B=${f}b: R_${RISE_STEP} = ${rise.toPrecision(3)} vs ${RISE_FACTOR}·R_0 = ${(RISE_FACTOR * r0).toPrecision(3)}`);
        }
        if (rise >= NO_RISE_FACTOR * r0) noneRise = false;
      }
    }
    const verdict = !step0Ok || !orderOk || noneRise ? 'NOT REPRODUCED' : allRise && !missing ? 'REPRODUCED' : 'INCONCLUSIVE';
    const verdictDetail =
      `(a) R_0 within ×${STEP0_FACTOR} of b/B on every seed, method and B: ${step0Ok ? 'yes' : 'no'}; ` +
      `(b) R_0 smaller at B = ${FACTORS[1]}b than at ${FACTORS[0]}b on every seed and method: ${orderOk ? 'yes' : 'no'}; ` +
      `(c) R_${RISE_STEP} ≥ ${RISE_FACTOR}·R_0 for every method and B: ${allRise ? 'yes' : `no (${slow.join('; ')})`}${missing ? ` (some method/B has no mega-batch reaching step ${RISE_STEP})` : ''}` +
      `${noneRise ? `; R_${RISE_STEP} < ${NO_RISE_FACTOR}·R_0 everywhere (no rise)` : ''}` +
      `${failures.length ? `. Failures: ${failures.join('; ')}` : ''}.`;

    // ---- plots ------------------------------------------------------------------------------
    const steps = Array.from({ length: budget.K }, (_, k) => k);
    const meanSeries: Series[] = [];
    const runSeries: Series[] = [];
    const partSeries: Series[] = [];
    const distanceSeries: Series[] = [];
    for (const method of METHODS) {
      for (const f of FACTORS) {
        const own = seeds.map((seed) => byKey.get(key(seed, method, f))!);
        const label = `${METHOD_LABEL[method]}, B = ${f}b`;
        meanSeries.push({ label, x: steps, y: steps.map((k) => atStep(own, k, (m) => m.ratio)) });
        distanceSeries.push({ label, x: steps, y: steps.map((k) => atStep(own, k, (m) => m.distance)) });
        partSeries.push({ label: `${label}: inner part f(N,b)V(g(w)−g(w̃)) / V_SGD`, x: steps, y: steps.map((k) => atStep(own, k, (m) => m.innerPart)) });
        partSeries.push({ label: `${label}: mega-batch part f(N,B)V(g(w̃)) / V_SGD`, x: steps, y: steps.map((k) => atStep(own, k, (m) => m.megaPart)) });
        if (method === 'scsg-fixed10') partSeries.push({ label: `${label}: cross part 2f(N,B)C / V_SGD`, x: steps, y: steps.map((k) => atStep(own, k, (m) => m.crossPart)) });
        for (const seed of seeds) {
          const run = byKey.get(key(seed, method, f))!;
          for (let c = 0; c < run.megaBatchSizes.length; c++) {
            const ms = run.measurements.filter((m) => m.cycle === c);
            runSeries.push({ label: `${label}, seed ${seed}, mega-batch ${c}`, x: ms.map((m) => m.k), y: ms.map((m) => m.ratio) });
          }
        }
      }
    }
    for (const f of FACTORS) meanSeries.push({ label: `reference b/B = 1/${f}`, x: steps, y: steps.map(() => 1 / f) });
    meanSeries.push({ label: 'SGD (R = 1)', x: steps, y: steps.map(() => 1) });
    const plots: Plot[] = [
      { id: 'streaming-variance', title: 'Per-step variance after a mega-batch snapshot, V_stream / V_SGD (mean over seeds and mega-batches)', xLabel: 'inner step k after the mega-batch', yLabel: 'R_k = V_stream / V_SGD', yLog: true, series: meanSeries },
      { id: 'streaming-variance-runs', title: 'V_stream / V_SGD for every run and measured mega-batch', xLabel: 'inner step k after the mega-batch', yLabel: 'R_k = V_stream / V_SGD', yLog: true, series: runSeries },
      { id: 'variance-parts', title: 'Parts of the per-step variance (divided by V_SGD; mean over seeds and mega-batches)', xLabel: 'inner step k after the mega-batch', yLabel: 'part / V_SGD', yLog: true, series: partSeries.filter((s) => !s.label.includes('cross')) },
      { id: 'distance', title: 'Distance from the snapshot ‖w − w̃‖ (mean over seeds and mega-batches)', xLabel: 'inner step k after the mega-batch', yLabel: '‖w − w̃‖', series: distanceSeries },
    ];
    const cross = partSeries.filter((s) => s.label.includes('cross'));
    if (cross.length > 0) plots.push({ id: 'cross-term', title: 'SCSG (S ⊂ M): cross term 2 f(N,B) C(g(w) − g(w̃), g(w̃)) / V_SGD', xLabel: 'inner step k after the mega-batch', yLabel: 'cross part / V_SGD', series: cross });

    const all = outputs;
    const fixed = grid.map((g, i) => ({ g, r: outputs[i]! })).filter(({ g }) => g.method !== 'scsg-geometric');
    const checks: Record<string, boolean> = {
      'the first inner step’s direction equals the mega-batch gradient g̃ exactly (w = w̃)': all.every((r) => r.megaBatchSizes.length > 0 && r.firstStepMismatch === 0),
      'V(g(w) − g(w̃)) = 0 at the first inner step': all.every((r) => r.measurements.filter((m) => m.k === 0).every((m) => m.vDifference === 0)),
      'R_0 = (b/B)(N − B)/(N − b) at the first inner step': all.every((r) => r.measurements.filter((m) => m.k === 0).every((m) => Math.abs(m.ratio - ((r.b / r.B) * (r.N - r.B)) / (r.N - r.b)) <= 1e-9)),
      'every mega-batch has B = factor × b samples': grid.every((g, i) => outputs[i]!.megaBatchSizes.every((s) => s === g.factor * outputs[i]!.b)),
      'fixed-count methods take exactly 10 inner steps per mega-batch': fixed.every(({ r }) => r.cycleLengths.every((len) => len === INNER_STEPS)),
      'inner steps are counted 0, 1, 2, … within each mega-batch': all.every((r) => r.measurements.every((m, i, ms) => (m.k === 0 ? i === 0 || ms[i - 1]!.cycle === m.cycle - 1 : ms[i - 1]!.cycle === m.cycle && ms[i - 1]!.k === m.k - 1 && ms[i - 1]!.step === m.step - 1))),
      'every measurement has V_SGD > 0': all.every((r) => r.measurements.every((m) => m.vSgd > 0)),
      'no run diverged': all.every((r) => !r.diverged),
    };
    return { preset: 'streaming-svrg', size: context.size, verdict, verdictDetail, numbers, plots, runs, checks };
  },
};
