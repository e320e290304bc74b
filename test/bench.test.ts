/**
 * The benchmark's machinery on a tiny configuration (the real benchmark is `npm run bench`):
 * row names, FLOP formulas, the timer, the JSON document, the bars, and that a peer which
 * cannot run a row is reported with a note rather than dropped.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { convFlops, lenetStepFlops, matmulFlops, mlpStepFlops } from '../packages/lab/src/cli/bench/flops.js';
import { getBackend, registerBackend } from '../src/index.js';
import { BARS, evaluateBars, formatBars, formatTable, toJson } from '../packages/lab/src/cli/bench/report.js';
import { RowUnavailable } from '../packages/lab/src/cli/bench/runnable.js';
import { ROWS, ROW_NAMES, rowFlops, selectRows, type Row } from '../packages/lab/src/cli/bench/rows.js';
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
];

describe('bench rows', () => {
  it('has exactly the rows of the issue, in order', () => {
    expect(ROW_NAMES).toEqual([
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
      'grad-mlp',
      'per-sample-mlp',
      'grad-lenet',
      'per-sample-lenet',
      'hvp-mlp',
      'hvp-lenet',
      'grad-mlp-f64',
      'vmap-grad-mlp',
      'vmap-grad-lenet',
      'forward-mlp',
      'jvp-mlp',
      'hvp-fwd-mlp',
    ]);
  });

  it('selects rows by name for --only, in ROWS order, and refuses an unknown name', () => {
    expect(selectRows('jvp-mlp, forward-mlp').map((r) => r.name)).toEqual(['forward-mlp', 'jvp-mlp']);
    expect(() => selectRows('grad-mlp,nope')).toThrow(/no row named 'nope'; the rows are matmul-f32-1024, /);
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
    expect(convFlops({ batch: 1, inChannels: 4, outChannels: 2, outHeight: 3, outWidth: 3, kernel: 3, groups: 2 })).toBe(2 * 2 * 9 * 2 * 9);
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

describe('runBench', () => {
  it('runs every row kind on gradscope and writes the JSON shape', async () => {
    const lines: string[] = [];
    const result = await runBench({ rows: TINY, peers: [], plan: ONE_RUN, log: (l) => lines.push(l) });
    expect(result.rows.map((r) => [r.name, r.impl])).toEqual(TINY.map((r) => [r.name, 'gradscope']));
    for (const r of result.rows) {
      expect(r.note).toBeUndefined();
      expect(r.medianMs).toBeGreaterThan(0);
      expect(r.gflops).toBeCloseTo(rowFlops(TINY.find((t) => t.name === r.name)!) / (r.medianMs! * 1e6), 6);
    }
    const doc = JSON.parse(toJson(result));
    expect(Object.keys(doc.machine)).toEqual(expect.arrayContaining(['cpus', 'model', 'node', 'platform', 'date']));
    expect(doc.machine.node).toBe(process.version);
    for (const row of doc.rows) {
      expect(row).toMatchObject({ name: expect.any(String), impl: 'gradscope', medianMs: expect.any(Number), gflops: expect.any(Number) });
    }
    expect(doc.bars).toHaveLength(BARS.length);
    expect(formatTable(result)[0]).toMatch(/^row\s+impl\s+median ms\s+GFLOP\/s/);
    expect(lines.some((l) => l.includes('tiny-lenet'))).toBe(true);
    expect(lines.some((l) => l.includes('tiny-per-sample-lenet'))).toBe(true);
  });

  it('reports a tfjs peer that cannot run a row instead of dropping it', async () => {
    const transforms = ['tiny-vmap-grad-mlp', 'tiny-forward-mlp', 'tiny-jvp-mlp', 'tiny-hvp-fwd-mlp'];
    const rows = TINY.filter(
      (r) =>
        r.kind === 'conv' ||
        r.kind === 'train-mlp' ||
        ['tiny-grad-mlp', 'tiny-grad-lenet', 'tiny-per-sample-mlp', 'tiny-matmul-f64', 'tiny-grad-mlp-f64', ...transforms].includes(r.name),
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

describe('bench report', () => {
  const result = (ms: Record<string, number | null>): BenchResult => ({
    machine: { cpus: 2, model: 'test', node: 'v20', platform: 'linux-x64', date: '', gradscopeBackend: 'cpu' },
    rows: Object.entries(ms).map(([key, medianMs]) => {
      const [name, impl] = key.split(' ') as [string, string];
      return { name, impl, medianMs, gflops: medianMs && 1 / medianMs, ...(medianMs === null ? { note: 'n/a: no X' } : {}) };
    }),
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
      ['hvp-mlp', 'grad-mlp', 4],
      ['hvp-lenet', 'grad-lenet', 4],
      ['vmap-grad-mlp', 'grad-mlp', 2.5],
      ['vmap-grad-lenet', 'grad-lenet', 2.5],
      ['jvp-mlp', 'forward-mlp', 3],
      ['hvp-fwd-mlp', 'grad-mlp', 3],
    ]);
    expect(cost.map((b) => [b.status, b.ratio])).toEqual([
      ['PASS', 2],
      ['FAIL', 3],
      ['PASS', 3.5],
      ['FAIL', 4.5],
      ['PASS', 2.4],
      ['FAIL', 2.6],
      ['PASS', 2.5],
      ['FAIL', 3.1],
    ]);
    const text = formatBars(cost).join('\n');
    expect(text).toMatch(/PASS {2}per-sample-mlp: gradscope ms ≤ 2\.5× grad-mlp ms \(measured 2\.00×\)/);
    expect(text).toMatch(/FAIL {2}per-sample-lenet: gradscope ms ≤ 2\.5× grad-lenet ms \(measured 3\.00×\)/);
    expect(text).toMatch(/PASS {2}jvp-mlp: gradscope ms ≤ 3× forward-mlp ms \(measured 2\.50×\)/);
    // a peer's time on those rows plays no part; a missing gradscope time makes the bar n/a
    const missing = evaluateBars(result({ 'grad-mlp gradscope': 10, 'per-sample-mlp tfjs-cpu': 1 })).find((b) => b.row === 'per-sample-mlp');
    expect(missing).toMatchObject({ status: 'n/a', ratio: null });
  });

  it('prints the note of a row a peer could not run', () => {
    const table = formatTable(result({ 'conv-lenet-1 gradscope': 5, 'conv-lenet-1 tfjs-wasm': null })).join('\n');
    expect(table).toMatch(/tfjs-wasm\s+n\/a: no X/);
  });

  it('names the missing tfjs kernel', () => {
    expect(unavailableNote(new Error("Kernel 'Conv2DBackpropFilter' not registered for backend 'wasm'"))).toBe('n/a: no Conv2DBackpropFilter');
    expect(unavailableNote(new Error('boom\nstack'))).toBe('error: boom');
    expect(unavailableNote(new RowUnavailable('no per-sample gradients'))).toBe('n/a: no per-sample gradients');
  });
});

describe('bench command', () => {
  it('loads TensorFlow.js only dynamically (gradscope --help never pays for it)', () => {
    const dir = join(root, 'packages', 'lab', 'src', 'cli');
    const files = (d: string): string[] =>
      readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(d, e.name)) : e.name.endsWith('.ts') ? [join(d, e.name)] : []));
    for (const f of files(dir)) {
      const text = readFileSync(f, 'utf8');
      expect(text, f).not.toMatch(/^import\s+(?!type\b)[^;]*from\s+['"]@tensorflow\//m);
    }
  });

  it('is listed in gradscope --help', () => {
    const r = spawnSync(process.execPath, ['packages/lab/bin/gradscope.js', '--help'], { cwd: root, encoding: 'utf8' });
    expect(r.stdout).toMatch(/gradscope bench \[--json FILE\] \[--quick\]/);
  });
});
