/**
 * Where a model step's time goes, kernel call by kernel call (issue #17): every Backend method
 * of the current backend is wrapped with a timer, and one step — the gradient of LeNet-5
 * (BatchNorm in eval or train mode) or of the 784-256-256-10 MLP at batch 128, loss and
 * gradients read back — is averaged over 40 steps after 10 of warm-up.
 *
 *   node bench/micro/step-ops.mjs [eval|train|mlp] [backend] [threads] [tidy]
 *
 * (backend: wasm by default; threads: the wasm backend's, awaited before the first step, 1 by
 * default; tidy: each step inside tidy, as the bench rows run it.)
 *
 * Each line: ms per step, calls per step, the method, the first operand's shape and (for zip)
 * the second operand's strides, so that a per-channel operand ([0, 1, 0, 0]) stands apart.
 * A garbage collection counts in whichever call allocated when it started, so the lines of
 * calls that allocate large results carry most of it; the total is also given against the
 * step's own time (what is outside any kernel: autograd, shapes, the wrappers themselves).
 * Run after `npm run build`.
 */
import * as gs from '../../dist/index.js';
import { modelStep } from './model-step.mjs';

const [mode = 'eval', backend = 'wasm', threads = '1', scope] = process.argv.slice(2);
gs.setBackend(backend);
if (threads !== '1') await gs.setWasmThreads(Number(threads));
const step = modelStep(gs, mode, scope === 'tidy');

/** The line a call is counted on: method, the shape of its first tensor operand, zip's second operand's strides. */
function describe(method, args) {
  const views = args.filter((a) => a && typeof a === 'object' && 'shape' in a && 'strides' in a);
  const fn = typeof args[0] === 'string' ? `:${args[0]}` : '';
  const strides = method === 'zip' && views[1] ? ` b-strides [${views[1].strides}]` : '';
  return `${method}${fn} [${views[0]?.shape ?? ''}]${strides}`;
}

const times = new Map();
const kernels = gs.getBackend();
for (const [method, f] of Object.entries(kernels)) {
  if (typeof f !== 'function') continue;
  kernels[method] = (...args) => {
    const t0 = performance.now();
    const result = f(...args);
    const key = describe(method, args);
    const entry = times.get(key) ?? { calls: 0, ms: 0 };
    entry.calls++;
    entry.ms += performance.now() - t0;
    times.set(key, entry);
    return result;
  };
}

for (let i = 0; i < 10; i++) step();
times.clear();
const STEPS = 40;
const t0 = performance.now();
for (let i = 0; i < STEPS; i++) step();
const stepMs = (performance.now() - t0) / STEPS;

const rows = [...times].map(([key, { calls, ms }]) => [key, calls / STEPS, ms / STEPS]).sort((a, b) => b[2] - a[2]);
const inKernels = rows.reduce((sum, row) => sum + row[2], 0);
console.log(`${mode} on ${backend}, ${gs.wasmThreads()} thread(s): ${stepMs.toFixed(2)} ms a step, ${inKernels.toFixed(2)} ms of it in kernel calls`);
for (const [key, calls, ms] of rows) if (ms >= 0.01) console.log(`${ms.toFixed(3).padStart(7)} ms ${String(calls).padStart(3)}× ${key}`);
