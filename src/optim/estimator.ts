/**
 * Optimizers are estimator × update rule × schedule (docs/design.md §9). This file is the contract
 * between them and the training loop.
 *
 * An estimator turns (model, minibatch) into a direction — one tensor per parameter, in
 * `model.parameters()` order — and counts its cost in sample-gradient evaluations, so methods
 * compare per epoch and per gradient evaluation. The update rule turns a direction into a
 * parameter change (PyTorch SGD semantics); the schedule gives the learning rate and batch
 * size of each step.
 */
import type { Module } from '../nn/module.js';
import type { Batch, Dataset } from '../data/dataset.js';
import type { Tensor } from '../tensor/tensor.js';

/** What an estimator sees at each step. */
export interface StepContext {
  /** The model being trained; estimators read its parameters and evaluate gradients through it. */
  model: Module;
  /** The training dataset; full-gradient passes (μ̃ of SVRG, SAGA's table) run over all of it. */
  data: Dataset;
  /** 0-based epoch. */
  epoch: number;
  /** 0-based global step: the number of steps taken before this one, over all epochs. */
  step: number;
  /** 0-based step within the epoch. */
  stepInEpoch: number;
  /** Number of steps of this epoch, ceil(N / batch size of the epoch). */
  stepsInEpoch: number;
  /** Builds the batch of the given dataset indices (with the run's augmentation and seed rules). */
  makeBatch: (indices: readonly number[], seed?: number) => Batch;
  /**
   * The dataset indices of the current batch, when the loop knows them (optional). SAGA needs
   * them to find the batch's table entry; the SVRG family uses them to rebuild the batch with a
   * different seed (new augmentation) when locking is switched off.
   */
  indices?: readonly number[];
}

/**
 * A gradient estimator: SGD, the SVRG family, streaming SVRG, SCSG or SAGA. It owns whatever
 * state its estimate needs (a snapshot w̃ and μ̃, a mega-batch gradient, a table of block
 * gradients), never the parameters: the update rule changes those.
 */
export interface Estimator {
  /** The method's identifier in logs and results, e.g. 'sgd', 'b-svrg', 'scsg'. */
  readonly name: string;
  /** Called before the first step of each epoch (snapshots of the SVRG family). */
  startEpoch?(context: StepContext): void;
  /**
   * The update direction at the current parameters for this minibatch. train() calls it inside
   * the step's tidy scope, which releases what the step created when it ends: a tensor the
   * estimator stores for a later step must be kept (`keep(t)`) or made inside `untracked(…)`.
   */
  direction(context: StepContext, batch: Batch): Tensor[];
  /** Sample-gradient evaluations spent so far. */
  readonly cost: number;
  /** Mean loss of the last batch at the parameters before the step, if the estimator has it. */
  readonly lastLoss?: number;
  /** A JSON-serialisable copy of the internal state (snapshots, tables), for checkpoints. */
  saveState?(): unknown;
  /**
   * Replace the internal state with one returned by `saveState` (from the same kind of
   * estimator, built with the same options). The SVRG family, the mega-batch estimators and
   * SAGA throw ValueError when `state` is visibly not such a state.
   */
  restoreState?(state: unknown): void;
  /**
   * Capture in memory everything `startEpoch` and `direction` may change and return a function
   * that puts it back. The loop captures before each step and restores when it refuses the step
   * (NonFiniteError), so a refused step leaves the estimator as it was. Why not saveState: that
   * copies every vector into a JSON array, milliseconds per step for a 10⁵-parameter model;
   * estimators replace their tensors rather than write into them, so keeping the references
   * (and copying the few arrays written in place) is enough. Without it the loop falls back to
   * saveState/restoreState.
   */
  rollbackPoint?(): () => void;
}

/**
 * Turns a direction into a parameter change, in place, with a PyTorch optimizer's semantics
 * (SgdUpdate, Adam, AdamW, RMSprop, Adagrad; ClippedUpdate clips the direction first).
 */
export interface UpdateRule {
  /** The rule's identifier in logs and results, e.g. 'sgd', 'sgd-momentum', 'adam'. */
  readonly name: string;
  /**
   * params ← params − lr·(transformed direction), under noGrad; bumps version counters. Runs
   * inside train()'s per-step tidy scope: state kept across steps is made inside `untracked(…)`
   * (as the built-in rules do) or kept with `keep(t)`.
   */
  step(params: readonly Tensor[], direction: readonly Tensor[], lr: number): void;
  /** A JSON-serialisable copy of the rule's state (e.g. momentum buffers), for checkpoints. */
  saveState(): unknown;
  /**
   * Replace the rule's state with one returned by `saveState` (the rules throw ValueError when
   * it visibly is not one). When `params` is given (train() passes the model's parameters),
   * the per-parameter rules also refuse a state made for other parameters: another count,
   * shape or dtype.
   */
  restoreState(state: unknown, params?: readonly Tensor[]): void;
}

/** Learning rate and batch size of each step. */
export interface Schedule {
  /**
   * The learning rate η of step `stepInEpoch` (0-based) of `epoch` (0-based), an epoch of
   * `stepsInEpoch` steps; called once per step, just before the update.
   */
  learningRate(epoch: number, stepInEpoch: number, stepsInEpoch: number): number;
  /** The minibatch size of every step of `epoch` (0-based), an integer ≥ 1; fixed within an epoch. */
  batchSize(epoch: number): number;
}
