/**
 * Direct convolutions for few taps or few output channels (LeNet-5's 1 → 6 5×5 layer above
 * all): conv2d and its weight gradient at stride 1 without an im2col product, in a module
 * emitted for the one geometry (any batch size), image by image.
 *
 * With k = (c, kh, kw) a tap (kdim = Cin·KH·KW of them) and x the input inside its zero
 * border (written into memory as [N, Cin, Hx, Wx]),
 *
 *   forward          y[n, co, oh, ow]  = Σ_k w[co, k] · x[n, c, oh + kh, ow + kw]
 *   weight gradient  ∂w[co, k]         = Σ_n Σ_oh Σ_ow gy[n, co, oh, ow] · x[n, c, oh + kh, ow + kw]
 *
 * Why not the GEMM (conv.ts): as a product, LeNet's first forward is W [6, 25] · col [25,
 * N·Ho·Wo], twelve flops per packed number of col, so packing col (every input number 25
 * times) bounds it at ≈ 16 GFLOP/s; its weight gradient likewise. Here nothing is packed:
 * each vector of L adjacent outputs along a row is an unaligned load of x per tap, and the
 * register tiles are
 *
 *   forward          CB channels × VB vectors of one output row (3 × 3 or 4 × 2): per tap VB
 *                    loads of x, CB broadcasts of w, CB·VB multiply-adds. The taps are three
 *                    loops (c, kh, kw) whose body is one tap: with the taps unrolled, V8
 *                    schedules all their loads first and spills the tile (half the speed);
 *   weight gradient  2 channels × 4 taps of ∂w, each a vector of L partial sums along ow:
 *                    per vector of a row 2 loads of gy and 4 of x (byte offsets in the loads'
 *                    memargs), 8 multiply-adds. The partial sums are added into memory after
 *                    each image, whose numbers stay in L1 for all its channel × tap blocks,
 *                    and their lanes are summed at the end.
 *
 * Both take rows of whole vectors only (Wo a multiple of L: LeNet's 24 and 8, any 'same'
 * convolution of a 28 or 32 image), so that no load reaches past a row and no product is made
 * with a number outside the sums. In LeNet-5's first layer the forward kernel runs at ≈ 57
 * GFLOP/s and the weight gradient's at ≈ 50 with relaxed SIMD (85 and 75 % of one thread's
 * peak; copying the operands in and the result out costs about as much again). The sums run
 * in another order than the GEMM's, so the results agree with it (and cpu) to rounding, not
 * to the bit.
 */
import { sizeOf } from '../../tensor/shape.js';
import type { View } from '../../tensor/storage.js';
import { allocateUnfilled, dtypeOf, type TypedArray } from '../../tensor/dtype.js';
import type { ConvDims } from '../geometry.js';
import { FunctionBuilder, I32, ModuleBuilder, V128 } from './emitter.js';
import { lanesOf } from './gemm-module.js';
import { MAXIMUM_PAGES, type WasmRuntime } from './runtime.js';
import { Layout, writeImage } from './conv.js';

/**
 * Which convolutions run here (stride and dilation 1, one group, rows of whole vectors):
 * forwards with at most `maxTaps` taps or `maxChannels` output channels, weight gradients with
 * at most `maxTaps` taps. The GEMM packs every input number kdim times and uses each packed
 * number for Cout multiply-adds, so it wins back its packing with many channels. Measured
 * on a Zen 5 host (bench/micro/direct-conv.mjs, float32, one thread, batch 128), GEMM →
 * direct: LeNet-5's 1 → 6 5×5 forward 1.0–1.4 → 0.47 ms and weight gradient 1.2 → 0.49 ms,
 * its 6 → 16 5×5 forward 0.91–1.0 → 0.80 ms; 16 → 32 and 32 → 64 'same' 3×3 forwards (batch
 * 64) 15–20 % slower direct (so they stay on the GEMM), as the 6 → 16 weight gradient (150
 * taps: 3× slower). On an Intel Xeon host those two forwards ran 1.3–1.4× faster direct, and
 * every weight gradient past 32 taps was 2–6× slower (docs/performance.md has both tables).
 * NOTE: tests set these to 0 or Infinity.
 */
export const direct = { maxTaps: 32, maxChannels: 16 };

