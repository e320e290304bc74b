/**
 * Backend parity for the compute-bound kernels (docs/design.md §5): every backend runs the shared
 * catalogue (parity-cases.ts) in float32 and must match the CPU backend in float64 within
 * float32 tolerances; then the autograd ops give the same values and gradients under
 * setBackend('gpu') as under 'cpu'.
 *
 * The GPU.js backend is exercised in its `cpu` and `webasm` modes, which need no GPU, and in
 * `headlessgl` where that happens to work; a mode that is unavailable is skipped, with the
 * reason in the skipped test's name. GPU.js compiles a kernel per shape at 5–80 ms, so the
 * catalogue is run once per backend and the compile counters are checked to stay at one
 * compile per kernel and shape.
 */
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { Backend } from '../../src/kernels/backend.js';
import { cpuBackend } from '../../src/kernels/cpu/index.js';
import { createGpuBackend, type GpuBackend, type GpuMode } from '../../src/kernels/gpu/index.js';
import { loadGpuJsModule } from '../../src/kernels/gpu/provide.js';
import {
  currentBackendInfo,
  getBackend,
  listBackends,
  registerBackend,
  setBackend,
  useBackend,
} from '../../src/kernels/registry.js';
import { valuesOf } from '../arbitraries.js';
import { PARITY_CASES, makeOperand, networkValueAndGrads, runParityCase, type ParityCase } from './parity-cases.js';

// gpu.js is an optional peer dependency, loaded by name on first use (a dev dependency here).
await loadGpuJsModule();

/** float32 against float64 (the accumulation error of float32 sums over ≲ 100 terms ≈ 1e-6). */
const RTOL = 1e-4;
const ATOL = 1e-5;

interface Subject {
  label: string;
  backend?: Backend;
  /** Why the subject is skipped. */
  unavailable?: string;
  /** GL modes may fold the `v !== v` NaN test away, so NaN ordering is not promised there. */
  nanOrdering: boolean;
}

function gpuSubject(mode: GpuMode): Subject {
  const label = `gpu, GPU.js ${mode} mode`;
  try {
    const backend = createGpuBackend({ mode });
    if (backend.mode !== mode) return { label, unavailable: `GPU.js ran '${backend.mode}' when asked for '${mode}'`, nanOrdering: false };
    return { label, backend, nanOrdering: mode === 'cpu' || mode === 'webasm' };
  } catch (error) {
    return { label, unavailable: (error as Error).message, nanOrdering: false };
  }
}

const SUBJECTS: Subject[] = [
  { label: 'cpu', backend: cpuBackend, nanOrdering: true },
  gpuSubject('cpu'),
  gpuSubject('webasm'),
  gpuSubject('headlessgl'),
];

afterAll(() => {
  for (const s of SUBJECTS) if (s.backend !== cpuBackend) (s.backend as GpuBackend | undefined)?.destroy();
});

/** The float64 CPU reference of every case, computed once. */
const REFERENCE = new Map(PARITY_CASES.map((c) => [c, runParityCase(cpuBackend, c, 'float64')]));

/** |actual − expected| ≤ atol + rtol·|expected| everywhere (NaN only where NaN is expected). */
function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const excess = Number.isNaN(e) || Number.isNaN(a) ? (Number.isNaN(e) === Number.isNaN(a) ? 0 : Infinity) : Math.abs(a - e) - (ATOL + RTOL * Math.abs(e));
    if (excess > worstExcess) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) expect.fail(`${what}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} (rtol ${RTOL}, atol ${ATOL})`);
}

function checkCase(backend: Backend, c: ParityCase): void {
  const actual = runParityCase(backend, c, 'float32');
  const expected = REFERENCE.get(c)!;
  for (const [key, values] of Object.entries(expected)) {
    if (key === 'indices') {
      expect(Array.from(actual[key]!), `${c.name}: indices`).toEqual(Array.from(values));
    } else {
      expect(actual[key], `${c.name}: ${key} dtype`).toBeInstanceOf(Float32Array);
      expectClose(actual[key]!, values, `${c.name}: ${key}`);
    }
  }
}

// First, while the registry has not loaded the gpu backend yet.
describe('selecting the gpu backend', () => {
  it('setBackend says to await useBackend until it is loaded; then it switches synchronously', async () => {
    expect(listBackends()).toContain('gpu');
    expect(() => setBackend('gpu')).toThrow(/backend 'gpu' is loaded on first use; call `await useBackend\('gpu'\)` once/);
    // Still the default (wasm where WebAssembly SIMD works, else cpu), not a half-loaded gpu.
    expect(getBackend().name).not.toBe('gpu');
    const backend = (await useBackend('gpu')) as GpuBackend;
    try {
      expect(getBackend()).toBe(backend);
      expect(currentBackendInfo()).toEqual({ name: 'gpu', mode: backend.mode, label: `gradscope-gpujs-${backend.mode}` });
      setBackend('cpu');
      expect(currentBackendInfo()).toEqual({ name: 'cpu', label: 'gradscope-cpu' });
      setBackend('gpu');
      expect(getBackend()).toBe(backend);
    } finally {
      setBackend('cpu');
    }
  });

  it('rejects unknown GPU.js modes and backends with the valid choices', async () => {
    expect(() => createGpuBackend({ mode: 'webgpu' as GpuMode })).toThrow(/unknown GPU\.js mode 'webgpu'; expected auto, cpu, webasm/);
    await expect(useBackend('tpu')).rejects.toThrow(/unknown backend 'tpu'; known backends: cpu, (wasm, )?gpu/);
    expect(() => setBackend('tpu')).toThrow(/unknown backend 'tpu'/);
  });
});

