/**
 * `gradscope merge <dir>... --out DIR` (issue 20): assemble the task outputs of N shards
 * (shard.ts) into results.json files that are the same as one machine's run would write.
 *
 * Before anything runs, every preset found in the shard folders is checked: its N shards are
 * all there (the same N, each k once), and they agree on size, seeds, engine settings,
 * gradscope version and the tasks they planned; the merge itself must compute with the same
 * engine and version. Any disagreement is refused, naming the shard folders and the field.
 *
 * Then each preset's driver runs again with a map that reads the shards' saved outputs: a
 * task whose owning shard planned it but whose output is in no shard folder is refused,
 * naming the task, the shard and its folder; a task no owner reached (a stage whose inputs
 * came from other shards' outputs, e.g. lr-batch-ratio's 'line') runs here, and the
 * where-it-ran record says 'merge'.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describeEngine, engineSettings, sameEngine } from './engine-settings.js';
import { placedHere, type TaskPlacement } from './placement.js';
import { passedOn } from './skeleton.js';
import type { Preset, Size } from './preset.js';
import {
  cachedMap,
  gradscopeVersion,
  runPresets,
  type PresetEnd,
  type RunEvent,
  type RunSummary,
  type TaskExecutor,
} from './runner.js';
import { SHARD_FILE, readShardManifest, shardOf, type ShardManifest } from './shard.js';
import type { PlannedCall } from './stage.js';
import { TASKS_DIR, TaskCache, taskKey } from './task-cache.js';
import { taskPool } from './task-pool.js';

/** A shard's manifest for one preset and the folder it was found in (the shard's --out). */
export interface FoundShard {
  dir: string;
  manifest: ShardManifest;
}

/** The shards of one preset, indexed by k, checked to agree. */
export interface ShardSet {
  preset: Preset;
  n: number;
  shards: FoundShard[];
}

export interface MergeOptions {
  /** The shards' --out folders. */
  dirs: readonly string[];
  out: string;
  /** Worker threads for the tasks that merge runs itself (default 1). */
  workers?: number;
  backend?: string;
  /** Merge again even where DIR has complete results. */
  force?: boolean;
  onEvent?: (event: RunEvent) => void;
  /** The presets merge may find in the folders (default: the registry's; tests pass their own). */
  presets?: readonly Preset[];
}

class MergeError extends Error {}

const fail = (message: string): never => {
  throw new MergeError(`merge: ${message}`);
};

/** Every shard manifest in the folders, grouped by preset (presets in registry order of discovery). */
export function findShards(dirs: readonly string[]): Map<string, FoundShard[]> {
  if (dirs.length === 0) {
    fail(`expected the shards' --out folders, e.g. gradscope merge shard-0 shard-1 shard-2 --out results`);
  }
  const byPreset = new Map<string, FoundShard[]>();
  for (const dir of dirs) {
    if (!existsSync(dir) || !statSync(dir).isDirectory()) fail(`'${dir}' is not a folder`);
    let found = 0;
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name, SHARD_FILE);
      if (!existsSync(path)) continue;
      const manifest = readShardManifest(path);
      if (manifest.preset !== name) fail(`'${path}' is the manifest of preset '${manifest.preset}', not of '${name}'`);
      found++;
      const list = byPreset.get(name) ?? [];
      list.push({ dir, manifest });
      byPreset.set(name, list);
    }
    if (found === 0) {
      const what = `is it the --out folder of a \`gradscope run --shard k/N\`?`;
      fail(`'${dir}' holds no shard manifest (<preset>/${SHARD_FILE}); ${what}`);
    }
  }
  return byPreset;
}

const where = (s: FoundShard) => `shard ${s.manifest.shard.k}/${s.manifest.shard.n} in '${s.dir}'`;

/**
 * Check one preset's shards: N shards with the same N, each k once, agreeing on size, seeds,
 * engine, version and the planned tasks (the calls all of them reached). Returns them by k.
 */
export function checkShardSet(name: string, found: readonly FoundShard[], known: readonly Preset[]): ShardSet {
  const preset =
    known.find((p) => p.name === name) ??
    fail(`preset '${name}' (in ${found.map(where).join(', ')}) is not a preset this gradscope knows`);
  const n = found[0]!.manifest.shard.n;
  for (const s of found) {
    if (s.manifest.shard.n !== n) {
      fail(`preset '${name}': ${where(found[0]!)} and ${where(s)} were run with different N`);
    }
  }
  const byK: FoundShard[] = [];
  for (const s of found) {
    const k = s.manifest.shard.k;
    const twin = byK[k];
    if (twin) fail(`preset '${name}': shard ${k}/${n} is given twice, in '${twin.dir}' and '${s.dir}'`);
    byK[k] = s;
  }
  const missing = [...Array(n).keys()].filter((k) => !byK[k]);
  if (missing.length > 0) {
    fail(
      `preset '${name}': ${missing.map((k) => `shard ${k}/${n}`).join(', ')} missing; ` +
        `found ${found.map(where).join(', ')}` +
        ' (give every shard\'s --out folder)',
    );
  }
  const first = byK[0]!;
  const fields: [string, (m: ShardManifest) => string][] = [
    ['size', (m) => m.size],
    ['seeds', (m) => m.seeds.join(',')],
    ['--data', (m) => m.dataDir ?? '(none)'],
    ['--max-steps', (m) => String(m.maxSteps ?? '(none)')],
    ['engine settings', (m) => describeEngine(m.engine)],
    ['gradscope version', (m) => m.gradscope],
  ];
  for (const s of byK) {
    for (const [field, value] of fields) {
      if (value(s.manifest) !== value(first.manifest)) {
        fail(
          `preset '${name}': the shards disagree on ${field}: ` +
            `${where(first)} has ${value(first.manifest)}, ${where(s)} has ${value(s.manifest)}`,
        );
      }
    }
    const common = Math.min(s.manifest.calls.length, first.manifest.calls.length);
    for (let c = 0; c < common; c++) {
      if (!sameCall(s.manifest.calls[c]!, first.manifest.calls[c]!)) {
        const call = `map call ${c + 1} (task '${first.manifest.calls[c]!.task}')`;
        fail(`preset '${name}': the shards disagree on the planned tasks of ${call}: ${where(first)} and ${where(s)}`);
      }
    }
  }
  return { preset, n, shards: byK };
}

