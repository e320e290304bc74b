/**
 * `gradscope oracle [dir] [--family NAME] [--dtype float64|float32] [--json FILE]`
 *
 * Runs every oracle case in [dir] (default: BUNDLED_ORACLE) and prints one line per failed value, a summary per family
 * and, last, exactly `N passed, M failed, K skipped` (cases). Exit code 1 if any case failed;
 * a family file that breaks the format (validate.ts) is refused with an error naming it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FAMILY_NAMES, type FamilyName } from '../oracle/format.js';
import { isFamilyName, parseOracleFile } from '../oracle/validate.js';
import { runCase, summarise, type CaseResult } from '../oracle/runner.js';
import { writeFileAtomic } from '../files.js';
import type { FloatDType } from 'gradscope';

/**
 * The PyTorch golden values that ship with this package (packages/lab/oracle/), found from this
 * module: dist/cli/commands/ in an install, src/cli/commands/ in the repository's tests.
 */
export const BUNDLED_ORACLE = fileURLToPath(new URL('../../../oracle/', import.meta.url));

export interface OracleOptions {
  dir: string;
  family?: string;
  dtype: FloatDType;
  json?: string;
}

function fmt(x: number): string {
  return Number.isFinite(x) ? x.toExponential(2) : String(x);
}

export function oracleCommand(options: OracleOptions, print: (line: string) => void): number {
  if (options.family !== undefined && !isFamilyName(options.family)) {
    throw new Error(`oracle: unknown family '${options.family}'; expected one of ${FAMILY_NAMES.join(', ')}`);
  }
  const families: FamilyName[] = options.family !== undefined ? [options.family as FamilyName] : [...FAMILY_NAMES];
  if (!existsSync(options.dir)) throw new Error(`oracle: directory '${options.dir}' does not exist`);
  const results: CaseResult[] = [];
  for (const family of families) {
    const file = join(options.dir, `${family}.json`);
    if (!existsSync(file)) continue;
    // Checked whole before any case runs: a malformed file is refused (exit 2), never counted.
    const cases = parseOracleFile(readFileSync(file, 'utf8'), file, family);
    for (const c of cases) {
      const r = runCase(c, options.dtype);
      results.push(r);
      if (r.status !== 'failed') continue;
      if (r.reason) print(`FAIL ${r.family}/${r.name}: threw ${r.reason.split('\n')[0]}`);
      for (const f of r.failures) {
        const what = f.problem ?? `max abs err ${fmt(f.maxAbs)}, max rel err ${fmt(f.maxRel)}`;
        print(`FAIL ${f.family}/${f.caseName} ${f.key}: ${what}`);
      }
    }
  }
  if (results.length === 0) throw new Error(`oracle: no family files (${families.map((f) => `${f}.json`).join(', ')}) in '${options.dir}'`);
  const summaries = summarise(results);
  for (const s of summaries) {
    const missing = s.missing.length ? ` (not implemented yet: ${s.missing.join(', ')})` : '';
    print(`${s.family}: ${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped${missing}`);
  }
  const total = (k: 'passed' | 'failed' | 'skipped') => summaries.reduce((n, s) => n + s[k], 0);
  if (options.json) {
    writeFileAtomic(options.json, JSON.stringify({ dtype: options.dtype, summaries, cases: results }, null, 1));
  }
  print(`${total('passed')} passed, ${total('failed')} failed, ${total('skipped')} skipped`);
  return total('failed') > 0 ? 1 : 0;
}
