/**
 * `gradscope bench [--json FILE] [--quick] [--only ROWS]`
 *
 * Measures the machine's WebAssembly SIMD peak, then times gradscope against TensorFlow.js
 * (cpu and wasm backends) and jax-js in this one process, and gradscope on GPU.js when it has
 * such a backend; then gradscope's rows again in a child process without relaxed SIMD. Prints
 * the table, then the issues' bars (reported, not enforced: the exit code is 0 whenever the
 * benchmark ran). Progress goes to stderr, so stdout holds only the report. --only runs the
 * named rows alone, with the peak rows (and prints only the bars of those rows).
 *
 * GRADSCOPE_BENCH_PEERS=tfjs,jax-js,… limits what runs besides gradscope (none: gradscope
 * alone; the names are run.ts's PEER_NAMES). The -norelaxed child is started with none.
 */
import { writeFileAtomic } from '../files.js';
import { evaluateBars, formatBars, formatPeak, formatTable, toJson } from '../bench/report.js';
import { selectRows, withPeakRows } from '../bench/rows.js';
import { PEER_NAMES, runBench, type PeerName } from '../bench/run.js';

export interface BenchCommandOptions {
  json?: string;
  quick: boolean;
  /** Comma-separated row names: run only these (default all), and the peak rows. */
  only?: string;
}

/** GRADSCOPE_BENCH_PEERS as a list of peers (undefined: all of them; 'none': none). */
export function peersFromEnv(value: string | undefined): PeerName[] | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const names = value.split(',').map((n) => n.trim()).filter((n) => n !== '');
  if (names.length === 1 && names[0] === 'none') return [];
  const unknown = names.filter((n) => !(PEER_NAMES as readonly string[]).includes(n));
  if (unknown.length > 0) throw new Error(`bench: GRADSCOPE_BENCH_PEERS names ${unknown.map((n) => `'${n}'`).join(', ')}; the peers are ${PEER_NAMES.join(', ')} (or none)`);
  return names as PeerName[];
}

export async function benchCommand(options: BenchCommandOptions, print: (line: string) => void): Promise<number> {
  const progress = (line: string) => process.stderr.write(`${line}\n`);
  const rows = options.only === undefined ? undefined : withPeakRows(selectRows(options.only));
  const peers = peersFromEnv(process.env.GRADSCOPE_BENCH_PEERS);
  const start = performance.now();
  const result = await runBench({ quick: options.quick, log: progress, ...(rows ? { rows } : {}), ...(peers ? { peers } : {}) });
  const seconds = (performance.now() - start) / 1000;
  const m = result.machine;
  const versions = `tfjs ${m.tfjs ?? '—'}, jax-js ${m.jaxjs ?? '—'}`;
  print(`gradscope bench${options.quick ? ' --quick' : ''}${options.only ? ` --only ${options.only}` : ''}: ${m.model}, ${m.cpus} CPUs, Node ${m.node}, ${m.platform}, ${versions}`);
  print(`gradscope backend '${m.gradscopeBackend}', relaxed SIMD: ${m.relaxedSimd}; float32 (float64 in the -f64 rows); median of timed runs after warm-up; results read back inside the timed region`);
  const peak = formatPeak(result);
  if (peak) print(peak);
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
