/**
 * The WebAssembly SIMD backend: float32 matmul and convolutions run on a GEMM module that
 * gradscope's own TypeScript emits at run time (emitter.ts, gemm-module.ts) — no external
 * compiler, no prebuilt .wasm file. Everything else delegates to the pure-TypeScript backend:
 *
 * - elementwise ops, reductions, indexing, copies and pooling are memory-bound; a round trip
 *   through WebAssembly memory would only add two copies to them;
 * - float64 stays on the pure-TypeScript backend, whose results are the reference (gradient
 *   checks, the oracle). NOTE: a float64 kernel would pay — an f64x2 micro-kernel emitted the
 *   same way ran at 23 GFLOP/s against 6.2 for the pure-TypeScript float64 GEMM at 512³
 *   (bench/micro/wasm-f64.mjs, kernel time only) — but it is not built yet;
 * - very small products, matrix-vector products and depthwise convolutions stay there too
 *   (packing and copy-out cost more than they save; see matmul.ts and conv.ts).
 *
 * The module is compiled on the first float32 product, not when the backend is created, so
 * selecting the backend costs nothing until it is used. Threads: see threads.ts
 * (`setWasmThreads`, GRADSCOPE_THREADS); one thread by default.
 */
import type { DType } from '../../tensor/dtype.js';
import type { Backend } from '../backend.js';
import { cpuBackend } from '../cpu/index.js';
import { readEnv } from '../gpu/env.js';
import { WasmArena } from './arena.js';
import { wasmConv2d, wasmConv2dBackwardInput, wasmConv2dBackwardWeight, wasmConvApplies } from './conv.js';
import { wasmMatmul, wasmMatmulApplies } from './matmul.js';
import { simdAvailable, wasmRuntime } from './runtime.js';
import { startThreadsFromEnv, threadedRunner } from './threads.js';

export { simdAvailable, wasmRuntime } from './runtime.js';
export { setWasmThreads, wasmThreads, type ThreadOptions } from './threads.js';

export interface WasmBackend extends Backend {
  readonly name: 'wasm';
}

/**
 * Why the wasm backend is not available here, or null if it is: WebAssembly SIMD missing, or
 * switched off with the environment variable GRADSCOPE_WASM=off.
 */
export function wasmUnavailableReason(): string | null {
  if (readEnv('GRADSCOPE_WASM') === 'off') return 'switched off by GRADSCOPE_WASM=off';
  if (!simdAvailable()) return 'this JavaScript engine has no WebAssembly SIMD (WebAssembly.validate rejected a v128 module)';
  return null;
}

export function createWasmBackend(): WasmBackend {
  startThreadsFromEnv(wasmRuntime);
  const cpu = cpuBackend;
  const f32 = (dtype: DType) => dtype === 'float32';
  return {
    // Memory-bound kernels (elementwise, reductions, indexing, pooling, copies): the pure-TypeScript backend's.
    ...cpu,
    name: 'wasm',

    // Per-sample outer products straight into an arena's array (a workspace); elsewhere, as cpu.
    outerRows: (g, a, dtype, into) => {
      const arena = dtype === 'float32' && into ? WasmArena.of(into) : undefined;
      return arena?.outerRows(g, a, into as Float32Array) ? into! : cpu.outerRows(g, a, dtype, into);
    },
    createArena: () => WasmArena.create(),

    // Compute-bound kernels: the GEMM module in float32 (null: not this path's kind of product).
    matmul: (a, b, dtype) => (f32(dtype) && wasmMatmulApplies(a, b) && wasmMatmul(wasmRuntime(), threadedRunner, a, b)) || cpu.matmul(a, b, dtype),
    conv2d: (x, w, g, dtype) =>
      (f32(dtype) && wasmConvApplies(x.shape, w.shape, g) && wasmConv2d(wasmRuntime(), threadedRunner, x, w, g)) || cpu.conv2d(x, w, g, dtype),
    conv2dBackwardInput: (gy, w, inputShape, g, dtype) =>
      (f32(dtype) && wasmConvApplies(inputShape, w.shape, g) && wasmConv2dBackwardInput(wasmRuntime(), threadedRunner, gy, w, inputShape, g)) ||
      cpu.conv2dBackwardInput(gy, w, inputShape, g, dtype),
    conv2dBackwardWeight: (x, gy, weightShape, g, dtype) =>
      (f32(dtype) && wasmConvApplies(x.shape, weightShape, g) && wasmConv2dBackwardWeight(wasmRuntime(), threadedRunner, x, gy, weightShape, g)) ||
      cpu.conv2dBackwardWeight(x, gy, weightShape, g, dtype),
  };
}
