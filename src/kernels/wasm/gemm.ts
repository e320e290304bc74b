/**
 * C = A·B on the WebAssembly GEMM module (float32 or float64): JavaScript packs, WebAssembly multiplies.
 *
 * Every operand is a `TableMatrix`: element (i, j) is data[rows[i] + cols[j]]. A strided
 * matrix is the special case rows[i] = offset + i·rowStride, cols[j] = j·colStride, so a
 * transposed view (Aᵀ·B, A·Bᵀ in every backward pass) is the same matrix with its two tables
 * swapped, and is never copied transposed. The im2col matrix of a convolution is another
 * case (rows = kernel taps, cols = output positions; see conv.ts), so the column matrix is
 * never written out either ("implicit GEMM").
 *
 * Steps of one product:
 * 1. Pick the orientation, C or Cᵀ = Bᵀ·Aᵀ, that pads fewer rows and columns to whole tiles.
 * 2. Pack A into MR-row slivers and B into NR-column slivers, each KC-deep slice of K after the
 *    other, zero-padded to whole tiles — the order in which the micro-kernel reads them
 *    (gemm-module.ts has the layout). Each element is read once, whatever its strides.
 *    A plain strided float32 operand (one of its strides 1) is first copied into the memory
 *    with one `Float32Array.set` and its whole slivers are packed by the module's SIMD
 *    packers; any other operand, and the edge slivers, are packed here through the tables.
 * 3. Run the module's `gemm` (split over threads where enabled); it stores C, so C is not zeroed.
 * 4. The caller copies the valid part of C out of the memory (`copyOut`).
 *
 * Sums accumulate in the operands' type: float32 sums in float32 (as in TensorFlow.js's WASM
 * backend and on GPUs), not in float64 as on the pure-TypeScript backend — the error is
 * ≈ √K·2⁻²⁴ relative, ≈ 6e-5 at K = 1024.
 */
import type { FloatArray, TypedArray } from '../../tensor/dtype.js';
import { lanesOf, type SliverPacker } from './gemm-module.js';
import { CONTROL_BYTES, align64, type WasmRuntime } from './runtime.js';
import type { Operand, Product as ConvProduct } from './conv.js';
import type { Conv2dGeometry, ConvDims } from '../geometry.js';
import type { Shape } from '../../tensor/shape.js';
import type { View } from '../../tensor/storage.js';

/** A matrix read through two offset tables: element (i, j) = data[rows[i] + cols[j]]. */
export interface TableMatrix {
  /** The storage the elements are read from (of the product's float type). */
  readonly data: TypedArray;
  /** Offset in `data` of row i's contribution, one entry per row. */
  readonly rows: Int32Array;
  /** Offset in `data` of column j's contribution, one entry per column. */
  readonly cols: Int32Array;
  /** Set when the tables are arithmetic: rows[i] = offset + i·rowStride, cols[j] = j·colStride. */
  readonly strides?: {
    /** Index in `data` of element (0, 0). */
    readonly offset: number;
    /** Step in `data` between rows. */
    readonly rowStride: number;
    /** Step in `data` between columns (1 lets the SIMD packers take whole slivers). */
    readonly colStride: number;
  };
}

/** The table form of the strided matrix data[offset + i·rowStride + j·colStride], m × n. */
export function stridedMatrix(data: TypedArray, offset: number, m: number, n: number, rowStride: number, colStride: number): TableMatrix {
  return { data, rows: arithmetic(m, offset, rowStride), cols: arithmetic(n, 0, colStride), strides: { offset, rowStride, colStride } };
}

/** [start, start + step, …], `count` entries. */
export function arithmetic(count: number, start: number, step: number): Int32Array {
  const table = new Int32Array(count);
  for (let i = 0, v = start; i < count; i++, v += step) table[i] = v;
  return table;
}

/** The same numbers read as the transposed matrix. */
export function transposed(x: TableMatrix): TableMatrix {
  const s = x.strides;
  return { data: x.data, rows: x.cols, cols: x.rows, strides: s && { offset: s.offset, rowStride: s.colStride, colStride: s.rowStride } };
}

/**
 * Cache blocking, in steps of K and in A slivers: a B sliver (KC·NR·4 B = 8 KiB) stays in L1
 * while the block of A slivers (mcTiles·MR·KC·4 B = 128 KiB) it meets stays in L2.
 * NOTE: exported so that the micro-benchmark can tune them; 128–512 for kc and 16–64 for
 * mcTiles measured within noise of each other on the reference machine.
 */
