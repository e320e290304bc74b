/**
 * The wasm backend's float32 elementwise kernels (src/kernels/wasm/elementwise.ts: a ± b, a · b,
 * a / b, relu and relu's backward on staged copies) against the pure-TypeScript loops, to the
 * bit (NaN payloads aside): every staged layout — contiguous, a scalar, a bias row, a
 * per-channel [1, C, 1, 1], on either side, at offsets into larger arrays — sizes that are not
 * whole vectors, and per-channel runs of whole vectors (the kernel that splats the operand's
 * numbers), ±0, ±∞, NaN and subnormals; then the views it leaves to the cpu loop.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { getBackend, randn, setBackend, tensor } from '../../src/index.js';
import { cpuBackend } from '../../src/kernels/cpu/index.js';
import { stagedLayout, WASM_ELEMENTWISE_MIN, wasmMap, wasmZip } from '../../src/kernels/wasm/elementwise.js';
import { simdAvailable } from '../../src/kernels/wasm/index.js';
import { tryWasmRuntime } from '../../src/kernels/wasm/runtime.js';
import type { View } from '../../src/tensor/storage.js';
import { mulberry32 } from '../arbitraries.js';

/** The bits of each float, every NaN as one pattern (payloads are not specified). */
const bits = (a: ArrayLike<number>) => Array.from(new Uint32Array(Float32Array.from(a).buffer), (b, i) => (Number.isNaN(a[i]!) ? -1 : b));

function values(n: number, rng: () => number): Float32Array {
  const out = new Float32Array(n);
  const special = [0, -0, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN, 1e-40, -3e38];
  for (let i = 0; i < n; i++) out[i] = rng() < 0.03 ? special[Math.floor(rng() * special.length)]! : (2 * rng() - 1) * 2 ** Math.floor(40 * rng() - 20);
  return out;
}

const SHAPE = [3, 5, 17, 19]; // 4845 numbers: above WASM_ELEMENTWISE_MIN, not whole vectors
const contiguousStrides = [5 * 17 * 19, 17 * 19, 19, 1];
// Runs of 16 · 20 = 320 numbers (whole vectors): a per-channel operand takes the kernel that
// splats its numbers (runChannels) instead of being staged at the output's size.
const CHANNEL_RUNS_SHAPE = [3, 5, 16, 20];

/** An operand of `shape` in one of the staged layouts, its numbers at `offset` into a larger array. */
function operand(kind: 'contiguous' | 'scalar' | 'row' | 'channel', rng: () => number, shape = SHAPE): View {
  const [n, c, h, w] = shape as [number, number, number, number];
  const offset = Math.floor(rng() * 5);
  const strides = { contiguous: [c * h * w, h * w, w, 1], scalar: [0, 0, 0, 0], row: [0, 0, 0, 1], channel: [0, 1, 0, 0] }[kind];
  const size = { contiguous: n * c * h * w, scalar: 1, row: w, channel: c }[kind];
  return { data: values(offset + size + 2, rng), shape, strides, offset };
}

const KINDS = ['contiguous', 'scalar', 'row', 'channel'] as const;

describe.skipIf(!simdAvailable())('wasm elementwise kernels (f32x4 on staged copies)', () => {
  const previous = getBackend().name;
  afterEach(() => setBackend(previous));

  it('classifies the staged layouts and refuses the rest', () => {
    expect(stagedLayout(SHAPE, contiguousStrides)).toEqual({ repeats: 1, block: 4845, inner: 1 });
    expect(stagedLayout(SHAPE, [0, 1, 0, 0])).toEqual({ repeats: 3, block: 5, inner: 17 * 19 });
    expect(stagedLayout(SHAPE, [0, 0, 0, 1])).toEqual({ repeats: 3 * 5 * 17, block: 19, inner: 1 });
    expect(stagedLayout(SHAPE, [0, 0, 0, 0])).toEqual({ repeats: 1, block: 1, inner: 4845 });
    expect(stagedLayout([4, 1, 6], [6, 99, 1])).toEqual({ repeats: 1, block: 24, inner: 1 }); // size-1 axes ignored
    expect(stagedLayout([4, 6], [1, 4])).toBeNull(); // a transpose
    expect(stagedLayout([4, 6], [12, 1])).toBeNull(); // rows of a wider array
    expect(stagedLayout([4, 6, 2], [0, 1, 1])).toBeNull();
  });

  it('equals the cpu loops bit for bit on every staged layout, either side', () => {
    const rt = tryWasmRuntime('float32')!;
    expect(rt).not.toBeNull();
    fc.assert(
      fc.property(
        fc.constantFrom('add', 'sub', 'mul', 'div', 'reluBackward' as const),
        fc.constantFrom(...KINDS),
        fc.constantFrom(...KINDS),
        fc.constantFrom(SHAPE, CHANNEL_RUNS_SHAPE),
        fc.integer({ min: 0, max: 1 << 30 }),
        (fn, aKind, bKind, shape, seed) => {
          const rng = mulberry32(seed);
          const [a, b] = [operand(aKind, rng, shape), operand(bKind, rng, shape)];
          const got = wasmZip(rt, fn, a, b, shape.reduce((x, y) => x * y));
          expect(got).not.toBeNull();
          expect(bits(got!)).toEqual(bits(cpuBackend.zip(fn, a, b, 'float32')));
        },
      ),
      { numRuns: 120 },
    );
  });

  it('relu equals the cpu bit loop (−0 and −∞ to +0, NaN kept), and `into` receives the result', () => {
    const rt = tryWasmRuntime('float32')!;
    const rng = mulberry32(7);
    const x = operand('contiguous', rng);
    expect(bits(wasmMap(rt, 'relu', x, 4845)!)).toEqual(bits(cpuBackend.map('relu', x, 'float32')));
    const [a, b] = [operand('contiguous', rng), operand('channel', rng)];
    const into = new Float32Array(4845);
    expect(wasmZip(rt, 'mul', a, b, 4845, into)).toBe(into);
    expect(bits(into)).toEqual(bits(cpuBackend.zip('mul', a, b, 'float32')));
  });

  it('leaves views it cannot stage to the cpu loop, with the same numbers through the backend', () => {
    const rt = tryWasmRuntime('float32')!;
    const t = randn([80, 64], { seed: 3 });
    const transposed = t.transpose(0, 1);
    expect(wasmZip(rt, 'add', transposed, transposed, 80 * 64)).toBeNull();
    setBackend('wasm');
    const onWasm = transposed.add(t.transpose(0, 1).mul(2)).relu().toTypedArray();
    setBackend('cpu');
    const onCpu = transposed.add(t.transpose(0, 1).mul(2)).relu().toTypedArray();
    expect(bits(onWasm)).toEqual(bits(onCpu));
  });

  it('runs a bias add, ReLU and their backward through the backend as the cpu backend does (tensors above the threshold)', () => {
    const n = Math.ceil(WASM_ELEMENTWISE_MIN / 64) + 3;
    const run = () => {
      const x = randn([n, 64], { seed: 1 }).requireGrad();
      const bias = randn([64], { seed: 2 }).requireGrad();
      const y = x.add(bias).relu().mul(tensor(0.5)).div(randn([n, 64], { seed: 4 }));
      y.sum().backward();
      return [y, x.grad!, bias.grad!].map((v) => bits(v.toTypedArray()));
    };
    setBackend('wasm');
    const onWasm = run();
    setBackend('cpu');
    expect(onWasm).toEqual(run());
  });
});
