/**
 * The GEMM module, written with the emitter (emitter.ts), for float32 (f32x4) or float64 (f64x2)
 * elements. Two functions:
 *
 *   tile(kc, a, b, c, ldc, accumulate)
 *       The register-blocked micro-kernel: C[MR × NR] = A_sliver · B_sliver over kc steps, or
 *       C += … if `accumulate` ≠ 0. A sliver holds MR numbers per step, a B sliver NR = L·NV
 *       (L = 4 lanes for float32, 2 for float64); C's rows are ldc bytes apart.
 *
 *   gemm(K, KC, a, b, c, mTiles, nTiles, n0, n1, mcTiles)
 *       The loops around it for C = A·B on operands that JavaScript already packed (gemm.ts):
 *       every KC-deep slice of K, every block of mcTiles A slivers, every B sliver in [n0, n1),
 *       every A sliver of the block. The first K block stores into C, the others add to it, so
 *       C need not be zeroed first. A thread computes its own [n0, n1).
 *
 * and, for float32 where the sliver width R (MR for A, NR for B) is a multiple of 4, two packers
 * per operand that build one sliver from a copy of a strided operand in memory (gemm.ts):
 *
 *   packCopyA / packCopyB(dst, src, stepBytes, kc)
 *       The R lines of a sliver are adjacent in memory (B row-major, or Aᵀ): each step is R
 *       consecutive floats, copied with R/4 vector loads and stores.
 *   packTransposeA / packTransposeB(dst, src, lineBytes, kc)
 *       Each line is contiguous along K (A row-major, or Bᵀ): 4 steps of 4 lines are loaded as
 *       four vectors and transposed in registers (8 shuffles) into 4 steps of the sliver.
 *
 * Packed layout, in bytes from `a` and `b` (K block starting at step pc, kc = min(KC, K − pc);
 * E = 4 bytes per float32 element, 8 per float64):
 *   A: a + (pc·Mpad + it·kc·MR + p·MR + r)·E          (Mpad = mTiles·MR)
 *   B: b + (pc·Npad + jt·kc·NR + p·NR + j)·E          (Npad = nTiles·NR)
 *   C: c + (i·Npad + j)·E                              (padded to whole tiles)
 * Edges are zero-padded by the packer and C is padded to whole tiles, so the micro-kernel has
 * no edge cases; JavaScript copies out the valid part.
 *
 * Why the micro-kernel looks like this: per step it loads NV vectors of B, and for each of the
 * MR rows one A number splatted to all lanes, then does MR·NV vector multiply-adds. The
 * MR·NV accumulators stay in registers for the whole loop. x64 V8 gives WebAssembly 16 vector
 * registers: MR·NV accumulators + NV B vectors + 1 A splat must fit. 4×8 (8 + 2 + 1) is the
 * one that does in practice: 6×8 (12 + 2 + 1 on paper) and anything larger ran at 23–28
 * GFLOP/s against 42 for 4×8, and unrolling K by 2 or 4 at 28–30 (bench/micro/wasm-gemm.mjs
 * tiles). Baseline SIMD has no fused multiply-add, so the plain tile does a mul then an add:
 * 22 instructions per step of K for 64 FLOPs (2 B loads, 4 splats, 8 mul, 8 add), enough to
 * keep the front end of a Zen 4 core near its limit at ≈ 44 GFLOP/s. Where the engine has
 * relaxed SIMD (`fma: true`), each pair is one f32x4.relaxed_madd — an FMA instruction on x64
 * with FMA3 — so a step is 14 instructions and the same tile runs at ≈ 50–52 GFLOP/s. Larger
 * tiles stay slower with FMA too (4×12 25, 6×8 27, 3×12 46; bench/micro/wasm-gemm.mjs fma).
 * float64 uses the same shape of tile with f64x2 vectors (4 × 4 numbers): 21–26 GFLOP/s with
 * FMA, half of float32's, as a vector holds half as many numbers (bench/micro/wasm-f64.mjs).
 */
import type { FloatDType } from '../../tensor/dtype.js';
import { FunctionBuilder, I32, ModuleBuilder, V128, type MemoryImport } from './emitter.js';

