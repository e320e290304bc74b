/**
 * Scratch: the wasm GEMM on 1024³ for several register tiles (MR × 4·NV) and cache blocks,
 * plain and with a transposed A; median of 7 runs, packing and copy-out included.
 *   node bench/micro/wasm-gemm.mjs            # the default tile and blocks
 *   node bench/micro/wasm-gemm.mjs tiles      # 4×4, 4×8, 4×12, 6×8, 8×8, K unrolled by 1/2/4
 *   node bench/micro/wasm-gemm.mjs blocks     # kc × mcTiles grid for the default tile
 * Run after `npm run build`.
 */
import { WasmRuntime, TILE } from '../../dist/kernels/wasm/runtime.js';
import { blocking, copyOutContiguous, multiply, runOnOneThread, stridedMatrix } from '../../dist/kernels/wasm/gemm.js';

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
if (mode === 'tiles') {
  // Interleaved rounds, best of each: the machine is shared, so load changes between tiles.
  const tiles = [{ mr: 4, nv: 1 }, { mr: 4, nv: 2 }, { mr: 4, nv: 2, unroll: 2 }, { mr: 4, nv: 2, unroll: 4 }, { mr: 4, nv: 3 }, { mr: 6, nv: 2 }, { mr: 6, nv: 2, unroll: 2 }, { mr: 8, nv: 2 }];
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
  for (const kc of [128, 256, 512]) {
    for (const mcTiles of [16, 32, 64]) {
      Object.assign(blocking, { kc, mcTiles });
      console.log(`kc ${kc} mcTiles ${mcTiles}: A·B ${gflops(rt, false).toFixed(1)} GFLOP/s`);
    }
  }
} else {
  const rt = new WasmRuntime(TILE);
  console.log(`${TILE.mr}×${4 * TILE.nv}, kc ${blocking.kc}, mcTiles ${blocking.mcTiles}: A·B ${gflops(rt, false).toFixed(1)}  Aᵀ·B ${gflops(rt, true).toFixed(1)} GFLOP/s`);
}
