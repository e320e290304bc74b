/**
 * `gradscope worker --redis URL [--concurrency N] [--lock-seconds S]`: run the queue's tasks in
 * N threads until SIGTERM or SIGINT (experiments/queue/worker.ts). A second signal exits at
 * once; the jobs it held go back to the queue by BullMQ's stalled-job check.
 */
import { currentBackendInfo } from 'gradscope';
import { startQueueWorker } from '../../experiments/queue/worker.js';
import { parseRedisUrl } from './redis-url.js';
import { ArgumentError } from './usage.js';

export interface WorkerCommandOptions {
  redis?: string;
  concurrency?: string;
  lockSeconds?: string;
}

function positiveInteger(text: string | undefined, flag: string, fallback: number, max: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!/^[1-9][0-9]*$/.test(text) || n > max) {
    throw new ArgumentError('worker', `${flag} must be an integer from 1 to ${max}; got '${text}'`);
  }
  return n;
}

/** Run `gradscope worker` until SIGTERM or SIGINT; its log lines go to `log` (default: stderr). */
export async function workerCommand(
  options: WorkerCommandOptions,
  log: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): Promise<number> {
  const redis = parseRedisUrl(options.redis, 'worker');
  const concurrency = positiveInteger(options.concurrency, '--concurrency', 1, 64);
  const lockSeconds = positiveInteger(options.lockSeconds, '--lock-seconds', 30, 3600);
  const worker = await startQueueWorker({ redis, concurrency, lockSeconds, backend: currentBackendInfo().name, log });
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (++signals > 1) process.exit(130);
    log(`worker ${worker.name}: ${signal}: finishing the running task(s), then stopping (again: stop at once)`);
    void worker.close();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  await worker.closed;
  log(`worker ${worker.name}: stopped`);
  return 0;
}
