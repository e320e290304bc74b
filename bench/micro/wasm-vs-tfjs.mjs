/**
 * Scratch: the issue-8 bars measured interleaved — gradscope (wasm backend) and the bar's tfjs
 * peer (tfjs-wasm; tfjs-cpu for train-lenet) alternate run by run on the same rows, so load from other processes on a shared machine
 * hits both alike (the full `gradscope bench` runs each implementation's rows in one block).
 * Prints each side's median and the ratio per row, with the spread over rounds.
 *   node bench/micro/wasm-vs-tfjs.mjs [rounds=9]
 * Run after `npm run build`. Relaxed SIMD is switched on as the gradscope command does.
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import * as gradscope from '../../dist/index.js';
import { setWasmThreads } from '../../dist/kernels/wasm/index.js';
import { enableRelaxedSimd } from '../../packages/lab/dist/cli/engine-flags.js';
import { gradscopeBuilders } from '../../packages/lab/dist/cli/bench/gradscope-rows.js';
import { tfjsBuilders } from '../../packages/lab/dist/cli/bench/tfjs-rows.js';
import { ROWS } from '../../packages/lab/dist/cli/bench/rows.js';

enableRelaxedSimd(); // before the first product compiles a module

const rounds = Number(process.argv[2] ?? 9);
const tf = await import('@tensorflow/tfjs');
const tfwasm = await import('@tensorflow/tfjs-backend-wasm');
tf.enableProdMode();
tfwasm.setWasmPaths(`${dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm'))}/`);
const tfb = tfjsBuilders(tf);

/** Row, the bar's peer, rounds (tfjs-cpu takes ≈ 5 s per LeNet step). */
const plan = [
  ['matmul-f32-1024', 'wasm', rounds],
  ['matmul-f32-1024-2t', 'wasm', rounds],
  ['matmul-f32-1024-At', 'wasm', rounds],
  ['train-mlp', 'wasm', rounds],
  ['train-lenet', 'cpu', 3],
];
const median = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];
const time = (f) => { const t0 = performance.now(); f(); return performance.now() - t0; };
for (const [name, peer, n] of plan) {
  const row = ROWS.find((r) => r.name === name);
  await tf.setBackend(peer);
  await tf.ready();
  gradscope.setBackend('wasm');
  await setWasmThreads(row.threads ?? 1);
  const ours = gradscopeBuilders[row.kind](row);
  const theirs = tfb[row.kind](row);
  ours.run(); ours.run(); theirs.run(); theirs.run();
  const a = [], b = [];
  for (let i = 0; i < n; i++) {
    // Several of ours per round where the peer is slow, so both medians rest on enough runs.
    for (let j = 0; j < (peer === 'cpu' ? 5 : 1); j++) a.push(time(() => ours.run()));
    b.push(time(() => theirs.run()));
  }
  theirs.dispose();
  await setWasmThreads(1);
  const per = a.length / b.length;
  const ratios = b.map((y, i) => y / median(a.slice(i * per, (i + 1) * per))).sort((x, y) => x - y);
  console.log(`${name.padEnd(20)} gradscope-wasm ${median(a).toFixed(1)} ms  tfjs-${peer} ${median(b).toFixed(1)} ms  ratio of medians ${(median(b) / median(a)).toFixed(2)}× (per round ${ratios[0].toFixed(2)}–${ratios.at(-1).toFixed(2)})`);
}
