/**
 * A small WebAssembly binary emitter: just enough of the format to write gradscope's kernels
 * from TypeScript at run time (no external compiler, no prebuilt .wasm file).
 *
 * A module in the binary format is a magic number, a version and a list of sections, each a
 * one-byte id, its byte length and its content (WebAssembly Core Specification §5.5):
 *
 *   \0asm 01 00 00 00
 *   section 1  (type)      the function signatures: 0x60 [params] [results]
 *   section 2  (import)    what the host provides — here only the linear memory
 *   section 3  (function)  for each function, the index of its signature
 *   section 7  (export)    the names JavaScript sees
 *   section 10 (code)      for each function, its locals and its instructions, ending in 0x0b
 *
 * Integers are LEB128: 7 bits per byte, low bits first, the high bit set on every byte but the
 * last (signed values sign-extend from the last byte's bit 6). Instructions are a one-byte
 * opcode plus immediates; the 128-bit SIMD ones are the prefix 0xfd followed by a LEB128
 * opcode, and memory accesses carry a "memarg": log2 of the alignment and a constant offset.
 *
 * `FunctionBuilder` methods are named after the text format (`i32.add` → `i32Add`) and return
 * `this`, so that a kernel reads like its .wat listing:
 *
 *   f.localGet(a).localGet(b).i32Add().localSet(a)     ;; a = a + b
 */

/** Value types (§5.3.1): the encoding of i32. */
export const I32 = 0x7f;
/** The encoding of the value type f32. */
export const F32 = 0x7d;
/** The encoding of the value type f64. */
export const F64 = 0x7c;
/** The encoding of the value type v128 (SIMD). */
export const V128 = 0x7b;
/** One of the value types a parameter, result or local can have. */
export type ValueType = typeof I32 | typeof F32 | typeof F64 | typeof V128;

const SECTION = { type: 1, import: 2, function: 3, export: 7, code: 10 } as const;
const EXTERNAL = { func: 0x00, memory: 0x02 } as const;

/** Unsigned LEB128 of a non-negative integer below 2^32. */
export function uleb128(value: number): number[] {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new RangeError(`uleb128: expected an integer in [0, 2^32); got ${value}`);
  const bytes: number[] = [];
  do {
    let byte = value & 0x7f;
    value = Math.floor(value / 128);
    if (value !== 0) byte |= 0x80;
    bytes.push(byte);
  } while (value !== 0);
  return bytes;
}

/** Signed LEB128 of an int32 (what i32.const takes). */
export function sleb128(value: number): number[] {
  if (!Number.isInteger(value) || value < -0x80000000 || value > 0x7fffffff) throw new RangeError(`sleb128: expected an int32; got ${value}`);
  const bytes: number[] = [];
  for (;;) {
    const byte = value & 0x7f;
    value >>= 7; // arithmetic shift: keeps the sign
    // Done once the rest is all sign bits and bit 6 of this byte already carries the sign.
    const done = (value === 0 && (byte & 0x40) === 0) || (value === -1 && (byte & 0x40) !== 0);
    bytes.push(done ? byte : byte | 0x80);
    if (done) return bytes;
  }
}

/** A name: its UTF-8 length, then the bytes. */
function encodeName(name: string): number[] {
  const utf8 = new TextEncoder().encode(name);
  return [...uleb128(utf8.length), ...utf8];
}

/** A vector: the count, then the items. */
function vector(items: number[][]): number[] {
  return [...uleb128(items.length), ...items.flat()];
}

/**
 * The instructions of one function body. Locals are numbered after the parameters; `local()`
 * declares one and returns its index.
 */
export class FunctionBuilder {
  /** The instructions so far (without the final `end`, which encode() adds). */
  readonly bytes: number[] = [];
  /** Types of the declared (non-parameter) locals, in order. */
  readonly locals: ValueType[] = [];

  constructor(
    /** The name the function is exported under. */
    readonly name: string,
    /** Types of the parameters: locals 0 … params.length − 1. */
    readonly params: readonly ValueType[],
    /** Types of the results (none by default). */
    readonly results: readonly ValueType[] = [],
  ) {}

  /** Declare a local of `type`; returns its index. Locals start at zero (§4.4.9). */
  local(type: ValueType): number {
    this.locals.push(type);
    return this.params.length + this.locals.length - 1;
  }

