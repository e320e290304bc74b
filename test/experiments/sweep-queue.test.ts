/**
 * Issue 20, the Redis queue end to end through the command line, on a redis-server this test
 * starts on a free loopback port (no persistence) and stops: enqueue (twice: nothing added),
 * status, a worker, collect — whose results.json equals a one-machine run's — a job refused for
 * other engine settings failing collect by name, argument errors, and a worker's graceful stop.
 * Skipped, saying so, where redis-server is not installed (CI installs it: .ci/run).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPlacements } from '../../packages/lab/src/experiments/compare.js';
import { defaultSweepName } from '../../packages/lab/src/experiments/queue/sweep.js';
import { encodeJson } from 'gradscope/io';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'packages/lab/bin/gradscope.js');
const hasRedis = spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).status === 0;
const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, ...env } });

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Start a process and resolve once a line of its stderr matches `ready`. */
function started(
  args: string[],
  ready: RegExp,
  env: NodeJS.ProcessEnv = {},
): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, [bin, ...args], { cwd: root, env: { ...process.env, ...env } });
  let text = '';
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      text += d.toString();
      if (ready.test(text)) resolve({ child, output: () => text });
    };
    child.stderr!.on('data', onData);
    child.stdout!.on('data', onData);
    child.on('exit', (code) => {
      reject(new Error(`gradscope ${args.join(' ')} exited ${code} before it was ready:\n${text}`));
    });
  });
}

const title = hasRedis ? 'the Redis queue' : 'the Redis queue (skipped: redis-server is not installed; CI installs it)';

