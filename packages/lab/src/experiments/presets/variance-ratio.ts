/**
 * variance-ratio: Defazio & Bottou 2019, Fig. 2–3 (docs/research.md §1), in small form.
 *
 * SVRG (snapshot every epoch, last iterate, locking on, momentum 0.9) trains an MLP on a seeded
 * MNIST subset. At the positions 2, 11, 33, 66, 98 % of every epoch (train's onPosition hook,
 * before that step) and at 0 % (w = w̃, before the epoch's first step) we measure over a fixed
 * evaluation subset, with per-sample gradient rows (no BatchNorm, so rows do not interact):
 *
 *   V_SGD  = (1/n) Σ ‖gᵢ(w) − ḡ(w)‖²,
 *   V_SVRG = (1/n) Σ ‖gᵢ(w) − gᵢ(w̃) + μ̃ − mean‖²,   R = V_SVRG / V_SGD,
 *
 * the distance ‖w − w̃‖, the curvature estimate ‖g_S(w) − g_S(w̃)‖ / ‖w − w̃‖ on the evaluation
 * batch, and a stale-snapshot control (w̃ of the previous epoch; from the second epoch on). The
 * snapshot w̃ is read from the estimator itself (`SvrgEstimator.snapshot`), i.e. exactly the
 * point the optimizer uses. Models: a small MLP and a larger one at both sizes; at full size
 * also LeNet-5 (without BatchNorm, float32) and ResNet-8 of width 8 (BatchNorm, float32), on a smaller
 * subset because a convolutional SVRG epoch costs more. ResNet-8's samples interact through
 * BatchNorm in train mode, so its rows are the gradients of a fixed partition of the
 * evaluation batch into minibatches of 8 (docs/research.md §1), evaluated in train mode with frozen
 * statistics; every other model's rows are per-sample gradients.
 *
 * The epoch has enough steps that 2 % is a step after the snapshot (step ≥ 1), not the
 * snapshot itself. Each (model, seed) pair is one task, so `--workers 2` runs two at a time.
 */
import { type Batch, controlVariateRows, curvatureEstimate, type Dataset, distanceFromSnapshot, estimatorVariance, foldIn, gradientRows, keyedPermutation, lenet5, makeBatch, makeKey, mlp, type Module, resnet8, schedule, SgdUpdate, subset, svrg, type SvrgEstimator, type Tensor, train } from 'gradscope';
import { loadMnist } from 'gradscope/data';
import type { Plot, Preset, PresetResult, RunContext, RunRecord, Series, Size } from '../preset.js';

export const POSITIONS = [0.02, 0.11, 0.33, 0.66, 0.98] as const;

interface Budget {
  n: number;
  evalN: number;
  epochs: number;
  batch: number;
  lr: number;
}

interface ModelSpec {
  label: 'small' | 'large' | 'lenet5' | 'resnet8';
  /** What the report calls it. */
  description: string;
  build(seed: number): Module;
  /** Flat 784-vectors (MLPs) or 1×28×28 images (convolutional models). */
  input: 'flat' | 'image';
  /** BatchNorm mode of the measurements, and the minibatch of the fixed partition where samples interact. */
  rows: { batchNorm: 'eval' | 'train'; minibatchSize?: number };
  budget: Record<Size, Budget>;
}

const MLP_BUDGET: Record<Size, Budget> = {
  // 512 / 8 = 64 steps per epoch: 2 % is step 1 (one step after the snapshot).
  smoke: { n: 512, evalN: 24, epochs: 2, batch: 8, lr: 0.01 },
  full: { n: 4096, evalN: 128, epochs: 4, batch: 32, lr: 0.01 },
};
/** 2048 / 32 = 64 steps per epoch, so 2 % is again step 1. */
const CONV_BUDGET: Budget = { n: 2048, evalN: 64, epochs: 3, batch: 32, lr: 0.01 };

const mlpSpec = (label: 'small' | 'large', sizes: readonly number[]): ModelSpec => ({
  label,
  description: `${label} MLP (${sizes.join('-')})`,
  build: (seed) => flatMlp(sizes, seed),
  input: 'flat',
  rows: { batchNorm: 'eval' },
  budget: MLP_BUDGET,
});

