/**
 * Convolutions that the wasm backend's threads share as whole ops, in blocks of images (issue
 * #17: threads that split whole ops, not only each product's columns). threads.ts routes its
 * runner's `inputGradient` and `directConv` here; conv.ts and direct-conv.ts run the same
 * convolutions on one thread, so that a bundle that never starts threads carries none of this.
 *
 *   input gradient   for each block of a few images, ∂col [kdim, n·P] = W_gᵀ · G_g (the block's
 *                    columns of the GEMM, whose C then stays in the core's L2 cache) and col2im
 *                    of it onto the block's images, tap by tap in the order of conv.ts's col2im.
 *                    The blocks are disjoint images, and every pixel receives its terms in the
 *                    same order however the batch is cut and whichever thread computes it: the
 *                    result is conv.ts's one-thread result to the bit.
 *   direct forward   the emitted module's forward over each block of images (images are
 *                    independent: the one-thread result to the bit).
 *   direct ∂w        the batch cut into `splitting.partitionsPerThread` partitions per requested
 *                    thread, each summed into accumulators of its own and added in partition
 *                    order: like a streamed product's K partitions (conv.ts), the bits follow
 *                    the requested threads, not the timing.
 *
 * A worker compiles a direct module (emitted per geometry on the main thread) from the bytes
 * that the job points at, the first time it meets the module.
 */
import { allocateUnfilled, dtypeOf, type TypedArray } from '../../tensor/dtype.js';
import type { View } from '../../tensor/storage.js';
import type { ConvDims } from '../geometry.js';
import { convExports, type ConvExports } from './conv-module.js';
import { col2im, Layout, pack, placed, table, writeImage, writeTables, type Product } from './conv.js';
import { directExports, emitForward, emitWeightGradient, geometry, staged, type DirectExports, type Emitted } from './direct-conv.js';
import { ModuleBuilder } from './emitter.js';
import { blockDepth, blocking } from './gemm.js';
import { lanesOf, type GemmExports } from './gemm-module.js';
import { MAXIMUM_PAGES, align64, type WasmRuntime } from './runtime.js';

/** Job kinds in threads.ts's control area (after its BLOCKS = 0 and PARTITIONS = 1). */
export const IMAGES = 2;
export const DIRECT = 3;

/** What threads.ts lends these convolutions. */
export interface WholeOpThreads {
  /** Threads a job of `macs` multiply-adds in `blocks` blocks runs on now (1: not split), the workers it uses woken. */
  threadsFor(rt: WasmRuntime, macs: number, blocks: number): number;
  /** Run `job` (of `kind`) on `threads` threads, this thread's share by `compute`; false where no pool runs. */
  run(rt: WasmRuntime, kind: number, job: readonly number[], compute: (counter: Int32Array, at: number) => void, threads: number): boolean;
  /** Partitions of a direct weight gradient for the requested threads (1: none). */
  partitions(rt: WasmRuntime): number;
}

/**
 * ∂col bytes per image block of the input gradient: the block's [kdim, images·Ho·Wo] product
 * stays in a core's L2 cache until col2im reads it back (128 KiB–2 MiB measured alike on LeNet-5's
 * second layer). NOTE: exported so that the tests can cut a batch into blocks of one image.
 */
export const imageBlocking = { bytes: 256 << 10 };

// ---- the input gradient ------------------------------------------------------------------------

/**
 * The input gradient in image blocks on the threads, or undefined where one thread would run it
 * (conv.ts then does); null when it does not fit the memory.
 */
