/**
 * `gradscope collect --redis URL --out DIR [--sweep NAME] [--force] [--quiet]`: drive the
 * sweep's presets on the queue (experiments/queue/collect.ts), write DIR/<preset>/results.json
 * as a one-machine run does, then DIR's report. It computes with the sweep's backend.
 */
import { useBackend } from 'gradscope';
import { withOutLock } from '../../experiments/out-lock.js';
import { collectSweep } from '../../experiments/queue/collect.js';
import type { SweepRecord } from '../../experiments/queue/sweep.js';
import type { RunEvent } from '../../experiments/runner.js';
import { writeReport } from '../report/index.js';
import { parseRedisUrl } from './redis-url.js';
import { progressReporter, type ProgressSink } from './progress.js';
import { parseOut } from './run.js';

export interface CollectCommandOptions {
  redis?: string;
  out?: string;
  sweep?: string;
  force?: boolean;
  quiet?: boolean;
}

/** Run `gradscope collect` (main has parsed the flags); returns the exit code. */
export async function collectCommand(
  options: CollectCommandOptions,
  print: (line: string) => void,
  stderr: ProgressSink = process.stderr,
): Promise<number> {
  const redis = parseRedisUrl(options.redis, 'collect');
  const out = parseOut(options.out);
  // Several presets run at once: plain lines (a single in-place bar cannot show them all).
  const progress = progressReporter({ write: (t) => stderr.write(t) }, { quiet: options.quiet });
  const onEvent = (event: RunEvent) => {
    if (event.kind === 'warning') stderr.write(`warning: ${event.message}\n`);
    else progress(event);
  };
  const { sweep, summary, report } = await withOutLock(out, 'collect', async () => {
    let collected;
    try {
      const onSweep = async (s: SweepRecord) => void (await useBackend(s.backend));
      collected = await collectSweep({ redis, out, sweep: options.sweep, force: options.force, onEvent, onSweep });
    } finally {
      progress.stop();
    }
    return { ...collected, report: await writeReport(out) };
  });
  print(`sweep ${sweep.name}: collected ${summary.ran.length}, skipped ${summary.skipped.length} (already complete)`);
  print(`report: ${report.html}`);
  return 0;
}
