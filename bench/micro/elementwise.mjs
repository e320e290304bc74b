/**
 * The measurements behind issue 17's choices outside the GEMM (not run by the tests). Build
 * first, then:
 *   npm run build && node bench/micro/elementwise.mjs [filter] [--wall]
 *
 * - relu on random-sign data, the former branch `x <= 0 ? 0 : x` against the float32 bit form
 *   and the float64 float form now in kernels/scalar.ts, and against sorted data (where the
 *   branch predicts perfectly), float32 and float64, [128, 256] (a hidden layer at batch 128);
 * - relu's backward: a comparison plus a product (the former rule) against the one-pass
 *   reluBackward;
 * - bias add + relu as two kernels against one fused loop: the gain a `biasRelu` primitive
 *   could bring at most;
 * - cross-entropy of [128, 10] logits, forward and backward: the composite against the fused
 *   primitive (through the public API);
 * - `staged`: the wasm backend's f32x4 kernels on staged copies (kernels/wasm/elementwise.ts)
 *   against the cpu loops, for an add, a per-channel bias add, relu and relu's backward on
 *   LeNet-5's first activations [128, 6, 24, 24] and its second [128, 16, 8, 8], and the
 *   threshold WASM_ELEMENTWISE_MIN between (an add at 1k–16k numbers).
 *
 * Inputs rotate through 16 random arrays: a branch predictor can learn a few thousand
 * outcomes of one array run again and again (it did, on this machine), which makes a
 * mispredicting branch look free. Each line gives the best of many timed batches of CPU time
 * (interference on a shared machine only ever adds time) and, in parentheses, the median.
 */
import { cpuBackend as B } from '../../dist/kernels/cpu/index.js';
import { compileLoop } from '../../dist/kernels/cpu/loops.js';
import * as gs from '../../dist/index.js';
import { createWasmBackend } from '../../dist/kernels/wasm/index.js';
import { wasmZip } from '../../dist/kernels/wasm/elementwise.js';
import { tryWasmRuntime } from '../../dist/kernels/wasm/runtime.js';

const filter = process.argv.slice(2).find((a) => !a.startsWith('--')) ?? '';
const R = 128;
const C = 256;
const N = R * C;
const K = 16;

let seed = 1;
/** Standard normal values (Box–Muller over an LCG), a fresh stream per call. */
function randn(n, dtype) {
  const a = dtype === 'float32' ? new Float32Array(n) : new Float64Array(n);
  let s = (seed++ * 7919) >>> 0;
  const next = () => (s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32;
  for (let i = 0; i < n; i++) a[i] = Math.sqrt(-2 * Math.log(next() + 1e-12)) * Math.cos(2 * Math.PI * next());
  return a;
}
const view = (data, shape, strides = shape.length === 2 ? [shape[1], 1] : [1], offset = 0) => ({ data, shape, strides, offset });

/**
 * The process's CPU time in ms (user + system): on a shared machine this leaves out the time
 * the process waits for a CPU, which wall-clock time counts. `--wall` uses performance.now().
 */
const clock = process.argv.includes('--wall')
  ? () => performance.now()
  : () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    };

/** Best and median ms per call of `fn(i)` over batches of 16 calls (i counts calls). */
function time(fn, batches = 41) {
  let i = 0;
  for (let w = 0; w < 64; w++) fn(i++);
  const ts = [];
  for (let r = 0; r < batches; r++) {
    const t0 = clock();
    for (let k = 0; k < 16; k++) fn(i++);
    ts.push((clock() - t0) / 16);
  }
  ts.sort((a, b) => a - b);
  return { best: ts[0], median: ts[ts.length >> 1] };
}

function report(name, t, baseline) {
  const ratio = baseline ? `   ${(baseline.best / t.best).toFixed(2)}× (median ${(baseline.median / t.median).toFixed(2)}×)` : '';
  console.log(`${name.padEnd(52)} ${(t.best * 1e3).toFixed(1).padStart(7)} µs (median ${(t.median * 1e3).toFixed(1)})${ratio}`);
}

const run = (name) => !filter || name.includes(filter);

// The former relu: the branch, compiled through the same loop generator.
const branchRelu = compileLoop('micro:branch-relu', 1, 'OUT = IN0 <= 0 ? 0 : IN0');
const mapWith = (loop, x, dtype) => {
  const out = { data: dtype === 'float32' ? new Float32Array(N) : new Float64Array(N), offset: 0, strides: [C, 1] };
  loop(x.shape, out, [x]);
  return out.data;
};

for (const dtype of ['float32', 'float64']) {
  if (!run(`relu ${dtype}`)) continue;
  const random = Array.from({ length: K }, () => view(randn(N, dtype), [R, C]));
  const sorted = random.map((v) => view(v.data.slice().sort(), [R, C]));
  const before = time((i) => mapWith(branchRelu, random[i % K], dtype));
  report(`relu ${dtype} [128,256] random, former branch`, before);
  report(`relu ${dtype} [128,256] sorted, former branch`, time((i) => mapWith(branchRelu, sorted[i % K], dtype)));
  report(`relu ${dtype} [128,256] random, now`, time((i) => B.map('relu', random[i % K], dtype)), before);
  report(`relu ${dtype} [128,256] random, copy (the floor)`, time((i) => B.map('identity', random[i % K], dtype)));
}

