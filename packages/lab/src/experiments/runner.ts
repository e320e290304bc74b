/**
 * The experiment runner: runs presets at a size with their seeds, writes
 * <out>/<preset>/results.json atomically, and skips a preset whose results.json is already
 * complete for the same size and seeds (so a rerun after an interruption loses nothing and
 * redoes nothing). Progress goes through a callback; the runner never prints. A preset's
 * independent tasks run in worker threads when `workers` > 1 (task-pool.ts).
 *
 * Only numbers computed the same way are reused: results.json and every saved task output
 * record the engine settings (backend, fused multiply-add, default dtype: engine-settings.ts),
 * and a preset is skipped, or a task output reused, only when they are this run's. A run holds
 * an exclusive lock on its out folder (out-lock.ts), so two runs never write one folder.
 *
 * results.json holds numbers that JSON cannot (NaN marks a diverged value): non-finite numbers
 * are written as the strings "NaN", "Infinity" and "-Infinity" and read back as numbers by
 * `parseResults`, which also validates the whole file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from 'gradscope/io';
import { currentBackendInfo } from 'gradscope';
import { checkEngineSettings, engineSettings, sameEngine, type EngineSettings } from './engine-settings.js';
import { prepareOutDir, withOutLock } from './out-lock.js';
import type { Plot, Preset, PresetResult, RunRecord, Series, Size, Verdict } from './preset.js';
import { TASKS_DIR, TaskCache } from './task-cache.js';
import { taskPool, type TaskPool } from './task-pool.js';

export const RESULTS_FORMAT = 'gradscope-results/1';
export const RESULTS_FILE = 'results.json';

/** The content of <out>/<preset>/results.json. */
export interface ResultsFile {
  format: typeof RESULTS_FORMAT;
  preset: string;
  paper: string;
  claim: string;
  rule: string;
  size: Size;
  seeds: number[];
  /**
   * `backend`: the kernels' backend the run used (`currentBackendInfo().label`); `engine`: every
   * setting that decides the numbers (engine-settings.ts). Both are absent in older files, which
   * are therefore never skipped.
   */
  versions: { gradscope: string; node: string; backend?: string; engine?: EngineSettings };
  /** ISO date the run finished. */
  date: string;
  durationSeconds: number;
  /** True once the preset ran to the end (the file is only written then). */
  complete: true;
  result: PresetResult;
}

export type RunEvent =
  | { kind: 'start'; preset: string; index: number; total: number; size: Size; seeds: readonly number[] }
  | { kind: 'progress'; preset: string; index: number; total: number; fraction: number; message: string; elapsedSeconds: number }
  | { kind: 'skip'; preset: string; index: number; total: number; path: string }
  | { kind: 'done'; preset: string; index: number; total: number; path: string; verdict: Verdict; seconds: number }
  /** Something the run worked around, e.g. a damaged saved task output that it runs again. */
  | { kind: 'warning'; preset: string; index: number; total: number; message: string };

export interface RunOptions {
  presets: readonly Preset[];
  size: Size;
  /** Overrides every preset's default seeds. */
  seeds?: readonly number[];
  out: string;
  /** Rerun even where complete results exist. */
  force?: boolean;
  /** Worker threads for the presets' tasks (default 1: everything in this thread). */
  workers?: number;
  /** The backend the worker threads select (the caller selects this thread's). */
  backend?: string;
  /**
   * Seconds a task (one `context.map` input) may run before it is stopped and the run fails
   * naming it (default: no limit). With a limit every task runs in a worker thread, even with
   * `workers` 1, because a task running in this thread cannot be interrupted (task-pool.ts).
   */
  taskTimeout?: number;
  onEvent?: (event: RunEvent) => void;
  /** Clock for durations (tests); defaults to performance.now() in ms. */
  now?: () => number;
}

export interface RunSummary {
  ran: string[];
  skipped: string[];
  files: string[];
}

export function gradscopeVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export function resultsPath(out: string, preset: string): string {
  return join(out, preset, RESULTS_FILE);
}

/**
 * The complete results already in `path` for this size, these seeds and this engine (default:
 * this thread's settings now), or undefined.
 */
