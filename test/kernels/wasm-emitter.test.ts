/**
 * The WebAssembly binary emitter: LEB128 against the specification's examples, modules that
 * the engine validates and runs, a decoder that reads an emitted module back section by
 * section, and the GEMM micro-kernel (mul + add, and fused where relaxed SIMD exists) run
 * directly on a hand-packed tile.
 */
import { describe, expect, it } from 'vitest';
import { F32, FunctionBuilder, I32, ModuleBuilder, V128, sleb128, uleb128 } from '../../src/kernels/wasm/emitter.js';
import { gemmModuleBytes, relaxedSimdProbeBytes, simdProbeBytes, type GemmExports } from '../../src/kernels/wasm/gemm-module.js';
import { enableRelaxedSimd } from '../../packages/lab/src/cli/engine-flags.js';

/** Read an unsigned LEB128 at `at`; returns [value, next position]. */
function readU(bytes: Uint8Array, at: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (;;) {
    const byte = bytes[at++]!;
    value += (byte & 0x7f) * scale;
    scale *= 128;
    if ((byte & 0x80) === 0) return [value, at];
  }
}

/** A minimal decoder: the section ids and contents, and the names in the export section. */
function decode(bytes: Uint8Array): { sections: { id: number; content: Uint8Array }[]; exports: string[]; types: { params: number[]; results: number[] }[] } {
  expect(Array.from(bytes.subarray(0, 8))).toEqual([0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
  const sections: { id: number; content: Uint8Array }[] = [];
  let at = 8;
  while (at < bytes.length) {
    const id = bytes[at++]!;
    let size: number;
    [size, at] = readU(bytes, at);
    sections.push({ id, content: bytes.subarray(at, at + size) });
    at += size;
  }
  expect(at, 'sections end exactly at the end of the module').toBe(bytes.length);
  const exports: string[] = [];
  const exportSection = sections.find((s) => s.id === 7);
  if (exportSection) {
    const c = exportSection.content;
    let [count, p] = readU(c, 0);
    for (; count > 0; count--) {
      let length: number;
      [length, p] = readU(c, p);
      exports.push(new TextDecoder().decode(c.subarray(p, p + length)));
      p += length + 1; // name, kind byte
      [, p] = readU(c, p); // index
    }
  }
  const types: { params: number[]; results: number[] }[] = [];
  const typeSection = sections.find((s) => s.id === 1);
  if (typeSection) {
    const c = typeSection.content;
    let [count, p] = readU(c, 0);
    for (; count > 0; count--) {
      expect(c[p++], 'function type tag').toBe(0x60);
      let n: number;
      [n, p] = readU(c, p);
      const params = Array.from(c.subarray(p, p + n));
      p += n;
      [n, p] = readU(c, p);
      const results = Array.from(c.subarray(p, p + n));
      p += n;
      types.push({ params, results });
    }
  }
  return { sections, exports, types };
}

describe('LEB128', () => {
  it('encodes unsigned values as in the specification', () => {
    expect(uleb128(0)).toEqual([0x00]);
    expect(uleb128(127)).toEqual([0x7f]);
    expect(uleb128(128)).toEqual([0x80, 0x01]);
    expect(uleb128(624485)).toEqual([0xe5, 0x8e, 0x26]); // the example from the DWARF standard
    expect(uleb128(0xffffffff)).toEqual([0xff, 0xff, 0xff, 0xff, 0x0f]);
    expect(() => uleb128(-1)).toThrow(/uleb128: expected an integer in \[0, 2\^32\); got -1/);
  });

  it('encodes signed values with the sign in bit 6 of the last byte', () => {
    expect(sleb128(0)).toEqual([0x00]);
    expect(sleb128(63)).toEqual([0x3f]);
    expect(sleb128(64)).toEqual([0xc0, 0x00]);
    expect(sleb128(-1)).toEqual([0x7f]);
    expect(sleb128(-64)).toEqual([0x40]);
    expect(sleb128(-65)).toEqual([0xbf, 0x7f]);
    expect(sleb128(-123456)).toEqual([0xc0, 0xbb, 0x78]); // the DWARF example
    expect(sleb128(-0x80000000)).toEqual([0x80, 0x80, 0x80, 0x80, 0x78]);
    expect(() => sleb128(2 ** 31)).toThrow(/sleb128: expected an int32/);
  });

  it('round-trips through the decoder', () => {
    for (const v of [0, 1, 127, 128, 300, 16383, 16384, 2 ** 21, 2 ** 28 + 5, 2 ** 32 - 1]) {
      expect(readU(Uint8Array.from(uleb128(v)), 0)).toEqual([v, uleb128(v).length]);
    }
  });
});

describe('modules', () => {
  /** mem[out] = mem[a] · x + y, as f32 — scalar loads, stores and arithmetic. */
  function axpyModule(): Uint8Array<ArrayBuffer> {
    const m = new ModuleBuilder({ initialPages: 1, maximumPages: 2, shared: false });
    const f = new FunctionBuilder('axpy', [I32, F32, F32, I32]);
    f.localGet(3).localGet(0).f32Load().localGet(1).f32Mul().localGet(2).f32Add().f32Store();
    m.add(f);
    // sum(n): 0 + 1 + … + (n − 1), with a loop, a local and a result.
    const g = new FunctionBuilder('sum', [I32], [I32]);
    const i = g.local(I32);
    const s = g.local(I32);
    g.block().localGet(0).i32Eqz().brIf(0);
    g.loop().localGet(s).localGet(i).i32Add().localSet(s).localGet(i).i32Const(1).i32Add().localTee(i).localGet(0).i32LtS().brIf(0).end();
    g.end().localGet(s);
    m.add(g);
    return m.build();
  }

  it('validates, decodes and runs a scalar module', () => {
    const bytes = axpyModule();
    expect(WebAssembly.validate(bytes)).toBe(true);
    const { sections, exports, types } = decode(bytes);
    expect(sections.map((s) => s.id)).toEqual([1, 2, 3, 7, 10]);
    expect(exports).toEqual(['axpy', 'sum']);
    expect(types).toEqual([
      { params: [I32, F32, F32, I32], results: [] },
      { params: [I32], results: [I32] },
    ]);
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 2 });
    const { axpy, sum } = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports as {
      axpy: (a: number, x: number, y: number, out: number) => void;
      sum: (n: number) => number;
    };
    const f32 = new Float32Array(memory.buffer);
    f32[2] = 1.5;
    axpy(8, 4, 0.25, 16);
    expect(f32[4]).toBe(6.25);
    expect(sum(0)).toBe(0);
    expect(sum(10)).toBe(45);
  });

  it('emits SIMD instructions the engine accepts, and invalid ones it rejects', () => {
    expect(WebAssembly.validate(simdProbeBytes())).toBe(true);
    // A v128 add on two i32 operands is a type error: validation must catch it.
    const m = new ModuleBuilder({ initialPages: 1, maximumPages: 1, shared: false });
    m.add(new FunctionBuilder('bad', [I32]).localGet(0).localGet(0).f32x4Add().v128Store());
    expect(WebAssembly.validate(m.build())).toBe(false);
  });

  it('declares a shared memory with the threads limits flag', () => {
    const shared = gemmModuleBytes({ mr: 4, nv: 2 }, { initialPages: 1, maximumPages: 16, shared: true });
    const plain = gemmModuleBytes({ mr: 4, nv: 2 }, { initialPages: 1, maximumPages: 16, shared: false });
    expect(WebAssembly.validate(shared)).toBe(true);
    expect(WebAssembly.validate(plain)).toBe(true);
    const limitsFlag = (bytes: Uint8Array) => {
      const imports = decode(bytes).sections.find((s) => s.id === 2)!.content;
      // count, "env", "memory", kind 0x02, then the limits flag
      return imports[1 + 4 + 7 + 1];
    };
    expect(limitsFlag(shared)).toBe(0x03);
    expect(limitsFlag(plain)).toBe(0x01);
    expect(decode(plain).exports).toEqual(['tile', 'gemm', 'packCopyA', 'packTransposeA', 'packCopyB', 'packTransposeB']);
    // No packers for a sliver width that is not a multiple of 4 (MR = 6 here).
    expect(decode(gemmModuleBytes({ mr: 6, nv: 2 }, { initialPages: 1, maximumPages: 16, shared: false })).exports).toEqual([
      'tile',
      'gemm',
      'packCopyB',
      'packTransposeB',
    ]);
  });

  it('counts locals in runs of one type', () => {
    const f = new FunctionBuilder('f', [I32]);
    expect([f.local(V128), f.local(V128), f.local(I32), f.local(V128)]).toEqual([1, 2, 3, 4]);
    // size, 3 runs: (2 × v128), (1 × i32), (1 × v128), end
    expect(f.encode()).toEqual([8, 3, 2, V128, 1, I32, 1, V128, 0x0b]);
  });
});

