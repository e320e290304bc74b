/**
 * Max pooling's gradient as a kernel of its own (issue #17): Backend.maxPool2dBackward and the
 * maxPool2d / maxPool2dBackward primitive pair against the formulation they replace — the
 * maxima gathered from each flattened plane at the kernel's indices, the gradient scattered
 * back with scatterAdd — to the bit in float64 and float32, on random geometries (stride ≠
 * kernel, overlapping windows, padding, dilation), values with ties (the first maximum of a
 * window wins, as in PyTorch) and non-contiguous operands; gradients of gradients by central
 * differences; vmap, jvp and per-sample gradients through both primitives.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cpuBackend } from '../src/kernels/cpu/index.js';
import { poolOutputShape, type PoolGeometry } from '../src/kernels/geometry.js';
import { getBackend, setBackend } from '../src/kernels/registry.js';
import { simdAvailable } from '../src/kernels/wasm/index.js';
import { maxPool2dBackward } from '../src/autograd/ops/max-pool2d-backward.js';
import { conv2d, gather, grad, gradients, jvp, maxPool2d, perSampleGradients, scatterAdd, tensor, vmap, type Tensor } from '../src/index.js';
import type { FloatDType } from '../src/tensor/dtype.js';
import { ValueError } from '../src/tensor/errors.js';
import { mulberry32 } from './arbitraries.js';
import { gradcheck, gradgradcheck } from './gradcheck.js';

// ---- random geometries --------------------------------------------------------------------

interface PoolProblem {
  shape: [number, number, number, number];
  g: PoolGeometry;
  /** Values from a small set (many ties) or spread out (no ties). */
  ties: boolean;
  seed: number;
}

const int = (min: number, max: number) => fc.integer({ min, max });
const pair = (min: number, max: number) => fc.tuple(int(min, max), int(min, max));

/** A window that fits: padding at most half the kernel, the input at least one dilated window minus padding. */
const problem: fc.Arbitrary<PoolProblem> = fc
  .record({ n: int(1, 3), c: int(1, 3), k: pair(1, 3), s: pair(1, 3), p: pair(0, 1), d: pair(1, 2), extra: pair(0, 5), ties: fc.boolean(), seed: int(0, 1e6) })
  .map(({ n, c, k, s, p, d, extra, ties, seed }) => {
    const padding: [number, number] = [Math.min(p[0], Math.floor(k[0] / 2)), Math.min(p[1], Math.floor(k[1] / 2))];
    const size = (a: 0 | 1) => Math.max(1, d[a] * (k[a] - 1) + 1 - 2 * padding[a]) + extra[a];
    return { shape: [n, c, size(0), size(1)], g: { kernel: k, stride: s, padding, dilation: d }, ties, seed };
  });

/** The LeNet-style case: 2×2 windows at stride 2 (odd sizes leave a row and a column out). */
const twoByTwo: fc.Arbitrary<PoolProblem> = fc
  .record({ n: int(1, 3), c: int(1, 3), h: int(2, 9), w: int(2, 9), ties: fc.boolean(), seed: int(0, 1e6) })
  .map(({ n, c, h, w, ties, seed }) => ({ shape: [n, c, h, w], g: { kernel: [2, 2], stride: [2, 2], padding: [0, 0], dilation: [1, 1] }, ties, seed }));

function values(count: number, ties: boolean, rng: () => number): number[] {
  // Ties: five values only, so most windows hold equal maxima. Else distinct, ≥ 0.25 apart.
  if (ties) return Array.from({ length: count }, () => [-1, -0.5, 0, 0.5, 1][Math.floor(rng() * 5)]!);
  const order = Array.from({ length: count }, (_, i) => i).sort(() => rng() - 0.5);
  return order.map((i) => (i - count / 2) * 0.25);
}

/**
 * A tensor of `shape` holding `vals` (row-major) in one of four layouts: contiguous,
 * channels-last, W reversed-stride-free but padded rows (a slice), or at an offset.
 */
