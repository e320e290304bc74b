/**
 * The Module tree: the documented order of parameters and buffers (docs/design.md §10, PyTorch
 * names), train/eval propagation, parameter counts, the functional call `withParameters`
 * (a flat vector split into views stands in for the parameters; its gradient must be the
 * concatenated ordinary gradients and match a plain-JS finite difference), `assignParameters`
 * (in place, bit for bit, all-or-nothing) and the error messages that name the layer.
 */
import { describe, expect, it } from 'vitest';
import { DTypeError, ShapeError, ValueError, tensor, zeros, type Tensor } from '../../src/index.js';
import { BatchNorm1d, Linear, Module, ReLU, Residual, Sequential, Tanh } from '../../src/nn/index.js';
import { mulberry32 } from '../arbitraries.js';
import { expectAllClose, randomTensor } from '../gradcheck.js';

/** A module with its own parameter and buffer registered AFTER its child. */
class Scaled extends Module {
  readonly inner: Linear;
  constructor(seed: number) {
    super();
    this.inner = this.registerModule('inner', new Linear(4, 2, { seed, dtype: 'float64' }));
    this.registerParameter('scale', tensor([2], { dtype: 'float64' }));
    this.registerBuffer('calls', tensor([0], { dtype: 'float64' }));
  }
  forward(x: Tensor): Tensor {
    return this.inner.forward(x).mul(this.param('scale'));
  }
  /** Expose the protected registration helpers to test their checks. */
  register(kind: 'parameter' | 'buffer' | 'module', name: string): void {
    if (kind === 'parameter') this.registerParameter(name, zeros([1], { dtype: 'float64' }));
    else if (kind === 'buffer') this.registerBuffer(name, zeros([1], { dtype: 'float64' }));
    else this.registerModule(name, new ReLU());
  }
}

function nestedModel(): Sequential {
  return new Sequential(
    new Linear(3, 4, { seed: 1, dtype: 'float64' }),
    new ReLU(),
    new Sequential(new Linear(4, 4, { seed: 2, dtype: 'float64' }), new BatchNorm1d(4, { dtype: 'float64' })),
    new Residual(new Sequential(new Linear(4, 4, { seed: 3, dtype: 'float64' })), new Linear(4, 4, { seed: 4, dtype: 'float64', bias: false })),
    new Scaled(5),
  );
}

const bytesOf = (t: Tensor) => Array.from(new Uint8Array(t.toTypedArray().buffer));

describe('Module: order and names', () => {
  it('lists parameters own-first, then children depth first, with PyTorch names', () => {
    const model = nestedModel();
    expect(model.namedParameters().map(([n]) => n)).toEqual([
      '0.weight',
      '0.bias',
      '2.0.weight',
      '2.0.bias',
      '2.1.weight',
      '2.1.bias',
      '3.body.0.weight',
      '3.body.0.bias',
      '3.shortcut.weight',
      // Scaled registers its child first, but its own parameter still comes first.
      '4.scale',
      '4.inner.weight',
      '4.inner.bias',
    ]);
    expect(model.namedBuffers().map(([n]) => n)).toEqual(['2.1.running_mean', '2.1.running_var', '4.calls']);
    expect(model.namedParameters().map(([, p]) => p.shape)).toEqual([[4, 3], [4], [4, 4], [4], [4], [4], [4, 4], [4], [4, 4], [1], [2, 4], [2]]);
    expect(model.parameters()).toEqual(model.namedParameters().map(([, p]) => p));
    expect(model.namedModules().map(([n]) => n)).toEqual(['', '0', '1', '2', '2.0', '2.1', '3', '3.body', '3.body.0', '3.shortcut', '4', '4.inner']);
  });

  it('parameters are leaves that require grad', () => {
    for (const [name, p] of nestedModel().namedParameters()) {
      expect(p.isLeaf, name).toBe(true);
      expect(p.requiresGrad, name).toBe(true);
    }
  });

  it('counts parameters by hand', () => {
    // Linear(3,4) 16 + Linear(4,4) 20 + BN(4) 8 + Linear(4,4) 20 + Linear(4,4, no bias) 16 + scale 1 + Linear(4,2) 10.
    expect(nestedModel().numParameters()).toBe(16 + 20 + 8 + 20 + 16 + 1 + 10);
    expect(new ReLU().numParameters()).toBe(0);
  });

  it('rejects repeated or dotted member names', () => {
    const m = new Scaled(0);
    expect(() => m.register('parameter', 'scale')).toThrow(/Scaled: invalid or repeated member name 'scale'/);
    expect(() => m.register('buffer', 'inner')).toThrow(/repeated member name 'inner'/);
    expect(() => m.register('module', 'a.b')).toThrow(/invalid or repeated member name 'a\.b'/);
    expect(() => m.register('parameter', '')).toThrow(ValueError);
  });
});

