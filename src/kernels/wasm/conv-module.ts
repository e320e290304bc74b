/**
 * The convolution module: the WebAssembly functions that move a convolution's operands into
 * GEMM panels and its column gradient back onto the image (conv.ts drives them), and 2×2
 * max pooling (pool.ts). It is
 * emitted with the emitter (emitter.ts) for one runtime's element type and register tile, and
 * instantiated over that runtime's memory, beside the GEMM module (gemm-module.ts), which
 * multiplies what these pack.
 *
 *   packTableA / packTableB(dst, image, lines, steps, kc, slivers)
 *       `slivers` whole R-line slivers (R = MR for A, NR for B), kc steps each, of a matrix
 *       whose element (line, step) is the number at image + lines[line] + steps[step] (byte
 *       offsets, i32 tables in memory), into the panel layout of gemm-module.ts: step p of a
 *       sliver is R consecutive numbers. This is the table matrix of gemm.ts, read in
 *       WebAssembly instead of JavaScript, with two fast paths:
 *         - the R lines of a sliver are adjacent numbers (R output positions of one image row
 *           at stride 1, as in im2col's columns): each step is one run of R numbers, copied
 *           with vector loads and stores;
 *         - steps p … p+L−1 are adjacent numbers (L lanes of a vector; flagged by bit 0 of
 *           steps[p], which byte offsets never use): each line's L numbers are one vector
 *           load, and groups of L lines are transposed in registers (the _MM_TRANSPOSE4_PS
 *           shuffles for float32, one unpack pair for float64);
 *       otherwise one number at a time (R loads and stores per step, the offsets in locals).
 *
 *   packEdgeA / packEdgeB(dst, image, lines, steps, kc, count)
 *       The last sliver of an operand: `count` < R lines one number at a time, then zeros.
 *
 *   addTap(dst, src, n, nDst, nSrc, rows, rowDst, rowSrc, count, colDst)
 *       col2im for one kernel tap: for each of n images and `rows` output rows, add `count`
 *       consecutive numbers at src onto count numbers colDst bytes apart at dst (vector adds
 *       when colDst is one element, i.e. stride 1). Every argument past `src` is a count or a
 *       byte step.
 *
 *   maxPool2x2(dst, idx, src, planes, H, W, Ho, Wo)
 *       Max pooling over 2×2 windows at stride 2 (pool.ts): the maxima and their in-plane
 *       indices, with vector comparisons and bitselects instead of branches.
 *
 * Everything copies or adds numbers as they are, in the order the JavaScript it replaces did,
 * so results are those of that JavaScript to the bit.
 */
import type { FloatDType } from '../../tensor/dtype.js';
import { FunctionBuilder, I32, ModuleBuilder, V128 } from './emitter.js';
import { lanesOf } from './gemm-module.js';
import { MAXIMUM_PAGES, type WasmRuntime } from './runtime.js';

/** The exports of an instantiated convolution module (byte addresses and byte steps throughout). */
export interface ConvExports {
  /** Whole A slivers (MR lines each) from a table matrix; see the file comment. */
  packTableA(dst: number, image: number, lines: number, steps: number, kc: number, slivers: number): void;
  /** Whole B slivers (NR lines each) from a table matrix; see the file comment. */
  packTableB(dst: number, image: number, lines: number, steps: number, kc: number, slivers: number): void;
  /** The edge sliver of A: `count` < MR lines, then zeros. */
  packEdgeA(dst: number, image: number, lines: number, steps: number, kc: number, count: number): void;
  /** The edge sliver of B: `count` < NR lines, then zeros. */
  packEdgeB(dst: number, image: number, lines: number, steps: number, kc: number, count: number): void;
  /** 2×2 stride-2 max pooling of contiguous planes; see emitMaxPool2x2. */
  maxPool2x2(dst: number, idx: number, src: number, planes: number, H: number, W: number, Ho: number, Wo: number): void;
  /** col2im of one kernel tap; see the file comment. */
  addTap(dst: number, src: number, n: number, nDst: number, nSrc: number, rows: number, rowDst: number, rowSrc: number, count: number, colDst: number): void;
}

