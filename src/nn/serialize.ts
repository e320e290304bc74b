/**
 * Saving and loading a model's parameters and buffers as one self-describing byte buffer.
 * Pure: no file system here (src/io/model-file.ts writes the bytes to disk atomically).
 *
 * Layout (all integers little-endian):
 *
 *   offset 0   "GSCP"                      magic, 4 ASCII bytes
 *          4   u32 format version          MODEL_FILE_VERSION (1)
 *          8   u32 H                       byte length of the JSON header
 *         12   u32 CRC-32 of the header
 *         16   JSON header, UTF-8          { format, order, entries, payloadByteLength, payloadCrc32 }
 *   16 + H     zero padding to a multiple of 8
 *          P   payload                     each entry's row-major values, little-endian, at
 *                                          `offset` (relative to P, a multiple of 8)
 *
 * Entries are the parameters in `namedParameters()` order, then the buffers in
 * `namedBuffers()` order (own members first, then children depth first: docs/design.md §10), so
 * a file lists a model the way `namedParameters()` and the oracle's `param_order` do.
 *
 * Loading validates everything before it writes anything: every name, kind, shape and dtype
 * of the file against the model, with all mismatches in one error. Values round-trip bit for
 * bit (−0, NaN payloads, signalling NaNs): bytes are copied, never converted through numbers.
 */
import { fromLittleEndianBytes, littleEndianBytes } from '../tensor/bytes.js';
import { tensor } from '../tensor/creation.js';
import { type DType, type TypedArray } from '../tensor/dtype.js';
import { ValueError, formatShape } from '../tensor/errors.js';
import { sizeOf } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { moduleArgument, type Module } from './module.js';

/** The 4 ASCII bytes every model file starts with. */
export const MODEL_FILE_MAGIC = 'GSCP';
/** The layout version at byte 4 (u32, little-endian); a file of another version is refused. */
export const MODEL_FILE_VERSION = 1;
/** The `format` field of the header. */
export const MODEL_FILE_FORMAT = 'gradscope-model';
/** The `order` field of the header: the naming and ordering convention of the entries. */
export const MODEL_FILE_ORDER = 'parameters then buffers; own members first, then children depth first';

const PREAMBLE_BYTES = 16;
const ALIGN = 8;

/** Whether an entry of a model file is a trained parameter or a buffer (running statistics). */
export type EntryKind = 'parameter' | 'buffer';

/** One tensor of a model file, as its JSON header describes it. */
export interface ModelFileEntry {
  /** Qualified name, e.g. '0.weight' or 'body.1.running_mean'. */
  name: string;
  /** Parameter or buffer: loading checks it against the model's member of that name. */
  kind: EntryKind;
  /** The tensor's shape; its values are stored row-major. */
  shape: number[];
  /** Element type of the stored values (4 bytes for float32 and int32, 8 for float64). */
  dtype: DType;
  /** Start of the values, in bytes from the start of the payload (a multiple of 8). */
  offset: number;
  /** Bytes of the values: the shape's size times the dtype's width (no padding). */
  byteLength: number;
}

/** The JSON header of a model file (the layout is in the file comment). */
export interface ModelFileHeader {
  /** Always MODEL_FILE_FORMAT, 'gradscope-model'. */
  format: typeof MODEL_FILE_FORMAT;
  /** Always MODEL_FILE_ORDER: the naming and ordering convention of the entries. */
  order: typeof MODEL_FILE_ORDER;
  /** Parameters in namedParameters() order, then buffers in namedBuffers() order. */
  entries: ModelFileEntry[];
  /** Bytes of the payload (every entry, each padded to a multiple of 8); the file ends right after it. */
  payloadByteLength: number;
  /** CRC-32 (IEEE) of the payload bytes. */
  payloadCrc32: number;
}

/** A decoded model file: its header and each entry's values (fresh arrays). */
export interface ModelFileContents {
  /** The checked header: names, kinds, shapes, dtypes and byte layout. */
  header: ModelFileHeader;
  /** Each entry's values by qualified name, as a typed array of its dtype (row-major). */
  values: Map<string, TypedArray>;
}