export const blocking = {
  /** KC: steps of K per packed slice. */
  kc: 256,
  /** A slivers per block (each MR rows), kept in L2 while the B slivers stream past. */
  mcTiles: 32,
};

/** KC for a product of depth k: K in equal blocks of at most blocking.kc steps (784 = 2·392, not 512 + 272). */
export const blockDepth = (k: number) => (k === 0 ? 1 : Math.ceil(k / Math.ceil(k / blocking.kc)));

/** Where the padded product sits in memory, for `copyOut`. */
export interface Product {
  /** Float index of C[0][0] in the memory's Float32Array. */
  readonly c: number;
  /** Floats per padded row of C. */
  readonly ldc: number;
  /** True if the memory holds Cᵀ (the product was computed as Bᵀ·Aᵀ). */
  readonly transposed: boolean;
}

/** One call of the module's `gemm` over the B slivers [n0, n1): what a thread receives. */
export interface GemmCall {
  /** Depth of the product (columns of A, rows of B). */
  K: number;
  /** Steps of K per packed slice (blocking.kc, or less). */
  KC: number;
  /** Byte address of packed A in the runtime's memory. */
  a: number;
  /** Byte address of packed B. */
  b: number;
  /** Byte address of C, padded to whole tiles. */
  c: number;
  /** A slivers: ⌈M / MR⌉. */
  mTiles: number;
  /** B slivers: ⌈N / NR⌉ (the range a thread takes is a part of these). */
  nTiles: number;
  /** A slivers per cache block (blocking.mcTiles). */
  mcTiles: number;
  /** B slivers left for the threads to pack, each those of the blocks it claims (see DeferredPack); absent: B is packed. */
  packB?: DeferredPack;
}

/**
 * The B slivers of a split product that `multiply` leaves unpacked, so that each thread packs
 * the slivers of the blocks it claims just before it multiplies them (threads.ts): packing
 * then runs in parallel too, and each thread's slivers are in its own cache. Four kinds, all
 * reading only the shared memory:
 *  - kind 1 or 2: the whole slivers [0, slivers), by the module's packCopyB (1) or
 *    packTransposeB (2) from the copy of B at `image` (line l, step p at image + l·lineBytes +
 *    p·stepBytes; `strideBytes` is the packer's stride argument); the partial last sliver is
 *    packed beforehand;
 *  - kind 3: every sliver, in JavaScript, through B's tables copied into the memory: element
 *    (p, j) is f32[data + steps[p] + lines[j]] with `steps` and `lines` Int32 indices of the
 *    memory, j < `columns`;
 *  - kind 4: the whole slivers [0, slivers), by the convolution module's packTableB
 *    (conv-module.ts) from an image in memory: element (p, j) at byte image + lines[j] +
 *    steps[p], `lines` and `steps` byte addresses of Int32 tables (conv.ts packs the edge
 *    sliver beforehand).
 */
export interface DeferredPack {
  /** 1: packCopyB from an image; 2: packTransposeB from an image; 3: through tables; 4: the convolution module's packTableB. */
  readonly kind: 1 | 2 | 3 | 4;
  /** Slivers left to the threads: [0, slivers). */
  readonly slivers: number;
  /** Columns of B (the last sliver holds columns − (slivers − 1)·NR of them, the rest zeros). */
  readonly columns: number;
  /** Kinds 1, 2, 4: byte address of B's copy in memory. */
  readonly image: number;
  /** Kinds 1, 2: bytes between lines (columns of B) of the image. */
  readonly lineBytes: number;
  /** Kinds 1, 2: bytes between steps (rows of B) of the image. */
  readonly stepBytes: number;
  /** Kinds 1, 2: the packer's stride argument (bytes). */
  readonly strideBytes: number;
  /** Kind 3: float index of B's data (its lowest referenced element). */
  readonly data: number;
  /** Kind 3: Int32 index of the column table (offset of column j, relative to `data`); kind 4: its byte address. */
  readonly lines: number;
  /** Kind 3: Int32 index of the row table (offset of step p); kind 4: its byte address. */
  readonly steps: number;
}

