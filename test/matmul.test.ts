/**
 * matmul against a plain-JS reference with torch.matmul semantics: 2-D, batched, broadcast
 * batch dims, 1-D operands (row / column vectors that are removed again), and non-contiguous
 * (transposed, permuted, sliced, expanded) operands; gradients to first and second order.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { grad, matmul, tensor, type Tensor } from '../src/index.js';
import { broadcastShape, broadcastSource, matmulPair, materialize, ravel, sizeOf, specOf, unravel, type Shape, type TensorSpec } from './arbitraries.js';
import { expectAllClose, gradcheck, gradgradcheck } from './gradcheck.js';

/** torch.matmul in plain JavaScript. */
function refMatmul(a: TensorSpec, b: TensorSpec): { shape: Shape; values: number[] } {
  const aShape = a.shape.length === 1 ? [1, a.shape[0]!] : a.shape;
  const bShape = b.shape.length === 1 ? [b.shape[0]!, 1] : b.shape;
  const [M, K] = aShape.slice(-2) as [number, number];
  const N = bShape[bShape.length - 1]!;
  const batch = broadcastShape(aShape.slice(0, -2), bShape.slice(0, -2))!;
  const full = [...batch, M, N];
  const values = Array.from({ length: sizeOf(full) }, (_, o) => {
    const idx = unravel(o, full);
    const bi = idx.slice(0, -2);
    const [i, j] = idx.slice(-2) as [number, number];
    const aBase = broadcastSource([...bi, 0, 0], aShape.slice(0, -2).concat([1, 1])); // batch position only
    const bBase = broadcastSource([...bi, 0, 0], bShape.slice(0, -2).concat([1, 1]));
    let s = 0;
    for (let k = 0; k < K; k++) {
      s += a.values[aBase * M * K + ravel([i, k], [M, K])]! * b.values[bBase * K * N + ravel([k, j], [K, N])]!;
    }
    return s;
  });
  let shape = full;
  if (a.shape.length === 1) shape = [...shape.slice(0, -2), shape[shape.length - 1]!];
  if (b.shape.length === 1) shape = shape.slice(0, -1);
  return { shape, values };
}

const pairSpecs = matmulPair.chain(({ a, b }) => fc.tuple(specOf(a), specOf(b)));
const TOL = { rtol: 1e-12, atol: 1e-12 };

describe('matmul forward', () => {
  it('matches the reference for batched, broadcast, 1-D and non-contiguous operands', () => {
    fc.assert(
      fc.property(pairSpecs, ([a, b]) => {
        const ref = refMatmul(a, b);
        const out = matmul(materialize(a), materialize(b));
        expectAllClose(out, ref.values, { ...TOL, shape: ref.shape, what: `[${a.shape}] (${a.layout.kind}) @ [${b.shape}] (${b.layout.kind})` });
      }),
      { numRuns: 60 },
    );
  });

  it('multiplies transposed views as they are (Aᵀ·B and A·Bᵀ)', () => {
    fc.assert(
      fc.property(
        fc.record({ m: fc.integer({ min: 1, max: 4 }), k: fc.integer({ min: 1, max: 4 }), n: fc.integer({ min: 1, max: 4 }) }).chain(({ m, k, n }) =>
          fc.tuple(specOf([k, m], { kinds: ['contiguous'] }), specOf([n, k], { kinds: ['contiguous'] })),
        ),
        ([at, bt]) => {
          const a = materialize(at).transpose();
          const b = materialize(bt).transpose();
          // Reference operands: the transposes written out.
          const tr = (s: TensorSpec): TensorSpec => ({
            shape: [s.shape[1]!, s.shape[0]!],
            values: Array.from({ length: s.values.length }, (_, o) => {
              const [i, j] = unravel(o, [s.shape[1]!, s.shape[0]!]) as [number, number];
              return s.values[ravel([j, i], s.shape)]!;
            }),
            layout: s.layout,
          });
          const ref = refMatmul(tr(at), tr(bt));
          expectAllClose(matmul(a, b), ref.values, { ...TOL, shape: ref.shape });
          expectAllClose(matmul(a, materialize(tr(bt))), ref.values, { ...TOL, shape: ref.shape });
          expectAllClose(matmul(materialize(tr(at)), b), ref.values, { ...TOL, shape: ref.shape });
        },
      ),
      { numRuns: 40 },
    );
  });

  it('golden: 2-D, matrix·vector, vector·matrix, batched with broadcast', () => {
    const A = tensor([[1, 2, 3], [4, 5, 6]], { dtype: 'float64' });
    const B = tensor([[1, 0], [0, 1], [1, 1]], { dtype: 'float64' });
    expect(matmul(A, B).toArray()).toEqual([[4, 5], [10, 11]]);
    expect(A.matmul(tensor([1, 1, 1], { dtype: 'float64' })).toArray()).toEqual([6, 15]);
    expect(tensor([1, 1], { dtype: 'float64' }).matmul(A).toArray()).toEqual([5, 7, 9]);
    const batched = matmul(A.reshape([1, 2, 3]).expand([4, 2, 3]), B);
    expect(batched.shape).toEqual([4, 2, 2]);
    expect((batched.toArray() as number[][][])[3]).toEqual([[4, 5], [10, 11]]);
  });

  it('vector · vector is the 0-d dot product (torch.matmul semantics)', () => {
    const u = tensor([1, 2, 3], { dtype: 'float64' });
    const v = tensor([4, 5, 6], { dtype: 'float64' });
    const d = matmul(u, v);
    expect(d.shape).toEqual([]);
    expect(d.item()).toBe(32);
    expect(grad((x: Tensor) => matmul(x, v))(u).toArray()).toEqual([4, 5, 6]);
  });

  it('float32 agrees with float64 within float32 rounding (accumulation is float64)', () => {
    fc.assert(
      fc.property(pairSpecs, ([a0, b0]) => {
        const [a, b] = [a0, b0].map((s) => ({ ...s, values: s.values.map(Math.fround) })) as [TensorSpec, TensorSpec];
        const out32 = matmul(materialize(a, { dtype: 'float32' }), materialize(b, { dtype: 'float32' }));
        const out64 = matmul(materialize(a), materialize(b));
        expect(out32.dtype).toBe('float32');
        // Products are accumulated in float64 in the same order for both dtypes, and the float32
        // result is that sum rounded once: exactly fround of the float64 result.
        expectAllClose(out32, Array.from(out64.toTypedArray(), Math.fround), { rtol: 0, atol: 0 });
      }),
      { numRuns: 40 },
    );
  });
});

