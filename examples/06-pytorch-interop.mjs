// The pieces a PyTorch user reaches for first: math ops with their derivatives, Adam (here taking
// SVRG's variance-reduced direction), and weights in safetensors with PyTorch's state_dict names.
//
//   node examples/06-pytorch-interop.mjs
//
// The file this writes is what `torch.save`'s safer sibling reads: in Python,
//   from safetensors.torch import load_file; model.load_state_dict(load_file('model.safetensors'))
// loads it into the same architecture (nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 3))).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Adam, ClippedUpdate, crossEntropy, gaussianMixture, grad, mlp, schedule, sin, svrg, tensor, train } from 'gradscope';
import { decodeSafetensors, loadSafetensors, saveSafetensors } from 'gradscope/io';

const round = (t) => JSON.stringify(Array.from(t.toTypedArray(), (v) => Math.round(v * 1e4) / 1e4));

// d/dx sin x = cos x, and d²/dx² sin x = −sin x: the rules are differentiable ops, so they nest.
const x = tensor([0, Math.PI / 2, Math.PI], { dtype: 'float64' });
console.log('grad of sin at [0, pi/2, pi]:', round(grad((x) => sin(x).sum())(x)));
console.log('second derivative:', round(grad((x) => grad((y) => sin(y).sum())(x).sum())(x)));

// Adam's step on SVRG's direction, clipped to norm 1: any estimator takes any update rule.
const data = gaussianMixture({ n: 256, d: 8, classes: 3, seed: 0, separation: 1.5 });
const all = { x: tensor(data.features, { shape: [data.length, data.dim], dtype: 'float64' }), targets: Array.from(data.targets) };
const model = mlp([8, 16, 3], { seed: 1, dtype: 'float64', activation: 'tanh' });
const before = crossEntropy(model.forward(all.x), all.targets).item();
train(model, data, { estimator: svrg(), update: new ClippedUpdate(new Adam(), { maxNorm: 1 }), schedule: schedule(0.01, 32), epochs: 5, seed: 2 });
const after = crossEntropy(model.forward(all.x), all.targets).item();
console.log(`training loss: ${before.toFixed(4)} -> ${after.toFixed(4)}`);

// Save with PyTorch's names, then load into a fresh model: the same outputs, bit for bit.
const dir = mkdtempSync(join(tmpdir(), 'gradscope-example-'));
try {
  const file = join(dir, 'model.safetensors');
  saveSafetensors(model, file);
  const { tensors } = decodeSafetensors(new Uint8Array(readFileSync(file)));
  console.log('tensors in the file:', [...tensors.keys()].join(', '));
  const fresh = mlp([8, 16, 3], { seed: 99, dtype: 'float64', activation: 'tanh' });
  loadSafetensors(fresh, file); // strict: a missing or unexpected key, or a wrong shape, is an error
  const [a, b] = [fresh, model].map((m) => m.forward(all.x).toTypedArray());
  console.log('outputs equal after the round trip:', a.every((v, i) => v === b[i]));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
