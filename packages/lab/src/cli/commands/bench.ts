/**
 * `gradscope bench [--json FILE] [--quick] [--only ROWS]`
 *
 * Times gradscope against TensorFlow.js (cpu and wasm backends) in this one process, and
 * gradscope on GPU.js when it has such a backend. Prints the table, then the issue's bars
 * (reported, not enforced: the exit code is 0 whenever the benchmark ran). Progress goes to
 * stderr, so stdout holds only the report. --only runs the named rows alone (and prints only
 * the bars of those rows).
 */
import { writeFileAtomic } from '../files.js';
import { evaluateBars, formatBars, formatTable, toJson } from '../bench/report.js';
import { selectRows } from '../bench/rows.js';
import { runBench } from '../bench/run.js';

export interface BenchCommandOptions {
  json?: string;
  quick: boolean;
  /** Comma-separated row names: run only these (default all). */
  only?: string;
}

export async function benchCommand(options: BenchCommandOptions, print: (line: string) => void): Promise<number> {
  const progress = (line: string) => process.stderr.write(`${line}\n`);
  const rows = options.only === undefined ? undefined : selectRows(options.only);
  const start = performance.now();
  const result = await runBench({ quick: options.quick, log: progress, ...(rows ? { rows } : {}) });
  const seconds = (performance.now() - start) / 1000;
  const m = result.machine;
  print(`gradscope bench${options.quick ? ' --quick' : ''}${options.only ? ` --only ${options.only}` : ''}: ${m.model}, ${m.cpus} CPUs, Node ${m.node}, ${m.platform}, tfjs ${m.tfjs ?? '—'}`);
  print(`gradscope backend '${m.gradscopeBackend}'; float32 (float64 in the -f64 rows); median of timed runs after warm-up; results read back inside the timed region`);
  print('');
  for (const line of formatTable(result)) print(line);
  print('');
  print('bars (reported, not enforced; each line states its own ratio):');
  const bars = evaluateBars(result).filter((b) => !rows || rows.some((r) => r.name === b.row));
  for (const line of formatBars(bars)) print(line);
  print('');
  print(`bench: ${result.rows.length} results in ${seconds.toFixed(1)} s`);
  if (options.json) {
    writeFileAtomic(options.json, toJson(result));
    print(`bench: wrote ${options.json}`);
  }
  return 0;
}
