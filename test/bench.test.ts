/**
 * The benchmark's machinery on a tiny configuration (the real benchmark is `npm run bench`):
 * row names, FLOP formulas, the timer, the SIMD peak kernel, the JSON document, the bars and
 * the % of peak, the jax-js rows, the -norelaxed child, and that a peer which cannot run a row
 * is reported with a note rather than dropped.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { peersFromEnv } from '../packages/lab/src/cli/commands/bench.js';
import { enableRelaxedSimd } from '../packages/lab/src/cli/engine-flags.js';
import { convFlops, lenetStepFlops, matmulFlops, mlpStepFlops } from '../packages/lab/src/cli/bench/flops.js';
import { jaxjsLoss, type Jax } from '../packages/lab/src/cli/bench/jaxjs-rows.js';
import { mergeChildRows } from '../packages/lab/src/cli/bench/norelaxed.js';
import { peakCallFlops, peakFmaAvailable, peakModuleBytes, peakReference, peakRunnable, runPeakOnce } from '../packages/lab/src/cli/bench/peak.js';
import { crossEntropy, getBackend, lenet5, mlp, randn, registerBackend, relaxedSimdProbeBytes } from '../src/index.js';
import { BARS, evaluateBars, formatBars, formatPeak, formatTable, peakGflops, percentOfPeak, toJson } from '../packages/lab/src/cli/bench/report.js';
import { buildRow, RowUnavailable, unavailableBuilders } from '../packages/lab/src/cli/bench/runnable.js';
import { PEAK_ROWS, ROWS, ROW_NAMES, rowFlops, selectRows, withPeakRows, type PeakRow, type Row, type ZooModel } from '../packages/lab/src/cli/bench/rows.js';
import { runBench, unavailableNote, type BenchResult } from '../packages/lab/src/cli/bench/run.js';
import { measure, median, type TimingPlan } from '../packages/lab/src/cli/bench/timing.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const ONE_RUN: TimingPlan = { warmup: 0, warmupCapMs: 0, minReps: 1, maxReps: 1, budgetMs: 0 };

/** One small row of each kind, so every builder runs in milliseconds. */
const TINY: Row[] = [
  { kind: 'matmul', name: 'tiny-matmul', m: 8, k: 6, n: 4 },
  { kind: 'conv', name: 'tiny-conv', batch: 2, size: 6, inChannels: 2, outChannels: 3, kernel: 3, padding: 1 },
  { kind: 'train-mlp', name: 'tiny-mlp', batch: 4, widths: [6, 5, 3] },
  { kind: 'train-lenet', name: 'tiny-lenet', batch: 2 },
  { kind: 'grad', name: 'tiny-grad-mlp', batch: 4, model: { name: 'mlp', widths: [6, 5, 3] } },
  { kind: 'per-sample', name: 'tiny-per-sample-mlp', batch: 4, model: { name: 'mlp', widths: [6, 5, 3] } },
  { kind: 'grad', name: 'tiny-grad-lenet', batch: 2, model: { name: 'lenet5' } },
  { kind: 'per-sample', name: 'tiny-per-sample-lenet', batch: 2, model: { name: 'lenet5' } },
  { kind: 'hvp', name: 'tiny-hvp-mlp', batch: 4, model: { name: 'mlp', widths: [6, 5, 3] } },
  { kind: 'hvp', name: 'tiny-hvp-lenet', batch: 2, model: { name: 'lenet5' } },
  { kind: 'matmul', name: 'tiny-matmul-f64', m: 8, k: 6, n: 4, dtype: 'float64' },
  { kind: 'grad', name: 'tiny-grad-mlp-f64', batch: 4, model: { name: 'mlp', widths: [6, 5, 3] }, dtype: 'float64' },
  { kind: 'vmap-grad', name: 'tiny-vmap-grad-mlp', batch: 4, model: { name: 'mlp', widths: [6, 5, 3] } },
  { kind: 'vmap-grad', name: 'tiny-vmap-grad-lenet', batch: 2, model: { name: 'lenet5' } },
  { kind: 'forward', name: 'tiny-forward-mlp', batch: 4, model: { name: 'mlp', widths: [6, 5, 3] } },
  { kind: 'jvp', name: 'tiny-jvp-mlp', batch: 4, model: { name: 'mlp', widths: [6, 5, 3] } },
  { kind: 'hvp-fwd', name: 'tiny-hvp-fwd-mlp', batch: 4, model: { name: 'mlp', widths: [6, 5, 3] } },
  { kind: 'train-zoo', name: 'tiny-train-lenet-bn', batch: 2, model: { name: 'lenet5' } },
  { kind: 'grad', name: 'tiny-grad-mlp-2t', batch: 4, model: { name: 'mlp', widths: [6, 5, 3] }, threads: 2 },
  { kind: 'transformer-layer', name: 'tiny-layernorm', layer: 'layer-norm', batch: 2, seq: 3, dim: 4 },
  { kind: 'transformer-layer', name: 'tiny-attention', layer: 'attention', batch: 2, seq: 3, dim: 4, heads: 2 },
  { kind: 'transformer-layer', name: 'tiny-attention-causal', layer: 'attention', batch: 2, seq: 3, dim: 4, heads: 2, causal: true },
];

/** The peak rows with few iterations (the kernel is the real one; a run takes microseconds). */
const TINY_PEAK: PeakRow[] = [
  { kind: 'peak', name: 'peak-simd128', threads: 1, iterations: 2000, accumulators: 12 },
  { kind: 'peak', name: 'peak-simd128-2t', threads: 2, iterations: 2000, accumulators: 12 },
];