/** SIMD opcodes used by the pooling kernel (WebAssembly SIMD, §5.4.8). */
const SIMD = {
  i32x4Splat: 0x11,
  i64x2Splat: 0x12,
  f32x4Eq: 0x41,
  f32x4Le: 0x45,
  f64x2Eq: 0x47,
  f64x2Le: 0x4b,
  v128Not: 0x4d,
  v128And: 0x4e,
  v128Bitselect: 0x52,
  i32x4Add: 0xae,
  i64x2Add: 0xce,
} as const;

/** What the kernels need of an element type: its size, lanes, scalar and vector instructions. */
interface Element {
  bytes: number;
  lanes: number;
  load(f: FunctionBuilder, offset: number): void;
  store(f: FunctionBuilder, offset: number): void;
  add(f: FunctionBuilder): void;
  addVectors(f: FunctionBuilder): void;
  /** Vector a ≤ b and a = b (all-ones lanes where true), for the pooling kernel. */
  le: number;
  eq: number;
  /** Scalar a ≤ b and a = b (0x5f/0x5b f32, 0x65/0x61 f64). */
  scalarLe: number;
  scalarEq: number;
}

const ELEMENTS: Record<FloatDType, Element> = {
  float32: {
    bytes: 4,
    lanes: 4,
    load: (f, o) => f.f32Load(o),
    store: (f, o) => f.f32Store(o),
    add: (f) => f.f32Add(),
    addVectors: (f) => f.f32x4Add(),
    le: SIMD.f32x4Le,
    eq: SIMD.f32x4Eq,
    scalarLe: 0x5f,
    scalarEq: 0x5b,
  },
  float64: {
    bytes: 8,
    lanes: 2,
    load: (f, o) => f.f64Load(o),
    store: (f, o) => f.f64Store(o),
    add: (f) => f.f64Add(),
    addVectors: (f) => f.f64x2Add(),
    le: SIMD.f64x2Le,
    eq: SIMD.f64x2Eq,
    scalarLe: 0x65,
    scalarEq: 0x61,
  },
};

/** The 16 byte lanes of i8x16.shuffle that pick the given lanes of `bytes`-byte elements (a: 0…, b: 16/bytes…). */
function pick(bytes: number, lanes: readonly number[]): number[] {
  return lanes.flatMap((l) => Array.from({ length: bytes }, (_, i) => bytes * l + i));
}

/**
 * Emit the transpose of L vectors (locals x[0…L−1], line q's L consecutive steps each) into
 * L steps of L lines, calling `store(s)` with step s's vector on the stack pushed by `value`.
 * float32 (L = 4): two rounds of shuffles; float64 (L = 2): one round.
 */
function transpose(f: FunctionBuilder, E: Element, x: number[], t: number[], store: (s: number, value: () => void) => void): void {
  if (E.lanes === 2) {
    store(0, () => f.localGet(x[0]!).localGet(x[1]!).i8x16Shuffle(pick(8, [0, 2])));
    store(1, () => f.localGet(x[0]!).localGet(x[1]!).i8x16Shuffle(pick(8, [1, 3])));
    return;
  }
  // t0 = x0[0] x1[0] x0[1] x1[1]   t1 = x0[2] x1[2] x0[3] x1[3]   (t2, t3 likewise from x2, x3)
  f.localGet(x[0]!).localGet(x[1]!).i8x16Shuffle(pick(4, [0, 4, 1, 5])).localSet(t[0]!);
  f.localGet(x[0]!).localGet(x[1]!).i8x16Shuffle(pick(4, [2, 6, 3, 7])).localSet(t[1]!);
  f.localGet(x[2]!).localGet(x[3]!).i8x16Shuffle(pick(4, [0, 4, 1, 5])).localSet(t[2]!);
  f.localGet(x[2]!).localGet(x[3]!).i8x16Shuffle(pick(4, [2, 6, 3, 7])).localSet(t[3]!);
  // step s = x0[s] x1[s] x2[s] x3[s]: the low or high halves of t0|t2 and t1|t3
  const halves: [number, number, number[]][] = [
    [t[0]!, t[2]!, [0, 1, 4, 5]],
    [t[0]!, t[2]!, [2, 3, 6, 7]],
    [t[1]!, t[3]!, [0, 1, 4, 5]],
    [t[1]!, t[3]!, [2, 3, 6, 7]],
  ];
  halves.forEach(([lo, hi, lanes], s) => store(s, () => f.localGet(lo).localGet(hi).i8x16Shuffle(pick(4, lanes))));
}

