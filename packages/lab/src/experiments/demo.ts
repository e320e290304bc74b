/**
 * A short demonstration that trains a two-layer network with plain tensors and `valueAndGrad`
 * on a seeded synthetic problem (three Gaussian blobs in 2-D) and reports what happened.
 * It is what `npm start` runs until the paper experiments exist.
 */
import { crossEntropy, noGrad, randn, tensor, type Tensor, valueAndGrad } from 'gradscope';

export interface DemoReport {
  steps: number;
  losses: number[];
  trainAccuracy: number;
  parameters: number;
}

/** Three blobs centred at 120° apart, `perClass` points each, from a fixed seed. */
function blobs(perClass: number, seed: number): { x: Tensor; y: Int32Array } {
  const noise = randn([3 * perClass, 2], { seed, dtype: 'float32', std: 1.1 }).toTypedArray();
  const xs = new Float32Array(6 * perClass);
  const y = new Int32Array(3 * perClass);
  for (let i = 0; i < 3 * perClass; i++) {
    const c = i % 3;
    const angle = (2 * Math.PI * c) / 3;
    xs[2 * i] = 2 * Math.cos(angle) + noise[2 * i]!;
    xs[2 * i + 1] = 2 * Math.sin(angle) + noise[2 * i + 1]!;
    y[i] = c;
  }
  return { x: tensor(xs, { shape: [3 * perClass, 2] }), y };
}

export function runDemo(log: (line: string) => void, steps = 150): DemoReport {
  const { x, y } = blobs(100, 1);
  const hidden = 16;
  // PyTorch's default init scale 1/√fan_in, from explicit seeds.
  let w1 = randn([2, hidden], { seed: 2, std: 1 / Math.sqrt(2) });
  let b1 = randn([hidden], { seed: 3, std: 0.1 });
  let w2 = randn([hidden, 3], { seed: 4, std: 1 / Math.sqrt(hidden) });
  let b2 = randn([3], { seed: 5, std: 0.1 });
  const loss = (w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor) =>
    crossEntropy(x.matmul(w1).add(b1).tanh().matmul(w2).add(b2), y);
  const step = valueAndGrad(loss, { argnums: [0, 1, 2, 3] });
  const lr = 0.5;
  const losses: number[] = [];
  log(`demo: 2-16-3 tanh network, ${x.shape[0]} points in three Gaussian blobs, full-batch gradient descent (lr ${lr}), float32`);
  for (let t = 0; t < steps; t++) {
    const [value, [g1, gb1, g2, gb2]] = step(w1, b1, w2, b2);
    losses.push(value.item());
    if (t % 25 === 0 || t === steps - 1) log(`  step ${String(t).padStart(3)}  loss ${value.item().toFixed(4)}`);
    [w1, b1, w2, b2] = noGrad(() => [w1.sub(g1!.mul(lr)), b1.sub(gb1!.mul(lr)), w2.sub(g2!.mul(lr)), b2.sub(gb2!.mul(lr))]);
  }
  const predicted = noGrad(() => x.matmul(w1).add(b1).tanh().matmul(w2).add(b2).argmax(1)).toTypedArray();
  const correct = Array.from(predicted).filter((p, i) => p === y[i]).length;
  const trainAccuracy = correct / y.length;
  const parameters = w1.size + b1.size + w2.size + b2.size;
  log(`demo: loss ${losses[0]!.toFixed(4)} → ${losses[losses.length - 1]!.toFixed(4)}, training accuracy ${(100 * trainAccuracy).toFixed(1)} % (${parameters} parameters)`);
  return { steps, losses, trainAccuracy, parameters };
}