/**
 * Runs a GemmCall over all its B slivers (on one thread, or split over threads). A runner
 * that splits products says how (threads.ts): `threadsFor` is how many threads a product of
 * that size would run on — `multiply` then picks the orientation by padded work per thread and
 * leaves B's packing to those threads (`packB`) — and `prepare` is called before packing starts
 * (threads.ts wakes sleeping workers then, so that their wake-up overlaps the packing).
 */
export type GemmRunner = ((rt: WasmRuntime, call: GemmCall) => void) & {
  /** Threads a product of `mTiles` A slivers, `nTiles` B slivers and depth K would run on (1 if absent). */
  readonly threadsFor?: (rt: WasmRuntime, mTiles: number, nTiles: number, K: number) => number;
  /** Called with the product's A slivers, B slivers and depth before packing starts. */
  readonly prepare?: (rt: WasmRuntime, mTiles: number, nTiles: number, K: number) => void;
  /** Compute a convolution's streamed product on the threads, split along K; false: not split (conv.ts streams it on this thread). */
  readonly stream?: (rt: WasmRuntime, p: ConvProduct, a: Operand, b: Operand) => boolean;
  /** A convolution's input gradient in blocks of images on the threads (split-convs.ts); undefined: on this thread, by conv.ts (which a null, too big for the memory, also falls back to). */
  readonly inputGradient?: (rt: WasmRuntime, gy: View, w: View, inputShape: Shape, geometry: Conv2dGeometry) => TypedArray | null | undefined;
  /** A direct convolution (its weight gradient if `weightGradient`) on the threads (split-convs.ts); undefined (or null): on this thread, by direct-conv.ts. */
  readonly directConv?: (rt: WasmRuntime, x: View, other: View, d: ConvDims, weightGradient: boolean) => TypedArray | null | undefined;
};

/** The single-threaded runner. */
export const runOnOneThread: GemmRunner = (rt, g) =>
  rt.exports.gemm(g.K, g.KC, g.a, g.b, g.c, g.mTiles, g.nTiles, 0, g.nTiles, g.mcTiles);

let installedRunner: GemmRunner = runOnOneThread;

/**
 * The runner the backend's products use: one thread until threads.ts installs its own (the
 * first `setWasmThreads`). A slot rather than an import, so that a bundle that never starts
 * threads does not carry them.
 */
export function productRunner(): GemmRunner {
  return installedRunner;
}

/** Route every product through `runner` from now on (threads.ts). */
export function installProductRunner(runner: GemmRunner): void {
  installedRunner = runner;
}

const tiles = (size: number, unit: number) => Math.ceil(size / unit);

/**
 * C (m×n) = A (m×k) · B (k×n) into the runtime's memory; null if that would need more memory
 * than the runtime may have (the caller then uses the pure-TypeScript backend).
 */
