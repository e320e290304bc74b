/**
 * Per-sample gradients past the 1 GiB of one WebAssembly memory (issue #17): a workspace's
 * arena starts a new memory segment for an array that does not fit the current one, instead
 * of handing it to an ordinary array and the pure-TypeScript outer products (5.7× a gradient at
 * B = 1024 on a 784-256-256-10 MLP), and stages the outer products' inputs a block of samples
 * at a time when they do not fit above the arrays. The limits are lowered here so that a small
 * model passes them: the results must be those of one segment, bit for bit, and those of a
 * chunked call; a second call reuses the segments.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { setArenaLimits, WasmArena } from '../../src/kernels/wasm/arena.js';
import { simdAvailable } from '../../src/kernels/wasm/index.js';
import { getBackend, setBackend } from '../../src/kernels/registry.js';
import { randn } from '../../src/index.js';
import { perSampleGrads, PerSampleWorkspace } from '../../src/nn/per-sample.js';
import { mlp } from '../../src/nn/zoo.js';

const canArena = simdAvailable() && typeof SharedArrayBuffer === 'function';
const B = 40;
const targets = Array.from({ length: B }, (_, i) => i % 4);

/** Per-sample gradients of a 20-9-4 MLP on a fixed batch, as plain arrays by parameter name. */
function rows(options: { workspace?: PerSampleWorkspace; chunkSize?: number } = {}): { grads: Map<string, Float32Array>; arenas: (WasmArena | undefined)[] } {
  const model = mlp([20, 9, 4], { seed: 5, dtype: 'float32' });
  const x = randn([B, 20], { seed: 3, dtype: 'float32' });
  const result = perSampleGrads(model, { x, targets }, options);
  const grads = new Map<string, Float32Array>();
  const arenas: (WasmArena | undefined)[] = [];
  for (const [name, g] of result.grads!) {
    grads.set(name, Float32Array.from(g.toTypedArray()));
    if (name.endsWith('weight')) arenas.push(WasmArena.of(g.data));
  }
  return { grads, arenas };
}

function expectSame(actual: Map<string, Float32Array>, expected: Map<string, Float32Array>): void {
  expect([...actual.keys()]).toEqual([...expected.keys()]);
  for (const [name, values] of expected) expect(Array.from(actual.get(name)!), name).toEqual(Array.from(values));
}

afterEach(() => {
  setArenaLimits();
  setBackend('wasm');
});

describe.skipIf(!canArena)('per-sample gradients past the memory limit of one arena segment', () => {
  it('an array that does not fit starts a new segment; the rows are those of one segment, bit for bit', () => {
    setBackend('wasm');
    expect(getBackend().name).toBe('wasm');
    const one = rows({ workspace: new PerSampleWorkspace() });
    expect(one.arenas[0]!.segmentCount, 'everything in one segment by default').toBe(1);
    // The layers' outer products take 40·4·9 and 40·9·20 floats (5.6 and 28 KiB): the second
    // does not fit a 32 KiB segment after the first, and the room left above it stages the
    // inputs (116 bytes a sample) in blocks of fewer than 40 samples.
    setArenaLimits(32 * 1024, 1024);
    const workspace = new PerSampleWorkspace();
    const split = rows({ workspace });
    expect(split.arenas.every((a) => a !== undefined), 'every weight gradient lives in the arena').toBe(true);
    expect(split.arenas[0], 'one arena').toBe(split.arenas[1]);
    expect(split.arenas[0]!.segmentCount).toBe(2);
    expectSame(split.grads, one.grads);
    // The next call reuses the arrays: no new segment.
    const again = rows({ workspace });
    expect(again.arenas[0]!.segmentCount).toBe(2);
    expectSame(again.grads, one.grads);
  });

  it('the same rows as a call in chunks, and as the pure-TypeScript backend without an arena (to rounding)', () => {
    setArenaLimits(32 * 1024, 1024);
    const split = rows({ workspace: new PerSampleWorkspace() });
    // Chunks of 20 keep every product on the path it takes for 40 (the wasm GEMM for the first layer).
    expectSame(rows({ workspace: new PerSampleWorkspace(), chunkSize: 20 }).grads, split.grads);
    setBackend('cpu');
    const cpu = rows();
    for (const [name, want] of cpu.grads) {
      const got = split.grads.get(name)!;
      for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!), `${name}[${i}]`).toBeLessThanOrEqual(1e-6 + 1e-5 * Math.abs(want[i]!));
    }
  });

  it('an array larger than a whole segment is not taken (the caller uses an ordinary array)', () => {
    setArenaLimits(16 * 1024, 1024);
    const arena = WasmArena.create()!;
    expect(arena.allocate('float32', 4096), '16 KiB plus the reserve').toBeUndefined();
    expect(arena.allocate('float32', 1024)).toBeInstanceOf(Float32Array);
    expect(arena.allocate('float32', 3000), 'a second segment').toBeInstanceOf(Float32Array);
    expect(arena.segmentCount).toBe(2);
  });
});
