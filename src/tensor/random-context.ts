/**
 * What random functions do inside vmap (its `randomness` option, as in torch.func). A module
 * of its own, importing nothing of the engine but its errors, so that creation.ts can consult
 * it without depending on the transforms.
 */
import { ValueError } from './errors.js';
import type { Tensor } from './tensor.js';

export type VmapRandomness = 'error' | 'same' | 'different';

/** The innermost running vmap, as random functions need to know it. */
export interface RandomnessFrame {
  readonly mode: VmapRandomness;
  /** Samples in this (chunk of the) batch, and the index of its first sample. */
  readonly size: number;
  readonly offset: number;
  readonly level: number;
}

let current: RandomnessFrame | null = null;

/** Run `fn` with `frame` as the innermost vmap's randomness. */
export function setVmapRandomness<T>(frame: RandomnessFrame, fn: () => T): T {
  const previous = current;
  current = frame;
  try {
    return fn();
  } finally {
    current = previous;
  }
}

export function vmapRandomness(): RandomnessFrame | null {
  return current;
}

/** The error for a random draw inside vmap whose randomness mode is 'error' (the default, as torch.func). */
export function randomnessError(op: string, what: string): ValueError {
  return new ValueError(`${op}: ${what} inside vmap; say whether samples share it: vmap(f, { randomness: 'same' }) or { randomness: 'different' }`);
}

/** Set by batching.ts: a physical [B, …] tensor as the per-sample tensor of vmap level `level`. */
export const perSampleView: { wrap: ((physical: Tensor, level: number) => Tensor) | null } = { wrap: null };
