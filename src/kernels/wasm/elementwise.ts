/**
 * The float32 elementwise kernels of a training step — a + b, a − b, a · b, a / b, relu and
 * relu's backward g · [y > 0] — as f32x4 SIMD on the runtime's memory: each operand staged
 * into the memory by native copies and fills, four lanes per instruction, the result copied
 * out into a fresh array. Inside tidy the operands and results that are resident tensors
 * (resident.ts) are read and written in place in the heap instead (placement.ts), and only the
 * rest is staged.
 *
 * Why the round trip pays: V8's loops over a Float32Array run at ≈ 0.8–1.3 ns an element on
 * this host (scalar loads and stores, a float conversion each way; relu and its backward more),
 * while TypedArray.set and fill are memcpy/memset at ≈ 0.1–0.2 ns an element and the vector
 * loop less. Measured on LeNet-5's activations (bench/micro/elementwise.mjs staged, best of
 * many, CPU time): relu 2.2–2.4× faster, relu's backward 1.6–1.7×, an add 1.3–1.4×, a
 * per-channel add 1.2–1.3× ([128, 6, 24, 24] and [128, 16, 8, 8]); the staging copies are most
 * of what is left, which resident tensors remove.
 *
 * Staging covers the layouts a model's elementwise ops have, each operand walking the output
 * [R, B, I] (size-1 axes dropped) as a row-major block of B numbers repeated R times, each
 * number repeated I times: contiguous (R = I = 1), a scalar (B = 1), a bias row [N] over
 * [batch, N] (I = 1), a per-channel [1, C, 1, 1] over [N, C, H, W] (R = N, I = H·W). The block
 * is written once (set, or one fill per number) and doubled with copyWithin. A second operand
 * whose numbers each cover a run of whole vectors (a per-channel operand over H·W a multiple of
 * 4, or a scalar) is not staged at the output's size at all: its B numbers are copied once and
 * the kernel splats each over its run (`runChannels`: LeNet-5's per-channel add 1.3–1.5× faster
 * than staged). Any other view (permuted, sliced along an inner axis) runs on the cpu kernel.
 *
 * Results are the cpu kernels' to the bit: f32x4 add, sub, mul and div round the exact result
 * to float32 as the scalar loop's double-precision result rounded on its store does (a double
 * holds the exact sum or product of two floats, and rounding a double quotient to float32
 * equals float32 division); relu is a bit mask (lanes x > 0 or NaN kept, others +0, as
 * SIGN_MASKS.relu), and relu's backward multiplies g by 1 or 0 as the scalar form does.
 */
import { allocateUnfilled } from '../../tensor/dtype.js';
import type { Shape } from '../../tensor/shape.js';
import type { View } from '../../tensor/storage.js';
import type { BinaryFn, UnaryFn } from '../scalar.js';
import { FunctionBuilder, I32, V128 } from './emitter.js';
import { Placement } from './placement.js';
import { kernelModule, type KernelMemory } from './runtime.js';

/**
 * Below this many elements the JavaScript loop is cheaper than staging (and the call): an add
 * of 1024 numbers is 0.74× as fast staged, of 4096 1.03× (bench/micro/elementwise.mjs staged).
 */
export const WASM_ELEMENTWISE_MIN = 4096;

/** SIMD opcodes of the kernels below (WebAssembly SIMD, §5.4.8). */
const OP = {
  f32x4Gt: 0x44,
  f32x4Ne: 0x42,
  v128And: 0x4e,
  v128Or: 0x50,
  f32x4Add: 0xe4,
  f32x4Sub: 0xe5,
  f32x4Mul: 0xe6,
  f32x4Div: 0xe7,
} as const;

/** The binary functions with a kernel here. */
const BINARY_KERNELS = ['add', 'sub', 'mul', 'div', 'reluBackward'] as const;
type KernelBinary = (typeof BINARY_KERNELS)[number];

/** The binary functions with a kernel for a per-channel second operand (`emitChannelLoop`). */
const CHANNEL_KERNELS = ['add', 'sub', 'mul', 'div'] as const;
type ChannelBinary = (typeof CHANNEL_KERNELS)[number];
/** Those whose operands may be swapped (a + b and a · b round alike either way). */
const COMMUTATIVE: ReadonlySet<string> = new Set(['add', 'mul']);

/** The unary functions with a kernel here. */
const UNARY_KERNELS = ['relu'] as const;
type KernelUnary = (typeof UNARY_KERNELS)[number];

/**
 * `name(out, a, b, vectors)` (or `name(out, x, vectors)` for a unary one): `vectors` groups of
 * four lanes from byte addresses out, a (, b), 16-byte aligned. `lanes` pushes the result of
 * one group from the loaded operands' locals.
 */
