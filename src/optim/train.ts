/**
 * The training loop: estimator × update rule × schedule over a dataset, with hooks at chosen
 * positions inside each epoch (the variance measurements need them) and at epoch ends, a
 * clear stop at the first non-finite loss or gradient, and checkpoints from which a resumed
 * run continues bit-identically.
 *
 * Everything random is keyed by the run's seed: the batch order of epoch e is the keyed
 * permutation of data/sampler.ts, and the batch of step t carries a seed derived from (seed, t)
 * for its dropout masks and augmentations. A resumed run therefore needs no RNG state — only
 * the parameters, buffers, update-rule and estimator states, and the step counter.
 */
import { noGrad } from '../autograd/mode.js';
import type { Batch, Dataset } from '../data/dataset.js';
import { epochPermutation, makeBatch as stackSamples } from '../data/sampler.js';
import type { Module } from '../nn/module.js';
import { crossEntropyLoss, type PerSampleLoss } from '../nn/per-sample.js';
import { tensor } from '../tensor/creation.js';
import { ValueError } from '../tensor/errors.js';
import { foldIn, makeKey } from '../tensor/random.js';
import { tidy, untracked } from '../tensor/tidy.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Estimator, Schedule, StepContext, UpdateRule } from './estimator.js';
import { captureStep } from './rollback.js';
import { checkResumeFits } from './train-state.js';

/** Where the loop is, as hooks see it. */
export interface StepInfo {
  /** 0-based epoch. */
  epoch: number;
  /** Global step: the number of steps taken so far (the next step to run, for onPosition). */
  step: number;
  /** 0-based step within the epoch (stepsInEpoch at onEpochEnd). */
  stepInEpoch: number;
  /** Steps in this epoch, ceil(N / batch size of the epoch). */
  stepsInEpoch: number;
  /** Fraction of the epoch done before this step, in [0, 1). */
  position: number;
  /** Sample-gradient evaluations spent so far. */
  cost: number;
  /** The model being trained, at the parameters before this step (after the epoch's last, at onEpochEnd). */
  model: Module;
}

/** Everything needed to continue a run exactly: a plain JSON-serialisable value. */
export interface TrainState {
  /** Marks the value as a training state; checkTrainState refuses anything else. */
  format: 'gradscope-train-state';
  /** Version of this layout; this gradscope reads 1. */
  version: 1;
  /** The next global step to run. */
  step: number;
  /** The epoch to resume in (0-based; equal to the run's epochs when it is finished). */
  epoch: number;
  /** The step within `epoch` to resume at (0 for the states train writes, taken at epoch ends). */
  stepInEpoch: number;
  /** Each parameter's values, flat row-major, in `model.parameters()` order. */
  parameters: number[][];
  /** Each buffer (BatchNorm running statistics) as [qualified name, values], from `model.saveStats()`. */
  buffers: [string, number[]][];
  /** The update rule's `saveState()`. */
  update: unknown;
  /** The estimator's `saveState()`, or null when it has none. */
  estimator: unknown;
  /** Minibatch loss before each step so far, from step 0 (length = step). */
  losses: number[];
}