function laid(vals: readonly number[], shape: readonly number[], dtype: FloatDType, layout: number): Tensor {
  const t = tensor(dtype === 'float64' ? Float64Array.from(vals) : Float32Array.from(vals), { shape: shape.slice(), dtype });
  switch (layout % 4) {
    case 1: {
      // axis 1 stored last (channels-last for NCHW)
      const r = shape.length;
      const order = [0, ...Array.from({ length: r - 2 }, (_, i) => i + 2), 1];
      const inverse = order.map((_, i) => order.indexOf(i));
      return t.permute(order).contiguous().permute(inverse);
    }
    case 2: {
      // every row padded by 2 (a slice of a wider tensor)
      const [n, c, h, w] = shape as [number, number, number, number];
      const wide = tensor(new (dtype === 'float64' ? Float64Array : Float32Array)(n * c * h * (w + 2)).fill(NaN), { shape: [n, c, h, w + 2], dtype });
      wide.slice([null, null, null, [0, w]]).copy_(t);
      return wide.slice([null, null, null, [0, w]]);
    }
    case 3: {
      // at an offset in a larger storage
      const big = tensor(new (dtype === 'float64' ? Float64Array : Float32Array)(t.size + 5).fill(NaN), { shape: [t.size + 5], dtype });
      big.slice([[5, t.size + 5]]).copy_(t.reshape([t.size]));
      return big.slice([[5, t.size + 5]]).reshape(shape.slice());
    }
    default:
      return t;
  }
}

/** The formulation this kernel replaced: gradOut scattered onto each flattened plane at the indices. */
function scatterReference(gy: Tensor, indices: Tensor, shape: readonly number[]): Float64Array | Float32Array {
  const [n, c, h, w] = shape as [number, number, number, number];
  const out = scatterAdd(gy.contiguous().reshape([n, c, -1]), 2, indices.contiguous().reshape([n, c, -1]), [n, c, h * w]);
  return out.toTypedArray() as Float64Array | Float32Array;
}

function expectSameBits(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i])) expect.fail(`${what}: element ${i} is ${actual[i]}, expected ${expected[i]} (exactly)`);
  }
}

const FLOATS: readonly FloatDType[] = ['float64', 'float32'];

// ---- the kernel -----------------------------------------------------------------------------

