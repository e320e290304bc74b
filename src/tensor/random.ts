/**
 * Counter-based, keyed randomness (docs/design.md §7).
 *
 * A random number is a pure function of a key and a counter: Threefry-2x32 with 20 rounds
 * (Salmon et al. 2011, "Parallel random numbers: as easy as 1, 2, 3"; the generator JAX
 * uses), which only needs 32-bit add, rotate and xor — exact in JavaScript on every
 * platform. There is no global RNG state: the same key gives the same numbers on every run,
 * in every batch order, on every backend.
 *
 * Keys are derived, never advanced: `foldIn(key, id)` gives the independent stream of a
 * sample id or layer id, `splitKey(key, n)` gives n independent keys. Counter domains keep
 * the three uses apart: element counters have the two top bits of the high word clear,
 * foldIn sets bit 31 and split sets bit 30 (ids and element counts are below 2^53, so their
 * high word is below 2^21).
 */
import { ValueError } from './errors.js';
import { keyArgument } from './arguments.js';

/** A Threefry key: two unsigned 32-bit words. */
export type Key = readonly [number, number];

const ROTATIONS = [13, 15, 26, 6, 17, 29, 16, 24];

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

/**
 * Threefry-2x32-20 block function: encrypt the counter (c0, c1) under the key (k0, k1).
 * Returns two unsigned 32-bit words.
 */
export function threefry2x32(k0: number, k1: number, c0: number, c1: number): [number, number] {
  const ks = [k0 >>> 0, k1 >>> 0, (0x1bd11bda ^ k0 ^ k1) >>> 0];
  let x0 = (c0 + ks[0]!) | 0;
  let x1 = (c1 + ks[1]!) | 0;
  for (let group = 0; group < 5; group++) {
    for (let j = 0; j < 4; j++) {
      x0 = (x0 + x1) | 0;
      x1 = rotl(x1, ROTATIONS[(group % 2) * 4 + j]!) ^ x0;
    }
    // Key injection after every four rounds.
    const s = group + 1;
    x0 = (x0 + ks[s % 3]!) | 0;
    x1 = (x1 + ks[(s + 1) % 3]! + s) | 0;
  }
  return [x0 >>> 0, x1 >>> 0];
}

function checkId(op: string, id: number): void {
  if (!Number.isInteger(id) || id < 0 || id >= 2 ** 53) {
    throw new ValueError(`${op}: expected an integer in [0, 2^53); got ${id}`);
  }
}

/** The key of an integer seed in [0, 2^53). */
export function makeKey(seed: number): Key {
  checkId('makeKey', seed);
  return [Math.floor(seed / 2 ** 32) >>> 0, seed >>> 0];
}

/** The independent key of stream `id` (a sample id, a layer id, a step…) under `key`. */
export function foldIn(key: Key, id: number): Key {
  keyArgument('foldIn', key);
  checkId('foldIn', id);
  return threefry2x32(key[0], key[1], (0x80000000 | Math.floor(id / 2 ** 32)) >>> 0, id >>> 0);
}

/** `n` independent keys derived from `key`. */
export function splitKey(key: Key, n: number): Key[] {
  keyArgument('splitKey', key);
  checkId('splitKey', n);
  return Array.from({ length: n }, (_, i) => threefry2x32(key[0], key[1], (0x40000000 | Math.floor(i / 2 ** 32)) >>> 0, i >>> 0));
}

/** The two random words of element `i` of the stream `key`. */
export function randomBits(key: Key, i: number): [number, number] {
  return threefry2x32(key[0], key[1], Math.floor(i / 2 ** 32), i >>> 0);
}

/** Uniform [0, 1) with 53 random bits (float64). */
export function uniform53(w0: number, w1: number): number {
  return ((w0 >>> 5) * 67108864 + (w1 >>> 6)) / 9007199254740992;
}

/** Uniform [0, 1) with 24 random bits: never rounds up to 1 when stored as float32. */
export function uniform24(w0: number): number {
  return (w0 >>> 8) / 16777216;
}

/** Standard normal by Box–Muller from the two words of one counter (u1 in (0, 1], u2 in [0, 1)). */
export function normalFromBits(w0: number, w1: number): number {
  const u1 = (w0 + 1) / 4294967296;
  const u2 = w1 / 4294967296;
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/**
 * A sequential view of one keyed stream: the k-th call returns uniform53 of counter k under
 * makeKey(seed). For code that draws numbers one after another (simulations, inits).
 */
export function uniformStream(seed: number): () => number {
  const key = makeKey(seed);
  let counter = 0;
  return () => {
    const [w0, w1] = randomBits(key, counter++);
    return uniform53(w0, w1);
  };
}