/** Options of {@link train}; `estimator`, `update`, `schedule`, `epochs` and `seed` are required. */
export interface TrainOptions {
  /** The gradient estimator (SgdEstimator, SvrgEstimator, …); its state persists across calls. */
  estimator: Estimator;
  /**
   * The update rule applied to each direction, e.g. SgdUpdate, Adam, or a ClippedUpdate around
   * one; its state (momentum, moments) persists across calls, so a fresh run needs a fresh rule.
   */
  update: UpdateRule;
  /** Learning rate per step and batch size per epoch. */
  schedule: Schedule;
  /** Epoch to stop before (an integer ≥ 0): the run covers epochs [0, epochs), or [resume.epoch, epochs). */
  epochs: number;
  /** Seed of the batch order, dropout masks and augmentations. */
  seed: number;
  /**
   * Per-sample loss used to record a step's minibatch loss (default cross-entropy), in an extra
   * forward pass, only when the estimator reports no `lastLoss`. It does not change what is
   * differentiated: the built-in estimators report their own loss, so for them it has no effect.
   */
  loss?: PerSampleLoss;
  /**
   * Builds a batch from dataset indices (default: data/sampler's makeBatch in the model's
   * dtype, no augmentation; pass one with an augmentation keyed by the seed to lock it).
   */
  makeBatch?: (data: Dataset, indices: readonly number[], seed: number) => Batch;
  /** Fractions of an epoch (e.g. [0.02, 0.11, 0.33, 0.66, 0.98]) at which `onPosition` runs. */
  positions?: readonly number[];
  /**
   * Called before the step at each of `positions` (position p is step ⌊p·stepsInEpoch⌋ of the
   * epoch, at most the last; positions that land on the same step call it once).
   */
  onPosition?: (info: StepInfo) => void;
  /**
   * Called after each epoch's last step, with `position` 1 and `meanLoss`, the mean minibatch
   * loss of the steps this call ran in the epoch.
   */
  onEpochEnd?: (info: StepInfo & { meanLoss: number }) => void;
  /** Called with the state after every `every` epochs (e.g. an atomic file write, see io/). */
  checkpoint?: {
    /** Save after epochs e with (e + 1) divisible by this, an integer ≥ 1. */
    every: number;
    /** Receives the state at the end of the epoch (stepInEpoch 0 of the next); may write it anywhere. */
    save: (state: TrainState) => void;
  };
  /** Continue from a saved state instead of starting fresh. */
  resume?: TrainState;
  /**
   * Stop before global step `maxSteps` (an integer ≥ 0; a resumed state's steps count), mid-epoch
   * if that is where it falls: the result says `stopped: 'maxSteps'` and its state resumes
   * there. An epoch cut short calls no `onEpochEnd` and writes no checkpoint.
   */
  maxSteps?: number;
}

/** What {@link train} returns. */
export interface TrainResult {
  /** Minibatch loss before each step. */
  losses: number[];
  /** Global steps taken, those of a resumed state included. */
  steps: number;
  /** The estimator's cost at the end (sample-gradient evaluations, restored ones included). */
  cost: number;
  /** The final state, from which a longer run (more epochs, or more steps) can resume. */
  state: TrainState;
  /** Why the run ended: every epoch done, or `maxSteps` reached first. */
  stopped: 'epochs' | 'maxSteps';
}

/** Thrown at the first non-finite loss or direction, with where it happened. */
export class NonFiniteError extends Error {
  /** 'NonFiniteError'. */
  override name = 'NonFiniteError';
  /** `detail` says which value was bad (the loss, or the parameter and element of the direction). */
  constructor(
    /** Which value was not finite: the minibatch loss or the estimator's direction. */
    readonly what: 'loss' | 'gradient',
    /** Global step that was refused (0-based); no update was made for it. */
    readonly step: number,
    /** Epoch of that step (0-based). */
    readonly epoch: number,
    detail: string,
  ) {
    super(`train: non-finite ${what} at step ${step} (epoch ${epoch}): ${detail}; training stopped, the model (parameters and buffers) and the estimator are as they were before this step`);
  }
}

/** The seed of step t's randomness (dropout, augmentation): a pure function of (seed, t). */
export function stepSeed(seed: number, step: number): number {
  const [hi, lo] = foldIn(foldIn(makeKey(seed), 0x73746570), step);
  return (hi & 0x1fffff) * 2 ** 32 + lo;
}

function firstNonFinite(tensors: readonly Tensor[]): string | null {
  for (const [k, t] of tensors.entries()) {
    const data = t.toTypedArray();
    for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i]!)) return `parameter ${k}, element ${i} is ${data[i]}`;
  }
  return null;
}

function nonFiniteDirection(direction: readonly Tensor[], step: number, epoch: number): NonFiniteError | null {
  const bad = firstNonFinite(direction);
  return bad ? new NonFiniteError('gradient', step, epoch, bad) : null;
}

