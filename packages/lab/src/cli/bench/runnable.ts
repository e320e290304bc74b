/**
 * What an implementation hands the timer for one row: a step to time and a way to free what
 * the row allocated. Builders are tables keyed by row kind, so a missing kind is a compile
 * error in every implementation.
 */
import type { ImplRow, ImplRowKind, RowOf } from './rows.js';

export interface Runnable {
  /** One timed unit of work, results read back included. */
  run(): void;
  /** Free what the row allocated (tfjs tensors; nothing for garbage-collected backends). */
  dispose(): void;
}

/**
 * Thrown by a builder for a row its implementation cannot compute at all (tfjs has no
 * per-sample gradients); reported as `n/a: <message>`, like a missing tfjs kernel.
 */
export class RowUnavailable extends Error {
  override name = 'RowUnavailable';
}

/** One builder per row kind (the peak rows are the machine's, not an implementation's: peak.ts). */
export type Builders = { [K in ImplRowKind]: (row: RowOf<K>) => Runnable };

export function buildRow(builders: Builders, row: ImplRow): Runnable {
  // The table is exhaustive over kinds; TypeScript cannot correlate row.kind with its entry.
  return (builders[row.kind] as (row: ImplRow) => Runnable)(row);
}

/** A table for an implementation that is missing altogether: every row is unavailable, for `reason`. */
export function unavailableBuilders(reason: string): Builders {
  const unavailable = (): Runnable => {
    throw new RowUnavailable(reason);
  };
  return {
    matmul: unavailable,
    conv: unavailable,
    'train-mlp': unavailable,
    'train-lenet': unavailable,
    'train-zoo': unavailable,
    grad: unavailable,
    'per-sample': unavailable,
    hvp: unavailable,
    'vmap-grad': unavailable,
    forward: unavailable,
    jvp: unavailable,
    'hvp-fwd': unavailable,
    'transformer-layer': unavailable,
  };
}
