/**
 * conv2d and its two backward convolutions (float32 or float64) on the WebAssembly GEMM, as implicit
 * GEMMs over the whole batch at once.
 *
 * For group g, with k = (c, kh, kw) a kernel tap and j = (n, oh, ow) an output position of any
 * image, the im2col matrix is
 *
 *   col[k, j] = x[n, g·Cg + c, oh·sh − ph + kh·dh, ow·sw − pw + kw·dw]     (0 in the padding)
 *
 * a [Cg·KH·KW, N·Ho·Wo] matrix, and the three convolutions are three products:
 *
 *   forward          Y_g  [Coutg, N·P] = W_g [Coutg, kdim] · col [kdim, N·P]
 *   weight gradient  ∂W_g [Coutg, kdim] = G_g [Coutg, N·P] · colᵀ [N·P, kdim]
 *   input gradient   ∂col [kdim, N·P]   = W_gᵀ [kdim, Coutg] · G_g [Coutg, N·P],  then col2im
 *
 * Each call copies its tensors into the runtime's memory once, as contiguous images (the input
 * with its zero border, so that padding needs no test), and every operand is a table matrix
 * over an image: element (line, step) at image + lines[line] + steps[step], two byte-offset
 * tables in memory (col: line or step = tap k, relative to a window's corner, and output
 * position j, where window j's corner is; G and W likewise). The column matrix never exists:
 * the convolution module (conv-module.ts) packs GEMM panels straight from the image, where
 * the layout allows by runs — at stride 1 the R output positions of a B sliver in one image row
 * read R adjacent input numbers for every tap, and a line of colᵀ reads adjacent numbers
 * along an output row — and one number at a time elsewhere. The GEMM module multiplies; the
 * forward result is copied out of memory in runs of Ho·Wo; the input gradient's col2im adds
 * ∂col back onto an image in memory, one module call per tap, and that image is copied out
 * once. Stacking the batch into
 * the columns gives the micro-kernel one wide product instead of N thin ones (LeNet's first
 * layer would otherwise be 6×25 · 25×784 per image). The weight gradient is then a deep
 * product (K = N·Ho·Wo) with a small C: it is packed and multiplied one K block at a time, so
 * that its panels stay in cache (`multiplyStreamed`), and threads split it along K (threads.ts's
 * `stream`), since C has too few columns to share.
 *
 * The tables depend only on the geometry, so they are built once per geometry and kept (the
 * same layers run every step). Packing and col2im move numbers unchanged, and col2im adds in
 * the same order as the JavaScript loops it replaced, so the results are those of the earlier
 * JavaScript packers to the bit (LeNet-5's convolutions: 1.5–3× faster, forward and both
 * backward passes, float32 and float64; the micro-benchmark is bench/micro/conv-pool.mjs).
 *
 * Depthwise convolutions (one channel in and out per group) would be 1-row products, all
 * padding for a 4×8 tile; the backend keeps them on the pure-TypeScript direct loops.
 */
import { isContiguous, type Shape } from '../../tensor/shape.js';
import type { View } from '../../tensor/storage.js';
import { allocate, allocateUnfilled, dtypeOf, type FloatArray, type TypedArray } from '../../tensor/dtype.js';
import { convDims, type Conv2dGeometry, type ConvDims } from '../geometry.js';
import { convExports, type ConvExports } from './conv-module.js';
import { blockDepth, blocking, type GemmRunner } from './gemm.js';
import { lanesOf, type GemmExports } from './gemm-module.js';
import { SMALL_PRODUCT } from './matmul.js';
import { CONTROL_BYTES, align64, type WasmRuntime } from './runtime.js';

/**
 * Whether the wasm path takes this convolution: not depthwise, nothing empty, and more
 * multiply-adds than the matmul crossover (SMALL_PRODUCT in matmul.ts).
 */
