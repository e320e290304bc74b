/**
 * Layers against plain-JS references in float64 (loops over indices, nothing from gradscope),
 * their input-shape errors (the layer and both shapes named), and float64 gradient checks of
 * the layers with parameters (through `withParameters`, so W and b are checked too).
 */
import { describe, expect, it } from 'vitest';
import { ShapeError, zeros, type Tensor } from '../../src/index.js';
import {
  AvgPool2d,
  BatchNorm1d,
  BatchNorm2d,
  Conv2d,
  ELU,
  Flatten,
  GlobalAvgPool2d,
  Linear,
  MaxPool2d,
  ReLU,
  Residual,
  Sequential,
  Sigmoid,
  Softplus,
  Tanh,
  type Module,
} from '../../src/nn/index.js';
import { mulberry32 } from '../arbitraries.js';
import { expectAllClose, gradcheck, randomTensor } from '../gradcheck.js';

type Pair = [number, number];
const TOL = { rtol: 1e-12, atol: 1e-13 };

const values = (t: Tensor) => Array.from(t.toTypedArray());

// ---- plain references (row-major flat arrays) -------------------------------------------

/** y[..., o] = Σᵢ x[..., i]·W[o, i] + b[o]. */
function refLinear(x: number[], inF: number, W: number[], b: number[] | null, outF: number): number[] {
  const rows = x.length / inF;
  const y: number[] = [];
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outF; o++) {
      let s = b ? b[o]! : 0;
      for (let i = 0; i < inF; i++) s += x[r * inF + i]! * W[o * inF + i]!;
      y.push(s);
    }
  }
  return y;
}

interface ConvGeometry {
  stride: Pair;
  padding: Pair;
  dilation: Pair;
  groups: number;
}

/** PyTorch conv2d by its definition: zero padding, cross-correlation, grouped channels. */
function refConv2d(x: number[], xs: readonly number[], w: number[], ws: readonly number[], b: number[] | null, g: ConvGeometry): { y: number[]; shape: number[] } {
  const [N, C, H, W] = xs as [number, number, number, number];
  const [O, Cg, KH, KW] = ws as [number, number, number, number];
  const OH = Math.floor((H + 2 * g.padding[0] - g.dilation[0] * (KH - 1) - 1) / g.stride[0]) + 1;
  const OW = Math.floor((W + 2 * g.padding[1] - g.dilation[1] * (KW - 1) - 1) / g.stride[1]) + 1;
  const outPerGroup = O / g.groups;
  const y: number[] = [];
  for (let n = 0; n < N; n++)
    for (let o = 0; o < O; o++)
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          let s = b ? b[o]! : 0;
          const group = Math.floor(o / outPerGroup);
          for (let c = 0; c < Cg; c++)
            for (let kh = 0; kh < KH; kh++)
              for (let kw = 0; kw < KW; kw++) {
                const ih = oh * g.stride[0] - g.padding[0] + kh * g.dilation[0];
                const iw = ow * g.stride[1] - g.padding[1] + kw * g.dilation[1];
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                const ci = group * Cg + c;
                s += x[((n * C + ci) * H + ih) * W + iw]! * w[((o * Cg + c) * KH + kh) * KW + kw]!;
              }
          y.push(s);
        }
  return { y, shape: [N, O, OH, OW] };
}

/** Max or mean over each window; `includePad` counts padded cells in the mean's divisor. */
function refPool(kind: 'max' | 'avg', x: number[], xs: readonly number[], k: Pair, stride: Pair, padding: Pair, includePad = true): { y: number[]; shape: number[] } {
  const [N, C, H, W] = xs as [number, number, number, number];
  const OH = Math.floor((H + 2 * padding[0] - k[0]) / stride[0]) + 1;
  const OW = Math.floor((W + 2 * padding[1] - k[1]) / stride[1]) + 1;
  const y: number[] = [];
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++)
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          let best = -Infinity;
          let sum = 0;
          let inside = 0;
          for (let i = 0; i < k[0]; i++)
            for (let j = 0; j < k[1]; j++) {
              const ih = oh * stride[0] - padding[0] + i;
              const iw = ow * stride[1] - padding[1] + j;
              if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
              const v = x[((n * C + c) * H + ih) * W + iw]!;
              best = Math.max(best, v);
              sum += v;
              inside++;
            }
          y.push(kind === 'max' ? best : sum / (includePad ? k[0] * k[1] : inside));
        }
  return { y, shape: [N, C, OH, OW] };
}

