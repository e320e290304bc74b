/**
 * The experiment runner: runs presets at a size with their seeds, writes
 * <out>/<preset>/results.json atomically, and skips a preset whose results.json is already
 * complete for the same size and seeds (so a rerun after an interruption loses nothing and
 * redoes nothing). Progress goes through a callback; the runner never prints. A preset's
 * independent tasks run in worker threads when `workers` > 1 (task-pool.ts).
 *
 * Where the tasks run is an executor (TaskExecutor): this machine's pool by default; a shard of
 * an array job, the merge of shards and the Redis queue plug in there (docs/sweeps.md), and the
 * runner writes results.json the same way for all of them, with where each task ran beside the
 * result (`placement`).
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
import { MAX_SERIES_PER_PLOT, type ClaimPart, type Plot, type Preset, type PresetResult, type RunContext, type RunRecord, type Series, type Size, type Verdict } from './preset.js';
import { checkPlacements, placedHere, type TaskPlacement } from './placement.js';
import { TASKS_DIR, TaskCache, taskKey } from './task-cache.js';
import { taskPool, type TaskPool } from './task-pool.js';

export const RESULTS_FORMAT = 'gradscope-results/2';
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
  /** `--data DIR`, where the run was given one (written only then). */
  dataDir?: string;
  /**
   * `--max-steps N`, where the run was given it (written only then): every training run stopped
   * after N steps, so the run tried a configuration and its verdicts are not the preset's.
   */
  maxSteps?: number;
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
  /**
   * Where each task ran, in task order (placement.ts): kept beside `result`, never in it, so
   * that `result` is the same from one machine, shards or a queue. Absent in older files.
   * parseResults validates and keeps it (placement.ts's checkPlacements), for the report.
   */
  placement?: TaskPlacement[];
}

export type RunEvent =
  | { kind: 'start'; preset: string; index: number; total: number; size: Size; seeds: readonly number[] }
  | { kind: 'progress'; preset: string; index: number; total: number; fraction: number; message: string; elapsedSeconds: number }
  | { kind: 'skip'; preset: string; index: number; total: number; path: string }
  | { kind: 'done'; preset: string; index: number; total: number; path: string; verdict: Verdict; seconds: number }
  /** Something the run worked around, e.g. a damaged saved task output that it runs again. */
  | { kind: 'warning'; preset: string; index: number; total: number; message: string }
  /** The executor wrote no results.json for the preset, e.g. a shard that ran its share of it. */
  | { kind: 'stopped'; preset: string; index: number; total: number; message: string; seconds: number };

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
  /**
   * Where the tasks run: a shard, the merge of shards, a queue (docs/sweeps.md). Default: the
   * thread pool that `workers`, `backend` and `taskTimeout` describe, on this machine.
   */
  executor?: TaskExecutor;
  /** `--data DIR`: passed to every preset's RunContext and recorded in results.json. */
  dataDir?: string;
  /** `--max-steps N`: passed to every preset's RunContext and recorded in results.json. */
  maxSteps?: number;
}

/** What a run was limited to or read from besides its size and seeds (results are reused only for the same). */
export interface RunInputs {
  dataDir?: string;
  maxSteps?: number;
}

export interface RunSummary {
  ran: string[];
  skipped: string[];
  files: string[];
  /** Presets the executor ran without writing results.json (a shard's share). */
  stopped?: string[];
}

/** What an executor is told about each preset it runs. */
export interface PresetSetup {
  preset: Preset;
  size: Size;
  seeds: readonly number[];
  /** The settings this run computes with (engine-settings.ts). */
  engine: EngineSettings;
  /** <out>/<preset>: the preset's folder. */
  dir: string;
  /** The preset's saved task outputs, <out>/<preset>/tasks (already cleared with `force`). */
  cache: TaskCache;
  /** A warning for the run's events (e.g. a damaged saved output that is run again). */
  warn: (message: string) => void;
  /** --data and --max-steps, as the preset's RunContext gets them. */
  inputs: RunInputs;
}

/**
 * How one preset's run ended, as its executor decides: write results.json with the record of
 * where each task ran, or write none (a shard: merge writes it), saying why.
 */
