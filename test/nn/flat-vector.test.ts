/**
 * The flattened parameter vector (docs/design.md §10): order, round trip, and the functional call
 * through it — gradients and HVPs with respect to the vector agree with the ordinary ones.
 */
import { describe, expect, it } from 'vitest';
import { concat, crossEntropy, grad, gradients, hvp, mlp, randn, type Tensor } from '../../src/index.js';

const f64 = { dtype: 'float64' as const };

describe('flat parameter vector', () => {
  const model = mlp([3, 4, 2], { seed: 1, ...f64 });
  const x = randn([5, 3], { seed: 2, ...f64 });
  const y = [0, 1, 0, 1, 1];
  const flat = (ts: readonly Tensor[]) => concat(ts.map((t) => t.reshape([t.size])), 0).toTypedArray();

  it('concatenates the parameters row-major in the documented order, and unflattens back', () => {
    const v = model.flattenParameters();
    expect(v.shape).toEqual([model.numParameters()]);
    expect(Array.from(v.toTypedArray())).toEqual(Array.from(flat(model.parameters())));
    model.unflattenParameters(v).forEach((p, k) => expect(p.toArray()).toEqual(model.parameters()[k]!.toArray()));
    expect(() => model.unflattenParameters(randn([3], { seed: 0, ...f64 }))).toThrow(/has 26 parameter elements; got a vector of shape \[3\]/);
  });

  it('callWithVector is a functional call: gradient and HVP with respect to the vector', () => {
    const before = model.flattenParameters().toTypedArray();
    const loss = (v: Tensor) => model.callWithVector(v, () => crossEntropy(model.forward(x), y));
    const v = model.flattenParameters();
    const gv = grad(loss)(v);
    const ordinary = gradients([crossEntropy(model.forward(x), y)], model.parameters());
    const expected = flat(ordinary);
    gv.toTypedArray().forEach((g, i) => expect(g).toBeCloseTo(expected[i]!, 13));
    // H·v by double backward against a central difference of gradients.
    const dir = randn([v.size], { seed: 3, ...f64 });
    const hv = (hvp(loss, v, dir) as Tensor).toTypedArray();
    const h = 1e-5;
    const gPlus = grad(loss)(v.add(dir.mul(h))).toTypedArray();
    const gMinus = grad(loss)(v.sub(dir.mul(h))).toTypedArray();
    hv.forEach((value, i) => expect(value).toBeCloseTo((gPlus[i]! - gMinus[i]!) / (2 * h), 6));
    // The model's own parameters were never modified.
    expect(model.flattenParameters().toTypedArray()).toEqual(before);
  });
});
