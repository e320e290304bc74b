/**
 * The wasm backend when WebAssembly memory cannot be had (issue 14, D14: "under an
 * address-space limit the wasm backend fails on the first matmul instead of falling back").
 *
 * V8 reserves ≈ 10 GiB of address space per WebAssembly.Memory, so under `ulimit -v` below
 * that every `new WebAssembly.Memory` throws "RangeError: WebAssembly.Memory(): could not
 * allocate memory", and grow() throws where the host is out of memory. The runtime's one seam,
 * `setMemoryAllocator`, simulates both here; each case runs on a fresh module graph (fresh
 * runtimes, registry and arenas) and checks that every product equals the pure-TypeScript
 * backend's bit for bit — i.e. that it ran there — with a one-time warning and a note in
 * `currentBackendInfo()`. The last case runs a real product under a real `ulimit -v` in a
 * child process, on the built package (dist/, as the CLI tests do: `npm test` builds first).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cpuBackend } from '../../src/kernels/cpu/index.js';
import type { Conv2dGeometry } from '../../src/kernels/geometry.js';
import { simdAvailable } from '../../src/kernels/wasm/index.js';
import { makeOperand } from './parity-cases.js';

const engineRefusal = () => new RangeError('WebAssembly.Memory(): could not allocate memory');
const growRefusal = () => new RangeError('WebAssembly.Memory.grow(): Maximum memory size exceeded');

/** A fresh module graph with memories created and grown by `allocator`; warnings collected. */
async function fresh(allocator: { create?: boolean; grow?: boolean }) {
  vi.resetModules();
  const runtime = await import('../../src/kernels/wasm/runtime.js');
  const warnings: string[] = [];
  runtime.setMemoryAllocator(
    {
      ...(allocator.create === false && { create: () => { throw engineRefusal(); } }),
      ...(allocator.grow === false && { grow: () => { throw growRefusal(); } }),
    },
    (message) => warnings.push(message),
  );
  const wasm = await import('../../src/kernels/wasm/index.js');
  const registry = await import('../../src/kernels/registry.js'); // probes for memory when evaluated
  return { runtime, wasm, registry, warnings };
}

afterEach(() => vi.resetModules());

// Each needs more than the runtime's first 4 MiB of memory, so it must grow it.
const a = makeOperand({ shape: [600, 700] }, 'float32', 'mem/a');
const b = makeOperand({ shape: [700, 650] }, 'float32', 'mem/b');
const a64 = makeOperand({ shape: [2, 400, 500] }, 'float64', 'mem/a64');
const b64 = makeOperand({ shape: [2, 500, 450] }, 'float64', 'mem/b64');
const x = makeOperand({ shape: [8, 16, 32, 32] }, 'float32', 'mem/x');
const w = makeOperand({ shape: [32, 16, 3, 3] }, 'float32', 'mem/w');
const gy = makeOperand({ shape: [8, 32, 32, 32] }, 'float32', 'mem/gy');
const geometry: Conv2dGeometry = { stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1 };
// One input channel, six out: the direct kernels (direct-conv.ts), whose images also pass 4 MiB.
const x1 = makeOperand({ shape: [32, 1, 96, 96] }, 'float32', 'mem/x1');
const w1 = makeOperand({ shape: [6, 1, 5, 5] }, 'float32', 'mem/w1');
const gy1 = makeOperand({ shape: [32, 6, 92, 92] }, 'float32', 'mem/gy1');
const valid: Conv2dGeometry = { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 };

/** Every compute-bound kernel of `backend` against the pure-TypeScript one, exactly. */
function expectAllOnCpu(backend: typeof cpuBackend): void {
  expect(Array.from(backend.matmul(a, b, 'float32')), 'matmul float32').toEqual(Array.from(cpuBackend.matmul(a, b, 'float32')));
  expect(Array.from(backend.matmul(a64, b64, 'float64')), 'matmul float64').toEqual(Array.from(cpuBackend.matmul(a64, b64, 'float64')));
  expect(Array.from(backend.conv2d(x, w, geometry, 'float32')), 'conv2d').toEqual(Array.from(cpuBackend.conv2d(x, w, geometry, 'float32')));
  expect(Array.from(backend.conv2dBackwardInput(gy, w, x.shape, geometry, 'float32')), 'conv2d ∂x').toEqual(
    Array.from(cpuBackend.conv2dBackwardInput(gy, w, x.shape, geometry, 'float32')),
  );
  expect(Array.from(backend.conv2dBackwardWeight(x, gy, w.shape, geometry, 'float32')), 'conv2d ∂w').toEqual(
    Array.from(cpuBackend.conv2dBackwardWeight(x, gy, w.shape, geometry, 'float32')),
  );
  expect(Array.from(backend.conv2d(x1, w1, valid, 'float32')), 'direct conv2d').toEqual(Array.from(cpuBackend.conv2d(x1, w1, valid, 'float32')));
  expect(Array.from(backend.conv2dBackwardWeight(x1, gy1, w1.shape, valid, 'float32')), 'direct conv2d ∂w').toEqual(
    Array.from(cpuBackend.conv2dBackwardWeight(x1, gy1, w1.shape, valid, 'float32')),
  );
}