/** The shape of the register tile: MR rows by NR = 4·NV columns; K steps per loop turn. */
export interface TileShape {
  /** MR, rows of C per tile (the numbers of A per step of a sliver). */
  mr: number;
  /** NV, vectors per row of the tile: NR = 4·NV columns for float32, 2·NV for float64. */
  nv: number;
  /** Steps of K per turn of the main loop (1, 2 or 4; default 1), the rest one at a time. */
  unroll?: number;
  /** Multiply-add with relaxed_madd (needs relaxed SIMD) instead of a mul then an add. */
  fma?: boolean;
  /** The element type (default float32): four f32 or two f64 lanes per vector. */
  dtype?: FloatDType;
}

/** What the kernels need of an element type: its size, lanes per vector and SIMD instructions. */
interface Lanes {
  bytes: number;
  lanes: number;
  splat(f: FunctionBuilder, offset: number): void;
  mul(f: FunctionBuilder): void;
  add(f: FunctionBuilder): void;
  madd(f: FunctionBuilder): void;
}

const LANES: Record<FloatDType, Lanes> = {
  float32: { bytes: 4, lanes: 4, splat: (f, o) => f.v128Load32Splat(o), mul: (f) => f.f32x4Mul(), add: (f) => f.f32x4Add(), madd: (f) => f.f32x4RelaxedMadd() },
  float64: { bytes: 8, lanes: 2, splat: (f, o) => f.v128Load64Splat(o), mul: (f) => f.f64x2Mul(), add: (f) => f.f64x2Add(), madd: (f) => f.f64x2RelaxedMadd() },
};

/** The element size and lanes of a tile shape's type. */
export function lanesOf(shape: TileShape): {
  /** Bytes per element: 4 (float32) or 8 (float64). */
  bytes: number;
  /** Elements per 128-bit vector: 4 or 2. */
  lanes: number;
} {
  return LANES[shape.dtype ?? 'float32'];
}

/** The micro-kernel (see the file comment). */
function emitTile({ mr, nv, unroll = 1, fma = false, dtype = 'float32' }: TileShape): FunctionBuilder {
  const T = LANES[dtype];
  const f = new FunctionBuilder('tile', [I32, I32, I32, I32, I32, I32]);
  const [kc, a, b, c, ldc, accumulate] = [0, 1, 2, 3, 4, 5];
  const acc: number[][] = [];
  for (let i = 0; i < mr; i++) acc.push(Array.from({ length: nv }, () => f.local(V128)));
  const bv = Array.from({ length: nv }, () => f.local(V128));
  const av = f.local(V128);
  const turns = f.local(I32);

  /** One step of K, reading A and B `u` steps past the pointers (a constant memarg offset). */
  const step = (u: number) => {
    for (let v = 0; v < nv; v++) f.localGet(b).v128Load(16 * (u * nv + v)).localSet(bv[v]!);
    for (let i = 0; i < mr; i++) {
      f.localGet(a);
      T.splat(f, T.bytes * (u * mr + i));
      f.localSet(av);
      // acc[i][v] += a_i · b_v
      for (let v = 0; v < nv; v++) {
        if (fma) {
          f.localGet(av).localGet(bv[v]!).localGet(acc[i]![v]!);
          T.madd(f);
        } else {
          f.localGet(acc[i]![v]!).localGet(av).localGet(bv[v]!);
          T.mul(f);
          T.add(f);
        }
        f.localSet(acc[i]![v]!);
      }
    }
  };
  /** Advance the pointers by `steps` steps of K. */
  const advance = (steps: number) => {
    f.bump(a, T.bytes * mr * steps);
    f.bump(b, 16 * nv * steps);
  };

  // kc / unroll turns of `unroll` steps (memarg offsets instead of pointer updates between
  // them), then the kc % unroll remaining steps one by one.
  const shift = Math.log2(unroll);
  f.localGet(kc).i32Const(shift).i32ShrU().localSet(turns);
  f.countedLoop(turns, () => {
    for (let u = 0; u < unroll; u++) step(u);
    advance(unroll);
  });
  f.localGet(kc).i32Const(unroll - 1).i32And().localSet(kc);
  f.countedLoop(kc, () => {
    step(0);
    advance(1);
  });

  // C tile = accumulators (first K block) or C tile += accumulators, one row (ldc bytes) at a
  // time. NOTE: storing on the first block spares JavaScript zero-filling the padded C
  // (≈ 0.4 ms of ≈ 43 for 1024³) and the kernel one read of C.
  const storeRows = (add: boolean) => {
    for (let i = 0; i < mr; i++) {
      for (let v = 0; v < nv; v++) {
        f.localGet(c);
        if (add) {
          f.localGet(c).v128Load(16 * v).localGet(acc[i]![v]!);
          T.add(f);
        } else f.localGet(acc[i]![v]!);
        f.v128Store(16 * v);
      }
      if (i < mr - 1) f.localGet(c).localGet(ldc).i32Add().localSet(c);
    }
  };
  f.localGet(accumulate).if();
  storeRows(true);
  f.else();
  storeRows(false);
  f.end();
  return f;
}

