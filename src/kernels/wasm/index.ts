/**
 * The WebAssembly SIMD backend: matmul and convolutions, in float32 and float64, run on GEMM
 * modules that gradscope's own TypeScript emits at run time (emitter.ts, gemm-module.ts) — no
 * external compiler, no prebuilt .wasm file — and per-sample outer products on a module of
 * their own (outer-module.ts) that writes straight into workspace memory (arena.ts).
 * The float32 passes of a training step between the products run here too, each on copies
 * staged into the runtime's memory (V8's loops over a Float32Array cost ≈ 1 ns a number, a
 * staging copy ≈ 0.1–0.2): a ± b, a · b, a / b, relu and its backward (elementwise.ts),
 * BatchNorm in train mode on [N, C, S…] (batch-norm.ts), bias-gradient sums (sums.ts), 2×2
 * stride-2 max pooling (bound by branch mispredictions in JavaScript) and max pooling's
 * backward scatter (pool.ts), and the optimizer's in-place update p ← p + α·g (axpy.ts).
 * Everything else delegates to the pure-TypeScript backend: other elementwise functions,
 * float64 passes, views that cannot be staged by copies and fills (permuted, sliced along an
 * inner axis), tensors below a few thousand numbers (where the JavaScript loop beats staging),
 * very small products, matrix-vector products and depthwise convolutions (packing and
 * copy-out cost more than they save; see matmul.ts and conv.ts).
 *
 * float64 has its own module (f64x2, 4×4 tile): 21–26 GFLOP/s against 6.1–6.6 for the
 * pure-TypeScript float64 GEMM from 256³ up, so that a float64 gradient of a 784-256-256-10
 * MLP takes 7.8 ms instead of 25.8 and one of LeNet-5 19.1 instead of 31.6
 * (bench/micro/wasm-f64.mjs). Its sums run in a different order than the
 * pure-TypeScript kernels', so float64 results agree with the `cpu` backend to rounding
 * (≈ 1e-13 relative at K = 1024), not bit for bit; GRADSCOPE_BACKEND=cpu gives those.
 *
 * A module is compiled on the first product of its type, not when the backend is created, so
 * selecting the backend costs nothing until it is used. Threads: see threads.ts
 * (`setWasmThreads`, GRADSCOPE_THREADS; Node, or a browser Worker of a cross-origin-isolated
 * page); one thread by default, and float32 products only.
 */
import { isFloat, type DType } from '../../tensor/dtype.js';
import { sizeOf } from '../../tensor/shape.js';
import type { Backend } from '../backend.js';
import type { View } from '../../tensor/storage.js';
import { cpuBackend } from '../cpu/index.js';
import { readEnv } from '../gpu/env.js';
import { WasmArena } from './arena.js';
import { wasmAddScaledInPlace, wasmAxpyApplies } from './axpy.js';
import {
  wasmBatchNormBackward,
  wasmBatchNormDims,
  wasmBatchNormForward,
  wasmChannelAffine,
  wasmChannelAffineBackward,
  wasmChannelSums,
  type ChannelDims,
} from './batch-norm.js';
import { wasmElementwiseApplies, wasmMap, wasmZip } from './elementwise.js';
import { wasmConv2d, wasmConv2dBackwardInput, wasmConv2dBackwardWeight, wasmConvApplies } from './conv.js';
import { directConv2d, directConv2dBackwardWeight, directConvApplies } from './direct-conv.js';
import { convDims } from '../geometry.js';
import { productRunner } from './gemm.js';
import { wasmMatmul, wasmMatmulApplies } from './matmul.js';
import { wasmMaxPool2d, wasmMaxPool2dBackward, wasmMaxPoolApplies, wasmMaxPoolBackwardApplies } from './pool.js';
import { sumLayout, wasmSum } from './sums.js';
import { memoryUnavailableReason, simdAvailable, tryWasmRuntime, type WasmRuntime } from './runtime.js';

export { setMemoryAllocator, simdAvailable, wasmMemoryProblem, wasmRuntime, type MemoryAllocator } from './runtime.js';
export { requestedWasmThreads, setWasmThreads, wasmThreads, type ThreadOptions } from './threads.js';

/** The WebAssembly SIMD backend (see the file comment). */
export interface WasmBackend extends Backend {
  /** Always 'wasm'. */
  readonly name: 'wasm';
}