export function splitInputGradient(t: WholeOpThreads, rt: WasmRuntime, gy: View, w: View, d: ConvDims): TypedArray | null | undefined {
  const E = rt.elementBytes;
  const L = 16 / E;
  const MR = rt.tile.mr;
  const NR = lanesOf(rt.tile).lanes * rt.tile.nv;
  const mTiles = Math.ceil(d.kdim / MR);
  const perBlock = Math.max(1, Math.min(d.N, Math.floor(imageBlocking.bytes / (mTiles * MR * d.P * E))));
  const threads = t.threadsFor(rt, d.N * d.P * d.Coutg * d.kdim, Math.ceil(d.N / perBlock));
  if (threads < 2) return undefined;
  const size = d.N * d.Cin * d.H * d.W;
  const dx = allocateUnfilled(dtypeOf(gy.data), size);
  const tiles = Math.ceil((perBlock * d.P) / NR);
  const layout = new Layout();
  const a = layout.take(mTiles * MR * d.Coutg * E);
  // Thread t's packed B block at scratch + t·scratchBytes, its block of ∂col cOffset further.
  const cOffset = align64(tiles * NR * d.Coutg * E);
  const scratchBytes = cOffset + align64(mTiles * MR * tiles * NR * E);
  const scratch = layout.take(threads * scratchBytes);
  const dxAt = layout.take(E * size);
  const gyAt = layout.take(E * d.N * d.Cout * d.P);
  const wAt = layout.take(E * d.Cout * d.kdim);
  const weightCols = placed(table('weightCols', false, d, E, L), layout);
  const weightRows = placed(table('weightRows', true, d, E, L), layout);
  const gradPositions = placed(table('gradPositions', false, d, E, L), layout);
  const gradRows = placed(table('gradRows', true, d, E, L), layout);
  const taps = placed(col2imPlan(d, E), layout);
  if (!rt.reserve(layout.end)) return null;
  const mem = rt.elements();
  writeImage(mem, gyAt / E, gy, 0, 0);
  writeImage(mem, wAt / E, w, 0, 0);
  writeTables(rt, [weightCols, weightRows, gradPositions, gradRows, taps]);
  mem.fill(0, dxAt / E, dxAt / E + size);
  const ex = convExports(rt);
  const KC = blockDepth(d.Coutg);
  for (let g = 0; g < d.groups; g++) {
    pack(ex.packTableA, ex.packEdgeA, E, { image: wAt + E * g * d.Coutg * d.kdim, lines: weightCols, steps: weightRows }, d.kdim, MR, d.Coutg, KC, a);
    const job: ImageJob = [
      d.Coutg, KC, E, NR, mTiles, blocking.mcTiles, a, d.N, perBlock, d.P, tiles, gyAt + E * g * d.Coutg * d.P, gradPositions.at, gradRows.at,
      scratch, scratchBytes, cOffset, dxAt + E * g * d.Cg * d.H * d.W, E * d.Cin * d.H * d.W, taps.at, taps.values.length / TAP_WORDS, E * d.sh * d.W, E * d.Wo, E * d.sw,
    ];
    const compute = (counter: Int32Array, at: number) => inputGradientBlocks(counter, at, ex, rt.exports.gemm, new Int32Array(rt.memory.buffer), job, 0);
    if (!t.run(rt, IMAGES, job, compute, threads)) compute(new Int32Array(1), 0);
  }
  dx.set(rt.elements().subarray(dxAt / E, dxAt / E + size));
  return dx;
}

/**
 * col2im's plan: for each kernel tap k = (c, kh, kw) that meets the input, TAP_WORDS words —
 * where its first pixel lands in the group's first input image (bytes), k, where in row k of
 * ∂col its first term is (bytes), and how many output rows and columns land inside the input
 * — conv.ts's col2im's calls, recorded (so col2im itself, in the bundle, is unchanged). Built
 * once per geometry.
 */
const TAP_WORDS = 5;
const plans = new Map<string, Int32Array>();

function col2imPlan(d: ConvDims, E: number): Int32Array {
  const { N: _, ...dims } = d; // the same for every batch size
  const key = JSON.stringify({ ...dims, E });
  const cached = plans.get(key);
  if (cached) return cached;
  // conv.ts's col2im replayed on a recorder in place of the module: its addTap calls are the
  // plan, in its order. With ∂col at 0 and rows of P numbers, a call's source is E·(k·P + the
  // offset in row k), which the offset (< P numbers) lets split apart.
  const plan: number[] = [];
  const rowBytes = E * d.P;
  const recorder = {
    addTap(dst: number, src: number, _n: number, _nDst: number, _nSrc: number, rows: number, _rowDst: number, _rowSrc: number, count: number) {
      plan.push(dst, Math.floor(src / rowBytes), src % rowBytes, rows, count);
    },
  };
  col2im(recorder, { c: 0, ldc: d.P } as Product, 0, d, 0, E);
  const values = Int32Array.from(plan);
  if (plans.size >= 64) plans.clear(); // a few networks' layers
  plans.set(key, values);
  return values;
}