function emitLoop(name: string, arity: 1 | 2, lanes: (f: FunctionBuilder, operands: number[]) => void): FunctionBuilder {
  const f = new FunctionBuilder(name, arity === 2 ? [I32, I32, I32, I32] : [I32, I32, I32]);
  const out = 0;
  const pointers = arity === 2 ? [1, 2] : [1];
  const count = arity + 1;
  const loaded = pointers.map(() => f.local(V128));
  f.countedLoop(count, () => {
    pointers.forEach((p, i) => f.localGet(p).v128Load().localSet(loaded[i]!));
    f.localGet(out);
    lanes(f, loaded);
    f.v128Store();
    for (const p of [out, ...pointers]) f.bump(p, 16);
  });
  return f;
}

const BINARY_LANES: Record<KernelBinary, (f: FunctionBuilder, [a, b]: number[]) => void> = {
  add: (f, [a, b]) => f.localGet(a!).localGet(b!).simdOp(OP.f32x4Add),
  sub: (f, [a, b]) => f.localGet(a!).localGet(b!).simdOp(OP.f32x4Sub),
  mul: (f, [a, b]) => f.localGet(a!).localGet(b!).simdOp(OP.f32x4Mul),
  div: (f, [a, b]) => f.localGet(a!).localGet(b!).simdOp(OP.f32x4Div),
  // g · [y > 0]: the comparison's all-ones lanes masked to the bits of 1.0, then a product.
  reluBackward: (f, [g, y]) =>
    f.localGet(g!).localGet(y!).f32x4Const(0).simdOp(OP.f32x4Gt).f32x4Const(1).simdOp(OP.v128And).simdOp(OP.f32x4Mul),
};

/**
 * `<fn>Channels(out, a, values, repeats, channels, vectors)`: out = a fn b, where b holds one
 * number per run of `vectors` four-lane groups — values[c] for the c-th run of each of
 * `repeats` blocks of `channels` runs (a per-channel operand [1, C, 1, 1] over [N, C, H, W], read
 * from its C numbers instead of staged at the output's size).
 */
function emitChannelLoop(fn: ChannelBinary): FunctionBuilder {
  const f = new FunctionBuilder(`${fn}Channels`, [I32, I32, I32, I32, I32, I32]);
  const [out, a, values, repeats, channels, vectors] = [0, 1, 2, 3, 4, 5];
  const [c, i, p, x, v] = [f.local(I32), f.local(I32), f.local(I32), f.local(V128), f.local(V128)];
  f.countedLoop(repeats, () => {
    f.localGet(values).localSet(p).localGet(channels).localSet(c);
    f.countedLoop(c, () => {
      f.localGet(p).v128Load32Splat().localSet(v);
      f.bump(p, 4);
      f.localGet(vectors).localSet(i);
      f.countedLoop(i, () => {
        f.localGet(a).v128Load().localSet(x);
        f.localGet(out);
        BINARY_LANES[fn](f, [x, v]);
        f.v128Store();
        for (const q of [out, a]) f.bump(q, 16);
      });
    });
  });
  return f;
}

const UNARY_LANES: Record<KernelUnary, (f: FunctionBuilder, [x]: number[]) => void> = {
  // Keep the lanes with x > 0 or x NaN, clear the others to +0.
  relu: (f, [x]) =>
    f.localGet(x!).localGet(x!).f32x4Const(0).simdOp(OP.f32x4Gt) // [x, x > 0]
      .localGet(x!).localGet(x!).simdOp(OP.f32x4Ne) // [x, x > 0, x ≠ x]
      .simdOp(OP.v128Or).simdOp(OP.v128And),
};

/** `(out, a, b, vectors)` or `(out, x, vectors)`: byte addresses, then the count of four-lane groups. */
type Kernel = (out: number, ...operandsThenVectors: number[]) => void;

const instances = new WeakMap<KernelMemory, Record<string, Kernel>>();
const kernels = (rt: KernelMemory) =>
  kernelModule(instances, rt, () => [
    ...BINARY_KERNELS.map((fn) => emitLoop(fn, 2, BINARY_LANES[fn])),
    ...UNARY_KERNELS.map((fn) => emitLoop(fn, 1, UNARY_LANES[fn])),
    ...CHANNEL_KERNELS.map(emitChannelLoop),
  ]);

/**
 * How an operand walks a loop over `shape`: a row-major block of `block` numbers repeated
 * `repeats` times, each number repeated `inner` times (see the file comment), or null.
 */
export function stagedLayout(shape: Shape, strides: readonly number[]): { repeats: number; block: number; inner: number } | null {
  let inner = 1;
  let block = 1;
  let repeats = 1;
  let d = shape.length - 1;
  for (; d >= 0 && (shape[d] === 1 || strides[d] === 0); d--) inner *= shape[d]!;
  for (; d >= 0 && (shape[d] === 1 || strides[d] === block); d--) block *= shape[d]!;
  for (; d >= 0; d--) {
    if (shape[d] !== 1 && strides[d] !== 0) return null;
    repeats *= shape[d]!;
  }
  return { repeats, block, inner };
}

