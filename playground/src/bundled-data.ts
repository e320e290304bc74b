/** The generated MNIST subset (browser side), decoded once. */
import { MNIST_EVAL, MNIST_TRAIN } from '../generated/mnist-subset.js';
import { decodeBase64, playgroundData, type PlaygroundData, type SubsetPart } from './core/data.js';

const part = (p: { ids: number[]; labels: number[]; pixels: string }): SubsetPart => ({ ids: p.ids, labels: p.labels, bytes: decodeBase64(p.pixels) });

let cached: PlaygroundData | null = null;
export function bundledData(): PlaygroundData {
  cached ??= playgroundData(part(MNIST_TRAIN), part(MNIST_EVAL));
  return cached;
}