const BYTES_PER_ELEMENT: Record<DType, number> = { float32: 4, float64: 8, int32: 4 };

// ---- writing ---------------------------------------------------------------------------

/**
 * The model's parameters and buffers as one byte buffer (layout in the file comment).
 * @example const bytes = serializeModel(model); deserializeInto(freshModel, bytes);
 */
export function serializeModel(model: Module): Uint8Array {
  moduleArgument('serializeModel', model, 'a model (Module)');
  const members: [string, EntryKind, Tensor][] = [
    ...model.namedParameters().map(([name, t]): [string, EntryKind, Tensor] => [name, 'parameter', t]),
    ...model.namedBuffers().map(([name, t]): [string, EntryKind, Tensor] => [name, 'buffer', t]),
  ];
  const entries: ModelFileEntry[] = [];
  const arrays: TypedArray[] = [];
  let payloadByteLength = 0;
  for (const [name, kind, t] of members) {
    // toTypedArray slices the storage (same element type), which keeps every bit.
    const values = t.toTypedArray();
    entries.push({ name, kind, shape: t.shape.slice(), dtype: t.dtype, offset: payloadByteLength, byteLength: values.byteLength });
    arrays.push(values);
    payloadByteLength = alignUp(payloadByteLength + values.byteLength);
  }

  const payload = new Uint8Array(payloadByteLength);
  entries.forEach((entry, i) => payload.set(littleEndianBytes(arrays[i]!), entry.offset));
  const header: ModelFileHeader = {
    format: MODEL_FILE_FORMAT,
    order: MODEL_FILE_ORDER,
    entries,
    payloadByteLength,
    payloadCrc32: crc32(payload),
  };
  const headerBytes = new TextEncoder().encode(JSON.stringify(header));
  const payloadStart = alignUp(PREAMBLE_BYTES + headerBytes.length);

  const out = new Uint8Array(payloadStart + payloadByteLength);
  const view = new DataView(out.buffer);
  for (let i = 0; i < 4; i++) out[i] = MODEL_FILE_MAGIC.charCodeAt(i);
  view.setUint32(4, MODEL_FILE_VERSION, true);
  view.setUint32(8, headerBytes.length, true);
  view.setUint32(12, crc32(headerBytes), true);
  out.set(headerBytes, PREAMBLE_BYTES);
  out.set(payload, payloadStart);
  return out;
}

// ---- reading ---------------------------------------------------------------------------

/**
 * Decode and check a model file's bytes on their own (no model needed): magic, version,
 * header checksum and schema, entry layout, exact length and payload checksum. Throws a
 * ValueError saying what is wrong; `what` names the source in messages (e.g. a path).
 */