describe('relaxed SIMD', () => {
  it('encodes i8x16.shuffle as 0xfd 0x0d and 16 raw lane bytes, and checks the lanes', () => {
    const lanes = [0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 31];
    const f = new FunctionBuilder('f', [I32]).i8x16Shuffle(lanes);
    expect(f.encode().slice(2)).toEqual([0xfd, 0x0d, ...lanes, 0x0b]);
    expect(() => f.i8x16Shuffle([0, 1, 2])).toThrow(/16 lane indices/);
    expect(() => f.i8x16Shuffle([...lanes.slice(0, 15), 32])).toThrow(/in \[0, 32\)/);
  });

  it('encodes f32x4.relaxed_madd as 0xfd, LEB128 0x105', () => {
    const f = new FunctionBuilder('f', [I32]).f32x4RelaxedMadd();
    expect(f.encode().slice(2, 5)).toEqual([0xfd, 0x85, 0x02]);
  });

  it('is available once the gradscope command has set its engine flags (Node 20: behind a flag)', () => {
    enableRelaxedSimd();
    expect(WebAssembly.validate(relaxedSimdProbeBytes())).toBe(true);
    // A relaxed madd needs three v128 operands: two are a type error.
    const m = new ModuleBuilder({ initialPages: 1, maximumPages: 1, shared: false });
    m.add(new FunctionBuilder('bad', [I32]).localGet(0).localGet(0).v128Load().localGet(0).v128Load().f32x4RelaxedMadd().v128Store());
    expect(WebAssembly.validate(m.build())).toBe(false);
  });
});

