/**
 * What random functions do inside vmap (its `randomness` option, as in torch.func). A module
 * of its own, importing nothing of the engine but its errors, so that creation.ts can consult
 * it without depending on the transforms.
 */
import { ValueError } from './errors.js';
import type { Tensor } from './tensor.js';

/**
 * vmap's `randomness` option, as torch.func.vmap's: 'error' (the default) refuses a random
 * draw inside f; 'same' makes one draw shared by every sample; 'different' gives sample i the
 * draw of `foldIn(key, i)`, i counted over the whole batch, so results do not depend on
 * chunkSize. randperm supports only 'same'.
 */
export type VmapRandomness = 'error' | 'same' | 'different';

/** The innermost running vmap, as random functions need to know it. */
export interface RandomnessFrame {
  /** The vmap's randomness option. */
  readonly mode: VmapRandomness;
  /** Samples in this (chunk of the) batch. */
  readonly size: number;
  /** Index within the whole batch of this chunk's first sample. */
  readonly offset: number;
  /** The vmap's level (a process-wide counter, so an inner vmap has a higher one), for wrapping per-sample draws. */
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

/** The innermost running vmap's randomness frame, or null outside vmap. */
export function vmapRandomness(): RandomnessFrame | null {
  return current;
}

/** The error for a random draw inside vmap whose randomness mode is 'error' (the default, as torch.func). */
export function randomnessError(op: string, what: string): ValueError {
  return new ValueError(`${op}: ${what} inside vmap; say whether samples share it: vmap(f, { randomness: 'same' }) or { randomness: 'different' }`);
}

/** Set by batching.ts: a physical [B, …] tensor as the per-sample tensor of vmap level `level`. */
export const perSampleView: { wrap: ((physical: Tensor, level: number) => Tensor) | null } = { wrap: null };
