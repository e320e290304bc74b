/**
 * What the benchmark prints and saves: the table (ms, GFLOP/s, % of the machine's SIMD peak,
 * and gradscope's speed-up over each peer), the issues' bars with PASS/FAIL and the measured
 * ratio, and the JSON document.
 */
import type { BenchResult, ResultRow } from './run.js';

/**
 * A speed bar: gradscope (its default backend) must be at least `atLeast`× faster than `peer`
 * — a tfjs peer, jax-js, or another gradscope backend such as 'gradscope-cpu'.
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

/** A threads bar (issue #17): gradscope's time on `oneThread` over its time on the -2t `row`, at least `atLeast`. */
export interface ScalingBar {
  row: string;
  oneThread: string;
  atLeast: number;
}

/**
 * A peak bar (issue #17): gradscope's GFLOP/s on `row` must be at least `atLeastPercent` % of
 * the machine's measured WebAssembly SIMD peak (`peak`, a peak row of the same run).
 */
export interface PeakBar {
  row: string;
  peak: string;
  atLeastPercent: number;
}

export type Bar = PeerBar | CostBar | ScalingBar | PeakBar;

/** The one-thread and two-thread peak rows: the denominators of the % columns. */
export const PEAK_1T = 'peak-simd128';
export const PEAK_2T = 'peak-simd128-2t';

export const BARS: readonly Bar[] = [
  // Issue #8, the WebAssembly SIMD backend (one thread unless the row says -2t; the peers
  // always run on one, so the -2t bar is gradscope on two threads against tfjs-wasm on one).
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
  // Issue #17 tightens the HVP bars from ≤ 4× to ≤ 3× a gradient.
  { row: 'hvp-mlp', baseline: 'grad-mlp', atMost: 3 },
  { row: 'hvp-lenet', baseline: 'grad-lenet', atMost: 3 },
  // The "Principled transforms" issue (#15): per-sample gradients by vmap(grad), forward-mode
  // jvp against the forward pass, forward-over-reverse HVP against a gradient.
  { row: 'vmap-grad-mlp', baseline: 'grad-mlp', atMost: 2.5 },
  { row: 'vmap-grad-lenet', baseline: 'grad-lenet', atMost: 2.5 },
  { row: 'jvp-mlp', baseline: 'forward-mlp', atMost: 3 },
  { row: 'hvp-fwd-mlp', baseline: 'grad-mlp', atMost: 3 },
  // Issue #17, "Speed outside the GEMM": the model rows against the machine's one-thread peak,
  { row: 'grad-mlp', peak: PEAK_1T, atLeastPercent: 70 },
  { row: 'train-mlp', peak: PEAK_1T, atLeastPercent: 65 },
  { row: 'grad-lenet', peak: PEAK_1T, atLeastPercent: 30 },
  { row: 'train-lenet-bn', peak: PEAK_1T, atLeastPercent: 25 },
  { row: 'train-lenet', peak: PEAK_1T, atLeastPercent: 30 },
  // two threads against one,
  { row: 'grad-mlp-2t', oneThread: 'grad-mlp', atLeast: 1.5 },
  { row: 'grad-lenet-2t', oneThread: 'grad-lenet', atLeast: 1.5 },
  { row: 'train-lenet-bn-2t', oneThread: 'train-lenet-bn', atLeast: 1.5 },
  // per-sample gradients against a batch gradient at larger batches (128 is above),
  { row: 'per-sample-mlp-b512', baseline: 'grad-mlp-b512', atMost: 2.5 },
  { row: 'per-sample-mlp-b1024', baseline: 'grad-mlp-b1024', atMost: 2.5 },
  // and jax-js on the MLP rows and every LeNet-5 row it runs (not per-sample-lenet: it has no
  // per-sample API; not vmap-grad-lenet: its vmap has no rule for max pooling; not the -2t
  // rows: one thread in Node).
  { row: 'grad-mlp', peer: 'jax-js', atLeast: 1.5 },
  { row: 'train-mlp', peer: 'jax-js', atLeast: 1.5 },
  { row: 'grad-lenet', peer: 'jax-js', atLeast: 1.5 },
  { row: 'train-lenet', peer: 'jax-js', atLeast: 1.5 },
  { row: 'train-lenet-bn', peer: 'jax-js', atLeast: 1.5 },
  { row: 'hvp-lenet', peer: 'jax-js', atLeast: 1.5 },
];

