/**
 * CIFAR-10 from the "binary version" batches in a folder of the user's (the official
 * 50,000 / 10,000 train / test splits; there is no npm package to fall back on).
 *
 * The folder is the one holding `data_batch_1.bin` … `data_batch_5.bin` and `test_batch.bin`,
 * or the folder the archive was extracted into (its `cifar-10-batches-bin/` is looked in).
 * Each record is 1 label byte (0–9) and 3,072 pixel bytes: the 32x32 red plane, then green,
 * then blue, rows top to bottom, which is already the CHW layout a sample has. Each file is
 * checked (a regular file, a non-zero multiple of 3,073 bytes, labels 0–9); an error is a
 * DataFileError that names the file. The Python version (`data_batch_1` pickles without
 * `.bin`) is recognised and refused with a hint, since unpickling is out of scope.
 *
 * Samples are float32 [3, 32, 32] in [0, 1] (byte / 255), labels 0–9 (CIFAR10_CLASSES), stable
 * id = position in the split (train: batch 1's records, then batch 2's, …), `duplicateOf` as
 * for the other image datasets.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { findDuplicates } from './cache.js';
import { DataFileError } from './errors.js';
import type { FileSplits } from './idx.js';
import { readDataFile } from './idx.js';
import { ImageDataset } from './images.js';

/** CIFAR-10's class names, indexed by label (0 = 'airplane' … 9 = 'truck'). */
export const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'] as const;

const SIDE = 32;
const PIXELS = 3 * SIDE * SIDE;
const RECORD = 1 + PIXELS;
const OP = 'loadCifar10Files';
const TRAIN = [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`);
const TEST = ['test_batch.bin'];

const isDir = (p: string): boolean => {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
};

/** The folder that holds the batches: `dir` itself or its `cifar-10-batches-bin/`. */
function batchFolder(dir: string): string {
  if (!isDir(dir)) throw new DataFileError(`${OP}: the folder '${dir}' does not exist or is not a directory`, dir);
  for (const candidate of [dir, join(dir, 'cifar-10-batches-bin')]) {
    if (existsSync(join(candidate, 'test_batch.bin')) || existsSync(join(candidate, 'data_batch_1.bin'))) return candidate;
  }
  for (const candidate of [dir, join(dir, 'cifar-10-batches-py')]) {
    if (existsSync(join(candidate, 'data_batch_1'))) {
      throw new DataFileError(
        `${OP}: '${candidate}' holds the Python (pickle) version of CIFAR-10; download the binary version ` +
          '(cifar-10-binary.tar.gz, files data_batch_1.bin … test_batch.bin) instead',
        candidate,
      );
    }
  }
  throw new DataFileError(`${OP}: no CIFAR-10 binary batches in '${dir}' (looked for data_batch_1.bin … data_batch_5.bin, test_batch.bin, also under cifar-10-batches-bin/)`, dir);
}

/** Records of one batch file: labels and CHW pixels, checked. */
function readBatch(file: string): { labels: Uint8Array; pixels: Uint8Array } {
  const buf = readDataFile(file, OP);
  if (buf.length === 0 || buf.length % RECORD !== 0) {
    throw new DataFileError(
      `${OP}: '${file}' is not a CIFAR-10 binary batch: ${buf.length} bytes is not a non-zero multiple of ${RECORD} ` +
        `(1 label byte + ${PIXELS} pixel bytes per image)` + (buf.length % (RECORD + 1) === 0 && buf.length > 0 ? '; CIFAR-100 has 2 label bytes per image' : ''),
      file,
    );
  }
  const n = buf.length / RECORD;
  const labels = new Uint8Array(n);
  const pixels = new Uint8Array(n * PIXELS);
  for (let i = 0; i < n; i++) {
    const label = buf[i * RECORD]!;
    if (label >= CIFAR10_CLASSES.length) throw new DataFileError(`${OP}: '${file}': image ${i} has label ${label}, not a class 0–9`, file);
    labels[i] = label;
    pixels.set(buf.subarray(i * RECORD + 1, (i + 1) * RECORD), i * PIXELS);
  }
  return { labels, pixels };
}

function loadSplit(name: string, files: string[]): ImageDataset {
  const batches = files.map(readBatch);
  const count = batches.reduce((n, b) => n + b.labels.length, 0);
  const labels = new Uint8Array(count);
  const pixels = new Uint8Array(count * PIXELS);
  let at = 0;
  for (const b of batches) {
    labels.set(b.labels, at);
    pixels.set(b.pixels, at * PIXELS);
    at += b.labels.length;
  }
  const data = {
    count,
    rows: SIDE,
    cols: SIDE,
    skipped: 0,
    sourceEntries: count,
    ids: Uint32Array.from({ length: count }, (_, i) => i),
    duplicateOf: findDuplicates(pixels, count, PIXELS),
    labels,
    pixels,
  };
  return new ImageDataset(name, data, undefined, 3);
}

/** CIFAR-10's 50,000 / 10,000 splits from the binary batches in `dir` (see the file comment). */
export function loadCifar10Files(dir: string): FileSplits {
  const folder = batchFolder(dir);
  const need = (names: string[]): string[] =>
    names.map((name) => {
      const file = join(folder, name);
      if (!existsSync(file)) throw new DataFileError(`${OP}: '${file}' is missing (CIFAR-10 needs ${[...TRAIN, ...TEST].join(', ')})`, file);
      return file;
    });
  const files = { train: need(TRAIN), test: need(TEST) };
  return { train: loadSplit('cifar10-train', files.train), test: loadSplit('cifar10-test', files.test), files };
}