export function existingResults(path: string, size: Size, seeds: readonly number[], engine: EngineSettings = engineSettings()): ResultsFile | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const r = parseResults(readFileSync(path, 'utf8'), path);
    const sameSettings = r.versions.engine !== undefined && sameEngine(r.versions.engine, engine);
    return r.complete && r.size === size && sameSeeds(r.seeds, seeds) && sameSettings ? r : undefined;
  } catch {
    return undefined; // unreadable or invalid: run again and replace it
  }
}

function sameSeeds(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((s, i) => s === b[i]);
}

export async function runPresets(options: RunOptions): Promise<RunSummary> {
  prepareOutDir(options.out, 'run');
  if (options.taskTimeout !== undefined && !(options.taskTimeout > 0 && Number.isFinite(options.taskTimeout))) {
    throw new Error(`run: taskTimeout must be a positive number of seconds; got ${options.taskTimeout}`);
  }
  return withOutLock(options.out, 'run', async () => {
    const pool = taskPool(options.workers ?? 1, { backend: options.backend, taskTimeout: options.taskTimeout });
    try {
      return await runAll(options, pool);
    } finally {
      await pool.close();
    }
  });
}

async function runAll(options: RunOptions, pool: TaskPool): Promise<RunSummary> {
  const { presets, size, out } = options;
  const emit = options.onEvent ?? (() => {});
  const now = options.now ?? (() => performance.now());
  const summary: RunSummary = { ran: [], skipped: [], files: [] };
  const total = presets.length;
  const engine = engineSettings();
  for (const [index, preset] of presets.entries()) {
    const seeds = [...(options.seeds ?? preset.seeds)];
    const path = resultsPath(out, preset.name);
    if (!options.force && existingResults(path, size, seeds, engine)) {
      summary.skipped.push(preset.name);
      summary.files.push(path);
      emit({ kind: 'skip', preset: preset.name, index, total, path });
      continue;
    }
    emit({ kind: 'start', preset: preset.name, index, total, size, seeds });
    const cache = new TaskCache(join(out, preset.name, TASKS_DIR), engine);
    const warn = (message: string) => emit({ kind: 'warning', preset: preset.name, index, total, message });
    if (options.force) cache.clear();
    const t0 = now();
    const result = await preset.run({
      size,
      seeds,
      progress: (fraction, message) =>
        emit({ kind: 'progress', preset: preset.name, index, total, fraction: Math.min(1, Math.max(0, fraction)), message, elapsedSeconds: (now() - t0) / 1000 }),
      map: (task, inputs, onResult) => cachedMap(pool, cache, preset, task, inputs, warn, onResult),
    });
    const seconds = (now() - t0) / 1000;
    const file: ResultsFile = {
      format: RESULTS_FORMAT,
      preset: preset.name,
      paper: preset.paper,
      claim: preset.claim,
      rule: preset.rule,
      size,
      seeds,
      versions: { gradscope: gradscopeVersion(), node: process.version, backend: currentBackendInfo().label, engine },
      date: new Date().toISOString(),
      durationSeconds: seconds,
      complete: true,
      result,
    };
    // Validate what we are about to write: a preset bug should fail here, not in the report.
    const text = stringifyResults(file);
    parseResults(text, path);
    writeFileAtomic(path, text, 'run');
    cache.clear(); // everything is in results.json now
    summary.ran.push(preset.name);
    summary.files.push(path);
    emit({ kind: 'done', preset: preset.name, index, total, path, verdict: result.verdict, seconds });
  }
  return summary;
}

/**
 * `context.map` with resume: tasks whose output an interrupted run saved are not run again;
 * the others go to the pool and each output is saved as soon as it arrives. A saved output
 * that cannot be reused (damaged, or computed with other engine settings) is run again, with a
 * warning naming its file.
 */
