/**
 * Scratch micro-benchmark of the CPU kernels (not run by the tests). Build first:
 *   npx tsc -p tsconfig.build.json && node bench/micro/kernels.mjs [filter]
 * Times are best-of-N after warm-up (median in parentheses); GFLOP/s counts a multiply-add as
 * 2 flops.
 */
import { cpuBackend as B } from '../../dist/kernels/cpu/index.js';
import * as gs from '../../dist/index.js';

const filter = process.argv[2] ?? '';

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/**
 * Best-of-`reps` ms of fn() after `warm` warm-up runs. The minimum, not the median: this
 * machine's two vCPUs share FP units with other tenants, and interference only ever adds time
 * (the same loop measured 5.5–20 ms in one minute). The median is kept for the report.
 */
function time(fn, { warm = 3, reps = 9 } = {}) {
  for (let i = 0; i < warm; i++) fn();
  const ts = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    ts.push(performance.now() - t0);
  }
  lastMedian = median(ts);
  return Math.min(...ts);
}
let lastMedian = 0;

function randomArray(n, dtype = 'float32') {
  const a = dtype === 'float32' ? new Float32Array(n) : new Float64Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    a[i] = s / 2 ** 32 - 0.5;
  }
  return a;
}

const contiguous = (shape) => {
  const st = new Array(shape.length);
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    st[d] = s;
    s *= shape[d];
  }
  return st;
};
const view = (data, shape, strides = contiguous(shape), offset = 0) => ({ data, shape, strides, offset });
/** A [rows, cols] view of a [cols, rows] contiguous array: a transposed operand. */
const transposed = (data, rows, cols) => view(data, [rows, cols], [1, rows]);

const results = [];
/** ms with three significant digits at least (µs-scale kernels would print as 0.000). */
const fmt = (ms) => (ms >= 0.1 ? ms.toFixed(3) : ms.toPrecision(3));

function report(name, ms, flops, med = lastMedian) {
  const line = flops
    ? `${name.padEnd(44)} ${fmt(ms).padStart(9)} ms  ${(flops / ms / 1e6).toFixed(2).padStart(6)} GFLOP/s   (median ${fmt(med)} ms)`
    : `${name.padEnd(44)} ${fmt(ms).padStart(9)} ms   (median ${fmt(med)} ms)`;
  results.push(line);
  console.log(line);
}

function benchMatmul(name, M, K, N, layout = 'nn', dtype = 'float32', reps = 25) {
  if (!name.includes(filter) && filter) return;
  const a = randomArray(M * K, dtype);
  const b = randomArray(K * N, dtype);
  const av = layout[0] === 't' ? transposed(a, M, K) : view(a, [M, K]);
  const bv = layout[1] === 't' ? transposed(b, K, N) : view(b, [K, N]);
  const inner = Math.max(1, Math.floor(2e6 / (M * K * N)));
  const ms = time(() => { for (let r = 0; r < inner; r++) B.matmul(av, bv, dtype); }, { warm: 2, reps }) / inner;
  lastMedian /= inner;
  report(name, ms, 2 * M * K * N);
}

benchMatmul('matmul f32 1024^3', 1024, 1024, 1024, 'nn', 'float32', 5);
benchMatmul('matmul f64 1024^3', 1024, 1024, 1024, 'nn', 'float64', 5);
benchMatmul('matmul f32 [64,784]@[784,256]', 64, 784, 256);
benchMatmul('matmul f32 [128,784]@[784,256]', 128, 784, 256);
benchMatmul('matmul f32 Xt.G [784,128]t@[128,256]', 784, 128, 256, 'tn');
benchMatmul('matmul f32 G.Wt [128,256]@[784,256]t', 128, 256, 784, 'nt');
benchMatmul('matmul f32 Xt.G [784,64]t@[64,256]', 784, 64, 256, 'tn');
benchMatmul('matmul f32 G.Wt [64,256]@[784,256]t', 64, 256, 784, 'nt');
benchMatmul('matmul f32 tt [256,256]', 256, 256, 256, 'tt');
benchMatmul('matmul f32 [128,256]@[256,256]', 128, 256, 256);
benchMatmul('matmul f32 [128,256]@[256,10]', 128, 256, 10);
benchMatmul('matmul f32 [16,16]@[16,16]', 16, 16, 16);
benchMatmul('matmul f32 [4,4]@[4,4]', 4, 4, 4);

function benchConv(name, N, Cin, H, W, Cout, k, pad = 0, stride = 1, groups = 1, reps = 5) {
  if (!name.includes(filter) && filter) return;
  const g = { stride: [stride, stride], padding: [pad, pad], dilation: [1, 1], groups };
  const x = view(randomArray(N * Cin * H * W), [N, Cin, H, W]);
  const w = view(randomArray(Cout * (Cin / groups) * k * k), [Cout, Cin / groups, k, k]);
  const Ho = Math.floor((H + 2 * pad - k) / stride) + 1;
  const Wo = Math.floor((W + 2 * pad - k) / stride) + 1;
  const gy = view(randomArray(N * Cout * Ho * Wo), [N, Cout, Ho, Wo]);
  const flops = 2 * N * Cout * Ho * Wo * (Cin / groups) * k * k;
  const f = time(() => B.conv2d(x, w, g, 'float32'), { warm: 2, reps });
  report(`${name} fwd`, f, flops);
  let med = lastMedian;
  const bi = time(() => B.conv2dBackwardInput(gy, w, x.shape, g, 'float32'), { warm: 2, reps });
  report(`${name} bwd-input`, bi, flops);
  med += lastMedian;
  const bw = time(() => B.conv2dBackwardWeight(x, gy, w.shape, g, 'float32'), { warm: 2, reps });
  report(`${name} bwd-weight`, bw, flops);
  med += lastMedian;
  report(`${name} total`, f + bi + bw, 3 * flops, med);
}