export function multiply(rt: WasmRuntime, m: number, n: number, k: number, a: TableMatrix, b: TableMatrix, run: GemmRunner): Product | null {
  const MR = rt.tile.mr;
  const E = rt.elementBytes;
  const NR = lanesOf(rt.tile).lanes * rt.tile.nv;
  // C = A·B or Cᵀ = Bᵀ·Aᵀ: whichever computes fewer padding entries per thread (a 6×1000
  // product as 1000×6 on one thread). Threads split the columns of what is computed, so a
  // product with few columns one way may split only the other way. Either way every element
  // of C is the same sum in the same order: the result does not depend on the choice.
  const padded = (rows: number, cols: number) => tiles(rows, MR) * MR * tiles(cols, NR) * NR;
  const threadsOf = (rows: number, cols: number) => run.threadsFor?.(rt, tiles(rows, MR), tiles(cols, NR), k) ?? 1;
  const flip = padded(n, m) / threadsOf(n, m) < padded(m, n) / threadsOf(m, n);
  if (flip) [m, n, a, b] = [n, m, transposed(b), transposed(a)];

  const mTiles = tiles(m, MR);
  const nTiles = tiles(n, NR);
  const threads = threadsOf(m, n);
  run.prepare?.(rt, mTiles, nTiles, k);
  const KC = blockDepth(k);
  const aBytes = align64(mTiles * MR * k * E);
  const bBytes = align64(nTiles * NR * k * E);
  const cBytes = align64(mTiles * MR * nTiles * NR * E);
  const aAt = CONTROL_BYTES;
  const bAt = aAt + aBytes;
  const cAt = bAt + bBytes;
  if (!rt.reserve(cAt + cBytes)) return null;
  // Past C, room for a copy of one operand (A, then B) for the wasm packers; without it (the
  // memory at its maximum) both are packed through their tables.
  const imageAt = cAt + cBytes;
  const imageBytes = Math.max(imageFloats(a, m, k), imageFloats(b, k, n)) * 4;
  const images = imageBytes > 0 && rt.reserve(imageAt + imageBytes);

  const mem = rt.elements();
  // The module's loops run at least once each, so an empty product must not reach them.
  if (m === 0 || n === 0 || k === 0) {
    mem.fill(0, cAt / E, (cAt + cBytes) / E); // an empty sum is 0
    return { c: cAt / E, ldc: nTiles * NR, transposed: flip };
  }
  const ex = rt.exports;
  // A is copied and packed before B is copied into the same place.
  pack(a, true, m, 0, mTiles, MR, k, KC, mem, aAt / E, images ? wasmPacker(a, true, mem, imageAt, ex.packCopyA, ex.packTransposeA) : null);
  const bPacker = images ? wasmPacker(b, false, mem, imageAt, ex.packCopyB, ex.packTransposeB) : null;
  const packB = threads > 1 ? deferB(rt, b, n, k, NR, imageAt, bPacker) : undefined;
  // What is not left to the threads: all of B, or the partial last sliver of an image.
  pack(b, false, n, packB?.slivers ?? 0, packB?.kind === 3 ? packB.slivers : nTiles, NR, k, KC, mem, bAt / E, bPacker);
  run(rt, { K: k, KC, a: aAt, b: bAt, c: cAt, mTiles, nTiles, mcTiles: blocking.mcTiles, ...(packB && { packB }) });
  return { c: cAt / E, ldc: nTiles * NR, transposed: flip };
}

/**
 * How a split product's threads pack B (see DeferredPack), or undefined if the main thread
 * packs it all: by the module's packers from the image `w` already copied in, else through
 * the tables, copied into the memory past `at` with the span of data they reach — where that
 * span is a float32 array at most twice B's size (not a thin slice of a large array) and the
 * memory can hold it.
 */
function deferB(rt: WasmRuntime, b: TableMatrix, n: number, k: number, NR: number, at: number, w: WasmPacker | null): DeferredPack | undefined {
  const none = { image: 0, lineBytes: 0, stepBytes: 0, strideBytes: 0, data: 0, lines: 0, steps: 0 };
  if (w) {
    const kind = w.sliver === rt.exports.packCopyB ? 1 : 2;
    return { ...none, kind, slivers: Math.floor(n / NR), columns: n, image: w.image, lineBytes: w.lineBytes, stepBytes: w.stepBytes, strideBytes: w.strideBytes };
  }
  if (!(b.data instanceof Float32Array) || NR !== 8) return undefined;
  const [rowLo, rowHi] = range(b.rows);
  const [colLo, colHi] = range(b.cols);
  const lo = rowLo + colLo;
  const span = rowHi + colHi - lo + 1;
  if (lo < 0 || span > 2 * n * k + 64) return undefined;
  const data = align64(at) / 4;
  const lines = align64(4 * (data + span)) / 4;
  const steps = align64(4 * (lines + n)) / 4;
  if (!rt.reserve(4 * (steps + k))) return undefined;
  const mem = rt.elements() as Float32Array;
  const ints = new Int32Array(mem.buffer);
  mem.set(b.data.subarray(lo, lo + span), data);
  ints.set(b.cols, lines);
  for (let p = 0; p < k; p++) ints[steps + p] = b.rows[p]! - lo;
  return { ...none, kind: 3, slivers: tiles(n, NR), columns: n, data, lines, steps };
}

/** [min, max] of a non-empty table. */
function range(table: Int32Array): [number, number] {
  let lo = table[0]!;
  let hi = lo;
  for (let i = 1; i < table.length; i++) {
    const v = table[i]!;
    if (v < lo) lo = v;
    else if (v > hi) hi = v;
  }
  return [lo, hi];
}

