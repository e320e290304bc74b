/**
 * `gradscope run <preset|tour> [--size smoke|full] [--seeds 1,2,3] [--out DIR] [--backend NAME]
 *  [--workers N] [--task-timeout SECONDS] [--quiet] [--force]`: runs the preset(s) (skipping any
 * whose complete results for this size, these seeds and this engine are already in DIR), then
 * rebuilds DIR's report and prints where it is. DIR is checked (and created) before anything
 * runs, and locked for the whole command (experiments/out-lock.ts). Warnings (a saved task
 * output that is run again) go to stderr, even with --quiet.
 */
import { PAPER_PRESETS, PRESETS, findPreset } from '../../experiments/registry.js';
import type { Preset, Size } from '../../experiments/preset.js';
import { prepareOutDir, withOutLock } from '../../experiments/out-lock.js';
import { runPresets, type RunEvent } from '../../experiments/runner.js';
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
  return [preset];
}

export async function runCommand(
  options: RunCommandOptions,
  print: (line: string) => void,
  stderr: ProgressSink = process.stderr,
): Promise<number> {
  const size = options.size ?? 'smoke';
  if (size !== 'smoke' && size !== 'full') throw new UsageError(`run: --size must be smoke or full; got '${size}'`);
  const presets = resolvePresets(options.target, size);
  const seeds = options.seeds === undefined ? undefined : parseSeeds(options.seeds);
  const workers = parseWorkers(options.workers);
  const taskTimeout = parseTaskTimeout(options.taskTimeout);
  const out = parseOut(options.out);
  if (options.backend) await useBackend(options.backend);
  // Workers select the same backend as this thread, whether it came from --backend or GRADSCOPE_BACKEND.
  const backend = currentBackendInfo().name;
  const progress = progressReporter(stderr, { quiet: options.quiet });
  const onEvent = (event: RunEvent) => {
    if (event.kind === 'warning') stderr.write(`warning: ${event.message}\n`);
    else progress(event);
  };
  // One lock over the runs and the report: another run on DIR would race us at the end.
  const { summary, report } = await withOutLock(out, 'run', async () => {
    let summary;
    try {
      summary = await runPresets({ presets, size, seeds, out, force: options.force, workers, backend, taskTimeout, onEvent });
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
