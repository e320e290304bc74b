/**
 * Issue 14, the runner's reliability items: saved task outputs are integrity-checked (D1), skip
 * and resume only reuse numbers from the same engine (D12), a worker that exits or a task that
 * never ends fails the run by name instead of hanging it (D3), and the out folder is locked,
 * validated up front, and safe from plot ids that collide with the report's files; integer
 * flags are plain decimal (D13–D21).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { parseSeeds, parseTaskTimeout, parseWorkers } from '../../packages/lab/src/cli/commands/run.js';
import { engineSettings } from '../../packages/lab/src/experiments/engine-settings.js';
import { LOCK_FILE } from '../../packages/lab/src/experiments/out-lock.js';
import type { Preset, PresetResult } from '../../packages/lab/src/experiments/preset.js';
import { existingResults, parseResults, runPresets, type RunEvent } from '../../packages/lab/src/experiments/runner.js';
import { taskPool, workerPool } from '../../packages/lab/src/experiments/task-pool.js';
import { currentBackendInfo, useBackend } from '../../src/kernels/registry.js';
import { judged } from './fixtures/judged.js';

const tmp = mkdtempSync(join(tmpdir(), 'gradscope-reliability-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let count = 0;
const freshDir = () => join(tmp, `out-${count++}`);

/** A grid preset over [1, 2, 3, 4] whose task can be told to fail at 3 (an interruption). */
function grid(calls: number[], control: { interrupt: boolean; plotId?: string }): Preset {
  return {
    name: 'grid-toy',
    paper: 'none',
    claim: 'c',
    rule: 'r',
    seeds: [1],
    tasks: {
      point: (x: number) => {
        if (x === 3 && control.interrupt) throw new Error('interrupted');
        calls.push(x);
        return { x, y: x === 2 ? Number.NaN : x * x + 0.123456789 };
      },
    },
    async run(ctx): Promise<PresetResult> {
      const out = await ctx.map<number, { x: number; y: number }>('point', [1, 2, 3, 4]);
      return {
        preset: 'grid-toy',
        size: ctx.size,
        verdict: 'INCONCLUSIVE',
        verdictDetail: 'd',
        ...judged(),
        numbers: {},
        plots: [{ id: control.plotId ?? 'p', title: 't', xLabel: 'x', yLabel: 'y', series: [{ label: 'a', x: out.map((o) => o.x), y: out.map((o) => o.y) }] }],
        runs: [],
        checks: {},
      };
    },
  };
}

/**
 * A grid run interrupted at x = 3 in a fresh --out, and how to resume it: the first run has
 * saved the outputs of x = 1 and 2; `resume()` runs again with the interruption off and
 * returns the warnings it reported.
 */
async function interruptedRun(): Promise<{ out: string; calls: number[]; resume: () => Promise<string[]> }> {
  const out = freshDir();
  const calls: number[] = [];
  const control = { interrupt: true };
  await expect(runPresets({ presets: [grid(calls, control)], size: 'smoke', out })).rejects.toThrow(/interrupted/);
  const resume = async () => {
    control.interrupt = false;
    const events: RunEvent[] = [];
    await runPresets({ presets: [grid(calls, control)], size: 'smoke', out, onEvent: (e) => events.push(e) });
    return events.flatMap((e) => (e.kind === 'warning' ? [e.message] : []));
  };
  return { out, calls, resume };
}

const yOf = (out: string) => parseResults(readFileSync(join(out, 'grid-toy', 'results.json'), 'utf8')).result.plots[0]!.series[0]!.y;
const EXPECTED_Y = [1.123456789, Number.NaN, 9.123456789, 16.123456789];

describe('saved task outputs are integrity-checked (D1)', () => {
  it('one digit changed in a tasks/*.json is not reused: the task runs again, with a warning naming the file', async () => {
    const { out, calls, resume } = await interruptedRun();
    const tasks = join(out, 'grid-toy', 'tasks');
    const files = readdirSync(tasks).filter((f) => f.endsWith('.json'));
    expect(files).toHaveLength(2);
    // Change one digit of the output of x = 1 (y = 1.123456789 → 1.123456780).
    const target = files.map((f) => join(tasks, f)).find((p) => readFileSync(p, 'utf8').includes('1.123456789'))!;
    writeFileSync(target, readFileSync(target, 'utf8').replace('1.123456789', '1.123456780'));
    const warnings = await resume();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(target);
    expect(warnings[0]).toMatch(/not reusing a saved output of task 'point' of preset 'grid-toy', running it again: .*the content is corrupt/);
    expect(calls).toEqual([1, 2, 1, 3, 4]); // 2 came from its intact file; 1 ran again
    expect(yOf(out)).toEqual(EXPECTED_Y);
  });

  it('a truncated or foreign file in tasks/ is run again too', async () => {
    const { out, calls, resume } = await interruptedRun();
    const tasks = join(out, 'grid-toy', 'tasks');
    const [a, b] = readdirSync(tasks).map((f) => join(tasks, f));
    writeFileSync(a!, readFileSync(a!, 'utf8').slice(0, 40));
    writeFileSync(b!, JSON.stringify({ output: { x: 2, y: 5 } })); // the unchecked format of before
    expect(await resume()).toHaveLength(2);
    expect([...calls].sort()).toEqual([1, 1, 2, 2, 3, 4]);
    expect(yOf(out)).toEqual(EXPECTED_Y);
  });
});

