/**
 * A BLAS-like general matrix product in pure TypeScript:
 *
 *   C (+)= A · B        A is m×k, B is k×n, C is m×n; every operand read through strides.
 *
 * It is the engine under matmul and the convolutions. The structure is the one of BLIS /
 * GotoBLAS (Van Zee & van de Geijn, "BLIS: A Framework for Rapidly Instantiating BLAS
 * Functionality", 2015), scaled to what a JavaScript engine can do:
 *
 *   for each NC-wide column block of B and C
 *     for each KC-deep slice of the shared dimension
 *       pack B's KC×NC block into NR-wide slivers            (one pass, any strides)
 *       for each MC-tall row block of A
 *         pack A's MC×KC block into MR-tall slivers           (one pass, any strides)
 *         for each NR sliver of B, for each MR sliver of A
 *           micro-kernel: an MR×NR tile of C, accumulated in MR·NR local variables
 *
 * Why each piece:
 * - Packing copies each operand block once into the exact order in which the micro-kernel
 *   reads it (unit stride, one Float64Array). Transposed operands (Aᵀ·B, A·Bᵀ in every backward
 *   pass) and float32 storage therefore cost one strided pass during packing and nothing in
 *   the O(m·n·k) loop — no transposed copy is ever materialised.
 * - The micro-kernel keeps its tile of C in local variables, which V8 keeps in registers; each
 *   step of the shared dimension loads MR + NR numbers and does MR·NR multiply-adds. That reuse
 *   is what lifts the product from ≈1 GFLOP/s (naive loops) to ≈6–6.7 on the reference machine
 *   (bench/micro/kernels.mjs).
 * - Cache blocking (KC, MC, NC) keeps the panels being re-read in L1/L2; it matters less in
 *   JavaScript than in C (each multiply-add costs several instructions), but still pays on
 *   large products.
 * - Edges are handled by zero-padding the packed slivers to full MR / NR width and writing back
 *   only the valid part of the tile, so the micro-kernel has no edge cases.
 *
 * Arithmetic is in JavaScript doubles and C is a Float64Array, so sums accumulate in float64
 * whatever the storage dtype of A and B. Zero entries are never skipped, so NaN and ±Infinity
 * propagate exactly as in the naive triple loop.
 */
import type { TypedArray } from '../../tensor/dtype.js';

/** A matrix read in place: element (i, j) is data[offset + i·rowStride + j·colStride]. */
export interface StridedMatrix {
  /** The storage the matrix lives in (float32 or float64; read as numbers). */
  readonly data: TypedArray;
  /** Index in `data` of element (0, 0). */
  readonly offset: number;
  /** Step in `data` from row i to row i + 1 (0 broadcasts one row). */
  readonly rowStride: number;
  /** Step in `data` from column j to column j + 1. */
  readonly colStride: number;
}

/**
 * A matrix that is stored nowhere but can pack itself — the im2col unfolding of an image,
 * whose entries are read straight from the (padded) image while packing, so the unfolded
 * matrix never exists (an "implicit GEMM").
 */
export interface MatrixSource {
  /**
   * Write one sliver of the packed panel: lines first … first+count−1 (count ≤ R) over steps
   * k0 … k0+kc−1,
   *   panels[dst + p·R + r] = element(line first+r, step k0+p),
   * where lines are rows and steps are columns if `byRows`, and the other way round if not.
   * Lines count … R−1 of the sliver must be written as zeros.
   */
  packSliver(byRows: boolean, first: number, count: number, k0: number, kc: number, R: number, panels: Float64Array, dst: number): void;
}

/** What gemm multiplies: a strided matrix or a self-packing source. */
export type GemmOperand = StridedMatrix | MatrixSource;

/** Rows of A per micro-tile. */
const MR = 4;
/** Columns of B per micro-tile. */
const NR = 3;