function stateOf(model: Module, step: number, epoch: number, stepInEpoch: number, options: TrainOptions, losses: number[]): TrainState {
  return {
    format: 'gradscope-train-state',
    version: 1,
    step,
    epoch,
    stepInEpoch,
    parameters: model.parameters().map((p) => Array.from(p.toTypedArray())),
    buffers: [...model.saveStats()].map(([name, values]) => [name, Array.from(values)]),
    update: options.update.saveState(),
    estimator: options.estimator.saveState?.() ?? null,
    losses: losses.slice(),
  };
}

function restore(model: Module, state: TrainState, options: TrainOptions, samples: number): void {
  // Every field is checked against this model and run before anything is written (train-state.ts).
  checkResumeFits(state, model, { epochs: options.epochs, stepsInEpoch: (e) => Math.ceil(samples / options.schedule.batchSize(e)) });
  const params = model.parameters();
  // The update rule checks its state against the parameters (shapes, dtypes) before the model
  // is written, so a refused state leaves the model as it was.
  options.update.restoreState(state.update, params);
  model.assignParameters(state.parameters.map((values, k) => tensor(Float64Array.from(values), { shape: params[k]!.shape, dtype: params[k]!.dtype })));
  const saved = model.saveStats();
  model.restoreStats(new Map(state.buffers.map(([name, values]) => {
    const copy = saved.get(name)!.slice();
    copy.set(values);
    return [name, copy];
  })));
  if (state.estimator !== null) options.estimator.restoreState?.(state.estimator);
}

/**
 * Train `model` on `data`: for each epoch, the batches of a seeded permutation (the last one
 * may be smaller), and for each batch the estimator's direction, then the update rule's step
 * with the schedule's learning rate. The model is put in train mode. Throws ValueError for an
 * invalid `epochs` or a `resume` state that does not fit this model and run, and
 * NonFiniteError at the first non-finite loss or direction (the refused step leaves the
 * model's parameters and buffers and the estimator as they were).
 *
 * Each step runs in its own `tidy` scope: the activations, gradients and direction it
 * creates are released when the step ends, and the next step reuses their memory (tidy.ts). What
 * lives on is what the model, the update rule and the estimator store: the built-in ones keep
 * their state; a custom estimator or update rule must `keep()` what it stores, or make it inside
 * `untracked()`, or the next step's read throws a ValueError naming tidy. The hooks (onPosition,
 * onEpochEnd, checkpoint) run outside the scope and makeBatch inside `untracked()`, so what they
 * make is never released (a makeBatch may cache its batches).
 * @example
 * train(model, data, { estimator: new SgdEstimator(), update: new SgdUpdate({ momentum: 0.9 }), schedule: schedule(0.1, 128), epochs: 3, seed: 0 });
 */
