/**
 * The experiment machinery end to end on the demo preset at smoke size: gradscope run writes
 * results.json, CSV, SVG and index.html; a rerun skips; gradscope report rebuilds the same
 * HTML from results.json alone; list and bad arguments behave.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PRESETS, findPreset } from '../../packages/lab/src/experiments/registry.js';
import { existingResults, parseResults, runPresets, stringifyResults, type RunEvent } from '../../packages/lab/src/experiments/runner.js';
import { plotCsv } from '../../packages/lab/src/cli/report/csv.js';
import { findResults } from '../../packages/lab/src/cli/report/index.js';
import { progressReporter } from '../../packages/lab/src/cli/commands/progress.js';
import { parseSeeds } from '../../packages/lab/src/cli/commands/run.js';
import type { Preset } from '../../packages/lab/src/experiments/preset.js';
import { decodeOutput, encodeOutput, taskKey } from '../../packages/lab/src/experiments/task-cache.js';
import { inlinePool, workerPool } from '../../packages/lab/src/experiments/task-pool.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = (...args: string[]) => spawnSync(process.execPath, ['packages/lab/bin/gradscope.js', ...args], { cwd: root, encoding: 'utf8' });

describe('gradscope run / report / list (CLI)', () => {
  let dir: string;
  let first: ReturnType<typeof cli>;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'gradscope-exp-'));
    first = cli('run', 'demo-sgd', '--size', 'smoke', '--out', dir);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes results.json, CSV, SVG and index.html and says where the report is', () => {
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toContain(`report: ${join(dir, 'index.html')}`);
    // Not a TTY: plain progress lines on stderr, ending with the verdict.
    expect(first.stderr).toMatch(/demo-sgd: running \(size smoke, seeds 1,2,3\)/);
    expect(first.stderr).toMatch(/demo-sgd: 100% after/);
    expect(first.stderr).toMatch(/demo-sgd: (REPRODUCED|NOT REPRODUCED|INCONCLUSIVE) in/);
    expect(first.stderr).not.toContain('\r');
    for (const f of ['results.json', 'training-loss.csv', 'training-loss.svg', 'mean-training-loss.csv', 'mean-training-loss.svg', 'runs.csv']) {
      expect(statSync(join(dir, 'demo-sgd', f)).size, f).toBeGreaterThan(0);
    }
  });

  it('results.json parses, validates and records the run', () => {
    const r = parseResults(readFileSync(join(dir, 'demo-sgd', 'results.json'), 'utf8'));
    expect(r.preset).toBe('demo-sgd');
    expect(r.size).toBe('smoke');
    expect(r.seeds).toEqual([1, 2, 3]);
    expect(r.versions.gradscope).toBe(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version);
    expect(r.versions.node).toBe(process.version);
    expect(r.versions.backend).toMatch(/^gradscope-(wasm|cpu)$/);
    expect(Number.isNaN(Date.parse(r.date))).toBe(false);
    expect(r.result.runs).toHaveLength(6);
    expect(r.result.verdict).toBe('REPRODUCED');
    expect(Object.values(r.result.checks).every(Boolean)).toBe(true);
    expect(r.result.plots.map((p) => p.id)).toEqual(['training-loss', 'mean-training-loss']);
  });

  it('index.html is self-contained and shows claim, rule, verdict, plots, numbers and runs', () => {
    const html = readFileSync(join(dir, 'index.html'), 'utf8');
    const preset = findPreset('demo-sgd')!;
    expect(html).toContain(preset.claim);
    expect(html).toContain(preset.rule.replace(/'/g, '&#39;'));
    expect(html).toMatch(/<span class="badge ok">REPRODUCED<\/span>/);
    expect((html.match(/<svg[\s>]/g) ?? []).length).toBe(2);
    expect(html).toContain('seed2-lr0.1');
    expect(html).toContain('seeds where the larger lr is lower');
    // No network: no external scripts, stylesheets or images (links to sibling files are fine).
    expect(html).not.toMatch(/<script|<link|src="http|@import|url\(http/i);
  });

  it('CSV files have the documented columns', () => {
    const csv = readFileSync(join(dir, 'demo-sgd', 'training-loss.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe('series,epoch,training cross-entropy');
    expect(csv).toHaveLength(1 + 6 * 7); // 6 runs × (initial + 6 epochs)
    expect(csv[1]).toMatch(/^"lr 0\.01, seed 1",0,\d/);
    const runs = readFileSync(join(dir, 'demo-sgd', 'runs.csv'), 'utf8').trim().split('\n');
    expect(runs[0]).toBe('id,diverged,config.seed,config.lr,config.epochs,config.batch,config.n,metric.initialLoss,metric.finalLoss');
    expect(runs).toHaveLength(7);
  });

  it('a rerun skips the complete preset and leaves results.json untouched', () => {
    const path = join(dir, 'demo-sgd', 'results.json');
    const before = readFileSync(path, 'utf8');
    const mtime = statSync(path).mtimeMs;
    const again = cli('run', 'demo-sgd', '--out', dir);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/demo-sgd: skipped — complete results already in/);
    expect(again.stdout).toMatch(/ran 0, skipped 1/);
    expect(readFileSync(path, 'utf8')).toBe(before);
    expect(statSync(path).mtimeMs).toBe(mtime);
  });

  it('report rebuilds identical HTML, CSV and SVG from results.json alone', () => {
    const names = ['index.html', 'demo-sgd/training-loss.csv', 'demo-sgd/training-loss.svg', 'demo-sgd/runs.csv'];
    const before = names.map((n) => readFileSync(join(dir, n), 'utf8'));
    for (const n of names) rmSync(join(dir, n));
    const r = cli('report', dir);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`report: ${join(dir, 'index.html')}`);
    expect(names.map((n) => readFileSync(join(dir, n), 'utf8'))).toEqual(before);
  });

  it('--workers 2 runs the grid in worker threads with results identical to one thread', () => {
    const other = mkdtempSync(join(tmpdir(), 'gradscope-workers-'));
    try {
      const r = cli('run', 'demo-sgd', '--out', other, '--workers', '2', '--backend', 'cpu', '--quiet');
      expect(r.status, r.stderr).toBe(0);
      const one = parseResults(readFileSync(join(dir, 'demo-sgd', 'results.json'), 'utf8')).result;
      const two = parseResults(readFileSync(join(other, 'demo-sgd', 'results.json'), 'utf8')).result;
      expect(two.runs).toEqual(one.runs);
      expect(two.plots).toEqual(one.plots);
      expect(two.verdict).toBe(one.verdict);
      // demo-sgd is float64, which every backend computes with the same pure-TypeScript kernels.
      expect(parseResults(readFileSync(join(other, 'demo-sgd', 'results.json'), 'utf8')).versions.backend).toBe('gradscope-cpu');
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
    expect(cli('run', 'demo-sgd', '--out', dir, '--workers', '0').stderr).toMatch(/--workers must be an integer from 1 to 64; got '0'/);
    const bad = cli('run', 'demo-sgd', '--out', dir, '--backend', 'nope');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/unknown backend 'nope'; known backends: cpu, wasm, gpu/);
  });

  it('--quiet prints no progress', () => {
    const r = cli('run', 'demo-sgd', '--out', dir, '--quiet');
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
  });

  it('list shows every preset on one line, and tour', () => {
    const r = cli('list');
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(PRESETS.length + 1);
    for (const p of PRESETS) expect(lines.some((l) => l.startsWith(p.name) && l.includes(p.claim))).toBe(true);
    expect(lines.at(-1)).toMatch(/^tour\s/);
  });

  it('rejects a bad preset name, size or seeds clearly with exit code 2', () => {
    const bad = cli('run', 'no-such-preset', '--out', dir);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/unknown preset 'no-such-preset'; known presets: variance-ratio, locking, streaming-svrg, convergence, lr-batch-ratio, quadratic-sums, stability, bp-svrg, demo-sgd/);
    expect(cli('run', 'demo-sgd', '--size', 'huge', '--out', dir).stderr).toMatch(/--size must be smoke or full/);
    expect(cli('run', 'demo-sgd', '--seeds', '1,x', '--out', dir).status).toBe(2);
    expect(cli('run', 'tour', '--size', 'full', '--out', dir).status).toBe(2);
    const missing = cli('report', join(dir, 'nowhere'));
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/does not exist/);
  });
});

describe('report order', () => {
  it('lists registered presets in gradscope list order, then other folders by name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gradscope-order-'));
    try {
      for (const name of ['zzz', 'demo-sgd', 'bp-svrg', 'aaa', 'variance-ratio']) {
        mkdirSync(join(dir, name));
        writeFileSync(join(dir, name, 'results.json'), '{}');
      }
      mkdirSync(join(dir, 'no-results'));
      expect(findResults(dir).map((p) => basename(dirname(p)))).toEqual(['variance-ratio', 'bp-svrg', 'demo-sgd', 'aaa', 'zzz']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('task pools', () => {
  const double = (x: number) => 2 * x;
  const preset: Preset = { name: 'pool-toy', paper: 'none', claim: 'c', rule: 'r', seeds: [1], tasks: { double }, run: () => Promise.reject(new Error('unused')) };

  it('the in-thread pool keeps input order and reports each output', async () => {
    const seen: [number, number][] = [];
    expect(await inlinePool().map<number, number>(preset, 'double', [1, 2, 3], (i, out) => seen.push([i, out]))).toEqual([2, 4, 6]);
    expect(seen).toEqual([[0, 2], [1, 4], [2, 6]]);
  });

  it('task outputs survive a JSON round trip exactly (NaN, ±Infinity, typed arrays)', () => {
    const output = { loss: [1, Number.NaN, -Infinity], w: Float64Array.of(0.1, Number.NaN), f: Float32Array.of(1.5), ok: true };
    expect(decodeOutput(encodeOutput(output))).toEqual(output);
    expect(taskKey('t', { seed: 1 })).not.toBe(taskKey('t', { seed: 2 }));
    expect(taskKey('t', { seed: 1 })).toBe(taskKey('t', { seed: 1 }));
  });

  it('an interrupted preset resumes: finished tasks are not run again, and their files go once results.json is written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gradscope-resume-'));
    try {
      const calls: number[] = [];
      let interrupt = true;
      const grid: Preset = {
        name: 'grid-toy',
        paper: 'none',
        claim: 'c',
        rule: 'r',
        seeds: [1],
        tasks: {
          point: (x: number) => {
            if (x === 3 && interrupt) throw new Error('interrupted');
            calls.push(x);
            return { x, y: x === 2 ? Number.NaN : x * x };
          },
        },
        async run(ctx) {
          const out = await ctx.map<number, { x: number; y: number }>('point', [1, 2, 3, 4]);
          return {
            preset: 'grid-toy',
            size: ctx.size,
            verdict: 'INCONCLUSIVE',
            verdictDetail: 'd',
            numbers: {},
            plots: [{ id: 'p', title: 't', xLabel: 'x', yLabel: 'y', series: [{ label: 'a', x: out.map((o) => o.x), y: out.map((o) => o.y) }] }],
            runs: [],
            checks: {},
          };
        },
      };
      await expect(runPresets({ presets: [grid], size: 'smoke', out: dir })).rejects.toThrow(/interrupted/);
      expect(calls).toEqual([1, 2]);
      interrupt = false;
      await runPresets({ presets: [grid], size: 'smoke', out: dir });
      expect(calls).toEqual([1, 2, 3, 4]); // 1 and 2 came from their saved outputs
      const r = parseResults(readFileSync(join(dir, 'grid-toy', 'results.json'), 'utf8'));
      expect(r.result.plots[0]!.series[0]!.y).toEqual([1, Number.NaN, 9, 16]);
      expect(existsSync(join(dir, 'grid-toy', 'tasks'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an unknown task is named with the known ones', async () => {
    await expect(inlinePool().map(preset, 'triple', [1])).rejects.toThrow(/preset 'pool-toy' has no task 'triple'; its tasks: double/);
    expect(() => workerPool(1)).toThrow(/at least 2 workers/);
  });

  it('a worker pool runs a registered preset task, and a failing task rejects with its message', async () => {
    // From TypeScript sources there is no JavaScript worker script: use the built one (npm test builds first).
    const pool = workerPool(2, { script: new URL('../../packages/lab/dist/experiments/task-worker.js', import.meta.url) });
    try {
      const demo = findPreset('demo-sgd')!;
      const inputs = [{ seed: 1, lr: 0.1, size: 'smoke' }, { seed: 2, lr: 0.01, size: 'smoke' }, { seed: 3, lr: 0.1, size: 'smoke' }];
      const here = await inlinePool().map<object, number[]>(demo, 'train', inputs);
      expect(await pool.map<object, number[]>(demo, 'train', inputs)).toEqual(here);
      await expect(pool.map(demo, 'train', [{ seed: 1, lr: 0.1, size: 'huge' }])).rejects.toThrow(/task 'train' of preset 'demo-sgd' failed in a worker/);
    } finally {
      await pool.close();
    }
  });
});

describe('runner (in process)', () => {
  const toy = (calls: { n: number }): Preset => ({
    name: 'toy',
    paper: 'none',
    claim: 'c',
    rule: 'r',
    seeds: [1],
    run: (ctx) => {
      calls.n++;
      ctx.progress(0.5, 'half');
      return {
        preset: 'toy',
        size: ctx.size,
        verdict: 'INCONCLUSIVE',
        verdictDetail: 'd',
        numbers: { inf: Infinity },
        plots: [{ id: 'p', title: 't', xLabel: 'x', yLabel: 'y', yLog: true, series: [{ label: 'a', x: [0, 1, 2], y: [1, Number.NaN, -Infinity] }] }],
        runs: [{ id: 'r1', config: { seed: ctx.seeds[0]! }, diverged: true, metrics: { loss: Number.NaN } }],
        checks: {},
      };
    },
  });

  it('round-trips non-finite numbers, reruns on other seeds or size, and reports events', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gradscope-runner-'));
    try {
      const calls = { n: 0 };
      const events: RunEvent[] = [];
      await runPresets({ presets: [toy(calls)], size: 'smoke', out: dir, onEvent: (e) => events.push(e) });
      expect(events.map((e) => e.kind)).toEqual(['start', 'progress', 'done']);
      const path = join(dir, 'toy', 'results.json');
      const r = parseResults(readFileSync(path, 'utf8'));
      expect(r.result.plots[0]!.series[0]!.y).toEqual([1, Number.NaN, -Infinity]);
      expect(r.result.numbers.inf).toBe(Infinity);
      expect(r.result.runs[0]!.metrics.loss).toBeNaN();
      expect(plotCsv(r.result.plots[0]!)).toBe('series,x,y\na,0,1\na,1,NaN\na,2,-Infinity\n');
      expect(existingResults(path, 'smoke', [1])).toBeDefined();
      expect(existingResults(path, 'smoke', [2])).toBeUndefined();
      expect(existingResults(path, 'full', [1])).toBeUndefined();
      await runPresets({ presets: [toy(calls)], size: 'smoke', out: dir });
      expect(calls.n).toBe(1);
      await runPresets({ presets: [toy(calls)], size: 'smoke', seeds: [2], out: dir });
      expect(calls.n).toBe(2);
      // A truncated or invalid file is not "complete": the preset runs again.
      writeFileSync(path, stringifyResults(r).slice(0, 100));
      await runPresets({ presets: [toy(calls)], size: 'smoke', seeds: [1], out: dir });
      expect(calls.n).toBe(3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('validation names the bad field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gradscope-runner-'));
    try {
      await runPresets({ presets: [toy({ n: 0 })], size: 'smoke', out: dir });
      const raw = JSON.parse(readFileSync(join(dir, 'toy', 'results.json'), 'utf8'));
      raw.result.plots[0].series[0].y.pop();
      expect(() => parseResults(JSON.stringify(raw), 'x.json')).toThrow(/x\.json: result\.plots\[0\]\.series\[0\] has 3 x values but 2 y values/);
      raw.result.verdict = 'MAYBE';
      expect(() => parseResults(JSON.stringify(raw))).toThrow(/result\.verdict must be one of/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('progress: a bar with ETA on a terminal, nothing when quiet', () => {
    let tty = '';
    const bar = progressReporter({ write: (t) => (tty += t), isTTY: true, columns: 200 });
    vi.useFakeTimers();
    try {
      bar({ kind: 'start', preset: 'toy', index: 0, total: 1, size: 'smoke', seeds: [1] });
      bar({ kind: 'progress', preset: 'toy', index: 0, total: 1, fraction: 0.25, message: 'quarter', elapsedSeconds: 5 });
      vi.advanceTimersByTime(5000); // the bar redraws at most a few times a second
      bar({ kind: 'progress', preset: 'toy', index: 0, total: 1, fraction: 0.5, message: 'half', elapsedSeconds: 10 });
    } finally {
      vi.useRealTimers();
    }
    expect(tty).toMatch(/\[1\/1\] toy \[#{12}-{12}\] 50% \d+s ETA \S+ {2}half/);
    bar({ kind: 'done', preset: 'toy', index: 0, total: 1, path: 'p', verdict: 'REPRODUCED', seconds: 1 });
    expect(tty).toMatch(/toy: REPRODUCED in 1s → p\n$/);
    bar.stop();
    let quiet = '';
    const q = progressReporter({ write: (t) => (quiet += t), isTTY: true }, { quiet: true });
    q({ kind: 'skip', preset: 'toy', index: 0, total: 1, path: 'p' });
    expect(quiet).toBe('');
  });

  it('parses --seeds', () => {
    expect(parseSeeds('1,2, 3')).toEqual([1, 2, 3]);
    expect(() => parseSeeds('1,,2')).toThrow(/--seeds/);
    expect(() => parseSeeds('1,1')).toThrow(/twice/);
  });
});
