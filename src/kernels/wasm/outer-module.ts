/**
 * The batched outer-product module, written with the emitter (emitter.ts). One function:
 *
 *   outer(B, N, K, g, a, o)
 *       o[b, n, k] = g[b, n] · a[b, k] for b < B, n < N, k < K: the per-sample weight
 *       gradients of a Linear layer (gᵢ ⊗ xᵢ, autograd/per-sample.ts). g is [B, N], a is
 *       [B, K] and o is [B, N, K], all contiguous float32, given as byte addresses; B, N ≥ 1.
 *
 * Why WebAssembly: the work is one multiply per output number and the output is B × P numbers
 * (138 MB for a 784-256-256-10 MLP at B = 128), so the loop is bound by how fast it can
 * store. A row o[b, n, :] is a splat of g[b, n] times the row a[b, :], four lanes per f32x4
 * multiply. For the 784 → 256 layer at B = 128 (103 MB) that writes ≈ 21 GB/s on this machine,
 * close to a memset's 24, against ≈ 3–4 GB/s for scalar JavaScript loops, the pure-TypeScript
 * backend's included (bench/micro/wasm-outer.mjs: 4.9 ms against 25 ms).
 */
import { F32, FunctionBuilder, I32, ModuleBuilder, V128, type MemoryImport } from './emitter.js';

function emitOuter(): FunctionBuilder {
  const f = new FunctionBuilder('outer', [I32, I32, I32, I32, I32, I32]);
  const [B, N, K, g, a, o] = [0, 1, 2, 3, 4, 5];
  const n = f.local(I32);
  const k = f.local(I32);
  const ak = f.local(I32);
  const h = f.local(V128);
  const hs = f.local(F32);

  f.loop(); // ---- for each sample b
  {
    f.localGet(N).localSet(n);
    f.loop(); // ---- for each n: the row o[b, n, :] = g[b, n] · a[b, :]
    {
      f.localGet(g).f32Load().localTee(hs).f32x4Splat().localSet(h);
      f.localGet(a).localSet(ak);
      // four numbers at a time …
      f.localGet(K).i32Const(2).i32ShrU().localSet(k);
      f.countedLoop(k, () => {
        f.localGet(o).localGet(h).localGet(ak).v128Load().f32x4Mul().v128Store();
        f.bump(o, 16);
        f.bump(ak, 16);
      });
      // … and the K mod 4 left over, one by one
      f.localGet(K).i32Const(3).i32And().localSet(k);
      f.countedLoop(k, () => {
        f.localGet(o).localGet(hs).localGet(ak).f32Load().f32Mul().f32Store();
        f.bump(o, 4);
        f.bump(ak, 4);
      });
      f.bump(g, 4);
      f.localGet(n).i32Const(1).i32Sub().localTee(n).brIf(0);
    }
    f.end();
    // next sample: a moves one row of K numbers on
    f.localGet(a).localGet(K).i32Const(4).i32Mul().i32Add().localSet(a);
    f.localGet(B).i32Const(1).i32Sub().localTee(B).brIf(0);
  }
  f.end();
  return f;
}

/** The binary outer-product module over an imported memory. */
export function outerModuleBytes(memory: MemoryImport): Uint8Array<ArrayBuffer> {
  const module = new ModuleBuilder(memory);
  module.add(emitOuter());
  return module.build();
}

/** The exports of an instantiated outer-product module. */
export interface OuterExports {
  /** `o[b, n, k] = g[b, n] · a[b, k]` on contiguous float32 arrays at byte addresses g, a, o (see the file comment). */
  outer(B: number, N: number, K: number, g: number, a: number, o: number): void;
}