  /** An instruction given as its bytes (a one-byte scalar opcode, say, that has no method here). */
  op(...bytes: number[]): this {
    this.bytes.push(...bytes);
    return this;
  }

  /** A SIMD instruction: prefix 0xfd, its LEB128 opcode, then any immediates (for the kernels' instructions this class has no method for). */
  simdOp(opcode: number, ...immediates: number[]): this {
    return this.op(0xfd, ...uleb128(opcode), ...immediates);
  }

  /** memarg: alignment as log2 bytes, then a constant byte offset added to the address. */
  private memarg(alignLog2: number, offset: number): number[] {
    return [...uleb128(alignLog2), ...uleb128(offset)];
  }

  // ---- control (a block's branch target is its end; a loop's is its start) -------------------
  /** `block`: opens a block whose branch target is its `end`. */
  block(): this { return this.op(0x02, 0x40); } // 0x40: the block yields no value
  /** `loop`: opens a loop whose branch target is its start. */
  loop(): this { return this.op(0x03, 0x40); }
  /** `if`: pops a condition and runs the following instructions when it is non-zero. */
  if(): this { return this.op(0x04, 0x40); }
  /** `else`: the alternative of the innermost `if`. */
  else(): this { return this.op(0x05); }
  /** `end`: closes the innermost block, loop or if. */
  end(): this { return this.op(0x0b); }
  /**
   * `do { body } while (--counter !== 0)`, skipped when the local `counter` starts at 0: a
   * block to leave early around a loop that counts down (the shape of every kernel loop).
   */
  countedLoop(counter: number, body: () => void): this {
    this.block().localGet(counter).i32Eqz().brIf(0);
    this.loop();
    body();
    this.localGet(counter).i32Const(1).i32Sub().localTee(counter).brIf(0);
    return this.end().end();
  }
  /** Branch to the `depth`-th enclosing block or loop (0 = innermost). */
  br(depth: number): this { return this.op(0x0c, ...uleb128(depth)); }
  /** `br_if`: pops a condition; when it is non-zero, branches as `br(depth)`. */
  brIf(depth: number): this { return this.op(0x0d, ...uleb128(depth)); }
  /** `return`: leaves the function. */
  return(): this { return this.op(0x0f); }
  /** `call`: calls the function with index `functionIndex` in the module (ModuleBuilder.add). */
  call(functionIndex: number): this { return this.op(0x10, ...uleb128(functionIndex)); }
  /** Pops c, b, a; pushes a if c ≠ 0, else b. */
  select(): this { return this.op(0x1b); }

  // ---- locals ------------------------------------------------------------------------------
  /** `local.get`: pushes local (or parameter) `i`. */
  localGet(i: number): this { return this.op(0x20, ...uleb128(i)); }
  /** `local.set`: pops a value into local `i`. */
  localSet(i: number): this { return this.op(0x21, ...uleb128(i)); }
  /** `local.tee`: stores the top of the stack into local `i` and keeps it on the stack. */
  localTee(i: number): this { return this.op(0x22, ...uleb128(i)); }

