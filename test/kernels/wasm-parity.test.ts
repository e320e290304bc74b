/**
 * The WebAssembly SIMD backend against the pure-TypeScript reference (docs/design.md §5): the
 * shared catalogue (parity-cases.ts) plus products sized to take the wasm path — odd sizes,
 * every transpose variant, tiny and tall-skinny shapes, several K and M cache blocks, stacked
 * batches — in float32, within float32 tolerances of the float64 CPU results; the autograd ops
 * end to end; and how the registry picks the backend (default, GRADSCOPE_BACKEND, and the
 * fallback when SIMD is switched off).
 */
import { describe, expect, it, vi } from 'vitest';
import { cpuBackend } from '../../src/kernels/cpu/index.js';
import { createWasmBackend, simdAvailable, wasmRuntime } from '../../src/kernels/wasm/index.js';
import { runOnOneThread } from '../../src/kernels/wasm/gemm.js';
import { WasmRuntime, relaxedSimdAvailable } from '../../src/kernels/wasm/runtime.js';
import { enableRelaxedSimd } from '../../packages/lab/src/cli/engine-flags.js';
import { SMALL_PRODUCT, wasmMatmul, wasmMatmulApplies } from '../../src/kernels/wasm/matmul.js';
import { wasmConv2d, wasmConv2dBackwardInput, wasmConv2dBackwardWeight } from '../../src/kernels/wasm/conv.js';
import type { Backend } from '../../src/kernels/backend.js';
import type { FloatDType } from '../../src/tensor/dtype.js';
import { currentBackendInfo, getBackend, setBackend } from '../../src/kernels/registry.js';
import { valuesOf } from '../arbitraries.js';
import { PARITY_CASES, makeOperand, networkValueAndGrads, runParityCase, type ParityCase } from './parity-cases.js';

/** float32 against float64, as for every backend (gpu-parity.test.ts); float64 against float64, to rounding. */
const TOLERANCE = { float32: { rtol: 1e-4, atol: 1e-5 }, float64: { rtol: 1e-12, atol: 1e-12 } } as const;

// As the gradscope command does: the FMA micro-kernel where the engine has relaxed SIMD.
enableRelaxedSimd();
const wasm = createWasmBackend();

/**
 * The wasm kernels on their own runtimes (one float32, one float64) with the size policy
 * switched off: every matmul and convolution of the catalogue, tiny and depthwise ones
 * included, goes through the GEMM module. (Through the backend, products below the crossover
 * run on the pure-TypeScript kernels.)
 */
function wasmOnly(tile: { mr: number; nv: number; fma: boolean }): Backend {
  const float32 = new WasmRuntime({ ...tile, dtype: 'float32' });
  const float64 = new WasmRuntime({ ...tile, dtype: 'float64' });
  const rt = (dtype: string) => (dtype === 'float64' ? float64 : float32);
  return {
    ...wasm,
    matmul: (a, b, dtype) => wasmMatmul(rt(dtype), runOnOneThread, a, b)!,
    conv2d: (x, w, g, dtype) => wasmConv2d(rt(dtype), runOnOneThread, x, w, g)!,
    conv2dBackwardInput: (gy, w, shape, g, dtype) => wasmConv2dBackwardInput(rt(dtype), runOnOneThread, gy, w, shape, g)!,
    conv2dBackwardWeight: (x, gy, shape, g, dtype) => wasmConv2dBackwardWeight(rt(dtype), runOnOneThread, x, gy, shape, g)!,
  };
}

