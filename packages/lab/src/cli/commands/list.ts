/** `gradscope list`: the registered presets, one line each. */
import { PRESETS } from '../../experiments/registry.js';

export function listCommand(print: (line: string) => void): number {
  const width = Math.max(...PRESETS.map((p) => p.name.length), 'tour'.length);
  for (const p of PRESETS) print(`${p.name.padEnd(width)}  ${p.paper} — ${p.claim}`);
  print(`${'tour'.padEnd(width)}  every paper preset above (not demo-sgd) at smoke size`);
  return 0;
}
