/**
 * How the wasm backend splits a product over threads (threads.ts): which products are split
 * at all (`splitPlan`, the measured threshold) and into which blocks; and that a split product
 * — its B slivers packed by the threads that claim them, through the module's packers or
 * through the tables of a convolution — is bit for bit the one-thread product. The threshold is
 * lowered to split every product of the parity catalogue (odd sizes, partial slivers,
 * transposed, permuted, offset and broadcast operands, all three convolutions), and raised to
 * check that nothing is split. A deep product with a small C (a weight gradient streamed K block
 * by K block) is split along K instead, into a fixed number of partitions per thread that the
 * threads claim: its result is the same bits whichever thread computes which partition — that of
 * one thread cut the same way. A convolution's input gradient and a direct convolution's
 * forward are cut into blocks of images, which the threads claim: their bits depend neither on
 * the blocks nor on the threads. A direct weight gradient is cut into image partitions that
 * follow the requested threads, as a streamed product's K partitions.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createWasmBackend, requestedWasmThreads, setWasmThreads, simdAvailable, wasmRuntime, wasmThreads } from '../../src/kernels/wasm/index.js';
import { splitPlan, splitting, threadedRunner } from '../../src/kernels/wasm/threads.js';
import { wasmConv2dBackwardWeight } from '../../src/kernels/wasm/conv.js';
import { imageBlocking } from '../../src/kernels/wasm/split-convs.js';
import { convDims } from '../../src/kernels/geometry.js';
import { directConv2dBackwardWeight } from '../../src/kernels/wasm/direct-conv.js';
import { PARITY_CASES, makeOperand, runParityCase } from './parity-cases.js';

const wasm = createWasmBackend();
const canThread = simdAvailable() && wasmRuntime().shared && typeof (globalThis as { process?: { getBuiltinModule?: unknown } }).process?.getBuiltinModule === 'function';
const defaults = { ...splitting };
const blockingDefaults = { ...imageBlocking };

afterEach(async () => {
  Object.assign(splitting, defaults);
  Object.assign(imageBlocking, blockingDefaults);
  vi.restoreAllMocks();
  await setWasmThreads(1);
});

describe('splitPlan: which products two threads share', () => {
  // The float32 register tile: 4 rows × 8 columns.
  const TILE = { mr: 4, nr: 8 };

  it('keeps a product on one thread when a thread would get less than the threshold', () => {
    // 64³ = 262 144 multiply-adds: one thread's worth at most.
    expect(splitPlan(16, 8, 64, 2, TILE)).toEqual({ threads: 1, chunk: 8 });
    // The MLP's smallest product, 128×256×10 (as 10×128: 3 A slivers, 16 B slivers).
    expect(splitPlan(3, 16, 256, 2, TILE).threads).toBe(1);
    expect(splitPlan(32, 32, 256, 1, TILE).threads, 'one thread asked for').toBe(1);
  });

  it('keeps a product on one thread when it has too few B slivers for two blocks', () => {
    expect(splitPlan(1000, 3, 10_000, 2, TILE).threads).toBe(1);
    expect(splitPlan(1000, 4, 10_000, 2, TILE)).toEqual({ threads: 2, chunk: 2 });
  });

  it('splits a large product into 64-byte-aligned blocks, several per thread', () => {
    for (const [mTiles, nTiles, K] of [
      [32, 32, 256], // 128×256×256 of the MLP
      [32, 98, 256], // 128×784 · 784×256 as computed
      [256, 128, 1024], // 1024³
      [2, 9216, 25], // LeNet's first convolution: 6 × (128·576) over 25 taps
    ] as const) {
      const plan = splitPlan(mTiles, nTiles, K, 2, TILE);
      expect(plan.threads, `${mTiles}×${nTiles}×${K}`).toBe(2);
      expect(plan.chunk % splitting.unit, 'blocks start on a 64-byte boundary of each row of C').toBe(0);
      expect(Math.ceil(nTiles / plan.chunk), 'at least two blocks per thread').toBeGreaterThanOrEqual(4);
    }
  });

  it('asks more of a product when a worker sleeps (it must wake up first)', () => {
    // LeNet-5's 128×256 · 256×120: 32 A slivers × 15 B slivers over K = 256.
    expect(splitPlan(32, 15, 256, 2, TILE, true).threads, 'workers polling').toBe(2);
    expect(splitPlan(32, 15, 256, 2, TILE, false).threads, 'a worker asleep').toBe(1);
    // 128×784 · 784×256 of the MLP is worth waking a worker for, and so is LeNet's first
    // convolution with its im2col panels (25 × 73 728 numbers of B to pack).
    expect(splitPlan(32, 64, 784, 2, TILE, false).threads).toBe(2);
    expect(splitPlan(2, 9216, 25, 2, TILE, false).threads).toBe(2);
  });

  it('uses no more threads than the product has work for', () => {
    // Three threads' worth of multiply-adds on a pool of eight.
    const plan = splitPlan(32, 32, 256 * 3, 8, TILE);
    expect(plan.threads).toBeLessThanOrEqual(Math.floor(((32 * 32 * 32 + splitting.packWeight * 32 * 8) * 256 * 3) / splitting.minMacsPerThread));
    expect(plan.threads).toBeGreaterThan(1);
  });
});

describe.skipIf(!canThread)('a split product is the one-thread product, bit for bit', () => {
  const cases = PARITY_CASES.filter((c) => c.kind === 'matmul' || c.kind === 'conv2d');

  it.each([2, 3])('%i threads, every matmul and convolution of the catalogue split', async (threads) => {
    const single = cases.map((c) => runParityCase(wasm, c, 'float32'));
    // Split whatever has two blocks of B slivers, the workers awake or not.
    splitting.minMacsPerThread = 1;
    splitting.minMacsPerThreadAsleep = 1;
    await setWasmThreads(threads, { spinMs: threads === 3 ? 0 : undefined });
    expect(wasmThreads()).toBe(threads);
    cases.forEach((c, i) => {
      const split = runParityCase(wasm, c, 'float32');
      for (const [name, values] of Object.entries(single[i]!)) {
        expect(Array.from(split[name]!), `${c.name}: ${name}`).toEqual(Array.from(values));
      }
    });
  });

  it('LeNet-sized convolutions and MLP-sized products at the default threshold', async () => {
    const x = makeOperand({ shape: [16, 6, 12, 12] }, 'float32', 'lenet/x');
    const w = makeOperand({ shape: [16, 6, 5, 5] }, 'float32', 'lenet/w');
    const gy = makeOperand({ shape: [16, 16, 8, 8] }, 'float32', 'lenet/gy');
    const a = makeOperand({ shape: [128, 300], order: [1, 0] }, 'float32', 'mlp/a');
    const b = makeOperand({ shape: [300, 203] }, 'float32', 'mlp/b');
    const geometry = { stride: [1, 1], padding: [1, 2], dilation: [1, 1], groups: 1 } as const;
    const all = () => [
      wasm.conv2d(x, w, geometry, 'float32'),
      wasm.conv2dBackwardWeight(x, gy, [16, 6, 5, 5], { ...geometry, padding: [0, 0] }, 'float32'),
      wasm.conv2dBackwardInput(gy, w, [16, 6, 12, 12], { ...geometry, padding: [0, 0] }, 'float32'),
      wasm.matmul(a, b, 'float32'),
    ];
    const single = all();
    await setWasmThreads(2);
    all().forEach((values, i) => expect(Array.from(values), `result ${i}`).toEqual(Array.from(single[i]!)));
  });

  it('nothing is split above the threshold, and the results are the same', async () => {
    const single = cases.map((c) => runParityCase(wasm, c, 'float32'));
    splitting.minMacsPerThread = Number.MAX_SAFE_INTEGER;
    splitting.minMacsPerThreadAsleep = Number.MAX_SAFE_INTEGER;
    await setWasmThreads(2);
    cases.forEach((c, i) => {
      const again = runParityCase(wasm, c, 'float32');
      for (const [name, values] of Object.entries(single[i]!)) expect(Array.from(again[name]!), `${c.name}: ${name}`).toEqual(Array.from(values));
    });
  });
});

describe.skipIf(!canThread)('a streamed product split along K', () => {
  // LeNet-5's two weight gradients at batch 128: K = 128·24·24 and 128·8·8, both streamed.
  const geometry = { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 } as const;
  const layers = [
    { x: [128, 1, 28, 28], gy: [128, 6, 24, 24], w: [6, 1, 5, 5] },
    { x: [128, 6, 12, 12], gy: [128, 16, 8, 8], w: [16, 6, 5, 5] },
  ] as const;
  const operands = layers.map((l, i) => [makeOperand({ shape: [...l.x] }, 'float32', `x${i}`), makeOperand({ shape: [...l.gy] }, 'float32', `gy${i}`)] as const);
  /** The gradients through the threads' runner: split along K where the pool (or `splitting.partitions`) says. */
  const gradients = () => layers.map((l, i) => Array.from(wasmConv2dBackwardWeight(wasmRuntime(), threadedRunner, operands[i]![0], operands[i]![1], [...l.w], geometry)!));
  /** The gradients on one thread with K cut into `partitions` (1: streamed whole, as without threads). */
  const oneThread = (partitions: number) => {
    splitting.partitions = partitions;
    try {
      return gradients();
    } finally {
      splitting.partitions = 0;
    }
  };

  it.each([
    [2, {}],
    [3, { spinMs: 0 }],
    // A worker that takes its job 30 ms late: the main thread computes every partition itself.
    [2, { stallMs: 30 }],
  ])('%i threads (%o): the bits of one thread cut into as many partitions (four a thread), close to one partition', async (threads, options) => {
    const whole = oneThread(1);
    const cut = oneThread(splitting.partitionsPerThread * threads);
    await setWasmThreads(threads, options);
    const split = gradients();
    split.forEach((values, i) => {
      expect(values, `layer ${i + 1}`).toEqual(cut[i]);
      const scale = Math.max(...whole[i]!.map(Math.abs));
      values.forEach((v, j) => expect(Math.abs(v - whole[i]![j]!), `layer ${i + 1} element ${j}`).toBeLessThan(1e-5 * scale));
    });
  });
  it('follow the requested threads from the call on: the same bits before the workers are ready', async () => {
    const cut = oneThread(splitting.partitionsPerThread * 2);
    const starting = setWasmThreads(2);
    expect(requestedWasmThreads()).toBe(2);
    expect(wasmThreads()).toBe(1); // no worker is ready yet: the main thread computes every partition
    const early = gradients();
    await starting;
    early.forEach((values, i) => expect(values, `layer ${i + 1}, before the workers`).toEqual(cut[i]));
    gradients().forEach((values, i) => expect(values, `layer ${i + 1}, with them`).toEqual(cut[i]));
    await setWasmThreads(1);
    expect(requestedWasmThreads()).toBe(1);
  });
});

