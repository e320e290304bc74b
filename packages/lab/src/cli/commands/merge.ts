/**
 * `gradscope merge <dir>... --out DIR [--workers N] [--backend NAME] [--force] [--quiet]`:
 * check the shards in the folders (experiments/merge.ts), write DIR/<preset>/results.json as
 * one machine's run would, then DIR's report. DIR is locked for the whole command, as `run`
 * locks its --out.
 */
import { useBackend, currentBackendInfo } from 'gradscope';
import { mergeShards } from '../../experiments/merge.js';
import { withOutLock } from '../../experiments/out-lock.js';
import type { RunEvent } from '../../experiments/runner.js';
import { writeReport } from '../report/index.js';
import { progressReporter, type ProgressSink } from './progress.js';
import { parseOut, parseWorkers } from './run.js';

export interface MergeCommandOptions {
  dirs: string[];
  out?: string;
  workers?: string;
  backend?: string;
  force?: boolean;
  quiet?: boolean;
}

/** Run `gradscope merge` (main has parsed the flags); returns the exit code. */
export async function mergeCommand(
  options: MergeCommandOptions,
  print: (line: string) => void,
  stderr: ProgressSink = process.stderr,
): Promise<number> {
  const workers = parseWorkers(options.workers);
  const out = parseOut(options.out);
  if (options.backend) await useBackend(options.backend);
  const backend = currentBackendInfo().name;
  const progress = progressReporter(stderr, { quiet: options.quiet });
  const onEvent = (event: RunEvent) => {
    if (event.kind === 'warning') stderr.write(`warning: ${event.message}\n`);
    else progress(event);
  };
  const { summary, report } = await withOutLock(out, 'merge', async () => {
    let summary;
    try {
      summary = await mergeShards({ dirs: options.dirs, out, workers, backend, force: options.force, onEvent });
    } finally {
      progress.stop();
    }
    return { summary, report: await writeReport(out) };
  });
  print(`merged ${summary.ran.length}, skipped ${summary.skipped.length} (already complete)`);
  print(`report: ${report.html}`);
  return 0;
}
