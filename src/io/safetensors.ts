/**
 * safetensors, the Hugging Face weights format, as bytes: `encodeSafetensors` and
 * `decodeSafetensors` (pure: no file system, so they run in a browser; src/io/model-file.ts has
 * the file helpers). The format (github.com/huggingface/safetensors, packages/lab/oracle/README.md,
 * family 11):
 *
 *   bytes [0, 8)        N, the header length: unsigned 64-bit little-endian
 *   bytes [8, 8 + N)    UTF-8 JSON object { "__metadata__"?: {string: string},
 *                                           "<name>": {"dtype", "shape", "data_offsets": [BEGIN, END]}, … }
 *   bytes [8 + N, end)  the byte buffer: tensor `name` is buffer[BEGIN, END), row-major, little-endian
 *
 * Reading checks the whole header before it allocates any tensor data, and refuses (ValueError
 * naming the source, the tensor and the rule) a file that breaks any rule the reference reader
 * enforces: N within the file and at most 100 MB (the reference's cap), valid UTF-8 JSON, an
 * object whose `__metadata__` maps strings to strings, every dtype one of the format's, shapes
 * of non-negative safe integers, END − BEGIN = numel × itemsize, and the tensors tiling the
 * buffer exactly (no overlap, no hole, nothing after the last one, nothing missing). Two rules
 * go beyond the reference: a name that appears twice in the header is refused (JSON.parse and
 * the reference would silently keep the last), and so is a shape whose numel is not a safe
 * integer. Since every tensor's bytes lie inside the input, no allocation exceeds the input's
 * size. Tensor data is copied out (never an aligned view), so offsets that are not multiples
 * of the element size (PyTorch state_dict order, I64 after F32) decode correctly.
 *
 * Writing is deterministic and follows the reference writer's layout: tensors sorted by dtype
 * (descending in the format's dtype list: I64 and F64 before F32, so every tensor starts at a
 * multiple of its element size) then by name; JSON keys `__metadata__` first, then the tensors
 * in buffer order, each as {"dtype","shape","data_offsets"}, compact; the header padded with
 * spaces to a multiple of 8 bytes. NOTE: the metadata keys are sorted (the reference writes them
 * in its hash map's order), so the bytes depend only on the contents.
 *
 * dtypes (gradscope has float32, float64 and int32 tensors only):
 *   F32 ↔ float32, F64 ↔ float64 (bits kept: −0, NaN payloads);
 *   I64 → int32 when every value fits (PyTorch's integer tensors, such as BatchNorm's
 *         num_batches_tracked, are int64), and int32 is written as I64 by default;
 *   I32 → int32; F16 and BF16 → float32 (exact widening; written back as F32);
 *   BOOL, U8, I8, I16, U16, U32, U64 and the F8 types pass the header check (readSafetensorsHeader
 *   lists them) but decodeSafetensors refuses them, naming the tensor.
 */
import { fromLittleEndianBytes, littleEndianBytes } from '../tensor/bytes.js';
import { tensor } from '../tensor/creation.js';
import { type DType } from '../tensor/dtype.js';
import { ValueError, describeValue, formatShape } from '../tensor/errors.js';
import { Tensor } from '../tensor/tensor.js';

/**
 * Every dtype of the safetensors format, in the format's own order (the writer sorts tensors by
 * it, descending). Element sizes are in SAFETENSORS_ITEM_SIZE.
 */
export const SAFETENSORS_DTYPES = ['BOOL', 'U8', 'I8', 'F8_E5M2', 'F8_E4M3', 'I16', 'U16', 'F16', 'BF16', 'I32', 'U32', 'F32', 'F64', 'I64', 'U64'] as const;

/** A dtype of the safetensors format ('F32', 'I64', …). */
export type SafetensorsDType = (typeof SAFETENSORS_DTYPES)[number];

/** Bytes per element of each safetensors dtype. */
export const SAFETENSORS_ITEM_SIZE: Readonly<Record<SafetensorsDType, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
};

/** The largest header the reader accepts, in bytes: the reference implementation's cap (100 MB). */
export const SAFETENSORS_MAX_HEADER_BYTES = 100_000_000;

