/**
 * Scratch: the B outer products of a Linear layer's per-sample gradients (B 128, N 256,
 * K 784: 25.7 M numbers, 103 MB) written by the best scalar JavaScript loop, by the
 * pure-TypeScript backend's outerRows (a compiled broadcast zip), and by the WebAssembly module
 * straight into an arena array — and what copying that result out of WebAssembly memory
 * would add. Median of 7 after a warm-up; run after `npm run build`.
 */
import { cpuBackend } from '../../dist/kernels/cpu/index.js';
import { WasmArena } from '../../dist/kernels/wasm/arena.js';

const B = 128, N = 256, K = 784;
const total = B * N * K;
const g = { data: new Float32Array(B * N).map(Math.random), offset: 0, shape: [B, N], strides: [N, 1] };
const a = { data: new Float32Array(B * K).map(Math.random), offset: 0, shape: [B, K], strides: [K, 1] };
const out = new Float32Array(total);

function time(name, f) {
  f();
  const ts = [];
  for (let i = 0; i < 7; i++) {
    const t = performance.now();
    f();
    ts.push(performance.now() - t);
  }
  ts.sort((x, y) => x - y);
  console.log(`${name}: ${ts[3].toFixed(1)} ms, ${((total * 4) / ts[3] / 1e6).toFixed(1)} GB/s written`);
}

time('memset (Float32Array.fill), for scale', () => out.fill(1.5));
time('scalar JavaScript loop', () => {
  let o = 0;
  for (let b = 0; b < B; b++) {
    for (let n = 0; n < N; n++) {
      const h = g.data[b * N + n];
      for (let k = 0, ak = b * K; k < K; k++) out[o++] = h * a.data[ak + k];
    }
  }
});
time('cpu backend outerRows', () => cpuBackend.outerRows(g, a, 'float32', out));
const arena = WasmArena.create();
const into = arena.allocate('float32', total);
time('wasm module into an arena array', () => arena.outerRows(g, a, into));
time('copying that out of WebAssembly memory', () => out.set(into));