/** packTableA / packTableB for slivers of R lines (see the file comment). */
function emitPackTable(name: string, R: number, E: Element): FunctionBuilder {
  const f = new FunctionBuilder(name, [I32, I32, I32, I32, I32, I32]);
  const [dst, image, lines, steps, kc, slivers] = [0, 1, 2, 3, 4, 5];
  const line = Array.from({ length: R }, () => f.local(I32));
  const p = f.local(I32); // steps left in this sliver
  const at = f.local(I32); // the step table entry being read
  const t = f.local(I32); // steps[p]: its byte offset, and bit 0 the adjacency flag
  const src = f.local(I32);
  const L = E.lanes;
  const x = Array.from({ length: L }, () => f.local(V128));
  const tmp = Array.from({ length: L }, () => f.local(V128));
  const stepBytes = R * E.bytes;
  const vectors = Math.floor(stepBytes / 16);

  /** src = image + (steps[at] with bit 0 cleared); t keeps the entry. */
  const readStep = () => {
    f.localGet(at).i32Load().localSet(t);
    f.localGet(image).localGet(t).i32Const(-2).i32And().i32Add().localSet(src);
  };

  f.countedLoop(slivers, () => {
    for (let r = 0; r < R; r++) f.localGet(lines).i32Load(4 * r).localSet(line[r]!);
    f.bump(lines, 4 * R);
    f.localGet(steps).localSet(at);
    f.localGet(kc).localSet(p);
    // Adjacent lines: line[r] = line[0] + r·E for every r.
    f.i32Const(1);
    for (let r = 1; r < R; r++) f.localGet(line[r]!).localGet(line[0]!).i32Sub().i32Const(r * E.bytes).i32Eq().i32And();
    f.if();
    {
      // Each step is R adjacent numbers at src + line[0]: vectors, then single numbers.
      f.localGet(image).localGet(line[0]!).i32Add().localSet(image);
      f.countedLoop(p, () => {
        readStep();
        for (let v = 0; v < vectors; v++) f.localGet(dst).localGet(src).v128Load(16 * v).v128Store(16 * v);
        for (let o = vectors * 16; o < stepBytes; o += E.bytes) {
          f.localGet(dst).localGet(src);
          E.load(f, o);
          E.store(f, o);
        }
        f.bump(at, 4);
        f.bump(dst, stepBytes);
      });
      f.localGet(image).localGet(line[0]!).i32Sub().localSet(image);
    }
    f.else();
    {
      f.block().loop();
      {
        f.localGet(p).i32Eqz().brIf(1);
        readStep();
        if (R % L === 0) {
          // L flagged adjacent steps left in this K block: L lines at a time, transposed.
          f.localGet(t).i32Const(1).i32And().localGet(p).i32Const(L - 1).i32GtS().i32And();
          f.if();
          for (let g = 0; g < R / L; g++) {
            for (let q = 0; q < L; q++) f.localGet(src).localGet(line[g * L + q]!).i32Add().v128Load().localSet(x[q]!);
            transpose(f, E, x, tmp, (s, value) => {
              f.localGet(dst);
              value();
              f.v128Store(s * stepBytes + 16 * g);
            });
          }
          f.bump(at, 4 * L);
          f.bump(dst, L * stepBytes);
          f.localGet(p).i32Const(L).i32Sub().localSet(p);
          f.br(1); // next step
          f.end();
        }
        // One step: R single numbers.
        for (let r = 0; r < R; r++) {
          f.localGet(dst).localGet(src).localGet(line[r]!).i32Add();
          E.load(f, 0);
          E.store(f, r * E.bytes);
        }
        f.bump(at, 4);
        f.bump(dst, stepBytes);
        f.localGet(p).i32Const(1).i32Sub().localSet(p);
        f.br(0);
      }
      f.end().end();
    }
    f.end();
  });
  return f;
}

/**
 * packEdgeA / packEdgeB(dst, image, lines, steps, kc, count): the last sliver of an operand,
 * `count` < R lines (their offsets read from the table at every step) and R − count zeros.
 */