/** Whether conv2d (`weightGradient`: its weight gradient) of these dims runs here on rt. */
export function directConvApplies(rt: WasmRuntime, d: ConvDims, weightGradient: boolean): boolean {
  const fewTaps = d.kdim <= direct.maxTaps;
  const plain = d.groups === 1 && d.sh === 1 && d.sw === 1 && d.dh === 1 && d.dw === 1 && d.Wo % lanesOf(rt.tile).lanes === 0;
  return plain && (fewTaps || (!weightGradient && d.Cout <= direct.maxChannels));
}

/** The emitted geometry: padded image planes Hx × Wx, the forward's tile (VB vectors × CB channels). */
export interface Emitted {
  d: ConvDims;
  E: number;
  L: number;
  fma: boolean;
  Hx: number;
  Wx: number;
  /** Vectors per forward tile (along a row) and channels per forward tile. */
  VB: number;
  CB: number;
}

/** A direct module's function (the other is absent). */
export interface DirectExports {
  forward(y: number, x: number, w: number, images: number): void;
  weightGradient(acc: number, x: number, gy: number, images: number): void;
}

export function geometry(rt: WasmRuntime, d: ConvDims): Emitted {
  const { bytes: E, lanes: L } = lanesOf(rt.tile);
  // The forward's tile: 3 × 3 or 4 × 2 vectors (more accumulators spill), channels in blocks of equal size.
  const vectors = d.Wo / L;
  const VB = vectors % 3 === 0 ? 3 : vectors % 2 === 0 ? 2 : 1;
  const CB = Math.ceil(d.Cout / Math.ceil(d.Cout / (VB === 3 ? 3 : 4)));
  return { d, E, L, fma: !!rt.tile.fma, Hx: d.H + 2 * d.ph, Wx: d.W + 2 * d.pw, VB, CB };
}

/** Byte offset of tap k = (c, kh, kw) from a window's corner in the padded image. */
const tapOffset = (g: Emitted, k: number) => {
  const { KH, KW } = g.d;
  const c = Math.floor(k / (KH * KW));
  const kh = Math.floor(k / KW) % KH;
  return g.E * ((c * g.Hx + kh) * g.Wx + (k % KW));
};

/** The instructions both kernels need, for g's element type, emitted into f. */
function emitter(g: Emitted, f: FunctionBuilder) {
  const f32 = g.E === 4;
  const zero = f.local(V128); // never written: locals start at zero
  const add = () => (f32 ? f.f32x4Add() : f.f64x2Add());
  return {
    splat: (offset: number) => (f32 ? f.v128Load32Splat(offset) : f.v128Load64Splat(offset)),
    add,
    /** acc ← a·b + acc, with a and b pushed by `operands`. */
    madd(acc: number, operands: () => void) {
      if (g.fma) {
        operands();
        f.localGet(acc);
        if (f32) f.f32x4RelaxedMadd();
        else f.f64x2RelaxedMadd();
      } else {
        f.localGet(acc);
        operands();
        if (f32) f.f32x4Mul();
        else f.f64x2Mul();
        add();
      }
      f.localSet(acc);
    },
    zero: (r: number) => f.localGet(zero).localSet(r),
    bump: (r: number, bytes: number) => f.bump(r, bytes),
  };
}

/**
 * forward(y, x, w, images): y [images, Cout, Ho, Wo] from x [images, Cin, Hx, Wx] and w
 * [Cout, kdim]. The taps are loops (c, kh, kw) whose body is one tap: with the taps unrolled,
 * V8 schedules all their loads first and spills the tile (half the speed).
 */
