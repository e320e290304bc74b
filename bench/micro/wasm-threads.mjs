/**
 * Scratch: what two threads buy on the wasm backend, and where (issue #17). Run after
 * `npm run build`, with `node --experimental-wasm-relaxed-simd` on Node 20 to match the bench.
 *
 *   node bench/micro/wasm-threads.mjs handoff      hand-off latency: a worker asleep in Atomics.wait vs polling
 *   node bench/micro/wasm-threads.mjs products     the model rows' products, 1 vs 2 threads
 *   node bench/micro/wasm-threads.mjs threshold    products around the split threshold, with splitting forced on
 *   node bench/micro/wasm-threads.mjs convolutions LeNet-5's convolutions at batch 128 (forward, ∂w, ∂x), 1 vs 2 threads
 *   node bench/micro/wasm-threads.mjs models       grad-mlp, grad-lenet, a LeNet-5 BatchNorm training step
 *   node bench/micro/wasm-threads.mjs per-sample   per-sample MLP gradients / a gradient at B = 128, 512, 1024
 *   node bench/micro/wasm-threads.mjs gaps [s]     how often a thread that only spins loses the CPU (main and one worker, s seconds)
 *
 * Every comparison interleaves its variants run by run and reports medians and minimums: the
 * two vCPUs are shared with other processes, and a busy neighbour slows the two-thread runs most.
 */
import { Worker } from 'node:worker_threads';
import { conv2d, crossEntropy, getBackend, gradients, lenet5, matmul, mlp, perSampleGrads, PerSampleWorkspace, randn, setWasmThreads } from '../../dist/index.js';
import { splitting } from '../../dist/kernels/wasm/threads.js';
import { contiguousStrides } from '../../dist/tensor/shape.js';

let gapMs = 0;
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
const min = (a) => Math.min(...a);
const fmt = (ms) => (ms < 1 ? `${(ms * 1000).toFixed(0)} µs` : `${ms.toFixed(2)} ms`);

/** Time each variant `reps` times, interleaved; `setup(v)` switches to variant v (awaited). */
async function compare(variants, setup, fn, reps) {
  const times = variants.map(() => []);
  for (let r = 0; r < reps; r++) {
    for (let v = 0; v < variants.length; v++) {
      await setup(variants[v]);
      fn();
      const t0 = performance.now();
      fn();
      times[v].push(performance.now() - t0);
    }
  }
  return times;
}

function report(name, variants, times) {
  const cells = variants.map((v, i) => `${v}: ${fmt(median(times[i]))} (min ${fmt(min(times[i]))})`);
  const ratio = times.length === 2 ? `  1/2 median ${(median(times[0]) / median(times[1])).toFixed(2)}×, min ${(min(times[0]) / min(times[1])).toFixed(2)}×` : '';
  console.log(`${name.padEnd(22)} ${cells.join('  ')}${ratio}`);
}

async function handoff() {
  // A bare round trip through a shared Int32Array: post, the worker answers, wait for it.
  const ctl = new Int32Array(new SharedArrayBuffer(8));
  const source = `
    const { workerData } = require('node:worker_threads');
    const ctl = new Int32Array(workerData.buffer);
    for (;;) {
      const s = Atomics.load(ctl, 0);
      if (s === 9) break;
      if (s !== 1) {
        if (workerData.poll) { const t = Date.now(); while (Atomics.load(ctl, 0) === s && Date.now() - t < 2); if (Atomics.load(ctl, 0) !== s) continue; }
        Atomics.wait(ctl, 0, s);
        continue;
      }
      Atomics.store(ctl, 0, 2);
    }`;
  for (const poll of [false, true]) {
    for (const gapMs of [0, 0.2, 1]) {
      ctl[0] = 0;
      const worker = new Worker(source, { eval: true, workerData: { buffer: ctl.buffer, poll } });
      await new Promise((resolve) => setTimeout(resolve, 100));
      const latency = [];
      for (let i = 0; i < 300; i++) {
        for (const t = performance.now(); performance.now() - t < gapMs; );
        const t0 = performance.now();
        Atomics.store(ctl, 0, 1);
        Atomics.notify(ctl, 0);
        while (Atomics.load(ctl, 0) !== 2);
        latency.push((performance.now() - t0) * 1000);
        Atomics.store(ctl, 0, 0);
      }
      Atomics.store(ctl, 0, 9);
      Atomics.notify(ctl, 0);
      await worker.terminate();
      const sorted = latency.sort((x, y) => x - y);
      console.log(`worker ${poll ? 'polling ' : 'asleep  '} gap ${gapMs} ms: median ${sorted[150].toFixed(1)} µs, p90 ${sorted[270].toFixed(1)} µs`);
    }
  }
}