function emitPackEdge(name: string, R: number, E: Element): FunctionBuilder {
  const f = new FunctionBuilder(name, [I32, I32, I32, I32, I32, I32]);
  const [dst, image, lines, steps, kc, count] = [0, 1, 2, 3, 4, 5];
  const src = f.local(I32);
  const r = f.local(I32);
  const line = f.local(I32);
  const out = f.local(I32);
  const zeros = f.local(I32);
  f.countedLoop(kc, () => {
    f.localGet(image).localGet(steps).i32Load().i32Const(-2).i32And().i32Add().localSet(src);
    f.localGet(count).localSet(r);
    f.localGet(lines).localSet(line);
    f.localGet(dst).localSet(out);
    f.countedLoop(r, () => {
      f.localGet(out).localGet(src).localGet(line).i32Load().i32Add();
      E.load(f, 0);
      E.store(f, 0);
      f.bump(line, 4);
      f.bump(out, E.bytes);
    });
    f.i32Const(R).localGet(count).i32Sub().localSet(zeros);
    f.countedLoop(zeros, () => {
      f.localGet(out).floatZero(E.bytes);
      E.store(f, 0);
      f.bump(out, E.bytes);
    });
    f.bump(steps, 4);
    f.bump(dst, R * E.bytes);
  });
  return f;
}

/** addTap (see the file comment). */
function emitAddTap(E: Element): FunctionBuilder {
  const f = new FunctionBuilder('addTap', [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32]);
  const [dst, src, n, nDst, nSrc, rows, rowDst, rowSrc, count, colDst] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const r = f.local(I32);
  const c = f.local(I32);
  const d = f.local(I32);
  const s = f.local(I32);
  const rowD = f.local(I32);
  const rowS = f.local(I32);
  const rest = f.local(I32);
  const shift = Math.log2(E.lanes);
  const advance = (local: number, by: () => void) => {
    f.localGet(local);
    by();
    f.i32Add().localSet(local);
  };
  /** mem[d] += mem[s] for one number, then d += dStep (a local, or one element), s += E. */
  const addOne = (dStep: number | null) => {
    f.localGet(d).localGet(d);
    E.load(f, 0);
    f.localGet(s);
    E.load(f, 0);
    E.add(f);
    E.store(f, 0);
    advance(d, () => (dStep === null ? f.i32Const(E.bytes) : f.localGet(dStep)));
    advance(s, () => f.i32Const(E.bytes));
  };

  f.countedLoop(n, () => {
    f.localGet(dst).localSet(rowD);
    f.localGet(src).localSet(rowS);
    f.localGet(rows).localSet(r);
    f.countedLoop(r, () => {
      f.localGet(rowD).localSet(d);
      f.localGet(rowS).localSet(s);
      f.localGet(colDst).i32Const(E.bytes).i32Eq();
      f.if();
      {
        // Stride 1: whole vectors, then the count mod L single numbers.
        f.localGet(count).i32Const(shift).i32ShrU().localSet(c);
        f.countedLoop(c, () => {
          f.localGet(d).localGet(d).v128Load().localGet(s).v128Load();
          E.addVectors(f);
          f.v128Store();
          advance(d, () => f.i32Const(16));
          advance(s, () => f.i32Const(16));
        });
        f.localGet(count).i32Const(E.lanes - 1).i32And().localSet(rest);
        f.countedLoop(rest, () => addOne(null));
      }
      f.else();
      {
        f.localGet(count).localSet(c);
        f.countedLoop(c, () => addOne(colDst));
      }
      f.end();
      advance(rowD, () => f.localGet(rowDst));
      advance(rowS, () => f.localGet(rowSrc));
    });
    advance(dst, () => f.localGet(nDst));
    advance(src, () => f.localGet(nSrc));
  });
  return f;
}

/**
 * maxPool2x2(dst, idx, src, planes, H, W, Ho, Wo): 2×2 windows at stride 2 over `planes`
 * contiguous H×W planes at src; each window's maximum to dst and the in-plane index of its
 * first occurrence (i32) to idx, Ho·Wo of each per plane. The rule is the cpu kernel's, tap by
 * tap in the order (0,0), (0,1), (1,0), (1,1): a tap replaces the best so far when it is not
 * ≤ it (larger, or NaN) and the best so far is not NaN. L windows at a time — two vector loads
 * per input row, deinterleaved into the windows' left and right taps, comparisons and
 * bitselects instead of branches (float64 carries its indices in i64 lanes, beside its f64
 * lanes) — and the Wo mod L last windows of a row one at a time, with selects.
 */