type StagedLayout = NonNullable<ReturnType<typeof stagedLayout>>;

/** Write view `v` (walking the output as `layout` says) into mem[at …]. */
function stage(mem: Float32Array, at: number, v: View, { repeats, block, inner }: StagedLayout): void {
  const data = v.data as Float32Array;
  if (inner === 1) mem.set(data.subarray(v.offset, v.offset + block), at);
  else for (let i = 0; i < block; i++) mem.fill(data[v.offset + i]!, at + i * inner, at + (i + 1) * inner);
  // Double the written prefix until it holds every repeat.
  const period = block * inner;
  const total = period * repeats;
  for (let have = period; have < total; have *= 2) mem.copyWithin(at + have, at, at + Math.min(have, total - have));
}

/** The functions with a kernel here, for the per-call check. */
const KERNEL_FNS: ReadonlySet<string> = new Set([...BINARY_KERNELS, ...UNARY_KERNELS]);

/** Whether a float32 call of `n` numbers is worth this path (the operands' layouts are checked when staged). */
export function wasmElementwiseApplies(fn: string, n: number, dtype: string): boolean {
  return dtype === 'float32' && n >= WASM_ELEMENTWISE_MIN && KERNEL_FNS.has(fn);
}

/**
 * Kernel `name` over `operands` (each walking the output as `layouts` say, n numbers) into
 * `into` or a new array (inside tidy a resident one), placed by placement.ts: contiguous
 * operands and a new result are used in place where they are resident, the rest staged. An
 * operand that repeats along the output is always staged at the output's size (`stage`), and
 * with `channel` ([b, its layout]) b's block of numbers is placed once for the channel kernel to
 * splat (runChannels). `into` is never written in place (an operand may view it). Null when the
 * memory cannot hold the call (the caller runs the cpu kernel).
 */
function run(rt: KernelMemory, name: string, operands: readonly View[], layouts: readonly StagedLayout[], n: number, into?: Float32Array, channel?: [View, StagedLayout]): Float32Array | null {
  const result = into ?? (allocateUnfilled('float32', n) as Float32Array);
  const p = new Placement(rt, [result, ...operands.map((v) => v.data)]);
  const out = p.output(result, n, !into && p.here(result));
  const at = operands.map((v, i) => {
    const layout = layouts[i]!;
    return layout.repeats * layout.inner === 1 ? p.input(v, n) : p.staged(n, (mem, where) => stage(mem, where, v, layout));
  });
  const values = channel ? p.input(channel[0], channel[1].block) : 0;
  if (!p.ready()) return null;
  const ex = kernels(p.mem)[name]!;
  if (channel) {
    const { repeats, block, inner } = channel[1];
    ex(out, at[0]!, values, repeats, block, inner / 4);
  } else {
    ex(out, ...at, Math.ceil(n / 4));
  }
  p.finish();
  return result;
}

/** The staged layouts of `operands` over `shape`, or null when one cannot be staged (see stagedLayout). */
function layoutsOf(operands: readonly View[], shape: Shape): StagedLayout[] | null {
  const layouts = operands.map((v) => (v.data instanceof Float32Array ? stagedLayout(shape, v.strides) : null));
  return layouts.every(Boolean) ? (layouts as StagedLayout[]) : null;
}

/** Backend.zip for a float32 call wasmElementwiseApplies accepts (a and b have the output's shape), on a float32 memory; see run. */
export function wasmZip(rt: KernelMemory, fn: BinaryFn, a: View, b: View, n: number, into?: Float32Array): Float32Array | null {
  const layouts = layoutsOf([a, b], a.shape);
  return runChannels(rt, fn, a, b, n, into) ?? (COMMUTATIVE.has(fn) ? runChannels(rt, fn, b, a, n, into) : null) ?? (layouts && run(rt, fn, [a, b], layouts, n, into));
}

/**
 * `a fn b` where b is one number per run of at least four along the output (a per-channel
 * operand: stagedLayout's inner a multiple of 4): b's block of numbers copied once, the kernel
 * splatting each over its run. Staging b at the output's size would write and read it back in
 * full. Null when the layouts do not fit (the caller stages).
 */
function runChannels(rt: KernelMemory, fn: string, a: View, b: View, n: number, into?: Float32Array): Float32Array | null {
  const layouts = (CHANNEL_KERNELS as readonly string[]).includes(fn) ? layoutsOf([a, b], a.shape) : null;
  return layouts && layouts[1]!.inner % 4 === 0 ? run(rt, `${fn}Channels`, [a], layouts, n, into, [b, layouts[1]!]) : null;
}

/** Backend.map for a float32 call wasmElementwiseApplies accepts; see run. */
export function wasmMap(rt: KernelMemory, fn: UnaryFn, x: View, n: number): Float32Array | null {
  const layouts = layoutsOf([x], x.shape);
  return layouts && run(rt, fn, [x], layouts, n);
}
