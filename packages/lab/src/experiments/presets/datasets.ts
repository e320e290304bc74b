/**
 * The data and model helpers the presets share: seeded MNIST subsets, CIFAR-10 from a user's
 * folder (paper size) and the float64 MLP on flat vectors that the per-sample measurements use.
 * The CIFAR-10 models are in cifar-models.ts.
 */
import { type Dataset, foldIn, keyedPermutation, makeKey, mlp, type Module, subset } from 'gradscope';
import { loadCifar10Files, loadMnist } from 'gradscope/data';

/** Disjoint seeded subsets of MNIST's training set: n to train on, m to evaluate on. */
export function mnistSubsets(
  seed: number,
  n: number,
  m: number,
  input: 'flat' | 'image' = 'flat',
): { train: Dataset; evaluation: Dataset } {
  const all = loadMnist();
  if (n + m > all.length) {
    throw new RangeError(`mnistSubsets: ${n} training + ${m} evaluation digits need ${n + m}; MNIST has ${all.length}`);
  }
  const order = keyedPermutation(all.length, foldIn(makeKey(seed), 0x6d6e));
  const shape = input === 'flat' ? flat : (d: Dataset) => d;
  return {
    train: shape(subset(all, order.subarray(0, n), `mnist-${n}`)),
    evaluation: shape(subset(all, order.subarray(n, n + m), `mnist-eval-${m}`)),
  };
}

/** The same samples with features seen as flat vectors (the per-sample gradient tracer needs an MLP input). */
export function flat(data: Dataset): Dataset {
  const size = data.sampleShape.reduce((a, b) => a * b, 1);
  return { name: data.name, length: data.length, sampleShape: [size], classes: data.classes, get: (i) => data.get(i) };
}

/** An MLP on flat 784-vectors, float64 (exact zero checks). */
export function flatMlp(
  sizes: readonly number[],
  seed: number,
  options: { dropout?: number; batchNorm?: boolean } = {},
): Module {
  return mlp(sizes, { seed, dtype: 'float64', ...options });
}

/** The error `--size paper` gives when CIFAR-10's folder was not passed with --data. */
export class MissingDataError extends Error {}

/**
 * CIFAR-10's official splits (50,000 / 10,000) from the folder given with `--data DIR` (the binary
 * version's batches, see gradscope/data's loadCifar10Files), or a MissingDataError saying what to
 * pass when no folder was given. A folder that lacks a batch fails with the loader's DataFileError,
 * which names the file.
 */
export function cifar10(dataDir: string | undefined, preset: string): { train: Dataset; test: Dataset } {
  if (dataDir === undefined) {
    throw new MissingDataError(
      `run: --size paper of '${preset}' trains on CIFAR-10, which has no npm package: download the binary version ` +
        `(cifar-10-binary.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html), extract it and pass --data DIR, ` +
        'the folder holding data_batch_1.bin … data_batch_5.bin and test_batch.bin',
    );
  }
  const { train, test } = loadCifar10Files(dataDir);
  return { train, test };
}
