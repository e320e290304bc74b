/**
 * The direct convolutions (src/kernels/wasm/direct-conv.ts) against the GEMM ones (conv.ts),
 * whole backend calls on the wasm backend, float32, one thread (issue #17): for each shape,
 * the forward and the weight gradient by each path, alternating over rounds; prints the
 * median ms of each and the ratio GEMM / direct (> 1: direct is faster). `direct` chooses
 * which path the backend takes, so it is switched for each measurement.
 *
 *   node --experimental-wasm-relaxed-simd bench/micro/direct-conv.mjs [rounds]
 *
 * Run after `npm run build`.
 */
import * as gs from '../../dist/index.js';
import { direct, directConvApplies } from '../../dist/kernels/wasm/direct-conv.js';
import { convDims } from '../../dist/kernels/geometry.js';
import { wasmRuntime } from '../../dist/kernels/wasm/runtime.js';

const rounds = Number(process.argv[2] ?? 5);
gs.setBackend('wasm');
const backend = gs.getBackend();
const CALLS = 20;

// [N, Cin, H, W], [Cout, Cin, K, K] and the padding: LeNet-5's two layers (none), then wider
// 'same' 3×3 layers (padding 1, so that the output rows are whole vectors).
const SHAPES = [
  [[128, 1, 28, 28], [6, 1, 5, 5], 0],
  [[128, 6, 12, 12], [16, 6, 5, 5], 0],
  [[128, 1, 28, 28], [32, 1, 3, 3], 1],
  [[64, 3, 32, 32], [16, 3, 3, 3], 1],
  [[64, 16, 16, 16], [32, 16, 3, 3], 1],
  [[64, 32, 8, 8], [64, 32, 3, 3], 1],
];

const view = (shape) => {
  const size = shape.reduce((a, b) => a * b, 1);
  const [, c, h, w] = shape;
  return { data: Float32Array.from({ length: size }, () => Math.random() - 0.5), shape, strides: [c * h * w, h * w, w, 1], offset: 0 };
};
const median = (xs) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];
const PATHS = { gemm: { maxTaps: 0, maxChannels: 0 }, direct: { maxTaps: Infinity, maxChannels: Infinity } };
const saved = { ...direct };

for (const [xShape, wShape, pad] of SHAPES) {
  const geometry = { stride: [1, 1], padding: [pad, pad], dilation: [1, 1], groups: 1 };
  const [N, , H, W] = xShape;
  const [Cout, , K] = wShape;
  const [x, w, gy] = [view(xShape), view(wShape), view([N, Cout, H + 2 * pad - K + 1, W + 2 * pad - K + 1])];
  const calls = {
    forward: () => backend.conv2d(x, w, geometry, 'float32'),
    'weight gradient': () => backend.conv2dBackwardWeight(x, gy, wShape, geometry, 'float32'),
  };
  for (const [what, call] of Object.entries(calls)) {
    const d = convDims(xShape, wShape, geometry);
    const weightGradient = what !== 'forward';
    Object.assign(direct, PATHS.direct);
    const possible = directConvApplies(wasmRuntime('float32'), d, weightGradient);
    Object.assign(direct, saved);
    if (!possible) {
      console.log(`x [${xShape}] w [${wShape}] padding ${pad} ${what.padEnd(15)} (rows of ${d.Wo} are not whole vectors: GEMM only)`);
      continue;
    }
    const times = { gemm: [], direct: [] };
    for (let round = 0; round < rounds; round++) {
      for (const path of round % 2 ? ['direct', 'gemm'] : ['gemm', 'direct']) {
        Object.assign(direct, PATHS[path]);
        for (let i = 0; i < CALLS; i++) call();
        const t0 = performance.now();
        for (let i = 0; i < CALLS; i++) call();
        times[path].push((performance.now() - t0) / CALLS);
      }
    }
    Object.assign(direct, saved);
    const [viaGemm, viaDirect] = [median(times.gemm), median(times.direct)];
    const taken = directConvApplies(wasmRuntime('float32'), d, weightGradient) ? 'direct' : 'GEMM';
    console.log(`x [${xShape}] w [${wShape}] padding ${pad} ${what.padEnd(15)} GEMM ${viaGemm.toFixed(3)} ms, direct ${viaDirect.toFixed(3)} ms: ${(viaGemm / viaDirect).toFixed(2)}× (the backend takes: ${taken})`);
  }
}

