/**
 * MNIST and Fashion-MNIST from the original IDX files in a folder of the user's: the official
 * 60,000 / 10,000 train / test splits, no npm package and no cache (the files are already a
 * compact binary; reading them takes well under a second).
 *
 * The folder holds the four files under their usual names, each optionally gzipped
 * (detected by the gzip magic, so a `.gz` name or an unzipped file both work):
 *   train-images-idx3-ubyte  train-labels-idx1-ubyte  t10k-images-idx3-ubyte  t10k-labels-idx1-ubyte
 * (`train-images.idx3-ubyte`, as some archive tools extract it, is accepted too.)
 *
 * IDX layout (big-endian): two zero bytes, a type byte (0x08 = unsigned byte), a byte with the
 * number of dimensions d, d u32 sizes, then the data in row-major order. Images are
 * [n, rows, cols] (magic 0x00000803), labels [n] (magic 0x00000801). Each file is checked:
 * magic and type, dimensions, exact size, labels 0–9, and the two files of a split must agree
 * on n; an error is a DataFileError that names the file.
 *
 * Samples are what the package loaders give: float32 [1, rows, cols] in [0, 1] (byte / 255),
 * labels 0–9, stable id = position in the file (train and test each count from 0; the two
 * datasets are named `<name>-train` / `<name>-test`), `duplicateOf` computed the same way.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { findDuplicates, type ImageData } from './cache.js';
import { DataFileError } from './errors.js';
import { ImageDataset } from './images.js';

/** An IDX file's dimensions and its data bytes (unsigned-byte IDX only). */
export interface IdxArray {
  /** Size of each dimension from the header, e.g. [60000, 28, 28] for images, [60000] for labels. */
  dims: number[];
  /** The data bytes in row-major order (a view into the file's buffer, no copy); length = product of dims. */
  data: Uint8Array;
}

/** The train and test splits of a dataset read from files. */
export interface FileSplits {
  /** The official training split (60,000 images for MNIST and Fashion-MNIST, 50,000 for CIFAR-10). */
  train: ImageDataset;
  /** The official test split (10,000 images). */
  test: ImageDataset;
  /** The files each split was read from. */
  files: {
    /** Paths of the training files: [images, labels] for IDX, the five batch files for CIFAR-10. */
    train: string[];
    /** Paths of the test files: [images, labels] for IDX, `test_batch.bin` for CIFAR-10. */
    test: string[];
  };
}

/** Largest decompressed file accepted (far above MNIST's 47 MB; a guard against a gzip bomb). */
const MAX_BYTES = 1 << 30;
const CLASSES = 10;

/** Read a whole data file (a regular file), gunzipping it when it starts with the gzip magic. */
export function readDataFile(file: string, op: string): Uint8Array {
  let raw: Buffer;
  try {
    if (!statSync(file).isFile()) throw new DataFileError(`${op}: '${file}' is not a regular file`, file);
    raw = readFileSync(file);
  } catch (e) {
    if (e instanceof DataFileError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new DataFileError(`${op}: cannot read '${file}': ${code === 'ENOENT' ? 'no such file' : (code ?? (e as Error).message)}`, file, { cause: e });
  }
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      return gunzipSync(raw, { maxOutputLength: MAX_BYTES });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === 'ERR_BUFFER_TOO_LARGE' ? `decompresses to more than ${MAX_BYTES} bytes` : `not a valid gzip file (${(e as Error).message})`;
      throw new DataFileError(`${op}: '${file}': ${why}`, file, { cause: e });
    }
  }
  return raw;
}

