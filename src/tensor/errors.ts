/**
 * Error types and message helpers.
 *
 * Messages follow one format: `<op>: <what is wrong>; got <values>`, so that a user sees
 * which op failed, what it expected and what it was given. `InternalError` marks a broken
 * invariant inside gradscope itself (our bug, not the caller's) and always says `internal:`.
 */

/** A shape did not fit what an op needs (ranks, broadcasting, inner dimensions, …). */
export class ShapeError extends Error {
  /** Always 'ShapeError', so that `String(e)`, stack traces and `e.name` checks show the class. */
  override name = 'ShapeError';
}

/** A dtype did not fit what an op needs (mixed float32/float64, float op on int32, …). */
export class DTypeError extends Error {
  /** Always 'DTypeError', so that `String(e)`, stack traces and `e.name` checks show the class. */
  override name = 'DTypeError';
}

/** Any other invalid argument (bad axis, bad option value, …). */
export class ValueError extends Error {
  /** Always 'ValueError', so that `String(e)`, stack traces and `e.name` checks show the class. */
  override name = 'ValueError';
}

/** A tensor too large to allocate: over the size limit (setMaxTensorBytes) or refused by the engine. */
export class AllocationError extends Error {
  /** Always 'AllocationError', so that `String(e)`, stack traces and `e.name` checks show the class. */
  override name = 'AllocationError';
}

/** Autograd misuse: a freed graph, a saved tensor modified in place, grad of a non-scalar. */
export class GradError extends Error {
  /** Always 'GradError', so that `String(e)`, stack traces and `e.name` checks show the class. */
  override name = 'GradError';
}

/** A broken invariant: a bug in gradscope, never the caller's fault. */
export class InternalError extends Error {
  /** Always 'InternalError', so that `String(e)`, stack traces and `e.name` checks show the class. */
  override name = 'InternalError';
  /** @param message What invariant broke; the message gets the `internal: ` prefix. */
  constructor(message: string) {
    super(`internal: ${message}`);
  }
}

/** `[2,3]` — the shape notation every message uses. */
export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

/** Throw a ShapeError built lazily, so the happy path never formats strings. */
export function assertShape(condition: boolean, message: () => string): asserts condition {
  if (!condition) throw new ShapeError(message());
}

/** Throw a ValueError built lazily. */
export function assertValue(condition: boolean, message: () => string): asserts condition {
  if (!condition) throw new ValueError(message());
}

/** Throw an InternalError: use only for conditions that mean gradscope has a bug. */
export function assertInternal(condition: boolean, message: () => string): asserts condition {
  if (!condition) throw new InternalError(message());
}

/** A short description of a JavaScript value for a message: `the string "1"`, `null`, `an array`. */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 20 ? v.slice(0, 20) + '…' : v)}`;
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return `an object (${(v as object).constructor?.name ?? 'Object'})`;
  return typeof v === 'number' ? String(v) : typeof v;
}
