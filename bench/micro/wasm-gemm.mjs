/**
 * Scratch: the wasm GEMM on 1024³ for several register tiles (MR × 4·NV) and cache blocks,
 * plain and with a transposed A; median of 7 runs, packing and copy-out included.
 *   node bench/micro/wasm-gemm.mjs            # the default tile and blocks
 *   node bench/micro/wasm-gemm.mjs tiles      # 4×4, 4×8, 4×12, 6×8, 8×8, K unrolled by 1/2/4
 *   node bench/micro/wasm-gemm.mjs fma        # the same with fused multiply-adds (relaxed SIMD)
 *   node bench/micro/wasm-gemm.mjs blocks     # kc × mcTiles grid for the default tile
 *   node bench/micro/wasm-gemm.mjs phases     # ms in packing, in the module's gemm, in copy-out
 * Run after `npm run build`. Relaxed SIMD is switched on as the gradscope command does.
 */
import { enableRelaxedSimd } from '../../packages/lab/dist/cli/engine-flags.js';
import { WasmRuntime, defaultTile } from '../../dist/kernels/wasm/runtime.js';
import { blocking, copyOutContiguous, multiply, runOnOneThread, stridedMatrix } from '../../dist/kernels/wasm/gemm.js';

enableRelaxedSimd();
const TILE = defaultTile();

const n = 1024;
const A = new Float32Array(n * n).map(() => Math.random() - 0.5);
const B = new Float32Array(n * n).map(() => Math.random() - 0.5);
const out = new Float32Array(n * n);

function gflops(rt, transposeA) {
  const a = transposeA ? stridedMatrix(A, 0, n, n, 1, n) : stridedMatrix(A, 0, n, n, n, 1);
  const b = stridedMatrix(B, 0, n, n, n, 1);
  const times = [];
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now();
    copyOutContiguous(rt, multiply(rt, n, n, n, a, b, runOnOneThread), n, n, out, 0);
    times.push(performance.now() - t0);
  }
  times.sort((x, y) => x - y);
  return (2 * n ** 3) / times[3] / 1e6;
}

const mode = process.argv[2] ?? 'default';
if (mode === 'tiles' || mode === 'fma') {
  // Interleaved rounds, best of each: the machine is shared, so load changes between tiles.
  const fma = mode === 'fma';
  const tiles = [{ mr: 4, nv: 1 }, { mr: 4, nv: 2 }, { mr: 4, nv: 2, unroll: 2 }, { mr: 4, nv: 2, unroll: 4 }, { mr: 2, nv: 4 }, { mr: 3, nv: 3 }, { mr: 4, nv: 3 }, { mr: 6, nv: 2 }, { mr: 6, nv: 2, unroll: 2 }, { mr: 8, nv: 2 }].map((t) => ({ ...t, fma }));
  const runtimes = tiles.map((t) => new WasmRuntime(t));
  const best = tiles.map(() => [0, 0]);
  for (let round = 0; round < 3; round++) {
    runtimes.forEach((rt, i) => {
      best[i][0] = Math.max(best[i][0], gflops(rt, false));
      best[i][1] = Math.max(best[i][1], gflops(rt, true));
    });
  }
  tiles.forEach((t, i) => console.log(`${t.mr}×${4 * t.nv}${t.unroll ? ` unroll ${t.unroll}` : ''}: A·B ${best[i][0].toFixed(1)}  Aᵀ·B ${best[i][1].toFixed(1)} GFLOP/s (best of 3 rounds)`));
} else if (mode === 'blocks') {
  const rt = new WasmRuntime(TILE);
  const grid = [128, 256, 384, 512].flatMap((kc) => [16, 32, 64, 128].map((mcTiles) => ({ kc, mcTiles })));
  const best = grid.map(() => 0);
  for (let round = 0; round < 3; round++) {
    grid.forEach((g, i) => {
      Object.assign(blocking, g);
      best[i] = Math.max(best[i], gflops(rt, false));
    });
  }
  grid.forEach((g, i) => console.log(`kc ${g.kc} mcTiles ${g.mcTiles}: A·B ${best[i].toFixed(1)} GFLOP/s (best of 3 rounds)`));
} else if (mode === 'phases') {
  // Where the time of one product goes, around the micro-kernel: median of 9 runs.
  const rt = new WasmRuntime(TILE);
  let kernel = 0;
  const timed = (r, g) => {
    const t = performance.now();
    runOnOneThread(r, g);
    kernel = performance.now() - t;
  };
  for (const transposeA of [false, true]) {
    const runs = [];
    for (let i = 0; i < 9; i++) {
      const a = transposeA ? stridedMatrix(A, 0, n, n, 1, n) : stridedMatrix(A, 0, n, n, n, 1);
      const b = stridedMatrix(B, 0, n, n, n, 1);
      const t0 = performance.now();
      const p = multiply(rt, n, n, n, a, b, timed);
      const t1 = performance.now();
      copyOutContiguous(rt, p, n, n, out, 0);
      const t2 = performance.now();
      runs.push({ total: t2 - t0, pack: t1 - t0 - kernel, kernel, copyOut: t2 - t1 });
    }
    runs.sort((x, y) => x.total - y.total);
    const r = runs[4];
    console.log(`${transposeA ? 'Aᵀ·B' : 'A·B'}: total ${r.total.toFixed(2)} ms = pack ${r.pack.toFixed(2)} + gemm ${r.kernel.toFixed(2)} + copy-out ${r.copyOut.toFixed(2)}`);
  }
} else {
  const rt = new WasmRuntime(TILE);
  console.log(`${TILE.mr}×${4 * TILE.nv}${TILE.fma ? ' FMA' : ''}, kc ${blocking.kc}, mcTiles ${blocking.mcTiles}: A·B ${gflops(rt, false).toFixed(1)}  Aᵀ·B ${gflops(rt, true).toFixed(1)} GFLOP/s`);
}