export type PresetEnd = { write: true; placement: TaskPlacement[] } | { write: false; message: string };

/** One preset's run on an executor: its `context.map`, then `finish` once the driver ends. */
export interface PresetSession {
  map: RunContext['map'];
  /**
   * The driver returned (`error` undefined) or threw: how the preset ends. An error the
   * executor does not expect (anything but its own stop) is thrown again.
   */
  finish(error?: unknown): Promise<PresetEnd>;
}

/**
 * Where a run's tasks execute (the seam of issue 20): the thread pool on this machine, a shard
 * of an array job, the merge of shards, a Redis queue. runPresets drives the presets and writes
 * results.json and the report the same way whatever the executor.
 */
export interface TaskExecutor {
  /**
   * Drive every preset at once rather than one after another (the queue: every preset's
   * current stage is on the queue together, for the workers to share).
   */
  readonly concurrent?: boolean;
  start(setup: PresetSetup): PresetSession;
  /** Release what the executor holds (threads, connections); runPresets calls it at the end. */
  close(): Promise<void>;
}

/**
 * The default executor: the tasks run in `pool` on this machine, each output saved as it
 * arrives and reused on a rerun (cachedMap); every task is recorded as run 'local'.
 * `inThisThread`: the pool runs tasks in this thread (inlinePool); otherwise no thread is
 * recorded, since a worker pool does not say which of its threads ran a task.
 */
export function localExecutor(pool: TaskPool, inThisThread: boolean): TaskExecutor {
  return {
    start(setup) {
      const placement: TaskPlacement[] = [];
      return {
        map: async <I, O>(task: string, inputs: readonly I[], onResult?: (done: number, total: number) => void) => {
          const first = placement.length;
          inputs.forEach((input, i) => {
            placement[first + i] = placedHere(task, taskKey(task, input), 'local', inThisThread ? undefined : null);
          });
          return cachedMap<I, O>(pool, setup.cache, setup.preset, task, inputs, setup.warn, onResult, (i) => {
            placement[first + i]!.resumed = true;
          });
        },
        async finish(error) {
          if (error !== undefined) throw error;
          return { write: true, placement };
        },
      };
    },
    close: () => pool.close(),
  };
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
 * The complete results already in `path` for this size, these seeds, this engine (default:
 * this thread's settings now) and the same --data and --max-steps (default: neither), or undefined.
 */
export function existingResults(
  path: string,
  size: Size,
  seeds: readonly number[],
  engine: EngineSettings = engineSettings(),
  inputs: RunInputs = {},
): ResultsFile | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const r = parseResults(readFileSync(path, 'utf8'), path);
    const sameSettings = r.versions.engine !== undefined && sameEngine(r.versions.engine, engine);
    // A --max-steps run tried a configuration: it never stands in for a full run (nor the reverse).
    const sameInputs = r.dataDir === inputs.dataDir && r.maxSteps === inputs.maxSteps;
    return r.complete && r.size === size && sameSeeds(r.seeds, seeds) && sameSettings && sameInputs ? r : undefined;
  } catch {
    return undefined; // unreadable or invalid: run again and replace it
  }
}

/** The run's --data and --max-steps, with only the ones given present. */
function runInputs(options: RunOptions): RunInputs {
  return {
    ...(options.dataDir === undefined ? {} : { dataDir: options.dataDir }),
    ...(options.maxSteps === undefined ? {} : { maxSteps: options.maxSteps }),
  };
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
    const inThisThread = (options.workers ?? 1) <= 1 && options.taskTimeout === undefined;
    const pool = () => taskPool(options.workers ?? 1, { backend: options.backend, taskTimeout: options.taskTimeout });
    const executor = options.executor ?? localExecutor(pool(), inThisThread);
    try {
      return await runAll(options, executor);
    } finally {
      await executor.close();
    }
  });
}

type PresetOutcome = { kind: 'ran' | 'skipped' | 'stopped'; path: string };

