/**
 * The oracle runner: run every case of every family file it is given, compare each expected
 * value, and summarise. Pure (no file system): the CLI reads the files and prints the lines.
 */
import type { FloatDType } from 'gradscope';
import { compare } from './compare.js';
import { batchnormFamily } from './families/batchnorm.js';
import { convPoolFamily } from './families/conv-pool.js';
import { interopFamily } from './families/interop.js';
import { layersExtFamily } from './families/layers-ext.js';
import { modelsFamily } from './families/models.js';
import { opsExtFamily } from './families/ops-ext.js';
import { opsFamily } from './families/ops.js';
import { optimizersExtFamily } from './families/optimizers-ext.js';
import { optimizersFamily } from './families/optimizers.js';
import { secondOrderFamily } from './families/second-order.js';
import { transformsFamily } from './families/transforms.js';
import { FAMILY_NAMES, type Family, type FamilyName, type OracleCase } from './format.js';
import { isFamilyName } from './validate.js';

/**
 * Families implemented so far. A null-prototype object, so a family name such as
 * 'constructor' finds nothing rather than Object.prototype's function.
 */
export const FAMILIES: Partial<Record<FamilyName, Family>> = Object.freeze(
  Object.assign(Object.create(null) as Partial<Record<FamilyName, Family>>, {
    ops: opsFamily,
    conv_pool: convPoolFamily,
    batchnorm: batchnormFamily,
    models: modelsFamily,
    second_order: secondOrderFamily,
    optimizers: optimizersFamily,
    transforms: transformsFamily,
    ops_ext: opsExtFamily,
    layers_ext: layersExtFamily,
    optimizers_ext: optimizersExtFamily,
    interop: interopFamily,
  }),
);

/** Tolerances for a float32 run (the files' own tolerances assume float64). */
const FIRST_ORDER_FLOAT32 = { rtol: 1e-4, atol: 1e-5 };
const SECOND_ORDER_FLOAT32 = { rtol: 1e-3, atol: 1e-4 };
const FLOAT32_TOLERANCE: Record<FamilyName, { rtol: number; atol: number }> = {
  ops: FIRST_ORDER_FLOAT32,
  conv_pool: FIRST_ORDER_FLOAT32,
  batchnorm: FIRST_ORDER_FLOAT32,
  models: FIRST_ORDER_FLOAT32,
  second_order: SECOND_ORDER_FLOAT32,
  optimizers: SECOND_ORDER_FLOAT32,
  // Per case: order 2 (hessians, jvp of grad) as second_order; see float32Tolerance.
  transforms: FIRST_ORDER_FLOAT32,
  // Per value: the HVPs are second order; see float32Tolerance.
  ops_ext: FIRST_ORDER_FLOAT32,
  layers_ext: FIRST_ORDER_FLOAT32,
  optimizers_ext: SECOND_ORDER_FLOAT32,
  interop: FIRST_ORDER_FLOAT32,
};

/**
 * The float32 tolerance of one expected value: its family's, except that second-order values
 * get the second-order one, as the float64 tolerances of the format do (1e-8 → 1e-7 for order
 * 2): every value of a second-order transforms case, and the `hvp…` values of ops_ext and
 * layers_ext (their `out` and first-order gradients keep the first-order tolerance).
 */
function float32Tolerance(c: OracleCase, key: string): { rtol: number; atol: number } {
  if (c.family === 'transforms' && c.config.derivative_order >= 2) return SECOND_ORDER_FLOAT32;
  if ((c.family === 'ops_ext' || c.family === 'layers_ext') && key.startsWith('hvp')) return SECOND_ORDER_FLOAT32;
  return FLOAT32_TOLERANCE[c.family];
}

export interface ValueFailure {
  family: string;
  caseName: string;
  key: string;
  maxAbs: number;
  maxRel: number;
  problem?: string;
}

export interface CaseResult {
  family: string;
  name: string;
  status: 'passed' | 'failed' | 'skipped';
  /** For skipped cases: what is missing. For failed cases that threw: the error. */
  reason?: string;
  failures: ValueFailure[];
}

export interface FamilySummary {
  family: string;
  passed: number;
  failed: number;
  skipped: number;
  missing: string[];
}

export function runCase(c: OracleCase, dtype: FloatDType): CaseResult {
  if (!isFamilyName(c.family)) {
    // Not "skipped": a name outside the format is a broken file, and must not exit 0.
    return { family: String(c.family), name: c.name, status: 'failed', reason: `unknown family ${JSON.stringify(c.family)}; expected one of ${FAMILY_NAMES.join(', ')}`, failures: [] };
  }
  const family = FAMILIES[c.family];
  const missing = family ? family.missing(c) : `family ${c.family}`;
  if (!family || missing !== null) {
    return { family: c.family, name: c.name, status: 'skipped', reason: missing ?? undefined, failures: [] };
  }
  let results;
  try {
    results = family.run(c, dtype);
  } catch (error) {
    return { family: c.family, name: c.name, status: 'failed', reason: String((error as Error).stack ?? error), failures: [] };
  }
  const failures: ValueFailure[] = [];
  for (const [key, expected] of Object.entries(c.expected)) {
    const { rtol, atol } = dtype === 'float64' ? c : float32Tolerance(c, key);
    const r = compare(Object.hasOwn(results, key) ? results[key] : undefined, expected, rtol, atol);
    if (!r.ok) failures.push({ family: c.family, caseName: c.name, key, maxAbs: r.maxAbs, maxRel: r.maxRel, problem: r.problem });
  }
  // Every value the computation produces must be checked: a file that drops an expected value
  // (say `grad_b`) would otherwise pass on the values it kept.
  for (const key of Object.keys(results)) {
    if (!Object.hasOwn(c.expected, key)) {
      failures.push({ family: c.family, caseName: c.name, key, maxAbs: NaN, maxRel: NaN, problem: 'produced, but the case has no expected value for it' });
    }
  }
  return { family: c.family, name: c.name, status: failures.length ? 'failed' : 'passed', failures };
}

export function summarise(results: readonly CaseResult[]): FamilySummary[] {
  const byFamily = new Map<string, FamilySummary>();
  for (const r of results) {
    let s = byFamily.get(r.family);
    if (!s) byFamily.set(r.family, (s = { family: r.family, passed: 0, failed: 0, skipped: 0, missing: [] }));
    s[r.status]++;
    if (r.status === 'skipped' && r.reason && !s.missing.includes(r.reason)) s.missing.push(r.reason);
  }
  return [...byFamily.values()];
}