export function wasmConvApplies(xShape: Shape, wShape: Shape, g: Conv2dGeometry): boolean {
  const d = convDims(xShape, wShape, g);
  const macs = d.N * d.Cout * d.P * d.kdim;
  return !(d.Cg === 1 && d.Coutg === 1) && macs > SMALL_PRODUCT && d.N * d.Cin * d.H * d.W > 0;
}

// ---- offset tables -------------------------------------------------------------------------

/**
 * The tables of one geometry, in bytes, over contiguous images in memory: the input padded to
 * [N, Cin, Hp, Wp], the output gradient [N, Cout, Ho, Wo] and the weight [Cout, Cg, KH, KW].
 * Each is relative to its image's group g block (the caller adds the group's offset).
 */
export type TableKind =
  | 'taps' // col's rows: tap k = (c, kh, kw) relative to a window's corner in the padded input
  | 'positions' // col's columns: window j = (n, oh, ow)'s corner in the padded input
  | 'gradRows' // G's rows: output channel co of the group in the output gradient
  | 'gradPositions' // G's columns: j = (n, oh, ow) in the output gradient
  | 'weightRows' // W's rows: output channel co of the group
  | 'weightCols'; // W's columns: tap k

function tableValues(kind: TableKind, d: ConvDims, E: number): Int32Array {
  const Hp = d.H + 2 * d.ph;
  const Wp = d.W + 2 * d.pw;
  switch (kind) {
    case 'taps': {
      const t = new Int32Array(d.kdim);
      for (let c = 0, k = 0; c < d.Cg; c++) {
        for (let kh = 0; kh < d.KH; kh++) for (let kw = 0; kw < d.KW; kw++, k++) t[k] = E * ((c * Hp + kh * d.dh) * Wp + kw * d.dw);
      }
      return t;
    }
    case 'positions': {
      const t = new Int32Array(d.N * d.P);
      for (let n = 0, j = 0; n < d.N; n++) {
        for (let oh = 0; oh < d.Ho; oh++) for (let ow = 0; ow < d.Wo; ow++, j++) t[j] = E * ((n * d.Cin * Hp + oh * d.sh) * Wp + ow * d.sw);
      }
      return t;
    }
    case 'gradRows':
      return Int32Array.from({ length: d.Coutg }, (_, co) => E * co * d.P);
    case 'gradPositions': {
      const t = new Int32Array(d.N * d.P);
      for (let n = 0, j = 0; n < d.N; n++) for (let p = 0; p < d.P; p++, j++) t[j] = E * (n * d.Cout * d.P + p);
      return t;
    }
    case 'weightRows':
      return Int32Array.from({ length: d.Coutg }, (_, co) => E * co * d.kdim);
    case 'weightCols':
      return Int32Array.from({ length: d.kdim }, (_, k) => E * k);
  }
}

/**
 * Mark a table used for steps: bit 0 of entry p is set when entries p … p+L−1 are adjacent
 * numbers (each E bytes past the one before), which lets the packer load them as one vector.
 */
function flagAdjacentSteps(t: Int32Array, E: number, L: number): Int32Array {
  const flagged = t.slice();
  for (let p = 0; p + L <= t.length; p++) {
    let adjacent = true;
    for (let i = 1; i < L && adjacent; i++) adjacent = t[p + i] === t[p]! + i * E;
    if (adjacent) flagged[p]! |= 1;
  }
  return flagged;
}

/**
 * Tables built so far, by geometry, role and element size, least recently used first: a few
 * networks' layers' worth, at most TABLE_CACHE_BYTES in all (a table larger than a quarter of
 * that is built each time instead).
 */
const tableCache = new Map<string, Int32Array>();
const TABLE_CACHE_BYTES = 32 << 20;
let cachedBytes = 0;

