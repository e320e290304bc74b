/**
 * Dataset cache integrity (issue 14, D10 and the size guard of D13–D21): every header field
 * sits under the SHA-256, so no single corruption loads with wrong metadata; the reader looks
 * at the header and fstat before reading, refusing non-regular files and wrong sizes.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeCache, encodeCache, readCacheFile, type ImageData } from '../../src/data/cache.js';
import { FASHION_MNIST_FORMAT } from '../../src/data/fashion-mnist.js';
import { loadImagePackage } from '../../src/data/images.js';

const tmp = mkdtempSync(join(tmpdir(), 'gradscope-cache-integrity-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** 3 images of 2x6 pixels (rows·cols = 12 = 3·4 = 4·3 = …, so a rows/cols swap keeps the size). */
const data: ImageData = {
  count: 3,
  rows: 2,
  cols: 6,
  skipped: 1,
  sourceEntries: 4,
  ids: Uint32Array.from([0, 2, 3]),
  duplicateOf: Int32Array.from([0, 1, 0]),
  labels: Uint8Array.from([1, 4, 9]),
  pixels: Uint8Array.from({ length: 36 }, (_, i) => (i * 37) % 256),
};

describe('dataset cache: the header is under the checksum', () => {
  it('refuses every single-bit flip of the 60-byte header', () => {
    const good = encodeCache(data);
    const back = decodeCache(good)!; // the unmodified file round-trips
    expect([back.count, back.rows, back.cols, back.skipped, back.sourceEntries]).toEqual([3, 2, 6, 1, 4]);
    const loaded: string[] = [];
    for (let byte = 0; byte < 60; byte++) {
      for (let bit = 0; bit < 8; bit++) {
        const bad = Buffer.from(good);
        bad[byte]! ^= 1 << bit;
        if (decodeCache(bad) !== null) loaded.push(`byte ${byte} bit ${bit}`);
      }
    }
    expect(loaded).toEqual([]);
  });

  it('refuses rows and cols changed with the same product, and changed counts', () => {
    const good = encodeCache(data);
    const swap = Buffer.from(good);
    swap.writeUInt32LE(3, 12);
    swap.writeUInt32LE(4, 16);
    expect(decodeCache(swap)).toBeNull();
    for (const off of [20, 24]) {
      const bad = Buffer.from(good);
      bad.writeUInt32LE(bad.readUInt32LE(off) + 1, off);
      expect(decodeCache(bad)).toBeNull();
    }
  });
});

describe('dataset cache reader: header and fstat first', () => {
  const path = join(tmp, 'x.bin');

  it('refuses a directory, a device and a file longer than its header says, with a reason', () => {
    mkdirSync(join(tmp, 'a-dir'));
    expect(readCacheFile(join(tmp, 'a-dir')).problem).toBe('not a regular file');
    expect(readCacheFile('/dev/zero').problem).toBe('not a regular file');
    writeFileSync(path, Buffer.concat([encodeCache(data), Buffer.alloc(3)]));
    expect(readCacheFile(path).problem).toMatch(/bytes, but the header describes/);
    expect(readCacheFile(join(tmp, 'none.bin')).problem).toBe('missing');
    writeFileSync(path, encodeCache(data));
    expect(readCacheFile(path).data?.count).toBe(3);
  });

  it('a cache with a corrupted header field is rebuilt, and the reason names the file', () => {
    const pkg = join(tmp, 'fake-fashion');
    mkdirSync(join(pkg, 'src', 'clothes'), { recursive: true });
    for (let c = 0; c < 10; c++) {
      const img = Array.from({ length: 784 }, (_, k) => (c * 13 + k) % 256);
      writeFileSync(join(pkg, 'src', 'clothes', `${c}.json`), JSON.stringify({ data: [img, []] }));
    }
    const cacheDir = join(tmp, 'cache');
    const first = loadImagePackage(FASHION_MNIST_FORMAT, { packageDir: pkg, cacheDir });
    expect(first.skipped).toBe(10);
    const file = first.loadInfo!.cachePath;
    const bytes = readFileSync(file);
    bytes.writeUInt32LE(3, 20); // skipped: 10 -> 3, outside the old payload-only checksum
    writeFileSync(file, bytes);
    const again = loadImagePackage(FASHION_MNIST_FORMAT, { packageDir: pkg, cacheDir });
    expect(again.skipped).toBe(10);
    expect(again.loadInfo?.source).toBe('converted');
    expect(again.loadInfo?.rebuiltBecause).toBe('invalid');
    expect(again.loadInfo?.invalidReason).toContain(file);
    expect(loadImagePackage(FASHION_MNIST_FORMAT, { packageDir: pkg, cacheDir }).loadInfo?.source).toBe('cache');
  });
});