function emitMaxPool2x2(E: Element): FunctionBuilder {
  const f = new FunctionBuilder('maxPool2x2', [I32, I32, I32, I32, I32, I32, I32, I32]);
  const [dst, idx, src, planes, H, W, Ho, Wo] = [0, 1, 2, 3, 4, 5, 6, 7];
  const L = E.lanes;
  const wide = L === 2;
  const scalar = E.bytes === 4 ? 0x7d : 0x7c; // the f32 or f64 value type
  const oh = f.local(I32);
  const groups = f.local(I32);
  const rest = f.local(I32);
  const row0 = f.local(I32);
  const row1 = f.local(I32);
  const at = f.local(I32); // in-plane index of the next window's top-left tap
  const rowStart = f.local(I32);
  const win = f.local(I32);
  const bestS = f.local(scalar);
  const tapS = f.local(scalar);
  const atS = f.local(I32);
  const [a0, a1, best, tap, index, topLeft, mask, offsets, plusOne, plusW, plusW1] = Array.from({ length: 11 }, () => f.local(V128));
  const addIndex = () => f.simdOp(wide ? SIMD.i64x2Add : SIMD.i32x4Add);
  /** Push an i32 expression splatted to every index lane. */
  const splatIndex = (value: () => void) => {
    value();
    if (wide) f.i64ExtendI32U().simdOp(SIMD.i64x2Splat);
    else f.simdOp(SIMD.i32x4Splat);
  };
  const advance = (local: number, by: () => void) => {
    f.localGet(local);
    by();
    f.i32Add().localSet(local);
  };

  // The windows' top-left taps are 2 apart: lane offsets 0, 2, 4, 6 (i32) or 0, 2 (i64).
  const laneOffsets = Array.from({ length: L }, (_, l) => 2 * l);
  f.v128Const(laneOffsets.flatMap((v) => Array.from({ length: 16 / L }, (_, b) => (b === 0 ? v : 0)))).localSet(offsets);
  splatIndex(() => f.i32Const(1));
  f.localSet(plusOne);
  splatIndex(() => f.localGet(W));
  f.localSet(plusW);
  splatIndex(() => f.localGet(W).i32Const(1).i32Add());
  f.localSet(plusW1);

  /** The windows' left (even lanes) or right (odd lanes) taps of one input row, from a0 ‖ a1. */
  const taps = (odd: boolean) => f.localGet(a0).localGet(a1).i8x16Shuffle(pick(E.bytes, laneOffsets.map((o) => o + (odd ? 1 : 0))));
  /** best, index take `tap` and topLeft + offset where the tap wins: !(tap ≤ best) & (best = best). */
  const vectorStep = (offset: number) => {
    f.localGet(tap).localGet(best).simdOp(E.le).simdOp(SIMD.v128Not);
    f.localGet(best).localGet(best).simdOp(E.eq).simdOp(SIMD.v128And).localSet(mask);
    f.localGet(tap).localGet(best).localGet(mask).simdOp(SIMD.v128Bitselect).localSet(best);
    f.localGet(topLeft).localGet(offset);
    addIndex();
    f.localGet(index).localGet(mask).simdOp(SIMD.v128Bitselect).localSet(index);
  };
  /** The same rule for one window: bestS, atS take the tap at byte `offset` past `row`. */
  const scalarStep = (row: number, offset: number, indexOffset: () => void) => {
    f.localGet(row);
    E.load(f, offset);
    f.localSet(tapS);
    f.localGet(tapS).localGet(bestS).op(E.scalarLe).i32Eqz();
    f.localGet(bestS).localGet(bestS).op(E.scalarEq).i32And().localSet(win);
    f.localGet(tapS).localGet(bestS).localGet(win).select().localSet(bestS);
    f.localGet(at);
    indexOffset();
    f.i32Add().localGet(atS).localGet(win).select().localSet(atS);
  };

  f.countedLoop(planes, () => {
    f.localGet(Ho).localSet(oh);
    f.i32Const(0).localSet(rowStart);
    f.countedLoop(oh, () => {
      f.localGet(rowStart).localSet(at);
      f.localGet(src).localGet(at).i32Const(E.bytes).i32Mul().i32Add().localSet(row0);
      f.localGet(row0).localGet(W).i32Const(E.bytes).i32Mul().i32Add().localSet(row1);
      f.localGet(Wo).i32Const(Math.log2(L)).i32ShrU().localSet(groups);
      f.localGet(Wo).i32Const(L - 1).i32And().localSet(rest);
      f.countedLoop(groups, () => {
        splatIndex(() => f.localGet(at));
        f.localGet(offsets);
        addIndex();
        f.localTee(topLeft).localSet(index);
        f.localGet(row0).v128Load().localSet(a0);
        f.localGet(row0).v128Load(16).localSet(a1);
        taps(false);
        f.localSet(best);
        taps(true);
        f.localSet(tap);
        vectorStep(plusOne);
        f.localGet(row1).v128Load().localSet(a0);
        f.localGet(row1).v128Load(16).localSet(a1);
        taps(false);
        f.localSet(tap);
        vectorStep(plusW);
        taps(true);
        f.localSet(tap);
        vectorStep(plusW1);
        f.localGet(dst).localGet(best).v128Store();
        f.localGet(idx);
        if (wide) {
          // the low i32 of each i64 lane, side by side: the vector's low 8 bytes
          f.localGet(index).localGet(index).i8x16Shuffle([0, 1, 2, 3, 8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11]).storeLow64();
        } else f.localGet(index).v128Store();
        advance(row0, () => f.i32Const(2 * 16));
        advance(row1, () => f.i32Const(2 * 16));
        advance(dst, () => f.i32Const(16));
        advance(idx, () => f.i32Const(4 * L));
        advance(at, () => f.i32Const(2 * L));
      });
      f.countedLoop(rest, () => {
        f.localGet(row0);
        E.load(f, 0);
        f.localSet(bestS);
        f.localGet(at).localSet(atS);
        scalarStep(row0, E.bytes, () => f.i32Const(1));
        scalarStep(row1, 0, () => f.localGet(W));
        scalarStep(row1, E.bytes, () => f.localGet(W).i32Const(1).i32Add());
        f.localGet(dst).localGet(bestS);
        E.store(f, 0);
        f.localGet(idx).localGet(atS).i32Store();
        advance(row0, () => f.i32Const(2 * E.bytes));
        advance(row1, () => f.i32Const(2 * E.bytes));
        advance(dst, () => f.i32Const(E.bytes));
        advance(idx, () => f.i32Const(4));
        advance(at, () => f.i32Const(2));
      });
      // The next output row starts two input rows down.
      advance(rowStart, () => f.localGet(W).i32Const(2).i32Mul());
    });
    advance(src, () => f.localGet(H).localGet(W).i32Mul().i32Const(E.bytes).i32Mul());
  });
  return f;
}

