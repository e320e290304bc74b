/**
 * BatchNorm's eval mode as one primitive (issue #17): channelAffine (y = x·s + t per channel),
 * its parameter gradients channelSums ([Σ g·x | Σ g]) and all three gradients at once
 * (channelAffineBackward), src/autograd/ops/channel-affine.ts, channel-sums.ts and
 * channel-affine-backward.ts, with the kernels of src/kernels/cpu/channel-affine.ts and
 * src/kernels/wasm/batch-norm.ts:
 *
 *   1. the composite they replace (x·s + t with broadcasting), in float64 to 1e-14: values and
 *      the three gradients, over random shapes and layouts (fast-check), broadcast gradients;
 *   2. central differences: first, second and third order through both primitives; forward
 *      mode against differences and jacfwd(jacrev) against jacrev(jacrev);
 *   3. vmap and vmap(grad) against loops, with the batch on x, on s and t, or both;
 *   4. the wasm kernels give the cpu kernel's bits (channelAffine, g·s of channelAffineBackward)
 *      and its sums to 1e-12 (float64) or an ulp (float32);
 *   5. the layer: eval-mode BatchNorm equals (x − μ)/√(σ² + ε)·γ + β, and perSampleGrads through
 *      it equals the loop over batches of one.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  concat,
  crossEntropy,
  functionalCall,
  getBackend,
  gradients,
  grad,
  jacfwd,
  jacrev,
  jvp,
  noGrad,
  parametersByName,
  tensor,
  vmap,
  type Tensor,
} from '../../src/index.js';
import { channelAffine } from '../../src/autograd/ops/channel-affine.js';
import { channelAffineBackward } from '../../src/autograd/ops/channel-affine-backward.js';
import { channelSums } from '../../src/autograd/ops/channel-sums.js';
import { cpuBackend } from '../../src/kernels/cpu/index.js';
import { BatchNorm1d, BatchNorm2d, Conv2d, Flatten, Linear, Sequential, Tanh } from '../../src/nn/index.js';
import { perSampleGrads } from '../../src/nn/per-sample.js';
import { mulberry32 } from '../arbitraries.js';
import { expectAllClose, gradcheck, gradgradcheck, randomTensor } from '../gradcheck.js';

const chan = (shape: readonly number[]) => shape.map((d, i) => (i === 1 ? d : 1));
const values = (t: Tensor) => Array.from(t.toTypedArray());

/** The composite BatchNorm's eval mode computed before the primitive. */
const composite = (x: Tensor, s: Tensor, t: Tensor | null) => {
  const scaled = x.mul(s.reshape(chan(x.shape)));
  return t ? scaled.add(t.reshape(chan(x.shape))) : scaled;
};

type Layout = 'contiguous' | 'channels-first' | 'transposed';

/** x of `shape` stored contiguously, as a permuted [C, N, …] tensor, or with H and W swapped (axes that do not merge). */
function makeInput(shape: number[], layout: Layout, rng: () => number): Tensor {
  if (layout === 'channels-first') {
    const [N, C, ...rest] = shape;
    return randomTensor([C!, N!, ...rest], rng).permute([1, 0, ...rest.map((_, i) => i + 2)]);
  }
  if (layout === 'transposed' && shape.length === 4) {
    const [N, C, H, W] = shape as [number, number, number, number];
    return randomTensor([N, C, W, H], rng).transpose(2, 3);
  }
  return randomTensor(shape, rng);
}

const caseArb = fc.record({
  N: fc.integer({ min: 1, max: 4 }),
  C: fc.integer({ min: 1, max: 5 }),
  spatial: fc.oneof(fc.constant([] as number[]), fc.tuple(fc.integer({ min: 1, max: 5 })), fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }))),
  shifted: fc.boolean(),
  layout: fc.constantFrom<Layout>('contiguous', 'channels-first', 'transposed'),
  seed: fc.integer({ min: 0, max: 1 << 30 }),
});