describe.each(SUBJECTS)('kernel parity: $label', (subject) => {
  const { backend } = subject;
  if (!backend) {
    it.skip(`skipped, mode unavailable: ${subject.unavailable}`, () => {});
    return;
  }

  for (const c of PARITY_CASES) {
    const skip = c.kind === 'maxPool2d' && c.nanOrdering && !subject.nanOrdering;
    it.skipIf(skip)(c.name, () => checkCase(backend, c));
  }

  if (backend === cpuBackend) return;
  const gpu = backend as GpuBackend;

  it('compiles each kernel once per shape and reuses it', () => {
    const before = gpu.stats();
    // Every conv case compiles 3 kernels, every avg-pool case 2, the rest 1.
    const perCase = (c: ParityCase) => (c.kind === 'conv2d' ? 3 : c.kind === 'avgPool2d' ? 2 : 1);
    expect(before.compiles).toBeLessThanOrEqual(PARITY_CASES.reduce((n, c) => n + perCase(c), 0));
    // The most recently compiled conv kernels, surely still cached.
    const again = PARITY_CASES.filter((c) => c.kind === 'conv2d').slice(-2);
    for (const c of again) checkCase(gpu, c);
    const after = gpu.stats();
    expect(after.compiles).toBe(before.compiles);
    expect(after.runs).toBe(before.runs + 3 * again.length);
  });

  it('computes float64 on the CPU backend, exactly', () => {
    const c = PARITY_CASES.find((p) => p.kind === 'conv2d')!;
    const ours = runParityCase(gpu, c, 'float64');
    const compiles = gpu.stats().compiles;
    for (const [key, values] of Object.entries(REFERENCE.get(c)!)) {
      expect(ours[key], key).toBeInstanceOf(Float64Array);
      expect(Array.from(ours[key]!), key).toEqual(Array.from(values));
    }
    expect(gpu.stats().compiles).toBe(compiles);
  });

  it('delegates empty operands to the CPU backend', () => {
    const a = makeOperand({ shape: [3, 0] }, 'float32', 'empty/a');
    const b = makeOperand({ shape: [0, 2] }, 'float32', 'empty/b');
    expect(Array.from(gpu.matmul(a, b, 'float32'))).toEqual([0, 0, 0, 0, 0, 0]);
  });
});

// ---- autograd end to end (networkValueAndGrads in parity-cases.ts) -----------------------

describe.each(SUBJECTS.filter((s) => s.backend && s.backend !== cpuBackend))('autograd under setBackend: $label', (subject) => {
  it('conv2d, maxPool2d, avgPool2d and matmul give the CPU values and gradients', () => {
    setBackend('cpu');
    const expected = networkValueAndGrads('float64', 2, 3);
    registerBackend(subject.backend!);
    setBackend('gpu');
    try {
      expect(getBackend()).toBe(subject.backend);
      const before = (subject.backend as GpuBackend).stats().compiles;
      const actual = networkValueAndGrads('float32', 2, 3);
      expect((subject.backend as GpuBackend).stats().compiles, 'the GPU.js kernels ran').toBeGreaterThan(before);
      ['value', 'grad x', 'grad w', 'grad m'].forEach((what, i) => expectClose(valuesOf(actual[i]!), valuesOf(expected[i]!), what));
    } finally {
      setBackend('cpu');
    }
  });
});

describe('GRADSCOPE_BACKEND and GRADSCOPE_GPU_MODE', () => {
  /** Run `body` on a fresh registry module evaluated with these environment variables. */
  async function withEnv(env: Record<string, string>, body: (registry: typeof import('../../src/kernels/registry.js')) => Promise<void>) {
    vi.resetModules();
    Object.assign(process.env, env);
    try {
      await body(await import('../../src/kernels/registry.js'));
    } finally {
      for (const key of Object.keys(env)) delete process.env[key];
    }
  }

  it('select the initial backend and its GPU.js mode once backendReady() resolves', () =>
    withEnv({ GRADSCOPE_BACKEND: 'gpu', GRADSCOPE_GPU_MODE: 'cpu' }, async (registry) => {
      await registry.backendReady();
      expect(registry.currentBackendInfo()).toEqual({ name: 'gpu', mode: 'cpu', label: 'gradscope-gpujs-cpu' });
    }));

  it('report an unknown backend on the first op', () =>
    withEnv({ GRADSCOPE_BACKEND: 'tpu' }, async (registry) => {
      expect(() => registry.getBackend()).toThrow(/GRADSCOPE_BACKEND: unknown backend 'tpu'; known backends: cpu, (wasm, )?gpu/);
      await expect(registry.backendReady()).rejects.toThrow(/unknown backend 'tpu'/);
      registry.setBackend('cpu');
      expect(registry.getBackend().name).toBe('cpu');
    }));
});
