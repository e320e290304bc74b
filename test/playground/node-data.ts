/**
 * The playground's MNIST subset built in Node from `loadMnist()` and the ids of the bundled
 * subset: the same digits the page bundles (playground/scripts/make-mnist-subset.mjs picks the
 * first 32 + 8 digits of each class). Shared by the unit tests and the e2e tests.
 */
import { loadMnist } from '../../src/data/index.js';
import { playgroundData, PIXELS, type PlaygroundData, type SubsetPart } from '../../playground/src/core/data.js';

export const TRAIN_PER_CLASS = 32;
export const EVAL_PER_CLASS = 8;

let cached: PlaygroundData | null = null;

export function nodePlaygroundData(): PlaygroundData {
  if (cached) return cached;
  const mnist = loadMnist();
  const parts: SubsetPart[] = [0, 1].map(() => ({ ids: [], labels: [], bytes: new Uint8Array(0) }));
  const chosen: number[][] = [[], []];
  for (let i = 0; i < mnist.length; i++) {
    const c = mnist.labels[i]!;
    const rank = i - mnist.labels.indexOf(c); // position within its class (stored class by class)
    if (rank < TRAIN_PER_CLASS) chosen[0]!.push(i);
    else if (rank < TRAIN_PER_CLASS + EVAL_PER_CLASS) chosen[1]!.push(i);
  }
  chosen.forEach((positions, k) => {
    const bytes = new Uint8Array(positions.length * PIXELS);
    positions.forEach((p, r) => bytes.set(mnist.pixels.subarray(p * PIXELS, (p + 1) * PIXELS), r * PIXELS));
    parts[k] = { ids: positions.map((p) => mnist.ids[p]!), labels: positions.map((p) => mnist.labels[p]!), bytes };
  });
  cached = playgroundData(parts[0]!, parts[1]!);
  return cached;
}