/** The table `kind` of geometry d, flagged for use as steps if `asSteps` (built once per geometry). */
export function table(kind: TableKind, asSteps: boolean, d: ConvDims, E: number, L: number): Int32Array {
  const key = `${kind}/${asSteps}/${E}/${d.N},${d.Cin},${d.H},${d.W},${d.Cout},${d.Cg},${d.KH},${d.KW},${d.sh},${d.sw},${d.ph},${d.pw},${d.dh},${d.dw}`;
  const cached = tableCache.get(key);
  if (cached) {
    tableCache.delete(key); // and back in as the most recently used
    tableCache.set(key, cached);
    return cached;
  }
  const values = tableValues(kind, d, E);
  const t = asSteps ? flagAdjacentSteps(values, E, L) : values;
  if (t.byteLength <= TABLE_CACHE_BYTES / 4) {
    tableCache.set(key, t);
    cachedBytes += t.byteLength;
    for (const [oldest, old] of tableCache) {
      if (cachedBytes <= TABLE_CACHE_BYTES) break;
      tableCache.delete(oldest);
      cachedBytes -= old.byteLength;
    }
  }
  return t;
}

// ---- memory ---------------------------------------------------------------------------------

/** Regions of a memory for one call, handed out in order from `end` (CONTROL_BYTES in a runtime's). */
export class Layout {
  /** @param end The first byte past the regions handed out so far. */
  constructor(public end = CONTROL_BYTES) {}

  /** A region of `bytes` bytes, cache-line aligned; returns its byte address. */
  take(bytes: number): number {
    const at = this.end;
    this.end += align64(bytes);
    return at;
  }
}

/** One offset table: its values and its byte address in memory. */
export interface Table {
  values: Int32Array;
  at: number;
}

/** A table matrix over an image in memory: element (line, step) at image + lines[line] + steps[step] (bytes). */
export interface Operand {
  image: number;
  lines: Table;
  steps: Table;
}

/** The regions and sizes of one product C [m × n] = A [m × k] · B [k × n]. */
export interface Product {
  m: number;
  n: number;
  k: number;
  MR: number;
  NR: number;
  mTiles: number;
  nTiles: number;
  KC: number;
  /** Byte addresses of packed A, packed B and the padded C. */
  a: number;
  b: number;
  c: number;
  /** Elements per padded row of C. */
  ldc: number;
}

/** Lay out a product's A, B and C as gemm.ts does (and tell the runner its size). */
function product(rt: WasmRuntime, run: GemmRunner, layout: Layout, m: number, n: number, k: number): Product {
  const MR = rt.tile.mr;
  const NR = lanesOf(rt.tile).lanes * rt.tile.nv;
  const E = rt.elementBytes;
  const mTiles = Math.ceil(m / MR);
  const nTiles = Math.ceil(n / NR);
  run.prepare?.(rt, mTiles, nTiles, k);
  const KC = blockDepth(k);
  const a = layout.take(mTiles * MR * k * E);
  const b = layout.take(nTiles * NR * k * E);
  const c = layout.take(mTiles * MR * nTiles * NR * E);
  return { m, n, k, MR, NR, mTiles, nTiles, KC, a, b, c, ldc: nTiles * NR };
}

/** A table placed in the layout (written into memory by `writeTables`). */
export function placed(values: Int32Array, layout: Layout): Table {
  return { values, at: layout.take(4 * values.length) };
}

export function writeTables(rt: WasmRuntime, tables: readonly Table[]): void {
  const words = new Int32Array(rt.memory.buffer);
  for (const t of tables) words.set(t.values, t.at / 4);
}

/**
 * Copy a 4-D view into memory as a contiguous array at element `at`, inside a zero border of
 * ph rows and pw columns around each plane ([N, C, H + 2·ph, W + 2·pw]).
 */
export function writeImage(mem: FloatArray, at: number, v: View, ph: number, pw: number): void {
  const [N, C, H, W] = v.shape as [number, number, number, number];
  const [s0, s1, s2, s3] = v.strides as [number, number, number, number];
  const Hp = H + 2 * ph;
  const Wp = W + 2 * pw;
  const src = v.data;
  if (ph === 0 && pw === 0 && isContiguous(v.shape, v.strides)) {
    mem.set(src.subarray(v.offset, v.offset + N * C * H * W), at);
    return;
  }
  if (ph > 0 || pw > 0) mem.fill(0, at, at + N * C * Hp * Wp);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      for (let h = 0; h < H; h++) {
        let s = v.offset + n * s0 + c * s1 + h * s2;
        let t = at + ((n * C + c) * Hp + h + ph) * Wp + pw;
        if (s3 === 1 && W >= 64) mem.set(src.subarray(s, s + W), t);
        else for (const end = t + W; t < end; t++, s += s3) mem[t] = src[s]!;
      }
    }
  }
}