/** The loops around the micro-kernel (see the file comment). */
function emitGemm(shape: TileShape, tileIndex: number): FunctionBuilder {
  const { mr, nv } = shape;
  const { bytes, lanes } = lanesOf(shape);
  const nr = lanes * nv;
  const f = new FunctionBuilder('gemm', [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32]);
  const [K, KC, a, b, c, mTiles, nTiles, n0, n1, mcTiles] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const pc = f.local(I32);
  const kc = f.local(I32);
  const aBlock = f.local(I32);
  const bBlock = f.local(I32);
  const ic = f.local(I32);
  const icEnd = f.local(I32);
  const jt = f.local(I32);
  const it = f.local(I32);
  const bSliver = f.local(I32);
  const ldc = f.local(I32);

  /** Push min(x, y) of two i32 expressions (each pushed twice: they are a local or two). */
  const min = (x: () => void, y: () => void) => {
    x();
    y();
    x();
    y();
    f.i32LtS().select();
  };

  // ldc = nTiles·NR·4 bytes
  f.localGet(nTiles).i32Const(nr * bytes).i32Mul().localSet(ldc);
  f.loop(); // ---- for each K block
  {
    min(() => f.localGet(KC), () => f.localGet(K).localGet(pc).i32Sub());
    f.localSet(kc);
    f.localGet(a).localGet(pc).localGet(mTiles).i32Mul().i32Const(mr * bytes).i32Mul().i32Add().localSet(aBlock);
    f.localGet(b).localGet(pc).localGet(nTiles).i32Mul().i32Const(nr * bytes).i32Mul().i32Add().localSet(bBlock);
    f.i32Const(0).localSet(ic);
    f.loop(); // ---- for each block of mcTiles A slivers (kept in L2)
    {
      min(() => f.localGet(ic).localGet(mcTiles).i32Add(), () => f.localGet(mTiles));
      f.localSet(icEnd);
      f.localGet(n0).localSet(jt);
      f.loop(); // ---- for each B sliver of this thread (kept in L1)
      {
        f.localGet(bBlock).localGet(jt).localGet(kc).i32Mul().i32Const(nr * bytes).i32Mul().i32Add().localSet(bSliver);
        f.localGet(ic).localSet(it);
        f.loop(); // ---- for each A sliver of the block
        {
          f.localGet(kc);
          f.localGet(aBlock).localGet(it).localGet(kc).i32Mul().i32Const(mr * bytes).i32Mul().i32Add();
          f.localGet(bSliver);
          // c + it·MR·ldc + jt·NR·4
          f.localGet(c).localGet(it).i32Const(mr).i32Mul().localGet(ldc).i32Mul().i32Add().localGet(jt).i32Const(nr * bytes).i32Mul().i32Add();
          f.localGet(ldc);
          // accumulate = pc: 0 (store) on the first K block, non-zero (add) on the others
          f.localGet(pc);
          f.call(tileIndex);
          f.localGet(it).i32Const(1).i32Add().localTee(it).localGet(icEnd).i32LtS().brIf(0);
        }
        f.end();
        f.localGet(jt).i32Const(1).i32Add().localTee(jt).localGet(n1).i32LtS().brIf(0);
      }
      f.end();
      f.localGet(icEnd).localTee(ic).localGet(mTiles).i32LtS().brIf(0);
    }
    f.end();
    f.localGet(pc).localGet(KC).i32Add().localTee(pc).localGet(K).i32LtS().brIf(0);
  }
  f.end();
  return f;
}

