/**
 * The bundled MNIST subset as gradscope Datasets. Works in the browser (decoding the generated
 * base64 module) and in Node (the e2e tests build the same datasets from `loadMnist()` and the
 * same ids, which checks that the bundled bytes equal the package's).
 *
 * Samples are flat 784-vectors with pixels byte / 255 (float32), exactly as
 * `ImageDataset.get` returns them; the models here are MLPs.
 */
import type { Dataset, Sample } from '../../../src/index.js';

export const PIXELS = 28 * 28;

/** One part of the subset: stable ids, labels and bytes 0–255, image after image. */
export interface SubsetPart {
  ids: readonly number[];
  labels: readonly number[];
  bytes: Uint8Array;
}

export function decodeBase64(text: string): Uint8Array {
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/** A Dataset of flat [784] images over the given part. */
export function subsetDataset(name: string, part: SubsetPart): Dataset {
  if (part.bytes.length !== part.ids.length * PIXELS) throw new Error(`${name}: ${part.bytes.length} bytes for ${part.ids.length} images`);
  return {
    name,
    length: part.ids.length,
    sampleShape: [PIXELS],
    classes: 10,
    get(index: number): Sample {
      if (!Number.isInteger(index) || index < 0 || index >= part.ids.length) throw new Error(`${name}.get: index ${index} out of range`);
      const x = new Float32Array(PIXELS);
      for (let k = 0; k < PIXELS; k++) x[k] = part.bytes[index * PIXELS + k]! / 255;
      return { x, y: part.labels[index]!, id: part.ids[index]! };
    },
  };
}

/** The training and evaluation datasets of the playground. */
export interface PlaygroundData {
  train: Dataset;
  evaluation: Dataset;
}

export function playgroundData(train: SubsetPart, evaluation: SubsetPart): PlaygroundData {
  return { train: subsetDataset('mnist-playground-train', train), evaluation: subsetDataset('mnist-playground-eval', evaluation) };
}