// ---- packing ---------------------------------------------------------------------------------

/**
 * Pack `x` into slivers of R lines, K block after K block, from byte `dst` on, in the layout
 * of gemm-module.ts. The first `skip` whole slivers are left to the threads of a split product
 * (threads.ts).
 */
export function pack(whole: ConvExports['packTableA'], edge: ConvExports['packEdgeA'], E: number, x: Operand, lineCount: number, R: number, K: number, KC: number, dst: number, skip = 0): void {
  for (let pc = 0; pc < K; pc += KC) {
    const kc = Math.min(KC, K - pc);
    packBlock(whole, edge, E, x, lineCount, R, pc, kc, dst, skip);
    dst += Math.ceil(lineCount / R) * kc * R * E;
  }
}

/**
 * Pack the K block [pc, pc + kc) of `x` into slivers of R lines at byte `dst`: whole slivers by
 * the module's table packer, the edge sliver (lines past `lineCount` zero) by its edge packer,
 * the first `skip` whole slivers left out.
 */
function packBlock(whole: ConvExports['packTableA'], edge: ConvExports['packEdgeA'], E: number, x: Operand, lineCount: number, R: number, pc: number, kc: number, dst: number, skip = 0): void {
  const slivers = Math.floor(lineCount / R);
  if (slivers > skip) whole(dst + skip * kc * R * E, x.image, x.lines.at + 4 * skip * R, x.steps.at + 4 * pc, kc, slivers - skip);
  if (lineCount > slivers * R) edge(dst + slivers * kc * R * E, x.image, x.lines.at + 4 * slivers * R, x.steps.at + 4 * pc, kc, lineCount - slivers * R);
}

/**
 * When a product streams (`streams`): its packed A and B would take at least `minPackedBytes`,
 * and C at most `maxTiles` register tiles (one call from JavaScript each per K block). NOTE:
 * exported so that the tests can force it and switch it off.
 */
export const streaming = { minPackedBytes: 1 << 20, maxTiles: 256 };

/** Whether a product of mTiles × nTiles tiles (MR × NR numbers each) over k steps in K blocks of KC streams (`multiplyStreamed`). */
export const streams = (mTiles: number, nTiles: number, MR: number, NR: number, k: number, KC: number, E: number) =>
  k > KC && (mTiles * MR + nTiles * NR) * k * E >= streaming.minPackedBytes && mTiles * nTiles <= streaming.maxTiles;

/** Pack A and B of one product and run it. */
function multiply(rt: WasmRuntime, ex: ConvExports, run: GemmRunner, p: Product, a: Operand, b: Operand): void {
  const E = rt.elementBytes;
  if (streams(p.mTiles, p.nTiles, p.MR, p.NR, p.k, p.KC, E)) {
    // C has too few tiles to share: threads split K instead (threads.ts), else one thread streams.
    if (!run.stream?.(rt, p, a, b)) multiplyStreamed(rt, ex, p, a, b);
    return;
  }
  const threads = run.threadsFor?.(rt, p.mTiles, p.nTiles, p.k) ?? 1;
  pack(ex.packTableA, ex.packEdgeA, E, a, p.m, p.MR, p.k, p.KC, p.a);
  // A product split over threads: each thread packs the whole B slivers of the blocks it claims (threads.ts).
  const slivers = threads > 1 ? Math.floor(p.n / p.NR) : 0;
  pack(ex.packTableB, ex.packEdgeB, E, b, p.n, p.NR, p.k, p.KC, p.b, slivers);
  const packB = { kind: 4, slivers, columns: p.n, image: b.image, lines: b.lines.at, steps: b.steps.at, lineBytes: 0, stepBytes: 0, strideBytes: 0, data: 0 } as const;
  run(rt, { K: p.k, KC: p.KC, a: p.a, b: p.b, c: p.c, mTiles: p.mTiles, nTiles: p.nTiles, mcTiles: blocking.mcTiles, ...(slivers > 0 && { packB }) });
}