async function cachedMap<I, O>(
  pool: TaskPool,
  cache: TaskCache,
  preset: Preset,
  task: string,
  inputs: readonly I[],
  warn: (message: string) => void,
  onResult?: (done: number, total: number) => void,
): Promise<O[]> {
  const outputs = new Array<O>(inputs.length);
  const missing: number[] = [];
  inputs.forEach((input, i) => {
    const saved = cache.read(task, input);
    if (saved && 'output' in saved) {
      outputs[i] = saved.output as O;
      return;
    }
    if (saved) warn(`run: not reusing a saved output of task '${task}' of preset '${preset.name}', running it again: ${saved.stale}`);
    missing.push(i);
  });
  let done = inputs.length - missing.length;
  if (done > 0) onResult?.(done, inputs.length);
  await pool.map<I, O>(
    preset,
    task,
    missing.map((i) => inputs[i]!),
    (k, output) => {
      const i = missing[k]!;
      cache.write(task, inputs[i], output);
      outputs[i] = output;
      onResult?.(++done, inputs.length);
    },
  );
  return outputs;
}

// ---- serialisation and validation ----------------------------------------------------------

export function stringifyResults(file: ResultsFile): string {
  return `${JSON.stringify(
    file,
    (_key, value: unknown) => (typeof value === 'number' && !Number.isFinite(value) ? String(value) : value),
    2,
  )}\n`;
}

class ResultsError extends Error {}

/** Parse and validate a results.json text; throws an Error naming the file and the field. */
export function parseResults(text: string, where = 'results.json'): ResultsFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`${where}: not valid JSON: ${(e as Error).message}`);
  }
  try {
    return validateResults(raw);
  } catch (e) {
    if (e instanceof ResultsError) throw new Error(`${where}: ${e.message}`);
    throw e;
  }
}

/** Plot ids whose files would collide with the report's own files in the preset's folder. */
export const RESERVED_PLOT_IDS: readonly string[] = ['runs'];

const VERDICTS: readonly Verdict[] = ['REPRODUCED', 'NOT REPRODUCED', 'INCONCLUSIVE'];

function fail(path: string, what: string): never {
  throw new ResultsError(`${path} ${what}`);
}

function obj(v: unknown, path: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path, 'must be an object');
  return v as Record<string, unknown>;
}

function str(v: unknown, path: string): string {
  if (typeof v !== 'string') fail(path, 'must be a string');
  return v;
}

function num(v: unknown, path: string): number {
  if (typeof v === 'number') return v;
  if (v === 'NaN') return Number.NaN;
  if (v === 'Infinity') return Number.POSITIVE_INFINITY;
  if (v === '-Infinity') return Number.NEGATIVE_INFINITY;
  return fail(path, 'must be a number');
}

function arr(v: unknown, path: string): unknown[] {
  if (!Array.isArray(v)) fail(path, 'must be an array');
  return v;
}

function numbers(v: unknown, path: string): number[] {
  return arr(v, path).map((x, i) => num(x, `${path}[${i}]`));
}

function record<T>(v: unknown, path: string, each: (x: unknown, p: string) => T): Record<string, T> {
  const o = obj(v, path);
  const out: Record<string, T> = {};
  for (const [k, x] of Object.entries(o)) out[k] = each(x, `${path}.${k}`);
  return out;
}

function validateSeries(v: unknown, path: string): Series {
  const o = obj(v, path);
  const x = numbers(o.x, `${path}.x`);
  const y = numbers(o.y, `${path}.y`);
  if (x.length !== y.length) fail(path, `has ${x.length} x values but ${y.length} y values`);
  return { label: str(o.label, `${path}.label`), x, y };
}

function validatePlot(v: unknown, path: string): Plot {
  const o = obj(v, path);
  const id = str(o.id, `${path}.id`);
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(id)) fail(`${path}.id`, `'${id}' must be a file-name-safe identifier`);
  const plot: Plot = {
    id,
    title: str(o.title, `${path}.title`),
    xLabel: str(o.xLabel, `${path}.xLabel`),
    yLabel: str(o.yLabel, `${path}.yLabel`),
    series: arr(o.series, `${path}.series`).map((s, i) => validateSeries(s, `${path}.series[${i}]`)),
  };
  for (const axis of ['xLog', 'yLog'] as const) {
    if (o[axis] === undefined) continue;
    if (typeof o[axis] !== 'boolean') fail(`${path}.${axis}`, 'must be a boolean');
    plot[axis] = o[axis] as boolean;
  }
  return plot;
}