export function readModelBytes(bytes: Uint8Array, what = 'readModelBytes'): ModelFileContents {
  const fail = (message: string): never => {
    throw new ValueError(`${what}: ${message}`);
  };
  if (!(bytes instanceof Uint8Array)) fail(`expected a Uint8Array; got ${describeValue(bytes)}`);
  if (bytes.length < PREAMBLE_BYTES) {
    fail(`truncated: ${bytes.length} bytes, but a gradscope model file starts with a ${PREAMBLE_BYTES}-byte preamble`);
  }
  const magic = String.fromCharCode(...bytes.subarray(0, 4));
  if (magic !== MODEL_FILE_MAGIC) {
    const hex = [...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    fail(`not a gradscope model file: it starts with bytes ${hex}, not '${MODEL_FILE_MAGIC}'`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(4, true);
  if (version !== MODEL_FILE_VERSION) fail(`unsupported format version ${version} (this gradscope reads version ${MODEL_FILE_VERSION})`);
  const headerLength = view.getUint32(8, true);
  if (PREAMBLE_BYTES + headerLength > bytes.length) {
    fail(`truncated: the header needs ${PREAMBLE_BYTES + headerLength} bytes; the buffer has ${bytes.length}`);
  }
  const headerBytes = bytes.subarray(PREAMBLE_BYTES, PREAMBLE_BYTES + headerLength);
  const headerCrc = view.getUint32(12, true);
  if (crc32(headerBytes) !== headerCrc) fail(`the header is corrupt (CRC-32 ${hex32(crc32(headerBytes))}, expected ${hex32(headerCrc)})`);

  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (e) {
    fail(`the header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  const header = checkHeader(parsed, fail);

  const payloadStart = alignUp(PREAMBLE_BYTES + headerLength);
  const expectedLength = payloadStart + header.payloadByteLength;
  if (bytes.length < expectedLength) fail(`truncated: the header describes ${expectedLength} bytes; the buffer has ${bytes.length}`);
  if (bytes.length > expectedLength) fail(`${bytes.length - expectedLength} unexpected bytes after the payload (expected ${expectedLength} bytes in all)`);
  const payload = bytes.subarray(payloadStart, expectedLength);
  const payloadCrc = crc32(payload);
  if (payloadCrc !== header.payloadCrc32) fail(`the payload is corrupt (CRC-32 ${hex32(payloadCrc)}, expected ${hex32(header.payloadCrc32)})`);

  const values = new Map<string, TypedArray>();
  for (const entry of header.entries) {
    values.set(entry.name, fromLittleEndianBytes(payload.subarray(entry.offset, entry.offset + entry.byteLength), entry.dtype));
  }
  return { header, values };
}

/** Validate the parsed JSON header's schema and entry layout. */
function checkHeader(parsed: unknown, fail: (message: string) => never): ModelFileHeader {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) fail('the header is not a JSON object');
  const h = parsed as Record<string, unknown>;
  if (h.format !== MODEL_FILE_FORMAT) fail(`the header's format is ${JSON.stringify(h.format)}, not '${MODEL_FILE_FORMAT}'`);
  if (h.order !== MODEL_FILE_ORDER) fail(`the header's order is ${JSON.stringify(h.order)}, not '${MODEL_FILE_ORDER}'`);
  if (!isByteCount(h.payloadByteLength)) fail(`the header's payloadByteLength is ${JSON.stringify(h.payloadByteLength)}`);
  if (!isUint32(h.payloadCrc32)) fail(`the header's payloadCrc32 is ${JSON.stringify(h.payloadCrc32)}`);
  if (!Array.isArray(h.entries)) fail(`the header's entries are ${JSON.stringify(h.entries)}, not a list`);
  const payloadByteLength = h.payloadByteLength as number;
  const seen = new Set<string>();
  let end = 0;
  (h.entries as unknown[]).forEach((raw, i) => {
    const e = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
    const where = `entry ${i}${typeof e.name === 'string' ? ` ('${e.name}')` : ''}`;
    if (typeof e.name !== 'string' || e.name === '') fail(`${where} has no name`);
    const name = e.name as string;
    if (seen.has(name)) fail(`${where}: the name appears twice`);
    seen.add(name);
    if (e.kind !== 'parameter' && e.kind !== 'buffer') fail(`${where}: kind ${JSON.stringify(e.kind)} is not 'parameter' or 'buffer'`);
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`${where}: invalid shape ${JSON.stringify(e.shape)}`);
    if (typeof e.dtype !== 'string' || !Object.hasOwn(BYTES_PER_ELEMENT, e.dtype)) fail(`${where}: unknown dtype ${JSON.stringify(e.dtype)}`);
    const byteLength = sizeOf(e.shape as number[]) * BYTES_PER_ELEMENT[e.dtype as DType];
    if (e.byteLength !== byteLength) fail(`${where}: byteLength ${JSON.stringify(e.byteLength)} does not fit ${formatShape(e.shape as number[])} ${e.dtype} (${byteLength})`);
    if (!isByteCount(e.offset) || (e.offset as number) % ALIGN !== 0 || (e.offset as number) < end) {
      fail(`${where}: offset ${JSON.stringify(e.offset)} is not a multiple of ${ALIGN} at or after the previous entry's end (${end})`);
    }
    end = (e.offset as number) + byteLength;
    if (end > payloadByteLength) fail(`${where}: bytes ${e.offset as number}…${end} lie outside the ${payloadByteLength}-byte payload`);
  });
  return h as unknown as ModelFileHeader;
}

/**
 * Load `bytes` (from `serializeModel`) into `model`: parameters are overwritten in place by
 * `assignParameters` (the same tensor objects, bit for bit, version counters bumped), buffers
 * are replaced by `restoreStats`. The file must match the model exactly: every
 * missing or extra name and every kind, shape or dtype mismatch is listed in one ValueError,
 * and nothing is changed unless everything matches. `what` names the source in messages
 * (loadModel passes the path).
 * @example deserializeInto(model, serializeModel(trained))
 */
export function deserializeInto(model: Module, bytes: Uint8Array, what = 'deserializeInto'): void {
  moduleArgument(what, model, 'a model (Module)');
  const { header, values } = readModelBytes(bytes, what);
  const inFile = new Map(header.entries.map((e) => [e.name, e]));
  const inModel = new Map<string, { kind: EntryKind; tensor: Tensor }>([
    ...model.namedParameters().map(([name, tensor]): [string, { kind: EntryKind; tensor: Tensor }] => [name, { kind: 'parameter', tensor }]),
    ...model.namedBuffers().map(([name, tensor]): [string, { kind: EntryKind; tensor: Tensor }] => [name, { kind: 'buffer', tensor }]),
  ]);

  const describe = (kind: EntryKind, shape: readonly number[], dtype: DType) => `${kind} ${formatShape(shape)} ${dtype}`;
  const missing: string[] = [];
  const extra: string[] = [];
  const mismatched: string[] = [];
  for (const [name, { kind, tensor }] of inModel) {
    const entry = inFile.get(name);
    if (!entry) {
      missing.push(`'${name}' (${describe(kind, tensor.shape, tensor.dtype)})`);
      continue;
    }
    const differences: string[] = [];
    if (entry.kind !== kind) differences.push(`a ${kind} in the model, a ${entry.kind} in the file`);
    if (!sameShape(entry.shape, tensor.shape)) differences.push(`shape ${formatShape(tensor.shape)} in the model, ${formatShape(entry.shape)} in the file`);
    if (entry.dtype !== tensor.dtype) differences.push(`dtype ${tensor.dtype} in the model, ${entry.dtype} in the file`);
    if (differences.length > 0) mismatched.push(`'${name}': ${differences.join('; ')}`);
  }
  for (const entry of header.entries) {
    if (!inModel.has(entry.name)) extra.push(`'${entry.name}' (${describe(entry.kind, entry.shape, entry.dtype)})`);
  }
  const problems = [
    ...(missing.length > 0 ? [`missing from the file: ${missing.join(', ')}`] : []),
    ...(extra.length > 0 ? [`in the file but not in the model: ${extra.join(', ')}`] : []),
    ...mismatched.map((m) => `mismatch ${m}`),
  ];
  if (problems.length > 0) {
    throw new ValueError(
      `${what}: the file does not match the model (${missing.length} missing, ${extra.length} extra, ${mismatched.length} mismatched; nothing was loaded):\n  - ${problems.join('\n  - ')}`,
    );
  }

  // Everything matches: now write. Nothing below can fail on the file's contents.
  const parameters = model.namedParameters().map(([name, p]) => tensor(values.get(name)!, { shape: p.shape.slice() }));
  model.assignParameters(parameters);
  model.restoreStats(new Map(model.namedBuffers().map(([name]) => [name, values.get(name)!])));
}

// ---- helpers ---------------------------------------------------------------------------

function alignUp(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function isByteCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function isUint32(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
}

function hex32(v: number): string {
  return `0x${v.toString(16).padStart(8, '0')}`;
}

function describeValue(v: unknown): string {
  return v === null ? 'null' : typeof v === 'object' ? (v as object).constructor?.name ?? 'an object' : typeof v;
}

let crcTable: Uint32Array | null = null;

/** CRC-32 (IEEE 802.3, the zlib/PNG checksum) of `bytes`. */
export function crc32(bytes: Uint8Array): number {
  if (!(bytes instanceof Uint8Array)) throw new ValueError(`crc32: expected a Uint8Array; got ${describeValue(bytes)}`);
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = crcTable[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
