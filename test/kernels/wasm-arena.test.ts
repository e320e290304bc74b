/**
 * The wasm backend's batched outer products and the arena they write into: the emitted module
 * on its own (odd K, one row, many rows), the arena (float32 only, zeroed, arrays that stay
 * valid while the memory grows), the backend's outerRows against the pure-TypeScript one on
 * strided and transposed operands, and per-sample gradients through a workspace on the wasm
 * backend against the float64 CPU results.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { cpuBackend } from '../../src/kernels/cpu/index.js';
import { createWasmBackend, simdAvailable } from '../../src/kernels/wasm/index.js';
import { WasmArena } from '../../src/kernels/wasm/arena.js';
import { outerModuleBytes, type OuterExports } from '../../src/kernels/wasm/outer-module.js';
import { setBackend } from '../../src/kernels/registry.js';
import { randn } from '../../src/index.js';
import { perSampleGrads, PerSampleWorkspace } from '../../src/nn/per-sample.js';
import { mlp } from '../../src/nn/zoo.js';
import type { View } from '../../src/tensor/storage.js';
import { makeOperand, type OperandSpec } from './parity-cases.js';

const canArena = simdAvailable() && typeof SharedArrayBuffer === 'function';

/** out[b, n, k] = g[b, n] · a[b, k], in float64 from the views' values. */
function reference(g: View, a: View): Float64Array {
  const [B, N] = g.shape as [number, number];
  const K = a.shape[1]!;
  const out = new Float64Array(B * N * K);
  for (let b = 0; b < B; b++) {
    for (let n = 0; n < N; n++) {
      const h = g.data[g.offset + b * g.strides[0]! + n * g.strides[1]!]!;
      for (let k = 0; k < K; k++) out[(b * N + n) * K + k] = h * a.data[a.offset + b * a.strides[0]! + k * a.strides[1]!]!;
    }
  }
  return out;
}

describe.skipIf(!simdAvailable())('the outer-product module', () => {
  it.each([
    [1, 1, 1],
    [1, 3, 4],
    [2, 3, 7], // K mod 4 = 3: the scalar tail
    [5, 2, 13],
    [3, 10, 256],
  ])('B %i, N %i, K %i: every o[b, n, k] = g[b, n] · a[b, k]', (B, N, K) => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 1 });
    const bytes = outerModuleBytes({ initialPages: 1, maximumPages: 1, shared: false });
    expect(WebAssembly.validate(bytes)).toBe(true);
    const { outer } = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports as unknown as OuterExports;
    const f32 = new Float32Array(memory.buffer);
    const [g, a, o] = [0, 4096, 8192]; // float indices
    for (let i = 0; i < B * N; i++) f32[g + i] = Math.fround(0.5 + i / 7);
    for (let i = 0; i < B * K; i++) f32[a + i] = Math.fround(i / 3 - 2);
    f32.fill(-1, o, o + B * N * K + 8);
    outer(B, N, K, 4 * g, 4 * a, 4 * o);
    for (let b = 0; b < B; b++) {
      for (let n = 0; n < N; n++) {
        for (let k = 0; k < K; k++) expect(f32[o + (b * N + n) * K + k], `o[${b}][${n}][${k}]`).toBe(Math.fround(f32[g + b * N + n]! * f32[a + b * K + k]!));
      }
    }
    expect(f32[o + B * N * K], 'nothing written past the end').toBe(-1);
  });
});

describe.skipIf(!canArena)('WasmArena', () => {
  it('hands out zeroed float32 arrays over its own memory, and nothing for float64', () => {
    const arena = WasmArena.create()!;
    const x = arena.allocate('float32', 10)!;
    expect(x).toBeInstanceOf(Float32Array);
    expect(Array.from(x)).toEqual(new Array(10).fill(0));
    expect(WasmArena.of(x)).toBe(arena);
    expect(WasmArena.of(new Float32Array(10))).toBeUndefined();
    expect(arena.allocate('float64', 10)).toBeUndefined();
  });

  it('keeps earlier arrays valid while it grows, and zeroes space the staging area used', () => {
    const arena = WasmArena.create()!;
    const first = arena.allocate('float32', 1000)!;
    first.fill(7);
    // A product whose staging area lies where the next array will go.
    const g = makeOperand({ shape: [4, 3] }, 'float32', 'stage/g');
    const a = makeOperand({ shape: [4, 500] }, 'float32', 'stage/a');
    const out = arena.allocate('float32', 4 * 3 * 500)!;
    expect(arena.outerRows(g, a, out)).toBe(true);
    const big = arena.allocate('float32', 3_000_000)!; // 12 MB: the memory grows by many pages
    expect(big.every((v) => v === 0)).toBe(true);
    expect(first.length).toBe(1000);
    expect(first.every((v) => v === 7)).toBe(true);
    expect(Array.from(out)).toEqual(Array.from(reference(g, a), Math.fround));
  });

  it('refuses an output of the wrong size', () => {
    const arena = WasmArena.create()!;
    const g = makeOperand({ shape: [2, 3] }, 'float32', 'size/g');
    const a = makeOperand({ shape: [2, 5] }, 'float32', 'size/a');
    expect(arena.outerRows(g, a, arena.allocate('float32', 29)!)).toBe(false);
  });
});

