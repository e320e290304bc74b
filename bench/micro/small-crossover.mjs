/**
 * Scratch: where does the plain dot-product loop stop beating the packed GEMM? Times both on
 * cubes and skinny shapes (float32 in, float64 out), best of many runs.
 */
import { gemm } from '../../dist/kernels/cpu/gemm.js';

function smallProduct(M, N, K, a, b, c, co) {
  const ad = a.data, bd = b.data;
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let s = 0;
      let ia = a.offset + i * a.rowStride;
      let ib = b.offset + j * b.colStride;
      for (let p = 0; p < K; p++, ia += a.colStride, ib += b.rowStride) s += ad[ia] * bd[ib];
      c[co + i * N + j] = s;
    }
}

function bench(fn, flops) {
  const inner = Math.max(1, Math.floor(4e5 / flops));
  let best = Infinity;
  for (let r = 0; r < 30; r++) {
    const t0 = performance.now();
    for (let i = 0; i < inner; i++) fn();
    best = Math.min(best, (performance.now() - t0) / inner);
  }
  return best * 1e3; // µs
}

const shapes = [[1, 784, 256], [256, 784, 1], [1, 64, 64], [64, 64, 1], [2, 784, 256], [1, 1000, 1000], [1000, 1000, 1], [5, 5, 5], [6, 6, 6], [7, 7, 7]];
for (const [M, K, N] of shapes) {
  const a = { data: new Float32Array(M * K).map(Math.random), offset: 0, rowStride: K, colStride: 1 };
  const b = { data: new Float32Array(K * N).map(Math.random), offset: 0, rowStride: N, colStride: 1 };
  const c = new Float64Array(M * N);
  const s = bench(() => smallProduct(M, N, K, a, b, c, 0), M * N * K);
  const g = bench(() => gemm(M, N, K, a, b, c, 0, N, 1, false), M * N * K);
  console.log(`${M}x${K}x${N}`.padEnd(12), `MNK=${M * N * K}`.padEnd(10), `loop ${s.toFixed(2)} µs`.padEnd(16), `gemm ${g.toFixed(2)} µs`);
}