/**
 * packCopy{A,B}(dst, src, stepBytes, kc): kc steps of an R-line sliver whose lines are
 * adjacent in memory; step p's R floats are at src + p·stepBytes, and go to dst + p·R·4.
 */
function emitPackCopy(name: string, r: number): FunctionBuilder {
  const f = new FunctionBuilder(name, [I32, I32, I32, I32]);
  const [dst, src, stepBytes, kc] = [0, 1, 2, 3];
  f.countedLoop(kc, () => {
    for (let g = 0; g < r / 4; g++) f.localGet(dst).localGet(src).v128Load(16 * g).v128Store(16 * g);
    f.localGet(src).localGet(stepBytes).i32Add().localSet(src);
    f.bump(dst, 4 * r);
  });
  return f;
}

/** The 16 byte lanes of i8x16.shuffle that pick four f32 lanes (0–3 from a, 4–7 from b). */
function f32Lanes(l0: number, l1: number, l2: number, l3: number): number[] {
  return [l0, l1, l2, l3].flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]);
}

/**
 * packTranspose{A,B}(dst, src, lineBytes, kc): kc steps of an R-line sliver whose lines are
 * contiguous along K; line r starts at src + r·lineBytes, and (step p, line r) goes to
 * dst + p·R·4 + r·4. Four lines at a time: four vectors of 4 steps each, transposed with
 * two rounds of shuffles (the SSE _MM_TRANSPOSE4_PS pattern), then kc mod 4 single floats.
 */
function emitPackTranspose(name: string, r: number): FunctionBuilder {
  const f = new FunctionBuilder(name, [I32, I32, I32, I32]);
  const [dst, src, lineBytes, kc] = [0, 1, 2, 3];
  const line = [f.local(I32), f.local(I32), f.local(I32), f.local(I32)];
  const d = f.local(I32);
  const quads = f.local(I32);
  const rest = f.local(I32);
  const x = [f.local(V128), f.local(V128), f.local(V128), f.local(V128)];
  const t = [f.local(V128), f.local(V128), f.local(V128), f.local(V128)];
  const stepBytes = 4 * r;
  for (let g = 0; g < r / 4; g++) {
    // line[q] = src + (4g + q)·lineBytes;  d = dst + 16g (lanes 4g … 4g+3 of each step)
    for (let q = 0; q < 4; q++) f.localGet(src).localGet(lineBytes).i32Const(4 * g + q).i32Mul().i32Add().localSet(line[q]!);
    f.localGet(dst).i32Const(16 * g).i32Add().localSet(d);
    f.localGet(kc).i32Const(2).i32ShrU().localSet(quads);
    f.countedLoop(quads, () => {
      // x[q] = steps p … p+3 of line q
      for (let q = 0; q < 4; q++) f.localGet(line[q]!).v128Load().localSet(x[q]!);
      // t0 = x0[0] x1[0] x0[1] x1[1]   t1 = x0[2] x1[2] x0[3] x1[3]   (t2, t3 likewise from x2, x3)
      f.localGet(x[0]!).localGet(x[1]!).i8x16Shuffle(f32Lanes(0, 4, 1, 5)).localSet(t[0]!);
      f.localGet(x[0]!).localGet(x[1]!).i8x16Shuffle(f32Lanes(2, 6, 3, 7)).localSet(t[1]!);
      f.localGet(x[2]!).localGet(x[3]!).i8x16Shuffle(f32Lanes(0, 4, 1, 5)).localSet(t[2]!);
      f.localGet(x[2]!).localGet(x[3]!).i8x16Shuffle(f32Lanes(2, 6, 3, 7)).localSet(t[3]!);
      // step p+s = x0[s] x1[s] x2[s] x3[s]: the low or high halves of t0|t2 and t1|t3
      const halves: [number, number, number[]][] = [
        [t[0]!, t[2]!, f32Lanes(0, 1, 4, 5)],
        [t[0]!, t[2]!, f32Lanes(2, 3, 6, 7)],
        [t[1]!, t[3]!, f32Lanes(0, 1, 4, 5)],
        [t[1]!, t[3]!, f32Lanes(2, 3, 6, 7)],
      ];
      halves.forEach(([lo, hi, lanes], s) => f.localGet(d).localGet(lo).localGet(hi).i8x16Shuffle(lanes).v128Store(s * stepBytes));
      for (let q = 0; q < 4; q++) f.bump(line[q]!, 16);
      f.bump(d, 4 * stepBytes);
    });
    f.localGet(kc).i32Const(3).i32And().localSet(rest);
    f.countedLoop(rest, () => {
      for (let q = 0; q < 4; q++) f.localGet(d).localGet(line[q]!).f32Load().f32Store(4 * q);
      for (let q = 0; q < 4; q++) f.bump(line[q]!, 4);
      f.bump(d, stepBytes);
    });
  }
  return f;
}