describe('channelAffine equals the composite x·s + t (float64)', () => {
  it('value and the gradients of x, s and t, over random shapes and layouts (property)', () => {
    fc.assert(
      fc.property(caseArb, ({ N, C, spatial, shifted, layout, seed }) => {
        const rng = mulberry32(seed);
        const shape = [N, C, ...spatial];
        const x = makeInput(shape, layout, rng).requireGrad();
        const s = randomTensor([C], rng).requireGrad();
        const t = shifted ? randomTensor([C], rng).requireGrad() : null;
        const g = randomTensor(shape, rng);
        const fused = channelAffine(x, s, t);
        const ref = composite(x, s, t);
        expectAllClose(fused, values(ref), { rtol: 1e-14, atol: 1e-15, what: 'value' });
        const wrt = t ? [x, s, t] : [x, s];
        const gf = gradients([fused], wrt, { gradOutputs: [g] });
        const gr = gradients([ref], wrt, { gradOutputs: [g] });
        gf.forEach((d, i) => expectAllClose(d, values(gr[i]!), { rtol: 1e-12, atol: 1e-13, what: `gradient ${i}` }));
      }),
      { numRuns: 60 },
    );
  });

  it('a broadcast output gradient (the gradient of a sum) and a rank-2 input', () => {
    const rng = mulberry32(3);
    for (const shape of [[4, 3], [2, 3, 5], [2, 2, 3, 4]]) {
      const x = randomTensor(shape, rng).requireGrad();
      const s = randomTensor([shape[1]!], rng).requireGrad();
      const t = randomTensor([shape[1]!], rng).requireGrad();
      const [fused, ref] = [channelAffine, composite].map((f) => gradients([f(x, s, t).sum()], [x, s, t]));
      fused!.forEach((d, i) => expectAllClose(d, values(ref![i]!), { rtol: 1e-12, atol: 1e-13, what: `${shape}: gradient ${i}` }));
    }
  });
});