/**
 * Cache-blocking limits, in elements (the panels are float64). Exported so that benchmarks
 * and tests can change them:
 * - one A sliver (KC·MR·8 B = 16 KiB) and one B sliver (12 KiB) fit in L1 together;
 * - the packed A block (MC·KC·8 B = 512 KiB), re-read for every B sliver, fits in L2 (1 MiB);
 * - the packed B block (KC·NC·8 B ≈ 1 MiB) lives in L2/L3.
 * NOTE: measured with bench/micro/gemm-tune.mjs, any KC in 128–1024, MC in 64–256 and NC in
 * 255–4096 gives the same speed within the machine's noise (±5 %): the JavaScript micro-kernel
 * is bound by instructions, not by memory. Only very thin blocks hurt, hence evenBlock below.
 */
export const blocking = {
  /** KC: depth of the K slice that one packed A block and one packed B block span. */
  kc: 512,
  /** MC: rows of A per packed block. */
  mc: 128,
  /** NC: columns of B per packed block. */
  nc: 255,
};

/**
 * The packed A and B blocks live in this one buffer, fixed for the life of the program.
 *
 * NOTE: a module-level constant, not a grown workspace, on purpose: V8 then knows the array
 * object at compile time and drops, from every step of the micro-kernel, the check of the
 * array's hidden class and the reload of its data pointer (measured against a workspace passed
 * as a parameter: +4–5 % on large products, up to +12 % on thin ones). Its size (2 MiB) is
 * what the default blocks need; blockedProduct caps KC at 1024 and MC at 128 (half the
 * buffer) and shrinks NC so that the blocks always fit, whatever `blocking` says.
 */
const PANEL_CAPACITY = 1 << 18;
const PANELS = new Float64Array(PANEL_CAPACITY);

/**
 * C (+)= A·B. C is a Float64Array written through (cRowStride, cColStride) from cOffset.
 * With accumulate = false the m×n block of C is overwritten (it need not be initialised).
 */
export function gemm(
  m: number,
  n: number,
  k: number,
  a: GemmOperand,
  b: GemmOperand,
  c: Float64Array,
  cOffset: number,
  cRowStride: number,
  cColStride: number,
  accumulate: boolean,
): void {
  if (m === 0 || n === 0) return;
  if (!accumulate) zeroMatrix(c, cOffset, m, n, cRowStride, cColStride);
  if (k === 0) return;
  // C = A·B and Cᵀ = Bᵀ·Aᵀ are the same numbers. The micro-tile is 4×3, so pick the orientation
  // that wastes fewer padded rows and columns: a 3×1000 product is better computed as 1000×3.
  if (paddedTiles(n, m) < paddedTiles(m, n)) {
    blockedProduct(n, m, k, transposed(b), transposed(a), c, cOffset, cColStride, cRowStride);
  } else {
    blockedProduct(m, n, k, a, b, c, cOffset, cRowStride, cColStride);
  }
}

/** How many C entries the micro-kernel computes (valid plus padding) for an m×n product. */
function paddedTiles(m: number, n: number): number {
  return Math.ceil(m / MR) * MR * Math.ceil(n / NR) * NR;
}

/** The same numbers read as the transposed matrix: swap the strides, or the roles of lines and steps. */
export function transposed(x: GemmOperand): GemmOperand {
  if ('packSliver' in x) {
    return { packSliver: (byRows, first, count, k0, kc, R, panels, dst) => x.packSliver(!byRows, first, count, k0, kc, R, panels, dst) };
  }
  return { data: x.data, offset: x.offset, rowStride: x.colStride, colStride: x.rowStride };
}

function zeroMatrix(c: Float64Array, offset: number, m: number, n: number, rs: number, cs: number): void {
  if (cs === 1 && rs === n) {
    c.fill(0, offset, offset + m * n);
    return;
  }
  for (let i = 0; i < m; i++) {
    let o = offset + i * rs;
    for (let j = 0; j < n; j++, o += cs) c[o] = 0;
  }
}