function sameCall(a: PlannedCall, b: PlannedCall): boolean {
  const sameKeys = a.keys.length === b.keys.length && a.keys.every((k, i) => k === b.keys[i]);
  return a.task === b.task && a.first === b.first && sameKeys;
}

/**
 * The executor that assembles one checked shard set: outputs from the shards' folders, the
 * stages no shard reached run here in `workers` threads.
 */
function mergeExecutor(set: ShardSet, workers: number, backend: string | undefined): TaskExecutor {
  const pool = taskPool(workers, { backend });
  const inThisThread = workers <= 1;
  return {
    start(setup) {
      const placement: TaskPlacement[] = [];
      const caches = set.shards.map((s) => new TaskCache(join(s.dir, set.preset.name, TASKS_DIR), s.manifest.engine));
      const ranBy = new Map<string, TaskPlacement>();
      for (const s of set.shards) for (const p of s.manifest.ran) ranBy.set(`${p.task}\u0000${p.key}`, p);
      let calls = 0;
      return {
        map: async <I, O>(task: string, inputs: readonly I[], onResult?: (done: number, total: number) => void) => {
          const c = calls++;
          const first = placement.length;
          const keys = inputs.map((input) => taskKey(task, input));
          for (const s of set.shards) {
            const planned = s.manifest.calls[c];
            if (planned && !sameCall(planned, { task, first, keys })) {
              fail(
                `preset '${set.preset.name}': map call ${c + 1} (task '${task}') plans other tasks ` +
                  `than ${where(s)} recorded; ` +
                  'were the shards run with another version of the preset?',
              );
            }
          }
          const outputs = new Array<O>(inputs.length);
          const local: number[] = [];
          inputs.forEach((input, j) => {
            const owner = shardOf(first + j, set.n);
            const s = set.shards[owner]!;
            const saved = caches[owner]!.read(task, input);
            if (saved && 'output' in saved) {
              outputs[j] = saved.output as O;
              const recorded = ranBy.get(`${task}\u0000${keys[j]}`);
              placement[first + j] = recorded ?? placedHere(task, keys[j]!, `shard ${owner}/${set.n}`, null);
              return;
            }
            if (s.manifest.calls.length > c) {
              const why = saved ? `: ${saved.stale}` : '';
              fail(
                `preset '${set.preset.name}': the output of task '${task}' ` +
                  `(input ${j + 1} of ${inputs.length}, key ${keys[j]}) is missing: ${where(s)} planned it, ` +
                  `but it is not in '${join(s.dir, set.preset.name, TASKS_DIR)}'${why}; rerun that shard`,
              );
            }
            local.push(j);
          });
          let done = inputs.length - local.length;
          if (done > 0) onResult?.(done, inputs.length);
          // A stage no owning shard reached: it runs here, resumable through DIR's own task cache.
          const here = local.map((j) => inputs[j]!);
          const tick = () => onResult?.(++done, inputs.length);
          const ran = await cachedMap<I, O>(pool, setup.cache, setup.preset, task, here, setup.warn, tick);
          local.forEach((j, r) => {
            outputs[j] = ran[r]!;
            placement[first + j] = placedHere(task, keys[j]!, 'merge', inThisThread ? undefined : null);
          });
          return outputs;
        },
        async finish(error): Promise<PresetEnd> {
          if (error !== undefined) throw error;
          return { write: true, placement };
        },
      };
    },
    close: () => pool.close(),
  };
}

/**
 * Check every preset's shards in `dirs`, then write `out`/<preset>/results.json for each, as
 * `gradscope run` would (the report is the caller's: cli/commands/merge.ts).
 */
export async function mergeShards(options: MergeOptions): Promise<RunSummary> {
  const found = findShards(options.dirs);
  // The registry is imported only when needed: it loads every preset (and their datasets).
  const known = options.presets ?? (await import('./registry.js')).PRESETS;
  const sets = [...found].map(([name, shards]) => checkShardSet(name, shards, known));
  const engine = engineSettings();
  const version = gradscopeVersion();
  for (const set of sets) {
    const m = set.shards[0]!.manifest;
    if (!sameEngine(m.engine, engine)) {
      fail(
        `preset '${set.preset.name}': the shards computed with ${describeEngine(m.engine)}; ` +
          `this merge computes with ${describeEngine(engine)}` +
          ' (merge with the shards\' backend: --backend, GRADSCOPE_BACKEND)',
      );
    }
    if (m.gradscope !== version) {
      fail(`preset '${set.preset.name}': the shards ran gradscope ${m.gradscope}; this is gradscope ${version}`);
    }
  }
  const summary: RunSummary = { ran: [], skipped: [], files: [], stopped: [] };
  for (const set of sets) {
    const m = set.shards[0]!.manifest;
    const one = await runPresets({
      presets: [set.preset],
      size: m.size as Size,
      seeds: m.seeds,
      ...passedOn(m),
      out: options.out,
      force: options.force,
      onEvent: options.onEvent,
      executor: mergeExecutor(set, options.workers ?? 1, options.backend),
    });
    summary.ran.push(...one.ran);
    summary.skipped.push(...one.skipped);
    summary.files.push(...one.files);
  }
  return summary;
}