/** The binary convolution module for one runtime's element type and tile, over a memory like its own. */
export function convModuleBytes(dtype: FloatDType, mr: number, nr: number, shared: boolean): Uint8Array<ArrayBuffer> {
  const E = ELEMENTS[dtype];
  const module = new ModuleBuilder({ initialPages: 1, maximumPages: MAXIMUM_PAGES, shared });
  module.add(emitPackTable('packTableA', mr, E));
  module.add(emitPackTable('packTableB', nr, E));
  module.add(emitPackEdge('packEdgeA', mr, E));
  module.add(emitPackEdge('packEdgeB', nr, E));
  module.add(emitAddTap(E));
  module.add(emitMaxPool2x2(E));
  return module.build();
}

const instances = new WeakMap<WasmRuntime, ConvExports>();

/** The convolution module of `rt`'s type and tile, instantiated over rt's memory (compiled on first use, once per runtime). */
export function convExports(rt: WasmRuntime): ConvExports {
  let ex = instances.get(rt);
  if (!ex) {
    const dtype = rt.tile.dtype ?? 'float32';
    const bytes = convModuleBytes(dtype, rt.tile.mr, lanesOf(rt.tile).lanes * rt.tile.nv, rt.shared);
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory: rt.memory } });
    ex = instance.exports as unknown as ConvExports;
    instances.set(rt, ex);
  }
  return ex;
}