/**
 * Floats of `x` (rows × cols) to copy into the memory for the wasm packers, or 0 where they do
 * not apply: float32 data, non-negative strides, one of them 1 (a row-major or column-major
 * matrix, at any offset and leading dimension, or a broadcast with stride 0 on the other), and
 * a span at most twice the matrix (not a thin slice of a large array).
 */
function imageFloats(x: TableMatrix, rows: number, cols: number): number {
  const s = x.strides;
  if (!s || !(x.data instanceof Float32Array) || rows === 0 || cols === 0) return 0;
  if (s.rowStride < 0 || s.colStride < 0 || (s.rowStride !== 1 && s.colStride !== 1)) return 0;
  const span = (rows - 1) * s.rowStride + (cols - 1) * s.colStride + 1;
  return span <= 2 * rows * cols + 64 ? span : 0;
}

/** Packs whole slivers of one operand with the module, from its copy in the memory. */
interface WasmPacker {
  /** The module's packer for this operand's layout. */
  sliver: SliverPacker;
  /** Its stride argument: bytes between steps (packCopy) or between lines (packTranspose). */
  strideBytes: number;
  /** Byte address of line l, step p in the copy: image + l·lineBytes + p·stepBytes. */
  image: number;
  lineBytes: number;
  stepBytes: number;
}

/**
 * Copy `x` into the memory at byte `image` and choose the module's packer for it, or null
 * where the table path must pack it (see imageFloats; the module has no packers for a sliver
 * width that is not a multiple of 4). Lines are x's rows if `byRows`, else its columns.
 */
function wasmPacker(
  x: TableMatrix,
  byRows: boolean,
  mem: FloatArray,
  image: number,
  copy: SliverPacker | undefined,
  transpose: SliverPacker | undefined,
): WasmPacker | null {
  const floats = imageFloats(x, x.rows.length, x.cols.length);
  if (floats === 0 || !copy || !transpose) return null;
  const s = x.strides!;
  const line = byRows ? s.rowStride : s.colStride;
  const step = byRows ? s.colStride : s.rowStride;
  // NOTE: one memcpy (≈ 25 GB/s here: 0.2 ms for 1024²) and SIMD packing instead of reading
  // every element through the tables in JavaScript: packing both 1024² operands took ≈ 2.3 ms
  // that way, ≈ 0.8 ms this way, copies included (bench/micro/wasm-gemm.mjs phases).
  mem.set((x.data as Float32Array).subarray(s.offset, s.offset + floats), image / 4);
  // Lines adjacent in memory: each step of a sliver is R consecutive floats. Else the steps
  // are (imageFloats: one stride is 1), and the module transposes 4×4 blocks.
  if (line === 1) return { sliver: copy, strideBytes: 4 * step, image, lineBytes: 4, stepBytes: 4 * step };
  return { sliver: transpose, strideBytes: 4 * line, image, lineBytes: 4 * line, stepBytes: 4 };
}

/**
 * Copy the valid part of a product out of the memory: out[rowAt[i] + colAt[j]] = C[i][j] for
 * the m×n product the caller asked for (whatever orientation was computed).
 */
export function copyOut(rt: WasmRuntime, p: Product, out: TypedArray, rowAt: Int32Array, colAt: Int32Array): void {
  const mem = rt.elements();
  // In memory: lines of the stored matrix and positions along them.
  const lines = p.transposed ? colAt : rowAt;
  const along = p.transposed ? rowAt : colAt;
  const n = along.length;
  for (let i = 0; i < lines.length; i++) {
    const base = lines[i]!;
    const src = p.c + i * p.ldc;
    for (let j = 0; j < n; j++) out[base + along[j]!] = mem[src + j]!;
  }
}

/** Copy a product that the caller wants row-major and contiguous (m×n) into `out` at `at`. */
export function copyOutContiguous(rt: WasmRuntime, p: Product, m: number, n: number, out: TypedArray, at: number): void {
  if (p.transposed) {
    copyOut(rt, p, out, arithmetic(m, at, n), arithmetic(n, 0, 1));
    return;
  }
  const mem = rt.elements();
  // NOTE: when no column was padded (n a multiple of NR) C is already m×n contiguous: one
  // memcpy instead of m row copies (1024²: ≈ 0.25 ms instead of ≈ 0.45).
  if (p.ldc === n) {
    out.set(mem.subarray(p.c, p.c + m * n), at);
    return;
  }
  for (let i = 0; i < m; i++) out.set(mem.subarray(p.c + i * p.ldc, p.c + i * p.ldc + n), at + i * n);
}