const MODELS: Record<Size, readonly ModelSpec[]> = {
  smoke: [mlpSpec('small', [784, 32, 10]), mlpSpec('large', [784, 128, 128, 10])],
  full: [
    mlpSpec('small', [784, 32, 10]),
    mlpSpec('large', [784, 128, 128, 10]),
    {
      label: 'lenet5',
      description: 'LeNet-5 (no BatchNorm)',
      build: (seed) => lenet5({ seed, batchNorm: false }),
      input: 'image',
      rows: { batchNorm: 'eval' },
      budget: { smoke: CONV_BUDGET, full: CONV_BUDGET },
    },
    {
      label: 'resnet8',
      description: 'ResNet-8, width 8 (BatchNorm; rows over minibatches of 8)',
      build: (seed) => resnet8({ seed, width: 8 }),
      input: 'image',
      rows: { batchNorm: 'train', minibatchSize: 8 },
      budget: { smoke: CONV_BUDGET, full: CONV_BUDGET },
    },
  ],
};

const findModel = (size: Size, label: string): ModelSpec => {
  const spec = MODELS[size].find((m) => m.label === label);
  if (!spec) throw new Error(`variance-ratio: no model '${label}' at size ${size}`);
  return spec;
};

/**
 * A seeded MNIST subset of n training samples and a disjoint evaluation subset of m, as flat
 * 784-vectors (or as 1×28×28 images with `input: 'image'`).
 */
export function mnistSubsets(seed: number, n: number, m: number, input: 'flat' | 'image' = 'flat'): { train: Dataset; evaluation: Dataset } {
  const all = loadMnist();
  const order = keyedPermutation(all.length, foldIn(makeKey(seed), 0x6d6e));
  const shape = input === 'flat' ? flat : (d: Dataset) => d;
  return {
    train: shape(subset(all, order.subarray(0, n), `mnist-${n}`)),
    evaluation: shape(subset(all, order.subarray(n, n + m), `mnist-eval-${m}`)),
  };
}

/** The same samples with features seen as flat vectors [784] (the per-sample gradient tracer needs an MLP input). */
function flat(data: Dataset): Dataset {
  const size = data.sampleShape.reduce((a, b) => a * b, 1);
  return { name: data.name, length: data.length, sampleShape: [size], classes: data.classes, get: (i) => data.get(i) };
}

/** An MLP on flat 784-vectors, float64 (exact zero checks). */
export function flatMlp(sizes: readonly number[], seed: number, options: { dropout?: number; batchNorm?: boolean } = {}): Module {
  return mlp(sizes, { seed, dtype: 'float64', ...options });
}

/** One measurement at a position of an epoch. */
export interface Measurement {
  epoch: number;
  /** The requested position (0 or one of POSITIONS). */
  nominal: number;
  /** The position actually measured: stepInEpoch / stepsInEpoch. */
  position: number;
  vSgd: number;
  vSvrg: number;
  ratio: number;
  staleRatio: number;
  distance: number;
  curvature: number;
}

export interface VarianceRun {
  measurements: Measurement[];
  finalLoss: number;
}

/** A task: one model and one seed at a size. */
export interface MeasureInput {
  model: ModelSpec['label'];
  seed: number;
  size: Size;
}

/** Train one model with SVRG and measure at 0 % and POSITIONS of every epoch. */
export function measureRun({ model: label, seed, size }: MeasureInput): VarianceRun {
  const spec = findModel(size, label);
  const budget = spec.budget[size];
  const data = mnistSubsets(seed, budget.n, budget.evalN, spec.input);
  const model = spec.build(seed);
  const dtype = model.parameters()[0]!.dtype;
  const evalBatch: Batch = makeBatch(data.evaluation, Array.from({ length: data.evaluation.length }, (_, i) => i), { dtype, seed });
  const opts = spec.rows;
  const estimator: SvrgEstimator = svrg({ locking: true });
  const measurements: Measurement[] = [];
  let snapshotEpoch = -1;
  let snapshotRows: Tensor | null = null;
  let staleRows: Tensor | null = null;
  let currentTilde: Tensor | null = null;
  const result = train(model, data.train, {
    estimator,
    update: new SgdUpdate({ momentum: 0.9 }),
    schedule: schedule(budget.lr, budget.batch),
    epochs: budget.epochs,
    seed,
    positions: [0, ...POSITIONS],
    onPosition: (info) => {
      const snap = estimator.snapshot!;
      if (info.epoch !== snapshotEpoch) {
        staleRows = snapshotRows;
        snapshotRows = gradientRows(model, evalBatch, snap.wTilde, opts);
        currentTilde = snap.wTilde;
        snapshotEpoch = info.epoch;
      }
      const w = model.flattenParameters();
      const rowsW = gradientRows(model, evalBatch, w, opts);
      const vSgd = estimatorVariance(rowsW);
      const vSvrg = estimatorVariance(controlVariateRows(rowsW, snapshotRows!, 1));
      const staleRatio = staleRows ? estimatorVariance(controlVariateRows(rowsW, staleRows, 1)) / vSgd : Number.NaN;
      const distance = distanceFromSnapshot(w, currentTilde!);
      const curvature = distance > 0 ? curvatureEstimate(model, evalBatch, w, currentTilde!, opts) : Number.NaN;
      const nominal = [0, ...POSITIONS].find((p) => Math.min(info.stepsInEpoch - 1, Math.floor(p * info.stepsInEpoch)) === info.stepInEpoch) ?? info.position;
      measurements.push({ epoch: info.epoch, nominal, position: info.position, vSgd, vSvrg, ratio: vSvrg / vSgd, staleRatio, distance, curvature });
    },
  });
  return { measurements, finalLoss: result.losses[result.losses.length - 1] ?? Number.NaN };
}