async function runAll(options: RunOptions, executor: TaskExecutor): Promise<RunSummary> {
  const { presets } = options;
  const summary: RunSummary = { ran: [], skipped: [], files: [], stopped: [] };
  const engine = engineSettings();
  const one = (preset: Preset, index: number) => runOne(options, executor, engine, preset, index);
  const outcomes: PresetOutcome[] = [];
  if (executor.concurrent) outcomes.push(...(await Promise.all(presets.map(one))));
  else for (const [index, preset] of presets.entries()) outcomes.push(await one(preset, index));
  outcomes.forEach(({ kind, path }, i) => {
    const name = presets[i]!.name;
    if (kind === 'ran') summary.ran.push(name);
    else if (kind === 'skipped') summary.skipped.push(name);
    else summary.stopped!.push(name);
    if (kind !== 'stopped') summary.files.push(path);
  });
  return summary;
}

async function runOne(
  options: RunOptions,
  executor: TaskExecutor,
  engine: EngineSettings,
  preset: Preset,
  index: number,
): Promise<PresetOutcome> {
  const { size, out } = options;
  const emit = options.onEvent ?? (() => {});
  const now = options.now ?? (() => performance.now());
  const total = options.presets.length;
  const seeds = [...(options.seeds ?? preset.seeds)];
  const path = resultsPath(out, preset.name);
  const inputs = runInputs(options);
  if (!options.force && existingResults(path, size, seeds, engine, inputs)) {
    emit({ kind: 'skip', preset: preset.name, index, total, path });
    return { kind: 'skipped', path };
  }
  emit({ kind: 'start', preset: preset.name, index, total, size, seeds });
  const cache = new TaskCache(join(out, preset.name, TASKS_DIR), engine);
  const warn = (message: string) => emit({ kind: 'warning', preset: preset.name, index, total, message });
  if (options.force) cache.clear();
  const session = executor.start({ preset, size, seeds, engine, dir: join(out, preset.name), cache, warn, inputs });
  const t0 = now();
  let result: PresetResult | undefined;
  let failure: unknown;
  try {
    result = await preset.run({
      size,
      seeds,
      ...inputs,
      progress: (fraction, message) =>
        emit({ kind: 'progress', preset: preset.name, index, total, fraction: Math.min(1, Math.max(0, fraction)), message, elapsedSeconds: (now() - t0) / 1000 }),
      map: (task, inputs, onResult) => session.map(task, inputs, onResult),
    });
  } catch (error) {
    failure = error ?? new Error(`run: preset '${preset.name}' threw ${String(error)}`);
  }
  const end = await session.finish(failure);
  const seconds = (now() - t0) / 1000;
  if (!end.write) {
    emit({ kind: 'stopped', preset: preset.name, index, total, message: end.message, seconds });
    return { kind: 'stopped', path };
  }
  const file: ResultsFile = {
    format: RESULTS_FORMAT,
    preset: preset.name,
    paper: preset.paper,
    claim: preset.claim,
    rule: preset.rule,
    size,
    seeds,
    ...inputs,
    versions: { gradscope: gradscopeVersion(), node: process.version, backend: currentBackendInfo().label, engine },
    date: new Date().toISOString(),
    durationSeconds: seconds,
    complete: true,
    result: result!,
    placement: end.placement,
  };
  // Validate what we are about to write: a preset bug should fail here, not in the report.
  const text = stringifyResults(file);
  parseResults(text, path);
  writeFileAtomic(path, text, 'run');
  cache.clear(); // everything is in results.json now
  emit({ kind: 'done', preset: preset.name, index, total, path, verdict: result!.verdict, seconds });
  return { kind: 'ran', path };
}

/**
 * `context.map` with resume: tasks whose output an interrupted run saved are not run again
 * (`onResumed` is told their indices); the others go to the pool and each output is saved as
 * soon as it arrives. A saved output that cannot be reused (damaged, or computed with other
 * engine settings) is run again, with a warning naming its file.
 */