function validateRun(v: unknown, path: string): RunRecord {
  const o = obj(v, path);
  if (typeof o.diverged !== 'boolean') fail(`${path}.diverged`, 'must be a boolean');
  return {
    id: str(o.id, `${path}.id`),
    config: record(o.config, `${path}.config`, (x, p) => {
      if (typeof x === 'string' || typeof x === 'boolean') return x;
      return num(x, p);
    }),
    diverged: o.diverged,
    metrics: record(o.metrics, `${path}.metrics`, num),
  };
}

function validateSize(v: unknown, path: string): Size {
  if (v !== 'smoke' && v !== 'full') fail(path, `must be 'smoke' or 'full'`);
  return v;
}

function validateResult(v: unknown, path: string): PresetResult {
  const o = obj(v, path);
  if (!VERDICTS.includes(o.verdict as Verdict)) fail(`${path}.verdict`, `must be one of ${VERDICTS.join(', ')}`);
  const plots = arr(o.plots, `${path}.plots`).map((p, i) => validatePlot(p, `${path}.plots[${i}]`));
  // Each plot becomes <id>.csv and <id>.svg next to runs.csv and results.json (cli/report): ids
  // are compared without case, as a case-insensitive file system (macOS, Windows) would.
  const ids = new Set<string>();
  for (const [i, p] of plots.entries()) {
    const lower = p.id.toLowerCase();
    if (RESERVED_PLOT_IDS.includes(lower)) fail(`${path}.plots[${i}].id`, `'${p.id}' is reserved: its CSV would overwrite the report's ${lower}.csv`);
    if (ids.has(lower)) fail(`${path}.plots`, `has two plots with id '${p.id}' (ids are compared without case)`);
    ids.add(lower);
  }
  return {
    preset: str(o.preset, `${path}.preset`),
    size: validateSize(o.size, `${path}.size`),
    verdict: o.verdict as Verdict,
    verdictDetail: str(o.verdictDetail, `${path}.verdictDetail`),
    numbers: record(o.numbers, `${path}.numbers`, num),
    plots,
    runs: arr(o.runs, `${path}.runs`).map((r, i) => validateRun(r, `${path}.runs[${i}]`)),
    checks: record(o.checks, `${path}.checks`, (x, p) => {
      if (typeof x !== 'boolean') fail(p, 'must be a boolean');
      return x;
    }),
  };
}

export function validateResults(raw: unknown): ResultsFile {
  const o = obj(raw, 'results');
  if (o.format !== RESULTS_FORMAT) fail('format', `must be '${RESULTS_FORMAT}'; got ${JSON.stringify(o.format)}`);
  if (o.complete !== true) fail('complete', 'must be true');
  const versions = obj(o.versions, 'versions');
  const seeds = numbers(o.seeds, 'seeds');
  if (!seeds.every(Number.isInteger)) fail('seeds', 'must be integers');
  const file: ResultsFile = {
    format: RESULTS_FORMAT,
    preset: str(o.preset, 'preset'),
    paper: str(o.paper, 'paper'),
    claim: str(o.claim, 'claim'),
    rule: str(o.rule, 'rule'),
    size: validateSize(o.size, 'size'),
    seeds,
    versions: {
      gradscope: str(versions.gradscope, 'versions.gradscope'),
      node: str(versions.node, 'versions.node'),
      ...(versions.backend === undefined ? {} : { backend: str(versions.backend, 'versions.backend') }),
      ...(versions.engine === undefined ? {} : { engine: checkEngineSettings(versions.engine, 'versions.engine', (m) => {
              throw new ResultsError(m);
            }) }),
    },
    date: str(o.date, 'date'),
    durationSeconds: num(o.durationSeconds, 'durationSeconds'),
    complete: true,
    result: validateResult(o.result, 'result'),
  };
  if (file.result.preset !== file.preset) fail('result.preset', `'${file.result.preset}' differs from preset '${file.preset}'`);
  if (file.result.size !== file.size) fail('result.size', `'${file.result.size}' differs from size '${file.size}'`);
  return file;
}
