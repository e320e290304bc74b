/**
 * Issue 20, merge: N = 3 shards of the toy presets merge into results.json equal to one
 * machine's run (compareResults), each task read from the shard that ran it and the dependent
 * stage run by merge; and every refusal: a shard missing, given twice or run with another N;
 * shards that disagree on size, seeds, engine, version or planned tasks; a planned task's
 * output missing; a folder without manifests; a merge with other engine settings.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareResults, readPlacements } from '../../packages/lab/src/experiments/compare.js';
import { mergeShards } from '../../packages/lab/src/experiments/merge.js';
import { localExecutor, runPresets } from '../../packages/lab/src/experiments/runner.js';
import { shardExecutor, shardManifestPath } from '../../packages/lab/src/experiments/shard.js';
import { TaskCache, TASKS_DIR } from '../../packages/lab/src/experiments/task-cache.js';
import { inlinePool } from '../../packages/lab/src/experiments/task-pool.js';
import { toys } from './sweep-toys.js';

const tmp = mkdtempSync(join(tmpdir(), 'gradscope-merge-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let count = 0;
const fresh = () => join(tmp, `out-${count++}`);
const shardDir = (k: number) => join(tmp, `shard-${k}`);
const results = (out: string, preset: string) => readFileSync(join(out, preset, 'results.json'), 'utf8');

/** Copy the three shard folders, edit one, and return the copies (each refusal test gets its own). */
function copies(edit?: (dirs: string[]) => void): string[] {
  const base = fresh();
  const dirs = [0, 1, 2].map((k) => {
    const d = join(base, `shard-${k}`);
    cpSync(shardDir(k), d, { recursive: true });
    return d;
  });
  edit?.(dirs);
  return dirs;
}

type Manifest = Record<string, any>;

function editManifest(dir: string, preset: string, change: (m: Manifest) => void): void {
  const path = shardManifestPath(dir, preset);
  const m = JSON.parse(readFileSync(path, 'utf8'));
  change(m);
  writeFileSync(path, JSON.stringify(m));
}

const merge = (dirs: string[], presets = toys(), out = fresh()) =>
  mergeShards({ dirs, out, presets: [presets.stages, presets.calls] });
/** The message a refused merge rejects with. */
const refusal = async (dirs: string[]) => {
  const outcome = await merge(dirs).then(() => new Error('merged'), (e: Error) => e);
  return outcome.message;
};

let oneMachine: string;
let merged: string;
let mergeLog: string[];

beforeAll(async () => {
  oneMachine = fresh();
  const one = toys();
  const local = localExecutor(inlinePool(), true);
  await runPresets({ presets: [one.stages, one.calls], size: 'smoke', out: oneMachine, executor: local });
  for (const k of [0, 1, 2]) {
    const t = toys();
    const executor = shardExecutor({ k, n: 3 }, inlinePool(), true);
    await runPresets({ presets: [t.stages, t.calls], size: 'smoke', out: shardDir(k), executor });
  }
  const t = toys();
  merged = fresh();
  await merge([shardDir(2), shardDir(0), shardDir(1)], t, merged);
  mergeLog = t.log;
});

describe('merging N = 3 shards', () => {
  it('writes results.json equal to the one-machine run (date, duration and placement aside)', () => {
    for (const preset of ['toy-stages', 'toy-calls']) {
      expect(compareResults(results(oneMachine, preset), results(merged, preset)), preset).toBeUndefined();
    }
    // Bit-identical values that JSON cannot hold: NaN, −0 (as read back by the comparison).
    expect(results(merged, 'toy-stages')).toContain('"NaN"');
  });

  it('reads every shard task from its shard and runs only the dependent stage itself', () => {
    expect(mergeLog).toEqual([expect.stringMatching(/^line:/)]);
    const placed = readPlacements(results(merged, 'toy-stages'));
    const shards = ['shard 0/3', 'shard 1/3', 'shard 2/3'];
    expect(placed.map((p) => p.via)).toEqual([...shards, ...shards, 'shard 0/3', 'merge']);
    expect(placed.map((p) => p.task)).toEqual([...Array(7).fill('square'), 'line']);
    const oneMachinePlaced = readPlacements(results(oneMachine, 'toy-stages'));
    expect(oneMachinePlaced.map((p) => p.key)).toEqual(placed.map((p) => p.key));
    expect(oneMachinePlaced.every((p) => p.via === 'local' && p.thread === 0)).toBe(true);
  });

  it('differs from a run with other seeds (the comparison can fail)', async () => {
    const other = fresh();
    const t = toys();
    const executor = localExecutor(inlinePool(), true);
    await runPresets({ presets: [t.stages], size: 'smoke', seeds: [9], out: other, executor });
    const difference = compareResults(results(oneMachine, 'toy-stages'), results(other, 'toy-stages'));
    expect(difference).toMatch(/^seeds\[0\]: 1 vs 9$/);
  });
});

