/**
 * numpy.allclose comparison of an actual value with an expected oracle value:
 * |a − e| ≤ atol + rtol·|e| elementwise; integer tensors must match exactly; shapes must match.
 */

import { Tensor } from 'gradscope';
import type { OracleTensor } from './format.js';

export interface Comparison {
  ok: boolean;
  maxAbs: number;
  maxRel: number;
  /** Why a comparison failed before looking at values (shape, missing, non-finite). */
  problem?: string;
}

export function compare(
  actual: Tensor | number | boolean | undefined,
  expected: OracleTensor | number | boolean,
  rtol: number,
  atol: number,
): Comparison {
  if (actual === undefined) return { ok: false, maxAbs: NaN, maxRel: NaN, problem: 'not produced' };
  // A boolean (interop's `error`: was the file refused?) matches only the same boolean.
  if (typeof expected === 'boolean' || typeof actual === 'boolean') {
    const ok = actual === expected;
    return { ok, maxAbs: ok ? 0 : NaN, maxRel: ok ? 0 : NaN, problem: ok ? undefined : `${String(actual)} but expected ${String(expected)}` };
  }
  const expShape = typeof expected === 'number' ? [] : expected.shape;
  const expData = typeof expected === 'number' ? [expected] : expected.data;
  const exact = typeof expected !== 'number' && expected.dtype === 'int64';
  let actData: ArrayLike<number>;
  if (actual instanceof Tensor) {
    // A bare number in `expected` is a scalar: accept any one-element tensor for it.
    const shapeOk = typeof expected === 'number' ? actual.size === 1 : actual.shape.length === expShape.length && actual.shape.every((d, i) => d === expShape[i]);
    if (!shapeOk) {
      return { ok: false, maxAbs: NaN, maxRel: NaN, problem: `shape [${actual.shape}] but expected [${expShape}]` };
    }
    actData = actual.toTypedArray();
  } else if (typeof actual === 'number') {
    // A plain number is a scalar: it matches a bare number or a 0-d tensor, nothing larger.
    if (expShape.length !== 0) return { ok: false, maxAbs: NaN, maxRel: NaN, problem: `a scalar but expected shape [${expShape}]` };
    actData = [actual];
  } else {
    return { ok: false, maxAbs: NaN, maxRel: NaN, problem: `not a tensor or number (${typeof actual})` };
  }
  // The loop below walks the expected values; equal lengths make it walk every actual value too.
  if (actData.length !== expData.length) {
    return { ok: false, maxAbs: NaN, maxRel: NaN, problem: `${actData.length} values but expected ${expData.length}` };
  }
  let ok = true;
  let maxAbs = 0;
  let maxRel = 0;
  for (let i = 0; i < expData.length; i++) {
    const a = actData[i]!;
    const e = expData[i]!;
    const abs = Math.abs(a - e);
    const rel = abs / Math.max(Math.abs(e), Number.MIN_VALUE);
    if (!(abs <= maxAbs)) maxAbs = abs; // also records NaN
    if (e !== 0 && !(rel <= maxRel)) maxRel = rel;
    const pass = exact ? a === e : abs <= atol + rtol * Math.abs(e);
    if (!pass) ok = false;
  }
  return { ok, maxAbs, maxRel };
}
