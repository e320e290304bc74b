/**
 * Issue 20, shards: task i of a preset (across its map calls) belongs to shard i mod N — every
 * task to exactly one shard, balanced to within one, the same every time; `--shard k/N` is
 * 0-based and refuses k ≥ N; a shard runs only its own tasks, saves them as a plain run does,
 * writes a manifest and no results.json, and stops at a stage that needs other shards' outputs.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runPresets, type RunEvent } from '../../packages/lab/src/experiments/runner.js';
import {
  parseShard,
  readShardManifest,
  shardExecutor,
  shardManifestPath,
  shardOf,
} from '../../packages/lab/src/experiments/shard.js';
import { StageStop, withHoles } from '../../packages/lab/src/experiments/stage.js';
import { taskKey } from '../../packages/lab/src/experiments/task-cache.js';
import { inlinePool } from '../../packages/lab/src/experiments/task-pool.js';
import { toys } from './sweep-toys.js';

const tmp = mkdtempSync(join(tmpdir(), 'gradscope-shard-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let count = 0;
const fresh = () => join(tmp, `out-${count++}`);

describe('shard assignment', () => {
  it('gives every task to exactly one shard, balanced to within one task, deterministically', () => {
    for (const n of [1, 2, 3, 5, 8]) {
      for (const tasks of [0, 1, 2, 7, 20, 101]) {
        const per = Array.from({ length: n }, () => 0);
        for (let i = 0; i < tasks; i++) {
          const k = shardOf(i, n);
          expect(k).toBe(shardOf(i, n));
          expect(k >= 0 && k < n).toBe(true);
          per[k]!++;
        }
        expect(per.reduce((a, b) => a + b, 0)).toBe(tasks);
        expect(Math.max(...per) - Math.min(...per)).toBeLessThanOrEqual(1);
      }
    }
  });

  it('parses --shard k/N 0-based and refuses k ≥ N naming the Slurm and Kubernetes convention', () => {
    expect(parseShard('0/3')).toEqual({ k: 0, n: 3 });
    expect(parseShard('2/3')).toEqual({ k: 2, n: 3 });
    expect(() => parseShard('3/3')).toThrow(
      /--shard 3\/3: k must be less than N \(shards count from 0 to 2, as SLURM_ARRAY_TASK_ID with --array=0-2 and/,
    );
    for (const bad of ['1', '1/0', '-1/3', '1/3/4', 'a/3', '01/3', '1.0/3', '']) {
      expect(() => parseShard(bad), bad).toThrow(/--shard must be k\/N|N must be/);
    }
  });

  it('gradscope run --shard answers a bad value with exit code 2, before anything runs', () => {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const out = fresh();
    const args = ['packages/lab/bin/gradscope.js', 'run', 'demo-sgd', '--shard', '1/1', '--out', out];
    const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^run: --shard 1\/1: k must be less than N \(shards count from 0 to 0/);
    expect(existsSync(join(out, 'demo-sgd'))).toBe(false);
  });
});

describe('holes', () => {
  it('throw StageStop when read, and report the first touch', () => {
    const touched: StageStop[] = [];
    const out = withHoles('t', [1, 0, 3], [true, false, true], (s) => touched.push(s));
    expect(out.length).toBe(3);
    expect(out[0]).toBe(1);
    expect(() => out[1]).toThrow(StageStop);
    expect(() => out.map((x) => x)).toThrow(/task 't' \(input 2\)/);
    expect(touched).toHaveLength(2);
  });
});

async function runShard(out: string, k: number, n: number, presets = toys()) {
  const events: RunEvent[] = [];
  const summary = await runPresets({
    presets: [presets.stages, presets.calls],
    size: 'smoke',
    out,
    executor: shardExecutor({ k, n }, inlinePool(), true),
    onEvent: (e) => events.push(e),
  });
  return { summary, events, log: presets.log };
}

describe('a shard run', () => {
  it('runs only its own tasks, writes manifests and no results.json, and stops at the dependent stage', async () => {
    const out = fresh();
    const { summary, events, log } = await runShard(out, 1, 3);
    expect(summary.ran).toEqual([]);
    expect(summary.stopped).toEqual(['toy-stages', 'toy-calls']);
    // Task i across the map calls goes to i mod 3: toy-stages' grid 0..6 → 1, 4;
    // toy-calls a1..4 b5,6 c7..9 → 2 (a), 5 (b), 8 (c).
    expect(log).toEqual(['square:1', 'square:4', 'a:2', 'b:5', 'c:8']);
    expect(existsSync(join(out, 'toy-stages', 'results.json'))).toBe(false);
    expect(readdirSync(join(out, 'toy-stages', 'tasks')).sort()).toHaveLength(2);
    expect(events.filter((e) => e.kind === 'stopped')).toHaveLength(2);

    const m = readShardManifest(shardManifestPath(out, 'toy-stages'));
    expect(m.shard).toEqual({ k: 1, n: 3 });
    expect(m.size).toBe('smoke');
    expect(m.seeds).toEqual([1]);
    // The 'line' stage needs the grid's outputs: never reached, so never planned.
    expect(m.calls.map((c) => [c.task, c.first, c.keys.length])).toEqual([['square', 0, 7]]);
    expect(m.calls[0]!.keys[4]).toBe(taskKey('square', { x: 4, seed: 1 }));
    expect(m.ran.map((p) => [p.task, p.key, p.via, p.pid])).toEqual([
      ['square', taskKey('square', { x: 1, seed: 1 }), 'shard 1/3', process.pid],
      ['square', taskKey('square', { x: 4, seed: 1 }), 'shard 1/3', process.pid],
    ]);
    expect(m.complete).toBe(false);
    expect(m.stoppedAt).toMatch(/after 1 map call\(s\): the driver read the output of task 'square'/);

    // Independent calls awaited in turn are all planned: the driver reads no output before the last.
    const calls = readShardManifest(shardManifestPath(out, 'toy-calls'));
    expect(calls.calls.map((c) => [c.task, c.first, c.keys.length])).toEqual([['a', 0, 4], ['b', 4, 2], ['c', 6, 3]]);
  });

  it('reuses its saved outputs when run again (marked resumed) and plans the same tasks', async () => {
    const out = fresh();
    await runShard(out, 0, 2);
    const before = readFileSync(shardManifestPath(out, 'toy-stages'), 'utf8');
    const again = await runShard(out, 0, 2);
    expect(again.log).toEqual([]);
    const m = readShardManifest(shardManifestPath(out, 'toy-stages'));
    expect(m.calls).toEqual(JSON.parse(before).calls);
    expect(m.ran.every((p) => p.resumed === true)).toBe(true);
  });

  it('with N = 1 runs everything, reaches the dependent stage and completes', async () => {
    const out = fresh();
    const { log } = await runShard(out, 0, 1);
    expect(log.filter((l) => l.startsWith('line:'))).toHaveLength(1);
    const m = readShardManifest(shardManifestPath(out, 'toy-stages'));
    expect(m.complete).toBe(true);
    expect(m.calls.map((c) => c.task)).toEqual(['square', 'line']);
  });
});
