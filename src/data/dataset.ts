/**
 * The dataset contract every loader and synthetic problem implements: a length, and for each
 * index a sample with a STABLE id (dropout masks and augmentations are keyed by it, so the
 * same sample is treated the same way wherever it appears).
 */
export interface Sample {
  /** Features in row-major order, shape `Dataset.sampleShape`. */
  x: Float32Array | Float64Array;
  /** Class index (classification) or target value (regression). */
  y: number;
  /** Stable id of the sample within its source (not its position in a split or batch). */
  id: number;
}

/**
 * A finite, indexable collection of samples: the input of samplers, splits, estimators and
 * `train`. `get(i)` must be deterministic (the same index gives the same sample, with the same
 * id, every time), because variance-reduced estimators evaluate a sample at two points and
 * compare the gradients.
 */
export interface Dataset {
  /** Short human-readable name used in messages and logs (e.g. 'mnist', 'quadratic-sum'). */
  readonly name: string;
  /** Number of samples; valid indices are the integers in [0, length). */
  readonly length: number;
  /** Shape of one sample's features, e.g. [1, 28, 28] or [784]. */
  readonly sampleShape: readonly number[];
  /** Number of classes (0 for regression targets). */
  readonly classes: number;
  /**
   * The sample at position `index`, an integer in [0, length); the built-in datasets throw
   * ValueError outside that range and return a fresh `x` on every call, so callers may keep
   * or modify it.
   */
  get(index: number): Sample;
}

/** A minibatch ready for a model (stacked features, targets, stable sample ids, seed). */
export type { Batch } from '../nn/per-sample.js';
