/**
 * Scratch: where does the wasm backend's float32 matmul start beating the pure-TypeScript
 * one? Times both backends' `matmul` (dispatch, packing and copy-out included) on cubes and
 * the small shapes of the issue, best of many runs. Run after `npm run build`.
 */
import { cpuBackend } from '../../dist/kernels/cpu/index.js';
import { createWasmBackend } from '../../dist/kernels/wasm/index.js';

const wasm = createWasmBackend();

function view(rows, cols) {
  return { data: new Float32Array(rows * cols).map(() => Math.random() - 0.5), shape: [rows, cols], strides: [cols, 1], offset: 0 };
}

function bench(fn, macs) {
  const inner = Math.max(1, Math.floor(2e6 / macs));
  let best = Infinity;
  for (let r = 0; r < 40; r++) {
    const t0 = performance.now();
    for (let i = 0; i < inner; i++) fn();
    best = Math.min(best, (performance.now() - t0) / inner);
  }
  return best * 1e3; // µs
}

const shapes = [[8, 8, 8], [10, 10, 10], [12, 12, 12], [13, 13, 13], [16, 16, 16], [24, 24, 24], [32, 32, 32], [37, 53, 29], [64, 64, 64], [128, 784, 10], [128, 256, 256]];
for (const [M, K, N] of shapes) {
  const a = view(M, K);
  const b = view(K, N);
  const t = bench(() => cpuBackend.matmul(a, b, 'float32'), M * N * K);
  const w = bench(() => wasm.matmul(a, b, 'float32'), M * N * K);
  console.log(`${M}x${K}x${N}`.padEnd(12), `MNK=${M * N * K}`.padEnd(12), `cpu ${t.toFixed(2)} µs`.padEnd(18), `wasm ${w.toFixed(2)} µs`.padEnd(18), `wasm/cpu ${(w / t).toFixed(2)}`);
}
