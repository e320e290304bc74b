/**
 * Data augmentations as pure functions of (seed, sample id).
 *
 * An augmentation maps a sample's features (shape [C, H, W] or [H, W]) and a Threefry key to
 * new features. The key of a sample is `sampleKey(seed, id) = foldIn(makeKey(seed), id)`, so
 * the same (seed, stable id) gives the same transform in any batch, position or order;
 * reusing the seed "locks" the transforms (e.g. SVRG's snapshot pass sees the same images as
 * the training step), a new seed draws new ones. `compose` gives its k-th augmentation the
 * key `foldIn(key, k)`, so the parts are independent.
 */
import { ValueError } from '../tensor/errors.js';
import { foldIn, makeKey, randomBits, uniform53, type Key } from '../tensor/random.js';

/**
 * A data augmentation: maps one sample's features `x` (row-major, `shape` [C, H, W] or [H, W])
 * and a Threefry key to new float32 features of the same shape. It must be a pure function of
 * its arguments (no hidden random state) and must not modify `x`, so the same key reproduces
 * the same transform; this is what lets SVRG lock transforms between w̃ and w.
 */
export type Augmentation = (x: Float32Array | Float64Array, shape: readonly number[], key: Key) => Float32Array;

/** The key of sample `id` under `seed`. */
export function sampleKey(seed: number, id: number): Key {
  return foldIn(makeKey(seed), id);
}

/** Apply `aug` to a sample with the key of (seed, id). */
export function augmentSample(aug: Augmentation, x: Float32Array | Float64Array, shape: readonly number[], seed: number, id: number): Float32Array {
  return aug(x, shape, sampleKey(seed, id));
}

function dims(shape: readonly number[]): [number, number, number] {
  if (shape.length === 3) return [shape[0]!, shape[1]!, shape[2]!];
  if (shape.length === 2) return [1, shape[0]!, shape[1]!];
  throw new ValueError(`augment: expected a sample shape [C, H, W] or [H, W]; got [${shape.join(', ')}]`);
}

/** Integer uniform in [lo, hi] from counter i of key. */
function drawInt(key: Key, i: number, lo: number, hi: number): number {
  const [w0, w1] = randomBits(key, i);
  return lo + Math.floor(uniform53(w0, w1) * (hi - lo + 1));
}

/** Translate by (dy, dx) pixels, filling with `fill`: out[y][x] = in[y − dy][x − dx]. */
export function translate(x: Float32Array | Float64Array, shape: readonly number[], dy: number, dx: number, fill = 0): Float32Array {
  const [c, h, w] = dims(shape);
  const out = new Float32Array(c * h * w);
  for (let ch = 0; ch < c; ch++) {
    for (let r = 0; r < h; r++) {
      const sr = r - dy;
      for (let q = 0; q < w; q++) {
        const sq = q - dx;
        out[(ch * h + r) * w + q] = sr >= 0 && sr < h && sq >= 0 && sq < w ? x[(ch * h + sr) * w + sq]! : fill;
      }
    }
  }
  return out;
}

/**
 * Random crop with zero padding: pad each side by `padding`, take an H×W window at an offset
 * uniform in [0, 2·padding]² (counters 0 and 1 of the key). Equals a shift in [−p, p]².
 */
export function randomCrop(options: { padding: number; fill?: number }): Augmentation {
  const p = options.padding;
  if (!Number.isInteger(p) || p < 0) throw new ValueError(`randomCrop: padding must be an integer ≥ 0; got ${p}`);
  return (x, shape, key) => {
    const oy = drawInt(key, 0, 0, 2 * p);
    const ox = drawInt(key, 1, 0, 2 * p);
    return translate(x, shape, p - oy, p - ox, options.fill ?? 0);
  };
}

/** Small shifts: translate by integers uniform in [−maxShift, maxShift] on each axis, zero fill. */
export function randomShift(options: { maxShift: number; fill?: number }): Augmentation {
  const m = options.maxShift;
  if (!Number.isInteger(m) || m < 0) throw new ValueError(`randomShift: maxShift must be an integer ≥ 0; got ${m}`);
  return (x, shape, key) => translate(x, shape, drawInt(key, 0, -m, m), drawInt(key, 1, -m, m), options.fill ?? 0);
}

/** Mirror left–right with probability p (default 0.5; counter 0 of the key). */
export function horizontalFlip(options: { p?: number } = {}): Augmentation {
  const prob = options.p ?? 0.5;
  if (!(prob >= 0 && prob <= 1)) throw new ValueError(`horizontalFlip: p must be in [0, 1]; got ${prob}`);
  return (x, shape, key) => {
    const [w0, w1] = randomBits(key, 0);
    if (!(uniform53(w0, w1) < prob)) return Float32Array.from(x);
    const [c, h, w] = dims(shape);
    const out = new Float32Array(c * h * w);
    for (let row = 0; row < c * h; row++) {
      for (let q = 0; q < w; q++) out[row * w + q] = x[row * w + (w - 1 - q)]!;
    }
    return out;
  };
}

/** Apply augmentations in order; the k-th gets key foldIn(key, k). */
export function compose(...augs: Augmentation[]): Augmentation {
  return (x, shape, key) => {
    let cur: Float32Array | Float64Array = x;
    augs.forEach((a, k) => {
      cur = a(cur, shape, foldIn(key, k));
    });
    return cur instanceof Float32Array && cur !== x ? cur : Float32Array.from(cur);
  };
}