/** The five loops around the micro-kernel (see the file comment); C is accumulated into. */
function blockedProduct(
  m: number,
  n: number,
  k: number,
  a: GemmOperand,
  b: GemmOperand,
  c: Float64Array,
  cOffset: number,
  rs: number,
  cs: number,
): void {
  // Split each dimension into equal blocks no larger than the limits (784 = 2·392, not
  // 512 + 272): a thin last block would run the micro-kernel with little work per call.
  const KC = evenBlock(k, Math.min(blocking.kc, 1024), 1);
  const MC = evenBlock(m, Math.min(blocking.mc, 128), MR);
  const NC = evenBlock(n, Math.min(blocking.nc, Math.floor((PANEL_CAPACITY - MC * KC) / KC / NR) * NR), NR);
  // One buffer holds both packed blocks: the A block first, the B block after it.
  const bBase = MC * KC;
  const panels = PANELS;
  for (let jc = 0; jc < n; jc += NC) {
    const nc = Math.min(NC, n - jc);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = Math.min(KC, k - pc);
      // B's kc×nc block, as NR-wide slivers: the lines are B's columns.
      packPanel(b, false, jc, nc, pc, kc, NR, panels, bBase);
      for (let ic = 0; ic < m; ic += MC) {
        const mc = Math.min(MC, m - ic);
        // A's mc×kc block, as MR-tall slivers: the lines are A's rows.
        packPanel(a, true, ic, mc, pc, kc, MR, panels, 0);
        for (let jr = 0; jr < nc; jr += NR) {
          const cols = Math.min(NR, nc - jr);
          const pb = bBase + jr * kc;
          for (let ir = 0; ir < mc; ir += MR) {
            const rows = Math.min(MR, mc - ir);
            const co = cOffset + (ic + ir) * rs + (jc + jr) * cs;
            microKernel(kc, ir * kc, pb, c, co, rs, cs, rows, cols);
          }
        }
      }
    }
  }
}

/** The size of ⌈size / limit⌉ equal blocks covering `size`, rounded up to a multiple of `unit`. */
function evenBlock(size: number, limit: number, unit: number): number {
  const blocks = Math.ceil(size / limit);
  return Math.ceil(size / blocks / unit) * unit;
}

/**
 * Pack lines first … first+lines−1 over steps k0 … k0+kc−1 into slivers of R lines each,
 * starting at dst:
 *   sliver s, step p, line r  →  panels[dst + s·kc·R + p·R + r]
 * Lines are the operand's rows if `byRows` (A), its columns if not (B). Lines beyond the end in
 * the last sliver are zero, so the micro-kernel can always compute a full tile.
 *
 * Packing touches each element of the big operand once, and when the other dimension is small
 * (a 6-channel convolution, a 4-row product) it costs as much as the multiply-adds, so full
 * slivers take an unrolled path that reads the R lines in lockstep.
 */
function packPanel(
  x: GemmOperand,
  byRows: boolean,
  first: number,
  lines: number,
  k0: number,
  kc: number,
  R: number,
  panels: Float64Array,
  dst: number,
): void {
  if ('packSliver' in x) {
    for (let l0 = 0; l0 < lines; l0 += R, dst += kc * R) x.packSliver(byRows, first + l0, Math.min(R, lines - l0), k0, kc, R, panels, dst);
    return;
  }
  const lineStride = byRows ? x.rowStride : x.colStride;
  const kStride = byRows ? x.colStride : x.rowStride;
  const src = x.data;
  for (let l0 = 0; l0 < lines; l0 += R, dst += kc * R) {
    const count = Math.min(R, lines - l0);
    const base = x.offset + (first + l0) * lineStride + k0 * kStride;
    if (count === 4 && R === 4) packSliver4(src, base, lineStride, kStride, kc, panels, dst);
    else if (count === 3 && R === 3) packSliver3(src, base, lineStride, kStride, kc, panels, dst);
    else packPartialSliver(src, base, lineStride, kStride, count, kc, R, panels, dst);
  }
}

function packSliver4(src: TypedArray, s: number, ls: number, ks: number, kc: number, panels: Float64Array, d: number): void {
  for (let p = 0; p < kc; p++, s += ks, d += 4) {
    panels[d] = src[s]!;
    panels[d + 1] = src[s + ls]!;
    panels[d + 2] = src[s + 2 * ls]!;
    panels[d + 3] = src[s + 3 * ls]!;
  }
}

function packSliver3(src: TypedArray, s: number, ls: number, ks: number, kc: number, panels: Float64Array, d: number): void {
  for (let p = 0; p < kc; p++, s += ks, d += 3) {
    panels[d] = src[s]!;
    panels[d + 1] = src[s + ls]!;
    panels[d + 2] = src[s + 2 * ls]!;
  }
}

