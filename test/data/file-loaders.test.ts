/**
 * Loaders for the files a researcher already has (issue 16, item 5): MNIST / Fashion-MNIST IDX
 * files (optionally gzipped) and the CIFAR-10 binary batches, from a folder. The tests write
 * a few images in those formats, check the samples byte for byte against the package loaders'
 * Dataset shape, and check that every kind of corruption is a DataFileError naming the file.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CIFAR10_CLASSES,
  DataFileError,
  loadCifar10Files,
  loadFashionMnistFiles,
  loadMnist,
  loadMnistFiles,
  parseIdx,
  split,
} from '../../src/data/index.js';
import { ValueError } from '../../src/tensor/errors.js';

const tmp = mkdtempSync(join(tmpdir(), 'gradscope-file-loaders-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => {
  const dir = join(tmp, `d${n++}`);
  mkdirSync(dir, { recursive: true });
  return dir;
};

// ---- writers for the two formats -------------------------------------------------------------

/** An unsigned-byte IDX file: 0x00 0x00 0x08 <rank>, big-endian u32 dims, then the bytes. */
function idx(dims: number[], data: Uint8Array, type = 0x08): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head[2] = type;
  head[3] = dims.length;
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([head, data]);
}

/** Image i's pixel k: a pattern that differs per image and per position. */
const pixel = (i: number, k: number): number => (i * 31 + k * 7) % 256;
const images = (count: number, per: number, same: Record<number, number> = {}): Uint8Array =>
  Uint8Array.from({ length: count * per }, (_, j) => pixel(same[Math.floor(j / per)] ?? Math.floor(j / per), j % per));

interface IdxSet {
  trainImages: Buffer;
  trainLabels: Buffer;
  testImages: Buffer;
  testLabels: Buffer;
}
/** 4 train images (the 4th repeats the 1st) and 2 test images of 28x28. */
function mnistSet(): IdxSet {
  return {
    trainImages: idx([4, 28, 28], images(4, 784, { 3: 0 })),
    trainLabels: idx([4], Uint8Array.from([5, 0, 9, 5])),
    testImages: idx([2, 28, 28], images(2, 784)),
    testLabels: idx([2], Uint8Array.from([7, 2])),
  };
}
function writeIdxFolder(set: IdxSet, options: { gzip?: boolean; dotted?: boolean } = {}): string {
  const dir = fresh();
  const sep = options.dotted ? '.' : '-';
  const names: Record<keyof IdxSet, string> = {
    trainImages: `train-images${sep}idx3-ubyte`,
    trainLabels: `train-labels${sep}idx1-ubyte`,
    testImages: `t10k-images${sep}idx3-ubyte`,
    testLabels: `t10k-labels${sep}idx1-ubyte`,
  };
  for (const key of Object.keys(names) as (keyof IdxSet)[]) {
    writeFileSync(join(dir, names[key] + (options.gzip ? '.gz' : '')), options.gzip ? gzipSync(set[key]) : set[key]);
  }
  return dir;
}

/** A CIFAR-10 binary batch: per image 1 label byte + 3072 CHW pixel bytes. */
function cifarBatch(labels: number[], first: number): Buffer {
  return Buffer.concat(labels.map((l, i) => Buffer.concat([Buffer.from([l]), Buffer.from(images(1, 3072, { 0: first + i }))])));
}
function writeCifarFolder(dir = fresh(), override: Record<string, Buffer> = {}): string {
  for (let b = 1; b <= 5; b++) writeFileSync(join(dir, `data_batch_${b}.bin`), cifarBatch([b - 1, (b + 4) % 10], 2 * (b - 1)));
  writeFileSync(join(dir, 'test_batch.bin'), cifarBatch([3], 100));
  for (const [name, buf] of Object.entries(override)) writeFileSync(join(dir, name), buf);
  return dir;
}

/** The error `f` throws, checked to be a DataFileError whose message names `file` and `op`. */
function fileError(f: () => unknown, op: string, file: string): DataFileError {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err, 'expected a DataFileError').toBeInstanceOf(DataFileError);
  expect(err).toBeInstanceOf(ValueError);
  const e = err as DataFileError;
  expect(e.file).toBe(file);
  expect(e.message.startsWith(`${op}: `), e.message).toBe(true);
  expect(e.message).toContain(file);
  return e;
}

