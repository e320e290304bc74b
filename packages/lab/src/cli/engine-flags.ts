/**
 * Engine features the gradscope command turns on for itself, before any WebAssembly is
 * compiled. The library never changes engine flags: it only feature-detects (runtime.ts).
 *
 * Relaxed SIMD gives the WebAssembly GEMM a fused multiply-add (f32x4.relaxed_madd), about
 * 1.2× on large float32 products. Chromium ≥ 114 and Node ≥ 22 have it on; Node 20's V8 (11.3)
 * has the finished implementation behind --experimental-wasm-relaxed-simd. A program that
 * imports gradscope on Node 20 can pass that flag to node (or in NODE_OPTIONS) to get the same.
 */
import { setFlagsFromString } from 'node:v8';
import { relaxedSimdProbeBytes } from 'gradscope';

/** Turn on relaxed SIMD if this engine has it behind a flag; a no-op where it is already on. */
export function enableRelaxedSimd(): void {
  if (typeof WebAssembly !== 'object' || WebAssembly.validate(relaxedSimdProbeBytes())) return;
  setFlagsFromString('--experimental-wasm-relaxed-simd');
}