/** Parse an unsigned-byte IDX buffer; `file` names it in errors. */
export function parseIdx(buf: Uint8Array, file: string, op = 'parseIdx'): IdxArray {
  const fail = (why: string): never => {
    throw new DataFileError(`${op}: '${file}' is not an IDX file: ${why}`, file);
  };
  if (buf.length < 4) fail(`${buf.length} bytes, shorter than the 4-byte magic number`);
  const magic = Array.from(buf.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join('');
  if (buf[0] !== 0 || buf[1] !== 0) fail(`magic number 0x${magic} does not start with two zero bytes`);
  if (buf[2] !== 0x08) fail(`data type 0x${buf[2]!.toString(16).padStart(2, '0')} (magic 0x${magic}); only unsigned bytes (0x08) are supported`);
  const rank = buf[3]!;
  const header = 4 + 4 * rank;
  if (buf.length < header) fail(`${buf.length} bytes, shorter than the ${header}-byte header of ${rank} dimensions`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  const size = header + dims.reduce((a, b) => a * b, 1);
  if (buf.length !== size) {
    fail(
      buf.length < size
        ? `truncated: ${buf.length} bytes, but the header [${dims.join(', ')}] describes ${size}`
        : `${buf.length} bytes, but the header [${dims.join(', ')}] describes ${size} (trailing bytes)`,
    );
  }
  return { dims, data: buf.subarray(header) };
}

/** Read and parse one IDX file (optionally gzipped). */
export function readIdxFile(file: string, op = 'readIdxFile'): IdxArray {
  return parseIdx(readDataFile(file, op), file, op);
}

/** The first of `names` (each also tried with `.gz`) that exists in `dir`, or an error listing them. */
function findFile(dir: string, names: readonly string[], op: string, what: string): string {
  const tried: string[] = [];
  for (const name of names) {
    for (const candidate of [name, `${name}.gz`]) {
      tried.push(candidate);
      try {
        if (statSync(join(dir, candidate)).isFile()) return join(dir, candidate);
      } catch {
        // not there: try the next name
      }
    }
  }
  let why = 'no such file';
  try {
    if (!statSync(dir).isDirectory()) why = `'${dir}' is not a directory`;
  } catch {
    why = `the folder '${dir}' does not exist`;
  }
  throw new DataFileError(`${op}: no ${what} file in '${dir}' (looked for ${tried.join(', ')}): ${why}`, dir);
}

/** One split from an images file and a labels file, every field checked against the other file. */
export function loadIdxSplit(name: string, imagesFile: string, labelsFile: string, op = 'loadIdxSplit'): ImageDataset {
  const images = readIdxFile(imagesFile, op);
  if (images.dims.length !== 3) {
    throw new DataFileError(`${op}: '${imagesFile}' has ${images.dims.length} dimension(s) [${images.dims.join(', ')}], expected 3 (images: count, rows, cols)`, imagesFile);
  }
  const [count, rows, cols] = images.dims as [number, number, number];
  if (count === 0 || rows === 0 || cols === 0) throw new DataFileError(`${op}: '${imagesFile}' holds no pixels: [${images.dims.join(', ')}]`, imagesFile);
  const labels = readIdxFile(labelsFile, op);
  if (labels.dims.length !== 1) {
    throw new DataFileError(`${op}: '${labelsFile}' has ${labels.dims.length} dimensions [${labels.dims.join(', ')}], expected 1 (labels)`, labelsFile);
  }
  if (labels.dims[0] !== count) {
    throw new DataFileError(`${op}: '${labelsFile}' has ${labels.dims[0]} labels, but '${imagesFile}' has ${count} images`, labelsFile);
  }
  const bad = labels.data.findIndex((l) => l >= CLASSES);
  if (bad >= 0) throw new DataFileError(`${op}: '${labelsFile}': label ${bad} is ${labels.data[bad]}, not a class 0–${CLASSES - 1}`, labelsFile);
  const per = rows * cols;
  // Plain Uint8Array views of the file's buffer (bytes need no alignment; no second copy of 47 MB).
  const pixels = new Uint8Array(images.data.buffer, images.data.byteOffset, images.data.byteLength);
  const data: ImageData = {
    count,
    rows,
    cols,
    skipped: 0,
    sourceEntries: count,
    ids: Uint32Array.from({ length: count }, (_, i) => i),
    duplicateOf: findDuplicates(pixels, count, per),
    labels: new Uint8Array(labels.data.buffer, labels.data.byteOffset, labels.data.byteLength),
    pixels,
  };
  return new ImageDataset(name, data);
}

const SPLIT_FILES = {
  train: { images: ['train-images-idx3-ubyte', 'train-images.idx3-ubyte'], labels: ['train-labels-idx1-ubyte', 'train-labels.idx1-ubyte'] },
  test: { images: ['t10k-images-idx3-ubyte', 't10k-images.idx3-ubyte'], labels: ['t10k-labels-idx1-ubyte', 't10k-labels.idx1-ubyte'] },
} as const;

function loadIdxFolder(name: string, dir: string, op: string): FileSplits {
  const out: Partial<Record<'train' | 'test', ImageDataset>> = {};
  const files = { train: [] as string[], test: [] as string[] };
  for (const split of ['train', 'test'] as const) {
    const images = findFile(dir, SPLIT_FILES[split].images, op, `${split} images`);
    const labels = findFile(dir, SPLIT_FILES[split].labels, op, `${split} labels`);
    out[split] = loadIdxSplit(`${name}-${split}`, images, labels, op);
    files[split] = [images, labels];
  }
  const { train, test } = out as Record<'train' | 'test', ImageDataset>;
  if (train.sampleShape.join() !== test.sampleShape.join()) {
    const size = (ds: ImageDataset): string => ds.sampleShape.slice(1).join('x');
    throw new DataFileError(`${op}: the train images '${files.train[0]}' are ${size(train)} but the test images '${files.test[0]}' are ${size(test)}`, files.test[0]!);
  }
  return { train, test, files };
}

/** MNIST's official 60,000 / 10,000 splits from the IDX files in `dir` (see the file comment). */
export function loadMnistFiles(dir: string): FileSplits {
  return loadIdxFolder('mnist', dir, 'loadMnistFiles');
}

/** Fashion-MNIST's official 60,000 / 10,000 splits from the IDX files in `dir` (same names as MNIST's). */
export function loadFashionMnistFiles(dir: string): FileSplits {
  return loadIdxFolder('fashion-mnist', dir, 'loadFashionMnistFiles');
}
