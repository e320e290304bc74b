/**
 * locking: Defazio & Bottou 2019, Fig. 1 (docs/research.md §1, "practical complications").
 *
 * At the first step of an epoch the iterate equals the snapshot (w = w̃), so the SVRG direction
 * v_I = g_I(w) − g_I(w̃) + μ̃ is exactly μ̃ for every minibatch I — zero variance — provided the
 * random parts of the model are the same at both points. With Dropout (masks keyed by sample id
 * and seed) and a random-shift augmentation (keyed by (seed, id)):
 *
 * - locked (`svrg({ locking: true })`): g_I(w̃) uses the same batch object (same seed, same
 *   shifted images, same masks) → V_SVRG = 0;
 * - unlocked (`svrg({ locking: false })`): g_I(w̃) uses a freshly drawn seed (a new shift and
 *   new masks) → V_SVRG > 0.
 *
 * V is measured over a fixed partition of the data into minibatches, each row the estimator's
 * own direction (the engine's SvrgEstimator.direction, no step taken), against V_SGD of the
 * same partition. Plus BatchNorm: with locking the snapshot pass (μ̃ over the data, train mode)
 * leaves the running statistics bit-identical (BN reset via withFrozenStats), and a step's
 * snapshot evaluation g_I(w̃) adds nothing to what the step's own forward does; the unlocked
 * estimator is the control (its snapshot pass moves them).
 */
import { type Augmentation, type Batch, batchGradientAt, type Dataset, estimatorVariance, flattenDirection, makeBatch, type Module, randomShift, type StepContext, stepSeed, svrg } from 'gradscope';
import type { Plot, Preset, PresetResult, RunContext, RunRecord, Size } from '../preset.js';
import { flatMlp, mnistSubsets } from './variance-ratio.js';

interface Budget {
  n: number;
  block: number;
  warmupBatches: number;
}

const BUDGET: Record<Size, Budget> = {
  smoke: { n: 256, block: 16, warmupBatches: 4 },
  full: { n: 2048, block: 32, warmupBatches: 16 },
};

const SHIFT = randomShift({ maxShift: 2 });
/** The shift acts on the 1×28×28 image behind the flat 784-vector. */
const augment: Augmentation = (x, _shape, key) => SHIFT(x, [1, 28, 28], key);

function batchMaker(data: Dataset): (indices: readonly number[], seed: number) => Batch {
  return (indices, seed) => makeBatch(data, indices, { augment, augmentSeed: seed, seed, dtype: 'float64' });
}

function contextFor(model: Module, data: Dataset, seed: number, k: number, steps: number, indices: readonly number[]): StepContext {
  const mb = batchMaker(data);
  return { model, data, epoch: 0, step: k, stepInEpoch: k, stepsInEpoch: steps, makeBatch: (idx, s) => mb(idx, s ?? stepSeed(seed, k)), indices };
}

function blocks(n: number, b: number): number[][] {
  return Array.from({ length: Math.floor(n / b) }, (_, k) => Array.from({ length: b }, (_, i) => k * b + i));
}

export interface LockingMeasurement {
  vSgd: number;
  vLocked: number;
  vUnlocked: number;
}

/**
 * V_SGD and V_SVRG with and without locking at w = w̃ (the first step of an epoch), over a fixed
 * partition of `data` into minibatches, for a Dropout MLP with a random-shift augmentation.
 */
export function measureLocking(seed: number, data: Dataset, block: number): LockingMeasurement {
  const model = flatMlp([784, 32, 10], seed, { dropout: 0.3 });
  model.train();
  const parts = blocks(data.length, block);
  const mb = batchMaker(data);
  const w = model.flattenParameters();
  const sgdRows = parts.map((idx, k) => Float64Array.from(batchGradientAt(model, mb(idx, stepSeed(seed, k)), w).grad.toTypedArray()));
  const svrgVariance = (locking: boolean) => {
    const estimator = svrg({ locking, seed: seed + 17 });
    estimator.startEpoch(contextFor(model, data, seed, 0, parts.length, parts[0]!));
    // Every row is a first step after the snapshot: no update is applied, so w = w̃ throughout.
    const rows = parts.map((idx, k) => flattenDirection(estimator.direction(contextFor(model, data, seed, k, parts.length, idx), mb(idx, stepSeed(seed, k)))));
    return estimatorVariance(rows);
  };
  return { vSgd: estimatorVariance(sgdRows), vLocked: svrgVariance(true), vUnlocked: svrgVariance(false) };
}

