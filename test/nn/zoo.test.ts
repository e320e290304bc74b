/**
 * The model zoo: output shapes on 28×28 inputs (and the MLP on vectors), parameter counts
 * against a hand count (also as printed by `summary`), reproducibility from the seed, and one
 * SGD step on a tiny batch: the loss must drop by ≈ lr·‖g‖² (first order), which a wrong
 * gradient anywhere in the model would break.
 */
import { describe, expect, it } from 'vitest';
import { crossEntropy, noGrad, type Tensor } from '../../src/index.js';
import { BatchNorm1d, BatchNorm2d, Conv2d, Linear, lenet5, mlp, resnet8, summary, type Module } from '../../src/nn/index.js';
import { mulberry32 } from '../arbitraries.js';
import { randomTensor } from '../gradcheck.js';

const bytesOf = (m: Module) => m.parameters().map((p) => Array.from(new Uint8Array(p.toTypedArray().buffer)));

/** Hand counts: Linear in·out + out; Conv k·k·in·out (+ out); BatchNorm 2·C. */
const linear = (i: number, o: number) => i * o + o;
const conv = (i: number, o: number, k: number, bias = true) => k * k * i * o + (bias ? o : 0);
const bn = (c: number) => 2 * c;

/** ResNet-8 of width w: stem, three basic blocks (the last two with 1×1 projections), fc. */
function resnet8Count(w: number, classes = 10, inChannels = 1): number {
  const stem = conv(inChannels, w, 3, false) + bn(w);
  const block = (cin: number, cout: number, project: boolean) =>
    conv(cin, cout, 3, false) + bn(cout) + conv(cout, cout, 3, false) + bn(cout) + (project ? conv(cin, cout, 1, false) + bn(cout) : 0);
  return stem + block(w, w, false) + block(w, 2 * w, true) + block(2 * w, 4 * w, true) + linear(4 * w, classes);
}

describe('zoo: shapes and parameter counts', () => {
  const rng = mulberry32(1);

  it('MLP on vectors and on flattened 28×28 images', () => {
    const small = mlp([5, 7, 3], { seed: 0, dtype: 'float64' });
    expect(small.forward(randomTensor([4, 5], rng)).shape).toEqual([4, 3]);
    const model = mlp([784, 256, 256, 10], { seed: 0 });
    expect(model.forward(randomTensor([2, 28 * 28], rng).to('float32')).shape).toEqual([2, 10]);
    // 784·256 + 256 + 256·256 + 256 + 256·10 + 10
    expect(model.numParameters()).toBe(269_322);
    expect(model.numParameters()).toBe(linear(784, 256) + linear(256, 256) + linear(256, 10));
    expect(summary(model)).toMatch(/269,322 parameters$/);
    const withBn = mlp([784, 256, 256, 10], { seed: 0, batchNorm: true, activation: 'tanh' });
    expect(withBn.numParameters()).toBe(269_322 + bn(256) + bn(256));
    expect(withBn.layers.map((l) => l.constructor.name)).toEqual(['Linear', 'BatchNorm1d', 'Tanh', 'Linear', 'BatchNorm1d', 'Tanh', 'Linear']);
    expect(() => mlp([3], { seed: 0 })).toThrow(/mlp: need at least input and output sizes; got \[3\]/);
  });

  it('LeNet-5 (with and without BatchNorm) maps [N, 1, 28, 28] to [N, classes]', () => {
    const model = lenet5({ seed: 0, dtype: 'float64' });
    expect(model.forward(randomTensor([3, 1, 28, 28], rng)).shape).toEqual([3, 10]);
    const hand = conv(1, 6, 5) + bn(6) + conv(6, 16, 5) + bn(16) + linear(16 * 4 * 4, 120) + bn(120) + linear(120, 84) + bn(84) + linear(84, 10);
    expect(hand).toBe(44_878);
    expect(model.numParameters()).toBe(hand);
    const text = summary(model);
    expect(text).toMatch(/44,878 parameters$/);
    expect(text).toMatch(/^ {2}0 +Conv2d\(1 → 6, k5\)$/m);
    expect(text).toMatch(/^ {2}9 +Linear\(256 → 120\)$/m);
    const plain = lenet5({ seed: 0, dtype: 'float64', batchNorm: false, classes: 5 });
    expect(plain.forward(randomTensor([2, 1, 28, 28], rng)).shape).toEqual([2, 5]);
    expect(plain.numParameters()).toBe(conv(1, 6, 5) + conv(6, 16, 5) + linear(256, 120) + linear(120, 84) + linear(84, 5));
    expect(model.namedModules().filter(([, m]) => m instanceof BatchNorm1d || m instanceof BatchNorm2d)).toHaveLength(4);
  });

  it('ResNet-8 maps [N, 1, 28, 28] to [N, classes] (28 → 14 → 7 → global pool)', () => {
    const model = resnet8({ seed: 0, width: 4, dtype: 'float64' });
    expect(model.forward(randomTensor([2, 1, 28, 28], rng)).shape).toEqual([2, 10]);
    expect(model.numParameters()).toBe(resnet8Count(4));
    const standard = resnet8({ seed: 0 });
    expect(resnet8Count(16)).toBe(77_754);
    expect(standard.numParameters()).toBe(77_754);
    expect(summary(standard)).toMatch(/77,754 parameters$/);
    expect(resnet8({ seed: 0, width: 2, classes: 3, inChannels: 3 }).numParameters()).toBe(resnet8Count(2, 3, 3));
    // Projection shortcuts exist exactly where the shape changes (blocks 2 and 3).
    expect(standard.namedModules().map(([n]) => n).filter((n) => n.endsWith('shortcut'))).toEqual(['4.0.shortcut', '5.0.shortcut']);
    const convs = standard.namedModules().filter(([, m]) => m instanceof Conv2d);
    expect(convs.every(([, m]) => m.namedParameters().length === 1)).toBe(true); // bias-free convs before BN
  });
});