/** One tensor of a safetensors header. */
export interface SafetensorsEntry {
  /** The tensor's key, e.g. '0.weight' or '1.running_mean' (PyTorch state_dict names). */
  name: string;
  /** Its dtype in the file. */
  dtype: SafetensorsDType;
  /** Its shape ([] for a 0-d tensor of one element). */
  shape: number[];
  /** [BEGIN, END): its bytes in the buffer, relative to the buffer's start. */
  dataOffsets: [number, number];
}

/** A checked safetensors header. */
export interface SafetensorsHeader {
  /** The `__metadata__` object, or null when the file has none. */
  metadata: Record<string, string> | null;
  /** The tensors in buffer order (by BEGIN; zero-size tensors by name among equal offsets). */
  entries: SafetensorsEntry[];
  /** N, the JSON header's length in bytes (padding included). */
  headerByteLength: number;
  /** Bytes of the buffer after the header. */
  bufferByteLength: number;
}

/** A decoded safetensors file. */
export interface SafetensorsContents {
  /** The checked header (dtypes as stored in the file). */
  header: SafetensorsHeader;
  /** The `__metadata__` object, or null. */
  metadata: Record<string, string> | null;
  /** Each tensor by name, in buffer order: float32, float64 or int32 (see the file comment). */
  tensors: Map<string, Tensor>;
}

/** Options of decodeSafetensors and readSafetensorsHeader. */
export interface DecodeSafetensorsOptions {
  /** Names the source in error messages, e.g. a path (default: the function's name). */
  what?: string;
}

/** Options of encodeSafetensors. */
export interface EncodeSafetensorsOptions {
  /** The `__metadata__` object (string values only), e.g. { format: 'pt' }; none by default. */
  metadata?: Record<string, string> | null;
  /**
   * The dtype int32 tensors are written as: 'I64' (default; PyTorch's integer dtype, so
   * num_batches_tracked and class targets load as int64 in PyTorch) or 'I32'.
   */
  intDType?: 'I64' | 'I32';
}

/** The tensors to write: a Map or a plain object of name → Tensor, or [name, Tensor] pairs. */
export type TensorDict = ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>> | readonly (readonly [string, Tensor])[];

// ---- reading ---------------------------------------------------------------------------

/**
 * Check a safetensors file's header without decoding any tensor data: the 8-byte length, the
 * JSON, every entry and the tiling of the buffer (the rules are in the file comment). Throws a
 * ValueError that names the source (`options.what`), the tensor and what is wrong.
 * @example readSafetensorsHeader(bytes).entries.map((e) => `${e.name} ${e.dtype} [${e.shape}]`)
 */
export function readSafetensorsHeader(bytes: Uint8Array, options: DecodeSafetensorsOptions = {}): SafetensorsHeader {
  const what = options.what ?? 'readSafetensorsHeader';
  const fail = failWith(what);
  if (!(bytes instanceof Uint8Array)) fail(`expected the file's bytes as a Uint8Array; got ${describeValue(bytes)}`);
  const headerByteLength = safetensorsHeaderLength(bytes, bytes.length, what);
  return checkSafetensorsHeader(bytes.subarray(8, 8 + headerByteLength), bytes.length - 8 - headerByteLength, what);
}

/**
 * N from a file's first bytes (`fileByteLength` is the whole file's size), checked to be at
 * most the cap and to fit in the file. Used by the file reader before it reads the header.
 */
export function safetensorsHeaderLength(prefix: Uint8Array, fileByteLength: number, what: string): number {
  const fail = failWith(what);
  if (fileByteLength < 8) fail(`truncated: ${fileByteLength} bytes, but a safetensors file starts with an 8-byte header length`);
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(SAFETENSORS_MAX_HEADER_BYTES)) {
    fail(`the header length is ${n} bytes, over the ${SAFETENSORS_MAX_HEADER_BYTES}-byte limit (not a safetensors file, or a corrupt one)`);
  }
  const headerByteLength = Number(n);
  if (8 + headerByteLength > fileByteLength) {
    fail(`truncated: the header length says ${headerByteLength} bytes, but only ${fileByteLength - 8} bytes follow the 8-byte length`);
  }
  return headerByteLength;
}

