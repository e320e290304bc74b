/**
 * Scratch: the float64 WebAssembly GEMM against the pure-TypeScript one — square products
 * A·Bᵀ (packing and copy-out included) with their largest difference, then one gradient of a
 * float64 MLP (784-256-256-10, batch 128) and of LeNet-5 (batch 64) on each backend, with the
 * share of the step spent in matmul and convolutions. Median of 7 after a warm-up.
 * Run after `npm run build`; relaxed SIMD is switched on as the gradscope command does.
 */
import { enableRelaxedSimd } from '../../packages/lab/dist/cli/engine-flags.js';
import { crossEntropy, gradients, randn, setBackend, getBackend } from '../../dist/index.js';
import { lenet5, mlp } from '../../dist/nn/zoo.js';

enableRelaxedSimd();
const dtype = 'float64';

function median(f, runs = 7) {
  for (let i = 0; i < 3; i++) f();
  const ts = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    f();
    ts.push(performance.now() - t);
  }
  return ts.sort((x, y) => x - y)[runs >> 1];
}

for (const n of [128, 256, 512, 1024]) {
  const a = randn([n, n], { seed: 1, dtype });
  const b = randn([n, n], { seed: 2, dtype });
  const product = () => a.matmul(b.transpose(0, 1));
  const ms = {};
  const values = {};
  for (const backend of ['cpu', 'wasm']) {
    setBackend(backend);
    ms[backend] = median(product);
    values[backend] = product().toTypedArray();
  }
  let diff = 0;
  for (let i = 0; i < values.cpu.length; i++) diff = Math.max(diff, Math.abs(values.cpu[i] - values.wasm[i]) / (1 + Math.abs(values.cpu[i])));
  const gf = (t) => ((2 * n ** 3) / t / 1e6).toFixed(1);
  console.log(`${n}³: cpu ${ms.cpu.toFixed(2)} ms (${gf(ms.cpu)} GFLOP/s), wasm ${ms.wasm.toFixed(2)} ms (${gf(ms.wasm)}), largest relative difference ${diff.toExponential(1)}`);
}

const models = [
  ['MLP', mlp([784, 256, 256, 10], { seed: 0, dtype }), randn([128, 784], { seed: 1, dtype })],
  ['LeNet-5', lenet5({ seed: 0, dtype }).eval(), randn([64, 1, 28, 28], { seed: 1, dtype })],
];
for (const [name, model, x] of models) {
  const y = Array.from({ length: x.shape[0] }, (_, i) => i % 10);
  const step = () => gradients([crossEntropy(model.forward(x), y)], model.parameters()).forEach((g) => g.toTypedArray());
  for (const backend of ['cpu', 'wasm']) {
    setBackend(backend);
    const total = median(step);
    // The same step again with the products timed.
    const kernels = getBackend();
    const saved = {};
    let inProducts = 0;
    for (const k of ['matmul', 'conv2d', 'conv2dBackwardInput', 'conv2dBackwardWeight']) {
      saved[k] = kernels[k];
      kernels[k] = (...args) => {
        const t = performance.now();
        const out = saved[k](...args);
        inProducts += performance.now() - t;
        return out;
      };
    }
    step();
    Object.assign(kernels, saved);
    console.log(`${name} gradient, float64, ${backend}: ${total.toFixed(1)} ms, ${((100 * inProducts) / total).toFixed(0)} % in matmul and convolutions`);
  }
}