describe.skipIf(!canThread)('an input gradient cut into blocks of images on the threads', () => {
  const cases = PARITY_CASES.filter((c) => c.kind === 'conv2d');
  // LeNet-5's second layer (6 → 16, 5×5) at batch 40: with one image a block, 40 blocks.
  const gy = makeOperand({ shape: [40, 16, 8, 8] }, 'float32', 'blocks/gy');
  const w = makeOperand({ shape: [16, 6, 5, 5] }, 'float32', 'blocks/w');
  const geometry = { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 } as const;
  const inputGradients = () => [
    ...cases.map((c) => Array.from(runParityCase(wasm, c, 'float32').gradInput ?? [])),
    Array.from(wasm.conv2dBackwardInput(gy, w, [40, 6, 12, 12], geometry, 'float32')),
  ];
  const names = [...cases.map((c) => c.name), 'LeNet-5 6 → 16 at batch 40'];

  it.each([2, 3])('%i threads, blocks of one image, of a few, or the whole batch: the one-thread bits (conv.ts)', async (threads) => {
    const single = inputGradients();
    expect(single.every((values) => values.length > 0)).toBe(true);
    splitting.minMacsPerThread = 1;
    splitting.minMacsPerThreadAsleep = 1;
    await setWasmThreads(threads, { spinMs: threads === 3 ? 0 : undefined });
    const split = vi.spyOn(threadedRunner, 'inputGradient');
    for (const bytes of [1, 40 << 10, Infinity]) {
      imageBlocking.bytes = bytes;
      inputGradients().forEach((values, i) => expect(values, `${names[i]}, ${bytes} bytes a block`).toEqual(single[i]));
    }
    expect(split.mock.results.some((r) => r.value !== undefined), 'split over the threads').toBe(true);
  });

  it('LeNet-5 at batch 128 is split at the default threshold', async () => {
    const gy128 = makeOperand({ shape: [128, 16, 8, 8] }, 'float32', 'blocks/gy128');
    const single = Array.from(wasm.conv2dBackwardInput(gy128, w, [128, 6, 12, 12], geometry, 'float32'));
    await setWasmThreads(2);
    const split = vi.spyOn(threadedRunner, 'inputGradient');
    expect(Array.from(wasm.conv2dBackwardInput(gy128, w, [128, 6, 12, 12], geometry, 'float32'))).toEqual(single);
    expect(split.mock.results[0]?.value).toBeInstanceOf(Float32Array);
  });
});

