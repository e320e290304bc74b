/**
 * `gradscope run <preset|tour> [--size smoke|full|paper] [--seeds 1,2,3] [--out DIR] [--data DIR]
 *  [--max-steps N] [--backend NAME] [--workers N] [--task-timeout SECONDS] [--shard k/N] [--quiet]
 *  [--force]`: runs the preset(s) (skipping any whose complete results for this size, these seeds
 * and this engine are already in DIR), then rebuilds DIR's report and prints where it is. DIR is
 * checked (and created) before anything runs, and locked for the whole command
 * (experiments/out-lock.ts). Warnings (a saved task output that is run again) go to stderr, even
 * with --quiet. --data DIR (a dataset folder, CIFAR-10 at paper size) is checked to be a directory
 * and --max-steps N to be a positive integer before anything runs; a preset that declares no
 * configuration at the size fails by name (exit 2).
 */
import { PAPER_PRESETS, PRESETS, findPreset } from '../../experiments/registry.js';
import type { Preset, Size } from '../../experiments/preset.js';
import { prepareOutDir, withOutLock } from '../../experiments/out-lock.js';
import { runPresets, type RunEvent } from '../../experiments/runner.js';
import { parseShard, shardExecutor } from '../../experiments/shard.js';
import { taskPool } from '../../experiments/task-pool.js';
import { existsSync, statSync } from 'node:fs';
import { currentBackendInfo, useBackend } from 'gradscope';
import { writeReport } from '../report/index.js';
import { progressReporter, type ProgressSink } from './progress.js';

export interface RunCommandOptions {
  target: string;
  size?: string;
  seeds?: string;
  out?: string;
  quiet?: boolean;
  force?: boolean;
  /** Worker threads for the presets' grids (default 1). */
  workers?: string;
  /** The backend for this thread and every worker (default: GRADSCOPE_BACKEND or the default). */
  backend?: string;
  /** Seconds one task may run before the run fails naming it (default: no limit). */
  taskTimeout?: string;
  /** `k/N`: run only shard k of N's tasks and write shard manifests for gradscope merge (docs/sweeps.md). */
  shard?: string;
  /** `--data DIR`: the folder of a dataset without an npm package (CIFAR-10 at paper size). */
  data?: string;
  /** `--max-steps N`: stop every training run after N steps (tries a configuration; not for verdicts). */
  maxSteps?: string;
}

/** A usage error: main prints the message and exits with code 2. */
export class UsageError extends Error {}

// Plain decimal digits only: Number() would also take '1e1', '0x10', '0b1', ' 2 ' and '+3'.
const DECIMAL = /^(0|[1-9][0-9]*)$/;

export function parseSeeds(text: string): number[] {
  const parts = text.split(',').map((s) => s.trim());
  const seeds = parts.map(Number);
  if (!parts.every((p) => DECIMAL.test(p)) || !seeds.every((s) => Number.isSafeInteger(s) && s >= 0)) {
    throw new UsageError(`run: --seeds must be a comma-separated list of non-negative integers, e.g. 1,2,3; got '${text}'`);
  }
  if (new Set(seeds).size !== seeds.length) throw new UsageError(`run: --seeds lists a seed twice: '${text}'`);
  return seeds;
}

export function parseWorkers(text: string | undefined): number {
  if (text === undefined) return 1;
  const n = Number(text);
  if (!DECIMAL.test(text) || !Number.isSafeInteger(n) || n < 1 || n > 64) throw new UsageError(`run: --workers must be an integer from 1 to 64; got '${text}'`);
  return n;
}

/** --task-timeout: a positive number of seconds in plain decimal (e.g. 600 or 0.5). */
export function parseTaskTimeout(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^[0-9]+(\.[0-9]+)?$/.test(text) || !(n > 0) || !Number.isFinite(n)) {
    throw new UsageError(`run: --task-timeout must be a positive number of seconds in decimal, e.g. 600; got '${text}'`);
  }
  return n;
}

const SIZES: readonly Size[] = ['smoke', 'full', 'paper'];

/** --size: smoke (the default), full or paper. */
export function parseSize(text: string | undefined): Size {
  const size = text ?? 'smoke';
  if (!(SIZES as readonly string[]).includes(size)) {
    throw new UsageError(`run: --size must be smoke, full or paper; got '${size}'`);
  }
  return size as Size;
}

/** --data DIR: an existing directory (checked before anything runs; its content is the preset's to check). */
export function parseDataDir(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  if (text === '') throw new UsageError(`run: --data needs a directory; got ''`);
  if (!existsSync(text)) throw new UsageError(`run: --data directory '${text}' does not exist`);
  if (!statSync(text).isDirectory()) throw new UsageError(`run: --data '${text}' is not a directory`);
  return text;
}