describe.skipIf(!hasRedis)(title, () => {
  const tmp = mkdtempSync(join(tmpdir(), 'gradscope-queue-'));
  let redis: ChildProcess;
  let url: string;
  const workers: ChildProcess[] = [];

  beforeAll(async () => {
    const port = await freePort();
    url = `redis://127.0.0.1:${port}`;
    redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
    await new Promise<void>((resolve, reject) => {
      redis.stdout!.on('data', (d: Buffer) => /Ready to accept connections/.test(d.toString()) && resolve());
      redis.on('exit', (code) => reject(new Error(`redis-server exited ${code}`)));
    });
  }, 30_000);

  afterAll(async () => {
    for (const w of workers) w.kill('SIGKILL');
    redis?.kill('SIGTERM');
    rmSync(tmp, { recursive: true, force: true });
  });

  it('enqueues a sweep once, whatever the number of times it is enqueued', () => {
    const first = cli(['enqueue', 'demo-sgd', '--redis', url, '--backend', 'cpu']);
    expect(first.status, first.stderr).toBe(0);
    const sweep = first.stdout.trim();
    expect(sweep).toMatch(/^demo-sgd-smoke-[0-9a-f]{10}$/);
    expect(first.stderr).toMatch(/6 task\(s\) of 1 preset\(s\) on the queue/);
    const again = cli(['enqueue', 'demo-sgd', '--redis', url, '--backend', 'cpu']);
    expect(again.stdout.trim()).toBe(sweep);
    expect(again.stderr).toMatch(/sweep already recorded/);
    const status = JSON.parse(cli(['status', '--redis', url, '--json']).stdout);
    expect(status).toMatchObject({ sweep, jobs: 6, done: 0, running: 0, waiting: 6, failed: 0, workers: 0 });
    expect(status.etaSeconds).toBeUndefined();
    const text = cli(['status', '--redis', url]).stdout;
    expect(text).toMatch(/done 0, running 0, waiting 6, failed 0; 0 worker\(s\) connected\n/);
    expect(text).toMatch(/\n {2}no task done yet; ETA unknown\n$/);
  });

  it('collects results equal to a one-machine run, each task once, with where it ran', async () => {
    const args = ['worker', '--redis', url, '--concurrency', '2', '--lock-seconds', '5'];
    const worker = await started(args, /taking tasks/, { GRADSCOPE_BACKEND: 'cpu' });
    workers.push(worker.child);
    const out = join(tmp, 'queue');
    const collected = cli(['collect', '--redis', url, '--out', out, '--quiet']);
    expect(collected.status, collected.stderr).toBe(0);
    expect(collected.stdout).toMatch(/^sweep demo-sgd-smoke-[0-9a-f]{10}: collected 1, skipped 0/);
    const one = join(tmp, 'one');
    expect(cli(['run', 'demo-sgd', '--out', one, '--backend', 'cpu', '--quiet']).status).toBe(0);
    const same = cli(['compare', one, out]);
    expect(same.status, same.stdout).toBe(0);
    const placed = readPlacements(readFileSync(join(out, 'demo-sgd', 'results.json'), 'utf8'));
    expect(placed).toHaveLength(6);
    expect(new Set(placed.map((p) => p.job)).size).toBe(6);
    const onTheWorker = (p: (typeof placed)[number]) =>
      p.via === 'queue' && p.pid === worker.child.pid && p.thread! > 0;
    expect(placed.every((p) => onTheWorker(p) && p.attempts === 1)).toBe(true);
    const status = JSON.parse(cli(['status', '--redis', url, '--json']).stdout);
    expect(status).toMatchObject({ done: 6, failed: 0, waiting: 0, workers: 1 });
    expect(status.meanSeconds).toBeGreaterThan(0);
    // And a run with other seeds is told apart.
    const other = join(tmp, 'other');
    expect(cli(['run', 'demo-sgd', '--out', other, '--backend', 'cpu', '--seeds', '1,2', '--quiet']).status).toBe(0);
    const differs = cli(['compare', one, other]);
    expect(differs.status).toBe(1);
    expect(differs.stdout).toMatch(/^different: .*demo-sgd\/results\.json vs .*: seeds: 3 entries vs 2/);
  }, 180_000);

  it('refuses a job enqueued with other engine settings, and collect names the task and the reason', () => {
    const enq = cli(['enqueue', 'demo-sgd', '--redis', url, '--backend', 'wasm', '--sweep', 'other-engine']);
    expect(enq.status, enq.stderr).toBe(0);
    const r = cli(['collect', '--redis', url, '--out', join(tmp, 'refused'), '--quiet'], { GRADSCOPE_BACKEND: 'wasm' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/collect: task 'train' of preset 'demo-sgd' \(input \d of 6, /);
    expect(r.stderr).toMatch(/, job other-engine\.demo-sgd\.train\.[0-9a-f]{32}\) failed/);
    expect(r.stderr).toMatch(/\) failed after 1 attempt\(s\): worker .*: refusing job .*: /);
    expect(r.stderr).toMatch(/the sweep was enqueued for gradscope-wasm .*; this worker computes with gradscope-cpu /);
    expect(r.stderr).toMatch(/\(start it with GRADSCOPE_BACKEND=wasm\)/);
  }, 120_000);

  it('carries --data and --max-steps in the sweep: collect equals a run with the same flags', () => {
    const data = mkdtempSync(join(tmp, 'data-'));
    const flags = ['--max-steps', '2', '--data', data];
    const enq = cli(['enqueue', 'quadratic-sums', '--redis', url, '--backend', 'cpu', ...flags]);
    expect(enq.status, enq.stderr).toBe(0);
    const sweep = enq.stdout.trim();
    expect(sweep).toMatch(/^quadratic-sums-smoke-[0-9a-f]{10}$/);
    const status = cli(['status', '--redis', url, '--sweep', sweep]).stdout;
    expect(status).toContain(`(quadratic-sums; size smoke, --data ${data}, --max-steps 2): `);
    const out = join(tmp, 'limited-queue');
    const collected = cli(['collect', '--redis', url, '--sweep', sweep, '--out', out, '--quiet']);
    expect(collected.status, collected.stderr).toBe(0);
    const results = JSON.parse(readFileSync(join(out, 'quadratic-sums', 'results.json'), 'utf8'));
    expect(results).toMatchObject({ maxSteps: 2, dataDir: data });
    // enqueue planned the very tasks collect's driver asked for: no job beyond results.json's.
    const after = JSON.parse(cli(['status', '--redis', url, '--sweep', sweep, '--json']).stdout);
    expect(after).toMatchObject({ jobs: results.placement.length, done: results.placement.length, failed: 0 });
    const one = join(tmp, 'limited-one');
    const run = cli(['run', 'quadratic-sums', '--out', one, '--backend', 'cpu', '--quiet', ...flags]);
    expect(run.status, run.stderr).toBe(0);
    const same = cli(['compare', one, out]);
    expect(same.status, same.stdout).toBe(0);
  }, 180_000);

  it('reads --size, --seeds, --data and --max-steps as run does, naming enqueue', () => {
    const enqueue = (...args: string[]) => cli(['enqueue', 'demo-sgd', '--redis', url, ...args]);
    const huge = enqueue('--size', 'huge');
    expect(huge.status).toBe(2);
    expect(huge.stderr).toMatch(/^enqueue: --size must be smoke, full or paper; got 'huge'/);
    // paper is a size; demo-sgd declares no paper configuration.
    const paper = enqueue('--size', 'paper').stderr;
    expect(paper).toMatch(/^enqueue: preset 'demo-sgd' declares no paper-size configuration/);
    expect(enqueue('--max-steps', '0').stderr).toMatch(/^enqueue: --max-steps must be a positive integer/);
    const absent = enqueue('--data', join(tmp, 'absent')).stderr;
    expect(absent).toMatch(/^enqueue: --data directory '.*absent' does not exist/);
    expect(enqueue('--seeds', '1,1').stderr).toMatch(/^enqueue: --seeds lists a seed twice/);
  }, 60_000);

  it('answers bad arguments with the usage', () => {
    const none = cli(['enqueue', 'demo-sgd']);
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/^gradscope enqueue: --redis URL is required, e\.g\. --redis redis:\/\/127\.0\.0\.1:/);
    expect(none.stderr).toMatch(/\n\nUsage:\n {2}gradscope enqueue /);
    const http = cli(['collect', '--redis', 'http://x']).stderr;
    expect(http).toMatch(/--redis must be a redis:\/\/ or rediss:\/\/ URL; got 'http:\/\/x'/);
    const zero = cli(['worker', '--redis', url, '--concurrency', '0']).stderr;
    expect(zero).toMatch(/--concurrency must be an integer from 1 to 64; got '0'/);
    const unknown = cli(['status', '--redis', url, '--nope']);
    expect(unknown.stderr).toMatch(/^gradscope status: unknown option '--nope'\n\nUsage:\n/);
    expect(unknown.stderr).toMatch(/\n {2}gradscope status --redis URL/);
    const never = cli(['status', '--redis', url, '--sweep', 'never']).stderr;
    expect(never).toMatch(/status: no sweep named 'never' is recorded on this Redis/);
    const closed = cli(['status', '--redis', 'redis://127.0.0.1:1']).stderr;
    expect(closed).toMatch(/status: cannot reach Redis at redis:\/\/127\.0\.0\.1:1/);
  }, 60_000);

  it('stops a worker gracefully on SIGTERM', async () => {
    const w = workers[0]!;
    const exited = new Promise<number | null>((resolve) => w.on('exit', (code) => resolve(code)));
    w.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 60_000);
});

describe('sweep names', () => {
  it('--data and --max-steps make another sweep; without them a name is what it was before they existed', () => {
    const engine = { backend: 'gradscope-cpu', fma: false, defaultDType: 'float32' } as const;
    const record = { target: 't', presets: ['p'], size: 'smoke', engine, backend: 'cpu', gradscope: '0.1.0' };
    const hash = (x: unknown) => createHash('sha256').update(encodeJson(x)).digest('hex').slice(0, 10);
    expect(defaultSweepName(record)).toBe(`t-smoke-${hash([['p'], 'smoke', null, engine, '0.1.0'])}`);
    const limited = defaultSweepName({ ...record, maxSteps: 2 });
    expect(limited).not.toBe(defaultSweepName(record));
    expect(defaultSweepName({ ...record, maxSteps: 3 })).not.toBe(limited);
    expect(defaultSweepName({ ...record, dataDir: '/d' })).not.toBe(limited);
    expect(defaultSweepName({ ...record, dataDir: '/d' })).not.toBe(defaultSweepName(record));
  });
});