/**
 * A deep product with a small C (a weight gradient: K = N·Ho·Wo), one K block at a time: pack
 * the block of A and of B at the start of their regions, where they stay in cache, and
 * multiply them at once, tile by tile. Packing all of K first would write and read back
 * 8–11 MB for LeNet-5's weight gradients, which is what bounded them. The tiles see the same
 * K blocks in the same order, storing on the first and adding on the others, as the module's
 * gemm does: the result is the same to the bit.
 */
function multiplyStreamed(rt: WasmRuntime, ex: ConvExports, p: Product, a: Operand, b: Operand): void {
  streamPartitions(new Int32Array(1), 0, ex, rt.exports.tile, streamJob(rt.elementBytes, p, a, b, 1, 0, 0));
}

/** The StreamJob of product p over operands a and b, cut into `partitions` (partial Cs from byte `partials`, `partialBytes` apart). */
export function streamJob(E: number, p: Product, a: Operand, b: Operand, partitions: number, partials: number, partialBytes: number): StreamJob {
  return {
    K: p.k, KC: p.KC, E, MR: p.MR, NR: p.NR, m: p.m, n: p.n, mTiles: p.mTiles, nTiles: p.nTiles,
    aImage: a.image, aLines: a.lines.at, aSteps: a.steps.at, bImage: b.image, bLines: b.lines.at, bSteps: b.steps.at,
    a: p.a, b: p.b, c: p.c, partials, partialBytes, partitions,
  };
}

/** A convolution's streamed product cut into K partitions, as numbers in the control area (byte addresses). */
export interface StreamJob {
  K: number;
  KC: number;
  /** Bytes per number. */
  E: number;
  MR: number;
  NR: number;
  /** Lines of A and of B (rows and columns of C). */
  m: number;
  n: number;
  mTiles: number;
  nTiles: number;
  /** A's and B's operands (conv.ts's Operand): image, line table and step table. */
  aImage: number;
  aLines: number;
  aSteps: number;
  bImage: number;
  bLines: number;
  bSteps: number;
  /** Packed A and B regions (partition q packs its K blocks q blocks in), C, the partial Cs (partition q's at partials + (q − 1)·partialBytes). */
  a: number;
  b: number;
  c: number;
  partials: number;
  partialBytes: number;
  partitions: number;
}

/** The StreamJob's fields in the order of the control area's words from JOB. */
export const STREAM_JOB_FIELDS = ['K', 'KC', 'E', 'MR', 'NR', 'm', 'n', 'mTiles', 'nTiles', 'aImage', 'aLines', 'aSteps', 'bImage', 'bLines', 'bSteps', 'a', 'b', 'c', 'partials', 'partialBytes', 'partitions'] as const;

/**
 * Compute the K partitions of `j` this thread claims (Atomics.add on counter[at]) until none is
 * left, as conv.ts's multiplyStreamed computes a whole product: partition q takes K blocks
 * [q·B/P, (q+1)·B/P) of the B = ⌈K/KC⌉, packs each block of A and of B at its own place (q
 * blocks into the packed regions) and multiplies it into C (q = 0) or its partial C, storing on
 * its first block and adding on the others. One partition is the one-thread streamed product;
 * threads.ts runs more on the main thread and on every worker (as source text: it may use
 * nothing outside itself).
 */