/**
 * Parse and check the JSON header (`headerBytes`, N bytes) of a file whose buffer has
 * `bufferByteLength` bytes. Every rule of the file comment is checked here; nothing is allocated
 * beyond the header's own parse.
 */
export function checkSafetensorsHeader(headerBytes: Uint8Array, bufferByteLength: number, what: string): SafetensorsHeader {
  const fail = failWith(what);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    return fail('the header is not valid UTF-8');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    return fail(`the header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) fail(`the header is not a JSON object; got ${jsonKind(parsed)}`);
  const duplicate = firstDuplicateKey(text);
  if (duplicate !== null) fail(`the header lists ${quote(duplicate)} twice`);

  const raw = parsed as Record<string, unknown>;
  let metadata: Record<string, string> | null = null;
  const entries: SafetensorsEntry[] = [];
  for (const [name, value] of Object.entries(raw)) {
    if (name === '__metadata__') {
      metadata = checkMetadata(value, fail);
      continue;
    }
    entries.push(checkEntry(name, value, bufferByteLength, fail));
  }

  // The tensors must tile the buffer: sorted by offsets, each begins where the previous ends.
  entries.sort((a, b) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1] || compareCodePoints(a.name, b.name));
  let end = 0;
  let previous: SafetensorsEntry | null = null;
  for (const e of entries) {
    const [begin, stop] = e.dataOffsets;
    if (begin < end) {
      fail(`tensor ${quote(e.name)}: its bytes [${begin}, ${stop}) overlap those of ${quote(previous!.name)} [${previous!.dataOffsets[0]}, ${end})`);
    }
    if (begin > end) {
      const after = previous ? `the previous tensor (${quote(previous.name)}) ends at ${end}` : 'it is the first tensor';
      fail(`tensor ${quote(e.name)} begins at byte ${begin}, but ${after}: bytes [${end}, ${begin}) of the buffer belong to no tensor`);
    }
    end = stop;
    previous = e;
  }
  if (end < bufferByteLength) {
    fail(`${bufferByteLength - end} trailing bytes after the last tensor${previous ? ` (${quote(previous.name)} ends at byte ${end} of the ${bufferByteLength}-byte buffer)` : ' (the header lists no tensors)'}`);
  }
  return { metadata, entries, headerByteLength: headerBytes.length, bufferByteLength };
}

/** `__metadata__`: an object of string values (null is accepted as none, as the reference does). */
function checkMetadata(value: unknown, fail: (m: string) => never): Record<string, string> | null {
  if (value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) fail(`__metadata__ must be an object of strings; got ${jsonKind(value)}`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (typeof v !== 'string') fail(`__metadata__ must map strings to strings; ${quote(k)} is ${jsonKind(v)}`);
    // A key '__proto__' (JSON.parse makes it an own property) must stay one, not set the prototype.
    Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** One tensor's entry: dtype known, shape valid, offsets in the buffer and of the right length. */
function checkEntry(name: string, value: unknown, bufferByteLength: number, fail: (m: string) => never): SafetensorsEntry {
  const where = `tensor ${quote(name)}`;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`${where}: expected {dtype, shape, data_offsets}; got ${jsonKind(value)}`);
  const v = value as Record<string, unknown>;
  for (const key of ['dtype', 'shape', 'data_offsets']) {
    if (!Object.hasOwn(v, key)) fail(`${where}: the entry has no ${key}`);
  }
  const dtype = v.dtype;
  if (typeof dtype !== 'string' || !(SAFETENSORS_DTYPES as readonly string[]).includes(dtype)) {
    fail(`${where}: unknown dtype ${JSON.stringify(dtype)} (safetensors dtypes: ${SAFETENSORS_DTYPES.join(', ')})`);
  }
  const shape = v.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    fail(`${where}: the shape must be a list of non-negative integers; got ${JSON.stringify(shape)}`);
  }
  let numel = 1;
  for (const d of shape as number[]) numel *= d;
  if (!Number.isSafeInteger(numel)) fail(`${where}: shape ${formatShape(shape as number[])} has more elements than a file can hold`);
  const offsets = v.data_offsets;
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
    fail(`${where}: data_offsets must be [BEGIN, END], two non-negative integers; got ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) fail(`${where}: data_offsets [${begin}, ${end}] end before they begin`);
  const itemSize = SAFETENSORS_ITEM_SIZE[dtype as SafetensorsDType];
  const byteLength = numel * itemSize;
  if (end - begin !== byteLength) {
    fail(`${where}: data_offsets [${begin}, ${end}] hold ${end - begin} bytes, but shape ${formatShape(shape as number[])} of ${dtype} needs ${numel} × ${itemSize} = ${byteLength}`);
  }
  if (end > bufferByteLength) {
    fail(`${where}: its bytes [${begin}, ${end}) lie beyond the end of the ${bufferByteLength}-byte buffer (the file is truncated)`);
  }
  return { name, dtype: dtype as SafetensorsDType, shape: (shape as number[]).slice(), dataOffsets: [begin, end] };
}