export type BarResult = Bar & {
  /**
   * Peer bars: peer ms / gradscope ms. Cost bars: gradscope ms on `row` / gradscope ms on
   * `baseline`. Scaling bars: gradscope ms on `oneThread` / gradscope ms on `row`. Peak bars:
   * gradscope's GFLOP/s on `row` as a percentage of the peak's. null when either could not run.
   */
  ratio: number | null;
  status: 'PASS' | 'FAIL' | 'n/a';
  /** Peer bars: the threads each side ran on, where the rows say (they differ on -2t rows). */
  threads?: { gradscope: number; peer: number };
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

/**
 * The machine's peak GFLOP/s from a peak row of this run: the fastest kernel measured under
 * that name (the main process's, and the child's f32x4.mul+add where there is one), or null.
 */
export function peakGflops(result: BenchResult, peak: string): number | null {
  const measured = result.rows.filter((r) => r.name === peak && r.gflops !== null).map((r) => r.gflops!);
  return measured.length > 0 ? Math.max(...measured) : null;
}

/** A result's GFLOP/s as a percentage of a peak (null without either). */
export function percentOfPeak(result: BenchResult, row: ResultRow, peak: string): number | null {
  const top = peakGflops(result, peak);
  return row.gflops !== null && top ? (100 * row.gflops) / top : null;
}

const status = (ratio: number | null, pass: (r: number) => boolean): BarResult['status'] => (ratio === null ? 'n/a' : pass(ratio) ? 'PASS' : 'FAIL');

export function evaluateBars(result: BenchResult, bars: readonly Bar[] = BARS): BarResult[] {
  return bars.map((bar): BarResult => {
    if ('peer' in bar) {
      const ratio = speedup(result, bar.row, bar.peer);
      const ours = find(result, bar.row, 'gradscope')?.threads;
      const theirs = find(result, bar.row, bar.peer)?.threads;
      const threads = ours !== undefined && theirs !== undefined ? { threads: { gradscope: ours, peer: theirs } } : {};
      return { ...bar, ratio, status: status(ratio, (r) => r >= bar.atLeast), ...threads };
    }
    if ('oneThread' in bar) {
      const cost = costRatio(result, bar.row, bar.oneThread);
      const ratio = cost === null ? null : 1 / cost;
      return { ...bar, ratio, status: status(ratio, (r) => r >= bar.atLeast) };
    }
    if ('peak' in bar) {
      const row = find(result, bar.row, 'gradscope');
      const ratio = row ? percentOfPeak(result, row, bar.peak) : null;
      return { ...bar, ratio, status: status(ratio, (r) => r >= bar.atLeastPercent) };
    }
    const ratio = costRatio(result, bar.row, bar.baseline);
    return { ...bar, ratio, status: status(ratio, (r) => r <= bar.atMost) };
  });
}

const fmtRatio = (r: number) => `${r >= 10 ? r.toFixed(1) : r.toFixed(2)}×`;
const fmtMs = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));

function runsLabel(r: ResultRow): string {
  if (r.runs === undefined) return '';
  return r.warm === false ? `${r.runs} cold` : String(r.runs);
}

/** Implementations whose lines get gradscope's speed-up over them in the table. */
const comparedWithGradscope = (impl: string) => impl.startsWith('tfjs-') || impl === 'jax-js' || impl === 'gradscope-norelaxed';

const fmtPercent = (p: number | null) => (p === null ? '' : p >= 10 ? p.toFixed(0) : p.toFixed(1));

/** Whether a result row is a peak row (its own reference, so no % of itself). */
const isPeak = (r: ResultRow) => r.name === PEAK_1T || r.name === PEAK_2T;

/**
 * The table as lines: one line per (row, implementation), grouped by row. `thr` is the threads
 * the line ran on; `% peak` is its GFLOP/s over the one-thread peak-simd128 of the same run,
 * `% peak-2t` over the two-thread peak, for lines on two threads or more.
 */