/** --max-steps N: a positive integer in plain decimal. */
export function parseMaxSteps(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!DECIMAL.test(text) || !Number.isSafeInteger(n) || n < 1) {
    throw new UsageError(`run: --max-steps must be a positive integer, e.g. 2; got '${text}'`);
  }
  return n;
}

/** --shard k/N, as a usage error (exit 2) when malformed or k ≥ N. */
export function parseShardFlag(text: string) {
  try {
    return parseShard(text, 'run');
  } catch (e) {
    throw new UsageError((e as Error).message, { cause: e });
  }
}

/** --out: checked and created before any preset runs, so a bad path fails at once, by name. */
export function parseOut(text: string | undefined): string {
  const out = text ?? 'results';
  try {
    prepareOutDir(out, 'run');
  } catch (e) {
    throw new UsageError((e as Error).message, { cause: e });
  }
  return out;
}

export function resolvePresets(target: string, size: Size): Preset[] {
  if (target === 'tour') {
    if (size !== 'smoke') throw new UsageError(`run: 'tour' runs every paper preset at smoke size; run one preset for --size ${size}`);
    return [...PAPER_PRESETS];
  }
  const preset = findPreset(target);
  if (!preset) throw new UsageError(`run: unknown preset '${target}'; known presets: ${PRESETS.map((p) => p.name).join(', ')}, tour (see gradscope list)`);
  const sizesOf = (p: Preset) => p.sizes ?? ['smoke', 'full'];
  if (!sizesOf(preset).includes(size)) {
    const withPaper = PRESETS.filter((p) => sizesOf(p).includes('paper')).map((p) => p.name);
    throw new UsageError(
      `run: preset '${target}' declares no ${size}-size configuration (its sizes: ${sizesOf(preset).join(', ')}); ` +
        `presets with a paper size: ${withPaper.join(', ') || 'none'}`,
    );
  }
  return [preset];
}

export async function runCommand(
  options: RunCommandOptions,
  print: (line: string) => void,
  stderr: ProgressSink = process.stderr,
): Promise<number> {
  const size = parseSize(options.size);
  const presets = resolvePresets(options.target, size);
  const seeds = options.seeds === undefined ? undefined : parseSeeds(options.seeds);
  const workers = parseWorkers(options.workers);
  const taskTimeout = parseTaskTimeout(options.taskTimeout);
  const dataDir = parseDataDir(options.data);
  const maxSteps = parseMaxSteps(options.maxSteps);
  const out = parseOut(options.out);
  const shard = options.shard === undefined ? undefined : parseShardFlag(options.shard);
  if (options.backend) await useBackend(options.backend);
  // Workers select the same backend as this thread, whether it came from --backend or GRADSCOPE_BACKEND.
  const backend = currentBackendInfo().name;
  const progress = progressReporter(stderr, { quiet: options.quiet });
  const onEvent = (event: RunEvent) => {
    if (event.kind === 'warning') stderr.write(`warning: ${event.message}\n`);
    else if (event.kind === 'stopped') {
      progress.stop();
      if (!options.quiet) stderr.write(`[${event.index + 1}/${event.total}] ${event.preset}: ${event.message}\n`);
    } else progress(event);
  };
  // What every runPresets call below shares (a shard adds its executor).
  const force = options.force;
  const common = { presets, size, seeds, out, force, workers, backend, taskTimeout, onEvent, dataDir, maxSteps };
  if (shard) {
    // A shard writes task outputs and manifests, not results.json: no report (merge writes it).
    const inThisThread = workers <= 1 && taskTimeout === undefined;
    const executor = shardExecutor(shard, taskPool(workers, { backend, taskTimeout }), inThisThread);
    const summary = await withOutLock(out, 'run', async () => {
      try {
        return await runPresets({ ...common, executor });
      } finally {
        progress.stop();
      }
    });
    const presetsRun = summary.stopped?.length ?? 0;
    print(`shard ${shard.k}/${shard.n}: ran its share of ${presetsRun} preset(s); merge the shards with gradscope merge`);
    return 0;
  }
  // One lock over the runs and the report: another run on DIR would race us at the end.
  const { summary, report } = await withOutLock(out, 'run', async () => {
    let summary;
    try {
      summary = await runPresets(common);
    } finally {
      progress.stop();
    }
    return { summary, report: await writeReport(out) };
  });
  // --quiet silences the progress on stderr; the one-line outcome on stdout stays.
  print(`ran ${summary.ran.length}, skipped ${summary.skipped.length} (already complete)`);
  print(`report: ${report.html}`);
  return 0;
}