describe('skip and resume respect the engine (D12)', () => {
  const original = currentBackendInfo().name;
  afterEach(async () => {
    await useBackend(original);
  });
  /** Switch to a second backend (skip where this machine has only one, e.g. GRADSCOPE_WASM=off). */
  const other = async (skip: (note: string) => never) => {
    const name = original === 'cpu' ? 'wasm' : 'cpu';
    try {
      await useBackend(name);
    } catch {
      skip(`no second backend here (${name} is unavailable)`);
    }
    return currentBackendInfo().label;
  };

  it('results.json records the engine; a complete folder from another backend is run again and relabelled', async ({ skip }) => {
    const out = freshDir();
    const calls: number[] = [];
    await runPresets({ presets: [grid(calls, { interrupt: false })], size: 'smoke', out });
    const path = join(out, 'grid-toy', 'results.json');
    const first = parseResults(readFileSync(path, 'utf8'));
    expect(first.versions.engine).toEqual(engineSettings());
    expect(existingResults(path, 'smoke', [1])).toBeDefined();
    const label = await other(skip);
    expect(existingResults(path, 'smoke', [1])).toBeUndefined();
    const summary = await runPresets({ presets: [grid(calls, { interrupt: false })], size: 'smoke', out });
    expect(summary.ran).toEqual(['grid-toy']);
    expect(calls).toEqual([1, 2, 3, 4, 1, 2, 3, 4]);
    expect(parseResults(readFileSync(path, 'utf8')).versions.backend).toBe(label);
    // Files from before engines were recorded are never skipped either.
    const raw = JSON.parse(readFileSync(path, 'utf8'));
    delete raw.versions.engine;
    writeFileSync(path, JSON.stringify(raw));
    expect(existingResults(path, 'smoke', [1])).toBeUndefined();
  });

  it('a run interrupted on one backend and resumed on another recomputes every task there', async ({ skip }) => {
    const firstLabel = currentBackendInfo().label;
    const { out, calls, resume } = await interruptedRun();
    const label = await other(skip);
    const warnings = await resume();
    expect(calls).toEqual([1, 2, 1, 2, 3, 4]);
    expect(warnings).toHaveLength(2);
    for (const w of warnings) expect(w).toContain(`computed with ${firstLabel}`);
    expect(parseResults(readFileSync(join(out, 'grid-toy', 'results.json'), 'utf8')).versions.backend).toBe(label);
  });
});

describe('worker faults fail the task by name instead of hanging (D3)', () => {
  const script = new URL('./fixtures/faulty-worker.mjs', import.meta.url);
  const preset: Preset = { name: 'faulty', paper: 'none', claim: 'c', rule: 'r', seeds: [1], tasks: { job: (x: never) => x }, run: () => Promise.reject(new Error('unused')) };
  const ok = (value: number) => ({ mode: 'ok', value });

  it('a worker that calls process.exit() mid-task rejects the map naming the task; the pool recovers', async () => {
    const pool = workerPool(2, { script });
    try {
      await expect(pool.map(preset, 'job', [ok(1), { mode: 'exit', value: 0 }, ok(3)])).rejects.toThrow(
        /run: the worker thread running task 'job' of preset 'faulty' \(input 2 of 3\) exited \(code 3\) before the task returned/,
      );
      // The dead worker is replaced at the next map.
      expect(await pool.map(preset, 'job', [ok(1), ok(2), ok(3), ok(4)])).toEqual([2, 4, 6, 8]);
    } finally {
      await pool.close();
    }
  }, 20_000);

  it('an endless task is stopped by the task timeout, named, with any number of workers', async () => {
    for (const workers of [1, 2]) {
      const pool = taskPool(workers, { script, taskTimeout: 0.5 });
      expect(pool.workers).toBe(workers); // in a worker even for 1: only there can it be stopped
      try {
        const t0 = performance.now();
        await expect(pool.map(preset, 'job', [ok(1), { mode: 'hang', value: 0 }])).rejects.toThrow(
          /run: task 'job' of preset 'faulty' \(input 2 of 2\) did not finish within the task timeout of 0\.5 s; its worker thread was stopped/,
        );
        expect(performance.now() - t0).toBeLessThan(10_000);
        expect(await pool.map(preset, 'job', [ok(5)])).toEqual([10]);
      } finally {
        await pool.close();
      }
    }
  }, 30_000);

  it('a task timeout must be a positive number; --task-timeout is parsed strictly', () => {
    expect(() => workerPool(2, { script, taskTimeout: 0 })).toThrow(/task timeout must be a positive number of seconds; got 0/);
    expect(() => workerPool(1, { script })).toThrow(/at least 2 workers/);
    expect(parseTaskTimeout('600')).toBe(600);
    expect(parseTaskTimeout('0.5')).toBe(0.5);
    expect(parseTaskTimeout(undefined)).toBeUndefined();
    for (const bad of ['0', '-1', '1e3', 'abc', '', 'Infinity']) expect(() => parseTaskTimeout(bad), bad).toThrow(/--task-timeout must be a positive number/);
  });
});

