/**
 * Results the WebAssembly kernels copy out into arrays that are not zeroed first
 * (allocateUnfilled, src/tensor/dtype.ts). Every such kernel must write each element: here the
 * unzeroed memory is poisoned (every byte 0xff: NaN in a float, −1 in an int32), and whole
 * model steps must give the same loss and gradients, to the bit, as with zeroed arrays.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { crossEntropy, getBackend, getMaxTensorBytes, gradients, lenet5, mlp, randn, setBackend, setMaxTensorBytes } from '../../src/index.js';
import { wasmConv2dBackwardInput, wasmConv2dBackwardWeight } from '../../src/kernels/wasm/conv.js';
import { runOnOneThread } from '../../src/kernels/wasm/gemm.js';
import { wasmRuntime } from '../../src/kernels/wasm/runtime.js';
import { allocateUnfilled } from '../../src/tensor/dtype.js';
import { simdAvailable } from '../../src/kernels/wasm/index.js';
import type { Module } from '../../src/nn/module.js';

const NodeBuffer = globalThis.Buffer;
const realAllocUnsafeSlow = NodeBuffer.allocUnsafeSlow;

/** Run `f` with Buffer.allocUnsafeSlow handing out poisoned memory; returns f's value and how many buffers it handed out. */
function poisoned<T>(f: () => T): { value: T; buffers: number } {
  let buffers = 0;
  NodeBuffer.allocUnsafeSlow = (size: number) => {
    buffers++;
    return realAllocUnsafeSlow(size).fill(0xff);
  };
  try {
    return { value: f(), buffers };
  } finally {
    NodeBuffer.allocUnsafeSlow = realAllocUnsafeSlow;
  }
}

/** The loss and every parameter gradient of one step, as arrays. */
function step(model: Module, x: ReturnType<typeof randn>, y: Int32Array): Float32Array[] {
  const loss = crossEntropy(model.forward(x), y);
  return [loss, ...gradients([loss], model.parameters())].map((t) => t.toTypedArray() as Float32Array);
}

describe('allocateUnfilled', () => {
  afterEach(() => setMaxTensorBytes(4 * 2 ** 30));

  it('gives arrays of the dtype and length asked, each over an ArrayBuffer of its own', () => {
    for (const [dtype, Type] of [['float32', Float32Array], ['float64', Float64Array], ['int32', Int32Array]] as const) {
      for (const size of [0, 10, 1 << 15, 100_003]) {
        const a = allocateUnfilled(dtype, size, 'test');
        expect(a).toBeInstanceOf(Type);
        expect([a.length, a.byteOffset, a.buffer.byteLength]).toEqual([size, 0, size * Type.BYTES_PER_ELEMENT]);
      }
    }
  });

  it('keeps the per-tensor limit and its message', () => {
    setMaxTensorBytes(1 << 20);
    expect(getMaxTensorBytes()).toBe(1 << 20);
    expect(() => allocateUnfilled('float32', 1 << 19, 'conv2d')).toThrow(/conv2d: a float32 tensor of 524288 elements \(2\.0 MiB\) exceeds the limit of 1\.0 MiB/);
  });
});

describe.skipIf(!simdAvailable())('wasm kernels write every element of an unfilled result', () => {
  const previous = getBackend().name;
  afterEach(() => setBackend(previous));

  const y = new Int32Array(128).map((_, i) => (i * 7) % 10);
  const cases: [string, () => Module, number[]][] = [
    ['LeNet-5, BatchNorm in eval mode', () => lenet5({ seed: 3 }).eval(), [128, 1, 28, 28]],
    ['LeNet-5, BatchNorm in train mode', () => lenet5({ seed: 3 }).train(), [128, 1, 28, 28]],
    ['MLP 784-256-256-10', () => mlp([784, 256, 256, 10], { seed: 3 }), [128, 784]],
  ];
  for (const [name, build, shape] of cases) {
    it(name, () => {
      setBackend('wasm');
      const x = randn(shape, { seed: 4 });
      const zeroed = step(build(), x, y);
      const { value, buffers } = poisoned(() => step(build(), x, y));
      expect(buffers).toBeGreaterThan(0); // the kernels took the unfilled path
      expect(value.map((a) => Array.from(a))).toEqual(zeroed.map((a) => Array.from(a)));
      for (const a of value) expect(a.every(Number.isFinite)).toBe(true);
    });
  }

  it('the convolution kernels still give zeros for an empty sum (their early returns)', () => {
    // The backend sends an empty batch to the cpu kernel; the wasm kernels' own guards are
    // reached by direct calls.
    const rt = wasmRuntime('float32');
    const geometry = { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 } as const;
    const empty = (shape: number[]) => ({ data: new Float32Array(0), shape, strides: shape.map(() => 0), offset: 0 });
    const { value } = poisoned(() => [
      wasmConv2dBackwardWeight(rt, runOnOneThread, empty([0, 64, 4, 4]), empty([0, 64, 3, 3]), [64, 64, 2, 2], geometry)!,
      wasmConv2dBackwardInput(rt, runOnOneThread, empty([16, 0, 3, 3]), empty([0, 64, 2, 2]), [16, 64, 4, 4], geometry)!,
    ]);
    expect(value.map((a) => a.length)).toEqual([64 * 64 * 2 * 2, 16 * 64 * 4 * 4]);
    for (const a of value) expect(a.every((v) => v === 0)).toBe(true);
  });
});
