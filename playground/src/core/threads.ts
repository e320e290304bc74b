/**
 * The playground's threads check: one fixed float32 product, large enough that the wasm
 * backend splits it over its threads (≥ 2²¹ multiply-adds and ≥ 2 column slivers: 256³ is
 * 2²⁴), timed, with a digest of every bit of the result. Each element of C is computed by one
 * thread in the same order whatever the thread count, so the digest must not change when
 * threads are switched on; the e2e tests compare it with threads on and off.
 */
import { tensor, wasmThreads } from '../../../src/index.js';

export interface ProductCheck {
  /** Threads the product ran on (1: the calling thread alone). */
  threads: number;
  /** The product is n×n · n×n. */
  n: number;
  /** Best of a few runs, in ms. */
  ms: number;
  /** FNV-1a over the 32-bit patterns of C, as 8 hex digits. */
  digest: string;
  /** C[0][0..3], to check the values themselves (against Node, to float32 rounding). */
  corner: number[];
}

/** Deterministic inputs in [-0.5, 0.5): element i of an operand, varied by `seed`. */
export function operandValue(i: number, seed: number): number {
  return ((i * 7919 + seed * 104729) % 1000) / 1000 - 0.5;
}

export function productOperands(n: number): { a: Float32Array; b: Float32Array } {
  const a = Float32Array.from({ length: n * n }, (_, i) => operandValue(i, 1));
  const b = Float32Array.from({ length: n * n }, (_, i) => operandValue(i, 2));
  return { a, b };
}

/** FNV-1a over the bit patterns of 32-bit floats: equal digests mean (almost surely) equal bits. */
export function digestFloat32(values: Float32Array): string {
  const words = new Uint32Array(values.buffer, values.byteOffset, values.length);
  let hash = 0x811c9dc5;
  for (let i = 0; i < words.length; i++) {
    for (let shift = 0; shift < 32; shift += 8) {
      hash ^= (words[i]! >>> shift) & 0xff;
      hash = Math.imul(hash, 0x01000193) >>> 0;
    }
  }
  return hash.toString(16).padStart(8, '0');
}

export function productCheck(n = 256, runs = 3): ProductCheck {
  const { a, b } = productOperands(n);
  const A = tensor(a, { shape: [n, n] });
  const B = tensor(b, { shape: [n, n] });
  let best = Infinity;
  let c: Float32Array = new Float32Array(0);
  // The first run also compiles the GEMM module; the best of the rest is the time shown.
  for (let r = 0; r <= runs; r++) {
    const t0 = performance.now();
    c = A.matmul(B).data as Float32Array;
    if (r > 0) best = Math.min(best, performance.now() - t0);
  }
  return { threads: wasmThreads(), n, ms: best, digest: digestFloat32(c), corner: Array.from(c.subarray(0, 4)) };
}