/**
 * Why the wasm backend is not available here, or null if it is: WebAssembly SIMD missing,
 * switched off with the environment variable GRADSCOPE_WASM=off, or no WebAssembly memory to
 * be had (an address-space limit such as `ulimit -v`; the memory this check creates is kept
 * for the first product).
 */
export function wasmUnavailableReason(): string | null {
  if (readEnv('GRADSCOPE_WASM') === 'off') return 'switched off by GRADSCOPE_WASM=off';
  if (!simdAvailable()) return 'this JavaScript engine has no WebAssembly SIMD (WebAssembly.validate rejected a v128 module)';
  return memoryUnavailableReason();
}

/** `kernel` on the rows of x [N, C, S…] where BatchNorm's kernels take it (wasmBatchNormDims), else null (cpu then). */
function onChannelRows<T>(x: View, dtype: DType, kernel: (rt: WasmRuntime, dims: ChannelDims) => T | null): T | null {
  const dims = wasmBatchNormDims(x, dtype);
  const rt = dims ? tryWasmRuntime('float32') : null;
  return rt && dims ? kernel(rt, dims) : null;
}

/**
 * The 'wasm' backend: the cpu backend's kernels with matmul, the convolutions and outerRows
 * replaced by the WebAssembly ones, each falling back to cpu per call. Call it only where
 * wasmUnavailableReason() is null. (GRADSCOPE_THREADS starts its threads when the package is
 * imported: threads-env.ts.)
 */