export function streamPartitions(counter: Int32Array, at: number, conv: ConvExports, tile: GemmExports['tile'], j: StreamJob): void {
  const blocks = Math.ceil(j.K / j.KC);
  const ldc = j.nTiles * j.NR * j.E;
  // Block [pc, pc + kc) of an operand into slivers of R lines at dst: whole slivers, then the zero-padded edge (conv.ts's packBlock).
  const pack = (whole: ConvExports['packTableA'], edge: ConvExports['packEdgeA'], image: number, lines: number, steps: number, count: number, R: number, pc: number, kc: number, dst: number) => {
    const slivers = Math.floor(count / R);
    if (slivers > 0) whole(dst, image, lines, steps + 4 * pc, kc, slivers);
    if (count > slivers * R) edge(dst + slivers * kc * R * j.E, image, lines + 4 * slivers * R, steps + 4 * pc, kc, count - slivers * R);
  };
  for (let q = Atomics.add(counter, at, 1); q < j.partitions; q = Atomics.add(counter, at, 1)) {
    const a = j.a + q * j.mTiles * j.MR * j.KC * j.E;
    const b = j.b + q * j.nTiles * j.NR * j.KC * j.E;
    const c = q === 0 ? j.c : j.partials + (q - 1) * j.partialBytes;
    const first = Math.floor((q * blocks) / j.partitions) * j.KC;
    const end = Math.min(j.K, Math.floor(((q + 1) * blocks) / j.partitions) * j.KC);
    for (let pc = first; pc < end; pc += j.KC) {
      const kc = Math.min(j.KC, j.K - pc);
      pack(conv.packTableA, conv.packEdgeA, j.aImage, j.aLines, j.aSteps, j.m, j.MR, pc, kc, a);
      pack(conv.packTableB, conv.packEdgeB, j.bImage, j.bLines, j.bSteps, j.n, j.NR, pc, kc, b);
      for (let jt = 0; jt < j.nTiles; jt++) {
        for (let it = 0; it < j.mTiles; it++) tile(kc, a + it * kc * j.MR * j.E, b + jt * kc * j.NR * j.E, c + it * j.MR * ldc + jt * j.NR * j.E, ldc, pc - first);
      }
    }
  }
}

// ---- the three convolutions (null: too large for the memory; the caller falls back) -------

/** Backend.conv2d on the GEMM module, per group; null when the product does not fit the memory (the caller falls back to cpu). */
export function wasmConv2d(rt: WasmRuntime, run: GemmRunner, x: View, w: View, geometry: Conv2dGeometry): TypedArray | null {
  const d = convDims(x.shape, w.shape, geometry);
  const out = allocateUnfilled(dtypeOf(x.data), d.N * d.Cout * d.P);
  if (out.length === 0) return out;
  const E = rt.elementBytes;
  const L = 16 / E;
  const layout = new Layout();
  // Y_g [Coutg, N·P] = W_g [Coutg, kdim] · col [kdim, N·P]
  const p = product(rt, run, layout, d.Coutg, d.N * d.P, d.kdim);
  const Hp = d.H + 2 * d.ph;
  const Wp = d.W + 2 * d.pw;
  const xAt = layout.take(E * d.N * d.Cin * Hp * Wp);
  const wAt = layout.take(E * d.Cout * d.kdim);
  const weightRows = placed(table('weightRows', false, d, E, L), layout);
  const weightCols = placed(table('weightCols', true, d, E, L), layout);
  const positions = placed(table('positions', false, d, E, L), layout);
  const taps = placed(table('taps', true, d, E, L), layout);
  if (!rt.reserve(layout.end)) return null;
  const mem = rt.elements();
  writeImage(mem, xAt / E, x, d.ph, d.pw);
  writeImage(mem, wAt / E, w, 0, 0);
  writeTables(rt, [weightRows, weightCols, positions, taps]);
  const ex = convExports(rt);
  for (let g = 0; g < d.groups; g++) {
    const weight = { image: wAt + E * g * d.Coutg * d.kdim, lines: weightRows, steps: weightCols };
    const col = { image: xAt + E * g * d.Cg * Hp * Wp, lines: positions, steps: taps };
    multiply(rt, ex, run, p, weight, col);
    // Row co of Y_g holds channel g·Coutg + co of every image, Ho·Wo numbers each.
    const c = p.c / E;
    for (let co = 0; co < d.Coutg; co++) {
      for (let n = 0; n < d.N; n++) {
        const from = c + co * p.ldc + n * d.P;
        const to = (n * d.Cout + g * d.Coutg + co) * d.P;
        if (d.P >= 16) out.set(mem.subarray(from, from + d.P), to);
        else for (let q = 0; q < d.P; q++) out[to + q] = mem[from + q]!;
      }
    }
  }
  return out;
}

