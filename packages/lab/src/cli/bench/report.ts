/**
 * What the benchmark prints and saves: the table (ms, GFLOP/s, and gradscope's speed-up over
 * each peer), the issues' bars with PASS/FAIL and the measured ratio, and the JSON document.
 */
import type { BenchResult, ResultRow } from './run.js';

/**
 * A speed bar: gradscope (its default backend) must be at least `atLeast`× faster than `peer`
 * — a tfjs peer, or another gradscope backend such as 'gradscope-cpu'.
 */
export interface PeerBar {
  row: string;
  peer: string;
  atLeast: number;
}

/**
 * A cost bar of the "Layers, models and native per-sample gradients" and "Principled
 * transforms" issues: gradscope's time on `row` must be at most `atMost` × its own time on
 * `baseline`.
 */
export interface CostBar {
  row: string;
  baseline: string;
  atMost: number;
}

export type Bar = PeerBar | CostBar;

export const BARS: readonly Bar[] = [
  // Issue #8, the WebAssembly SIMD backend (one thread unless the row says -2t).
  { row: 'matmul-f32-1024', peer: 'tfjs-wasm', atLeast: 1.2 },
  { row: 'matmul-f32-1024-2t', peer: 'tfjs-wasm', atLeast: 2 },
  { row: 'matmul-f32-1024-At', peer: 'tfjs-wasm', atLeast: 10 },
  { row: 'train-mlp', peer: 'tfjs-wasm', atLeast: 2 },
  { row: 'train-lenet', peer: 'tfjs-cpu', atLeast: 100 },
  // Small products: dispatch to WebAssembly costs no more than the pure-TypeScript loop.
  { row: 'matmul-f32-37x53x29', peer: 'gradscope-cpu', atLeast: 1 },
  // The "Fast kernels" issue (written for the pure-TypeScript backend; its train-lenet ≥ 30×
  // tfjs-cpu and train-mlp ≥ 1× tfjs-wasm bars are superseded by the stronger ones above).
  { row: 'matmul-f32-1024', peer: 'tfjs-cpu', atLeast: 4 },
  { row: 'matmul-f32-64x784x256', peer: 'tfjs-cpu', atLeast: 4 },
  { row: 'train-mlp', peer: 'tfjs-cpu', atLeast: 3 },
  { row: 'per-sample-mlp', baseline: 'grad-mlp', atMost: 2.5 },
  { row: 'per-sample-lenet', baseline: 'grad-lenet', atMost: 2.5 },
  { row: 'hvp-mlp', baseline: 'grad-mlp', atMost: 4 },
  { row: 'hvp-lenet', baseline: 'grad-lenet', atMost: 4 },
  // The "Principled transforms" issue (#15): per-sample gradients by vmap(grad), forward-mode
  // jvp against the forward pass, forward-over-reverse HVP against a gradient.
  { row: 'vmap-grad-mlp', baseline: 'grad-mlp', atMost: 2.5 },
  { row: 'vmap-grad-lenet', baseline: 'grad-lenet', atMost: 2.5 },
  { row: 'jvp-mlp', baseline: 'forward-mlp', atMost: 3 },
  { row: 'hvp-fwd-mlp', baseline: 'grad-mlp', atMost: 3 },
];

export type BarResult = Bar & {
  /**
   * Peer bars: peer ms / gradscope ms. Cost bars: gradscope ms on `row` / gradscope ms on
   * `baseline`. null when either could not run.
   */
  ratio: number | null;
  status: 'PASS' | 'FAIL' | 'n/a';
};

function find(result: BenchResult, name: string, impl: string): ResultRow | undefined {
  return result.rows.find((r) => r.name === name && r.impl === impl);
}

/** How many times faster gradscope ran `name` than `impl` (null if either has no time). */
export function speedup(result: BenchResult, name: string, impl: string): number | null {
  const ours = find(result, name, 'gradscope')?.medianMs;
  const theirs = find(result, name, impl)?.medianMs;
  return ours && theirs ? theirs / ours : null;
}

/** gradscope's time on `name` over its time on `baseline` (null if either has no time). */
export function costRatio(result: BenchResult, name: string, baseline: string): number | null {
  const row = find(result, name, 'gradscope')?.medianMs;
  const base = find(result, baseline, 'gradscope')?.medianMs;
  return row && base ? row / base : null;
}

export function evaluateBars(result: BenchResult, bars: readonly Bar[] = BARS): BarResult[] {
  return bars.map((bar): BarResult => {
    if ('peer' in bar) {
      const ratio = speedup(result, bar.row, bar.peer);
      return { ...bar, ratio, status: ratio === null ? 'n/a' : ratio >= bar.atLeast ? 'PASS' : 'FAIL' };
    }
    const ratio = costRatio(result, bar.row, bar.baseline);
    return { ...bar, ratio, status: ratio === null ? 'n/a' : ratio <= bar.atMost ? 'PASS' : 'FAIL' };
  });
}

const fmtRatio = (r: number) => `${r >= 10 ? r.toFixed(1) : r.toFixed(2)}×`;
const fmtMs = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));

function runsLabel(r: ResultRow): string {
  if (r.runs === undefined) return '';
  return r.warm === false ? `${r.runs} cold` : String(r.runs);
}

/** The table as lines: one line per (row, implementation), grouped by row. */
export function formatTable(result: BenchResult): string[] {
  const header = ['row', 'impl', 'median ms', 'GFLOP/s', 'runs', 'gradscope ×'];
  const body: string[][] = [];
  let previous = '';
  for (const r of result.rows) {
    const first = r.name !== previous;
    previous = r.name;
    const peer = r.impl.startsWith('tfjs-');
    const ratio = peer ? speedup(result, r.name, r.impl) : null;
    body.push([
      first ? r.name : '',
      r.impl,
      r.medianMs === null ? (r.note ?? 'n/a') : fmtMs(r.medianMs),
      r.gflops === null ? '' : r.gflops.toFixed(2),
      runsLabel(r),
      ratio === null ? '' : fmtRatio(ratio),
    ]);
  }
  // A note is wider than its column: let it spill over the columns to its right.
  const widths = header.map((h, c) => Math.max(h.length, ...body.filter((row) => row[3] !== '' || c !== 2).map((row) => row[c]!.length)));
  const right = [false, false, true, true, true, true];
  const line = (cells: string[]) =>
    cells
      .map((cell, c) => (right[c] ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...body.map(line)];
}

export function formatBars(bars: readonly BarResult[]): string[] {
  return bars.map((b) => {
    const measured = b.ratio === null ? 'not measured' : `measured ${fmtRatio(b.ratio)}`;
    const claim = 'peer' in b ? `gradscope ≥ ${b.atLeast}× ${b.peer}` : `gradscope ms ≤ ${b.atMost}× ${b.baseline} ms`;
    return `${b.status.padEnd(4)}  ${b.row}: ${claim} (${measured})`;
  });
}

/** The --json document: machine, rows (name, impl, medianMs, gflops, [note]), and the bars. */
export function toJson(result: BenchResult): string {
  const rows = result.rows.map((r) => ({
    name: r.name,
    impl: r.impl,
    medianMs: r.medianMs,
    gflops: r.gflops,
    ...(r.runs !== undefined ? { runs: r.runs } : {}),
    ...(r.warm === false ? { warm: false } : {}),
    ...(r.note !== undefined ? { note: r.note } : {}),
  }));
  return `${JSON.stringify({ machine: result.machine, rows, bars: evaluateBars(result) }, null, 2)}\n`;
}