  // ---- scalar memory and arithmetic ----------------------------------------------------------
  /** `f32.load`: pops an address; pushes the f32 at address + `offset` bytes. */
  f32Load(offset = 0): this { return this.op(0x2a, ...this.memarg(2, offset)); }
  /** `f64.load`: pops an address; pushes the f64 at address + `offset` bytes. */
  f64Load(offset = 0): this { return this.op(0x2b, ...this.memarg(3, offset)); }
  /** `f32.store`: pops a value and an address; stores the f32 at address + `offset` bytes. */
  f32Store(offset = 0): this { return this.op(0x38, ...this.memarg(2, offset)); }
  /** `f64.store`: pops a value and an address; stores the f64 at address + `offset` bytes. */
  f64Store(offset = 0): this { return this.op(0x39, ...this.memarg(3, offset)); }
  /** local += bytes (an i32 local, a pointer say). */
  bump(local: number, bytes: number): this { return this.localGet(local).i32Const(bytes).i32Add().localSet(local); }
  /** `i32.load`: pops an address; pushes the i32 at address + `offset` bytes. */
  i32Load(offset = 0): this { return this.op(0x28, ...this.memarg(2, offset)); }
  /** `i32.store`: pops a value and an address; stores the i32 at address + `offset` bytes. */
  i32Store(offset = 0): this { return this.op(0x36, ...this.memarg(2, offset)); }
  /** `f32.const 0` (bytes 4) or `f64.const 0` (bytes 8): pushes +0 of that type. */
  floatZero(bytes: number): this { return this.op(bytes === 4 ? 0x43 : 0x44, ...new Array<number>(bytes).fill(0)); }
  /** `i32.eq`: pops b, a; pushes 1 if a = b, else 0. */
  i32Eq(): this { return this.op(0x46); }
  /** `i64.extend_i32_u`: pops an i32; pushes it zero-extended to i64. */
  i64ExtendI32U(): this { return this.op(0xad); }
  /** `i32.const`: pushes the int32 `value`. */
  i32Const(value: number): this { return this.op(0x41, ...sleb128(value)); }
  /** `i32.eqz`: pops a; pushes 1 if a = 0, else 0. */
  i32Eqz(): this { return this.op(0x45); }
  /** `i32.lt_s`: pops b, a; pushes 1 if a < b (signed), else 0. */
  i32LtS(): this { return this.op(0x48); }
  /** `i32.gt_s`: pops b, a; pushes 1 if a > b (signed), else 0. */
  i32GtS(): this { return this.op(0x4a); }
  /** `i32.add`: pops b, a; pushes a + b (mod 2^32). */
  i32Add(): this { return this.op(0x6a); }
  /** `i32.sub`: pops b, a; pushes a − b (mod 2^32). */
  i32Sub(): this { return this.op(0x6b); }
  /** `i32.mul`: pops b, a; pushes a · b (mod 2^32). */
  i32Mul(): this { return this.op(0x6c); }
  /** `i32.and`: pops b, a; pushes their bitwise and. */
  i32And(): this { return this.op(0x71); }
  /** `i32.shr_u`: pops b, a; pushes a shifted right by b bits, zero-filling. */
  i32ShrU(): this { return this.op(0x76); }
  /** `f32.add`: pops b, a; pushes a + b. */
  f32Add(): this { return this.op(0x92); }
  /** `f32.mul`: pops b, a; pushes a · b. */
  f32Mul(): this { return this.op(0x94); }
  /** `f64.add`: pops b, a; pushes a + b. */
  f64Add(): this { return this.op(0xa0); }

  // ---- 128-bit SIMD (four f32 or two f64 lanes) -------------------------------------------------
  /** `v128.load`: pops an address; pushes the 16 bytes at address + `offset`. */
  v128Load(offset = 0): this { return this.simdOp(0x00, ...this.memarg(4, offset)); }
  /** Load one f32 and repeat it in all four lanes. */
  v128Load32Splat(offset = 0): this { return this.simdOp(0x09, ...this.memarg(2, offset)); }
  /** Load one f64 and repeat it in both lanes. */
  v128Load64Splat(offset = 0): this { return this.simdOp(0x0a, ...this.memarg(3, offset)); }
  /** `v128.store`: pops a vector and an address; stores it at address + `offset`. */
  v128Store(offset = 0): this { return this.simdOp(0x0b, ...this.memarg(4, offset)); }
  /**
   * i8x16.shuffle: pops b, a and pushes 16 bytes picked from the 32 of a ‖ b (lanes 0–15 are a,
   * 16–31 are b). The lane indices are 16 immediate bytes, not LEB128 (§5.4.8, opcode 0xfd 13).
   */
  i8x16Shuffle(lanes: readonly number[]): this {
    if (lanes.length !== 16 || lanes.some((l) => !Number.isInteger(l) || l < 0 || l > 31)) {
      throw new RangeError(`i8x16.shuffle: expected 16 lane indices in [0, 32); got [${lanes.join(', ')}]`);
    }
    return this.simdOp(0x0d, ...lanes);
  }
  /** `v128.const`: pushes the 16 bytes given (little-endian lanes). */
  v128Const(bytes: readonly number[]): this { return this.simdOp(0x0c, ...bytes); }
  /** `v128.const` of four equal float32 lanes. */
  f32x4Const(value: number): this { return this.v128Const([...new Uint8Array(new Float32Array([value, value, value, value]).buffer)]); }
  /** `i64x2.extract_lane 0` then `i64.store` at address + `offset`: the vector's low 8 bytes. */
  storeLow64(offset = 0): this { return this.simdOp(0x1d, 0).op(0x37, ...this.memarg(3, offset)); }
  /** `f32x4.splat`: pops an f32; pushes it in all four lanes. */
  f32x4Splat(): this { return this.simdOp(0x13); }
  /** `f32x4.add`: lane-wise a + b of the two vectors popped. */
  f32x4Add(): this { return this.simdOp(0xe4); }
  /** `f32x4.mul`: lane-wise a · b of the two vectors popped. */
  f32x4Mul(): this { return this.simdOp(0xe6); }
  /**
   * a·b + c on four f32 lanes (the relaxed-SIMD proposal: fused into one FMA instruction where
   * the hardware has one, so the result may differ from mul-then-add in the last bit). Engines
   * without relaxed SIMD reject a module that uses it.
   */
  f32x4RelaxedMadd(): this { return this.simdOp(0x105); }
  /** `f64x2.add`: lane-wise a + b of the two vectors popped. */
  f64x2Add(): this { return this.simdOp(0xf0); }
  /** `f64x2.mul`: lane-wise a · b of the two vectors popped. */
  f64x2Mul(): this { return this.simdOp(0xf2); }
  /** a·b + c on two f64 lanes (relaxed SIMD, as f32x4RelaxedMadd). */
  f64x2RelaxedMadd(): this { return this.simdOp(0x107); }