/** Backend.conv2dBackwardWeight on the GEMM module, per group; null when the product does not fit the memory. */
export function wasmConv2dBackwardWeight(rt: WasmRuntime, run: GemmRunner, x: View, gy: View, weightShape: Shape, geometry: Conv2dGeometry): TypedArray | null {
  const d = convDims(x.shape, weightShape, geometry);
  if (d.Cout * d.kdim === 0 || d.N * d.P === 0) return allocate(dtypeOf(x.data), d.Cout * d.kdim); // an empty sum is 0
  const out = allocateUnfilled(dtypeOf(x.data), d.Cout * d.kdim);
  const E = rt.elementBytes;
  const L = 16 / E;
  const layout = new Layout();
  // ∂W_g [Coutg, kdim] = G_g [Coutg, N·P] · colᵀ [N·P, kdim], or its transpose
  // ∂W_gᵀ = col · G_gᵀ when that pads fewer rows and columns to whole tiles (as gemm.ts picks).
  const MR = rt.tile.mr;
  const NR = lanesOf(rt.tile).lanes * rt.tile.nv;
  const padded = (rows: number, cols: number) => Math.ceil(rows / MR) * MR * Math.ceil(cols / NR) * NR;
  const flip = padded(d.kdim, d.Coutg) < padded(d.Coutg, d.kdim);
  const p = flip ? product(rt, run, layout, d.kdim, d.Coutg, d.N * d.P) : product(rt, run, layout, d.Coutg, d.kdim, d.N * d.P);
  const Hp = d.H + 2 * d.ph;
  const Wp = d.W + 2 * d.pw;
  const xAt = layout.take(E * d.N * d.Cin * Hp * Wp);
  const gyAt = layout.take(E * d.N * d.Cout * d.P);
  const gradRows = placed(table('gradRows', false, d, E, L), layout);
  const gradPositions = placed(table('gradPositions', true, d, E, L), layout);
  const taps = placed(table('taps', false, d, E, L), layout);
  const positions = placed(table('positions', true, d, E, L), layout);
  if (!rt.reserve(layout.end)) return null;
  const mem = rt.elements();
  writeImage(mem, xAt / E, x, d.ph, d.pw);
  writeImage(mem, gyAt / E, gy, 0, 0);
  writeTables(rt, [gradRows, gradPositions, taps, positions]);
  const ex = convExports(rt);
  for (let g = 0; g < d.groups; g++) {
    const grad = { image: gyAt + E * g * d.Coutg * d.P, lines: gradRows, steps: gradPositions };
    const col = { image: xAt + E * g * d.Cg * Hp * Wp, lines: taps, steps: positions };
    if (flip) multiply(rt, ex, run, p, col, grad);
    else multiply(rt, ex, run, p, grad, col);
    const c = p.c / E;
    for (let co = 0; co < d.Coutg; co++) {
      const to = (g * d.Coutg + co) * d.kdim;
      if (flip) for (let k = 0; k < d.kdim; k++) out[to + k] = mem[c + k * p.ldc + co]!;
      else out.set(mem.subarray(c + co * p.ldc, c + co * p.ldc + d.kdim), to);
    }
  }
  return out;
}