export function emitForward(g: Emitted): FunctionBuilder {
  const { d, E, VB, CB } = g;
  const f = new FunctionBuilder('forward', [I32, I32, I32, I32]);
  const e = emitter(g, f);
  const [y, x, w, images] = [0, 1, 2, 3];
  const [xp, yp, rows, tiles] = [f.local(I32), f.local(I32), f.local(I32), f.local(I32)];
  // The tap loops: pointers into x (channel, kernel row, tap) and w, and their counters.
  const [xc, xr, xt, wt, cs, khs, kws] = Array.from({ length: 7 }, () => f.local(I32)) as [number, number, number, number, number, number, number];
  const acc = Array.from({ length: CB * VB }, () => f.local(V128));
  const xv = Array.from({ length: VB }, () => f.local(V128));
  const s = f.local(V128);
  f.countedLoop(images, () => {
    for (let co0 = 0; co0 < d.Cout; co0 += CB) {
      const cb = Math.min(CB, d.Cout - co0);
      f.localGet(x).localSet(xp).localGet(y).i32Const(E * co0 * d.Ho * d.Wo).i32Add().localSet(yp);
      f.i32Const(d.Ho).localSet(rows);
      f.countedLoop(rows, () => {
        f.i32Const(d.Wo / (VB * g.L)).localSet(tiles);
        f.countedLoop(tiles, () => {
          for (let i = 0; i < cb * VB; i++) e.zero(acc[i]!);
          f.localGet(xp).localSet(xc).localGet(w).i32Const(E * co0 * d.kdim).i32Add().localSet(wt).i32Const(d.Cin).localSet(cs);
          f.countedLoop(cs, () => {
            f.localGet(xc).localSet(xr).i32Const(d.KH).localSet(khs);
            f.countedLoop(khs, () => {
              f.localGet(xr).localSet(xt).i32Const(d.KW).localSet(kws);
              f.countedLoop(kws, () => {
                for (let v = 0; v < VB; v++) f.localGet(xt).v128Load(16 * v).localSet(xv[v]!);
                for (let co = 0; co < cb; co++) {
                  f.localGet(wt);
                  e.splat(E * co * d.kdim);
                  f.localSet(s);
                  for (let v = 0; v < VB; v++) e.madd(acc[co * VB + v]!, () => f.localGet(s).localGet(xv[v]!));
                }
                e.bump(xt, E);
                e.bump(wt, E);
              });
              e.bump(xr, E * g.Wx);
            });
            e.bump(xc, E * g.Hx * g.Wx);
          });
          for (let co = 0; co < cb; co++) for (let v = 0; v < VB; v++) f.localGet(yp).localGet(acc[co * VB + v]!).v128Store(E * co * d.Ho * d.Wo + 16 * v);
          e.bump(xp, 16 * VB);
          e.bump(yp, 16 * VB);
        });
        e.bump(xp, E * (g.Wx - d.Wo));
      });
    }
    e.bump(x, E * d.Cin * g.Hx * g.Wx);
    e.bump(y, E * d.Cout * d.Ho * d.Wo);
  });
  return f;
}

/** The tile of the weight gradient: channels × taps. */
const GRAD_CHANNELS = 2;
const GRAD_TAPS = 4;

/**
 * weightGradient(acc, x, gy, images): adds, for every channel co and tap k, the L partial sums
 * along ow of gy · x over each image to the vector at acc + 16·(co·kdim + k).
 */
export function emitWeightGradient(g: Emitted): FunctionBuilder {
  const { d, E, L } = g;
  const f = new FunctionBuilder('weightGradient', [I32, I32, I32, I32]);
  const e = emitter(g, f);
  const [acc, x, gy, images] = [0, 1, 2, 3];
  const [xp, gp, rows, vectors] = [f.local(I32), f.local(I32), f.local(I32), f.local(I32)];
  const sums = Array.from({ length: GRAD_CHANNELS * GRAD_TAPS }, () => f.local(V128));
  const gv = Array.from({ length: GRAD_CHANNELS }, () => f.local(V128));
  const xv = f.local(V128);
  const plane = E * d.Ho * d.Wo;
  f.countedLoop(images, () => {
    for (let co0 = 0; co0 < d.Cout; co0 += GRAD_CHANNELS) {
      const cb = Math.min(GRAD_CHANNELS, d.Cout - co0);
      for (let k0 = 0; k0 < d.kdim; k0 += GRAD_TAPS) {
        const kb = Math.min(GRAD_TAPS, d.kdim - k0);
        const sum = (co: number, k: number) => sums[co * GRAD_TAPS + k]!;
        for (let co = 0; co < cb; co++) for (let k = 0; k < kb; k++) e.zero(sum(co, k));
        f.localGet(x).localSet(xp).localGet(gy).localSet(gp).i32Const(d.Ho).localSet(rows);
        f.countedLoop(rows, () => {
          f.i32Const(d.Wo / L).localSet(vectors);
          f.countedLoop(vectors, () => {
            for (let co = 0; co < cb; co++) f.localGet(gp).v128Load((co0 + co) * plane).localSet(gv[co]!);
            for (let k = 0; k < kb; k++) {
              f.localGet(xp).v128Load(tapOffset(g, k0 + k)).localSet(xv);
              for (let co = 0; co < cb; co++) e.madd(sum(co, k), () => f.localGet(gv[co]!).localGet(xv));
            }
            e.bump(xp, 16);
            e.bump(gp, 16);
          });
          e.bump(xp, E * (g.Wx - d.Wo));
        });
        for (let co = 0; co < cb; co++) {
          for (let k = 0; k < kb; k++) {
            const at = 16 * ((co0 + co) * d.kdim + k0 + k);
            f.localGet(acc).localGet(acc).v128Load(at).localGet(sum(co, k));
            e.add();
            f.v128Store(at);
          }
        }
      }
    }
    e.bump(x, E * d.Cin * g.Hx * g.Wx);
    e.bump(gy, E * d.Cout * d.Ho * d.Wo);
  });
  return f;
}