describe('the out folder (D13–D21)', () => {
  it('is locked while a run uses it: a live holder is named, a dead one is taken over', async () => {
    const out = freshDir();
    mkdirSync(out, { recursive: true });
    const lock = join(out, LOCK_FILE);
    // A live holder: the process that started this test runner.
    writeFileSync(lock, JSON.stringify({ pid: process.ppid, host: hostname(), started: '2024-01-01T00:00:00.000Z' }));
    const calls: number[] = [];
    await expect(runPresets({ presets: [grid(calls, { interrupt: false })], size: 'smoke', out })).rejects.toThrow(
      new RegExp(`run: --out '.*' is in use by another gradscope run \\(pid ${process.ppid} on .*, started 2024-01-01T00:00:00.000Z\\)`),
    );
    expect(calls).toEqual([]);
    // A holder that is gone (a run killed with kill -9): its lock is stale.
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    writeFileSync(lock, JSON.stringify({ pid: dead, host: hostname(), started: '2024-01-01T00:00:00.000Z' }));
    let heldDuringRun = false;
    const preset = grid(calls, { interrupt: false });
    const run = preset.run.bind(preset);
    preset.run = (ctx) => {
      heldDuringRun = JSON.parse(readFileSync(lock, 'utf8')).pid === process.pid;
      return run(ctx);
    };
    await runPresets({ presets: [preset], size: 'smoke', out });
    expect(heldDuringRun).toBe(true);
    expect(existsSync(lock)).toBe(false); // released at the end
    expect(calls).toEqual([1, 2, 3, 4]);
  });

  it("'' and a path through a file are refused before anything runs", async () => {
    const calls: number[] = [];
    const file = join(tmp, 'a-file');
    writeFileSync(file, 'x');
    await expect(runPresets({ presets: [grid(calls, { interrupt: false })], size: 'smoke', out: '' })).rejects.toThrow(/run: --out must name a folder; got ""/);
    await expect(runPresets({ presets: [grid(calls, { interrupt: false })], size: 'smoke', out: file })).rejects.toThrow(/run: cannot use --out '.*a-file': it is a file, not a folder/);
    await expect(runPresets({ presets: [grid(calls, { interrupt: false })], size: 'smoke', out: join(file, 'sub') })).rejects.toThrow(
      /run: cannot use --out '.*a-file\/sub': a part of the path is a file, not a folder/,
    );
    expect(calls).toEqual([]);
  });

  it("a plot id that would overwrite the report's runs.csv or claims.csv is refused (any case)", async () => {
    for (const plotId of ['runs', 'RUNS', 'claims', 'Claims']) {
      const file = plotId.toLowerCase();
      await expect(runPresets({ presets: [grid([], { interrupt: false, plotId })], size: 'smoke', out: freshDir() })).rejects.toThrow(
        new RegExp(`result\\.plots\\[0\\]\\.id '${plotId}' is reserved: its CSV would overwrite the report's ${file}\\.csv`),
      );
    }
  });
});

describe('integer flags are plain decimal (D13–D21)', () => {
  it('--workers and --seeds refuse exponents, hex and other spellings', () => {
    expect(parseWorkers('4')).toBe(4);
    for (const bad of ['1e1', '0x2', '2.0', '+2', ' 2', '02', '']) expect(() => parseWorkers(bad), bad).toThrow(/--workers must be an integer from 1 to 64/);
    expect(parseSeeds('0,1, 2')).toEqual([0, 1, 2]);
    for (const bad of ['0x10', '1e2', '1.0', '-1', '+1', '0b1', '01']) expect(() => parseSeeds(bad), bad).toThrow(/--seeds must be a comma-separated list of non-negative integers/);
  });

  it('the CLI refuses --out "" and --workers 1e1 at once, with exit code 2', () => {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const cli = (...args: string[]) => spawnSync(process.execPath, ['packages/lab/bin/gradscope.js', ...args], { cwd: root, encoding: 'utf8' });
    const empty = cli('run', 'demo-sgd', '--out', '');
    expect(empty.status).toBe(2);
    expect(empty.stderr).toMatch(/run: --out must name a folder; got ""/);
    const file = join(tmp, 'cli-file');
    writeFileSync(file, 'x');
    const through = cli('run', 'demo-sgd', '--out', file);
    expect(through.status).toBe(2);
    expect(through.stderr).toMatch(/it is a file, not a folder/);
    expect(through.stderr).not.toMatch(/ENOTDIR/);
    expect(cli('run', 'demo-sgd', '--workers', '1e1', '--out', freshDir()).stderr).toMatch(/--workers must be an integer from 1 to 64; got '1e1'/);
    expect(cli('run', 'demo-sgd', '--task-timeout', 'x', '--out', freshDir()).stderr).toMatch(/--task-timeout must be a positive number/);
  }, 30_000);
});