async function products(shapes, reps, label = (s) => s.join('x')) {
  for (const [M, K, N] of shapes) {
    const a = randn([M, K], { seed: 1 });
    const b = randn([K, N], { seed: 2 });
    const inner = gapMs > 0 ? 10 : Math.max(1, Math.round(2e7 / (M * N * K)));
    const run = () => {
      for (let i = 0; i < inner; i++) {
        // Other work between products (the worker falls asleep), not timed.
        if (gapMs > 0) for (const t = performance.now(); performance.now() - t < gapMs; );
        matmul(a, b);
      }
    };
    const times = await compare([1, 2], (t) => setWasmThreads(t), run, reps);
    report(label([M, K, N]), ['1t', '2t'], times.map((ts) => ts.map((t) => t / inner - gapMs)));
  }
  await setWasmThreads(1);
}

/** LeNet-5's two convolutions at batch 128, each kernel call on its own (∂x of the first is never needed). */
async function convolutions(reps) {
  const backend = getBackend();
  const geometry = { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 };
  const view = (t) => ({ data: t.toTypedArray(), shape: t.shape, strides: contiguousStrides(t.shape), offset: 0 });
  for (const [name, xShape, wShape] of [['conv1', [128, 1, 28, 28], [6, 1, 5, 5]], ['conv2', [128, 6, 12, 12], [16, 6, 5, 5]]]) {
    const x = randn(xShape, { seed: 1 });
    const w = randn(wShape, { seed: 2 });
    const gy = randn(conv2d(x, w).shape, { seed: 3 });
    const [xv, wv, gyv] = [x, w, gy].map(view);
    const calls = {
      forward: () => backend.conv2d(xv, wv, geometry, 'float32'),
      '∂w': () => backend.conv2dBackwardWeight(xv, gyv, wShape, geometry, 'float32'),
      ...(name === 'conv2' && { '∂x': () => backend.conv2dBackwardInput(gyv, wv, xShape, geometry, 'float32') }),
    };
    for (const [what, fn] of Object.entries(calls)) report(`${name} ${what}`, ['1t', '2t'], await compare([1, 2], (t) => setWasmThreads(t), fn, reps));
  }
  await setWasmThreads(1);
}

const targets = (b, c) => Int32Array.from({ length: b }, (_, i) => (i * 7) % c);

function gradOf(model, x, y) {
  const params = model.parameters();
  return () => {
    const loss = crossEntropy(model.forward(x), y);
    const grads = gradients([loss], params);
    loss.toTypedArray();
    grads.forEach((g) => g.toTypedArray());
  };
}

async function models(reps) {
  const rows = {
    'grad-mlp': gradOf(mlp([784, 256, 256, 10], { seed: 0, activation: 'relu' }).eval(), randn([128, 784], { seed: 1 }), targets(128, 10)),
    'grad-lenet': gradOf(lenet5({ seed: 0 }).eval(), randn([128, 1, 28, 28], { seed: 1 }), targets(128, 10)),
    'train-lenet-bn': gradOf(lenet5({ seed: 0 }).train(), randn([128, 1, 28, 28], { seed: 1 }), targets(128, 10)),
  };
  for (const [name, fn] of Object.entries(rows)) report(name, ['1t', '2t'], await compare([1, 2], (t) => setWasmThreads(t), fn, reps));
  await setWasmThreads(1);
}