describe('bench rows', () => {
  it('has exactly the rows of the issue, in order', () => {
    expect(ROW_NAMES).toEqual([
      'peak-simd128',
      'peak-simd128-2t',
      'matmul-f32-1024',
      'matmul-f32-1024-2t',
      'matmul-f32-1024-At',
      'matmul-f32-64x784x256',
      'matmul-f32-37x53x29',
      'matmul-f64-512',
      'conv-lenet-1',
      'conv-lenet-2',
      'conv-32x32x16',
      'train-mlp',
      'train-lenet',
      'train-lenet-bn',
      'train-lenet-bn-2t',
      'grad-mlp',
      'grad-mlp-2t',
      'per-sample-mlp',
      'grad-mlp-b512',
      'per-sample-mlp-b512',
      'grad-mlp-b1024',
      'per-sample-mlp-b1024',
      'grad-lenet',
      'grad-lenet-2t',
      'per-sample-lenet',
      'hvp-mlp',
      'hvp-lenet',
      'grad-mlp-f64',
      'vmap-grad-mlp',
      'vmap-grad-lenet',
      'forward-mlp',
      'jvp-mlp',
      'hvp-fwd-mlp',
      'layernorm-b32-t128-d64',
      'attention-b32-h4-t128-d64',
      'attention-causal-b32-h4-t128-d64',
    ]);
  });

  it('selects rows by name for --only, in ROWS order, and refuses an unknown name', () => {
    expect(selectRows('jvp-mlp, forward-mlp').map((r) => r.name)).toEqual(['forward-mlp', 'jvp-mlp']);
    expect(() => selectRows('grad-mlp,nope')).toThrow(/no row named 'nope'; the rows are peak-simd128, peak-simd128-2t, matmul-f32-1024, /);
    // the command always measures the peaks too (the % columns divide by them), once each
    expect(withPeakRows(selectRows('grad-mlp')).map((r) => r.name)).toEqual(['peak-simd128', 'peak-simd128-2t', 'grad-mlp']);
    expect(withPeakRows(selectRows('peak-simd128,grad-mlp')).map((r) => r.name)).toEqual(['peak-simd128-2t', 'peak-simd128', 'grad-mlp']);
    expect(PEAK_ROWS.map((r) => r.threads)).toEqual([1, 2]);
  });

  it('counts FLOPs from the shapes', () => {
    const flops = Object.fromEntries(ROWS.map((r) => [r.name, rowFlops(r)]));
    expect(flops['matmul-f32-1024']).toBe(2 * 1024 ** 3);
    expect(flops['matmul-f32-64x784x256']).toBe(2 * 64 * 784 * 256);
    expect(flops['matmul-f32-1024-At']).toBe(2 * 1024 ** 3);
    // 200 products per timed run
    expect(flops['matmul-f32-37x53x29']).toBe(200 * 2 * 37 * 53 * 29);
    // forward 2·N·Cout·Ho·Wo·Cin·kh·kw, ×3 with both backward passes
    expect(flops['conv-lenet-1']).toBe(3 * 2 * 64 * 6 * 24 * 24 * 1 * 25);
    expect(flops['conv-lenet-2']).toBe(3 * 2 * 64 * 16 * 8 * 8 * 6 * 25);
    expect(flops['conv-32x32x16']).toBe(3 * 2 * 32 * 32 * 32 * 32 * 16 * 9);
    // forward + weight gradients, input gradients for all layers but the first
    expect(flops['train-mlp']).toBe(2 * 128 * (2 * 784 * 256 + 3 * 256 * 256 + 3 * 256 * 10));
    const conv1 = 2 * 128 * 6 * 24 * 24 * 1 * 25;
    const conv2 = 2 * 128 * 16 * 8 * 8 * 6 * 25;
    const dense = 2 * 128 * (256 * 120 + 120 * 84 + 84 * 10);
    expect(flops['train-lenet']).toBe(2 * conv1 + 3 * conv2 + 3 * dense);
    expect(lenetStepFlops(128)).toBe(flops['train-lenet']);
    // a batch gradient does the training step's matmuls and convolutions (no update is counted);
    // per-sample rows report the same count, so the two rows' GFLOP/s compare directly
    expect(flops['grad-mlp']).toBe(flops['train-mlp']);
    expect(flops['per-sample-mlp']).toBe(flops['grad-mlp']);
    expect(flops['grad-lenet']).toBe(flops['train-lenet']);
    expect(flops['per-sample-lenet']).toBe(flops['grad-lenet']);
    // the transform rows count their baseline's FLOPs the same way; forward-mlp is one matmul per layer
    expect(flops['vmap-grad-mlp']).toBe(flops['grad-mlp']);
    expect(flops['vmap-grad-lenet']).toBe(flops['grad-lenet']);
    expect(flops['hvp-fwd-mlp']).toBe(flops['grad-mlp']);
    expect(flops['forward-mlp']).toBe(2 * 128 * (784 * 256 + 256 * 256 + 256 * 10));
    expect(flops['jvp-mlp']).toBe(flops['forward-mlp']);
    expect(mlpStepFlops(1, [2, 3])).toBe(2 * matmulFlops(1, 2, 3));
    // issue #17: the peak is 12 chains × 4 lanes × 2 FLOPs per iteration, per thread
    expect(flops['peak-simd128']).toBe(2 ** 25 * 12 * 4 * 2);
    expect(flops['peak-simd128-2t']).toBe(2 * flops['peak-simd128']!);
    expect(peakCallFlops(10, 12)).toBe(960);
    // a -2t row is its one-thread row's work; the BatchNorm step counts LeNet-5's step
    // (BatchNorm and the update are not matmuls); larger batches scale linearly
    expect(flops['grad-mlp-2t']).toBe(flops['grad-mlp']);
    expect(flops['grad-lenet-2t']).toBe(flops['grad-lenet']);
    expect(flops['train-lenet-bn']).toBe(flops['train-lenet']);
    expect(flops['train-lenet-bn-2t']).toBe(flops['train-lenet']);
    expect(flops['grad-mlp-b512']).toBe(4 * flops['grad-mlp']!);
    expect(flops['grad-mlp-b1024']).toBe(8 * flops['grad-mlp']!);
    expect(flops['per-sample-mlp-b512']).toBe(flops['grad-mlp-b512']);
    expect(flops['per-sample-mlp-b1024']).toBe(flops['grad-mlp-b1024']);
    expect(convFlops({ batch: 1, inChannels: 4, outChannels: 2, outHeight: 3, outWidth: 3, kernel: 3, groups: 2 })).toBe(2 * 2 * 9 * 2 * 9);
    // issue #18: attention forward (q kᵀ, A v) and backward (four more products) over 32·4
    // slices of [128, 16]; LayerNorm has no matmul
    expect(flops['attention-b32-h4-t128-d64']).toBe(6 * 32 * 4 * 2 * 128 * 128 * 16);
    expect(flops['attention-causal-b32-h4-t128-d64']).toBe(flops['attention-b32-h4-t128-d64']);
    expect(flops['layernorm-b32-t128-d64']).toBe(0);
  });
});

