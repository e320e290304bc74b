/**
 * The float32 GEMM module, written with the emitter (emitter.ts). Two functions:
 *
 *   tile(kc, a, b, c, ldc)
 *       The register-blocked micro-kernel: C[MR × NR] += A_sliver · B_sliver over kc steps.
 *       A sliver holds MR numbers per step, a B sliver NR = 4·NV; C's rows are ldc bytes apart.
 *
 *   gemm(K, KC, a, b, c, mTiles, nTiles, n0, n1, mcTiles)
 *       The loops around it for C (+)= A·B on operands that JavaScript already packed
 *       (gemm.ts): every KC-deep slice of K, every block of mcTiles A slivers, every B sliver
 *       in [n0, n1), every A sliver of the block. A thread computes its own [n0, n1).
 *
 * Packed layout, in bytes from `a` and `b` (K block starting at step pc, kc = min(KC, K − pc)):
 *   A: a + pc·Mpad·4 + it·kc·MR·4 + p·MR·4 + r·4          (Mpad = mTiles·MR)
 *   B: b + pc·Npad·4 + jt·kc·NR·4 + p·NR·4 + j·4          (Npad = nTiles·NR)
 *   C: c + i·Npad·4 + j·4                                  (padded to whole tiles)
 * Edges are zero-padded by the packer and C is padded to whole tiles, so the micro-kernel has
 * no edge cases; JavaScript copies out the valid part.
 *
 * Why the micro-kernel looks like this: per step it loads NV vectors of B, and for each of the
 * MR rows one A number splatted to all four lanes, then does MR·NV vector multiply-adds. The
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
 */
import { FunctionBuilder, I32, ModuleBuilder, V128, type MemoryImport } from './emitter.js';

/** The shape of the register tile: MR rows by NR = 4·NV columns; K steps per loop turn. */
export interface TileShape {
  mr: number;
  nv: number;
  /** Steps of K per turn of the main loop (1, 2 or 4; default 1), the rest one at a time. */
  unroll?: number;
  /** Multiply-add with f32x4.relaxed_madd (needs relaxed SIMD) instead of f32x4.mul then f32x4.add. */
  fma?: boolean;
}

/** The micro-kernel (see the file comment). */
function emitTile({ mr, nv, unroll = 1, fma = false }: TileShape): FunctionBuilder {
  const f = new FunctionBuilder('tile', [I32, I32, I32, I32, I32]);
  const [kc, a, b, c, ldc] = [0, 1, 2, 3, 4];
  const acc: number[][] = [];
  for (let i = 0; i < mr; i++) acc.push(Array.from({ length: nv }, () => f.local(V128)));
  const bv = Array.from({ length: nv }, () => f.local(V128));
  const av = f.local(V128);
  const turns = f.local(I32);

  /** One step of K, reading A and B `u` steps past the pointers (a constant memarg offset). */
  const step = (u: number) => {
    for (let v = 0; v < nv; v++) f.localGet(b).v128Load(16 * (u * nv + v)).localSet(bv[v]!);
    for (let i = 0; i < mr; i++) {
      f.localGet(a).v128Load32Splat(4 * (u * mr + i)).localSet(av);
      // acc[i][v] += a_i · b_v
      for (let v = 0; v < nv; v++) {
        if (fma) f.localGet(av).localGet(bv[v]!).localGet(acc[i]![v]!).f32x4RelaxedMadd().localSet(acc[i]![v]!);
        else f.localGet(acc[i]![v]!).localGet(av).localGet(bv[v]!).f32x4Mul().f32x4Add().localSet(acc[i]![v]!);
      }
    }
  };
  /** Advance the pointers by `steps` steps of K. */
  const advance = (steps: number) => {
    f.localGet(a).i32Const(4 * mr * steps).i32Add().localSet(a);
    f.localGet(b).i32Const(16 * nv * steps).i32Add().localSet(b);
  };
  /** `do { body } while (--counter !== 0)`, skipped when the counter starts at 0. */
  const countedLoop = (counter: number, body: () => void) => {
    f.block().localGet(counter).i32Eqz().brIf(0);
    f.loop();
    body();
    f.localGet(counter).i32Const(1).i32Sub().localTee(counter).brIf(0);
    f.end().end();
  };

  // kc / unroll turns of `unroll` steps (memarg offsets instead of pointer updates between
  // them), then the kc % unroll remaining steps one by one.
  const shift = Math.log2(unroll);
  f.localGet(kc).i32Const(shift).i32ShrU().localSet(turns);
  countedLoop(turns, () => {
    for (let u = 0; u < unroll; u++) step(u);
    advance(unroll);
  });
  f.localGet(kc).i32Const(unroll - 1).i32And().localSet(kc);
  countedLoop(kc, () => {
    step(0);
    advance(1);
  });

  // C tile += accumulators, one row (ldc bytes) at a time.
  for (let i = 0; i < mr; i++) {
    for (let v = 0; v < nv; v++) {
      f.localGet(c).localGet(c).v128Load(16 * v).localGet(acc[i]![v]!).f32x4Add().v128Store(16 * v);
    }
    if (i < mr - 1) f.localGet(c).localGet(ldc).i32Add().localSet(c);
  }
  return f;
}

/** The loops around the micro-kernel (see the file comment). */
function emitGemm({ mr, nv }: TileShape, tileIndex: number): FunctionBuilder {
  const nr = 4 * nv;
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
  f.localGet(nTiles).i32Const(nr * 4).i32Mul().localSet(ldc);
  f.loop(); // ---- for each K block
  {
    min(() => f.localGet(KC), () => f.localGet(K).localGet(pc).i32Sub());
    f.localSet(kc);
    f.localGet(a).localGet(pc).localGet(mTiles).i32Mul().i32Const(mr * 4).i32Mul().i32Add().localSet(aBlock);
    f.localGet(b).localGet(pc).localGet(nTiles).i32Mul().i32Const(nr * 4).i32Mul().i32Add().localSet(bBlock);
    f.i32Const(0).localSet(ic);
    f.loop(); // ---- for each block of mcTiles A slivers (kept in L2)
    {
      min(() => f.localGet(ic).localGet(mcTiles).i32Add(), () => f.localGet(mTiles));
      f.localSet(icEnd);
      f.localGet(n0).localSet(jt);
      f.loop(); // ---- for each B sliver of this thread (kept in L1)
      {
        f.localGet(bBlock).localGet(jt).localGet(kc).i32Mul().i32Const(nr * 4).i32Mul().i32Add().localSet(bSliver);
        f.localGet(ic).localSet(it);
        f.loop(); // ---- for each A sliver of the block
        {
          f.localGet(kc);
          f.localGet(aBlock).localGet(it).localGet(kc).i32Mul().i32Const(mr * 4).i32Mul().i32Add();
          f.localGet(bSliver);
          // c + it·MR·ldc + jt·NR·4
          f.localGet(c).localGet(it).i32Const(mr).i32Mul().localGet(ldc).i32Mul().i32Add().localGet(jt).i32Const(nr * 4).i32Mul().i32Add();
          f.localGet(ldc);
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

/** The binary GEMM module for one tile shape and one kind of memory. */
export function gemmModuleBytes(shape: TileShape, memory: MemoryImport): Uint8Array<ArrayBuffer> {
  const module = new ModuleBuilder(memory);
  const tile = module.add(emitTile(shape));
  module.add(emitGemm(shape, tile));
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
  tile(kc: number, a: number, b: number, c: number, ldc: number): void;
  gemm(K: number, KC: number, a: number, b: number, c: number, mTiles: number, nTiles: number, n0: number, n1: number, mcTiles: number): void;
}