export function train(model: Module, data: Dataset, options: TrainOptions): TrainResult {
  const { estimator, update, schedule, epochs, seed } = options;
  const loss = options.loss ?? crossEntropyLoss;
  const dtype = model.parameters()[0]?.dtype ?? 'float32';
  const makeBatch = options.makeBatch ?? ((d: Dataset, indices: readonly number[], batchSeed: number) => stackSamples(d, indices, { seed: batchSeed, dtype }));
  if (!Number.isInteger(epochs) || epochs < 0) throw new ValueError(`train: epochs must be an integer ≥ 0; got ${epochs}`);
  const { maxSteps = Infinity } = options;
  if (maxSteps !== Infinity && !(Number.isInteger(maxSteps) && maxSteps >= 0)) throw new ValueError(`train: maxSteps must be an integer ≥ 0; got ${maxSteps}`);
  const losses: number[] = [];
  let step = 0;
  let startEpoch = 0;
  let startStepInEpoch = 0;
  if (options.resume) {
    restore(model, options.resume, options, data.length);
    step = options.resume.step;
    startEpoch = options.resume.epoch;
    startStepInEpoch = options.resume.stepInEpoch;
    losses.push(...options.resume.losses);
  }
  model.train();
  const stoppedAt = (epoch: number, stepInEpoch: number): TrainResult => ({
    losses,
    steps: step,
    cost: estimator.cost,
    state: stateOf(model, step, epoch, stepInEpoch, options, losses),
    stopped: 'maxSteps',
  });
  for (let epoch = startEpoch; epoch < epochs; epoch++) {
    const batchSize = schedule.batchSize(epoch);
    const order = epochPermutation(data.length, seed, epoch);
    const stepsInEpoch = Math.ceil(data.length / batchSize);
    const context = (stepInEpoch: number): StepContext => ({
      model,
      data,
      epoch,
      step,
      stepInEpoch,
      stepsInEpoch,
      makeBatch: (indices, batchSeed) => untracked(() => makeBatch(data, indices, batchSeed ?? stepSeed(seed, step))),
    });
    const first = epoch === startEpoch ? startStepInEpoch : 0;
    // Before the epoch's snapshot, which a run resumed here takes itself.
    if (step >= maxSteps) return stoppedAt(epoch, first);
    // The epoch's snapshot belongs to its first step: refusing that step undoes it too, so the
    // state left behind is the one a resume at (epoch, 0) starts from.
    const epochStart = first === 0 ? captureStep(model, estimator) : null;
    // A run resumed mid-epoch must not take the epoch's snapshot again.
    if (first === 0) estimator.startEpoch?.(context(0));
    const positions = (options.positions ?? []).map((p) => Math.min(stepsInEpoch - 1, Math.floor(p * stepsInEpoch)));
    let epochLoss = 0;
    for (let k = first; k < stepsInEpoch; k++) {
      if (step >= maxSteps) return stoppedAt(epoch, k);
      const info: StepInfo = { epoch, step, stepInEpoch: k, stepsInEpoch, position: k / stepsInEpoch, cost: estimator.cost, model };
      if (options.onPosition && positions.includes(k)) options.onPosition(info);
      const indices = Array.from(order.subarray(k * batchSize, Math.min(data.length, (k + 1) * batchSize)));
      const ctx = { ...context(k), indices };
      const rollback = k === first && epochStart ? epochStart : captureStep(model, estimator);
      // One step, one tidy scope: what the step creates and nothing keeps (the activations, the
      // gradients, the direction) gives its memory to the next step. The batch is untracked
      // (context.makeBatch): a makeBatch may hand out the same tensors again.
      const value = tidy(() => {
        const batch = ctx.makeBatch(indices);
        const direction = estimator.direction(ctx, batch);
        // The estimator's own loss when it reports one; otherwise one extra forward pass.
        const value =
          estimator.lastLoss ??
          noGrad(() => model.withFrozenStats(() => loss(model.forward(batch.x, { sampleIds: batch.sampleIds, seed: batch.seed }), batch.targets).mean().item()));
        const refusal = !Number.isFinite(value) ? new NonFiniteError('loss', step, epoch, `minibatch loss ${value}`) : nonFiniteDirection(direction, step, epoch);
        if (refusal) {
          // The step's forwards already ran (running statistics, estimator state): undo them.
          rollback();
          throw refusal;
        }
        update.step(model.parameters(), direction, schedule.learningRate(epoch, k, stepsInEpoch));
        return value;
      });
      losses.push(value);
      epochLoss += value;
      step++;
    }
    const meanLoss = epochLoss / Math.max(1, stepsInEpoch - first);
    options.onEpochEnd?.({ epoch, step, stepInEpoch: stepsInEpoch, stepsInEpoch, position: 1, cost: estimator.cost, model, meanLoss });
    if (options.checkpoint && (epoch + 1) % options.checkpoint.every === 0) {
      options.checkpoint.save(stateOf(model, step, epoch + 1, 0, options, losses));
    }
  }
  return { losses, steps: step, cost: estimator.cost, state: stateOf(model, step, epochs, 0, options, losses), stopped: 'epochs' };
}