/**
 * An input gradient cut into blocks of images, as the numbers (byte addresses, sizes and
 * counts) that threads.ts copies into its control area: the product's depth (Coutg), its K
 * blocks, bytes per number and B columns per sliver; the A slivers (Wᵀ, packed at `a` for all
 * of K) and the GEMM's block of them; the images, images per block, output positions per image
 * and B slivers of a whole block; the output gradient's operand (the group's image, its line
 * table of positions and step table of channels); thread t's scratch; the group's input
 * gradient in image 0 and the bytes from one image to the next; col2im's plan and addTap's
 * strides.
 */
export type ImageJob = readonly [
  K: number, KC: number, E: number, NR: number, mTiles: number, mcTiles: number, a: number,
  N: number, perBlock: number, P: number, tiles: number, bImage: number, bLines: number, bSteps: number,
  scratch: number, scratchBytes: number, cOffset: number, dx: number, imageBytes: number,
  taps: number, tapCount: number, rowDst: number, rowSrc: number, colDst: number,
];

/**
 * Compute the image blocks of `job` this thread (`thread`: 0 the main one, w a worker) claims
 * (Atomics.add on counter[at]) until none is left: pack the block's output gradient as B into
 * the thread's scratch, multiply packed Wᵀ by it into the block's ∂col, and add ∂col onto the
 * block's images tap by tap. Run on every thread (as source text: it may use nothing outside
 * itself).
 */
export function inputGradientBlocks(counter: Int32Array, at: number, conv: ConvExports, gemm: GemmExports['gemm'], words: Int32Array, job: ImageJob, thread: number): void {
  const [K, KC, E, NR, mTiles, mcTiles, a, N, perBlock, P, tiles, bImage, bLines, bSteps, scratch, scratchBytes, cOffset, dx, imageBytes, taps, tapCount, rowDst, rowSrc, colDst] = job;
  const b = scratch + thread * scratchBytes;
  const c = b + cOffset;
  const ldc = tiles * NR * E;
  for (let q = Atomics.add(counter, at, 1); q * perBlock < N; q = Atomics.add(counter, at, 1)) {
    const n0 = q * perBlock;
    const images = Math.min(perBlock, N - n0);
    const columns = images * P;
    const slivers = Math.floor(columns / NR);
    const lines = bLines + 4 * n0 * P;
    for (let pc = 0; pc < K; pc += KC) {
      const kc = Math.min(KC, K - pc);
      const dst = b + pc * tiles * NR * E;
      if (slivers > 0) conv.packTableB(dst, bImage, lines, bSteps + 4 * pc, kc, slivers);
      if (columns > slivers * NR) conv.packEdgeB(dst + slivers * kc * NR * E, bImage, lines + 4 * slivers * NR, bSteps + 4 * pc, kc, columns - slivers * NR);
    }
    gemm(K, KC, a, b, c, mTiles, tiles, 0, Math.ceil(columns / NR), mcTiles);
    for (let t = taps / 4, end = t + 5 * tapCount; t < end; t += 5) {
      conv.addTap(dx + n0 * imageBytes + words[t]!, c + words[t + 1]! * ldc + words[t + 2]!, images, imageBytes, E * P, words[t + 3]!, rowDst, rowSrc, words[t + 4]!, colDst);
    }
  }
}

// ---- the direct convolutions -------------------------------------------------------------------

/**
 * A direct module as worker threads get it, keyed by the main thread's instance (direct-conv.ts
 * keeps it): the bytes they compile, emitted again from the geometry, and the number by which
 * each worker keeps its own instance.
 */
interface DirectModule {
  exports: DirectExports;
  bytes: Uint8Array<ArrayBuffer>;
  id: number;
}
const shared = new WeakMap<DirectExports, DirectModule>();
let modulesShared = 0;

function directModule(rt: WasmRuntime, g: Emitted, weightGradient: boolean): DirectModule {
  const exports = directExports(rt, g, weightGradient);
  let m = shared.get(exports);
  if (!m) {
    const module = new ModuleBuilder({ initialPages: 1, maximumPages: MAXIMUM_PAGES, shared: rt.shared });
    module.add(weightGradient ? emitWeightGradient(g) : emitForward(g));
    m = { exports, bytes: module.build(), id: ++modulesShared };
    shared.set(exports, m);
  }
  return m;
}

/**
 * A direct convolution (`weightGradient`: its weight gradient; `other` is w or gy) on the
 * threads, or undefined where direct-conv.ts runs it on one thread; null when it does not fit.
 */