describe('bench timing', () => {
  it('takes the median', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('warms up, then times between minReps and maxReps runs', () => {
    let calls = 0;
    const t = measure(() => void calls++, { warmup: 2, warmupCapMs: 1000, minReps: 3, maxReps: 4, budgetMs: 1e9 });
    expect(t.samplesMs).toHaveLength(4);
    expect(calls).toBe(6);
    expect(t.warm).toBe(true);
  });

  it('keeps warming up until the warm-up runs took warmupMs in all (the steady state)', () => {
    const durations: number[] = [];
    const oneMs = () => {
      const start = performance.now();
      while (performance.now() < start + 1);
      durations.push(performance.now() - start);
    };
    const t = measure(oneMs, { warmup: 1, warmupMs: 30, warmupCapMs: 1000, minReps: 2, maxReps: 2, budgetMs: 0 });
    expect(t.samplesMs).toHaveLength(2);
    const warmups = durations.slice(0, -2);
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    // Beyond the one run `warmup` asks for (each takes ≈ 1 ms), and stopped by the run that
    // crossed 30 ms (measure's clock wraps this one, so its sums are a little larger).
    expect(warmups.length).toBeGreaterThan(1);
    expect(sum(warmups.slice(0, -1))).toBeLessThan(30);
  });

  it('in quick mode reports a slow first run alone', () => {
    let calls = 0;
    const slow = () => {
      calls++;
      const end = performance.now() + 5;
      while (performance.now() < end);
    };
    const t = measure(slow, { warmup: 1, warmupCapMs: 0, minReps: 3, maxReps: 3, budgetMs: 0, singleRunAboveMs: 1 });
    expect(calls).toBe(1);
    expect(t.samplesMs).toHaveLength(1);
    expect(t.warm).toBe(false);
  });
});


describe('bench peak (the machine\'s WebAssembly SIMD limit)', () => {
  // As the gradscope command does, so that the relaxed-SIMD kernel can be checked too.
  enableRelaxedSimd();

  it('emits a module that validates: mul+add wherever SIMD exists, relaxed_madd exactly where relaxed SIMD does', () => {
    expect(WebAssembly.validate(peakModuleBytes({ fma: false, accumulators: 12 }))).toBe(true);
    expect(WebAssembly.validate(peakModuleBytes({ fma: true, accumulators: 12 }))).toBe(WebAssembly.validate(relaxedSimdProbeBytes()));
    expect(peakFmaAvailable()).toBe(WebAssembly.validate(relaxedSimdProbeBytes()));
    // more chains, one longer module; still valid
    expect(WebAssembly.validate(peakModuleBytes({ fma: false, accumulators: 200 }))).toBe(true);
  });

  it('computes acc ← acc·a + b on every chain (float32 rounding; one rounding with FMA)', () => {
    // mul then add round twice, exactly as Math.fround twice
    expect(runPeakOnce({ fma: false, accumulators: 12 }, 1000)).toBe(peakReference(1000, 12));
    expect(runPeakOnce({ fma: false, accumulators: 3 }, 1)).toBe(peakReference(1, 3));
    if (peakFmaAvailable()) expect(runPeakOnce({ fma: true, accumulators: 12 }, 1000)).toBeCloseTo(peakReference(1000, 12, true), 5);
    expect(runPeakOnce({ fma: false, accumulators: 200 }, 10)).toBe(peakReference(10, 200));
  });

  it('runs on two worker threads at once and reports which kernel', async () => {
    for (const row of TINY_PEAK) {
      const runnable = await peakRunnable(row);
      expect(runnable.kernel).toBe(peakFmaAvailable() ? 'f32x4.relaxed_madd' : 'f32x4.mul+add');
      for (let i = 0; i < 3; i++) runnable.run();
      runnable.dispose();
    }
    expect(rowFlops(TINY_PEAK[1]!)).toBe(2 * rowFlops(TINY_PEAK[0]!));
  });
});

describe('runBench', () => {
  it('runs the peak and every row kind on gradscope and writes the JSON shape', async () => {
    const lines: string[] = [];
    const result = await runBench({ rows: [...TINY_PEAK, ...TINY], peers: [], plan: ONE_RUN, log: (l) => lines.push(l) });
    const kernel = peakFmaAvailable() ? 'f32x4.relaxed_madd' : 'f32x4.mul+add';
    expect(result.rows.slice(0, 2)).toMatchObject([
      { name: 'peak-simd128', impl: kernel, threads: 1, medianMs: expect.any(Number) },
      { name: 'peak-simd128-2t', impl: kernel, threads: 2, medianMs: expect.any(Number) },
    ]);
    expect(result.rows.slice(2).map((r) => [r.name, r.impl])).toEqual(TINY.map((r) => [r.name, 'gradscope']));
    // threads as the rows ran: two on the -2t row (gradscope's wasm backend), one elsewhere
    const wasm = getBackend().name === 'wasm';
    expect(result.rows.find((r) => r.name === 'tiny-grad-mlp-2t')?.threads).toBe(wasm ? 2 : undefined);
    expect(result.rows.find((r) => r.name === 'tiny-grad-mlp')?.threads).toBe(1);
    for (const r of result.rows.slice(2).filter((r) => wasm || r.name !== 'tiny-grad-mlp-2t')) {
      expect(r.note).toBeUndefined();
      expect(r.medianMs).toBeGreaterThan(0);
      expect(r.gflops).toBeCloseTo(rowFlops(TINY.find((t) => t.name === r.name)!) / (r.medianMs! * 1e6), 6);
    }
    const doc = JSON.parse(toJson(result));
    expect(Object.keys(doc.machine)).toEqual(expect.arrayContaining(['cpus', 'model', 'node', 'platform', 'date']));
    expect(doc.machine.node).toBe(process.version);
    for (const row of doc.rows.slice(2)) {
      expect(row).toMatchObject({ name: expect.any(String), impl: 'gradscope', medianMs: expect.any(Number), gflops: expect.any(Number) });
    }
    expect(doc.bars).toHaveLength(BARS.length);
    // every non-peak row has its % of the one-thread peak, the -2t row of the two-thread one too
    const json = (name: string) => doc.rows.find((r: { name: string }) => r.name === name);
    expect(json('tiny-grad-mlp').percentOfPeak).toBeCloseTo((100 * json('tiny-grad-mlp').gflops) / json('peak-simd128').gflops, 6);
    expect(json('tiny-grad-mlp').percentOfPeak2t).toBeUndefined();
    if (wasm) expect(json('tiny-grad-mlp-2t').percentOfPeak2t).toBeCloseTo((100 * json('tiny-grad-mlp-2t').gflops) / json('peak-simd128-2t').gflops, 6);
    expect(json('peak-simd128').percentOfPeak).toBeUndefined();
    expect(formatTable(result)[0]).toMatch(/^row\s+impl\s+thr\s+median ms\s+GFLOP\/s\s+% peak\s+% peak-2t\s+runs/);
    expect(formatPeak(result)).toMatch(/^peak: peak-simd128 [\d.]+ GFLOP\/s \(f32x4\.[a-z_+]+, 1 thread\), peak-simd128-2t [\d.]+ GFLOP\/s \(f32x4\.[a-z_+]+, 2 threads\)/);
    expect(lines.some((l) => l.includes('tiny-lenet'))).toBe(true);
    expect(lines.some((l) => l.includes('tiny-per-sample-lenet'))).toBe(true);
  });

  it('reports a tfjs peer that cannot run a row instead of dropping it', async () => {
    const transforms = ['tiny-vmap-grad-mlp', 'tiny-forward-mlp', 'tiny-jvp-mlp', 'tiny-hvp-fwd-mlp'];
    const rows = TINY.filter(
      (r) =>
        r.kind === 'conv' ||
        r.kind === 'train-mlp' ||
        r.kind === 'transformer-layer' ||
        ['tiny-grad-mlp', 'tiny-grad-lenet', 'tiny-per-sample-mlp', 'tiny-matmul-f64', 'tiny-grad-mlp-f64', 'tiny-grad-mlp-2t', 'tiny-train-lenet-bn', ...transforms].includes(r.name),
    );
    const result = await runBench({ rows, peers: ['tfjs'], plan: ONE_RUN });
    const get = (name: string, impl: string) => result.rows.find((r) => r.name === name && r.impl === impl);
    expect(result.rows).toHaveLength(rows.length * 3);
    expect(get('tiny-conv', 'tfjs-cpu')?.medianMs).toBeGreaterThan(0);
    expect(get('tiny-mlp', 'tfjs-wasm')?.medianMs).toBeGreaterThan(0);
    expect(get('tiny-conv', 'tfjs-wasm')).toMatchObject({ medianMs: null, gflops: null, note: 'n/a: no Conv2DBackpropFilter' });
    // the batch gradient of the zoo models runs on tfjs too (LeNet-5 with eval BatchNorm: cpu only)
    expect(get('tiny-grad-mlp', 'tfjs-cpu')?.medianMs).toBeGreaterThan(0);
    expect(get('tiny-grad-mlp', 'tfjs-wasm')?.medianMs).toBeGreaterThan(0);
    expect(get('tiny-grad-lenet', 'tfjs-cpu')?.medianMs).toBeGreaterThan(0);
    expect(get('tiny-grad-lenet', 'tfjs-wasm')?.note).toBe('n/a: no Conv2DBackpropFilter');
    // LayerNorm and attention (plain and causal), forward and backward, on both tfjs backends
    for (const name of ['tiny-layernorm', 'tiny-attention', 'tiny-attention-causal']) {
      for (const impl of ['tfjs-cpu', 'tfjs-wasm']) expect(get(name, impl), `${name} ${impl}`).toMatchObject({ medianMs: expect.any(Number), threads: 1 });
    }
    // tfjs has no per-sample gradients: reported, not dropped
    for (const impl of ['tfjs-cpu', 'tfjs-wasm']) {
      expect(get('tiny-per-sample-mlp', impl)).toMatchObject({ medianMs: null, gflops: null, note: 'n/a: no per-sample gradients' });
    }
    expect(get('tiny-per-sample-mlp', 'gradscope')?.medianMs).toBeGreaterThan(0);
    // nor float64
    for (const impl of ['tfjs-cpu', 'tfjs-wasm']) {
      for (const name of ['tiny-matmul-f64', 'tiny-grad-mlp-f64']) expect(get(name, impl)?.note).toBe('n/a: no float64');
    }
    expect(get('tiny-grad-mlp-f64', 'gradscope')?.medianMs).toBeGreaterThan(0);
    // nor vmap or forward-mode jvp (the forward row is only jvp's baseline)
    const notes = {
      'tiny-vmap-grad-mlp': 'n/a: no vmap',
      'tiny-forward-mlp': 'n/a: not measured (baseline of a gradscope-only row)',
      'tiny-jvp-mlp': 'n/a: no forward-mode jvp',
      'tiny-hvp-fwd-mlp': 'n/a: no forward-mode jvp',
    };
    for (const [name, note] of Object.entries(notes)) {
      for (const impl of ['tfjs-cpu', 'tfjs-wasm']) expect(get(name, impl)).toMatchObject({ medianMs: null, gflops: null, note });
      expect(get(name, 'gradscope')?.medianMs).toBeGreaterThan(0);
    }
    // the -2t model rows are their one-thread rows again for a one-thread peer; the BatchNorm
    // training step is compared with jax-js, not tfjs
    for (const impl of ['tfjs-cpu', 'tfjs-wasm']) {
      expect(get('tiny-grad-mlp-2t', impl)?.note).toMatch(/^n\/a: one thread only/);
      expect(get('tiny-train-lenet-bn', impl)?.note).toMatch(/^n\/a: not measured/);
      expect(get('tiny-grad-mlp', impl)?.threads).toBe(1);
    }
    expect(result.machine.tfjsWasmSimd).toBe(true);
    const doc = JSON.parse(toJson(result));
    expect(doc.rows.find((r: { impl: string; name: string }) => r.impl === 'tfjs-wasm' && r.name === 'tiny-conv').note).toBe('n/a: no Conv2DBackpropFilter');
  }, 20_000);

  it('adds gradscope-gpujs rows (matmul and conv only) when a GPU.js backend is registered', async () => {
    const cpu = getBackend();
    // A stand-in: the CPU kernels under a 'gpu' name, saying which GPU.js mode it ran.
    registerBackend(Object.create(cpu, { name: { value: 'gpu' }, mode: { value: 'webasm' } }));
    const result = await runBench({ rows: TINY, peers: ['gpujs'], plan: ONE_RUN });
    const gpuRows = result.rows.filter((r) => r.impl.startsWith('gradscope-gpujs-'));
    expect(gpuRows.map((r) => r.name)).toEqual(['tiny-matmul', 'tiny-conv', 'tiny-matmul-f64']);
    expect(gpuRows[2]!.note).toBe('n/a: the gpu backend runs float64 on the pure-TypeScript kernels');
    expect(gpuRows[0]!.impl).toMatch(/^gradscope-gpujs-[A-Za-z0-9-]+$/);
    expect(getBackend()).toBe(cpu);
  });
});


// jax-js is an optional peer: without it these tests are skipped, saying so.
const jax: Jax | null = await import('@jax-js/jax').catch(() => null);
const noJax = jax === null ? ' (skipped: @jax-js/jax is not installed)' : '';

describe('bench jax-js peer', () => {
  it('without the package, reports every row with the reason (the bench runs on)', () => {
    const builders = unavailableBuilders('@jax-js/jax is not installed');
    for (const row of TINY) expect(() => buildRow(builders, row as Exclude<Row, PeakRow>)).toThrow(RowUnavailable);
  });

  it.skipIf(jax === null)(`computes the same loss as gradscope on the same parameters and batch${noJax}`, async () => {
    await jax!.init('wasm');
    jax!.defaultDevice('wasm');
    const targets = (batch: number, classes: number) => Int32Array.from({ length: batch }, (_, i) => (i * 7) % classes);
    const ours = (model: ReturnType<typeof mlp>, shape: number[], classes: number) =>
      crossEntropy(model.forward(randn(shape, { seed: 1, dtype: 'float32' })), targets(shape[0]!, classes)).item();
    const cases: { zoo: ZooModel; bn: 'none' | 'eval' | 'train'; model: ReturnType<typeof mlp>; shape: number[]; classes: number }[] = [
      { zoo: { name: 'mlp', widths: [6, 5, 3] }, bn: 'none' as const, model: mlp([6, 5, 3], { seed: 0, activation: 'relu' }).eval(), shape: [4, 6], classes: 3 },
      { zoo: { name: 'lenet5' } as const, bn: 'eval' as const, model: lenet5({ seed: 0 }).eval(), shape: [3, 1, 28, 28], classes: 10 },
      { zoo: { name: 'lenet5' } as const, bn: 'train' as const, model: lenet5({ seed: 0 }).train(), shape: [3, 1, 28, 28], classes: 10 },
      { zoo: { name: 'lenet5' } as const, bn: 'none' as const, model: lenet5({ seed: 0, batchNorm: false }), shape: [3, 1, 28, 28], classes: 10 },
    ];
    for (const c of cases) {
      const theirs = jaxjsLoss(jax!, c.zoo, c.shape[0]!, c.bn);
      expect(theirs, `${c.zoo.name} ${c.bn}`).toBeCloseTo(ours(c.model, c.shape, c.classes), 4);
    }
  }, 20_000);

  it.skipIf(jax === null)(`runs the rows it can express on one thread and reports the others${noJax}`, async () => {
    const names = ['tiny-matmul', 'tiny-conv', 'tiny-mlp', 'tiny-grad-mlp', 'tiny-grad-mlp-2t', 'tiny-per-sample-mlp', 'tiny-matmul-f64', 'tiny-grad-mlp-f64', 'tiny-vmap-grad-mlp', 'tiny-forward-mlp', 'tiny-jvp-mlp', 'tiny-hvp-mlp', 'tiny-train-lenet-bn', 'tiny-lenet', 'tiny-grad-lenet', 'tiny-hvp-lenet', 'tiny-vmap-grad-lenet', 'tiny-layernorm', 'tiny-attention', 'tiny-attention-causal'];
    const rows = TINY.filter((r) => names.includes(r.name));
    const result = await runBench({ rows, peers: ['jax-js'], plan: ONE_RUN });
    const get = (name: string) => result.rows.find((r) => r.name === name && r.impl === 'jax-js');
    expect(result.machine.jaxjs).toMatch(/^\d+\.\d+\.\d+/);
    const unavailable = ['tiny-grad-mlp-2t', 'tiny-per-sample-mlp', 'tiny-vmap-grad-lenet'];
    for (const name of names.filter((n) => !unavailable.includes(n))) {
      expect(get(name), name).toMatchObject({ medianMs: expect.any(Number), threads: 1 });
      expect(get(name)?.note, name).toBeUndefined();
    }
    expect(get('tiny-grad-mlp-2t')?.note).toMatch(/^n\/a: one thread only in Node/);
    expect(get('tiny-per-sample-mlp')?.note).toBe('n/a: no per-sample API (its way is vmap(grad): the vmap-grad rows)');
    // jax-js 0.1.25 has no vmap rule for max pooling
    expect(get('tiny-vmap-grad-lenet')?.note).toBe('n/a: no vmap rule for pool');
    // the table gives gradscope's speed-up over jax-js
    expect(formatTable(result).find((l) => /^\s+jax-js\s+1\s/.test(l) && l.trimEnd().endsWith('×'))).toBeDefined();
  }, 30_000);
});

describe('bench report', () => {
  const result = (ms: Record<string, number | null>): BenchResult => ({
    machine: { cpus: 2, model: 'test', node: 'v20', platform: 'linux-x64', date: '', gradscopeBackend: 'cpu', relaxedSimd: 'flag' },
    rows: Object.entries(ms).map(([key, medianMs]) => {
      const [name, impl] = key.split(' ') as [string, string];
      return { name, impl, medianMs, gflops: medianMs && 1 / medianMs, ...(medianMs === null ? { note: 'n/a: no X' } : {}) };
    }),
  });
  /** A result from (name, impl, GFLOP/s, threads) tuples: 1 GFLOP per row, so ms = 1000 / GFLOP/s. */
  const rated = (rows: [string, string, number | null, number?][]): BenchResult => ({
    machine: { cpus: 2, model: 'test', node: 'v20', platform: 'linux-x64', date: '', gradscopeBackend: 'wasm', relaxedSimd: 'flag' },
    rows: rows.map(([name, impl, gflops, threads]) => ({ name, impl, medianMs: gflops && 1000 / gflops, gflops, ...(threads !== undefined ? { threads } : {}) })),
  });

  it('evaluates each bar as peer ms / gradscope ms', () => {
    const bars = evaluateBars(
      result({ 'train-mlp gradscope': 10, 'train-mlp tfjs-cpu': 40, 'train-mlp tfjs-wasm': 9, 'train-lenet gradscope': 1, 'train-lenet tfjs-cpu': null }),
    );
    const status = Object.fromEntries(bars.flatMap((b) => ('peer' in b ? [[`${b.row} ${b.peer}`, [b.status, b.ratio]]] : [])));
    expect(status['train-mlp tfjs-cpu']).toEqual(['PASS', 4]);
    expect(status['train-mlp tfjs-wasm']).toEqual(['FAIL', 0.9]);
    expect(status['train-lenet tfjs-cpu']).toEqual(['n/a', null]);
    expect(formatBars(bars).join('\n')).toMatch(/PASS {2}train-mlp: gradscope ≥ 3× tfjs-cpu \(measured 4\.00×\)/);
  });

  it('evaluates each per-sample bar as per-sample ms / batch-gradient ms, both gradscope', () => {
    const bars = evaluateBars(
      result({
        'grad-mlp gradscope': 10,
        'per-sample-mlp gradscope': 20,
        'grad-lenet gradscope': 10,
        'per-sample-lenet gradscope': 30,
        'hvp-mlp gradscope': 35,
        'hvp-lenet gradscope': 45,
        'vmap-grad-mlp gradscope': 24,
        'vmap-grad-lenet gradscope': 26,
        'forward-mlp gradscope': 2,
        'jvp-mlp gradscope': 5,
        'hvp-fwd-mlp gradscope': 31,
      }),
    );
    const cost = bars.filter((b) => 'baseline' in b);
    expect(cost.map((b) => [b.row, 'baseline' in b && b.baseline, 'atMost' in b && b.atMost])).toEqual([
      ['per-sample-mlp', 'grad-mlp', 2.5],
      ['per-sample-lenet', 'grad-lenet', 2.5],
      ['hvp-mlp', 'grad-mlp', 3],
      ['hvp-lenet', 'grad-lenet', 3],
      ['vmap-grad-mlp', 'grad-mlp', 2.5],
      ['vmap-grad-lenet', 'grad-lenet', 2.5],
      ['jvp-mlp', 'forward-mlp', 3],
      ['hvp-fwd-mlp', 'grad-mlp', 3],
      ['per-sample-mlp-b512', 'grad-mlp-b512', 2.5],
      ['per-sample-mlp-b1024', 'grad-mlp-b1024', 2.5],
    ]);
    expect(cost.map((b) => [b.status, b.ratio])).toEqual([
      ['PASS', 2],
      ['FAIL', 3],
      ['FAIL', 3.5],
      ['FAIL', 4.5],
      ['PASS', 2.4],
      ['FAIL', 2.6],
      ['PASS', 2.5],
      ['FAIL', 3.1],
      ['n/a', null],
      ['n/a', null],
    ]);
    const text = formatBars(cost).join('\n');
    expect(text).toMatch(/PASS {2}per-sample-mlp: gradscope ms ≤ 2\.5× grad-mlp ms \(measured 2\.00×\)/);
    expect(text).toMatch(/FAIL {2}per-sample-lenet: gradscope ms ≤ 2\.5× grad-lenet ms \(measured 3\.00×\)/);
    expect(text).toMatch(/PASS {2}jvp-mlp: gradscope ms ≤ 3× forward-mlp ms \(measured 2\.50×\)/);
    // a peer's time on those rows plays no part; a missing gradscope time makes the bar n/a
    const missing = evaluateBars(result({ 'grad-mlp gradscope': 10, 'per-sample-mlp tfjs-cpu': 1 })).find((b) => b.row === 'per-sample-mlp');
    expect(missing).toMatchObject({ status: 'n/a', ratio: null });
  });

  it('divides GFLOP/s by the fastest peak of the same run, one-thread and two-thread', () => {
    const r = rated([
      ['peak-simd128', 'f32x4.relaxed_madd', 60, 1],
      ['peak-simd128', 'f32x4.mul+add', 50, 1],
      ['peak-simd128-2t', 'f32x4.relaxed_madd', 120, 2],
      ['grad-mlp', 'gradscope', 45, 1],
      ['grad-mlp-2t', 'gradscope', 60, 2],
      ['grad-mlp', 'tfjs-wasm', 3, 1],
    ]);
    expect(peakGflops(r, 'peak-simd128')).toBe(60);
    expect(peakGflops(r, 'nope')).toBeNull();
    const row = (name: string, impl = 'gradscope') => r.rows.find((x) => x.name === name && x.impl === impl)!;
    expect(percentOfPeak(r, row('grad-mlp'), 'peak-simd128')).toBeCloseTo(75, 10);
    expect(percentOfPeak(r, row('grad-mlp', 'tfjs-wasm'), 'peak-simd128')).toBeCloseTo(5, 10);
    expect(percentOfPeak(r, row('grad-mlp-2t'), 'peak-simd128-2t')).toBeCloseTo(50, 10);
    const table = formatTable(r);
    // % peak for every line but the peaks; % peak-2t for the two-thread line only
    expect(table.find((l) => l.startsWith('grad-mlp ') && l.includes('gradscope'))).toMatch(/gradscope\s+1\s+22\.2\s+45\.00\s+75\s*$/);
    expect(table.find((l) => l.startsWith('grad-mlp-2t'))).toMatch(/gradscope\s+2\s+16\.7\s+60\.00\s+100\s+50\s*$/);
    expect(table.find((l) => l.includes('tfjs-wasm'))).toMatch(/tfjs-wasm\s+1\s+333\s+3\.00\s+5\.0\s+15\.0×$/);
    expect(table.find((l) => l.startsWith('peak-simd128 '))).toMatch(/f32x4\.relaxed_madd\s+1\s+16\.7\s+60\.00$/);
    const doc = JSON.parse(toJson(r));
    expect(doc.rows.find((x: { name: string }) => x.name === 'grad-mlp-2t')).toMatchObject({ threads: 2, percentOfPeak: 100, percentOfPeak2t: 50 });
    // without a peak row there is no percentage (the bars read n/a)
    const none = rated([['grad-mlp', 'gradscope', 45, 1]]);
    expect(percentOfPeak(none, none.rows[0]!, 'peak-simd128')).toBeNull();
    expect(evaluateBars(none).find((b) => 'peak' in b && b.row === 'grad-mlp')).toMatchObject({ status: 'n/a', ratio: null });
  });

  it('evaluates the issue #17 bars: % of peak, two threads against one, jax-js, per-sample at 512 and 1024', () => {
    const r = rated([
      ['peak-simd128', 'f32x4.relaxed_madd', 100, 1],
      ['peak-simd128-2t', 'f32x4.relaxed_madd', 200, 2],
      ['grad-mlp', 'gradscope', 70, 1], // exactly 70 %: PASS
      ['train-mlp', 'gradscope', 64, 1], // 64 % < 65 %: FAIL
      ['grad-lenet', 'gradscope', 31, 1],
      ['train-lenet', 'gradscope', 29, 1],
      ['train-lenet-bn', 'gradscope', 25, 1],
      ['grad-mlp-2t', 'gradscope', 105, 2], // 1.5× grad-mlp: PASS
      ['grad-lenet-2t', 'gradscope', 40, 2], // 1.29×: FAIL
      ['train-lenet-bn-2t', 'gradscope', null, 2],
      ['grad-mlp', 'jax-js', 20, 1],
      ['train-mlp', 'jax-js', 50, 1],
      ['grad-lenet', 'jax-js', 5, 1],
      ['grad-mlp-b512', 'gradscope', 60],
      ['per-sample-mlp-b512', 'gradscope', 25], // 2.4×: PASS
      ['grad-mlp-b1024', 'gradscope', 60],
      ['per-sample-mlp-b1024', 'gradscope', 20], // 3×: FAIL
      ['matmul-f32-1024-2t', 'gradscope', 100, 2],
      ['matmul-f32-1024-2t', 'tfjs-wasm', 40, 1],
    ]);
    const bars = evaluateBars(r);
    const pick = (row: string, key: 'peak' | 'oneThread' | 'baseline' | 'peer', value?: string) =>
      bars.find((b) => b.row === row && key in b && (value === undefined || (b as unknown as Record<string, string>)[key] === value));
    expect(pick('grad-mlp', 'peak')).toMatchObject({ atLeastPercent: 70, status: 'PASS' });
    expect(pick('grad-mlp', 'peak')!.ratio).toBeCloseTo(70, 10);
    expect(pick('train-mlp', 'peak')).toMatchObject({ atLeastPercent: 65, status: 'FAIL' });
    expect(pick('grad-lenet', 'peak')).toMatchObject({ atLeastPercent: 30, status: 'PASS' });
    expect(pick('train-lenet', 'peak')).toMatchObject({ atLeastPercent: 30, status: 'FAIL' });
    expect(pick('train-lenet-bn', 'peak')).toMatchObject({ atLeastPercent: 25, status: 'PASS' });
    expect(pick('grad-mlp-2t', 'oneThread')).toMatchObject({ oneThread: 'grad-mlp', atLeast: 1.5, status: 'PASS' });
    expect(pick('grad-mlp-2t', 'oneThread')!.ratio).toBeCloseTo(1.5, 10);
    expect(pick('grad-lenet-2t', 'oneThread')).toMatchObject({ status: 'FAIL' });
    expect(pick('train-lenet-bn-2t', 'oneThread')).toMatchObject({ status: 'n/a', ratio: null });
    expect(pick('grad-mlp', 'peer', 'jax-js')).toMatchObject({ atLeast: 1.5, status: 'PASS', ratio: 3.5 });
    expect(pick('train-mlp', 'peer', 'jax-js')).toMatchObject({ status: 'FAIL' });
    expect(pick('grad-lenet', 'peer', 'jax-js')).toMatchObject({ status: 'PASS' });
    expect(pick('train-lenet-bn', 'peer', 'jax-js')).toMatchObject({ status: 'n/a' });
    expect(pick('per-sample-mlp-b512', 'baseline')).toMatchObject({ status: 'PASS' });
    expect(pick('per-sample-mlp-b512', 'baseline')!.ratio).toBeCloseTo(2.4, 10);
    expect(pick('per-sample-mlp-b1024', 'baseline')).toMatchObject({ status: 'FAIL', ratio: 3 });
    // every LeNet-5 row jax-js runs has its bar
    expect(bars.filter((b) => 'peer' in b && b.peer === 'jax-js').map((b) => b.row)).toEqual(['grad-mlp', 'train-mlp', 'grad-lenet', 'train-lenet', 'train-lenet-bn', 'hvp-lenet']);
    const text = formatBars(bars).join('\n');
    expect(text).toMatch(/PASS {2}grad-mlp: gradscope GFLOP\/s ≥ 70 % of peak-simd128 \(measured 70 %\)/);
    expect(text).toMatch(/FAIL {2}train-mlp: gradscope GFLOP\/s ≥ 65 % of peak-simd128 \(measured 64 %\)/);
    expect(text).toMatch(/PASS {2}grad-mlp-2t: gradscope ≥ 1\.5× faster than on grad-mlp \(one thread\) \(measured 1\.50×\)/);
    // the -2t matmul bar says it puts gradscope's two threads against tfjs-wasm's one
    expect(text).toMatch(/PASS {2}matmul-f32-1024-2t: gradscope \(2 threads\) ≥ 2× tfjs-wasm \(1 thread\) \(measured 2\.50×\)/);
    expect(text).toMatch(/PASS {2}grad-mlp: gradscope ≥ 1\.5× jax-js \(measured 3\.50×\)/);
  });

  it('prints the note of a row a peer could not run', () => {
    const table = formatTable(result({ 'conv-lenet-1 gradscope': 5, 'conv-lenet-1 tfjs-wasm': null })).join('\n');
    expect(table).toMatch(/tfjs-wasm\s+n\/a: no X/);
  });

  it('names the missing tfjs kernel', () => {
    expect(unavailableNote(new Error("Kernel 'Conv2DBackpropFilter' not registered for backend 'wasm'"))).toBe('n/a: no Conv2DBackpropFilter');
    expect(unavailableNote(new Error('boom\nstack'))).toBe('error: boom');
    expect(unavailableNote(new RowUnavailable('no per-sample gradients'))).toBe('n/a: no per-sample gradients');
    // jax-js 0.1.25 cannot vmap max pooling (its `pool` primitive)
    expect(unavailableNote(new Error('No vmap rule for: pool'))).toBe('n/a: no vmap rule for pool');
  });
});


describe('bench without relaxed SIMD (the -norelaxed rows)', () => {
  it('merges the child\'s rows: gradscope as gradscope-norelaxed, the peaks under their kernel, nothing else', () => {
    const rows = selectRows('grad-mlp,peak-simd128');
    const child: BenchResult = {
      machine: { cpus: 2, model: 'test', node: 'v20', platform: 'linux-x64', date: '', gradscopeBackend: 'wasm', relaxedSimd: 'off' },
      rows: [
        { name: 'peak-simd128', impl: 'f32x4.mul+add', medianMs: 50, gflops: 64, threads: 1 },
        { name: 'grad-mlp', impl: 'gradscope', medianMs: 20, gflops: 8, threads: 1 },
        { name: 'grad-mlp', impl: 'tfjs-cpu', medianMs: 200, gflops: 0.8 },
      ],
    };
    expect(mergeChildRows(child, rows).map((r) => [r.name, r.impl])).toEqual([
      ['peak-simd128', 'f32x4.mul+add'],
      ['grad-mlp', 'gradscope-norelaxed'],
    ]);
    // a child that still had relaxed SIMD measured nothing new: notes instead
    const leaked = { ...child, machine: { ...child.machine, relaxedSimd: 'native' as const } };
    expect(mergeChildRows(leaked, rows)).toEqual([{ name: 'grad-mlp', impl: 'gradscope-norelaxed', medianMs: null, gflops: null, note: 'n/a: the child process still had relaxed SIMD' }]);
  });

  it('reads GRADSCOPE_BENCH_PEERS', () => {
    expect(peersFromEnv(undefined)).toBeUndefined();
    expect(peersFromEnv('none')).toEqual([]);
    expect(peersFromEnv('tfjs, jax-js')).toEqual(['tfjs', 'jax-js']);
    expect(() => peersFromEnv('tfjs,torch')).toThrow(/GRADSCOPE_BENCH_PEERS names 'torch'; the peers are backends, tfjs, jax-js, gpujs, norelaxed/);
  });

  it('runs the gradscope rows again in a child without relaxed SIMD (gradscope bench, built)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-test-'));
    try {
      const file = join(dir, 'bench.json');
      const r = spawnSync(process.execPath, ['packages/lab/bin/gradscope.js', 'bench', '--quick', '--only', 'matmul-f32-37x53x29', '--json', file], {
        cwd: root,
        encoding: 'utf8',
        env: { ...process.env, GRADSCOPE_BENCH_PEERS: 'norelaxed' },
      });
      expect(r.status, r.stderr).toBe(0);
      const doc = JSON.parse(readFileSync(file, 'utf8'));
      const impls = (name: string) => doc.rows.filter((x: { name: string }) => x.name === name).map((x: { impl: string }) => x.impl);
      if (doc.machine.relaxedSimd === 'flag') {
        // Node 20: the command turned relaxed SIMD on; the child ran without it
        expect(impls('matmul-f32-37x53x29')).toEqual(['gradscope', 'gradscope-norelaxed']);
        expect(impls('peak-simd128')).toEqual(['f32x4.relaxed_madd', 'f32x4.mul+add']);
        expect(impls('peak-simd128-2t')).toEqual(['f32x4.relaxed_madd', 'f32x4.mul+add']);
        expect(r.stdout).toMatch(/gradscope-norelaxed\s+1\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+\d+\s+[\d.]+×/);
      } else {
        // relaxed SIMD on by default (or absent): the gradscope rows are what a user gets
        expect(impls('matmul-f32-37x53x29')).toEqual(['gradscope']);
        expect(r.stderr).toMatch(/no gradscope-norelaxed rows/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});

describe('bench command', () => {
  it('loads TensorFlow.js and jax-js only dynamically (gradscope --help never pays for them)', () => {
    const dir = join(root, 'packages', 'lab', 'src', 'cli');
    const files = (d: string): string[] =>
      readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(d, e.name)) : e.name.endsWith('.ts') ? [join(d, e.name)] : []));
    for (const f of files(dir)) {
      const text = readFileSync(f, 'utf8');
      expect(text, f).not.toMatch(/^import\s+(?!type\b)[^;]*from\s+['"](@tensorflow|@jax-js)\//m);
    }
  });

  it('is listed in gradscope --help', () => {
    const r = spawnSync(process.execPath, ['packages/lab/bin/gradscope.js', '--help'], { cwd: root, encoding: 'utf8' });
    expect(r.stdout).toMatch(/gradscope bench \[--json FILE\] \[--quick\]/);
  });
});