describe('zoo: reproducibility', () => {
  it('the same seed gives identical models; another seed does not', () => {
    for (const make of [
      (seed: number) => mlp([6, 5, 4], { seed, dtype: 'float64' }),
      (seed: number) => lenet5({ seed }),
      (seed: number) => resnet8({ seed, width: 4 }),
    ]) {
      expect(bytesOf(make(3))).toEqual(bytesOf(make(3)));
      expect(bytesOf(make(3))).not.toEqual(bytesOf(make(4)));
    }
  });

  it('different layers of one model get different parameters', () => {
    const model = mlp([4, 4, 4, 4], { seed: 2, dtype: 'float64' });
    const [a, b, c] = model.layers.filter((l) => l instanceof Linear).map((l) => Array.from(l.parameters()[0]!.toTypedArray()));
    expect(a).not.toEqual(b);
    expect(b).not.toEqual(c);
  });
});

describe('zoo: one SGD step on a tiny batch reduces the loss (float64)', () => {
  const cases: [string, () => Module, number[]][] = [
    ['MLP', () => mlp([12, 16, 16, 3], { seed: 5, dtype: 'float64', activation: 'tanh', batchNorm: true }), [6, 12]],
    ['LeNet-5', () => lenet5({ seed: 5, dtype: 'float64', classes: 3 }), [4, 1, 28, 28]],
    ['ResNet-8', () => resnet8({ seed: 5, dtype: 'float64', width: 4, classes: 3 }), [4, 1, 28, 28]],
  ];
  for (const [name, make, shape] of cases) {
    it(name, () => {
      const model = make();
      const x = randomTensor(shape, mulberry32(8));
      const targets = Array.from({ length: shape[0]! }, (_, i) => i % 3);
      const loss = () => crossEntropy(model.forward(x), targets);
      const before = loss();
      before.backward();
      const grads = model.parameters().map((p) => p.grad as Tensor);
      const gradNorm2 = grads.reduce((s, g) => s + Array.from(g.toTypedArray()).reduce((a, v) => a + v * v, 0), 0);
      expect(gradNorm2).toBeGreaterThan(0);
      // A step small enough for the first-order prediction lr·‖g‖² to hold within 5 %.
      const lr = 1e-3 / Math.max(1, Math.sqrt(gradNorm2));
      noGrad(() => model.parameters().forEach((p, i) => p.add_(grads[i]!, -lr)));
      const after = noGrad(loss);
      const drop = before.item() - after.item();
      expect(after.item()).toBeLessThan(before.item());
      expect(drop / (lr * gradNorm2)).toBeGreaterThan(0.95);
      expect(drop / (lr * gradNorm2)).toBeLessThan(1.05);
    });
  }
});