export function splitDirectConv(t: WholeOpThreads, rt: WasmRuntime, x: View, other: View, d: ConvDims, weightGradient: boolean): TypedArray | null | undefined {
  const partitions = weightGradient ? Math.min(d.N, t.partitions(rt)) : d.N;
  const threads = t.threadsFor(rt, d.N * d.Cout * d.P * d.kdim, partitions);
  if (weightGradient ? partitions < 2 : threads < 2) return undefined;
  // The forward's bits do not depend on the blocks: a few a thread, so that a late one leaves its share to the others.
  const blocks = weightGradient ? partitions : Math.min(d.N, 4 * threads);
  const g = geometry(rt, d);
  const m = directModule(rt, g, weightGradient);
  const out = allocateUnfilled(dtypeOf(x.data), weightGradient ? d.Cout * d.kdim : d.N * d.Cout * d.P);
  const accBytes = 16 * out.length;
  // The module's bytes after the result.
  const resultBytes = align64(weightGradient ? blocks * accBytes : g.E * out.length);
  const at = staged(rt, g, x, other, resultBytes + m.bytes.length);
  if (!at) return null;
  const moduleAt = at[2] + resultBytes;
  new Uint8Array(rt.memory.buffer).set(m.bytes, moduleAt);
  const mem = rt.elements();
  const result = at[2] / g.E;
  if (weightGradient) mem.fill(0, result, result + (blocks * accBytes) / g.E);
  const job: DirectJob = [
    m.id, moduleAt, m.bytes.length, weightGradient ? 1 : 0, at[2], at[0], at[1],
    weightGradient ? accBytes : g.E * d.Cout * d.P, g.E * d.Cin * g.Hx * g.Wx, weightGradient ? g.E * d.Cout * d.P : 0, d.N, blocks,
  ];
  const compute = (counter: Int32Array, at: number) => directBlocks(counter, at, m.exports, job);
  if (!t.run(rt, DIRECT, job, compute, threads)) compute(new Int32Array(1), 0);
  if (!weightGradient) {
    out.set(mem.subarray(result, result + out.length));
    return out;
  }
  // The partitions' accumulators onto the first, in partition order; then its lanes.
  const lanes = g.L * out.length;
  for (let q = 1; q < blocks; q++) for (let i = 0; i < lanes; i++) mem[result + i]! += mem[result + (q * accBytes) / g.E + i]!;
  for (let i = 0; i < out.length; i++) {
    let s = 0;
    for (let l = 0; l < g.L; l++) s += mem[result + i * g.L + l]!;
    out[i] = s;
  }
  return out;
}

/**
 * A direct convolution cut into blocks of images, as numbers (byte addresses and counts): the
 * module's number and where its bytes are; 1 for weightGradient(out, x, gy, images) or 0 for
 * forward(out, x, w, images); out, x, and w or gy; the bytes from one image of out to the next
 * (forward) or from one block's accumulators to the next (gradient), from one image of x to the
 * next, and of gy (0: w, the same for every image); the images and the blocks.
 */
export type DirectJob = readonly [
  module: number, moduleAt: number, moduleBytes: number, gradient: number, out: number, x: number, other: number,
  outStep: number, xStep: number, otherStep: number, N: number, blocks: number,
];

/**
 * Compute the blocks of `job` this thread claims (Atomics.add on counter[at]) until none is
 * left: block q takes images [⌊q·N/blocks⌋, ⌊(q+1)·N/blocks⌋); the forward writes its outputs
 * in place, the weight gradient adds into block q's accumulators. Run on every thread (as
 * source text: it may use nothing outside itself).
 */
export function directBlocks(counter: Int32Array, at: number, ex: DirectExports, job: DirectJob): void {
  const [, , , gradient, out, x, other, outStep, xStep, otherStep, N, blocks] = job;
  for (let q = Atomics.add(counter, at, 1); q < blocks; q = Atomics.add(counter, at, 1)) {
    const n0 = Math.floor((q * N) / blocks);
    const images = Math.floor(((q + 1) * N) / blocks) - n0;
    if (images === 0) continue;
    if (gradient === 1) ex.weightGradient(out + q * outStep, x + n0 * xStep, other + n0 * otherStep, images);
    else ex.forward(out + n0 * outStep, x + n0 * xStep, other, images);
  }
}
