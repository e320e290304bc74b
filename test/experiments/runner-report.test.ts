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
import { RESULTS_FORMAT, existingResults, parseResults, runPresets, stringifyResults } from '../../packages/lab/src/experiments/runner.js';
import type { ResultsFile, RunEvent } from '../../packages/lab/src/experiments/runner.js';
import { compile } from 'vega-lite';
import { plotCsv } from '../../packages/lab/src/cli/report/csv.js';
import { claimTable, formatP, reportHtml } from '../../packages/lab/src/cli/report/html.js';
import { plotSpec, plotSvg } from '../../packages/lab/src/cli/report/plot.js';
import { findResults } from '../../packages/lab/src/cli/report/index.js';
import { progressReporter } from '../../packages/lab/src/cli/commands/progress.js';
import { parseDataDir, parseMaxSteps, parseSeeds, parseSize } from '../../packages/lab/src/cli/commands/run.js';
import type { Plot, Preset, PresetResult, RunContext, Size } from '../../packages/lab/src/experiments/preset.js';
import { decodeOutput, encodeOutput, taskKey } from '../../packages/lab/src/experiments/task-cache.js';
import { inlinePool, workerPool } from '../../packages/lab/src/experiments/task-pool.js';
import { claimPart, judged } from './fixtures/judged.js';

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
    for (const f of ['results.json', 'training-loss.csv', 'training-loss.svg', 'runs.csv', 'claims.csv']) {
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
    expect(r.result.plots.map((p) => p.id)).toEqual(['training-loss']);
    expect(r.result.claims.map((c) => [c.id, c.verdict])).toEqual([['larger-lr-lower-loss', 'REPRODUCED']]);
  });

  it('index.html is self-contained and shows claim, rule, verdict, plots, numbers and runs', () => {
    const html = readFileSync(join(dir, 'index.html'), 'utf8');
    const preset = findPreset('demo-sgd')!;
    expect(html).toContain(preset.claim);
    expect(html).toContain(preset.rule.replace(/'/g, '&#39;'));
    expect(html).toMatch(/<span class="badge ok">REPRODUCED<\/span>/);
    expect((html.match(/<svg[\s>]/g) ?? []).length).toBe(1);
    expect(html).toContain('seed2-lr0.1');
    expect(html).toContain('seed 1: final loss lr 0.01');
    expect(html).toContain('<tr class="part ok" id="part-larger-lr-lower-loss">');
    // No network: no external scripts, stylesheets or images (links to sibling files are fine).
    expect(html).not.toMatch(/<script|<link|src="http|@import|url\(http/i);
  });

  it('CSV files have the documented columns', () => {
    const csv = readFileSync(join(dir, 'demo-sgd', 'training-loss.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe('series,epoch,training cross-entropy');
    // 2 mean curves × (initial + 6 epochs), then 2 × 3 per-seed final losses as points.
    expect(csv).toHaveLength(1 + 2 * 7 + 2 * 3);
    expect(csv[1]).toMatch(/^lr 0\.01 \(mean over seeds\),0,\d/);
    expect(csv[15]).toMatch(/^"lr 0\.01, each seed's final loss",6,\d/);
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
    const names = ['index.html', 'demo-sgd/training-loss.csv', 'demo-sgd/training-loss.svg', 'demo-sgd/runs.csv', 'demo-sgd/claims.csv'];
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
    expect(cli('run', 'demo-sgd', '--size', 'huge', '--out', dir).stderr).toMatch(/--size must be smoke, full or paper; got 'huge'/);
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
            ...judged(),
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
        ...judged(),
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

describe('run flags of issue 19: --size paper, --data, --max-steps', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'gradscope-flags-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('--size paper of a preset without a paper configuration fails by name (exit 2), writing no results', () => {
    const out = join(dir, 'paper');
    const r = cli('run', 'demo-sgd', '--size', 'paper', '--out', out);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("run: preset 'demo-sgd' declares no paper-size configuration");
    expect(r.stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
    expect(existsSync(join(out, 'demo-sgd', 'results.json'))).toBe(false);
    const tour = cli('run', 'tour', '--size', 'paper', '--out', out);
    expect(tour.status).toBe(2);
    expect(tour.stderr).toMatch(/'tour' runs every paper preset at smoke size; run one preset for --size paper/);
  });

  it('--data must be an existing directory and --max-steps a positive integer, checked before anything runs', () => {
    const out = join(dir, 'refused');
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    const missing = cli('run', 'demo-sgd', '--data', join(dir, 'nowhere'), '--out', out);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/run: --data directory '.*nowhere' does not exist/);
    const notDir = cli('run', 'demo-sgd', '--data', file, '--out', out);
    expect(notDir.stderr).toMatch(/run: --data '.*a-file' is not a directory/);
    const zero = cli('run', 'demo-sgd', '--max-steps', '0', '--out', out);
    expect(zero.status).toBe(2);
    expect(zero.stderr).toMatch(/run: --max-steps must be a positive integer, e.g\. 2; got '0'/);
    expect(existsSync(out)).toBe(false); // refused before --out was even created
  });

  it('records --data and --max-steps in results.json and on the page; they never stand in for a plain run', () => {
    const out = join(dir, 'limited');
    const data = mkdtempSync(join(dir, 'data-'));
    const limited = cli('run', 'demo-sgd', '--data', data, '--max-steps', '2', '--out', out, '--quiet');
    expect(limited.status, limited.stderr).toBe(0);
    const path = join(out, 'demo-sgd', 'results.json');
    const r = parseResults(readFileSync(path, 'utf8'));
    expect(r.dataDir).toBe(data);
    expect(r.maxSteps).toBe(2);
    const html = readFileSync(join(out, 'index.html'), 'utf8');
    expect(html).toMatch(/<p class="banner limited" role="note"><strong>This preset ran with --max-steps\.<\/strong>/);
    expect(html).toContain('its verdicts are not the preset&#39;s');
    expect(html).toContain(`, data ${data}, at most 2 steps per training run (--max-steps)`);
    // The engine the CLI computed with (this test process may select another backend).
    const engine = r.versions.engine;
    expect(existingResults(path, 'smoke', [1, 2, 3], engine, { dataDir: data, maxSteps: 2 })).toBeDefined();
    expect(existingResults(path, 'smoke', [1, 2, 3], engine)).toBeUndefined();
    expect(existingResults(path, 'smoke', [1, 2, 3], engine, { dataDir: data, maxSteps: 3 })).toBeUndefined();
    expect(existingResults(path, 'smoke', [1, 2, 3], engine, { maxSteps: 2 })).toBeUndefined();
    // The same flags skip; without them the preset runs again, and the page loses the banner.
    expect(cli('run', 'demo-sgd', '--data', data, '--max-steps', '2', '--out', out).stdout).toMatch(/ran 0, skipped 1/);
    const plain = cli('run', 'demo-sgd', '--out', out);
    expect(plain.stdout).toMatch(/ran 1, skipped 0/);
    expect(parseResults(readFileSync(path, 'utf8')).maxSteps).toBeUndefined();
    expect(readFileSync(join(out, 'index.html'), 'utf8')).not.toContain('banner limited');
  });

  it('runPresets hands --data and --max-steps to the preset and records them', async () => {
    const out = join(dir, 'in-process');
    const seen: Pick<RunContext, 'dataDir' | 'maxSteps'>[] = [];
    const preset: Preset = {
      name: 'toy',
      paper: 'none',
      claim: 'c',
      rule: 'r',
      seeds: [1],
      run: (ctx) => {
        seen.push({ dataDir: ctx.dataDir, maxSteps: ctx.maxSteps });
        return resultsFile({}, ctx.size).result;
      },
    };
    await runPresets({ presets: [preset], size: 'full', out, dataDir: dir, maxSteps: 3 });
    await runPresets({ presets: [preset], size: 'full', out }); // not skipped: no step limit now
    expect(seen).toEqual([{ dataDir: dir, maxSteps: 3 }, { dataDir: undefined, maxSteps: undefined }]);
    const r = parseResults(readFileSync(join(out, 'toy', 'results.json'), 'utf8'));
    expect('maxSteps' in r || 'dataDir' in r).toBe(false);
  });

  it('parses the flags strictly', () => {
    expect(parseSize(undefined)).toBe('smoke');
    expect(parseSize('paper')).toBe('paper');
    expect(() => parseSize('Paper')).toThrow(/--size must be smoke, full or paper; got 'Paper'/);
    expect(parseMaxSteps(undefined)).toBeUndefined();
    expect(parseMaxSteps('2')).toBe(2);
    for (const bad of ['0', '-1', '1e2', '2.5', '02', '', 'x']) {
      expect(() => parseMaxSteps(bad), bad).toThrow(/--max-steps must be/);
    }
    expect(parseDataDir(undefined)).toBeUndefined();
    expect(parseDataDir(dir)).toBe(dir);
    expect(() => parseDataDir('')).toThrow(/--data needs a directory; got ''/);
  });

  it('results.json validates dataDir and maxSteps when present', () => {
    const base = JSON.parse(stringifyResults(resultsFile()));
    const parse = (extra: object) => parseResults(JSON.stringify({ ...base, ...extra }));
    expect(parse({ maxSteps: 2, dataDir: '/d' })).toMatchObject({ maxSteps: 2, dataDir: '/d' });
    expect(() => parse({ maxSteps: 0 })).toThrow(/maxSteps must be a positive integer; got 0/);
    expect(() => parse({ maxSteps: 1.5 })).toThrow(/maxSteps must be a positive integer/);
    expect(() => parse({ dataDir: 3 })).toThrow(/dataDir must be a string/);
  });
});

/** A valid format-2 results file of a toy preset; `result` overrides parts of its result. */
function resultsFile(result: Partial<PresetResult> = {}, size: Size = 'full'): ResultsFile {
  return {
    format: RESULTS_FORMAT,
    preset: 'toy',
    paper: 'A paper',
    claim: 'a claim',
    rule: 'a rule',
    size,
    seeds: [1, 2, 3],
    versions: { gradscope: '0.0.0', node: process.version },
    date: '2025-01-01T00:00:00.000Z',
    durationSeconds: 1,
    complete: true,
    result: {
      ...{ preset: 'toy', size, verdict: 'INCONCLUSIVE', verdictDetail: 'd', ...judged() },
      ...{ numbers: {}, plots: [], runs: [], checks: {}, ...result },
    },
  };
}

describe('results format 2', () => {
  it('requires the judged fields and refuses files of format 1 (rerun them)', () => {
    const base = JSON.parse(stringifyResults(resultsFile()));
    expect(() => parseResults(JSON.stringify({ ...base, format: 'gradscope-results/1' }))).toThrow(
      /format must be 'gradscope-results\/2'; got "gradscope-results\/1" \(written before claim parts were judged/,
    );
    for (const field of ['claims', 'alpha', 'budget', 'scaleDown']) {
      const { [field]: _gone, ...rest } = base.result;
      const missing = new RegExp(`result\\.${field} must be`);
      expect(() => parseResults(JSON.stringify({ ...base, result: rest })), field).toThrow(missing);
    }
    const badPart = { ...base, result: { ...base.result, claims: [{ ...base.result.claims[0], interval: [1] }] } };
    const oneEnd = /result\.claims\[0\]\.interval must be \[lower, upper\]; got 1 values/;
    expect(() => parseResults(JSON.stringify(badPart))).toThrow(oneEnd);
    const badVerdict = { ...base, result: { ...base.result, claims: [{ ...base.result.claims[0], verdict: 'YES' }] } };
    expect(() => parseResults(JSON.stringify(badVerdict))).toThrow(/result\.claims\[0\]\.verdict must be one of/);
  });

  it('bands must have one lower and upper value per x; style is line or points; at most 10 series', () => {
    const series = (extra: object) => ({ label: 's', x: [0, 1], y: [1, 2], ...extra });
    const withSeries = (...s: object[]) => {
      const plot = { id: 'p', title: 't', xLabel: 'x', yLabel: 'y', series: s };
      const base = JSON.parse(stringifyResults(resultsFile()));
      return JSON.stringify({ ...base, result: { ...base.result, plots: [plot] } });
    };
    const banded = parseResults(withSeries(series({ band: { lower: [0, 1], upper: [2, 3] }, style: 'line' })));
    expect(banded.result.plots[0]!.series[0]!.band).toEqual({ lower: [0, 1], upper: [2, 3] });
    const short = withSeries(series({ band: { lower: [0], upper: [2, 3] } }));
    expect(() => parseResults(short)).toThrow(/band must have 2 lower and upper values, one per x/);
    expect(() => parseResults(withSeries(series({ style: 'bars' })))).toThrow(/style must be 'line' or 'points'/);
    const eleven = Array.from({ length: 11 }, (_, i) => series({ label: `s${i}` }));
    expect(() => parseResults(withSeries(...eleven))).toThrow(/has 11 series; a plot may have at most 10/);
  });
});

describe('report: the claim-part table', () => {
  const parts = [
    claimPart({ id: 'up', verdict: 'REPRODUCED', effect: 1.23456, interval: [0.5, 1.9], p: 0.0012 }),
    claimPart({ id: 'down', verdict: 'NOT REPRODUCED', effect: -0.00012345, interval: [-0.0002, -0.00005], p: 3.2e-7 }),
    claimPart({
      id: 'same',
      verdict: 'INCONCLUSIVE',
      claim: 'Equal <accuracy> & "loss"',
      test: 'TOST, margin ±0.5, n = 10',
      p: 0.31,
      n: 10,
    }),
  ];
  const verdictDetail = 'Not reproduced: down goes against the paper.';
  const page = () =>
    reportHtml([
      { results: resultsFile({ claims: parts, verdict: 'NOT REPRODUCED', verdictDetail }), svgs: new Map() },
    ]);

  it('one row per part with effect, interval and its level, p, α, n, verdict, test and detail, in order', () => {
    const html = page();
    const rows = [...html.matchAll(/<tr class="part (\w+)" id="part-([\w-]+)">([\s\S]*?)<\/tr>/g)];
    expect(rows.map((m) => [m[1], m[2]])).toEqual([['ok', 'up'], ['bad', 'down'], ['meh', 'same']]);
    const cells = (i: number) => [...rows[i]![3]!.matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((m) => m[1]);
    expect(cells(0)).toEqual([
      '<strong>up</strong><br>The toy claims something.',
      '1.23<br><span class="unit">A − B (units)</span>',
      '[0.5, 1.9]<br><span class="unit">95 %</span>',
      '0.0012',
      '0.05',
      '3',
      '<span class="badge ok">REPRODUCED</span>',
      'paired t-test, n = 3, two-sided, H₀: effect = 0, claim: effect &gt; 0' +
        '<br><span class="detail">A toy reading.</span>',
    ]);
    expect(cells(1).slice(1, 4)).toEqual([
      '-1.23e-4<br><span class="unit">A − B (units)</span>',
      '[-2.00e-4, -5.00e-5]<br><span class="unit">95 %</span>',
      '3.2e-7',
    ]);
    // An equivalence part shows TOST's 90 % interval; text is escaped.
    expect(cells(2)[2]).toContain('<span class="unit">90 %</span>');
    expect(cells(2)[0]).toContain('Equal &lt;accuracy&gt; &amp; &quot;loss&quot;');
  });

  it('the verdict from the parts follows the table; the summary counts the parts', () => {
    const html = page();
    expect(html.indexOf('<table class="claims">')).toBeLessThan(html.indexOf('<dt>Verdict from the parts</dt>'));
    expect(html).toContain('<h3>Claim parts (each judged at α = 0.05)</h3>');
    expect(html).toContain(`<span class="badge bad">NOT REPRODUCED</span> ${verdictDetail}`);
    expect(html).toContain('<td>1 reproduced, 1 not reproduced, 1 inconclusive</td>');
    expect(formatP(0.04999)).toBe('0.05');
    expect(formatP(0.00004)).toBe('4.0e-5');
    expect(formatP(0)).toBe('0');
  });

  it('shows what ran and what the scale-down changes; at paper size, that nothing is scaled down', () => {
    const scaled = resultsFile({ budget: 'LeNet-5, 3 epochs.', scaleDown: 'MNIST 2k, not CIFAR-10.' });
    const full = reportHtml([{ results: scaled, svgs: new Map() }]);
    expect(full).toContain('<dt>What ran</dt><dd class="budget">LeNet-5, 3 epochs.</dd>');
    expect(full).toContain('<dd class="scale-down">MNIST 2k, not CIFAR-10.</dd>');
    const paper = reportHtml([{ results: resultsFile({ scaleDown: '' }, 'paper'), svgs: new Map() }]);
    expect(paper).toContain('<dd class="scale-down">Nothing: this is the paper-size configuration.</dd>');
    const none = reportHtml([{ results: resultsFile({ scaleDown: '' }), svgs: new Map() }]);
    expect(none).not.toContain('scale-down');
    expect(claimTable([])).toContain('<tbody>\n\n</tbody>');
  });
});

describe('report: bands and per-seed points', () => {
  const plot: Plot = {
    id: 'p',
    title: 'loss',
    xLabel: 'epoch',
    yLabel: 'loss',
    yLog: true,
    series: [
      {
        label: 'SGD (mean, 95 % CI)',
        x: [0, 1, 2],
        y: [2, 1, 0.5],
        band: { lower: [1.5, 0.8, 0.3], upper: [2.5, 1.2, Number.NaN] },
      },
      { label: 'SVRG (mean)', x: [0, 1, 2], y: [2, 0.9, -1] },
      { label: 'SGD, each seed', x: [2, 2, 2], y: [0.4, 0.5, 0.6], style: 'points' },
    ],
  };
  type Layer = {
    mark: { type: string; filled?: boolean };
    data: { values: Record<string, unknown>[] };
    encoding: Record<string, { field?: string }>;
  };
  const layers = () => (plotSpec(plot) as unknown as { layer: Layer[] }).layer;

  it('a shaded area for each band, a line for line series, unjoined marks for point series', () => {
    const [area, line, point] = layers();
    expect(layers().map((l) => l.mark.type)).toEqual(['area', 'line', 'point']);
    expect(area!.encoding.y!.field).toBe('lower');
    expect(area!.encoding.y2!.field).toBe('upper');
    // The band's NaN end is left out; so is the log axis's non-positive value.
    expect(area!.data.values).toEqual([
      { series: 'SGD (mean, 95 % CI)', x: 0, lower: 1.5, upper: 2.5 },
      { series: 'SGD (mean, 95 % CI)', x: 1, lower: 0.8, upper: 1.2 },
    ]);
    const sgd = 'SGD (mean, 95 % CI)';
    expect(line!.data.values.map((v) => v.series)).toEqual([sgd, sgd, sgd, 'SVRG (mean)', 'SVRG (mean)']);
    expect(point!.data.values.map((v) => v.y)).toEqual([0.4, 0.5, 0.6]);
    expect(point!.mark.filled).toBe(false);
    expect(point!.encoding).not.toHaveProperty('order'); // points are never joined, so no order
  });

  it('a series keeps its colour in every layer (one domain, in series order)', () => {
    const labels = plot.series.map((s) => s.label);
    for (const layer of layers()) {
      expect((layer.encoding.color as { scale: { domain: string[] } }).scale.domain).toEqual(labels);
    }
  });

  it("a point series' band is drawn as error bars, not shaded", () => {
    const estimates: Plot = {
      ...plot,
      series: [
        {
          label: 'effect per η',
          x: [1, 2],
          y: [0.5, 0.7],
          style: 'points',
          band: { lower: [0.2, 0.6], upper: [0.8, 1] },
        },
      ],
    };
    const spec = plotSpec(estimates) as unknown as { layer: Layer[] };
    expect(spec.layer.map((l) => l.mark.type)).toEqual(['rule', 'point']);
    expect(spec.layer[0]!.data.values).toEqual([
      { series: 'effect per η', x: 1, lower: 0.2, upper: 0.8 },
      { series: 'effect per η', x: 2, lower: 0.6, upper: 1 },
    ]);
  });

  it('compiles without Vega-Lite warnings and draws the area, the lines and the marks', async () => {
    const warnings: unknown[] = [];
    const quiet = () => logger;
    const warn = (...m: unknown[]) => (warnings.push(m), logger);
    const logger = { level: quiet, warn, info: quiet, debug: quiet, error: quiet };
    const barred = { ...plot.series[2]!, band: { lower: [0.3, 0.4, 0.5], upper: [0.5, 0.6, 0.7] } };
    const empty = { label: 'none', x: [1], y: [Number.NaN] };
    for (const series of [plot.series, [plot.series[2]!], [barred], [empty]]) {
      compile(plotSpec({ ...plot, series }), { logger: logger as never });
    }
    expect(warnings).toEqual([]);
    const svg = await plotSvg(plot);
    expect(svg).toMatch(/aria-roledescription="area mark"[^>]*fill-opacity="0\.2"/);
    expect((svg.match(/aria-roledescription="line mark"/g) ?? []).length).toBe(2);
    const seedMarks = svg.match(/series: SGD, each seed" role="graphics-symbol" aria-roledescription="point"/g) ?? [];
    expect(seedMarks.length).toBe(3);
  });

  it('the CSV gains band columns, empty for series without a band', () => {
    const csv = plotCsv(plot).trim().split('\n');
    expect(csv[0]).toBe('series,epoch,loss,band lower,band upper');
    expect(csv[1]).toBe('"SGD (mean, 95 % CI)",0,2,1.5,2.5');
    expect(csv[3]).toBe('"SGD (mean, 95 % CI)",2,0.5,0.3,NaN');
    expect(csv[4]).toBe('SVRG (mean),0,2,,');
    expect(csv[7]).toBe('"SGD, each seed",2,0.4,,');
  });
});
