/**
 * `gradscope run <preset|tour> [--size smoke|full] [--seeds 1,2,3] [--out DIR] [--backend NAME]
 *  [--workers N] [--quiet] [--force]`: runs the preset(s) (skipping any whose complete results
 * for this size and these seeds are already in DIR), then rebuilds DIR's report and prints
 * where it is.
 */
import { PAPER_PRESETS, PRESETS, findPreset } from '../../experiments/registry.js';
import type { Preset, Size } from '../../experiments/preset.js';
import { runPresets } from '../../experiments/runner.js';
import { currentBackendInfo, useBackend } from '../../kernels/registry.js';
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
}

/** A usage error: main prints the message and exits with code 2. */
export class UsageError extends Error {}

export function parseSeeds(text: string): number[] {
  const parts = text.split(',').map((s) => s.trim());
  const seeds = parts.map(Number);
  if (parts.some((p) => p === '') || !seeds.every((s) => Number.isSafeInteger(s) && s >= 0)) {
    throw new UsageError(`run: --seeds must be a comma-separated list of non-negative integers, e.g. 1,2,3; got '${text}'`);
  }
  if (new Set(seeds).size !== seeds.length) throw new UsageError(`run: --seeds lists a seed twice: '${text}'`);
  return seeds;
}

export function parseWorkers(text: string | undefined): number {
  if (text === undefined) return 1;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1 || n > 64) throw new UsageError(`run: --workers must be an integer from 1 to 64; got '${text}'`);
  return n;
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
  const out = options.out ?? 'results';
  const workers = parseWorkers(options.workers);
  if (options.backend) await useBackend(options.backend);
  // Workers select the same backend as this thread, whether it came from --backend or GRADSCOPE_BACKEND.
  const backend = currentBackendInfo().name;
  const progress = progressReporter(stderr, { quiet: options.quiet });
  let summary;
  try {
    summary = await runPresets({ presets, size, seeds, out, force: options.force, workers, backend, onEvent: progress });
  } finally {
    progress.stop();
  }
  const report = await writeReport(out);
  // --quiet silences the progress on stderr; the one-line outcome on stdout stays.
  print(`ran ${summary.ran.length}, skipped ${summary.skipped.length} (already complete)`);
  print(`report: ${report.html}`);
  return 0;
}