describe('channelAffine and channelSums: derivatives of every order (central differences, float64)', () => {
  const rng = mulberry32(11);
  const x = randomTensor([3, 2, 2, 2], rng);
  const s = randomTensor([2], rng);
  const t = randomTensor([2], rng);
  const g = randomTensor([3, 2, 2, 2], rng);

  it('first and second order through channelAffine (grad of grad goes through channelSums)', () => {
    const f = (x: Tensor, s: Tensor, t: Tensor) => channelAffine(x, s, t).tanh();
    gradcheck(f, [x, s, t], { name: 'channelAffine' });
    gradgradcheck(f, [x, s, t], { name: 'channelAffine' });
    gradgradcheck((x: Tensor, s: Tensor) => channelAffine(x, s, null).pow(3), [x, s], { name: 'channelAffine without shift' });
  });

  it('channelSums: first and second order, and a third order of channelAffine through it', () => {
    const f = (g: Tensor, x: Tensor) => channelSums(g, x).tanh();
    gradcheck(f, [g, x], { name: 'channelSums' });
    gradgradcheck(f, [g, x], { name: 'channelSums' });
    const second = (x: Tensor, s: Tensor) => grad((x: Tensor, s: Tensor) => channelAffine(x, s, t).pow(3).sum(), { argnums: [0, 1], createGraph: true })(x, s)[1]!;
    gradgradcheck(second, [x, s], { name: 'third order' });
  });

  it('channelAffineBackward: first and second order; it equals [channelAffine(g, s) | channelSums(g, x)]', () => {
    const f = (g: Tensor, x: Tensor, s: Tensor) => channelAffineBackward(g, x, s).tanh();
    gradcheck(f, [g, x, s], { name: 'channelAffineBackward' });
    gradgradcheck(f, [g, x, s], { name: 'channelAffineBackward' });
    const parts = concat([channelAffine(g, s, null).reshape([g.size]), channelSums(g, x)], 0);
    expectAllClose(channelAffineBackward(g, x, s), values(parts), { rtol: 1e-15, atol: 1e-15, what: 'packed' });
  });

  it('jvp = central difference for tangents on any subset of the inputs, for the three primitives', () => {
    const h = 1e-6;
    const check = (f: (...a: Tensor[]) => Tensor, args: Tensor[], mask: boolean[], what: string) => {
      const tangents = args.map((a) => randomTensor(a.shape, rng)).map((d, i) => (mask[i] ? d : d.mul(0)));
      const [, tangent] = jvp(f, args, tangents);
      const at = (sign: number) => f(...args.map((a, i) => a.add(tangents[i]!.mul(sign * h))));
      expectAllClose(tangent, values(at(1).sub(at(-1)).div(2 * h)), { rtol: 1e-6, atol: 1e-8, what });
    };
    for (const mask of [[true, false, false], [false, true, false], [false, false, true], [false, true, true], [true, true, true]]) {
      check((x, s, t) => channelAffine(x, s, t), [x, s, t], mask, `channelAffine, tangents ${mask}`);
    }
    for (const mask of [[true, false], [false, true], [true, true]]) check((g, x) => channelSums(g, x), [g, x], mask, `channelSums, tangents ${mask}`);
    for (const mask of [[true, false, false], [false, true, false], [false, false, true], [true, true, true]]) {
      check((g, x, s) => channelAffineBackward(g, x, s), [g, x, s], mask, `channelAffineBackward, tangents ${mask}`);
    }
  });

  it('forward over reverse: jacfwd(jacrev(f)) = jacrev(jacrev(f))', () => {
    const c = randomTensor(x.shape, rng);
    const inX = (x: Tensor) => channelAffine(x, s, t).tanh().mul(c).sum();
    expectAllClose(jacfwd(jacrev(inX))(x) as Tensor, values(jacrev(jacrev(inX))(x) as Tensor), { rtol: 1e-10, atol: 1e-12, what: 'Hessian in x' });
    const inS = (s: Tensor) => channelAffine(x, s, t).tanh().mul(c).sum();
    expectAllClose(jacfwd(jacrev(inS))(s) as Tensor, values(jacrev(jacrev(inS))(s) as Tensor), { rtol: 1e-10, atol: 1e-12, what: 'Hessian in s' });
  });
});