/** Backend.conv2dBackwardInput on the GEMM module, per group; null when the product does not fit the memory. */
export function wasmConv2dBackwardInput(rt: WasmRuntime, run: GemmRunner, gy: View, w: View, inputShape: Shape, geometry: Conv2dGeometry): TypedArray | null {
  const d = convDims(inputShape, w.shape, geometry);
  const size = d.N * d.Cin * d.H * d.W;
  if (size === 0 || d.N * d.P === 0 || d.Coutg === 0) return allocate(dtypeOf(gy.data), size); // an empty sum is 0
  const dx = allocateUnfilled(dtypeOf(gy.data), size);
  const E = rt.elementBytes;
  const L = 16 / E;
  const layout = new Layout();
  // ∂col [kdim, N·P] = W_gᵀ [kdim, Coutg] · G_g [Coutg, N·P], always in this orientation:
  // col2im then reads ∂col along its rows, in runs.
  const p = product(rt, run, layout, d.kdim, d.N * d.P, d.Coutg);
  const dxAt = layout.take(E * size);
  const gyAt = layout.take(E * d.N * d.Cout * d.P);
  const wAt = layout.take(E * d.Cout * d.kdim);
  const weightCols = placed(table('weightCols', false, d, E, L), layout);
  const weightRows = placed(table('weightRows', true, d, E, L), layout);
  const gradPositions = placed(table('gradPositions', false, d, E, L), layout);
  const gradRows = placed(table('gradRows', true, d, E, L), layout);
  if (!rt.reserve(layout.end)) return null;
  const mem = rt.elements();
  writeImage(mem, gyAt / E, gy, 0, 0);
  writeImage(mem, wAt / E, w, 0, 0);
  writeTables(rt, [weightCols, weightRows, gradPositions, gradRows]);
  mem.fill(0, dxAt / E, dxAt / E + size);
  const ex = convExports(rt);
  for (let g = 0; g < d.groups; g++) {
    const weightT = { image: wAt + E * g * d.Coutg * d.kdim, lines: weightCols, steps: weightRows };
    const grad = { image: gyAt + E * g * d.Coutg * d.P, lines: gradPositions, steps: gradRows };
    multiply(rt, ex, run, p, weightT, grad);
    col2im(ex, p, g, d, dxAt, E);
  }
  dx.set(rt.elements().subarray(dxAt / E, dxAt / E + size));
  return dx;
}

/**
 * Add each entry of ∂col [kdim, N·P] (row k of the product at p.c) onto the input pixel it
 * was unfolded from, in the image [N, Cin, H, W] at byte dxAt; taps that fall into the padding
 * are dropped. Tap by tap in order k = (c, kh, kw), so every pixel receives its terms in the
 * same order as before; for each tap only the output rows and columns that land inside the
 * input are visited (no bounds test per element), one module call per tap.
 */
export function col2im(ex: Pick<ConvExports, 'addTap'>, p: Product, g: number, d: ConvDims, dxAt: number, E: number): void {
  const range = (k: number, stride: number, pad: number, dil: number, size: number, count: number): [number, number] => {
    const start = k * dil - pad;
    const lo = Math.min(count, start >= 0 ? 0 : Math.ceil(-start / stride));
    const hi = Math.min(count, Math.floor((size - 1 - start) / stride) + 1);
    return [lo, Math.max(lo, hi)];
  };
  for (let c = 0, k = 0; c < d.Cg; c++) {
    for (let kh = 0; kh < d.KH; kh++) {
      const [ohLo, ohHi] = range(kh, d.sh, d.ph, d.dh, d.H, d.Ho);
      const hStart = kh * d.dh - d.ph;
      for (let kw = 0; kw < d.KW; kw++, k++) {
        const [owLo, owHi] = range(kw, d.sw, d.pw, d.dw, d.W, d.Wo);
        if (ohHi === ohLo || owHi === owLo) continue;
        const wStart = kw * d.dw - d.pw;
        const dst = dxAt + E * (((g * d.Cg + c) * d.H + ohLo * d.sh + hStart) * d.W + owLo * d.sw + wStart);
        const src = p.c + E * (k * p.ldc + ohLo * d.Wo + owLo);
        ex.addTap(dst, src, d.N, E * d.Cin * d.H * d.W, E * d.P, ohHi - ohLo, E * d.sh * d.W, E * d.Wo, owHi - owLo, E * d.sw);
      }
    }
  }
}