export interface BatchNormCheck {
  /** Running statistics bit-identical before and after the locked snapshot pass. */
  lockedUnchanged: boolean;
  /** A locked step's statistics equal those of a plain forward of the same batch (g_I(w̃) adds nothing). */
  lockedStepMatchesPlain: boolean;
  /** Largest change of a running statistic by the unlocked snapshot pass (the control). */
  unlockedMaxChange: number;
  lockedMaxChange: number;
}

const copyStats = (model: Module) => new Map([...model.saveStats()].map(([k, v]) => [k, Float64Array.from(v)]));
function maxChange(a: Map<string, Float64Array>, b: Map<string, Float64Array>): number {
  let m = 0;
  for (const [k, v] of a) {
    const u = b.get(k)!;
    for (let j = 0; j < v.length; j++) m = Math.max(m, Math.abs(v[j]! - u[j]!));
  }
  return m;
}
function identical(a: Map<string, Float64Array>, b: Map<string, Float64Array>): boolean {
  for (const [k, v] of a) {
    const u = b.get(k);
    if (!u || u.length !== v.length) return false;
    for (let j = 0; j < v.length; j++) if (!Object.is(v[j], u[j])) return false;
  }
  return a.size === b.size;
}

/** BatchNorm: running statistics around the SVRG snapshot pass, with and without locking (BN reset). */
export function checkBatchNorm(seed: number, data: Dataset, block: number, warmupBatches: number): BatchNormCheck {
  const model = flatMlp([784, 32, 10], seed, { batchNorm: true });
  model.train();
  const parts = blocks(data.length, block);
  const mb = batchMaker(data);
  // Warm the running statistics up so they are not the initial 0 / 1.
  for (let k = 0; k < warmupBatches; k++) batchGradientAt(model, mb(parts[k % parts.length]!, stepSeed(seed, k)), model.flattenParameters());
  const start = model.saveStats();
  const snapshotPass = (locking: boolean) => {
    model.restoreStats(start);
    const estimator = svrg({ locking, seed: seed + 17 });
    const before = copyStats(model);
    estimator.startEpoch(contextFor(model, data, seed, 0, parts.length, parts[0]!));
    return { estimator, before, after: copyStats(model) };
  };
  const locked = snapshotPass(true);
  // A locked step: its statistics must equal those of one plain train forward of the batch.
  const batch = mb(parts[0]!, stepSeed(seed, 0));
  locked.estimator.direction(contextFor(model, data, seed, 0, parts.length, parts[0]!), batch);
  const afterStep = copyStats(model);
  model.restoreStats(start);
  batchGradientAt(model, batch, model.flattenParameters());
  const afterPlain = copyStats(model);
  const unlocked = snapshotPass(false);
  model.restoreStats(start);
  return {
    lockedUnchanged: identical(locked.before, locked.after),
    lockedStepMatchesPlain: identical(afterStep, afterPlain),
    lockedMaxChange: maxChange(locked.before, locked.after),
    unlockedMaxChange: maxChange(unlocked.before, unlocked.after),
  };
}

const RULE =
  'REPRODUCED if, on every seed, the locked V_SVRG at the first step of an epoch is 0 (≤ 1e-12 × V_SGD), the unlocked V_SVRG is > 1 % of V_SGD, and the BatchNorm running statistics are bit-identical before and after the locked snapshot pass; NOT REPRODUCED otherwise.';

