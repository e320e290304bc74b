/**
 * Engine features the gradscope command turns on for itself, before any WebAssembly is
 * compiled. The library never changes engine flags: it only feature-detects (runtime.ts).
 *
 * Relaxed SIMD gives the WebAssembly GEMM a fused multiply-add (f32x4.relaxed_madd), about
 * 1.2× on large float32 products. Chromium ≥ 114 and Node ≥ 22 have it on; Node 20's V8 (11.3)
 * has the finished implementation behind --experimental-wasm-relaxed-simd. A program that
 * imports gradscope on Node 20 can pass that flag to node (or in NODE_OPTIONS) to get the same.
 *
 * GRADSCOPE_RELAXED_SIMD=off leaves the flag alone, so a command runs as a library user's
 * program does on Node 20 without it (`gradscope bench` uses this for its -norelaxed rows).
 */
import { setFlagsFromString } from 'node:v8';
import { relaxedSimdProbeBytes } from 'gradscope';

/** The V8 flag, as node takes it on the command line or in NODE_OPTIONS. */
export const RELAXED_SIMD_FLAG = '--experimental-wasm-relaxed-simd';

/**
 * How this process got (or did not get) relaxed SIMD:
 * - 'native': the engine has it on by default (or node was started with the flag);
 * - 'flag': enableRelaxedSimd turned it on;
 * - 'off': GRADSCOPE_RELAXED_SIMD=off kept it off;
 * - 'unavailable': the engine has no relaxed SIMD, or enableRelaxedSimd was never called.
 */
export type RelaxedSimdState = 'native' | 'flag' | 'off' | 'unavailable';

let state: RelaxedSimdState | undefined;

function probe(): boolean {
  return typeof WebAssembly === 'object' && WebAssembly.validate(relaxedSimdProbeBytes());
}

/** Whether GRADSCOPE_RELAXED_SIMD=off asks to leave relaxed SIMD as the engine has it. */
export function relaxedSimdOptOut(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.GRADSCOPE_RELAXED_SIMD?.trim().toLowerCase() === 'off';
}

/** Turn on relaxed SIMD if this engine has it behind a flag; a no-op where it is already on or opted out. */
export function enableRelaxedSimd(): void {
  if (probe()) state = 'native';
  else if (relaxedSimdOptOut()) state = 'off';
  else {
    setFlagsFromString(RELAXED_SIMD_FLAG);
    state = probe() ? 'flag' : 'unavailable';
  }
}

/** This process's relaxed SIMD (see RelaxedSimdState); without enableRelaxedSimd, what the engine has. */
export function relaxedSimdState(): RelaxedSimdState {
  return state ?? (probe() ? 'native' : 'unavailable');
}