// ---- MNIST / Fashion-MNIST -----------------------------------------------------------------------

describe('loadMnistFiles: IDX files in a folder', () => {
  it('gives the train and test splits in the Dataset shape loadMnist gives', () => {
    const { train, test, files } = loadMnistFiles(writeIdxFolder(mnistSet()));
    expect([train.name, train.length, test.name, test.length]).toEqual(['mnist-train', 4, 'mnist-test', 2]);
    expect(files.train.map((f) => basename(f))).toEqual(['train-images-idx3-ubyte', 'train-labels-idx1-ubyte']);
    // The package loader's shape, on a one-digit-per-class fake package.
    const pkg = fresh();
    mkdirSync(join(pkg, 'src', 'digits'), { recursive: true });
    for (let c = 0; c < 10; c++) writeFileSync(join(pkg, 'src', 'digits', `${c}.json`), JSON.stringify({ data: Array(784).fill(0.5) }));
    const fromPackage = loadMnist({ packageDir: pkg, cacheDir: fresh() });
    for (const ds of [train, test]) {
      expect(ds.sampleShape).toEqual(fromPackage.sampleShape);
      expect(ds.classes).toBe(fromPackage.classes);
      expect(Object.keys(ds.get(0)).sort()).toEqual(Object.keys(fromPackage.get(0)).sort());
      expect(ds.get(0).x).toBeInstanceOf(Float32Array);
    }
    // Bytes / 255 in row-major order, labels as written, ids are positions in the file.
    const s = train.get(2);
    expect(s.y).toBe(9);
    expect(s.id).toBe(2);
    expect(s.x.length).toBe(784);
    for (const k of [0, 1, 28, 783]) expect(s.x[k]).toBeCloseTo(pixel(2, k) / 255, 7);
    expect(Array.from(test.labels)).toEqual([7, 2]);
    expect(test.get(1).x[100]).toBeCloseTo(pixel(1, 100) / 255, 7);
    // Exact duplicates are found, so split() keeps them together as with the package data.
    expect(Array.from(train.duplicateOf)).toEqual([0, 1, 2, 0]);
    expect(train.duplicateCount).toBe(1);
    const parts = split(train, { seed: 0, fractions: { train: 0.5, test: 0.5 } });
    const a = new Set(Array.from({ length: parts.train.length }, (_, i) => parts.train.get(i).id));
    expect(a.has(0)).toBe(a.has(3));
  });

  it('reads gzipped files (.gz names, or gzip content under the plain name) and the dotted names', () => {
    const plain = loadMnistFiles(writeIdxFolder(mnistSet()));
    const gz = loadMnistFiles(writeIdxFolder(mnistSet(), { gzip: true }));
    expect(gz.files.test[0]!.endsWith('t10k-images-idx3-ubyte.gz')).toBe(true);
    expect(Array.from(gz.train.pixels)).toEqual(Array.from(plain.train.pixels));
    expect(Array.from(gz.test.labels)).toEqual(Array.from(plain.test.labels));
    const disguised = writeIdxFolder(mnistSet());
    writeFileSync(join(disguised, 'train-images-idx3-ubyte'), gzipSync(mnistSet().trainImages));
    expect(Array.from(loadMnistFiles(disguised).train.pixels)).toEqual(Array.from(plain.train.pixels));
    expect(loadMnistFiles(writeIdxFolder(mnistSet(), { dotted: true })).train.length).toBe(4);
  });

  it('loadFashionMnistFiles reads the same layout under its own name', () => {
    const { train, test } = loadFashionMnistFiles(writeIdxFolder(mnistSet(), { gzip: true }));
    expect([train.name, test.name]).toEqual(['fashion-mnist-train', 'fashion-mnist-test']);
    expect(train.sampleShape).toEqual([1, 28, 28]);
  });

  it('parseIdx reads any unsigned-byte IDX array', () => {
    expect(parseIdx(idx([2, 3], Uint8Array.from([1, 2, 3, 4, 5, 6])), 'x')).toEqual({ dims: [2, 3], data: Buffer.from([1, 2, 3, 4, 5, 6]) });
  });
});