/** The binary GEMM module for one tile shape and one kind of memory. */
export function gemmModuleBytes(shape: TileShape, memory: MemoryImport): Uint8Array<ArrayBuffer> {
  const module = new ModuleBuilder(memory);
  const tile = module.add(emitTile(shape));
  module.add(emitGemm(shape, tile));
  // The packers move float32 four lines at a time: only for sliver widths that are multiples
  // of 4, and not for float64, whose operands JavaScript packs through the tables.
  for (const [operand, r] of [['A', shape.mr], ['B', 4 * shape.nv]] as const) {
    if (r % 4 !== 0 || shape.dtype === 'float64') continue;
    module.add(emitPackCopy(`packCopy${operand}`, r));
    module.add(emitPackTranspose(`packTranspose${operand}`, r));
  }
  return module.build();
}

/**
 * The smallest module that uses 128-bit SIMD (an f32x4 add in memory), for feature detection:
 * `WebAssembly.validate` rejects it where SIMD is missing.
 */
export function simdProbeBytes(): Uint8Array<ArrayBuffer> {
  const module = new ModuleBuilder({ initialPages: 1, maximumPages: 1, shared: false });
  const f = new FunctionBuilder('probe', [I32]);
  // mem[p..p+16) = mem[p..p+16) + splat(mem[p])
  f.localGet(0).localGet(0).v128Load().localGet(0).v128Load32Splat().f32x4Add().v128Store();
  module.add(f);
  return module.build();
}

/** The smallest module that uses f32x4.relaxed_madd: `WebAssembly.validate` rejects it without relaxed SIMD. */
export function relaxedSimdProbeBytes(): Uint8Array<ArrayBuffer> {
  const module = new ModuleBuilder({ initialPages: 1, maximumPages: 1, shared: false });
  const f = new FunctionBuilder('probe', [I32]);
  // mem[p..p+16) = splat(mem[p]) · mem[p..p+16) + mem[p..p+16)
  f.localGet(0).localGet(0).v128Load32Splat().localGet(0).v128Load().localGet(0).v128Load().f32x4RelaxedMadd().v128Store();
  module.add(f);
  return module.build();
}

/** The exports of an instantiated GEMM module. */
export interface GemmExports {
  /**
   * The micro-kernel: C[MR × NR] = A sliver · B sliver over `kc` steps (or C += … where
   * `accumulate` ≠ 0); `a`, `b`, `c` are byte addresses and C's rows are `ldc` bytes apart.
   */
  tile(kc: number, a: number, b: number, c: number, ldc: number, accumulate: number): void;
  /**
   * C = A·B on packed operands at byte addresses `a`, `b`, `c` (layout in the file comment),
   * for the B slivers [n0, n1) only: K in slices of KC, A in blocks of mcTiles slivers.
   */
  gemm(K: number, KC: number, a: number, b: number, c: number, mTiles: number, nTiles: number, n0: number, n1: number, mcTiles: number): void;
  /**
   * The packers (byte addresses), present where MR (for A) or NR (for B) is a multiple of 4.
   * packCopyA: an A sliver from Aᵀ row-major (each step's MR numbers adjacent).
   */
  packCopyA?: SliverPacker;
  /** An A sliver from A row-major (each of its MR rows contiguous along K), transposed in registers. */
  packTransposeA?: SliverPacker;
  /** A B sliver from B row-major (each step's NR numbers adjacent). */
  packCopyB?: SliverPacker;
  /** A B sliver from Bᵀ row-major (each of its NR columns contiguous along K), transposed in registers. */
  packTransposeB?: SliverPacker;
}

/** (dst, src, stride in bytes between steps for packCopy, between lines for packTranspose, kc). */
export type SliverPacker = (dst: number, src: number, strideBytes: number, kc: number) => void;