function param(layer: Module, name: string): number[] {
  const found = layer.namedParameters().find(([n]) => n === name);
  if (!found) throw new Error(`no parameter ${name}`);
  return values(found[1]);
}

// ---- forward against references -------------------------------------------------------

describe('layers compute what a plain reference computes (float64)', () => {
  const rng = mulberry32(11);

  it('Linear, with extra leading axes, with and without bias', () => {
    const x = randomTensor([2, 3, 5], rng);
    const lin = new Linear(5, 4, { seed: 1, dtype: 'float64' });
    expectAllClose(lin.forward(x), refLinear(values(x), 5, param(lin, 'weight'), param(lin, 'bias'), 4), { ...TOL, shape: [2, 3, 4] });
    const noBias = new Linear(5, 4, { seed: 1, dtype: 'float64', bias: false });
    expect(noBias.namedParameters().map(([n]) => n)).toEqual(['weight']);
    expectAllClose(noBias.forward(x), refLinear(values(x), 5, param(noBias, 'weight'), null, 4), { ...TOL, shape: [2, 3, 4] });
  });

  const convCases: { name: string; cin: number; cout: number; k: number | Pair; geometry: ConvGeometry; bias: boolean; input: number[] }[] = [
    { name: 'plain 3×3', cin: 2, cout: 3, k: 3, geometry: { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 }, bias: true, input: [2, 2, 6, 5] },
    { name: 'stride 2, padding 1', cin: 2, cout: 3, k: 3, geometry: { stride: [2, 2], padding: [1, 1], dilation: [1, 1], groups: 1 }, bias: true, input: [2, 2, 7, 6] },
    { name: 'asymmetric stride/padding/kernel', cin: 1, cout: 2, k: [2, 3], geometry: { stride: [1, 2], padding: [1, 0], dilation: [1, 1], groups: 1 }, bias: true, input: [1, 1, 5, 7] },
    { name: 'dilation 2', cin: 2, cout: 2, k: 3, geometry: { stride: [1, 1], padding: [2, 2], dilation: [2, 2], groups: 1 }, bias: true, input: [1, 2, 6, 6] },
    { name: 'groups 2, no bias', cin: 4, cout: 6, k: 3, geometry: { stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 2 }, bias: false, input: [2, 4, 5, 5] },
    { name: 'depthwise (groups = channels)', cin: 3, cout: 3, k: 2, geometry: { stride: [2, 1], padding: [0, 1], dilation: [1, 1], groups: 3 }, bias: true, input: [2, 3, 5, 4] },
  ];
  for (const c of convCases) {
    it(`Conv2d: ${c.name}`, () => {
      const conv = new Conv2d(c.cin, c.cout, c.k, { seed: 5, dtype: 'float64', bias: c.bias, ...c.geometry });
      const x = randomTensor(c.input, rng);
      const w = conv.namedParameters().find(([n]) => n === 'weight')![1];
      const k = typeof c.k === 'number' ? [c.k, c.k] : c.k;
      expect(w.shape).toEqual([c.cout, c.cin / c.geometry.groups, ...k]);
      const ref = refConv2d(values(x), c.input, values(w), w.shape, c.bias ? param(conv, 'bias') : null, c.geometry);
      expectAllClose(conv.forward(x), ref.y, { ...TOL, shape: ref.shape });
      expect(conv.namedParameters().map(([n]) => n)).toEqual(c.bias ? ['weight', 'bias'] : ['weight']);
    });
  }

  it('Conv2d rejects groups that do not divide the channels', () => {
    expect(() => new Conv2d(3, 4, 3, { seed: 0, groups: 2 })).toThrow(/Conv2d\(3 → 4\): groups must be an integer ≥ 1 dividing both channel counts; got groups=2/);
    expect(() => new Conv2d(4, 3, 3, { seed: 0, groups: 2 })).toThrow(/groups=2/);
  });

  it('MaxPool2d (default stride = kernel, and explicit stride/padding)', () => {
    const x = randomTensor([2, 3, 6, 5], rng);
    let ref = refPool('max', values(x), x.shape, [2, 2], [2, 2], [0, 0]);
    expectAllClose(new MaxPool2d(2).forward(x), ref.y, { ...TOL, shape: ref.shape });
    ref = refPool('max', values(x), x.shape, [3, 2], [1, 2], [1, 1]);
    expectAllClose(new MaxPool2d([3, 2], { stride: [1, 2], padding: 1 }).forward(x), ref.y, { ...TOL, shape: ref.shape });
  });

  it('AvgPool2d (count_include_pad on and off)', () => {
    const x = randomTensor([2, 2, 5, 6], rng);
    let ref = refPool('avg', values(x), x.shape, [2, 2], [2, 2], [0, 0]);
    expectAllClose(new AvgPool2d(2).forward(x), ref.y, { ...TOL, shape: ref.shape });
    ref = refPool('avg', values(x), x.shape, [3, 3], [2, 2], [1, 1], true);
    expectAllClose(new AvgPool2d(3, { stride: 2, padding: 1 }).forward(x), ref.y, { ...TOL, shape: ref.shape });
    ref = refPool('avg', values(x), x.shape, [3, 3], [2, 2], [1, 1], false);
    expectAllClose(new AvgPool2d(3, { stride: 2, padding: 1, countIncludePad: false }).forward(x), ref.y, { ...TOL, shape: ref.shape });
  });

  it('GlobalAvgPool2d averages each plane to [N, C]', () => {
    const x = randomTensor([2, 3, 4, 5], rng);
    const v = values(x);
    const ref = Array.from({ length: 6 }, (_, p) => v.slice(p * 20, (p + 1) * 20).reduce((a, b) => a + b, 0) / 20);
    expectAllClose(new GlobalAvgPool2d().forward(x), ref, { ...TOL, shape: [2, 3] });
  });

  it('activations, elementwise', () => {
    const x = randomTensor([3, 7], rng).mul(4);
    const v = values(x);
    const softplus = (beta: number, threshold: number) => (t: number) => (beta * t > threshold ? t : Math.log1p(Math.exp(beta * t)) / beta);
    const cases: [Module, (t: number) => number][] = [
      [new ReLU(), (t) => Math.max(t, 0)],
      [new Tanh(), Math.tanh],
      [new Sigmoid(), (t) => 1 / (1 + Math.exp(-t))],
      [new ELU(), (t) => (t > 0 ? t : Math.expm1(t))],
      [new ELU(0.5), (t) => (t > 0 ? t : 0.5 * Math.expm1(t))],
      [new Softplus(), softplus(1, 20)],
      [new Softplus(2, 3), softplus(2, 3)],
    ];
    for (const [layer, f] of cases) expectAllClose(layer.forward(x), v.map(f), { rtol: 1e-12, atol: 1e-14, shape: [3, 7], what: layer.describe() });
    expect(new ReLU().numParameters()).toBe(0);
  });

  it('Flatten keeps the batch axis and row-major (C, H, W) order', () => {
    const x = randomTensor([2, 3, 4, 5], rng);
    const y = new Flatten().forward(x);
    expect(y.shape).toEqual([2, 60]);
    expect(values(y)).toEqual(values(x));
    expect(new Flatten().forward(randomTensor([4, 3], rng)).shape).toEqual([4, 3]);
  });

  it('Sequential applies its layers in order', () => {
    const a = new Linear(4, 3, { seed: 1, dtype: 'float64' });
    const b = new Linear(3, 2, { seed: 2, dtype: 'float64' });
    const x = randomTensor([5, 4], rng);
    const hidden = refLinear(values(x), 4, param(a, 'weight'), param(a, 'bias'), 3).map(Math.tanh);
    const ref = refLinear(hidden, 3, param(b, 'weight'), param(b, 'bias'), 2);
    expectAllClose(new Sequential(a, new Tanh(), b).forward(x), ref, { ...TOL, shape: [5, 2] });
    expect(values(new Sequential().forward(x))).toEqual(values(x));
  });

  it('Residual: body(x) + x (identity) and body(x) + projection(x)', () => {
    const x = randomTensor([2, 2, 5, 5], rng);
    const conv = new Conv2d(2, 2, 3, { seed: 3, dtype: 'float64', padding: 1 });
    const g1: ConvGeometry = { stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1 };
    const w = conv.namedParameters()[0]![1];
    const body = refConv2d(values(x), x.shape, values(w), w.shape, param(conv, 'bias'), g1).y.map((v) => Math.max(v, 0));
    const identity = new Residual(new Sequential(conv, new ReLU()));
    expectAllClose(identity.forward(x), body.map((v, i) => v + values(x)[i]!), { ...TOL, shape: [2, 2, 5, 5] });

    // Projection: a strided 3×3 body to 4 channels, a strided 1×1 conv shortcut without bias.
    const g2: ConvGeometry = { stride: [2, 2], padding: [1, 1], dilation: [1, 1], groups: 1 };
    const bodyConv = new Conv2d(2, 4, 3, { seed: 4, dtype: 'float64', stride: 2, padding: 1 });
    const shortcut = new Conv2d(2, 4, 1, { seed: 5, dtype: 'float64', stride: 2, bias: false });
    const bw = bodyConv.namedParameters()[0]![1];
    const sw = shortcut.namedParameters()[0]![1];
    const bodyRef = refConv2d(values(x), x.shape, values(bw), bw.shape, param(bodyConv, 'bias'), g2);
    const skipRef = refConv2d(values(x), x.shape, values(sw), sw.shape, null, { ...g2, padding: [0, 0] });
    const projected = new Residual(bodyConv, shortcut);
    expect(projected.namedParameters().map(([n]) => n)).toEqual(['body.weight', 'body.bias', 'shortcut.weight']);
    expectAllClose(projected.forward(x), bodyRef.y.map((v, i) => v + skipRef.y[i]!), { ...TOL, shape: [2, 4, 3, 3] });
  });
});