/** Modules by runtime and emitted geometry (the same layers run every step). */
const modules = new WeakMap<WasmRuntime, Map<string, DirectExports>>();

export function directExports(rt: WasmRuntime, g: Emitted, weightGradient: boolean): DirectExports {
  const { N: _, ...dims } = g.d; // one module for every batch size
  const key = JSON.stringify({ ...g, d: dims, weightGradient });
  const cache = modules.get(rt) ?? new Map<string, DirectExports>();
  modules.set(rt, cache);
  let ex = cache.get(key);
  if (!ex) {
    const module = new ModuleBuilder({ initialPages: 1, maximumPages: MAXIMUM_PAGES, shared: rt.shared });
    module.add(weightGradient ? emitWeightGradient(g) : emitForward(g));
    ex = new WebAssembly.Instance(new WebAssembly.Module(module.build()), { env: { memory: rt.memory } }).exports as unknown as DirectExports;
    cache.set(key, ex);
  }
  return ex;
}

/**
 * Stage x inside its zero border, then `other` (w or gy), then `resultBytes` for the result,
 * in rt's memory; their byte addresses, or null when they do not fit.
 */
export function staged(rt: WasmRuntime, g: Emitted, x: View, other: View, resultBytes: number): [number, number, number] | null {
  const { d, E } = g;
  const layout = new Layout();
  const at: [number, number, number] = [layout.take(E * d.N * d.Cin * g.Hx * g.Wx), layout.take(E * sizeOf(other.shape)), layout.take(resultBytes)];
  if (!rt.reserve(layout.end)) return null;
  const mem = rt.elements();
  writeImage(mem, at[0] / E, x, d.ph, d.pw);
  writeImage(mem, at[1] / E, other, 0, 0);
  return at;
}

/** Backend.conv2d here (see directConvApplies); null when it does not fit the memory. */
export function directConv2d(rt: WasmRuntime, x: View, w: View, d: ConvDims): TypedArray | null {
  const g = geometry(rt, d);
  const out = allocateUnfilled(dtypeOf(x.data), d.N * d.Cout * d.P);
  const at = staged(rt, g, x, w, g.E * out.length);
  if (!at) return null;
  directExports(rt, g, false).forward(at[2], at[0], at[1], d.N);
  const y = at[2] / g.E;
  out.set(rt.elements().subarray(y, y + out.length));
  return out;
}

/** Backend.conv2dBackwardWeight here (see directConvApplies); null when it does not fit the memory. */
export function directConv2dBackwardWeight(rt: WasmRuntime, x: View, gy: View, d: ConvDims): TypedArray | null {
  const g = geometry(rt, d);
  const out = allocateUnfilled(dtypeOf(x.data), d.Cout * d.kdim);
  const at = staged(rt, g, x, gy, 16 * out.length);
  if (!at) return null;
  const mem = rt.elements();
  const acc = at[2] / g.E;
  mem.fill(0, acc, acc + g.L * out.length);
  directExports(rt, g, true).weightGradient(at[2], at[0], at[1], d.N);
  for (let i = 0; i < out.length; i++) {
    let s = 0;
    for (let l = 0; l < g.L; l++) s += mem[acc + i * g.L + l]!;
    out[i] = s;
  }
  return out;
}