describe('matmul gradients (float64)', () => {
  it('∂/∂A = G·Bᵀ and ∂/∂B = Aᵀ·G, summed over broadcast batch dims', () => {
    fc.assert(
      fc.property(pairSpecs, fc.nat(), ([a, b], seed) => {
        gradcheck(matmul, [materialize(a), materialize(b)], { name: `matmul [${a.shape}] @ [${b.shape}]`, argNames: ['A', 'B'], seed });
      }),
      { numRuns: 40 },
    );
  });

  it('second order: the cross terms of the bilinear map', () => {
    fc.assert(
      fc.property(pairSpecs, fc.nat(), ([a, b], seed) => {
        gradgradcheck(matmul, [materialize(a), materialize(b)], { name: `matmul [${a.shape}] @ [${b.shape}]`, argNames: ['A', 'B'], seed });
      }),
      { numRuns: 25 },
    );
  });

  it("gives a transposed operand's gradient in that operand's layout (a Linear layer's W), to second order", () => {
    // y = x·Wᵀ as in Linear, and y = Aᵀ·B: the parameter is used through a transposed view.
    const x = tensor([[0.5, -1, 2, 0.25], [1, 0, -0.5, 3], [-2, 1, 1, 0]], { dtype: 'float64' });
    const w = tensor([[1, 2, 3, 4], [-1, 0.5, 0, 2]], { dtype: 'float64' });
    const linear = (W: Tensor) => matmul(x, W.transpose()).tanh();
    const left = (A: Tensor) => matmul(A.transpose(), x).sigmoid();
    const a = tensor([[0.3, -0.2, 1], [2, 0.1, -1], [0, 1, 0.5]], { dtype: 'float64' });
    for (const [f, p] of [[linear, w], [left, a]] as const) {
      const g = grad((q: Tensor) => f(q).sum())(p);
      expect(g.shape).toEqual(p.shape);
      expect(g.isContiguous(), 'row-major like the parameter, not a transposed view').toBe(true);
      gradcheck(f, [p], { name: f === linear ? 'x·Wᵀ' : 'Aᵀ·x' });
      gradgradcheck(f, [p], { name: f === linear ? 'x·Wᵀ' : 'Aᵀ·x' });
    }
  });

  it('a chain A·B·C with a nonlinearity, on transposed views', () => {
    fc.assert(
      fc.property(
        fc.tuple(specOf([3, 2]), specOf([2, 4]), specOf([4, 3])),
        fc.nat(),
        ([a, b, c], seed) => {
          const f = (x: Tensor, y: Tensor, z: Tensor) => matmul(matmul(x, y).tanh(), z).transpose().matmul(x);
          gradcheck(f, [materialize(a), materialize(b), materialize(c)], { name: 'tanh(A·B)·C then ᵀ·A', seed });
        },
      ),
      { numRuns: 20 },
    );
  });
});
