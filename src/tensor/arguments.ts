/**
 * Checks of the JavaScript values that public functions receive, run once at API entry (never
 * inside kernels or per-element loops). TypeScript types vanish at run time: a caller in plain
 * JavaScript (or through `as any`) can pass '1', null or {} where a number, a shape or an options
 * object belongs, and JavaScript would coerce it ('1' + 2 = '12', null → 0, {} → NaN) or fail
 * deep inside with a bare TypeError. Each checker either returns the value (typed) or throws a
 * ValueError that names the op and the argument:
 *
 *   `<op>: expected <name> to be <what>; got <describeValue(v)>`
 *
 * Tensor arguments are checked by `tensorArgument` in autograd/operands.ts.
 */
import type { DType, FloatDType } from './dtype.js';
import { DTypeError, ValueError, describeValue } from './errors.js';

function fail(op: string, name: string, what: string, v: unknown): never {
  throw new ValueError(`${op}: expected ${name} to be ${what}; got ${describeValue(v)}`);
}

/** An integer ≥ `min` (default 0); `undefined` gives `fallback` when one is given. */
export function intArgument(op: string, name: string, v: unknown, min = 0, fallback?: number): number {
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) fail(op, name, min === -Infinity ? 'an integer' : `an integer ≥ ${min}`, v);
  return v;
}

/** Any integer (negative allowed: an axis, a bound). */
export function signedIntArgument(op: string, name: string, v: unknown, fallback?: number): number {
  return intArgument(op, name, v, -Infinity, fallback);
}

/** A number (NaN and ±∞ allowed unless `finite`); `undefined` gives `fallback` when one is given. */
export function numberArgument(op: string, name: string, v: unknown, fallback?: number, finite = false): number {
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== 'number' || (finite && !Number.isFinite(v))) fail(op, name, finite ? 'a finite number' : 'a number', v);
  return v;
}

/** A finite number (a hyper-parameter: NaN there would silently make every result NaN). */
export function finiteArgument(op: string, name: string, v: unknown, fallback?: number): number {
  return numberArgument(op, name, v, fallback, true);
}

/** A boolean flag; `undefined` gives `fallback`. */
export function boolArgument(op: string, name: string, v: unknown, fallback: boolean): boolean {
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') fail(op, name, 'true or false', v);
  return v;
}

/** A function. */
export function functionArgument<F>(op: string, name: string, v: F): F {
  if (typeof v !== 'function') fail(op, name, 'a function', v);
  return v;
}

/** An options object (`undefined` is `{}` unless `required`); anything else (null, a string, an array) is refused. */
export function optionsArgument<T extends object>(op: string, v: T | undefined, name = 'the options', required = false): T {
  if (v === undefined && !required) return {} as T;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(op, name, 'an options object', v);
  return v;
}

/** A shape: an array of integers ≥ 0 (holes, NaN, fractions, strings and negatives refused). */
export function shapeArgument(op: string, v: unknown, name = 'shape'): number[] {
  const list = Array.isArray(v) ? (v as unknown[]) : null;
  let ok = list !== null;
  // NOTE: an indexed loop, not every(): every() skips holes.
  for (let i = 0; ok && i < list!.length; i++) {
    const d = list![i];
    ok = typeof d === 'number' && Number.isInteger(d) && d >= 0;
  }
  if (!ok) {
    const got = list ? `[${Array.from(list, (d) => (typeof d === 'number' ? String(d) : d === undefined ? 'a hole' : describeValue(d))).join(',')}]` : describeValue(v);
    throw new ValueError(`${op}: ${name} must be a list of integers ≥ 0; got ${got}`);
  }
  return (list as number[]).slice();
}

const DTYPES: readonly DType[] = ['float32', 'float64', 'int32'];

/** A dtype name; `undefined` gives `fallback` when one is given. */
export function dtypeArgument(op: string, v: unknown, fallback?: DType): DType {
  if (v === undefined && fallback !== undefined) return fallback;
  if (!DTYPES.includes(v as DType)) throw new DTypeError(`${op}: expected a dtype ('float32', 'float64' or 'int32'); got ${describeValue(v)}`);
  return v as DType;
}

/** A float dtype name; `undefined` gives `fallback` when one is given. */
export function floatDTypeArgument(op: string, v: unknown, fallback?: FloatDType): FloatDType {
  if (v === undefined && fallback !== undefined) return fallback;
  if (v !== 'float32' && v !== 'float64') throw new DTypeError(`${op}: expected a float dtype ('float32' or 'float64'); got ${describeValue(v)}`);
  return v;
}

/** An integer ≥ `min` or a pair of them (a kernel size, a stride, a padding). */
export function pairArgument(op: string, name: string, v: unknown, min: number): readonly [number, number] {
  const ok = (d: unknown) => typeof d === 'number' && Number.isInteger(d) && d >= min;
  if (ok(v)) return [v as number, v as number];
  if (Array.isArray(v) && v.length === 2 && ok(v[0]) && ok(v[1])) return [v[0], v[1]];
  const got = Array.isArray(v) ? JSON.stringify(v) : describeValue(v);
  throw new ValueError(`${op}: expected ${name} to be an integer ≥ ${min} or a pair of them; got ${got}`);
}

/** A random key `[k0, k1]` of two 32-bit unsigned words (from makeKey / foldIn / splitKey). */
export function keyArgument(op: string, v: unknown): readonly [number, number] {
  const word = (w: unknown) => typeof w === 'number' && Number.isInteger(w) && w >= 0 && w < 2 ** 32;
  if (!Array.isArray(v) || v.length !== 2 || !word(v[0]) || !word(v[1])) {
    throw new ValueError(`${op}: expected a key [k0, k1] of two 32-bit words (from makeKey, foldIn or splitKey); got ${Array.isArray(v) ? JSON.stringify(v) : describeValue(v)}`);
  }
  return v as unknown as readonly [number, number];
}