/**
 * Decode a safetensors file's bytes into tensors, after checking its whole header (see the file
 * comment for the rules and for how each dtype maps to gradscope's). Throws a ValueError naming
 * the source (`options.what`), the tensor and what is wrong; nothing is decoded unless every
 * check passes.
 * @example const { tensors, metadata } = decodeSafetensors(new Uint8Array(await (await fetch(url)).arrayBuffer()));
 */
export function decodeSafetensors(bytes: Uint8Array, options: DecodeSafetensorsOptions = {}): SafetensorsContents {
  const what = options.what ?? 'decodeSafetensors';
  return decodeChecked(bytes, readSafetensorsHeader(bytes, { what }), what);
}

/**
 * The decoding half of decodeSafetensors: the tensors of `bytes`, whose header `header` has
 * already been read and checked (readSafetensorsHeader, or the file reader's own header read,
 * which then need not parse it again). Refuses a dtype gradscope does not read and an I64 value
 * outside int32, naming `what`. Not exported from the io index.
 */
export function decodeChecked(bytes: Uint8Array, header: SafetensorsHeader, what: string): SafetensorsContents {
  const fail = failWith(what);
  for (const e of header.entries) {
    if (DECODED[e.dtype] === null) {
      fail(`tensor ${quote(e.name)}: dtype ${e.dtype} is not supported (gradscope reads F32, F64, F16, BF16, I32 and I64; convert it in PyTorch first, e.g. with .float() or .long())`);
    }
  }
  const start = 8 + header.headerByteLength;
  const tensors = new Map<string, Tensor>();
  for (const e of header.entries) {
    const [begin, end] = e.dataOffsets;
    const raw = bytes.subarray(start + begin, start + end);
    tensors.set(e.name, tensor(decodeValues(raw, e, fail), { shape: e.shape, dtype: DECODED[e.dtype]! }));
  }
  return { header, metadata: header.metadata, tensors };
}

/** The gradscope dtype each safetensors dtype decodes to (null: refused). */
const DECODED: Record<SafetensorsDType, DType | null> = {
  BOOL: null,
  U8: null,
  I8: null,
  F8_E5M2: null,
  F8_E4M3: null,
  I16: null,
  U16: null,
  F16: 'float32',
  BF16: 'float32',
  I32: 'int32',
  U32: null,
  F32: 'float32',
  F64: 'float64',
  I64: 'int32',
  U64: null,
};