// ---- shape errors -------------------------------------------------------------------------

describe('every layer rejects a wrong input shape, naming itself and both shapes', () => {
  const z = (shape: number[]) => zeros(shape, { dtype: 'float64' });
  const cases: [string, () => unknown, RegExp][] = [
    ['Linear', () => new Linear(3, 4, { seed: 0, dtype: 'float64' }).forward(z([2, 5])), /Linear\(3 → 4\): expected input \[\.\.\., 3\]; got \[2,5\]/],
    ['Linear (0-d)', () => new Linear(3, 4, { seed: 0, dtype: 'float64' }).forward(z([])), /Linear\(3 → 4\): expected input \[\.\.\., 3\]; got \[\]/],
    ['Conv2d (channels)', () => new Conv2d(3, 4, 3, { seed: 0, dtype: 'float64' }).forward(z([1, 2, 8, 8])), /Conv2d\(3 → 4, k3\): expected input \[N, 3, H, W\]; got \[1,2,8,8\]/],
    ['Conv2d (rank)', () => new Conv2d(3, 4, 3, { seed: 0, dtype: 'float64' }).forward(z([3, 8, 8])), /Conv2d\(3 → 4, k3\): expected input \[N, 3, H, W\]; got \[3,8,8\]/],
    ['MaxPool2d', () => new MaxPool2d(2).forward(z([4, 4])), /MaxPool2d: expected input \[N, C, H, W\]; got \[4,4\]/],
    ['AvgPool2d', () => new AvgPool2d(2).forward(z([1, 4, 4])), /AvgPool2d: expected input \[N, C, H, W\]; got \[1,4,4\]/],
    ['GlobalAvgPool2d', () => new GlobalAvgPool2d().forward(z([2, 3, 4])), /GlobalAvgPool2d: expected input \[N, C, H, W\]; got \[2,3,4\]/],
    ['Flatten', () => new Flatten().forward(z([5])), /Flatten: expected input \[N, …\] of rank ≥ 2; got \[5\]/],
    ['BatchNorm1d (channels)', () => new BatchNorm1d(3, { dtype: 'float64' }).forward(z([4, 5])), /BatchNorm1d\(3\): expected input of rank 2 or 3 with 3 channels on axis 1; got \[4,5\]/],
    ['BatchNorm1d (rank)', () => new BatchNorm1d(3, { dtype: 'float64' }).forward(z([4, 3, 2, 2])), /BatchNorm1d\(3\): .*got \[4,3,2,2\]/],
    ['BatchNorm2d', () => new BatchNorm2d(3, { dtype: 'float64' }).forward(z([4, 3])), /BatchNorm2d\(3\): expected input of rank 4 with 3 channels on axis 1; got \[4,3\]/],
    ['BatchNorm1d (one value per channel)', () => new BatchNorm1d(3, { dtype: 'float64' }).forward(z([1, 3])), /BatchNorm1d\(3\): train mode needs more than one value per channel; got input \[1,3\]/],
    [
      'Residual (body changes the shape)',
      () => new Residual(new Linear(3, 2, { seed: 0, dtype: 'float64' })).forward(z([4, 3])),
      /Residual: the body's output \[4,2\] and the identity shortcut's \[4,3\] must have the same shape/,
    ],
    [
      'Residual (broadcastable but different shapes)',
      () => new Residual(new GlobalAvgPool2d()).forward(z([2, 3, 1, 1])),
      /Residual: the body's output \[2,3\] and the identity shortcut's \[2,3,1,1\]/,
    ],
    ['Sequential (from the inner layer)', () => new Sequential(new Flatten(), new Linear(10, 2, { seed: 0, dtype: 'float64' })).forward(z([2, 3, 3])), /Linear\(10 → 2\): expected input \[\.\.\., 10\]; got \[2,9\]/],
  ];
  for (const [name, f, message] of cases) {
    it(name, () => {
      expect(f).toThrow(ShapeError);
      expect(f).toThrow(message);
    });
  }
});

