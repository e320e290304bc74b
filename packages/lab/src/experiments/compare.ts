/**
 * `gradscope compare A B` (issue 20): are two results.json files (or two out folders) the same
 * run, wherever their tasks ran? Everything is compared — result, size, seeds, versions,
 * engine settings, the preset's text — except what differs between two runs of the same
 * computation: `date`, `durationSeconds` and `placement` (where each task ran, placement.ts).
 *
 * Numbers are compared exactly (bit for bit: Object.is, so NaN equals NaN and −0 differs from
 * 0), as read from the files' text: one machine, shards and a queue must agree exactly, since
 * every task is a pure function of its input computed with the same engine settings.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { checkPlacements, type TaskPlacement } from './placement.js';
import { RESULTS_FILE } from './runner.js';

/** The top-level fields of results.json that compareResults ignores. */
export const IGNORED_FIELDS: readonly string[] = ['date', 'durationSeconds', 'placement'];

/** results.json writes NaN and ±∞ as strings: read them back as numbers to compare. */
function revive(_key: string, value: unknown): unknown {
  if (value === 'NaN') return Number.NaN;
  if (value === 'Infinity') return Number.POSITIVE_INFINITY;
  if (value === '-Infinity') return Number.NEGATIVE_INFINITY;
  return value;
}

function show(v: unknown): string {
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  const text = JSON.stringify(v);
  return text === undefined ? String(v) : text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** The first difference between two JSON values, as "path: a vs b", or undefined. */
function firstDifference(a: unknown, b: unknown, path: string, ignore: (path: string) => boolean): string | undefined {
  if (typeof a === 'number' && typeof b === 'number') {
    return Object.is(a, b) ? undefined : `${path}: ${show(a)} vs ${show(b)}`;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b)) return `${path}: ${show(a)} vs ${show(b)}`;
    if (a.length !== b.length) return `${path}: ${a.length} entries vs ${b.length}`;
    for (let i = 0; i < a.length; i++) {
      const d = firstDifference(a[i], b[i], `${path}[${i}]`, ignore);
      if (d) return d;
    }
    return undefined;
  }
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) {
    const ao = a as Record<string, unknown>;
    const bo = b as Record<string, unknown>;
    const keys = [...new Set([...Object.keys(ao), ...Object.keys(bo)])];
    for (const k of keys) {
      const p = path ? `${path}.${k}` : k;
      if (ignore(p)) continue;
      if (!(k in ao)) return `${p}: absent vs ${show(bo[k])}`;
      if (!(k in bo)) return `${p}: ${show(ao[k])} vs absent`;
      const d = firstDifference(ao[k], bo[k], p, ignore);
      if (d) return d;
    }
    return undefined;
  }
  return a === b ? undefined : `${path || '(top level)'}: ${show(a)} vs ${show(b)}`;
}

/**
 * Compare two results.json texts, ignoring IGNORED_FIELDS: undefined when they are the same
 * run, else the first difference ("result.runs[3].metrics.finalLoss: 0.25 vs 0.5").
 */
export function compareResults(a: string, b: string): string | undefined {
  const parse = (text: string, which: string): unknown => {
    try {
      return JSON.parse(text, revive);
    } catch (e) {
      throw new Error(`compare: ${which} is not valid JSON: ${(e as Error).message}`);
    }
  };
  const ignored = (path: string) => IGNORED_FIELDS.includes(path);
  return firstDifference(parse(a, 'the first file'), parse(b, 'the second file'), '', ignored);
}

/** The results.json files of an out folder, by preset name. */
function resultsIn(dir: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name, RESULTS_FILE);
    if (existsSync(path)) found.set(name, path);
  }
  return found;
}

/**
 * Compare two results.json files, or two out folders (every preset's results.json: the same
 * presets in both, each the same run). Undefined when equal, else the first difference, named
 * with the file it is in.
 */
export function comparePaths(a: string, b: string): string | undefined {
  for (const p of [a, b]) if (!existsSync(p)) throw new Error(`compare: '${p}' does not exist`);
  const dirA = statSync(a).isDirectory();
  const dirB = statSync(b).isDirectory();
  if (dirA !== dirB) throw new Error(`compare: '${a}' and '${b}' must both be results.json files or both out folders`);
  if (!dirA) {
    const d = compareResults(readFileSync(a, 'utf8'), readFileSync(b, 'utf8'));
    return d && `${a} vs ${b}: ${d}`;
  }
  const inA = resultsIn(a);
  const inB = resultsIn(b);
  if (inA.size === 0) throw new Error(`compare: '${a}' holds no <preset>/${RESULTS_FILE}`);
  for (const name of new Set([...inA.keys(), ...inB.keys()])) {
    const pa = inA.get(name);
    const pb = inB.get(name);
    if (!pa || !pb) return `preset '${name}' has results in '${pa ? a : b}' only`;
    const d = compareResults(readFileSync(pa, 'utf8'), readFileSync(pb, 'utf8'));
    if (d) return `${pa} vs ${pb}: ${d}`;
  }
  return undefined;
}

/** The where-each-task-ran record of a results.json text (empty for files written before it existed). */
export function readPlacements(text: string, where = 'results.json'): TaskPlacement[] {
  const raw = JSON.parse(text) as { placement?: unknown };
  if (raw.placement === undefined) return [];
  return checkPlacements(raw.placement, `${where}: placement`, (m) => {
    throw new Error(m);
  });
}
