/**
 * Data: datasets, splits, samplers, augmentations and synthetic problems; the npm-package
 * loaders (loadMnist, loadFashionMnist) and the loaders for files in a folder of the user's
 * (loadMnistFiles, loadFashionMnistFiles, loadCifar10Files).
 * @module
 */
export type { Batch, Dataset, Sample } from './dataset.js';
export * from './augment.js';
export * from './cache.js';
export * from './cache-dir.js';
export * from './cifar10.js';
export * from './errors.js';
export * from './fashion-mnist.js';
export * from './idx.js';
export * from './images.js';
export * from './mnist.js';
export * from './sampler.js';
export * from './split.js';
export * from './synthetic.js';