async function perSample(reps) {
  for (const B of [128, 512, 1024]) {
    const model = mlp([784, 256, 256, 10], { seed: 0, activation: 'relu' }).eval();
    const x = randn([B, 784], { seed: 1 });
    const y = targets(B, 10);
    const workspace = new PerSampleWorkspace();
    const grad = gradOf(model, x, y);
    const ps = () => {
      const r = perSampleGrads(model, { x, targets: y }, { workspace });
      r.losses.toTypedArray();
    };
    const times = [[], []];
    for (let r = 0; r < reps; r++) {
      for (const [i, fn] of [grad, ps].entries()) {
        fn();
        const t0 = performance.now();
        fn();
        times[i].push(performance.now() - t0);
      }
    }
    report(`B = ${B}`, ['grad', 'per-sample'], times);
    console.log(`${''.padEnd(22)} per-sample / grad: median ${(median(times[1]) / median(times[0])).toFixed(2)}×, min ${(min(times[1]) / min(times[0])).toFixed(2)}×`);
  }
}

/** The gaps of more than 0.2 ms between two looks at the clock in `ms` of spinning (self-contained: the worker runs its source). */
function spinGaps(ms) {
  const gaps = [];
  let last = performance.now();
  for (const end = last + ms; last < end; ) {
    const t = performance.now();
    if (t - last > 0.2) gaps.push(t - last);
    last = t;
  }
  return gaps;
}

/**
 * What the machine takes from threads that never yield: the main thread and one worker spin
 * for `seconds` each (spinGaps), the CPU given to something else in between. threads.ts's
 * contention rule takes one such gap (PREEMPTED_MS) for a busy machine.
 */
async function gaps(seconds) {
  const describe = (gaps) => {
    const lost = gaps.reduce((a, b) => a + b, 0);
    return `${gaps.length} gaps > 0.2 ms (${(gaps.length / seconds).toFixed(1)} a second), ${lost.toFixed(1)} ms lost in all (${(lost / (seconds * 10)).toFixed(2)} %), longest ${Math.max(0, ...gaps).toFixed(2)} ms`;
  };
  const worker = new Worker(`require('node:worker_threads').parentPort.postMessage((${spinGaps})(${seconds * 1000}))`, { eval: true });
  const fromWorker = new Promise((resolve) => worker.once('message', resolve));
  await new Promise((resolve) => worker.once('online', resolve));
  console.log(`main:   ${describe(spinGaps(seconds * 1000))}`);
  console.log(`worker: ${describe(await fromWorker)}`);
}

const what = process.argv[2] ?? 'products';
const reps = Number(process.argv[3] ?? 15);
if (what === 'handoff') await handoff();
if (what === 'products') await products([[128, 784, 256], [256, 128, 784], [128, 256, 256], [256, 128, 256], [1024, 1024, 1024]], reps);
if (what === 'threshold' || what === 'threshold-asleep') {
  // Forced on, to see where a split stops paying: the defaults are the crossovers, with the
  // worker polling (products back to back) and asleep (3 ms of other work between products).
  console.log(`defaults: minMacsPerThread ${splitting.minMacsPerThread}, minMacsPerThreadAsleep ${splitting.minMacsPerThreadAsleep}; both forced to 1 here`);
  splitting.minMacsPerThread = 1;
  splitting.minMacsPerThreadAsleep = 1;
  gapMs = what === 'threshold' ? 0 : 3;
  await products([[48, 48, 48], [64, 64, 64], [96, 96, 96], [128, 128, 128], [128, 84, 120], [128, 120, 256], [128, 256, 120], [128, 256, 256], [128, 784, 256]], reps, (s) => `${s.join('x')} (${(s[0] * s[1] * s[2] / 2 ** 20).toFixed(2)} Mi MACs)`);
}
if (what === 'convolutions') await convolutions(reps);
if (what === 'models') await models(reps);
if (what === 'per-sample') await perSample(reps);
if (what === 'gaps') await gaps(Number(process.argv[3] ?? 3));