describe('merge refuses', () => {
  it('a missing shard, naming it and the folders found', async () => {
    const dirs = copies();
    const message = await refusal([dirs[0]!, dirs[2]!]);
    expect(message).toMatch(/^merge: preset 'toy-\w+': shard 1\/3 missing; /);
    expect(message).toMatch(/found shard 0\/3 in '.*shard-0', shard 2\/3 in '.*shard-2'/);
  });

  it('a shard given twice, naming both folders', async () => {
    const dirs = copies();
    const message = await refusal([dirs[0]!, dirs[1]!, dirs[2]!, shardDir(1)]);
    expect(message).toMatch(/shard 1\/3 is given twice, in '.*shard-1' and '.*shard-1'/);
  });

  it('shards run with another N', async () => {
    const dirs = copies((d) => editManifest(d[2]!, 'toy-calls', (m) => (m.shard = { k: 2, n: 4 })));
    const message = await refusal(dirs);
    expect(message).toMatch(/preset 'toy-calls': shard 0\/3 in '.*' and shard 2\/4 in '.*shard-2' were run with/);
    expect(message).toMatch(/ different N$/);
  });

  for (const [field, change, message] of [
    ['size', (m: Manifest) => (m.size = 'full'), /size: shard 0\/3 in '.*shard-0' has smoke, shard 1\/3 .* has full/],
    ['seeds', (m: Manifest) => (m.seeds = [1, 2]), /seeds: shard 0\/3 in '.*' has 1, shard 1\/3 in '.*' has 1,2/],
    ['--max-steps', (m: Manifest) => (m.maxSteps = 2), /--max-steps: shard 0\/3 .* has \(none\), shard 1\/3 .* has 2/],
    [
      'engine settings',
      (m: Manifest) => (m.engine = { ...m.engine, defaultDType: 'float64' }),
      /engine settings: .* has .*float32 default.*, .* has .*float64 default/,
    ],
    ['gradscope version', (m: Manifest) => (m.gradscope = '9.9.9'), /: .* has 0\.\d+\.\d+.*, shard 1\/3 .* 9\.9\.9$/],
    [
      'the planned tasks',
      (m: Manifest) => (m.calls[0].keys[0] = 'f'.repeat(32)),
      /the planned tasks of map call 1 \(task 'square'\): shard 0\/3 in '.*shard-0' and shard 1\/3 in '.*shard-1'/,
    ],
  ] as const) {
    it(`shards that disagree on ${field}, naming the folders and the field`, async () => {
      const dirs = copies((d) => editManifest(d[1]!, 'toy-stages', change));
      const refused = await refusal(dirs);
      expect(refused.startsWith(`merge: preset 'toy-stages': the shards disagree on ${field}`), refused).toBe(true);
      expect(refused).toMatch(message);
    });
  }

  it('a task a shard planned whose output is missing, naming the task, the shard and its folder', async () => {
    const dirs = copies((d) => {
      const t = toys();
      const cache = new TaskCache(join(d[1]!, 'toy-stages', TASKS_DIR));
      rmSync(cache.path('square', { x: 4, seed: 1 }));
      void t;
    });
    const message = await refusal(dirs);
    expect(message).toMatch(/^merge: preset 'toy-stages': the output of task 'square' /);
    expect(message).toMatch(/\(input 5 of 7, key [0-9a-f]{32}\) is missing/);
    expect(message).toMatch(/is missing: shard 1\/3 in '.*shard-1' planned it, /);
    expect(message).toMatch(/but it is not in '.*shard-1\/toy-stages\/tasks'; rerun that shard$/);
  });

  it('a damaged task output the same way, saying why it cannot be used', async () => {
    const dirs = copies((d) => {
      const path = new TaskCache(join(d[0]!, 'toy-calls', TASKS_DIR)).path('a', 1);
      writeFileSync(path, readFileSync(path, 'utf8').replace('1.5', '2.5'));
    });
    const message = await refusal(dirs);
    expect(message).toMatch(/task 'a' \(input 1 of 4.*shard 0\/3 in '.*shard-0' planned it/);
    expect(message).toMatch(/: .*(sha256|checksum|SHA-256)/i);
  });

  it('a folder that holds no shard manifest', async () => {
    const message = await refusal([oneMachine]);
    expect(message).toMatch(/^merge: '.*' holds no shard manifest \(<preset>\/shard\.json\); /);
    expect(message).toMatch(/is it the --out folder of a `gradscope run --shard k\/N`\?$/);
  });

  it('a merge that computes with other engine settings than the shards', async () => {
    const dirs = copies((d) => {
      const elsewhere = { backend: 'gradscope-elsewhere', fma: false, defaultDType: 'float32' };
      for (const dir of d) {
        for (const p of ['toy-stages', 'toy-calls']) editManifest(dir, p, (m) => (m.engine = elsewhere));
      }
    });
    const message = await refusal(dirs);
    expect(message).toMatch(/the shards computed with gradscope-elsewhere \(no fma, float32 default\); /);
    expect(message).toMatch(/this merge computes with /);
    expect(message).toMatch(/\(merge with the shards' backend/);
  });
});
