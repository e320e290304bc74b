import { makeKey, randomBits, uniform53, type Key } from '../tensor/random.js';

/**
 * The estimators' own random choices (mega-batches, random snapshot iterates, geometric
 * inner-loop lengths, unlocked seeds), drawn from the same counter-based Threefry stream as
 * the rest of gradscope: draw k is a pure function of (seed, k). Its whole state is the
 * counter, so it is saved and restored with the estimator (checkpoints resume exactly).
 */
export class OptimRng {
  private readonly key: Key;
  /** How many numbers have been drawn (the counter of the next one). */
  state = 0;

  /** A generator at counter 0 for an integer seed in [0, 2^53) (ValueError otherwise). */
  constructor(seed: number) {
    this.key = makeKey(seed);
  }

  /** A uniform number in [0, 1) (53 random bits). */
  next(): number {
    const [w0, w1] = randomBits(this.key, this.state++);
    return uniform53(w0, w1);
  }

  /** A uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** A fresh seed in [0, 2^31) (for dropout masks and augmentations). */
  seed(): number {
    return Math.floor(this.next() * 2 ** 31);
  }

  /** k distinct indices drawn uniformly from [0, n) (partial Fisher–Yates). */
  sample(n: number, k: number): number[] {
    const pool = Array.from({ length: n }, (_, i) => i);
    const m = Math.min(k, n);
    for (let i = 0; i < m; i++) {
      const j = i + this.int(n - i);
      [pool[i], pool[j]] = [pool[j]!, pool[i]!];
    }
    return pool.slice(0, m);
  }
}