export const lockingPreset: Preset = {
  name: 'locking',
  paper: 'Defazio & Bottou 2019, "On the ineffectiveness of variance reduced optimization for deep learning", Fig. 1 (transform locking, dropout locking, BN reset)',
  claim: 'At the first step after a snapshot SVRG has zero variance only if augmentations and dropout masks are locked between w and w̃ (and the snapshot pass must not disturb BatchNorm statistics); without locking the variance is not zero.',
  rule: RULE,
  seeds: [1, 2, 3],
  run(context: RunContext): PresetResult {
    const budget = BUDGET[context.size];
    const seeds = context.seeds;
    const runs: RunRecord[] = [];
    const numbers: Record<string, number> = {};
    const measured: { seed: number; m: LockingMeasurement; bn: BatchNormCheck }[] = [];
    context.progress(0, 'loading MNIST');
    seeds.forEach((seed, s) => {
      const { train: data } = mnistSubsets(seed, budget.n, 0);
      const m = measureLocking(seed, data, budget.block);
      const bn = checkBatchNorm(seed, data, budget.block, budget.warmupBatches);
      measured.push({ seed, m, bn });
      const config = { seed, n: budget.n, block: budget.block, model: 'mlp 784-32-10', dropout: 0.3, augmentation: 'random shift ≤ 2 px' };
      runs.push({ id: `locked-seed${seed}`, config: { ...config, locking: true }, diverged: false, metrics: { vSgd: m.vSgd, vSvrg: m.vLocked, ratio: m.vLocked / m.vSgd } });
      runs.push({ id: `unlocked-seed${seed}`, config: { ...config, locking: false }, diverged: false, metrics: { vSgd: m.vSgd, vSvrg: m.vUnlocked, ratio: m.vUnlocked / m.vSgd } });
      runs.push({
        id: `batchnorm-seed${seed}`,
        config: { seed, n: budget.n, block: budget.block, model: 'mlp 784-32-10 + BatchNorm1d', warmupBatches: budget.warmupBatches },
        diverged: false,
        metrics: {
          lockedUnchanged: bn.lockedUnchanged ? 1 : 0,
          lockedStepMatchesPlain: bn.lockedStepMatchesPlain ? 1 : 0,
          lockedMaxChange: bn.lockedMaxChange,
          unlockedMaxChange: bn.unlockedMaxChange,
        },
      });
      numbers[`seed ${seed}: locked V_SVRG / V_SGD`] = m.vLocked / m.vSgd;
      numbers[`seed ${seed}: unlocked V_SVRG / V_SGD`] = m.vUnlocked / m.vSgd;
      numbers[`seed ${seed}: BN max change, locked snapshot pass`] = bn.lockedMaxChange;
      numbers[`seed ${seed}: BN max change, unlocked snapshot pass`] = bn.unlockedMaxChange;
      context.progress((s + 1) / seeds.length, `seed ${seed}`);
    });
    const lockedZero = measured.every(({ m }) => m.vLocked <= 1e-12 * m.vSgd);
    const unlockedPositive = measured.every(({ m }) => m.vUnlocked > 0.01 * m.vSgd);
    const bnUnchanged = measured.every(({ bn }) => bn.lockedUnchanged);
    const verdict = lockedZero && unlockedPositive && bnUnchanged ? 'REPRODUCED' : 'NOT REPRODUCED';
    const verdictDetail =
      `Locked V_SVRG at w = w̃ is ${lockedZero ? '0' : 'NOT 0'} on ${lockedZero ? 'every' : 'some'} seed; unlocked V_SVRG / V_SGD ranges ` +
      `${Math.min(...measured.map(({ m }) => m.vUnlocked / m.vSgd)).toPrecision(3)}–${Math.max(...measured.map(({ m }) => m.vUnlocked / m.vSgd)).toPrecision(3)}; ` +
      `BN running statistics ${bnUnchanged ? 'bit-identical' : 'CHANGED'} across the locked snapshot pass.`;
    const x = measured.map(({ seed }) => seed);
    const plots: Plot[] = [
      {
        id: 'variance-at-snapshot',
        title: 'SVRG variance at the first step of an epoch (w = w̃), relative to SGD',
        xLabel: 'seed',
        yLabel: 'V_SVRG / V_SGD',
        series: [
          { label: 'locked (same seed: same shift and dropout masks)', x, y: measured.map(({ m }) => m.vLocked / m.vSgd) },
          { label: 'unlocked (new seed at w̃)', x, y: measured.map(({ m }) => m.vUnlocked / m.vSgd) },
        ],
      },
      {
        id: 'batchnorm-stats',
        title: 'Largest change of a BatchNorm running statistic across the snapshot pass',
        xLabel: 'seed',
        yLabel: 'max |Δ running statistic|',
        series: [
          { label: 'locked (BN reset)', x, y: measured.map(({ bn }) => bn.lockedMaxChange) },
          { label: 'unlocked (no reset)', x, y: measured.map(({ bn }) => bn.unlockedMaxChange) },
        ],
      },
    ];
    const checks = {
      'locked variance is 0 at w = w̃': lockedZero,
      'unlocked variance > 0 at w = w̃': measured.every(({ m }) => m.vUnlocked > 0),
      'BN statistics unchanged by the locked snapshot pass': bnUnchanged,
      'a locked step moves BN statistics exactly as a plain forward': measured.every(({ bn }) => bn.lockedStepMatchesPlain),
      'unlocked snapshot pass moves BN statistics (control)': measured.every(({ bn }) => bn.unlockedMaxChange > 0),
    };
    return { preset: 'locking', size: context.size, verdict, verdictDetail, numbers, plots, runs, checks };
  },
};