/** Products big enough for the wasm path (checked below), chosen to break its index arithmetic. */
const WASM_CASES: ParityCase[] = [
  { kind: 'matmul', name: 'wasm 37×53 @ 53×29', a: { shape: [37, 53] }, b: { shape: [53, 29] } },
  { kind: 'matmul', name: 'wasm Aᵀ·B 37×53 @ 53×29', a: { shape: [37, 53], order: [1, 0] }, b: { shape: [53, 29] } },
  { kind: 'matmul', name: 'wasm A·Bᵀ 37×53 @ 53×29', a: { shape: [37, 53] }, b: { shape: [53, 29], order: [1, 0] } },
  { kind: 'matmul', name: 'wasm Aᵀ·Bᵀ 37×53 @ 53×29', a: { shape: [37, 53], order: [1, 0] }, b: { shape: [53, 29], order: [1, 0] } },
  { kind: 'matmul', name: 'wasm K over three cache blocks (600)', a: { shape: [21, 600], offset: 3 }, b: { shape: [600, 19], order: [1, 0] } },
  // Strided operands are packed by the module's packers (copy or 4×4 transpose) on whole slivers,
  // through the tables on edge slivers: every layout, at offsets, K over blocks not a multiple of 4.
  { kind: 'matmul', name: 'wasm packers Aᵀ·B at offsets, K 3 blocks of 181', a: { shape: [43, 541], order: [1, 0], offset: 5 }, b: { shape: [541, 35], offset: 1 } },
  { kind: 'matmul', name: 'wasm packers A·Bᵀ at offsets, K 3 blocks of 181', a: { shape: [43, 541], offset: 3 }, b: { shape: [541, 35], order: [1, 0], offset: 6 } },
  { kind: 'matmul', name: 'wasm packers broadcast rows and columns (stride 0)', a: { shape: [21, 300], expandFrom: [21, 1] }, b: { shape: [300, 27], expandFrom: [1, 27] } },
  { kind: 'matmul', name: 'wasm M over two row blocks, tall-skinny 301×40 @ 40×9', a: { shape: [301, 40] }, b: { shape: [40, 9] } },
  { kind: 'matmul', name: 'wasm wide 3×100 @ 100×500 (computed transposed)', a: { shape: [3, 100] }, b: { shape: [100, 500] } },
  { kind: 'matmul', name: 'wasm N = 2, 500×30 @ 30×2', a: { shape: [500, 30], order: [1, 0] }, b: { shape: [30, 2] } },
  { kind: 'matmul', name: 'wasm K = 1 outer product 100×1 @ 1×50', a: { shape: [100, 1] }, b: { shape: [1, 50] } },
  { kind: 'matmul', name: 'wasm exact tiles 64×64 @ 64×64', a: { shape: [64, 64] }, b: { shape: [64, 64] } },
  { kind: 'matmul', name: 'wasm 16³ just above the crossover', a: { shape: [16, 16] }, b: { shape: [16, 16], order: [1, 0] } },
  {
    kind: 'matmul',
    name: 'wasm batched, B shared (stacked into one product)',
    a: { shape: [4, 33, 20], offset: 2 },
    b: { shape: [4, 20, 17], expandFrom: [20, 17] },
  },
  {
    kind: 'matmul',
    name: 'wasm batched, both transposed',
    a: { shape: [3, 25, 18], order: [0, 2, 1] },
    b: { shape: [3, 18, 27], order: [0, 2, 1] },
  },
  {
    kind: 'conv2d',
    name: 'wasm conv2d LeNet-2-like, padding 2',
    x: { shape: [5, 6, 12, 12] },
    w: { shape: [16, 6, 5, 5] },
    geometry: { stride: [1, 1], padding: [2, 2], dilation: [1, 1], groups: 1 },
  },
  {
    kind: 'conv2d',
    name: 'wasm conv2d 1×1 channels-last, groups 3',
    x: { shape: [3, 6, 5, 7], order: [0, 2, 3, 1] },
    w: { shape: [9, 2, 1, 1] },
    geometry: { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 3 },
  },
];

const CASES = [...PARITY_CASES, ...WASM_CASES];
const REFERENCE = new Map(CASES.map((c) => [c, runParityCase(cpuBackend, c, 'float64')]));