// ---- gradient checks ----------------------------------------------------------------------

describe('gradchecks (float64, central differences)', () => {
  const rng = mulberry32(23);

  /** f(x, ...params) = layer(x) with params standing in for the layer's parameters. */
  const through = (layer: Module) => (x: Tensor, ...params: Tensor[]) => layer.withParameters(params, () => layer.forward(x));
  const paramsOf = (layer: Module) => layer.parameters().map((p) => p.detach());

  it('Linear', () => {
    const lin = new Linear(4, 3, { seed: 1, dtype: 'float64' });
    gradcheck(through(lin), [randomTensor([2, 5, 4], rng), ...paramsOf(lin)], { name: 'Linear', argNames: ['x', 'weight', 'bias'], samples: 6 });
  });

  it('Conv2d (stride, padding, dilation, groups)', () => {
    const conv = new Conv2d(4, 4, 3, { seed: 2, dtype: 'float64', stride: 2, padding: 1, dilation: [1, 2], groups: 2 });
    gradcheck(through(conv), [randomTensor([2, 4, 6, 7], rng), ...paramsOf(conv)], { name: 'Conv2d', argNames: ['x', 'weight', 'bias'], samples: 6 });
  });

  it('BatchNorm2d in train mode (gradients through the batch statistics)', () => {
    const bn = new BatchNorm2d(3, { dtype: 'float64' });
    const gamma = randomTensor([3], rng).add(1.5);
    const beta = randomTensor([3], rng);
    gradcheck(through(bn), [randomTensor([3, 3, 2, 2], rng), gamma, beta], { name: 'BatchNorm2d train', argNames: ['x', 'weight', 'bias'], samples: 8 });
  });

  it('BatchNorm1d in train mode on [N, C, L], without affine', () => {
    const bn = new BatchNorm1d(2, { dtype: 'float64', affine: false });
    gradcheck((x: Tensor) => bn.forward(x), [randomTensor([3, 2, 4], rng)], { name: 'BatchNorm1d train', argNames: ['x'], samples: 8 });
  });

  it('BatchNorm1d in eval mode (running statistics are constants)', () => {
    const bn = new BatchNorm1d(3, { dtype: 'float64' });
    bn.restoreStats(new Map([['running_mean', Float64Array.of(0.3, -0.2, 0.1)], ['running_var', Float64Array.of(0.5, 2, 1.3)]]));
    bn.eval();
    const gamma = randomTensor([3], rng).add(1.5);
    gradcheck(through(bn), [randomTensor([4, 3], rng), gamma, randomTensor([3], rng)], { name: 'BatchNorm1d eval', argNames: ['x', 'weight', 'bias'] });
  });

  it('a small conv net end to end (Conv2d → BN → ReLU → MaxPool → Flatten → Linear)', () => {
    const net = new Sequential(
      new Conv2d(1, 2, 3, { seed: 3, dtype: 'float64', padding: 1 }),
      new BatchNorm2d(2, { dtype: 'float64' }),
      new Tanh(),
      new AvgPool2d(2),
      new Flatten(),
      new Linear(8, 3, { seed: 4, dtype: 'float64' }),
    );
    gradcheck(through(net), [randomTensor([3, 1, 4, 4], rng), ...paramsOf(net)], { name: 'conv net', samples: 4 });
  });
});
