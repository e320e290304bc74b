/**
 * Issue 20, the scheduler examples run as written: examples/slurm's array script (with the
 * variables Slurm sets) for shards 0..2 and its merge script, whose results.json equals a
 * one-machine run's; submit.sh's sbatch calls (--array=0-(N-1), then the merge after afterok);
 * examples/k8s's Indexed Job and merge Job command lines, run by sh with the variables
 * Kubernetes sets; and the worker Deployment's command line, parsed as `gradscope worker` does.
 * A `gradscope` on PATH runs this checkout's command; an `sbatch` on PATH records its arguments.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRedisUrl } from '../../packages/lab/src/cli/commands/redis-url.js';
import { SWEEP_OPTIONS, parseCommandArgs } from '../../packages/lab/src/cli/commands/usage.js';
import { readPlacements } from '../../packages/lab/src/experiments/compare.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'gradscope-examples-'));
const shims = join(tmp, 'bin');
const env = (extra: Record<string, string>) => ({ ...process.env, PATH: `${shims}:${process.env.PATH}`, ...extra });
const read = (path: string) => readFileSync(join(root, path), 'utf8');
const bin = join(root, 'packages/lab/bin/gradscope.js');
const gradscope = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
/** Run a script (bash or sh) with `extra` in its environment and the shims first on PATH. */
const script = (shell: string, args: string[], extra: Record<string, string>) =>
  spawnSync(shell, args, { encoding: 'utf8', env: env(extra) });
let one: string;

beforeAll(() => {
  mkdirSync(shims);
  writeFileSync(join(shims, 'gradscope'), `#!/bin/sh\nexec "${process.execPath}" "${bin}" "$@"\n`);
  writeFileSync(join(shims, 'sbatch'), `#!/bin/sh\necho "$@" >> "${join(tmp, 'sbatch.log')}"\necho 4242\n`);
  chmodSync(join(shims, 'gradscope'), 0o755);
  chmodSync(join(shims, 'sbatch'), 0o755);
  one = join(tmp, 'one');
  const r = gradscope('run', 'demo-sgd', '--out', one, '--quiet');
  expect(r.status, r.stderr).toBe(0);
}, 120_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The text of a YAML `args:` entry written as a folded block (`- >-`), joined as YAML folds it. */
function foldedArgs(yaml: string): string {
  const lines = yaml.split('\n');
  const start = lines.findIndex((l) => /^\s*args:\s*$/.test(l));
  expect(lines[start + 1]).toMatch(/^\s*- >-$/);
  const indent = /^\s*/.exec(lines[start + 2]!)![0].length;
  const body: string[] = [];
  for (const line of lines.slice(start + 2)) {
    if (line.trim() === '' || /^\s*/.exec(line)![0].length < indent) break;
    body.push(line.trim());
  }
  return body.join(' ');
}

const yamlValue = (yaml: string, key: string) => new RegExp(`^\\s*${key}:\\s*"?([^"\\s#]+)"?`, 'm').exec(yaml)?.[1];
const envValue = (yaml: string, name: string) =>
  new RegExp(`- name: ${name}\\n\\s*value: "?([^"\\n]+)"?`).exec(yaml)?.[1];

describe('examples/slurm', () => {
  it('the array script runs each shard and the merge script merges them into the one-machine results', () => {
    const dir = join(tmp, 'slurm');
    expect(read('examples/slurm/sweep.sbatch')).toMatch(/^#SBATCH --array=0-3$/m);
    for (const k of [0, 1, 2]) {
      const slurm = { SLURM_ARRAY_TASK_ID: String(k), SLURM_ARRAY_TASK_COUNT: '3' };
      const sbatch = join(root, 'examples/slurm/sweep.sbatch');
      const r = script('bash', [sbatch], { ...slurm, PRESET: 'demo-sgd', SWEEP_DIR: dir });
      expect(r.status, r.stderr).toBe(0);
    }
    const m = script('bash', [join(root, 'examples/slurm/merge.sbatch')], { SHARDS: '3', SWEEP_DIR: dir });
    expect(m.status, m.stderr).toBe(0);
    const same = gradscope('compare', one, join(dir, 'results'));
    expect(same.status, same.stdout).toBe(0);
    const merged = readFileSync(join(dir, 'results', 'demo-sgd', 'results.json'), 'utf8');
    const vias = readPlacements(merged).map((p) => p.via);
    expect(vias).toEqual(['shard 0/3', 'shard 1/3', 'shard 2/3', 'shard 0/3', 'shard 1/3', 'shard 2/3']);
  }, 180_000);

  it('submit.sh submits the array 0-(N-1), then the merge after every element succeeded', () => {
    const r = script('bash', [join(root, 'examples/slurm/submit.sh')], { SHARDS: '3', PRESET: 'demo-sgd' });
    expect(r.status, r.stderr).toBe(0);
    const calls = readFileSync(join(tmp, 'sbatch.log'), 'utf8').trim().split('\n');
    expect(calls[0]).toMatch(/^--parsable --array=0-2 --export=ALL .*examples\/slurm\/sweep\.sbatch$/);
    expect(calls[1]).toMatch(/^--dependency=afterok:4242 --export=ALL,SHARDS=3 .*examples\/slurm\/merge\.sbatch$/);
  });
});

describe('examples/k8s', () => {
  it('the Indexed Job runs shard JOB_COMPLETION_INDEX/SHARDS, and the merge Job merges them', () => {
    const job = read('examples/k8s/sweep-job.yaml');
    expect(yamlValue(job, 'completionMode')).toBe('Indexed');
    expect(envValue(job, 'SHARDS')).toBe(yamlValue(job, 'completions'));
    expect(job).toMatch(/command: \["sh", "-c"\]/);
    const dir = join(tmp, 'k8s');
    for (const k of [0, 1, 2]) {
      const kubernetes = { JOB_COMPLETION_INDEX: String(k), SHARDS: '3' };
      const r = script('sh', ['-c', foldedArgs(job)], { ...kubernetes, PRESET: 'demo-sgd', SWEEP_DIR: dir });
      expect(r.status, r.stderr).toBe(0);
    }
    const merge = read('examples/k8s/merge-job.yaml');
    expect(envValue(merge, 'SHARDS')).toBe(envValue(job, 'SHARDS'));
    const r = script('sh', ['-c', foldedArgs(merge)], { SHARDS: '3', SWEEP_DIR: dir });
    expect(r.status, r.stderr).toBe(0);
    const same = gradscope('compare', one, join(dir, 'results'));
    expect(same.status, same.stdout).toBe(0);
  }, 180_000);

  it("the worker Deployment's command line is one gradscope worker accepts", () => {
    const yaml = read('examples/k8s/worker-deployment.yaml');
    const command = JSON.parse(/command: (\[.*\])/.exec(yaml)![1]!) as string[];
    expect(command.slice(0, 2)).toEqual(['gradscope', 'worker']);
    const url = envValue(yaml, 'REDIS_URL')!;
    // Kubernetes expands $(REDIS_URL) from the container's env.
    const args = command.slice(2).map((a) => a.replace('$(REDIS_URL)', url));
    const { values } = parseCommandArgs('worker', args, SWEEP_OPTIONS.worker);
    expect(parseRedisUrl(values.redis, 'worker')).toBe('redis://redis:6379');
    expect(values.concurrency).toBe('2');
  });
});