/** A fresh typed array of one tensor's values (a copy: `raw` may start at any byte). */
function decodeValues(raw: Uint8Array, e: SafetensorsEntry, fail: (m: string) => never): Float32Array | Float64Array | Int32Array {
  const n = raw.length / SAFETENSORS_ITEM_SIZE[e.dtype];
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  switch (e.dtype) {
    case 'F32':
      return fromLittleEndianBytes(raw, 'float32');
    case 'F64':
      return fromLittleEndianBytes(raw, 'float64');
    case 'I32':
      return fromLittleEndianBytes(raw, 'int32');
    case 'I64': {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const v = view.getBigInt64(8 * i, true);
        if (v < -0x80000000n || v > 0x7fffffffn) {
          fail(`tensor ${quote(e.name)}: I64 value ${v} at flat index ${i} does not fit gradscope's int32 (integers from −2^31 to 2^31 − 1)`);
        }
        out[i] = Number(v);
      }
      return out;
    }
    case 'BF16': {
      // bfloat16 is the top half of a float32: widen by appending 16 zero bits (exact).
      const bits = new Uint32Array(n);
      for (let i = 0; i < n; i++) bits[i] = view.getUint16(2 * i, true) << 16;
      return new Float32Array(bits.buffer);
    }
    case 'F16': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
      return out;
    }
    default:
      return fail(`internal: tensor ${quote(e.name)}: no decoder for ${e.dtype}`);
  }
}

/**
 * An IEEE binary16 value from its bits (exact in float32). NaN payloads are widened with a
 * left shift as hardware does (sign, quiet bit and payload kept).
 */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24; // zero and subnormals
  if (exponent === 0x1f) {
    if (fraction === 0) return sign * Infinity;
    const bits = new Uint32Array([((h & 0x8000) << 16) | 0x7f800000 | (fraction << 13)]);
    return new Float32Array(bits.buffer)[0]!;
  }
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

// ---- writing ---------------------------------------------------------------------------

/**
 * Encode tensors as a safetensors file, deterministically and as the reference writer does (the
 * layout is in the file comment): float32 → F32, float64 → F64, int32 → I64 (or I32 with
 * `intDType`), values copied bit for bit. Names must be non-empty and unique, and not
 * `__metadata__`; metadata values must be strings.
 * @example const bytes = encodeSafetensors({ 'fc.weight': w, 'fc.bias': b }, { metadata: { format: 'pt' } });
 */