describe('channelAffine and channelSums under vmap', () => {
  const rng = mulberry32(21);
  const B = 3;
  const sample = (a: Tensor, axis: number, i: number) => a.slice(a.shape.map((_, d) => (d === axis ? ([i, i + 1] as const) : null))).squeeze(axis);

  it('vmap and vmap(grad) = loops, with the batch on x, on s and t, or on all three', () => {
    const xs = randomTensor([B, 2, 3, 4], rng);
    const ss = randomTensor([B, 3], rng);
    const ts = randomTensor([B, 3], rng);
    const c = randomTensor([2, 3, 4], rng);
    const f = (x: Tensor, s: Tensor, t: Tensor) => channelAffine(x, s, t);
    const loss = (x: Tensor, s: Tensor, t: Tensor) => f(x, s, t).tanh().mul(c).sum();
    for (const inAxes of [[0, null, null], [null, 0, 0], [0, 0, 0]] as const) {
      const args = [inAxes[0] === null ? sample(xs, 0, 1) : xs, inAxes[1] === null ? sample(ss, 0, 1) : ss, inAxes[2] === null ? sample(ts, 0, 1) : ts];
      const pick = (i: number) => args.map((a, k) => (inAxes[k] === null ? a : sample(a, 0, i))) as [Tensor, Tensor, Tensor];
      const out = vmap(f, { inAxes: [...inAxes] })(...(args as [Tensor, Tensor, Tensor]));
      expectAllClose(out, values(concat(Array.from({ length: B }, (_, i) => f(...pick(i)).unsqueeze(0)), 0)), { rtol: 1e-14, atol: 1e-15, what: `vmap ${inAxes}` });
      const rows = vmap(grad(loss, { argnums: [0, 1, 2] }), { inAxes: [...inAxes] })(...(args as [Tensor, Tensor, Tensor])) as Tensor[];
      for (let i = 0; i < B; i++) {
        const ref = grad(loss, { argnums: [0, 1, 2] })(...pick(i));
        rows.forEach((r, k) => expectAllClose(sample(r, 0, i), values(ref[k]!), { rtol: 1e-12, atol: 1e-13, what: `vmap(grad) ${inAxes}, sample ${i}, argument ${k}` }));
      }
    }
  });

  it('channelAffineBackward with the batch on g and x, or on s alone = a loop', () => {
    const gs = randomTensor([B, 2, 3, 4], rng);
    const xs = randomTensor([B, 2, 3, 4], rng);
    const ss = randomTensor([B, 3], rng);
    const f = (g: Tensor, x: Tensor, s: Tensor) => channelAffineBackward(g, x, s);
    for (const inAxes of [[0, 0, null], [null, null, 0], [0, 0, 0]] as const) {
      const args = [gs, xs, ss].map((a, k) => (inAxes[k] === null ? sample(a, 0, 1) : a)) as [Tensor, Tensor, Tensor];
      const out = vmap(f, { inAxes: [...inAxes] })(...args);
      for (let i = 0; i < B; i++) {
        const pick = args.map((a, k) => (inAxes[k] === null ? a : sample(a, 0, i))) as [Tensor, Tensor, Tensor];
        expectAllClose(sample(out, 0, i), values(f(...pick)), { rtol: 1e-14, atol: 1e-15, what: `${inAxes}, sample ${i}` });
      }
    }
  });

  it('channelSums with the batch on axis 2 of g and axis 0 of x = a loop', () => {
    const gs = randomTensor([2, 3, B, 4], rng);
    const xs = randomTensor([B, 2, 3, 4], rng);
    const out = vmap((g: Tensor, x: Tensor) => channelSums(g, x), { inAxes: [2, 0] })(gs, xs);
    expect(out.shape).toEqual([B, 6]);
    for (let i = 0; i < B; i++) expectAllClose(sample(out, 0, i), values(channelSums(sample(gs, 2, i), sample(xs, 0, i))), { rtol: 1e-14, atol: 1e-15, what: `sample ${i}` });
  });
});

describe('the wasm kernels against the cpu kernels (float32)', () => {
  it('channelAffine gives the same bits; channelSums the same sums to 1e-12', () => {
    const backend = getBackend();
    const rng = mulberry32(31);
    for (const shape of [[2, 3, 4, 4], [5, 6, 8], [3, 2, 2, 3], [4, 3]]) {
      const x = randomTensor(shape, rng).to('float32');
      const g = randomTensor(shape, rng).to('float32');
      const s = randomTensor([shape[1]!], rng).to('float32');
      const t = randomTensor([shape[1]!], rng).to('float32');
      expect(Array.from(backend.channelAffine(x, s, t, 'float32')), `${backend.name} ${shape}`).toEqual(Array.from(cpuBackend.channelAffine(x, s, t, 'float32')));
      expectAllClose(tensor(Array.from(backend.channelSums(g, x, 'float32')), { dtype: 'float64' }), Array.from(cpuBackend.channelSums(g, x, 'float32')), {
        rtol: 1e-12,
        atol: 1e-12,
        what: `${backend.name} ${shape}`,
      });
      // The packed backward: g·s to the bit, the sums (rounded to float32) within an ulp.
      const [packed, reference] = [backend, cpuBackend].map((b) => Array.from(b.channelAffineBackward(g, x, s, 'float32')));
      const n = x.size;
      expect(packed!.slice(0, n), `${backend.name} ${shape}: g·s`).toEqual(reference!.slice(0, n));
      expectAllClose(tensor(packed!.slice(n), { dtype: 'float64' }), reference!.slice(n), { rtol: 2e-7, atol: 1e-7, what: `${backend.name} ${shape}: sums` });
    }
  });
});

