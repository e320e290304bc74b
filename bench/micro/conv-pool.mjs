/**
 * Convolution and pooling outside the GEMM (issue #17): LeNet-5's layers — conv 1→6 5×5 on
 * 28×28 with padding 2, conv 6→16 5×5 on 14×14 (forward and both backward convolutions),
 * 2×2 max pooling on [128, 6, 28, 28] and [128, 16, 10, 10] (forward, and forward + backward
 * through autograd) — on the wasm and cpu backends, float32 and float64, batch 128.
 *
 *   node bench/micro/conv-pool.mjs                      this build (dist/), median ms per call
 *   node bench/micro/conv-pool.mjs OTHER/dist [filter]  before/after: OTHER/dist (an earlier
 *                                                      build) and dist/ in one process, runs
 *                                                      alternating, medians and their ratio
 *
 * Run after `npm run build`; on a shared machine, repeat and compare medians. The flag
 * --experimental-wasm-relaxed-simd (Node 20) gives the FMA micro-kernel, as the gradscope
 * command has it.
 */
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('../../dist', import.meta.url));
const [baseline, filter = ''] = process.argv.slice(2);
const dirs = baseline ? [baseline, here] : [here];
const libs = await Promise.all(dirs.map((d) => import(`${d}/index.js`)));
const REPS = Number(process.env.REPS ?? 21);

const CONVS = [
  ['conv 1→6 5×5 pad 2 on [128,1,28,28]', [128, 1, 28, 28], [6, 1, 5, 5], 2],
  ['conv 6→16 5×5 on [128,6,14,14]', [128, 6, 14, 14], [16, 6, 5, 5], 0],
];
const POOLS = [
  [128, 6, 28, 28],
  [128, 16, 10, 10],
];

const cases = [];
for (const dtype of ['float32', 'float64']) {
  for (const [name, xs, ws, pad] of CONVS) {
    const make = (g) => {
      const b = g.getBackend();
      const x = g.randn(xs, { seed: 1, dtype });
      const w = g.randn(ws, { seed: 2, dtype });
      const geo = { stride: [1, 1], padding: [pad, pad], dilation: [1, 1], groups: 1 };
      const gy = g.randn(g.conv2d(x, w, { padding: pad }).shape, { seed: 3, dtype });
      return {
        forward: () => b.conv2d(x, w, geo, dtype),
        '∂x': () => b.conv2dBackwardInput(gy, w, xs, geo, dtype),
        '∂w': () => b.conv2dBackwardWeight(x, gy, ws, geo, dtype),
      };
    };
    for (const part of ['forward', '∂x', '∂w']) cases.push([`${dtype} ${name} ${part}`, (g) => make(g)[part]]);
  }
  for (const shape of POOLS) {
    const make = (g) => {
      // After a ReLU, as in LeNet-5: half the inputs are 0.
      const x = g.randn(shape, { seed: 1, dtype }).relu().detach().requireGrad();
      const gy = g.randn([shape[0], shape[1], shape[2] / 2, shape[3] / 2], { seed: 2, dtype });
      return {
        forward: () => g.noGrad(() => g.maxPool2d(x, 2).values),
        'forward + backward': () => g.gradients([g.maxPool2d(x, 2).values], [x], { gradOutputs: [gy] })[0],
      };
    };
    for (const part of ['forward', 'forward + backward']) cases.push([`${dtype} maxPool2d 2×2 [${shape}] ${part}`, (g) => make(g)[part]]);
  }
}

const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
for (const [name, make] of cases) {
  if (filter && !name.includes(filter)) continue;
  for (const backend of ['wasm', 'cpu']) {
    const fns = libs.map((g) => {
      g.setBackend(backend);
      return make(g);
    });
    const times = libs.map(() => []);
    const once = (i) => {
      libs[i].setBackend(backend);
      const t = performance.now();
      fns[i]();
      times[i].push(performance.now() - t);
    };
    for (let w = 0; w < 3; w++) libs.forEach((_, i) => once(i));
    times.forEach((t) => (t.length = 0));
    // Alternate which build goes first, so that neither always runs on a warm cache.
    for (let r = 0; r < REPS; r++) (r & 1 ? [...libs.keys()].reverse() : [...libs.keys()]).forEach(once);
    const m = times.map(median);
    const cells = m.length === 2 ? `before ${m[0].toFixed(3)} ms  after ${m[1].toFixed(3)} ms  ×${(m[0] / m[1]).toFixed(2)}` : `${m[0].toFixed(3)} ms`;
    console.log(`${backend.padEnd(4)} ${name.padEnd(58)} ${cells}`);
  }
}