  /** The code-section entry: byte size, local declarations (runs of one type), body, end. */
  encode(): number[] {
    const runs: number[][] = [];
    for (let i = 0; i < this.locals.length; ) {
      let j = i;
      while (j < this.locals.length && this.locals[j] === this.locals[i]) j++;
      runs.push([...uleb128(j - i), this.locals[i]!]);
      i = j;
    }
    const body = [...vector(runs), ...this.bytes, 0x0b];
    return [...uleb128(body.length), ...body];
  }
}

/** Linear memory imported from JavaScript as `env.memory`. */
export interface MemoryImport {
  /** Initial size in 64 KiB pages. */
  initialPages: number;
  /** Maximum size in 64 KiB pages (required for a shared memory). */
  maximumPages: number;
  /** A shared memory (threads); needs a maximum. */
  shared: boolean;
}

/**
 * A module: one imported memory and a list of functions, each exported under its name.
 * Functions call each other by index, in the order they were added (`add` returns it).
 */
export class ModuleBuilder {
  private readonly functions: FunctionBuilder[] = [];

  constructor(private readonly memory: MemoryImport) {}

  /** Add a function; returns its index (for `call`). */
  add(fn: FunctionBuilder): number {
    this.functions.push(fn);
    return this.functions.length - 1;
  }

  /** The binary module. */
  build(): Uint8Array<ArrayBuffer> {
    // One signature per function keeps the listing simple; duplicates are legal.
    const types = this.functions.map((f) => [0x60, ...vector(f.params.map((t) => [t])), ...vector(f.results.map((t) => [t]))]);
    const { initialPages, maximumPages, shared } = this.memory;
    // Limits: flag 0x01 = min and max, 0x03 = min, max and shared (the threads proposal).
    const limits = [shared ? 0x03 : 0x01, ...uleb128(initialPages), ...uleb128(maximumPages)];
    const imports = [[...encodeName('env'), ...encodeName('memory'), EXTERNAL.memory, ...limits]];
    const signatures = this.functions.map((_, i) => uleb128(i));
    const exports = this.functions.map((f, i) => [...encodeName(f.name), EXTERNAL.func, ...uleb128(i)]);
    const bodies = this.functions.map((f) => f.encode());
    const section = (id: number, content: number[]) => [id, ...uleb128(content.length), ...content];
    return new Uint8Array([
      0x00, 0x61, 0x73, 0x6d, // "\0asm"
      0x01, 0x00, 0x00, 0x00, // version 1
      ...section(SECTION.type, vector(types)),
      ...section(SECTION.import, vector(imports)),
      ...section(SECTION.function, vector(signatures)),
      ...section(SECTION.export, vector(exports)),
      ...section(SECTION.code, vector(bodies)),
    ]);
  }
}