describe('the GEMM micro-kernel', () => {
  enableRelaxedSimd();
  it.each([
    [4, 2, 1, false, 'float32'],
    [4, 1, 1, false, 'float32'],
    [6, 2, 1, false, 'float32'],
    [4, 2, 2, false, 'float32'],
    [4, 2, 4, false, 'float32'],
    [4, 2, 1, true, 'float32'],
    [6, 2, 1, true, 'float32'],
    [4, 2, 2, true, 'float32'],
    [4, 2, 1, false, 'float64'],
    [4, 2, 1, true, 'float64'],
    [3, 3, 2, true, 'float64'],
  ] as const)('tile %i rows × %i vectors, K unrolled by %i, FMA %s, %s: stores or accumulates A_sliver · B_sliver into C', (mr, nv, unroll, fma, dtype) => {
    const E = dtype === 'float64' ? 8 : 4; // bytes per element
    const nr = (16 / E) * nv;
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 1 });
    const bytes = gemmModuleBytes({ mr, nv, unroll, fma, dtype }, { initialPages: 1, maximumPages: 1, shared: false });
    const { tile } = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports as unknown as GemmExports;
    const mem = dtype === 'float64' ? new Float64Array(memory.buffer) : new Float32Array(memory.buffer);
    const kc = 7; // with unroll 2 and 4: whole turns and a remainder
    const [a, b, c] = [0, 256, 512]; // element indices
    const ldc = nr + 4; // a padded row, to check that ldc is honoured
    for (let p = 0; p < kc; p++) {
      for (let i = 0; i < mr; i++) mem[a + p * mr + i] = i + 1 + p / 8;
      for (let j = 0; j < nr; j++) mem[b + p * nr + j] = j - 2 - p / 4;
    }
    // accumulate = 0 (first K block): C = A·B; then accumulate = 1: C += A·B. Padding stays 100.
    for (let i = 0; i < mr; i++) for (let j = 0; j < ldc; j++) mem[c + i * ldc + j] = 100;
    for (const [accumulate, times] of [[0, 1], [1, 2]] as const) {
      tile(kc, E * a, E * b, E * c, E * ldc, accumulate);
      for (let i = 0; i < mr; i++) {
        for (let j = 0; j < ldc; j++) {
          let expected = 100;
          if (j < nr) {
            expected = 0;
            for (let p = 0; p < kc; p++) expected += times * mem[a + p * mr + i]! * mem[b + p * nr + j]!;
          }
          // Exact in float64 (the inputs are multiples of 1/8 and the sums small); float32 to 4 places.
          if (dtype === 'float64') expect(mem[c + i * ldc + j], `accumulate ${accumulate}: C[${i}][${j}]`).toBe(expected);
          else expect(mem[c + i * ldc + j], `accumulate ${accumulate}: C[${i}][${j}]`).toBeCloseTo(expected, 4);
        }
      }
    }
  });
});

describe('the GEMM module packers', () => {
  // A 4×8 tile: A slivers of R = 4 lines, B slivers of R = 8.
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 1 });
  const bytes = gemmModuleBytes({ mr: 4, nv: 2 }, { initialPages: 1, maximumPages: 1, shared: false });
  const ex = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports as unknown as GemmExports;
  const f32 = new Float32Array(memory.buffer);
  const [src, dst] = [0, 4096]; // float indices

  it.each([
    ['packCopyA', 4, 1, 11],
    ['packCopyB', 8, 1, 13],
    ['packTransposeA', 4, 11, 1],
    ['packTransposeB', 8, 13, 1],
  ] as const)('%s: line r, step p at src + r·%i + p·%i floats → dst[p·R + r]', (name, r, lineStride, stepStride) => {
    for (const kc of [1, 3, 4, 7, 9]) {
      // 7 and 9: whole 4×4 blocks and a remainder in the transposing packers
      for (let i = 0; i < 2048; i++) f32[src + i] = i;
      f32.fill(-1, dst, dst + 1024);
      ex[name]!(4 * dst, 4 * src, 4 * (lineStride === 1 ? stepStride : lineStride), kc);
      for (let p = 0; p < kc; p++) {
        for (let l = 0; l < r; l++) expect(f32[dst + p * r + l], `kc ${kc}, step ${p}, line ${l}`).toBe(l * lineStride + p * stepStride);
      }
      expect(f32[dst + kc * r], 'past the sliver').toBe(-1);
    }
  });
});
