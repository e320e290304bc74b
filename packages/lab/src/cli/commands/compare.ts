/**
 * `gradscope compare A B`: exit 0 when the two results.json files (or two out folders) are the
 * same run — everything but the date, the duration and where the tasks ran
 * (experiments/compare.ts) — and 1 with the first difference named otherwise.
 */
import { comparePaths } from '../../experiments/compare.js';

/** Run `gradscope compare A B`: 0 when the same run, 1 with the first difference printed. */
export function compareCommand(a: string, b: string, print: (line: string) => void): number {
  const difference = comparePaths(a, b);
  if (difference === undefined) {
    print(`same: ${a} and ${b} (date, durationSeconds and placement ignored)`);
    return 0;
  }
  print(`different: ${difference}`);
  return 1;
}