describe('Backend.maxPool2dBackward (cpu) equals scatterAdd at the indices, to the bit', () => {
  for (const dtype of FLOATS) {
    for (const [name, arb] of [['random geometry', problem], ['2×2, stride 2', twoByTwo]] as const) {
      it(`${name}, ${dtype}`, () => {
        fc.assert(
          fc.property(arb, int(0, 3), int(0, 3), ({ shape, g, ties, seed }, xLayout, gLayout) => {
            const rng = mulberry32(seed);
            const x = laid(values(shape.reduce((a, b) => a * b, 1), ties, rng), shape, dtype, xLayout);
            const { indices } = maxPool2d(x, g.kernel, g);
            const outShape = poolOutputShape(shape, g);
            const gy = laid(values(outShape.reduce((a, b) => a * b, 1), false, rng), outShape, dtype, gLayout);
            const got = cpuBackend.maxPool2dBackward(gy, indices, shape, g, dtype);
            expect(got).toBeInstanceOf(dtype === 'float64' ? Float64Array : Float32Array);
            expectSameBits(got, scatterReference(gy, indices, shape), `${JSON.stringify(g)} on [${shape}]`);
          }),
          { numRuns: 60 },
        );
      });
    }
  }

  it('reads broadcast gradients and permuted indices', () => {
    const x = laid(values(2 * 3 * 5 * 6, true, mulberry32(4)), [2, 3, 5, 6], 'float64', 0);
    const g: PoolGeometry = { kernel: [3, 2], stride: [1, 2], padding: [1, 0], dilation: [1, 1] };
    const { indices } = maxPool2d(x, g.kernel, g);
    const outShape = indices.shape;
    const gy = tensor(new Float64Array([1.5]), { shape: [1, 1, 1, 1], dtype: 'float64' }).expand(outShape);
    const permuted = indices.permute([0, 1, 3, 2]).contiguous().permute([0, 1, 3, 2]);
    const got = cpuBackend.maxPool2dBackward(gy, permuted, x.shape, g, 'float64');
    expectSameBits(got, scatterReference(gy, indices, x.shape), 'broadcast gy, permuted indices');
  });

  it('gives the first maximum of a window its gradient (ties), and sums overlapping windows', () => {
    // One plane 3×3, windows 2×2 at stride 1: the centre 5 is the maximum of all four windows.
    const x = tensor(new Float64Array([1, 2, 2, 4, 5, 5, 4, 5, 1]), { shape: [1, 1, 3, 3], dtype: 'float64' });
    const { values: v, indices } = maxPool2d(x, 2, { stride: 1 });
    expect(Array.from(v.toTypedArray())).toEqual([5, 5, 5, 5]);
    expect(Array.from(indices.toTypedArray())).toEqual([4, 4, 4, 4]);
    const gy = tensor(new Float64Array([1, 10, 100, 1000]), { shape: [1, 1, 2, 2], dtype: 'float64' });
    const dx = cpuBackend.maxPool2dBackward(gy, indices, [1, 1, 3, 3], { kernel: [2, 2], stride: [1, 1], padding: [0, 0], dilation: [1, 1] }, 'float64');
    expect(Array.from(dx)).toEqual([0, 0, 0, 0, 1111, 0, 0, 0, 0]);
    // Equal maxima in one window: the first in row-major window order wins.
    const tie = tensor(new Float64Array([3, 3, 3, 3]), { shape: [1, 1, 2, 2], dtype: 'float64' });
    expect(Array.from(maxPool2d(tie, 2).indices.toTypedArray())).toEqual([0]);
  });

  it('throws a ValueError for an index outside the plane', () => {
    const gy = tensor(new Float64Array([1, 2]), { shape: [1, 1, 1, 2], dtype: 'float64' });
    const bad = tensor(new Int32Array([0, 4]), { shape: [1, 1, 1, 2] });
    const g: PoolGeometry = { kernel: [2, 2], stride: [2, 2], padding: [0, 0], dilation: [1, 1] };
    expect(() => cpuBackend.maxPool2dBackward(gy, bad, [1, 1, 2, 4], g, 'float64')).not.toThrow();
    const outside = tensor(new Int32Array([0, 8]), { shape: [1, 1, 1, 2] });
    expect(() => cpuBackend.maxPool2dBackward(gy, outside, [1, 1, 2, 4], g, 'float64')).toThrow(ValueError);
    expect(() => cpuBackend.maxPool2dBackward(gy, outside, [1, 1, 2, 4], g, 'float64')).toThrow(/maxPool2dBackward: index 8 is out of range/);
  });
});

// ---- through autograd ---------------------------------------------------------------------

/** maxPool2d's values and input gradient as it was: gather at the indices, then scatterAdd's gradient. */
function gatherFormulation(x: Tensor, g: PoolGeometry, gy: Tensor): { values: ArrayLike<number>; grad: ArrayLike<number> } {
  const { indices } = maxPool2d(x.detach(), g.kernel, g);
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const leaf = x.detach().requireGrad();
  const values = gather(leaf.reshape([n, c, h * w]), 2, indices.reshape([n, c, -1])).reshape(indices.shape);
  const [grad] = gradients([values], [leaf], { gradOutputs: [gy] });
  return { values: values.toTypedArray(), grad: grad!.toTypedArray() };
}

const BACKENDS = simdAvailable() ? (['cpu', 'wasm'] as const) : (['cpu'] as const);

