/**
 * The --redis flag of the queue commands (enqueue, worker, collect, status), in a module of its
 * own so that `gradscope worker` and `gradscope status` load neither the presets nor run.ts.
 */
import { ArgumentError, type CommandName } from './usage.js';

/** --redis: a redis:// or rediss:// URL, required; a bad one is answered with the command's usage. */
export function parseRedisUrl(text: string | undefined, command: CommandName): string {
  if (text === undefined) {
    throw new ArgumentError(command, '--redis URL is required, e.g. --redis redis://127.0.0.1:6379');
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ArgumentError(command, `--redis must be a URL such as redis://host:6379; got '${text}'`);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new ArgumentError(command, `--redis must be a redis:// or rediss:// URL; got '${text}'`);
  }
  return text;
}