describe('loadMnistFiles: corrupt or wrong files are refused, naming the file', () => {
  const op = 'loadMnistFiles';
  const withFile = (key: keyof IdxSet, buf: Buffer): { dir: string; file: string } => {
    const dir = writeIdxFolder(mnistSet());
    const name = { trainImages: 'train-images-idx3-ubyte', trainLabels: 'train-labels-idx1-ubyte', testImages: 't10k-images-idx3-ubyte', testLabels: 't10k-labels-idx1-ubyte' }[key];
    writeFileSync(join(dir, name), buf);
    return { dir, file: join(dir, name) };
  };
  const good = mnistSet();

  it('a wrong magic number (not IDX, a float IDX, labels where images belong)', () => {
    const png = withFile('trainImages', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0]));
    expect(fileError(() => loadMnistFiles(png.dir), op, png.file).message).toMatch(/not an IDX file: magic number 0x89504e47/);
    const float = withFile('testImages', idx([2, 28, 28], new Uint8Array(2 * 784 * 4), 0x0d));
    expect(fileError(() => loadMnistFiles(float.dir), op, float.file).message).toMatch(/data type 0x0d .*only unsigned bytes/);
    const swapped = withFile('trainImages', good.trainLabels);
    expect(fileError(() => loadMnistFiles(swapped.dir), op, swapped.file).message).toMatch(/has 1 dimension\(s\) \[4\], expected 3/);
    const swapped2 = withFile('trainLabels', good.trainImages);
    expect(fileError(() => loadMnistFiles(swapped2.dir), op, swapped2.file).message).toMatch(/has 3 dimensions \[4, 28, 28\], expected 1/);
  });

  it('a truncated file, trailing bytes, a header cut short', () => {
    const cut = withFile('trainImages', good.trainImages.subarray(0, good.trainImages.length - 100));
    expect(fileError(() => loadMnistFiles(cut.dir), op, cut.file).message).toMatch(/truncated: 3052 bytes, but the header \[4, 28, 28\] describes 3152/);
    const long = withFile('testLabels', Buffer.concat([good.testLabels, Buffer.from([1])]));
    expect(fileError(() => loadMnistFiles(long.dir), op, long.file).message).toMatch(/trailing bytes/);
    const head = withFile('testImages', good.testImages.subarray(0, 10));
    expect(fileError(() => loadMnistFiles(head.dir), op, head.file).message).toMatch(/shorter than the 16-byte header/);
  });

  it('labels that do not match the images, and labels out of range', () => {
    const count = withFile('trainLabels', idx([3], Uint8Array.from([1, 2, 3])));
    expect(fileError(() => loadMnistFiles(count.dir), op, count.file).message).toMatch(/has 3 labels, but '.*train-images-idx3-ubyte' has 4 images/);
    const range = withFile('testLabels', idx([2], Uint8Array.from([3, 10])));
    expect(fileError(() => loadMnistFiles(range.dir), op, range.file).message).toMatch(/label 1 is 10, not a class 0–9/);
  });

  it('a corrupt gzip file, a missing file, a missing folder', () => {
    const gz = gzipSync(good.trainImages);
    const bad = withFile('trainImages', Buffer.concat([gz.subarray(0, 12), Buffer.alloc(40, 0xff)]));
    expect(fileError(() => loadMnistFiles(bad.dir), op, bad.file).message).toMatch(/not a valid gzip file/);
    const dir = writeIdxFolder(mnistSet());
    rmSync(join(dir, 't10k-labels-idx1-ubyte'));
    expect(fileError(() => loadMnistFiles(dir), op, dir).message).toMatch(/no test labels file in .*looked for t10k-labels-idx1-ubyte, t10k-labels-idx1-ubyte\.gz/);
    const none = join(tmp, 'no-such-folder');
    expect(fileError(() => loadMnistFiles(none), op, none).message).toMatch(/does not exist/);
  });

  it('train and test images of different sizes', () => {
    const dir = withFile('testImages', idx([2, 14, 56], images(2, 784))).dir;
    expect(fileError(() => loadMnistFiles(dir), op, join(dir, 't10k-images-idx3-ubyte')).message).toMatch(/the train images '.*train-images-idx3-ubyte' are 28x28 but the test images '.*t10k-images-idx3-ubyte' are 14x56/);
  });
});