describe.skipIf(!simdAvailable())('the wasm backend when its memory cannot grow', () => {
  it('runs matmul and the three convolutions on the cpu kernels, warns once and says so in currentBackendInfo', async () => {
    const { wasm, registry, warnings } = await fresh({ grow: false });
    expect(registry.getBackend().name).toBe('wasm'); // a 4 MiB memory could be had
    expectAllOnCpu(wasm.createWasmBackend());
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^gradscope: wasm backend: could not grow a WebAssembly\.Memory from 4 MiB to \d+ MiB: WebAssembly\.Memory\.grow\(\): .*cpu/);
    const info = registry.currentBackendInfo();
    expect(info).toMatchObject({ name: 'wasm', label: 'gradscope-wasm' });
    expect(info.note).toMatch(/could not grow a WebAssembly\.Memory .* ran on the pure-TypeScript \(cpu\) kernels/);
  });

  it('falls back per call: small products stay on wasm, and once memory can grow again so do large ones', async () => {
    const { runtime, wasm, warnings } = await fresh({ grow: false });
    const backend = wasm.createWasmBackend();
    const s = makeOperand({ shape: [40, 50] }, 'float32', 'mem/s');
    const t = makeOperand({ shape: [50, 30] }, 'float32', 'mem/t');
    backend.matmul(s, t, 'float32'); // fits in the first 4 MiB
    expect(warnings).toHaveLength(0);
    expect(Array.from(backend.matmul(a, b, 'float32'))).toEqual(Array.from(cpuBackend.matmul(a, b, 'float32')));
    runtime.setMemoryAllocator(undefined, (message) => warnings.push(message)); // memory is back
    const before = runtime.wasmRuntime('float32').memory.buffer.byteLength;
    const again = backend.matmul(a, b, 'float32');
    expect(runtime.wasmRuntime('float32').memory.buffer.byteLength, 'the wasm path ran and grew its memory').toBeGreaterThan(before);
    const want = cpuBackend.matmul(a, b, 'float32');
    for (let i = 0; i < want.length; i += 97) expect(again[i]).toBeCloseTo(want[i]!, 3);
  });
});

describe.skipIf(!simdAvailable())('the wasm backend when no memory can be created', () => {
  it('is reported unavailable at start: the default is cpu, with the reason in currentBackendInfo', async () => {
    const { registry, warnings } = await fresh({ create: false });
    expect(registry.getBackend().name).toBe('cpu');
    expect((await registry.backendReady()).name).toBe('cpu');
    expect(registry.listBackends()).not.toContain('wasm');
    const info = registry.currentBackendInfo();
    expect(info).toMatchObject({ name: 'cpu', label: 'gradscope-cpu' });
    expect(info.note).toMatch(/^the wasm backend is not available here: no WebAssembly memory can be allocated here \(could not create a WebAssembly\.Memory of 4096 KiB: WebAssembly\.Memory\(\): could not allocate memory\)/);
    expect(() => registry.setBackend('wasm')).toThrow(/setBackend: backend 'wasm' is not available here: no WebAssembly memory can be allocated/);
    expect(warnings).toHaveLength(1);
    // And ops work.
    expect(Array.from(registry.getBackend().matmul(a, b, 'float32'))).toEqual(Array.from(cpuBackend.matmul(a, b, 'float32')));
  });

  it('a wasm backend created anyway runs every product on the cpu kernels; wasmRuntime throws a named error', async () => {
    const { wasm } = await fresh({ create: false });
    expectAllOnCpu(wasm.createWasmBackend());
    expect(() => wasm.wasmRuntime('float64')).toThrow(expect.objectContaining({ name: 'AllocationError', message: expect.stringMatching(/^wasmRuntime: no WebAssembly memory can be allocated here/) }));
  });

  it('a runtime created later (float64 after float32) that cannot get memory falls back, and the float32 one keeps working', async () => {
    const { runtime, wasm, warnings } = await fresh({});
    const backend = wasm.createWasmBackend();
    backend.matmul(a, b, 'float32'); // the float32 runtime exists now
    runtime.setMemoryAllocator({ create: () => { throw engineRefusal(); } }, (message) => warnings.push(message));
    expect(Array.from(backend.matmul(a64, b64, 'float64'))).toEqual(Array.from(cpuBackend.matmul(a64, b64, 'float64')));
    expect(warnings).toHaveLength(1);
    const got = backend.matmul(a, b, 'float32');
    const want = cpuBackend.matmul(a, b, 'float32');
    expect(Array.from(got)).not.toEqual(Array.from(want)); // still the wasm GEMM (float32 sums)
    for (let i = 0; i < want.length; i += 97) expect(got[i]).toBeCloseTo(want[i]!, 3);
  });
});