/** The models the rule calls larger than the small MLP (LeNet-5 is reported but not judged: the paper finds it reduces variance well). */
const LARGER = ['large', 'resnet8'] as const;

const RULE =
  'REPRODUCED if, on every seed, the small model’s R = V_SVRG/V_SGD at 2 % of the first epoch is < 1/3 and R at 98 % of that epoch exceeds R at 2 %, and each larger model’s (the larger MLP; at full size also ResNet-8) mean R over the positions (all epochs, mean over seeds) is ≥ the small model’s; NOT REPRODUCED if the small model’s R at 2 % of the first epoch is ≥ 1 on any seed; INCONCLUSIVE otherwise. LeNet-5 (full size) is reported, not judged.';

const at = (ms: readonly Measurement[], epoch: number, p: number) => ms.find((m) => m.epoch === epoch && Math.abs(m.position - p) < 1e-9);

export const varianceRatioPreset: Preset = {
  name: 'variance-ratio',
  paper: 'Defazio & Bottou 2019, "On the ineffectiveness of variance reduced optimization for deep learning", Fig. 2–3',
  claim: 'SVRG reduces the gradient variance strongly just after a snapshot, but the reduction fades as the iterate moves away from the snapshot within an epoch, and larger models get less reduction.',
  rule: RULE,
  seeds: [1, 2],
  tasks: { measure: measureRun },
  async run(context: RunContext): Promise<PresetResult> {
    const size = context.size;
    const seeds = context.seeds;
    const models = MODELS[size];
    const runs: RunRecord[] = [];
    const results = new Map<string, VarianceRun>();
    const grid: MeasureInput[] = seeds.flatMap((seed) => models.map((spec) => ({ model: spec.label, seed, size })));
    context.progress(0, 'loading MNIST');
    const outputs = await context.map<MeasureInput, VarianceRun>('measure', grid, (done, total) => context.progress(done / total, `${done} of ${total} model × seed runs`));
    grid.forEach(({ model, seed }, i) => {
      const spec = findModel(size, model);
      const budget = spec.budget[size];
      const run = outputs[i]!;
      const id = `${spec.label}-seed${seed}`;
      results.set(id, run);
      const measured = run.measurements.filter((m) => m.position > 0);
      const metrics: Record<string, number> = {
        finalLoss: run.finalLoss,
        meanRatio: measured.reduce((s, m) => s + m.ratio, 0) / measured.length,
        ratioAtSnapshot: at(run.measurements, 0, 0)!.ratio,
      };
      for (const m of measured) {
        const p = Math.round(m.nominal * 1000) / 10;
        metrics[`R e${m.epoch} @${p}%`] = m.ratio;
        metrics[`distance e${m.epoch} @${p}%`] = m.distance;
        metrics[`curvature e${m.epoch} @${p}%`] = m.curvature;
        if (Number.isFinite(m.staleRatio)) metrics[`stale R e${m.epoch} @${p}%`] = m.staleRatio;
      }
      runs.push({
        id,
        config: {
          model: spec.label,
          description: spec.description,
          seed,
          n: budget.n,
          evalN: budget.evalN,
          epochs: budget.epochs,
          batch: budget.batch,
          lr: budget.lr,
          momentum: 0.9,
          locking: true,
          rows: spec.rows.minibatchSize ? `minibatches of ${spec.rows.minibatchSize} (BatchNorm train mode)` : 'per sample',
        },
        diverged: !Number.isFinite(run.finalLoss),
        metrics,
      });
    });

    // ---- verdict ------------------------------------------------------------------------
    const numbers: Record<string, number> = {};
    let allLow = true;
    let allRising = true;
    let anyHigh = false;
    const first = POSITIONS[0];
    const last = POSITIONS[POSITIONS.length - 1]!;
    for (const seed of seeds) {
      const ms = results.get(`small-seed${seed}`)!.measurements;
      const r2 = ms.find((m) => m.epoch === 0 && m.position > 0)!.ratio;
      const r98 = ms.filter((m) => m.epoch === 0).at(-1)!.ratio;
      numbers[`seed ${seed}: small R at ${first * 100}% of epoch 0`] = r2;
      numbers[`seed ${seed}: small R at ${last * 100}% of epoch 0`] = r98;
      if (!(r2 < 1 / 3)) allLow = false;
      if (!(r98 > r2)) allRising = false;
      if (!(r2 < 1)) anyHigh = true;
    }
    const meanOf = (label: string) => {
      const own = runs.filter((r) => r.config.model === label).map((r) => r.metrics.meanRatio!);
      return own.reduce((s, v) => s + v, 0) / own.length;
    };
    for (const spec of models) numbers[`${spec.label} model: mean R over positions`] = meanOf(spec.label);
    const smallMean = meanOf('small');
    const larger = models.filter((m) => (LARGER as readonly string[]).includes(m.label));
    const largerLess = larger.every((m) => meanOf(m.label) >= smallMean);
    const verdict = anyHigh ? 'NOT REPRODUCED' : allLow && allRising && largerLess ? 'REPRODUCED' : 'INCONCLUSIVE';
    const verdictDetail =
      `Small model, first epoch: R at 2 % < 1/3 on ${allLow ? 'every' : 'not every'} seed, rising to 98 % on ${allRising ? 'every' : 'not every'} seed; ` +
      `mean R: ${models.map((m) => `${m.label} ${meanOf(m.label).toPrecision(3)}`).join(', ')} ` +
      `(${largerLess ? 'every larger model gets less reduction' : 'a larger model gets MORE reduction than the small one'}).`;

    // ---- plots ----------------------------------------------------------------------------
    const ratioSeries: Series[] = [];
    const staleSeries: Series[] = [];
    const distanceSeries: Series[] = [];
    const curvatureSeries: Series[] = [];
    for (const spec of models) {
      for (let epoch = 0; epoch < spec.budget[size].epochs; epoch++) {
        const per = seeds.map((seed) => results.get(`${spec.label}-seed${seed}`)!.measurements.filter((m) => m.epoch === epoch && m.position > 0));
        const x = per[0]!.map((m) => m.nominal);
        const mean = (f: (m: Measurement) => number) => x.map((_, k) => per.reduce((s, ms) => s + f(ms[k]!), 0) / per.length);
        const label = `${spec.description}, epoch ${epoch}`;
        ratioSeries.push({ label, x, y: mean((m) => m.ratio) });
        distanceSeries.push({ label, x, y: mean((m) => m.distance) });
        curvatureSeries.push({ label, x, y: mean((m) => m.curvature) });
        if (epoch > 0) {
          staleSeries.push({ label: `${label}, current w̃`, x, y: mean((m) => m.ratio) });
          staleSeries.push({ label: `${label}, stale w̃ (previous epoch)`, x, y: mean((m) => m.staleRatio) });
        }
      }
    }
    const plots: Plot[] = [
      { id: 'variance-ratio', title: 'Variance ratio V_SVRG / V_SGD within each epoch (mean over seeds)', xLabel: 'position in epoch (fraction)', yLabel: 'R = V_SVRG / V_SGD', yLog: true, series: ratioSeries },
      { id: 'distance', title: 'Distance from the snapshot ‖w − w̃‖ (mean over seeds)', xLabel: 'position in epoch (fraction)', yLabel: '‖w − w̃‖', series: distanceSeries },
      { id: 'curvature', title: 'Curvature estimate ‖g_S(w) − g_S(w̃)‖ / ‖w − w̃‖ (mean over seeds)', xLabel: 'position in epoch (fraction)', yLabel: 'curvature estimate', yLog: true, series: curvatureSeries },
    ];
    if (staleSeries.length > 0) {
      plots.push({ id: 'stale-snapshot', title: 'Stale-snapshot control: R with the current vs the previous epoch’s w̃', xLabel: 'position in epoch (fraction)', yLabel: 'R = V_SVRG / V_SGD', yLog: true, series: staleSeries });
    }

    const all = [...results.values()];
    const checks = {
      ratioZeroAtSnapshot: all.every((r) => r.measurements.filter((m) => m.position === 0).every((m) => Math.abs(m.ratio) <= 1e-12)),
      'every measurement has V_SGD > 0': all.every((r) => r.measurements.every((m) => m.vSgd > 0)),
      'no run diverged': runs.every((r) => !r.diverged),
    };
    return { preset: 'variance-ratio', size: context.size, verdict, verdictDetail, numbers, plots, runs, checks };
  },
};