benchConv('conv-lenet-1 64x1x28x28->6 k5', 64, 1, 28, 28, 6, 5);
benchConv('conv-lenet-2 64x6x12x12->16 k5', 64, 6, 12, 12, 16, 5);
benchConv('conv 32x16x32x32->32 k3 p1', 32, 16, 32, 32, 32, 3, 1);
benchConv('conv depthwise 32x32x32x32 k3 p1 g32', 32, 32, 32, 32, 32, 3, 1, 1, 32);

function benchPool() {
  if (filter && !'pool'.includes(filter)) return;
  const x = view(randomArray(64 * 6 * 24 * 24), [64, 6, 24, 24]);
  const g = { kernel: [2, 2], stride: [2, 2], padding: [0, 0], dilation: [1, 1] };
  report('maxPool2d 64x6x24x24 k2', time(() => B.maxPool2d(x, g, 'float32')));
  report('avgPool2d 64x6x24x24 k2', time(() => B.avgPool2d(x, { ...g, countIncludePad: true }, 'float32')));
  const gy = view(randomArray(64 * 6 * 12 * 12), [64, 6, 12, 12]);
  report('avgPool2dBackward 64x6x24x24 k2', time(() => B.avgPool2dBackward(gy, x.shape, { ...g, countIncludePad: true }, 'float32')));
}
benchPool();

function benchElementwise() {
  if (filter && !'elementwise'.includes(filter)) return;
  const a = view(randomArray(128 * 256), [128, 256]);
  const b = view(randomArray(128 * 256), [128, 256]);
  const bias = view(randomArray(256), [128, 256], [0, 1]);
  report('add [128,256] f32', time(() => B.zip('add', a, b, 'float32'), { reps: 51, warm: 20 }));
  report('add bias [256] over [128,256]', time(() => B.zip('add', a, bias, 'float32'), { reps: 51, warm: 20 }));
  report('relu [128,256]', time(() => B.map('relu', a, 'float32'), { reps: 51, warm: 20 }));
  report('sum axis 0 of [128,256]', time(() => B.reduce('sum', a, [0], 'float32'), { reps: 51, warm: 20 }));
  report('sum axis 1 of [128,256]', time(() => B.reduce('sum', a, [1], 'float32'), { reps: 51, warm: 20 }));
  const s = view(randomArray(10), [10]);
  const t = view(randomArray(10), [10]);
  report('add [10] (per-call overhead)', time(() => { for (let i = 0; i < 1000; i++) B.zip('add', s, t, 'float32'); }, { reps: 21, warm: 5 }) / 1000, 0, lastMedian / 1000);
}
benchElementwise();

function benchTraining() {
  if (filter && !'training'.includes(filter)) return;
  const batch = 128;
  const x = gs.randn([batch, 784], { seed: 1 });
  const y = new Int32Array(batch).map((_, i) => i % 10);
  const params = [
    gs.randn([784, 256], { seed: 2, std: 0.05 }), gs.randn([256], { seed: 3, std: 0.05 }),
    gs.randn([256, 256], { seed: 4, std: 0.05 }), gs.randn([256], { seed: 5, std: 0.05 }),
    gs.randn([256, 10], { seed: 6, std: 0.05 }), gs.randn([10], { seed: 7, std: 0.05 }),
  ];
  const mlp = (w1, b1, w2, b2, w3, b3) =>
    gs.crossEntropy(x.matmul(w1).add(b1).relu().matmul(w2).add(b2).relu().matmul(w3).add(b3), y);
  const stepMlp = gs.valueAndGrad(mlp, { argnums: [0, 1, 2, 3, 4, 5] });
  report('MLP 784-256-256-10 step b128', time(() => { const [v, gr] = stepMlp(...params); v.item(); gr.forEach((g) => g.toTypedArray()); }, { warm: 3, reps: 11 }));

  const img = gs.randn([batch, 1, 28, 28], { seed: 8 });
  const lp = [
    gs.randn([6, 1, 5, 5], { seed: 9, std: 0.2 }), gs.randn([6, 1, 1], { seed: 10, std: 0.1 }),
    gs.randn([16, 6, 5, 5], { seed: 11, std: 0.1 }), gs.randn([16, 1, 1], { seed: 12, std: 0.1 }),
    gs.randn([256, 120], { seed: 13, std: 0.05 }), gs.randn([120], { seed: 14, std: 0.05 }),
    gs.randn([120, 84], { seed: 15, std: 0.05 }), gs.randn([84], { seed: 16, std: 0.05 }),
    gs.randn([84, 10], { seed: 17, std: 0.05 }), gs.randn([10], { seed: 18, std: 0.05 }),
  ];
  const lenet = (c1, cb1, c2, cb2, f1, fb1, f2, fb2, f3, fb3) => {
    let h = gs.maxPool2d(gs.conv2d(img, c1).add(cb1).relu(), 2).values;
    h = gs.maxPool2d(gs.conv2d(h, c2).add(cb2).relu(), 2).values;
    h = h.reshape([batch, 256]);
    h = h.matmul(f1).add(fb1).relu().matmul(f2).add(fb2).relu().matmul(f3).add(fb3);
    return gs.crossEntropy(h, y);
  };
  const stepLenet = gs.valueAndGrad(lenet, { argnums: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] });
  report('LeNet-5 step b128', time(() => { const [v, gr] = stepLenet(...lp); v.item(); gr.forEach((g) => g.toTypedArray()); }, { warm: 2, reps: 7 }));
}
benchTraining();
