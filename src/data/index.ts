/** Data: datasets, splits, samplers, augmentations and synthetic problems. */
export type { Batch, Dataset, Sample } from './dataset.js';
export * from './augment.js';
export * from './cache.js';
export * from './fashion-mnist.js';
export * from './images.js';
export * from './mnist.js';
export * from './sampler.js';
export * from './split.js';
export * from './synthetic.js';