describe('Module: modes', () => {
  it('train()/eval() reach every descendant and return the model', () => {
    const model = nestedModel();
    expect(model.namedModules().every(([, m]) => m.training)).toBe(true);
    expect(model.eval()).toBe(model);
    expect(model.namedModules().filter(([, m]) => m.training).map(([n]) => n)).toEqual([]);
    model.train();
    expect(model.namedModules().every(([, m]) => m.training)).toBe(true);
    model.train(false);
    expect(model.namedModules().some(([, m]) => m.training)).toBe(false);
  });

  it('zeroGrad clears every .grad', () => {
    const model = nestedModel();
    model.forward(randomTensor([5, 3], mulberry32(1))).sum().backward();
    expect(model.parameters().every((p) => p.grad !== null)).toBe(true);
    model.zeroGrad();
    expect(model.parameters().every((p) => p.grad === null)).toBe(true);
  });
});

// ---- withParameters --------------------------------------------------------------------

/** Plain-JS forward of Sequential(Linear(3,4), Tanh, Linear(4,2)) from its flat parameters. */
function referenceMlp(theta: ArrayLike<number>, x: number[][]): number[][] {
  const W1 = (o: number, i: number) => theta[o * 3 + i]!;
  const b1 = (o: number) => theta[12 + o]!;
  const W2 = (o: number, i: number) => theta[16 + o * 4 + i]!;
  const b2 = (o: number) => theta[24 + o]!;
  return x.map((row) => {
    const h = [0, 1, 2, 3].map((o) => Math.tanh(b1(o) + row.reduce((s, v, i) => s + W1(o, i) * v, 0)));
    return [0, 1].map((o) => b2(o) + h.reduce((s, v, i) => s + W2(o, i) * v, 0));
  });
}

/** The loss Σ y² / 2 of the reference. */
function referenceLoss(theta: ArrayLike<number>, x: number[][]): number {
  return referenceMlp(theta, x)
    .flat()
    .reduce((s, v) => s + (v * v) / 2, 0);
}

function smallMlp(seed: number): Sequential {
  return new Sequential(new Linear(3, 4, { seed, dtype: 'float64' }), new Tanh(), new Linear(4, 2, { seed: seed + 1, dtype: 'float64' }));
}

/** Views of a flat vector shaped like the model's parameters, in order. */
function splitFlat(flat: Tensor, model: Module): Tensor[] {
  let start = 0;
  return model.parameters().map((p) => {
    const view = flat.slice([[start, start + p.size]]).reshape(p.shape);
    start += p.size;
    return view;
  });
}

