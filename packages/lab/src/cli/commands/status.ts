/**
 * `gradscope status --redis URL [--sweep NAME] [--json]`: a sweep's progress on the queue
 * (experiments/queue/status.ts): done / running / waiting / failed, the workers connected and
 * an ETA; --json prints the same as one JSON object (for scripts).
 */
import { sweepStatus } from '../../experiments/queue/status.js';
import { parseRedisUrl } from './redis-url.js';
import { formatDuration } from './progress.js';

export interface StatusCommandOptions {
  redis?: string;
  sweep?: string;
  json?: boolean;
}

/** Run `gradscope status` (main has parsed the flags); prints the sweep's progress. */
export async function statusCommand(options: StatusCommandOptions, print: (line: string) => void): Promise<number> {
  const redis = parseRedisUrl(options.redis, 'status');
  const s = await sweepStatus(redis, options.sweep);
  if (options.json) {
    print(JSON.stringify({ ...s, sweep: s.sweep.name }));
    return 0;
  }
  const inputs =
    (s.sweep.dataDir === undefined ? '' : `, --data ${s.sweep.dataDir}`) +
    (s.sweep.maxSteps === undefined ? '' : `, --max-steps ${s.sweep.maxSteps}`);
  print(`sweep ${s.sweep.name} (${s.sweep.presets.join(', ')}; size ${s.sweep.size}${inputs}): ${s.jobs} task(s)`);
  const counts = `done ${s.done}, running ${s.running}, waiting ${s.waiting}, failed ${s.failed}`;
  print(`  ${counts}; ${s.workers} worker(s) connected`);
  const mean = s.meanSeconds === undefined ? 'no task done yet' : `mean task ${s.meanSeconds.toFixed(2)} s`;
  const eta =
    s.done + s.failed === s.jobs
      ? 'nothing left to run'
      : s.etaSeconds === undefined
        ? 'ETA unknown'
        : `ETA ${formatDuration(s.etaSeconds)}`;
  print(`  ${mean}; ${eta}`);
  for (const f of s.failures) print(`  failed: ${f.id}: ${f.reason}`);
  return 0;
}