for (const dtype of ['float32', 'float64']) {
  if (!run(`relu backward ${dtype}`)) continue;
  const ys = Array.from({ length: K }, () => B.map('relu', view(randn(N, dtype), [R, C]), dtype)).map((d) => view(d, [R, C]));
  const gs_ = Array.from({ length: K }, () => view(randn(N, dtype), [R, C]));
  const zero = view(dtype === 'float32' ? new Float32Array(1) : new Float64Array(1), [R, C], [0, 0]);
  const before = time((i) => B.zip('mul', gs_[i % K], view(B.zip('gt', ys[i % K], zero, dtype), [R, C]), dtype));
  report(`relu backward ${dtype}: g·(y > 0) as gt + mul`, before);
  report(`relu backward ${dtype}: reluBackward, one pass`, time((i) => B.zip('reluBackward', gs_[i % K], ys[i % K], dtype)), before);
}

if (run('bias')) {
  const xs = Array.from({ length: K }, () => view(randn(N, 'float32'), [R, C]));
  const bias = view(randn(C, 'float32'), [R, C], [0, 1]);
  const twoKernels = time((i) => B.map('relu', view(B.zip('add', xs[i % K], bias, 'float32'), [R, C]), 'float32'));
  report('bias + relu float32: add (rows loop) then relu', twoKernels);
  // What a fused primitive's forward could do at best: one loop, one array.
  const fused = (x, b) => {
    const y = new Float32Array(N);
    const yi = new Int32Array(y.buffer);
    for (let i = 0; i < N; ) {
      for (let j = 0; j < C; j++, i++) {
        y[i] = x[i] + b[j];
        const w = yi[i];
        yi[i] = w & ~((w >> 31) & (((w & 0x7fffffff) - 0x7f800001) >> 31));
      }
    }
    return y;
  };
  report('bias + relu float32: one fused loop (a biasRelu op)', time((i) => fused(xs[i % K].data, bias.data)), twoKernels);
}

if (run('cross-entropy')) {
  const { crossEntropy, gather, gradients, logSoftmax, tensor } = gs;
  const logits = Array.from({ length: K }, () => tensor(randn(R * 10, 'float32'), { shape: [R, 10] }).requireGrad());
  const targets = tensor(Int32Array.from({ length: R }, (_, i) => (i * 7) % 10));
  const composite = (x) => gather(logSoftmax(x, 1), 1, targets.reshape([R, 1])).reshape([R]).neg().mean();
  const step = (loss, x) => {
    const l = loss(x);
    gradients([l], [x])[0].toTypedArray();
  };
  const before = time((i) => step(composite, logits[i % K]));
  report('cross-entropy [128,10] f32 fwd+bwd, composite', before);
  report('cross-entropy [128,10] f32 fwd+bwd, fused', time((i) => step((x) => crossEntropy(x, targets), logits[i % K])), before);
}

if (run('staged')) {
  const W = createWasmBackend();
  const contiguous = (shape) => shape.map((_, d) => shape.slice(d + 1).reduce((p, x) => p * x, 1));
  for (const shape of [[128, 6, 24, 24], [128, 16, 8, 8]]) {
    const n = shape.reduce((p, x) => p * x, 1);
    const xs = Array.from({ length: K }, () => view(randn(n, 'float32'), shape, contiguous(shape)));
    const channel = view(randn(shape[1], 'float32'), shape, [0, 1, 0, 0]);
    const label = `[${shape}]`;
    const cases = {
      add: (Bk, i) => Bk.zip('add', xs[i % K], xs[(i + 1) % K], 'float32'),
      'channel add': (Bk, i) => Bk.zip('add', xs[i % K], channel, 'float32'),
      relu: (Bk, i) => Bk.map('relu', xs[i % K], 'float32'),
      reluBackward: (Bk, i) => Bk.zip('reluBackward', xs[i % K], xs[(i + 1) % K], 'float32'),
    };
    for (const [name, f] of Object.entries(cases)) {
      const cpu = time((i) => f(B, i));
      report(`staged ${name} ${label}: cpu loop`, cpu);
      report(`staged ${name} ${label}: wasm f32x4, staged`, time((i) => f(W, i)), cpu);
    }
  }
  for (const n of [1024, 4096, 16384]) {
    const xs = Array.from({ length: K }, () => view(randn(n, 'float32'), [n]));
    const cpu = time((i) => B.zip('add', xs[i % K], xs[(i + 1) % K], 'float32'));
    report(`staged add [${n}]: cpu loop`, cpu);
    const rt = tryWasmRuntime('float32');
    report(`staged add [${n}]: wasm f32x4, staged (forced)`, time((i) => wasmZip(rt, 'add', xs[i % K], xs[(i + 1) % K], n)), cpu);
  }
}