/** The general case (any R, and the last sliver of an edge, padded with zero lines). */
function packPartialSliver(
  src: TypedArray,
  base: number,
  ls: number,
  ks: number,
  count: number,
  kc: number,
  R: number,
  panels: Float64Array,
  dst: number,
): void {
  for (let p = 0, d = dst, s = base; p < kc; p++, d += R, s += ks) {
    for (let r = 0; r < count; r++) panels[d + r] = src[s + r * ls]!;
    for (let r = count; r < R; r++) panels[d + r] = 0;
  }
}

/** A partial tile is written back through this buffer (row-major MR×NR). */
const edgeTile = new Float64Array(MR * NR);

/**
 * The 4×3 micro-kernel: C[co + i·rs + j·cs] += Σ_p A[pa + p·4 + i] · B[pb + p·3 + j] for the
 * valid `rows` × `cols` of the tile. A and B are packed slivers in PANELS.
 *
 * NOTE: the tile shape was measured, in this GEMM, against 3×4, 4×4, 4×5, 5×4, 4×6, 6×4, 2×6,
 * 3×6, 6×3, 8×3 and 2×8 (and unrolled or pointer-bounded loops): 4×3 and 3×4 are fastest
 * (≈6.5–6.7 GFLOP/s at 512³, ≈5 on the 6×25×576 products of a LeNet convolution, where 4×4
 * drops to 3.5), larger tiles lose 3–10 %. x64 has 16 floating-point registers, so larger
 * tiles spill accumulators to the stack, and smaller ones do more loads per multiply-add.
 * `(x + 1) | 0` tells V8 the index is an int32 that cannot overflow, which removes an overflow
 * check per load.
 */
function microKernel(
  kc: number,
  pa: number,
  pb: number,
  c: Float64Array,
  co: number,
  rs: number,
  cs: number,
  rows: number,
  cols: number,
): void {
  let c00 = 0, c01 = 0, c02 = 0;
  let c10 = 0, c11 = 0, c12 = 0;
  let c20 = 0, c21 = 0, c22 = 0;
  let c30 = 0, c31 = 0, c32 = 0;
  const panels = PANELS;
  for (let p = 0; p < kc; p++) {
    const a0 = panels[pa]!;
    const a1 = panels[(pa + 1) | 0]!;
    const a2 = panels[(pa + 2) | 0]!;
    const a3 = panels[(pa + 3) | 0]!;
    const b0 = panels[pb]!;
    c00 += a0 * b0;
    c10 += a1 * b0;
    c20 += a2 * b0;
    c30 += a3 * b0;
    const b1 = panels[(pb + 1) | 0]!;
    c01 += a0 * b1;
    c11 += a1 * b1;
    c21 += a2 * b1;
    c31 += a3 * b1;
    const b2 = panels[(pb + 2) | 0]!;
    c02 += a0 * b2;
    c12 += a1 * b2;
    c22 += a2 * b2;
    c32 += a3 * b2;
    pa = (pa + MR) | 0;
    pb = (pb + NR) | 0;
  }
  if (rows === MR && cols === NR) {
    const o0 = co, o1 = co + rs, o2 = co + 2 * rs, o3 = co + 3 * rs;
    const s1 = cs, s2 = 2 * cs;
    c[o0] += c00; c[o0 + s1] += c01; c[o0 + s2] += c02;
    c[o1] += c10; c[o1 + s1] += c11; c[o1 + s2] += c12;
    c[o2] += c20; c[o2 + s1] += c21; c[o2 + s2] += c22;
    c[o3] += c30; c[o3 + s1] += c31; c[o3 + s2] += c32;
    return;
  }
  // A tile on the bottom or right edge: only its valid part exists in C.
  const t = edgeTile;
  t[0] = c00; t[1] = c01; t[2] = c02;
  t[3] = c10; t[4] = c11; t[5] = c12;
  t[6] = c20; t[7] = c21; t[8] = c22;
  t[9] = c30; t[10] = c31; t[11] = c32;
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) c[co + i * rs + j * cs] += t[i * NR + j]!;
  }
}