/**
 * Pack slivers [first, last) of `x` into slivers of R lines (its rows if `byRows`, else its
 * columns), K block after K block, in the layout that starts at float index `dst`:
 *   block pc, sliver s, step p, line r  →  mem[dst + pc·tileCount·R + s·kc·R + p·R + r]
 * (tileCount = ⌈lineCount / R⌉). Lines past `lineCount` are zeros. Whole slivers go to the
 * module's packer `w` if given.
 */
function pack(
  x: TableMatrix,
  byRows: boolean,
  lineCount: number,
  first: number,
  last: number,
  R: number,
  K: number,
  KC: number,
  mem: FloatArray,
  dst: number,
  w: WasmPacker | null,
): void {
  const lineAt = byRows ? x.rows : x.cols;
  const stepAt = byRows ? x.cols : x.rows;
  const src = x.data;
  const tileCount = tiles(lineCount, R);
  for (let pc = 0; pc < K; pc += KC) {
    const kc = Math.min(KC, K - pc);
    for (let s = first, d = dst + pc * tileCount * R + first * kc * R; s < last; s++, d += kc * R) {
      const line = s * R;
      const count = Math.min(R, lineCount - line);
      if (w && count === R) w.sliver(4 * d, w.image + line * w.lineBytes + pc * w.stepBytes, w.strideBytes, kc);
      else if (count === 8 && R === 8) pack8(src, lineAt, line, stepAt, pc, kc, mem, d);
      else if (count === 4 && R === 4) pack4(src, lineAt, line, stepAt, pc, kc, mem, d);
      else packPartial(src, lineAt, line, count, stepAt, pc, kc, R, mem, d);
    }
  }
}

// NOTE: unrolled for the two sliver widths of the 4×8 tile: the R line offsets sit in
// registers and each step costs one table read plus R element reads (measured ≈ 2× faster than
// the general loop on the 1024² operands).
function pack8(src: TypedArray, lineAt: Int32Array, first: number, stepAt: Int32Array, pc: number, kc: number, mem: FloatArray, d: number): void {
  const l0 = lineAt[first]!, l1 = lineAt[first + 1]!, l2 = lineAt[first + 2]!, l3 = lineAt[first + 3]!;
  const l4 = lineAt[first + 4]!, l5 = lineAt[first + 5]!, l6 = lineAt[first + 6]!, l7 = lineAt[first + 7]!;
  for (let p = pc, end = pc + kc; p < end; p++, d += 8) {
    const s = stepAt[p]!;
    mem[d] = src[l0 + s]!;
    mem[d + 1] = src[l1 + s]!;
    mem[d + 2] = src[l2 + s]!;
    mem[d + 3] = src[l3 + s]!;
    mem[d + 4] = src[l4 + s]!;
    mem[d + 5] = src[l5 + s]!;
    mem[d + 6] = src[l6 + s]!;
    mem[d + 7] = src[l7 + s]!;
  }
}

function pack4(src: TypedArray, lineAt: Int32Array, first: number, stepAt: Int32Array, pc: number, kc: number, mem: FloatArray, d: number): void {
  const l0 = lineAt[first]!, l1 = lineAt[first + 1]!, l2 = lineAt[first + 2]!, l3 = lineAt[first + 3]!;
  for (let p = pc, end = pc + kc; p < end; p++, d += 4) {
    const s = stepAt[p]!;
    mem[d] = src[l0 + s]!;
    mem[d + 1] = src[l1 + s]!;
    mem[d + 2] = src[l2 + s]!;
    mem[d + 3] = src[l3 + s]!;
  }
}

/** Any R, and the last sliver of an edge (lines count … R−1 are zeros). */
function packPartial(
  src: TypedArray,
  lineAt: Int32Array,
  first: number,
  count: number,
  stepAt: Int32Array,
  pc: number,
  kc: number,
  R: number,
  mem: FloatArray,
  d: number,
): void {
  for (let p = pc, end = pc + kc; p < end; p++, d += R) {
    const s = stepAt[p]!;
    for (let r = 0; r < count; r++) mem[d + r] = src[lineAt[first + r]! + s]!;
    for (let r = count; r < R; r++) mem[d + r] = 0;
  }
}
