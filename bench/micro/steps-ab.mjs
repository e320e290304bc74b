/**
 * Whole model steps, an earlier build against this one in one process (issue #17): the
 * gradient of LeNet-5 (BatchNorm in eval or train mode) or of the 784-256-256-10 MLP at batch
 * 128, loss and gradients read back, on the wasm backend.
 *
 *   node bench/micro/steps-ab.mjs OTHER/dist [eval|train|mlp] [rounds] [tidy]
 *
 * (tidy: each step inside tidy, as the bench rows run it.)
 * Each round times 15 steps of each build, the order alternating between rounds; it prints the
 * mean ms per step of each and the ratio OTHER / this per round (> 1: this build is faster).
 * This host's memory system swings a LeNet-5 step by up to 1.6× within minutes, so only
 * builds run side by side compare. Run after `npm run build`; first checks that both builds give
 * the same loss.
 */
import { fileURLToPath } from 'node:url';
import { modelStep } from './model-step.mjs';

const here = fileURLToPath(new URL('../../dist', import.meta.url));
const [baseline, mode = 'eval', rounds = '12', scope] = process.argv.slice(2);
if (!baseline) throw new Error('usage: node bench/micro/steps-ab.mjs OTHER/dist [eval|train|mlp] [rounds]');
const STEPS = 15;

const steps = [];
for (const dir of [baseline, here]) {
  const gs = await import(`${dir}/index.js`);
  gs.setBackend('wasm');
  steps.push(modelStep(gs, mode, scope === 'tidy'));
}
const [before, after] = [steps[0](), steps[1]()];
if (before !== after) throw new Error(`the builds disagree on the loss: ${before} and ${after}`);
for (const step of steps) for (let i = 0; i < STEPS; i++) step();

const total = [0, 0];
const ratios = [];
for (let r = 0; r < Number(rounds); r++) {
  const ms = [0, 0];
  for (const k of r % 2 ? [1, 0] : [0, 1]) {
    const t0 = performance.now();
    for (let i = 0; i < STEPS; i++) steps[k]();
    ms[k] = (performance.now() - t0) / STEPS;
  }
  total[0] += ms[0];
  total[1] += ms[1];
  ratios.push(ms[0] / ms[1]);
}
const sorted = [...ratios].sort((a, b) => a - b);
const median = sorted[Math.floor(sorted.length / 2)];
console.log(
  `${mode}: ${baseline} ${(total[0] / ratios.length).toFixed(2)} ms, this build ${(total[1] / ratios.length).toFixed(2)} ms; ` +
    `ratio of means ${(total[0] / total[1]).toFixed(3)}, median round ${median.toFixed(3)} (rounds ${ratios.map((q) => q.toFixed(2)).join(' ')})`,
);