describe.skipIf(!simdAvailable() || typeof SharedArrayBuffer !== 'function')('per-sample arenas without memory', () => {
  it('an arena that cannot grow hands out nothing (callers use ordinary arrays) and its outer products fall back', async () => {
    const { runtime } = await fresh({ grow: false });
    const { WasmArena } = await import('../../src/kernels/wasm/arena.js');
    const arena = WasmArena.create()!;
    expect(arena).toBeDefined();
    expect(arena.allocate('float32', 8), 'fits in the first page').toBeInstanceOf(Float32Array);
    expect(arena.allocate('float32', 1 << 20), 'needs 4 MiB more').toBeUndefined();
    expect(runtime.wasmMemoryProblem()).toMatch(/could not grow/);
    runtime.setMemoryAllocator({ create: () => { throw engineRefusal(); } }, () => undefined);
    expect(WasmArena.create()).toBeUndefined();
  });

  it('perSampleGrads through a workspace on the wasm backend still matches the float64 cpu results', async () => {
    const { runtime, registry } = await fresh({ grow: false });
    const gs = await import('../../src/index.js');
    const { mlp } = await import('../../src/nn/zoo.js');
    const targets = [0, 1, 2, 3, 0, 1, 2, 3];
    registry.setBackend('cpu');
    const x64 = gs.randn([8, 200], { seed: 3, dtype: 'float64' });
    const expected = gs.perSampleGrads(mlp([200, 64, 4], { seed: 5, dtype: 'float64' }), { x: x64, targets }).grads!;
    registry.setBackend('wasm');
    const model = mlp([200, 64, 4], { seed: 5, dtype: 'float32' });
    const workspace = new gs.PerSampleWorkspace(); // 8·64·200 floats: more than the arena's first page
    const actual = gs.perSampleGrads(model, { x: x64.to('float32'), targets }, { workspace }).grads!;
    expect(runtime.wasmMemoryProblem(), 'the arena could not grow').toMatch(/could not grow/);
    for (const [name, e] of expected) {
      const want = e.toTypedArray();
      const got = actual.get(name)!.toTypedArray();
      for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!), `${name}[${i}]`).toBeLessThanOrEqual(1e-5 + 1e-4 * Math.abs(want[i]!));
    }
  });
});

// ---- a real address-space limit ----------------------------------------------------------

const root = fileURLToPath(new URL('../../', import.meta.url));
const built = `${root}dist/kernels/wasm/runtime.js`;
const HOST = `
import { currentBackendInfo, randn, setBackend } from ${JSON.stringify(pathToFileURL(`${root}dist/index.js`).href)};
let limited = false;
try { new WebAssembly.Memory({ initial: 1 }); } catch { limited = true; }
const a = randn([300, 260], { seed: 1 });
const b = randn([260, 340], { seed: 2 });
const info = currentBackendInfo();
const got = a.matmul(b).toTypedArray();
setBackend('cpu');
const want = a.matmul(b).toTypedArray();
console.log(JSON.stringify({ limited, info, equal: got.length === want.length && got.every((v, i) => Object.is(v, want[i])) }));
`;

describe.skipIf(!simdAvailable() || process.platform !== 'linux')('under ulimit -v', () => {
  it('a product in a process limited to 4 GB of address space gives the cpu result, and the info says why', () => {
    expect(existsSync(built), 'dist/ is missing: run `npm run build --silent` first').toBe(true);
    expect(statSync(built).mtimeMs, 'dist/ is older than src/kernels/wasm/runtime.ts: run `npm run build --silent` first').toBeGreaterThanOrEqual(
      statSync(`${root}src/kernels/wasm/runtime.ts`).mtimeMs,
    );
    const env = { ...process.env };
    for (const key of ['GRADSCOPE_BACKEND', 'GRADSCOPE_WASM', 'GRADSCOPE_THREADS']) delete env[key];
    // 4 GB: Node starts (it needs ≈ 1 GB), V8 cannot reserve a wasm memory (≈ 10 GiB each).
    const child = spawnSync('bash', ['-c', 'ulimit -v 4000000 && exec "$0" --input-type=module -e "$1"', process.execPath, HOST], {
      cwd: root,
      encoding: 'utf8',
      timeout: 30_000,
      env,
    });
    expect(child.status, child.stderr).toBe(0);
    const result = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as { limited: boolean; info: { name: string; note?: string }; equal: boolean };
    expect(result.equal).toBe(true);
    if (result.limited) {
      expect(result.info.name).toBe('cpu');
      expect(result.info.note).toMatch(/no WebAssembly memory can be allocated here/);
      expect(child.stderr).toMatch(/gradscope: wasm backend: could not create a WebAssembly\.Memory/);
    }
  });
});