// ---- CIFAR-10 ----------------------------------------------------------------------------------

describe('loadCifar10Files: the binary batches in a folder', () => {
  it('gives 3x32x32 samples (CHW as stored), labels, and ids across the five train batches', () => {
    const { train, test, files } = loadCifar10Files(writeCifarFolder());
    expect([train.name, train.length, test.name, test.length]).toEqual(['cifar10-train', 10, 'cifar10-test', 1]);
    expect(files.train.map((f) => basename(f))).toEqual(['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin']);
    expect(train.sampleShape).toEqual([3, 32, 32]);
    expect(train.classes).toBe(CIFAR10_CLASSES.length);
    expect(Array.from(train.labels)).toEqual([0, 5, 1, 6, 2, 7, 3, 8, 4, 9]);
    const s = train.get(7); // batch 4's second image, written as pattern 7
    expect([s.id, s.y]).toEqual([7, 8]);
    expect(s.x).toBeInstanceOf(Float32Array);
    expect(s.x.length).toBe(3072);
    // channel c, row r, column w sits at c·1024 + r·32 + w, as in the file.
    for (const [c, r, w] of [[0, 0, 0], [1, 5, 9], [2, 31, 31]] as const) {
      const k = c * 1024 + r * 32 + w;
      expect(s.x[k]).toBeCloseTo(pixel(7, k) / 255, 7);
    }
    expect(test.get(0).x[2048]).toBeCloseTo(pixel(100, 2048) / 255, 7);
    expect(() => test.get(1)).toThrow(/cifar10-test\.get: index 1 out of range \[0, 1\)/);
  });

  it('accepts the folder the archive was extracted into (cifar-10-batches-bin/)', () => {
    const top = fresh();
    mkdirSync(join(top, 'cifar-10-batches-bin'));
    writeCifarFolder(join(top, 'cifar-10-batches-bin'));
    expect(loadCifar10Files(top).train.length).toBe(10);
  });

  it('refuses wrong sizes, bad labels, empty and missing batches, naming the file', () => {
    const op = 'loadCifar10Files';
    const cut = writeCifarFolder(fresh(), { 'data_batch_2.bin': cifarBatch([1, 2], 0).subarray(0, 3073 + 1000) });
    expect(fileError(() => loadCifar10Files(cut), op, join(cut, 'data_batch_2.bin')).message).toMatch(/4073 bytes is not a non-zero multiple of 3073 \(1 label byte \+ 3072 pixel bytes/);
    const label = writeCifarFolder(fresh(), { 'test_batch.bin': cifarBatch([4, 10], 0) });
    expect(fileError(() => loadCifar10Files(label), op, join(label, 'test_batch.bin')).message).toMatch(/image 1 has label 10, not a class 0–9/);
    const empty = writeCifarFolder(fresh(), { 'data_batch_5.bin': Buffer.alloc(0) });
    expect(fileError(() => loadCifar10Files(empty), op, join(empty, 'data_batch_5.bin')).message).toMatch(/0 bytes/);
    const hundred = writeCifarFolder(fresh(), { 'data_batch_1.bin': Buffer.alloc(2 * 3074, 1) });
    expect(fileError(() => loadCifar10Files(hundred), op, join(hundred, 'data_batch_1.bin')).message).toMatch(/CIFAR-100 has 2 label bytes/);
    const missing = writeCifarFolder();
    rmSync(join(missing, 'data_batch_3.bin'));
    expect(fileError(() => loadCifar10Files(missing), op, join(missing, 'data_batch_3.bin')).message).toMatch(/is missing/);
  });

  it('says what is wrong with a folder of the Python version or of nothing', () => {
    const py = fresh();
    writeFileSync(join(py, 'data_batch_1'), 'pickle');
    expect(fileError(() => loadCifar10Files(py), 'loadCifar10Files', py).message).toMatch(/Python \(pickle\) version.*binary version/);
    const nothing = fresh();
    expect(fileError(() => loadCifar10Files(nothing), 'loadCifar10Files', nothing).message).toMatch(/no CIFAR-10 binary batches/);
  });
});