describe('Module: withParameters', () => {
  const rng = mulberry32(7);
  const xValues = Array.from({ length: 5 }, () => [0, 1, 2].map(() => 2 * rng() - 1));
  const x = tensor(xValues, { dtype: 'float64' });

  it('computes with the stand-ins, leaves the model untouched, and sends gradients to the flat vector', () => {
    const model = smallMlp(3);
    expect(model.numParameters()).toBe(26);
    const before = model.parameters().map(bytesOf);
    const thetaValues = Float64Array.from({ length: 26 }, () => 2 * rng() - 1);
    const theta = tensor(thetaValues, { dtype: 'float64' }).requireGrad();

    const y = model.withParameters(splitFlat(theta, model), () => model.forward(x));
    expectAllClose(y, referenceMlp(thetaValues, xValues).flat(), { shape: [5, 2], rtol: 1e-13, atol: 1e-14 });
    y.square().sum().mul(0.5).backward();

    // The model's own tensors: same values, no gradient.
    expect(model.parameters().map(bytesOf)).toEqual(before);
    expect(model.parameters().every((p) => p.grad === null)).toBe(true);

    // ∂L/∂θ equals the ordinary gradients of a model holding θ, concatenated in order …
    const twin = smallMlp(99);
    twin.assignParameters(splitFlat(tensor(thetaValues, { dtype: 'float64' }), twin));
    twin.forward(x).square().sum().mul(0.5).backward();
    const concatenated = twin.parameters().flatMap((p) => Array.from(p.grad!.toTypedArray()));
    expectAllClose(theta.grad!, concatenated, { rtol: 1e-12, atol: 1e-14, what: 'grad of the flat vector' });

    // … and a central difference of the plain-JS loss.
    const h = 1e-6;
    const numeric = Array.from(thetaValues, (_, i) => {
      const plus = Float64Array.from(thetaValues);
      const minus = Float64Array.from(thetaValues);
      plus[i] = plus[i]! + h;
      minus[i] = minus[i]! - h;
      return (referenceLoss(plus, xValues) - referenceLoss(minus, xValues)) / (2 * h);
    });
    expectAllClose(theta.grad!, numeric, { rtol: 1e-6, atol: 1e-8, what: 'grad vs central difference' });
  });

  it('namedParameters shows the stand-ins inside fn and the own tensors after, even when fn throws', () => {
    const model = smallMlp(3);
    const own = model.parameters();
    const standIns = own.map((p) => zeros(p.shape, { dtype: 'float64' }));
    const inside = model.withParameters(standIns, () => model.parameters());
    expect(inside).toEqual(standIns);
    expect(model.parameters()).toEqual(own);
    expect(() =>
      model.withParameters(standIns, () => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(model.parameters()[0]).toBe(own[0]);
    // Nested calls restore the outer stand-ins.
    const other = own.map((p) => zeros(p.shape, { dtype: 'float64' }));
    model.withParameters(standIns, () => {
      model.withParameters(other, () => expect(model.parameters()[0]).toBe(other[0]));
      expect(model.parameters()[0]).toBe(standIns[0]);
    });
  });

  it('rejects a wrong count, shape or dtype, naming the parameter and its layer', () => {
    const model = nestedModel();
    const values = model.parameters().map((p) => zeros(p.shape, { dtype: 'float64' }));
    expect(() => model.withParameters(values.slice(1), () => 0)).toThrow(/withParameters: the model has 12 parameters; got 11 values/);
    const wrongShape = values.slice();
    wrongShape[2] = zeros([4, 3], { dtype: 'float64' });
    expect(() => model.withParameters(wrongShape, () => 0)).toThrow(ShapeError);
    expect(() => model.withParameters(wrongShape, () => 0)).toThrow(/parameter '2\.0\.weight' \(weight of Linear\(4 → 4\)\) has shape \[4,4\]; got \[4,3\]/);
    const wrongDtype = values.slice();
    wrongDtype[8] = zeros([4, 4], { dtype: 'float32' });
    expect(() => model.withParameters(wrongDtype, () => 0)).toThrow(DTypeError);
    expect(() => model.withParameters(wrongDtype, () => 0)).toThrow(/parameter '3\.shortcut\.weight' \(weight of Linear\(4 → 4, no bias\)\) is float64; got float32/);
  });
});

// ---- assignParameters ------------------------------------------------------------------

describe('Module: assignParameters', () => {
  it('copies values in place into the same tensors and bumps their versions', () => {
    const model = smallMlp(1);
    const own = model.parameters();
    const versions = own.map((p) => p.version);
    const values = own.map((p, k) => tensor(Float64Array.from({ length: p.size }, (_, i) => k * 100 + i), { shape: p.shape.slice(), dtype: 'float64' }));
    model.assignParameters(values);
    model.parameters().forEach((p, k) => {
      expect(p).toBe(own[k]);
      expect(p.version).toBeGreaterThan(versions[k]!);
      expect(Array.from(p.toTypedArray())).toEqual(Array.from({ length: p.size }, (_, i) => k * 100 + i));
      expect(p.requiresGrad).toBe(true);
    });
    // A copy: changing the source afterwards changes nothing.
    values[0]!.fill_(-1);
    expect(model.parameters()[0]!.toTypedArray()[0]).toBe(0);
  });

  it('is bit-identical: −0 and NaN payloads (float32 signalling NaN included)', () => {
    const lin = new Linear(2, 2, { seed: 0, bias: false });
    const bits = new Uint32Array([0x80000000, 0x7f800001, 0xffa00001, 0x7fc12345]);
    lin.assignParameters([tensor(new Float32Array(bits.buffer), { shape: [2, 2] })]);
    expect(Array.from(new Uint32Array(lin.parameters()[0]!.toTypedArray().buffer))).toEqual(Array.from(bits));
  });

  it('checks every value before writing any, naming the layer', () => {
    const model = nestedModel();
    const before = model.parameters().map(bytesOf);
    const values = model.parameters().map((p) => zeros(p.shape, { dtype: 'float64' }));
    values[11] = zeros([3], { dtype: 'float64' });
    expect(() => model.assignParameters(values)).toThrow(/assignParameters: parameter '4\.inner\.bias' \(bias of Linear\(4 → 2\)\) has shape \[2\]; got \[3\]/);
    expect(model.parameters().map(bytesOf)).toEqual(before);
    expect(() => model.assignParameters(values.slice(0, 3))).toThrow(/assignParameters: the model has 12 parameters; got 3 values/);
    values[11] = zeros([2], { dtype: 'float32' });
    expect(() => model.assignParameters(values)).toThrow(DTypeError);
    expect(model.parameters().map(bytesOf)).toEqual(before);
  });
});
