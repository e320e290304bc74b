/**
 * What an implementation hands the timer for one row: a step to time and a way to free what
 * the row allocated. Builders are tables keyed by row kind, so a missing kind is a compile
 * error in every implementation.
 */
import type { Row, RowKind, RowOf } from './rows.js';

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

export type Builders = { [K in RowKind]: (row: RowOf<K>) => Runnable };

export function buildRow(builders: Builders, row: Row): Runnable {
  // The table is exhaustive over kinds; TypeScript cannot correlate row.kind with its entry.
  return (builders[row.kind] as (row: Row) => Runnable)(row);
}