describe.skipIf(!canArena)('outerRows on the wasm backend', () => {
  const wasm = createWasmBackend();
  const cases: [string, OperandSpec, OperandSpec][] = [
    ['contiguous', { shape: [5, 7] }, { shape: [5, 13] }],
    ['g transposed, a with an offset', { shape: [5, 7], order: [1, 0] }, { shape: [5, 13], offset: 3 }],
    ['a transposed, K mod 4 = 2', { shape: [3, 4] }, { shape: [3, 10], order: [1, 0] }],
    ['a broadcast along the batch', { shape: [4, 2] }, { shape: [4, 9], expandFrom: [1, 9] }],
  ];
  it.each(cases)('%s: into an arena array, as the pure-TypeScript kernel computes it', (name, gSpec, aSpec) => {
    const g = makeOperand(gSpec, 'float32', `${name}/g`);
    const a = makeOperand(aSpec, 'float32', `${name}/a`);
    const size = g.shape[0]! * g.shape[1]! * a.shape[1]!;
    const into = wasm.createArena!()!.allocate('float32', size)!;
    const result = wasm.outerRows(g, a, 'float32', into);
    expect(result).toBe(into);
    expect(Array.from(result)).toEqual(Array.from(cpuBackend.outerRows(g, a, 'float32')));
    expect(Array.from(result)).toEqual(Array.from(reference(g, a), Math.fround));
  });

  it('computes on the pure-TypeScript kernel without an arena array, and in float64', () => {
    const g = makeOperand({ shape: [3, 4] }, 'float64', 'plain/g');
    const a = makeOperand({ shape: [3, 5] }, 'float64', 'plain/a');
    expect(Array.from(wasm.outerRows(g, a, 'float64'))).toEqual(Array.from(reference(g, a)));
    const g32 = makeOperand({ shape: [3, 4] }, 'float32', 'plain/g');
    const a32 = makeOperand({ shape: [3, 5] }, 'float32', 'plain/a');
    const into = new Float32Array(60);
    expect(wasm.outerRows(g32, a32, 'float32', into)).toBe(into);
    expect(Array.from(into)).toEqual(Array.from(reference(g32, a32), Math.fround));
  });
});

describe.skipIf(!canArena)('per-sample gradients through a workspace on the wasm backend', () => {
  afterEach(() => setBackend('wasm'));

  it('writes the Linear layers into WebAssembly memory and matches the float64 CPU results', () => {
    setBackend('cpu');
    const x64 = randn([6, 20], { seed: 3, dtype: 'float64' });
    const targets = [0, 1, 2, 3, 0, 1];
    const expected = perSampleGrads(mlp([20, 9, 4], { seed: 5, dtype: 'float64' }), { x: x64, targets }).grads!;
    setBackend('wasm');
    const model = mlp([20, 9, 4], { seed: 5, dtype: 'float32' });
    const workspace = new PerSampleWorkspace();
    perSampleGrads(model, { x: randn([6, 20], { seed: 4, dtype: 'float32' }), targets }, { workspace }); // other numbers first
    const actual = perSampleGrads(model, { x: x64.to('float32'), targets }, { workspace }).grads!;
    for (const [name, e] of expected) {
      const g = actual.get(name)!;
      if (name.endsWith('weight')) expect(WasmArena.of(g.data), `${name} lives in the arena`).toBeDefined();
      const want = e.toTypedArray();
      const got = g.toTypedArray();
      for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!), `${name}[${i}]`).toBeLessThanOrEqual(1e-5 + 1e-4 * Math.abs(want[i]!));
    }
  });
});