describe.skipIf(!canThread)('a direct convolution split into blocks of images', () => {
  // LeNet-5's first layer (1 → 6 5×5 on 28×28) at batch 64: the direct kernels (direct-conv.ts).
  const x = makeOperand({ shape: [64, 1, 28, 28] }, 'float32', 'direct/x');
  const w = makeOperand({ shape: [6, 1, 5, 5] }, 'float32', 'direct/w');
  const gy = makeOperand({ shape: [64, 6, 24, 24] }, 'float32', 'direct/gy');
  const geometry = { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 } as const;
  const d = convDims(x.shape, w.shape, geometry);
  /** The weight gradient on one thread with the batch cut into `partitions` (1: direct-conv.ts's, as without threads). */
  const oneThread = (partitions: number) => {
    splitting.partitions = partitions;
    try {
      return Array.from(threadedRunner.directConv!(wasmRuntime(), x, gy, d, true) ?? directConv2dBackwardWeight(wasmRuntime(), x, gy, d)!);
    } finally {
      splitting.partitions = 0;
    }
  };

  it.each([
    [2, {}],
    [3, { spinMs: 0 }],
  ])('%i threads (%o): the forward is the one-thread forward; the weight gradient the bits of one thread cut as finely', async (threads, options) => {
    const forward = Array.from(wasm.conv2d(x, w, geometry, 'float32'));
    const whole = oneThread(1);
    const cut = oneThread(splitting.partitionsPerThread * threads);
    splitting.minMacsPerThread = 1;
    splitting.minMacsPerThreadAsleep = 1;
    await setWasmThreads(threads, options);
    const split = vi.spyOn(threadedRunner, 'directConv');
    expect(Array.from(wasm.conv2d(x, w, geometry, 'float32')), 'forward').toEqual(forward);
    const gradient = Array.from(wasm.conv2dBackwardWeight(x, gy, w.shape, geometry, 'float32'));
    expect(gradient, 'weight gradient').toEqual(cut);
    const scale = Math.max(...whole.map(Math.abs));
    gradient.forEach((v, j) => expect(Math.abs(v - whole[j]!), `element ${j}`).toBeLessThan(1e-5 * scale));
    expect(split.mock.results.map((r) => r.value instanceof Float32Array)).toEqual([true, true]);
  });
});
