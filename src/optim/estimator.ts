/**
 * Optimizers are estimator × update rule × schedule (DESIGN.md §9). This file is the contract
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
  model: Module;
  data: Dataset;
  /** 0-based epoch and global step. */
  epoch: number;
  step: number;
  /** Step within the epoch and the epoch's number of steps. */
  stepInEpoch: number;
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

export interface Estimator {
  readonly name: string;
  /** Called before the first step of each epoch (snapshots of the SVRG family). */
  startEpoch?(context: StepContext): void;
  /** The update direction at the current parameters for this minibatch. */
  direction(context: StepContext, batch: Batch): Tensor[];
  /** Sample-gradient evaluations spent so far. */
  readonly cost: number;
  /** Mean loss of the last batch at the parameters before the step, if the estimator has it. */
  readonly lastLoss?: number;
  /** A JSON-serialisable copy of the internal state (snapshots, tables), for checkpoints. */
  saveState?(): unknown;
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

/** Turns a direction into a parameter change, in place (PyTorch SGD semantics). */
export interface UpdateRule {
  readonly name: string;
  /** params ← params − lr·(transformed direction), under noGrad; bumps version counters. */
  step(params: readonly Tensor[], direction: readonly Tensor[], lr: number): void;
  saveState(): unknown;
  restoreState(state: unknown): void;
}

/** Learning rate and batch size of each step. */
export interface Schedule {
  learningRate(epoch: number, stepInEpoch: number, stepsInEpoch: number): number;
  batchSize(epoch: number): number;
}
