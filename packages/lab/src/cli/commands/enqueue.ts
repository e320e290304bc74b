/**
 * `gradscope enqueue <preset|tour|p1,p2,...> --redis URL [--size] [--seeds] [--data DIR] [--max-steps N]
 *  [--backend] [--sweep NAME]`: record a sweep on Redis and put each preset's first stage on the
 * BullMQ queue (experiments/queue/collect.ts); prints the sweep's name. Enqueueing the same
 * sweep again adds nothing (job ids are deterministic). --size, --seeds, --data and --max-steps
 * are read as `gradscope run` reads them (run.ts's parsers), so a sweep takes what a run takes;
 * --data is recorded as an absolute path, since workers run elsewhere.
 */
import { resolve } from 'node:path';
import { currentBackendInfo, useBackend } from 'gradscope';
import { enqueueSweep } from '../../experiments/queue/collect.js';
import { parseRedisUrl } from './redis-url.js';
import { UsageError, parseDataDir, parseMaxSteps, parseSeeds, parseSize, resolvePresets } from './run.js';

export interface EnqueueCommandOptions {
  target: string;
  redis?: string;
  size?: string;
  seeds?: string;
  backend?: string;
  sweep?: string;
  /** `--data DIR`, `--max-steps N`: as for gradscope run. */
  data?: string;
  maxSteps?: string;
}

/** run.ts's parsers name `run:` in their messages; here they are enqueue's. */
function asEnqueue<T>(parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    throw new UsageError(e.message.replace(/^run: /, 'enqueue: '), { cause: e });
  }
}

/** Run `gradscope enqueue` (main has parsed the flags); prints the sweep's name on stdout. */
export async function enqueueCommand(options: EnqueueCommandOptions, print: (line: string) => void): Promise<number> {
  const redis = parseRedisUrl(options.redis, 'enqueue');
  const size = asEnqueue(() => parseSize(options.size));
  // One preset, 'tour', or a comma-separated list of them: one sweep.
  const targets = options.target.split(',').map((t) => t.trim());
  const presets = [...new Set(asEnqueue(() => targets.flatMap((t) => resolvePresets(t, size))))];
  const seeds = options.seeds === undefined ? undefined : asEnqueue(() => parseSeeds(options.seeds!));
  const data = asEnqueue(() => parseDataDir(options.data));
  const maxSteps = asEnqueue(() => parseMaxSteps(options.maxSteps));
  if (options.backend) await useBackend(options.backend);
  const { sweep, jobs, existing } = await enqueueSweep({
    redis,
    target: options.target,
    presets,
    size,
    seeds,
    ...(data === undefined ? {} : { dataDir: resolve(data) }),
    ...(maxSteps === undefined ? {} : { maxSteps }),
    backend: currentBackendInfo().name,
    sweep: options.sweep,
  });
  process.stderr.write(
    `enqueue: ${existing ? 'sweep already recorded; ' : ''}` +
      `${jobs} task(s) of ${presets.length} preset(s) on the queue ` +
      `(a task already there is not added again)\n`,
  );
  print(sweep);
  return 0;
}