/** |actual − expected| ≤ atol + rtol·|expected| everywhere (NaN only where NaN is expected). */
function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, dtype: FloatDType = 'float32'): void {
  const { rtol, atol } = TOLERANCE[dtype];
  expect(actual.length, `${what}: length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const ok = Number.isNaN(e) ? Number.isNaN(a) : Math.abs(a - e) <= atol + rtol * Math.abs(e);
    if (!ok) expect.fail(`${what}: element ${i} is ${a}, expected ${e} (rtol ${rtol}, atol ${atol})`);
  }
}

function checkCase(backend: Backend, c: ParityCase, dtype: FloatDType = 'float32'): void {
  const actual = runParityCase(backend, c, dtype);
  for (const [key, values] of Object.entries(REFERENCE.get(c)!)) {
    if (key === 'indices') {
      expect(Array.from(actual[key]!), `${c.name}: indices`).toEqual(Array.from(values));
    } else {
      expect(actual[key], `${c.name}: ${key} dtype`).toBeInstanceOf(dtype === 'float32' ? Float32Array : Float64Array);
      expectClose(actual[key]!, values, `${c.name}: ${key}`, dtype);
    }
  }
}

for (const dtype of ['float32', 'float64'] as const) {
  describe.skipIf(!simdAvailable())(`wasm backend parity (${dtype} vs the float64 CPU backend)`, () => {
    for (const c of CASES) it(c.name, () => checkCase(wasm, c, dtype));
  });
}

// Both micro-kernels in both types, whichever the default runtimes use here.
for (const fma of [false, true]) {
  const available = simdAvailable() && (!fma || relaxedSimdAvailable());
  describe.skipIf(!available)(`wasm kernels on every catalogue case, size policy off, ${fma ? 'FMA' : 'mul + add'} micro-kernel`, () => {
    const kernels = available ? wasmOnly({ mr: 4, nv: 2, fma }) : wasm;
    for (const dtype of ['float32', 'float64'] as const) {
      for (const c of CASES.filter((k) => k.kind === 'matmul' || k.kind === 'conv2d')) it(`${dtype}: ${c.name}`, () => checkCase(kernels, c, dtype));
    }
  });
}

describe.skipIf(!simdAvailable())('wasm backend dispatch', () => {
  it('the wasm-sized products really take the wasm path, the tiny ones do not', () => {
    for (const c of WASM_CASES) {
      if (c.kind !== 'matmul') continue;
      const a = makeOperand(c.a, 'float32', `${c.name}/a`);
      const b = makeOperand(c.b, 'float32', `${c.name}/b`);
      expect(wasmMatmulApplies(a, b), c.name).toBe(true);
    }
    const tiny = makeOperand({ shape: [5, 7] }, 'float32', 'tiny');
    expect(5 * 7 * 7).toBeLessThanOrEqual(SMALL_PRODUCT);
    expect(wasmMatmulApplies(tiny, makeOperand({ shape: [7, 7] }, 'float32', 'tiny-b'))).toBe(false);
    // matrix-vector products stay on the pure-TypeScript loop whatever their size
    expect(wasmMatmulApplies(makeOperand({ shape: [1, 784] }, 'float32', 'mv/a'), makeOperand({ shape: [784, 256] }, 'float32', 'mv/b'))).toBe(false);
  });

  it('computes float64 products on the float64 module, float32 ones on the float32 module', () => {
    const c = WASM_CASES[1]!;
    if (c.kind !== 'matmul') throw new Error('expected a matmul case');
    for (const dtype of ['float32', 'float64'] as const) {
      const a = makeOperand(c.a, dtype, `${c.name}/a`);
      const b = makeOperand(c.b, dtype, `${c.name}/b`);
      const direct = wasmMatmul(wasmRuntime(dtype), runOnOneThread, a, b)!;
      expect(direct).toBeInstanceOf(dtype === 'float32' ? Float32Array : Float64Array);
      expect(Array.from(wasm.matmul(a, b, dtype)), dtype).toEqual(Array.from(direct));
    }
    expect(wasmRuntime('float64').elementBytes).toBe(8);
    expect(wasmRuntime('float32').elementBytes).toBe(4);
  });

  it('gives zeros for an empty inner dimension and nothing for an empty outer one', () => {
    const a = makeOperand({ shape: [3, 0] }, 'float32', 'empty/a');
    const b = makeOperand({ shape: [0, 2] }, 'float32', 'empty/b');
    expect(Array.from(wasm.matmul(a, b, 'float32'))).toEqual([0, 0, 0, 0, 0, 0]);
    expect(Array.from(wasmMatmul(wasmRuntime(), runOnOneThread, a, b)!)).toEqual([0, 0, 0, 0, 0, 0]);
    const empty = makeOperand({ shape: [0, 4] }, 'float32', 'empty/c');
    expect(wasmMatmul(wasmRuntime(), runOnOneThread, empty, makeOperand({ shape: [4, 3] }, 'float32', 'empty/d'))).toHaveLength(0);
  });
});

// ---- autograd end to end (networkValueAndGrads in parity-cases.ts) -----------------------

describe.skipIf(!simdAvailable())('autograd on the wasm backend', () => {
  it('is the default backend, labelled gradscope-wasm', () => {
    expect(getBackend().name).toBe('wasm');
    expect(currentBackendInfo()).toEqual({ name: 'wasm', label: 'gradscope-wasm' });
  });

  it('conv2d, pooling and matmul give the float64 CPU values and gradients', () => {
    setBackend('cpu');
    const expected = networkValueAndGrads('float64', 6, 24);
    setBackend('wasm');
    const actual = networkValueAndGrads('float32', 6, 24);
    ['value', 'grad x', 'grad w', 'grad m'].forEach((what, i) => {
      const e = valuesOf(expected[i]!);
      const a = valuesOf(actual[i]!);
      // A sum over 6·120·24 tanh terms: compare relative to its magnitude.
      const scale = what === 'value' ? Math.abs(e[0]!) : 1;
      expectClose(a.map((v) => v / scale), e.map((v) => v / scale), what);
    });
  });
});

describe('choosing the backend', () => {
  /** Run `body` on a fresh registry module evaluated with these environment variables. */
  async function withEnv(env: Record<string, string>, body: (registry: typeof import('../../src/kernels/registry.js')) => Promise<void> | void) {
    vi.resetModules();
    Object.assign(process.env, env);
    try {
      await body(await import('../../src/kernels/registry.js'));
    } finally {
      for (const key of Object.keys(env)) delete process.env[key];
      vi.resetModules();
    }
  }

  it.skipIf(!simdAvailable())('defaults to wasm where SIMD validates', () =>
    withEnv({}, (registry) => {
      expect(registry.currentBackendInfo()).toEqual({ name: 'wasm', label: 'gradscope-wasm' });
      expect(registry.listBackends()).toEqual(['cpu', 'wasm', 'gpu']);
    }));

  it('GRADSCOPE_BACKEND=cpu keeps the pure-TypeScript backend', () =>
    withEnv({ GRADSCOPE_BACKEND: 'cpu' }, (registry) => {
      expect(registry.currentBackendInfo()).toEqual({ name: 'cpu', label: 'gradscope-cpu' });
    }));

  it('falls back to cpu when WebAssembly SIMD is switched off, and says why wasm cannot be chosen', () =>
    withEnv({ GRADSCOPE_WASM: 'off' }, (registry) => {
      expect(registry.currentBackendInfo()).toEqual({ name: 'cpu', label: 'gradscope-cpu' });
      expect(registry.listBackends()).toEqual(['cpu', 'gpu']);
      expect(() => registry.setBackend('wasm')).toThrow(/setBackend: backend 'wasm' is not available here: switched off by GRADSCOPE_WASM=off; use one of cpu, gpu/);
      // Ops keep working on the fallback.
      expect(registry.getBackend().matmul(makeOperand({ shape: [40, 50] }, 'float32', 'f/a'), makeOperand({ shape: [50, 30] }, 'float32', 'f/b'), 'float32')).toHaveLength(1200);
    }));

  it('GRADSCOPE_BACKEND=wasm without SIMD fails on the first op with the reason', () =>
    withEnv({ GRADSCOPE_WASM: 'off', GRADSCOPE_BACKEND: 'wasm' }, async (registry) => {
      expect(() => registry.getBackend()).toThrow(/GRADSCOPE_BACKEND: backend 'wasm' is not available here: switched off by GRADSCOPE_WASM=off/);
      await expect(registry.backendReady()).rejects.toThrow(/not available here/);
    }));
});
