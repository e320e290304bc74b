/**
 * Scratch: tune the GEMM's cache blocking (KC, MC, NC) by timing a few shapes under each
 * setting, interleaved round-robin and keeping each one's best time (this machine's timings are
 * noisy; interference only adds time). Build first, then:
 *   node bench/micro/gemm-tune.mjs "256,128,1020" "128,128,1020" ...
 */
import { blocking, gemm } from '../../dist/kernels/cpu/gemm.js';

function randomArray(n) {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.random() - 0.5;
  return a;
}

const shapes = [
  ['1024^3', 1024, 1024, 1024, 'nn'],
  ['[128,784]@[784,256]', 128, 784, 256, 'nn'],
  ['[784,128]t@[128,256]', 784, 128, 256, 'tn'],
  ['[128,256]@[784,256]t', 128, 256, 784, 'nt'],
  ['[64,784]@[784,256]', 64, 784, 256, 'nn'],
  ['[4,784]@[784,256]', 4, 784, 256, 'nn'],
  ['[16,784]@[784,256]', 16, 784, 256, 'nn'],
  ['[6,25]@[25,576]', 6, 25, 576, 'nn'],
  ['[16,150]@[150,64]', 16, 150, 64, 'nn'],
  ['[6,576]@[576,25]t', 6, 576, 25, 'nt'],
  ['[150,16]t@[16,64]', 150, 16, 64, 'tn'],
];
const settings = process.argv.slice(2).map((s) => s.split(',').map(Number));
const cases = shapes.map(([name, M, K, N, layout]) => {
  const a = randomArray(M * K);
  const b = randomArray(K * N);
  const am = layout[0] === 't' ? { data: a, offset: 0, rowStride: 1, colStride: M } : { data: a, offset: 0, rowStride: K, colStride: 1 };
  const bm = layout[1] === 't' ? { data: b, offset: 0, rowStride: 1, colStride: K } : { data: b, offset: 0, rowStride: N, colStride: 1 };
  const c = new Float64Array(M * N);
  return { name, flops: 2 * M * N * K, run: () => gemm(M, N, K, am, bm, c, 0, N, 1, false) };
});
const best = settings.map(() => cases.map(() => Infinity));
for (let round = 0; round < 8; round++) {
  settings.forEach(([kc, mc, nc], si) => {
    Object.assign(blocking, { kc, mc, nc });
    cases.forEach((cs, ci) => {
      const reps = cs.flops > 1e9 ? 1 : Math.ceil(1e7 / cs.flops);
      for (let r = 0; r < reps; r++) {
        const t0 = performance.now();
        cs.run();
        best[si][ci] = Math.min(best[si][ci], performance.now() - t0);
      }
    });
  });
}
console.log('KC,MC,NC'.padEnd(16) + cases.map((c) => c.name.padStart(c.name.length + 2)).join(''));
settings.forEach((s, si) => console.log(s.join(',').padEnd(16) + cases.map((c, ci) => (c.flops / best[si][ci] / 1e6).toFixed(2).padStart(c.name.length + 2)).join('')));