export function createWasmBackend(): WasmBackend {
  const cpu = cpuBackend;
  return {
    // Every kernel not replaced below (indexing, copies, other elementwise functions and
    // reductions, float64 passes): the pure-TypeScript backend's.
    ...cpu,
    name: 'wasm',

    // Per-sample outer products straight into an arena's array (a workspace); elsewhere, as cpu.
    outerRows: (g, a, dtype, into) => {
      const arena = dtype === 'float32' && into ? WasmArena.of(into) : undefined;
      return arena?.outerRows(g, a, into as Float32Array) ? into! : cpu.outerRows(g, a, dtype, into);
    },
    createArena: () => WasmArena.create(),

    // The float32 elementwise ops of a training step (a ± b, a · b, a / b, relu and its
    // backward) as f32x4 on staged copies from WASM_ELEMENTWISE_MIN numbers up (elementwise.ts;
    // the cpu loop's results to the bit); other functions, dtypes, sizes and layouts on cpu.
    zip: (fn, a, b, dtype, into) => {
      const n = sizeOf(a.shape);
      const rt = wasmElementwiseApplies(fn, n, dtype) && (!into || into instanceof Float32Array) ? tryWasmRuntime('float32') : null;
      return (rt && wasmZip(rt, fn, a, b, n, into as Float32Array | undefined)) || cpu.zip(fn, a, b, dtype, into);
    },
    map: (fn, x, dtype, p, q) => {
      const n = sizeOf(x.shape);
      const rt = wasmElementwiseApplies(fn, n, dtype) ? tryWasmRuntime('float32') : null;
      return (rt && wasmMap(rt, fn, x, n)) || cpu.map(fn, x, dtype, p, q);
    },

    // The optimizer's p ← p + α·g: f32x4 on the float32 runtime from WASM_AXPY_MIN_ELEMENTS
    // numbers up (axpy.ts, same rounding as the cpu loop); float64 and small tensors on cpu.
    addScaledInPlace: (dst, dstOffset, src, srcOffset, n, alpha) => {
      const rt = wasmAxpyApplies(dst, src, n) ? tryWasmRuntime('float32') : null;
      if (!(rt && wasmAddScaledInPlace(rt, dst as Float32Array, dstOffset, src as Float32Array, srcOffset, n, alpha))) cpu.addScaledInPlace(dst, dstOffset, src, srcOffset, n, alpha);
    },

    // Compute-bound kernels: the GEMM module of the operands' type. Null anywhere on the way
    // (not this path's kind of product; no memory for its runtime, or the product does not fit
    // or the memory cannot grow — see runtime.ts) runs the call on the pure-TypeScript kernel.
    matmul: (a, b, dtype) => {
      const rt = isFloat(dtype) && wasmMatmulApplies(a, b) ? tryWasmRuntime(dtype) : null;
      return (rt && wasmMatmul(rt, productRunner(), a, b)) || cpu.matmul(a, b, dtype);
    },
    // Few taps at stride 1 (LeNet's first layer): direct, without packing (direct-conv.ts).
    conv2d: (x, w, g, dtype) => {
      const rt = isFloat(dtype) && wasmConvApplies(x.shape, w.shape, g) ? tryWasmRuntime(dtype) : null;
      const d = convDims(x.shape, w.shape, g);
      const run = productRunner();
      return (rt && (directConvApplies(rt, d, false) ? (run.directConv?.(rt, x, w, d, false) ?? directConv2d(rt, x, w, d)) : wasmConv2d(rt, run, x, w, g))) || cpu.conv2d(x, w, g, dtype);
    },
    conv2dBackwardInput: (gy, w, inputShape, g, dtype) => {
      const rt = isFloat(dtype) && wasmConvApplies(inputShape, w.shape, g) ? tryWasmRuntime(dtype) : null;
      const run = productRunner();
      return (rt && (run.inputGradient?.(rt, gy, w, inputShape, g) ?? wasmConv2dBackwardInput(rt, run, gy, w, inputShape, g))) || cpu.conv2dBackwardInput(gy, w, inputShape, g, dtype);
    },
    conv2dBackwardWeight: (x, gy, weightShape, g, dtype) => {
      const rt = isFloat(dtype) && wasmConvApplies(x.shape, weightShape, g) ? tryWasmRuntime(dtype) : null;
      const d = convDims(x.shape, weightShape, g);
      const run = productRunner();
      return (rt && (directConvApplies(rt, d, true) ? (run.directConv?.(rt, x, gy, d, true) ?? directConv2dBackwardWeight(rt, x, gy, d)) : wasmConv2dBackwardWeight(rt, run, x, gy, weightShape, g))) || cpu.conv2dBackwardWeight(x, gy, weightShape, g, dtype);
    },
    // BatchNorm, train and eval mode, on contiguous float32 [N, C, S…] with whole vectors of S
    // (after a convolution): f64x2 passes on staged copies (batch-norm.ts); anything else on cpu.
    batchNormForward: (x, weight, bias, eps, dtype) =>
      onChannelRows(x, dtype, (rt, dims) => wasmBatchNormForward(rt, x, weight, bias, eps, dims)) ?? cpu.batchNormForward(x, weight, bias, eps, dtype),
    batchNormBackward: (x, gy, weight, eps, dtype) =>
      onChannelRows(x, dtype, (rt, dims) => wasmBatchNormBackward(rt, x, gy, weight, eps, dims)) ?? cpu.batchNormBackward(x, gy, weight, eps, dtype),
    channelAffine: (x, scale, shift, dtype) =>
      onChannelRows(x, dtype, (rt, dims) => wasmChannelAffine(rt, x, scale, shift, dims)) ?? cpu.channelAffine(x, scale, shift, dtype),
    channelSums: (g, x, dtype) => onChannelRows(x, dtype, (rt, dims) => wasmChannelSums(rt, g, x, dims)) ?? cpu.channelSums(g, x, dtype),
    channelAffineBackward: (g, x, scale, dtype) =>
      onChannelRows(x, dtype, (rt, dims) => wasmChannelAffineBackward(rt, g, x, scale, dims)) ?? cpu.channelAffineBackward(g, x, scale, dtype),
    // Bias gradients: float32 sums over the batch (and positions) on staged copies (sums.ts).
    reduce: (fn, x, axes, dtype) => {
      const dims = fn === 'sum' ? sumLayout(x, axes, dtype) : null;
      const rt = dims ? tryWasmRuntime('float32') : null;
      return (rt && dims && wasmSum(rt, x, dims)) || cpu.reduce(fn, x, axes, dtype);
    },
    maxPool2dBackward: (gy, indices, inputShape, g, dtype) => {
      const rt = wasmMaxPoolBackwardApplies(gy, indices, dtype) ? tryWasmRuntime('float32') : null;
      return (rt && wasmMaxPool2dBackward(rt, gy, indices, inputShape)) || cpu.maxPool2dBackward(gy, indices, inputShape, g, dtype);
    },
    // 2×2 stride-2 max pooling without branches on the convolution module (pool.ts); any
    // other window on the cpu kernel.
    maxPool2d: (x, g, dtype) => {
      const rt = isFloat(dtype) && wasmMaxPoolApplies(x.shape, g) ? tryWasmRuntime(dtype) : null;
      return (rt && wasmMaxPool2d(rt, x, g)) || cpu.maxPool2d(x, g, dtype);
    },
  };
}
