/**
 * A Node host running as an ES module (`node --input-type=module`) starts wasm threads. The
 * worker script is eval'd and inherits the host's execArgv, so under such a host Node
 * evaluates it as an ES module, where `require` does not exist; the worker must reach
 * worker_threads without it. This spawns such a host on the built package (dist/, as the CLI
 * tests do: `npm test` builds first) and checks that a 2-thread product equals the
 * 1-thread one. Also: GRADSCOPE_THREADS=2 starts the threads on importing the package (the index
 * imports kernels/wasm/threads-env.ts for that alone), and products then run threaded.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { simdAvailable, wasmRuntime } from '../../src/kernels/wasm/index.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const built = `${root}dist/kernels/wasm/threads.js`;
const canThread = simdAvailable() && wasmRuntime().shared && typeof (globalThis as { process?: { getBuiltinModule?: unknown } }).process?.getBuiltinModule === 'function';

const HOST = `
import { getBackend, randn, setWasmThreads, wasmThreads } from ${JSON.stringify(pathToFileURL(`${root}dist/index.js`).href)};
const a = randn([300, 260], { seed: 1 });
const b = randn([260, 340], { seed: 2 });
const single = a.matmul(b).toTypedArray();
await setWasmThreads(2);
const threaded = a.matmul(b).toTypedArray();
const equal = single.length === threaded.length && single.every((x, i) => Object.is(x, threaded[i]));
console.log(JSON.stringify({ backend: getBackend().name, threads: wasmThreads(), equal }));
`;

describe.skipIf(!canThread)('wasm threads under an ES-module Node host', () => {
  it('node --input-type=module starts two threads and their product equals the one-thread product', () => {
    expect(existsSync(built), 'dist/ is missing: run `npm run build --silent` first').toBe(true);
    const stale = statSync(built).mtimeMs < statSync(`${root}src/kernels/wasm/threads.ts`).mtimeMs;
    expect(stale, 'dist/ is older than src/kernels/wasm/threads.ts: run `npm run build --silent` first').toBe(false);
    const env = { ...process.env };
    delete env.GRADSCOPE_THREADS; // the host starts its threads itself
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', HOST], { cwd: root, encoding: 'utf8', timeout: 30_000, env });
    expect(child.stderr).not.toMatch(/require is not defined/);
    expect(child.status, child.stderr).toBe(0);
    expect(JSON.parse(child.stdout.trim().split('\n').at(-1)!)).toEqual({ backend: 'wasm', threads: 2, equal: true });
  });
});

const ENV_HOST = `
import { randn, wasmThreads } from ${JSON.stringify(pathToFileURL(`${root}dist/index.js`).href)};
// The threads start asynchronously: wait for them, as GRADSCOPE_THREADS users' first steps do.
for (let i = 0; i < 100 && wasmThreads() < 2; i++) await new Promise((r) => setTimeout(r, 20));
const product = randn([300, 260], { seed: 1 }).matmul(randn([260, 340], { seed: 2 })).toTypedArray();
console.log(JSON.stringify({ threads: wasmThreads(), finite: product.every(Number.isFinite) }));
`;

describe.skipIf(!canThread)('GRADSCOPE_THREADS', () => {
  it('=2 starts two threads when the package is imported, and =1 or unset none', () => {
    const run = (value: string | undefined) => {
      const env = { ...process.env };
      if (value === undefined) delete env.GRADSCOPE_THREADS;
      else env.GRADSCOPE_THREADS = value;
      const child = spawnSync(process.execPath, ['--input-type=module', '-e', ENV_HOST], { cwd: root, encoding: 'utf8', timeout: 30_000, env });
      expect(child.status, child.stderr).toBe(0);
      return JSON.parse(child.stdout.trim().split('\n').at(-1)!) as unknown;
    };
    expect(run('2')).toEqual({ threads: 2, finite: true });
    expect(run('1')).toEqual({ threads: 1, finite: true });
    expect(run(undefined)).toEqual({ threads: 1, finite: true });
  });
});