export async function cachedMap<I, O>(
  pool: TaskPool,
  cache: TaskCache,
  preset: Preset,
  task: string,
  inputs: readonly I[],
  warn: (message: string) => void,
  onResult?: (done: number, total: number) => void,
  onResumed?: (index: number) => void,
): Promise<O[]> {
  const outputs = new Array<O>(inputs.length);
  const missing: number[] = [];
  inputs.forEach((input, i) => {
    const saved = cache.read(task, input);
    if (saved && 'output' in saved) {
      outputs[i] = saved.output as O;
      onResumed?.(i);
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
export const RESERVED_PLOT_IDS: readonly string[] = ['runs', 'claims', 'placement'];

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
  const series: Series = { label: str(o.label, `${path}.label`), x, y };
  if (o.style !== undefined) {
    if (o.style !== 'line' && o.style !== 'points') fail(`${path}.style`, `must be 'line' or 'points'`);
    series.style = o.style;
  }
  if (o.band !== undefined) {
    const band = obj(o.band, `${path}.band`);
    const lower = numbers(band.lower, `${path}.band.lower`);
    const upper = numbers(band.upper, `${path}.band.upper`);
    if (lower.length !== x.length || upper.length !== x.length) fail(`${path}.band`, `must have ${x.length} lower and upper values, one per x`);
    series.band = { lower, upper };
  }
  return series;
}

function validateClaim(v: unknown, path: string): ClaimPart {
  const o = obj(v, path);
  const interval = numbers(o.interval, `${path}.interval`);
  if (interval.length !== 2) fail(`${path}.interval`, `must be [lower, upper]; got ${interval.length} values`);
  if (!VERDICTS.includes(o.verdict as Verdict)) fail(`${path}.verdict`, `must be one of ${VERDICTS.join(', ')}`);
  return {
    id: str(o.id, `${path}.id`),
    claim: str(o.claim, `${path}.claim`),
    effectLabel: str(o.effectLabel, `${path}.effectLabel`),
    test: str(o.test, `${path}.test`),
    effect: num(o.effect, `${path}.effect`),
    interval: [interval[0]!, interval[1]!],
    p: num(o.p, `${path}.p`),
    alpha: num(o.alpha, `${path}.alpha`),
    n: num(o.n, `${path}.n`),
    verdict: o.verdict as Verdict,
    detail: str(o.detail, `${path}.detail`),
  };
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
  if (plot.series.length > MAX_SERIES_PER_PLOT) fail(`${path}.series`, `has ${plot.series.length} series; a plot may have at most ${MAX_SERIES_PER_PLOT}, which can still be told apart`);
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

function positiveInteger(v: unknown, path: string): number {
  const n = num(v, path);
  if (!Number.isSafeInteger(n) || n < 1) fail(path, `must be a positive integer; got ${JSON.stringify(v)}`);
  return n;
}

function validateSize(v: unknown, path: string): Size {
  if (v !== 'smoke' && v !== 'full' && v !== 'paper') fail(path, `must be 'smoke', 'full' or 'paper'`);
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
    claims: arr(o.claims, `${path}.claims`).map((c, i) => validateClaim(c, `${path}.claims[${i}]`)),
    alpha: num(o.alpha, `${path}.alpha`),
    budget: str(o.budget, `${path}.budget`),
    scaleDown: str(o.scaleDown, `${path}.scaleDown`),
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
  if (o.format !== RESULTS_FORMAT) {
    // Format 1 had no claim parts: such results are run again, not read (gradscope run skips none).
    const hint = ' (written before claim parts were judged: run the preset again)';
    const older = o.format === 'gradscope-results/1' ? hint : '';
    fail('format', `must be '${RESULTS_FORMAT}'; got ${JSON.stringify(o.format)}${older}`);
  }
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
    ...(o.dataDir === undefined ? {} : { dataDir: str(o.dataDir, 'dataDir') }),
    ...(o.maxSteps === undefined ? {} : { maxSteps: positiveInteger(o.maxSteps, 'maxSteps') }),
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
    ...(o.placement === undefined ? {} : { placement: checkPlacements(o.placement, 'placement', (m) => {
              throw new ResultsError(m);
            }) }),
  };
  if (file.result.preset !== file.preset) fail('result.preset', `'${file.result.preset}' differs from preset '${file.preset}'`);
  if (file.result.size !== file.size) fail('result.size', `'${file.result.size}' differs from size '${file.size}'`);
  return file;
}