export function formatTable(result: BenchResult): string[] {
  const header = ['row', 'impl', 'thr', 'median ms', 'GFLOP/s', '% peak', '% peak-2t', 'runs', 'gradscope ×'];
  const body: string[][] = [];
  let previous = '';
  for (const r of result.rows) {
    const first = r.name !== previous;
    previous = r.name;
    const ratio = comparedWithGradscope(r.impl) ? speedup(result, r.name, r.impl) : null;
    const model = !isPeak(r);
    body.push([
      first ? r.name : '',
      r.impl,
      r.threads === undefined ? '' : String(r.threads),
      r.medianMs === null ? (r.note ?? 'n/a') : fmtMs(r.medianMs),
      r.gflops === null ? '' : r.gflops.toFixed(2),
      model ? fmtPercent(percentOfPeak(result, r, PEAK_1T)) : '',
      model && (r.threads ?? 1) >= 2 ? fmtPercent(percentOfPeak(result, r, PEAK_2T)) : '',
      runsLabel(r),
      ratio === null ? '' : fmtRatio(ratio),
    ]);
  }
  // A note is wider than its column: let it spill over the columns to its right.
  const NOTE = 3;
  const widths = header.map((h, c) => Math.max(h.length, ...body.filter((row) => row[NOTE + 1] !== '' || c !== NOTE).map((row) => row[c]!.length)));
  const right = [false, false, true, true, true, true, true, true, true];
  const line = (cells: string[]) =>
    cells
      .map((cell, c) => (right[c] ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...body.map(line)];
}

const threadsLabel = (n: number) => `${n} thread${n === 1 ? '' : 's'}`;

export function formatBars(bars: readonly BarResult[]): string[] {
  return bars.map((b) => {
    let claim: string;
    let measured: string;
    if ('peak' in b) {
      claim = `gradscope GFLOP/s ≥ ${b.atLeastPercent} % of ${b.peak}`;
      measured = b.ratio === null ? 'not measured' : `measured ${fmtPercent(b.ratio)} %`;
    } else {
      measured = b.ratio === null ? 'not measured' : `measured ${fmtRatio(b.ratio)}`;
      if ('peer' in b) {
        // Say the threads where they differ: the -2t rows put gradscope's two against a peer's one.
        const t = b.threads && b.threads.gradscope !== b.threads.peer ? b.threads : null;
        claim = t ? `gradscope (${threadsLabel(t.gradscope)}) ≥ ${b.atLeast}× ${b.peer} (${threadsLabel(t.peer)})` : `gradscope ≥ ${b.atLeast}× ${b.peer}`;
      } else if ('oneThread' in b) claim = `gradscope ≥ ${b.atLeast}× faster than on ${b.oneThread} (one thread)`;
      else claim = `gradscope ms ≤ ${b.atMost}× ${b.baseline} ms`;
    }
    return `${b.status.padEnd(4)}  ${b.row}: ${claim} (${measured})`;
  });
}

/** The peak line the command prints above the table (null when no peak row ran). */
export function formatPeak(result: BenchResult): string | null {
  const parts = [PEAK_1T, PEAK_2T].flatMap((name) =>
    result.rows.filter((r) => r.name === name && r.gflops !== null).map((r) => `${name} ${r.gflops!.toFixed(1)} GFLOP/s (${r.impl}, ${threadsLabel(r.threads ?? 1)})`),
  );
  return parts.length === 0 ? null : `peak: ${parts.join(', ')}; % peak = GFLOP/s over the fastest ${PEAK_1T}, % peak-2t over ${PEAK_2T}`;
}

/** The JSON's percentages of the peaks, as the table's % columns (absent where the table is blank). */
function percentFields(result: BenchResult, r: ResultRow): { percentOfPeak?: number; percentOfPeak2t?: number } {
  if (isPeak(r)) return {};
  const one = percentOfPeak(result, r, PEAK_1T);
  const two = (r.threads ?? 1) >= 2 ? percentOfPeak(result, r, PEAK_2T) : null;
  return { ...(one !== null ? { percentOfPeak: one } : {}), ...(two !== null ? { percentOfPeak2t: two } : {}) };
}

/** The --json document: machine, rows (name, impl, medianMs, gflops, [runs, threads, % of peak, note]), and the bars. */
export function toJson(result: BenchResult): string {
  const rows = result.rows.map((r) => ({
    name: r.name,
    impl: r.impl,
    medianMs: r.medianMs,
    gflops: r.gflops,
    ...(r.runs !== undefined ? { runs: r.runs } : {}),
    ...(r.warm === false ? { warm: false } : {}),
    ...(r.threads !== undefined ? { threads: r.threads } : {}),
    ...percentFields(result, r),
    ...(r.note !== undefined ? { note: r.note } : {}),
  }));
  return `${JSON.stringify({ machine: result.machine, rows, bars: evaluateBars(result) }, null, 2)}\n`;
}
