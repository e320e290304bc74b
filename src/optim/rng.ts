/**
 * A tiny seeded generator for the estimators' own random choices (mega-batches, random
 * snapshot iterates, geometric inner-loop lengths, unlocked seeds). Its whole state is one
 * 32-bit integer, so it is saved and restored with the estimator (checkpoints resume exactly).
 * Algorithm: mulberry32.
 */
export class OptimRng {
  constructor(public state: number) {
    this.state = state >>> 0;
  }

  /** A uniform number in [0, 1) (32 random bits). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
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
