/**
 * One BatchNorm layer in eval mode, forward and backward, an earlier build against this one in
 * one process (issue #17): LeNet-5's BatchNorm2d layers ([128, 6, 24, 24] and [128, 16, 8, 8])
 * and BatchNorm1d layers ([128, 120] and [128, 84]), on the wasm backend.
 *
 *   node bench/micro/batchnorm-ab.mjs OTHER/dist [rounds]
 *
 * Each round times 20 calls of each build, the order alternating between rounds; it prints
 * the mean ms per call of each (the gradients of x, γ and β of ⟨BN(x), c⟩). Run after
 * `npm run build`.
 */
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('../../dist', import.meta.url));
const [baseline, rounds = '20'] = process.argv.slice(2);
if (!baseline) throw new Error('usage: node bench/micro/batchnorm-ab.mjs OTHER/dist [rounds]');
const CALLS = 20;
const builds = await Promise.all([baseline, here].map((dir) => import(`${dir}/index.js`)));
const cases = [
  ['BatchNorm2d', [128, 6, 24, 24]],
  ['BatchNorm2d', [128, 16, 8, 8]],
  ['BatchNorm1d', [128, 120]],
  ['BatchNorm1d', [128, 84]],
];
for (const [layer, shape] of cases) {
  const calls = builds.map((gs) => {
    gs.setBackend('wasm');
    const bn = new gs[layer](shape[1]).eval();
    const x = gs.randn(shape, { seed: 1 }).requireGrad();
    const c = gs.randn(shape, { seed: 2 });
    const wrt = [x, ...bn.parameters()];
    return () => gs.gradients([bn.forward(x).mul(c).sum()], wrt);
  });
  for (const call of calls) for (let i = 0; i < 30; i++) call();
  const total = [0, 0];
  for (let r = 0; r < Number(rounds); r++) {
    for (const k of r % 2 ? [0, 1] : [1, 0]) {
      const start = performance.now();
      for (let i = 0; i < CALLS; i++) calls[k]();
      total[k] += performance.now() - start;
    }
  }
  const ms = total.map((t) => (t / (Number(rounds) * CALLS)).toFixed(3));
  console.log(`${layer} [${shape.join(', ')}]: ${baseline} ${ms[0]} ms, this build ${ms[1]} ms`);
}