describe('maxPool2d values and gradient equal the gather/scatterAdd formulation, to the bit', () => {
  for (const backend of BACKENDS) {
    for (const dtype of FLOATS) {
      it(`${backend}, ${dtype}`, () => {
        const before = getBackend().name;
        setBackend(backend);
        try {
          fc.assert(
            fc.property(fc.oneof(problem, twoByTwo), int(0, 3), ({ shape, g, ties, seed }, layout) => {
              const rng = mulberry32(seed);
              const x = laid(values(shape.reduce((a, b) => a * b, 1), ties, rng), shape, dtype, layout).detach().requireGrad();
              const out = maxPool2d(x, g.kernel, g).values;
              const gy = laid(values(out.size, false, rng), out.shape, dtype, 0);
              const [grad] = gradients([out], [x], { gradOutputs: [gy] });
              const want = gatherFormulation(x, g, gy);
              expectSameBits(out.toTypedArray(), want.values, 'values');
              expectSameBits(grad!.toTypedArray(), want.grad, 'gradient');
            }),
            { numRuns: 40 },
          );
        } finally {
          setBackend(before);
        }
      });
    }
  }

  it('records maxPool2d and maxPool2dBackward nodes, not gather and scatterAdd', () => {
    const x = laid(values(2 * 2 * 4 * 4, false, mulberry32(9)), [2, 2, 4, 4], 'float64', 0).detach().requireGrad();
    const y = maxPool2d(x, 2).values;
    expect(y.node!.op.name).toBe('maxPool2d');
    const [gx] = gradients([y.pow(2).sum()], [x], { createGraph: true });
    const names = new Set<string>();
    const seen = new Set<number>();
    const walk = (t: Tensor) => {
      if (!t.node || seen.has(t.node.id)) return;
      seen.add(t.node.id);
      names.add(t.node.op.name);
      t.node.inputs.forEach(walk);
    };
    walk(gx!);
    expect(gx!.node!.op.name).toBe('maxPool2dBackward');
    expect(names.has('maxPool2dBackward')).toBe(true);
    expect(names.has('scatterAdd')).toBe(false);
  });
});

describe('gradients of gradients of max pooling (float64, central differences)', () => {
  const setup = (shape: [number, number, number, number], seed: number) =>
    laid(values(shape.reduce((a, b) => a * b, 1), false, mulberry32(seed)), shape, 'float64', seed);

  it('gradcheck: 2×2 stride 2, and 3×3 stride 2 padding 1 with overlaps', () => {
    gradcheck((x) => maxPool2d(x, 2).values, [setup([2, 2, 5, 6], 1)], { name: 'maxPool2d 2×2' });
    gradcheck((x) => maxPool2d(x, 3, { stride: 2, padding: 1 }).values, [setup([1, 2, 7, 6], 2)], { name: 'maxPool2d 3×3/2 pad 1' });
  });

  it('gradgradcheck: a nonlinear function of the maxima (the Hessian goes through maxPool2dBackward)', () => {
    gradgradcheck((x) => maxPool2d(x, 2, { stride: 1 }).values.pow(3), [setup([1, 2, 4, 5], 3)], { name: 'maxPool2d³ 2×2/1' });
    gradgradcheck((x) => maxPool2d(x.tanh(), [2, 3], { stride: [2, 1], dilation: [1, 2] }).values.mul(x.slice([null, null, [0, 2], [0, 2]])), [setup([2, 1, 4, 6], 4)], {
      name: 'tanh, dilated pool, times x',
    });
  });

  it('gradcheck of maxPool2dBackward itself, in its gradient argument (its gradient gathers)', () => {
    const x = setup([2, 2, 5, 5], 5);
    const g: PoolGeometry = { kernel: [3, 3], stride: [2, 2], padding: [1, 1], dilation: [1, 1] };
    const { indices } = maxPool2d(x, g.kernel, g);
    const gy = setup(indices.shape as [number, number, number, number], 6);
    gradcheck((u) => maxPool2dBackward(u, indices, x.shape, g).pow(2), [gy], { name: 'maxPool2dBackward²' });
    gradgradcheck((u) => maxPool2dBackward(u.pow(2), indices, x.shape, g).pow(2), [gy], { name: 'maxPool2dBackward of u², squared' });
  });
});