export function encodeSafetensors(tensors: TensorDict, options: EncodeSafetensorsOptions = {}): Uint8Array {
  const op = 'encodeSafetensors';
  if (typeof options !== 'object' || options === null) throw new ValueError(`${op}: expected options { metadata?, intDType? }; got ${describeValue(options)}`);
  const intDType = options.intDType ?? 'I64';
  if (intDType !== 'I64' && intDType !== 'I32') throw new ValueError(`${op}: intDType must be 'I64' or 'I32'; got ${describeValue(intDType)}`);
  const metadata = options.metadata ?? null;
  if (metadata !== null) {
    if (typeof metadata !== 'object' || Array.isArray(metadata)) throw new ValueError(`${op}: metadata must be an object of strings; got ${describeValue(metadata)}`);
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new ValueError(`${op}: metadata must map strings to strings; ${quote(k)} is ${describeValue(v)}`);
    }
  }

  const items = tensorDictEntries(op, tensors).map(([name, t]) => {
    const dtype: SafetensorsDType = t.dtype === 'float32' ? 'F32' : t.dtype === 'float64' ? 'F64' : intDType;
    return { name, t, dtype, bytes: t.size * SAFETENSORS_ITEM_SIZE[dtype] };
  });
  // The reference writer's order: dtype descending in the format's list, then name.
  const rank = (d: SafetensorsDType) => SAFETENSORS_DTYPES.indexOf(d);
  items.sort((a, b) => rank(b.dtype) - rank(a.dtype) || compareCodePoints(a.name, b.name));

  const parts: string[] = [];
  if (metadata !== null) {
    const keys = Object.keys(metadata).sort(compareCodePoints);
    parts.push(`"__metadata__":{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(metadata[k])}`).join(',')}}`);
  }
  let offset = 0;
  for (const item of items) {
    parts.push(`${JSON.stringify(item.name)}:{"dtype":"${item.dtype}","shape":${JSON.stringify(item.t.shape)},"data_offsets":[${offset},${offset + item.bytes}]}`);
    offset += item.bytes;
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const headerByteLength = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerByteLength + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerByteLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerByteLength);

  let at = 8 + headerByteLength;
  for (const { t, dtype, bytes } of items) {
    const values = t.toTypedArray();
    if (dtype === 'I64') {
      for (let i = 0; i < values.length; i++) view.setBigInt64(at + 8 * i, BigInt(values[i]!), true);
    } else {
      // Same element type: the bytes of the typed array, so every bit (−0, NaN payloads) is kept.
      out.set(littleEndianBytes(values), at);
    }
    at += bytes;
  }
  return out;
}

/** The (name, tensor) pairs of a TensorDict, checked: Tensors, non-empty unique names, not __metadata__. */
export function tensorDictEntries(op: string, tensors: TensorDict): [string, Tensor][] {
  let pairs: [string, unknown][];
  if (tensors instanceof Map) pairs = [...tensors.entries()];
  else if (Array.isArray(tensors)) {
    pairs = tensors.map((p, i) => {
      if (!Array.isArray(p) || p.length !== 2 || typeof p[0] !== 'string') throw new ValueError(`${op}: entry ${i} must be a [name, Tensor] pair; got ${describeValue(p)}`);
      return [p[0], p[1]];
    });
  } else if (typeof tensors === 'object' && tensors !== null && !(tensors instanceof Tensor)) {
    pairs = Object.entries(tensors);
  } else {
    throw new ValueError(`${op}: expected the tensors as a Map, an object or [name, Tensor] pairs; got ${(tensors as unknown) instanceof Tensor ? 'a Tensor' : describeValue(tensors)}`);
  }
  const seen = new Set<string>();
  for (const [name, t] of pairs) {
    if (typeof name !== 'string' || name === '') throw new ValueError(`${op}: every tensor needs a non-empty name; got ${describeValue(name)}`);
    if (name === '__metadata__') throw new ValueError(`${op}: '__metadata__' is reserved for the metadata; it cannot name a tensor`);
    if (seen.has(name)) throw new ValueError(`${op}: the name ${quote(name)} appears twice`);
    seen.add(name);
    if (!(t instanceof Tensor)) throw new ValueError(`${op}: ${quote(name)} must be a Tensor; got ${describeValue(t)}`);
  }
  return pairs as [string, Tensor][];
}

// ---- helpers ---------------------------------------------------------------------------

function failWith(what: string): (message: string) => never {
  return (message: string): never => {
    throw new ValueError(`${what}: ${message}`);
  };
}

/** A name in quotes for messages (JSON-escaped, so control characters stay visible). */
function quote(name: string): string {
  const s = JSON.stringify(name.length > 200 ? `${name.slice(0, 200)}…` : name);
  return `'${s.slice(1, -1)}'`;
}

function jsonKind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === 'number') return `the number ${v}`;
  if (typeof v === 'boolean') return `${v}`;
  return 'an object';
}

/**
 * Order of strings by Unicode code point, i.e. the byte order of their UTF-8 (Rust's `String`
 * order, which the reference writer sorts names by); JavaScript's `<` compares UTF-16 units.
 */
export function compareCodePoints(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return x.done && y.done ? 0 : x.done ? -1 : 1;
    const d = x.value.codePointAt(0)! - y.value.codePointAt(0)!;
    if (d !== 0) return d;
  }
}

/**
 * The first key that appears twice among the top-level keys of a JSON object text (already
 * known to be valid JSON), or null. A linear scan: strings are skipped with their escapes, and
 * a string at depth 1 right after '{' or ',' is a key.
 */
function firstDuplicateKey(text: string): string | null {
  const seen = new Set<string>();
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      const start = i;
      for (i++; text[i] !== '"'; i++) if (text[i] === '\\') i++;
      if (depth === 1 && expectKey) {
        const key = JSON.parse(text.slice(start, i + 1)) as string;
        if (seen.has(key)) return key;
        seen.add(key);
        expectKey = false;
      }
    } else if (c === '{' || c === '[') {
      depth++;
      expectKey = c === '{' && depth === 1;
    } else if (c === '}' || c === ']') {
      depth--;
    } else if (c === ',' && depth === 1) {
      expectKey = true;
    }
  }
  return null;
}