describe('BatchNorm in eval mode', () => {
  it('equals (x − μ)/√(σ² + ε)·γ + β with its running statistics, in float64 and float32', () => {
    const rng = mulberry32(41);
    for (const dtype of ['float64', 'float32'] as const) {
      const bn = new BatchNorm2d(3, { dtype });
      bn.forward(randomTensor([4, 3, 4, 4], rng).mul(2).add(1).to(dtype)); // running statistics of some data
      bn.eval();
      const params = new Map(bn.namedParameters());
      noGrad(() => {
        for (const p of params.values()) p.add_(randomTensor([3], rng).to(dtype));
      });
      const x = randomTensor([2, 3, 4, 4], rng).to(dtype);
      const buffers = new Map(bn.namedBuffers());
      const [mean, variance, weight, bias] = [buffers.get('running_mean')!, buffers.get('running_var')!, params.get('weight')!, params.get('bias')!].map((b) => b.reshape([1, 3, 1, 1]));
      const expected = x.sub(mean!).div(variance!.add(1e-5).sqrt()).mul(weight!).add(bias!);
      expectAllClose(bn.forward(x), values(expected), { rtol: dtype === 'float64' ? 1e-14 : 1e-6, atol: dtype === 'float64' ? 1e-14 : 1e-6, what: dtype });
    }
  });

  it('refuses an input of another dtype or an integer input, naming the layer', () => {
    const bn = new BatchNorm2d(3).eval();
    expect(() => bn.forward(randomTensor([2, 3, 4, 4], mulberry32(1)))).toThrow(/^BatchNorm2d\(3\): dtypes must match, got float64 and float32/);
    const ints = tensor(new Array(6).fill(1), { dtype: 'int32' }).reshape([2, 3]);
    expect(() => new BatchNorm1d(3).eval().forward(ints)).toThrow(/^BatchNorm1d\(3\): expected a float32 or float64 input; got int32/);
  });

  it('perSampleGrads and vmap(grad) through it equal the loop over batches of one (BatchNorm1d and BatchNorm2d)', () => {
    const f64 = { dtype: 'float64' as const };
    const targets = [2, 0, 1];
    const models: [Sequential, number[]][] = [
      [new Sequential(new Conv2d(2, 4, 3, { seed: 1, ...f64 }), new BatchNorm2d(4, f64), new Tanh(), new Flatten(), new Linear(16, 3, { seed: 2, ...f64 })), [3, 2, 4, 4]],
      [new Sequential(new Linear(5, 4, { seed: 3, ...f64 }), new BatchNorm1d(4, f64), new Tanh(), new Linear(4, 3, { seed: 4, ...f64 })), [3, 5]],
    ];
    const rng = mulberry32(51);
    for (const [model, shape] of models) {
      model.forward(randomTensor([6, ...shape.slice(1)], rng)); // train-mode statistics, then eval
      model.eval();
      const x = randomTensor(shape, rng);
      const params = model.parameters();
      const reference = targets.map((y, i) => gradients([crossEntropy(model.forward(x.slice([[i, i + 1]])), [y], 'sum')], params));
      const rows = perSampleGrads(model, { x, targets }).grads!;
      const loss = (p: Record<string, Tensor>, xi: Tensor, yi: Tensor) => crossEntropy(functionalCall(model, p, xi.unsqueeze(0)), yi.unsqueeze(0));
      const mapped = vmap(grad(loss), { inAxes: [null, 0, 0] })(parametersByName(model), x, tensor(targets, { dtype: 'int32' })) as unknown as Record<string, Tensor>;
      model.namedParameters().forEach(([name], k) => {
        for (const [how, r] of [['perSampleGrads', rows.get(name)!], ['vmap(grad)', mapped[name]!]] as const) {
          targets.forEach((_, i) => expectAllClose(r.slice([[i, i + 1]]).squeeze(0), values(reference[i]![k]!), { rtol: 1e-10, atol: 1e-12, what: `${how}: ${name} row ${i}` }));
        }
      });
    }
  });
});