describe('transforms through the maxPool2d pair', () => {
  const x = laid(values(3 * 2 * 2 * 6 * 5, false, mulberry32(11)), [3, 2, 2, 6, 5], 'float64', 0); // [B, N, C, H, W]
  const f = (xi: Tensor) => maxPool2d(xi, 2, { stride: [2, 1] }).values.pow(2).sum();

  it('vmap(grad) over the batch equals the loop of grads (batched indices)', () => {
    const batched = vmap(grad(f))(x) as Tensor;
    for (let b = 0; b < 3; b++) {
      const xb = x.slice([[b, b + 1]]).reshape([2, 2, 6, 5]).detach().requireGrad();
      const [want] = gradients([f(xb)], [xb]);
      expectSameBits(batched.slice([[b, b + 1]]).reshape([2, 2, 6, 5]).toTypedArray(), want!.toTypedArray(), `sample ${b}`);
    }
  });

  it('vmap of maxPool2dBackward: a batched gradient with shared indices, and both batched', () => {
    const shared = x.slice([[0, 1]]).reshape([2, 2, 6, 5]);
    const g: PoolGeometry = { kernel: [2, 2], stride: [2, 1], padding: [0, 0], dilation: [1, 1] };
    const { indices } = maxPool2d(shared, g.kernel, g);
    const us = laid(values(3 * indices.size, false, mulberry32(12)), [3, ...indices.shape], 'float64', 1);
    const viaVmap = vmap((u: Tensor) => maxPool2dBackward(u, indices, shared.shape, g))(us);
    const both = vmap((xi: Tensor, u: Tensor) => maxPool2dBackward(u, maxPool2d(xi, g.kernel, g).indices, shared.shape, g))(x, us);
    for (let b = 0; b < 3; b++) {
      const ub = us.slice([[b, b + 1]]).reshape(indices.shape);
      expectSameBits(viaVmap.slice([[b, b + 1]]).toTypedArray(), maxPool2dBackward(ub, indices, shared.shape, g).toTypedArray(), `shared indices, sample ${b}`);
      const xb = x.slice([[b, b + 1]]).reshape([2, 2, 6, 5]);
      const own = maxPool2dBackward(ub, maxPool2d(xb, g.kernel, g).indices, shared.shape, g);
      expectSameBits(both.slice([[b, b + 1]]).toTypedArray(), own.toTypedArray(), `own indices, sample ${b}`);
    }
  });

  it('jvp of maxPool2d and of maxPool2dBackward: the tangent picked and spread alike', () => {
    const xi = x.slice([[0, 1]]).reshape([2, 2, 6, 5]);
    const t = laid(values(xi.size, false, mulberry32(13)), xi.shape, 'float64', 2);
    const [y, ty] = jvp((a: Tensor) => maxPool2d(a, 2).values, [xi], [t]);
    const { indices } = maxPool2d(xi, 2);
    const g: PoolGeometry = { kernel: [2, 2], stride: [2, 2], padding: [0, 0], dilation: [1, 1] };
    const picked = gather(t.reshape([2, 2, 30]), 2, indices.reshape([2, 2, -1])).reshape(y.shape);
    expectSameBits(ty.toTypedArray(), picked.toTypedArray(), 'tangent of maxPool2d');
    const u = laid(values(indices.size, false, mulberry32(14)), indices.shape, 'float64', 0);
    const tu = laid(values(indices.size, false, mulberry32(15)), indices.shape, 'float64', 3);
    const [, tb] = jvp((a: Tensor) => maxPool2dBackward(a, indices, xi.shape, g), [u], [tu]);
    expectSameBits(tb.toTypedArray(), maxPool2dBackward(tu, indices, xi.shape, g).toTypedArray(), 'tangent of maxPool2dBackward');
  });

  it('perSampleGradients through conv → maxPool2d → linear equals batches of one', () => {
    const xs = laid(values(4 * 1 * 6 * 6, false, mulberry32(16)), [4, 1, 6, 6], 'float64', 0);
    const w = laid(values(3 * 1 * 3 * 3, false, mulberry32(17)), [3, 1, 3, 3], 'float64', 0).detach().requireGrad();
    const m = laid(values(3 * 2 * 2 * 2, false, mulberry32(18)), [12, 2], 'float64', 0).detach().requireGrad();
    const f = (input: Tensor) => maxPool2d(conv2d(input, w), 2).values.reshape([input.shape[0]!, 12]).matmul(m).tanh().sum(1);
    const input = xs.detach().requireGrad();
    const rows = perSampleGradients(f(input), [w, m], input);
    for (let i = 0; i < 4; i++) {
      const [gw, gm] = gradients([f(xs.slice([[i, i + 1]])).sum()], [w, m]);
      const close = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).forEach((v, k) => expect(Math.abs(v - b[k]!)).toBeLessThan(1e-12));
      close(rows[0]!.slice([[i, i + 1]]).toTypedArray(), gw!.toTypedArray());
      close(rows[1]!.slice([[i, i + 1]]).toTypedArray(), gm!.toTypedArray());
    }
  });
});
