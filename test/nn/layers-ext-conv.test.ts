/**
 * GroupNorm, Embedding, Conv1d and ConvTranspose2d (issue #18, layers): the count of PyTorch
 * oracle cases (layers_ext.json; they run in float64 and float32 on cpu and wasm in the oracle
 * matrix of test/oracle.test.ts); values against loops written from the
 * definitions (packages/lab/oracle/README.md, Family 9); float64 finite differences of first
 * and second order; forward mode against reverse mode; vmap against a loop; per-sample
 * gradients against a loop over batches of one and against the batch gradient; the modules'
 * parameter names, shapes and initialisation; and errors for bad inputs.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  concat,
  conv1d,
  conv2d,
  Conv1d,
  convTranspose2d,
  ConvTranspose2d,
  crossEntropy,
  embedding,
  Embedding,
  Flatten,
  functionalCall,
  grad,
  gradients,
  groupNorm,
  GroupNorm,
  jvp,
  Linear,
  noGrad,
  parametersByName,
  perSampleGrads,
  randn,
  Sequential,
  stack,
  Tanh,
  tensor,
  vmap,
  type Module,
  type Tensor,
} from '../../src/index.js';
import type { OracleCase } from '../../packages/lab/src/cli/oracle/format.js';
import { CONV_LAYERS } from '../../packages/lab/src/cli/oracle/families/layers-ext-conv.js';
import { expectAllClose, gradcheck, gradgradcheck } from '../gradcheck.js';

const f64 = { dtype: 'float64' as const };
const int32 = (values: number[], shape?: number[]) => tensor(Int32Array.from(values), { shape: shape ?? [values.length], dtype: 'int32' });
const values = (t: Tensor) => Array.from(t.contiguous().toTypedArray());

// ---- the oracle ----------------------------------------------------------------------------

const dir = fileURLToPath(new URL('../../packages/lab/oracle/', import.meta.url));
const cases = (JSON.parse(readFileSync(`${dir}layers_ext.json`, 'utf8')) as OracleCase[]).filter((c) => CONV_LAYERS.has(c.config.op));

describe('oracle layers_ext: group_norm, embedding, conv1d, conv_transpose2d', () => {
  it('covers every case of the four ops (5 + 4 + 7 + 7)', () => {
    const count = (op: string) => cases.filter((c) => c.config.op === op).length;
    expect([count('group_norm'), count('embedding'), count('conv1d'), count('conv_transpose2d')]).toEqual([5, 4, 7, 7]);
  });
  // The cases run in the oracle matrix of test/oracle.test.ts (float64 and float32, cpu and wasm).
});

// ---- references written from the definitions ----------------------------------------------

type Geometry2 = { stride: [number, number]; padding: [number, number]; outputPadding: [number, number]; dilation: [number, number]; groups: number };

/** README Family 9: out[n, g·Cout/G + o, h·s + i·d − p, w·s + j·d − p] += x[n, g·Cin/G + c, h, w] · w[g·Cin/G + c, o, i, j]. */
function convTransposeReference(x: Tensor, w: Tensor, b: Tensor | null, g: Geometry2): { data: number[]; shape: number[] } {
  const [N, Cin, H, W] = x.shape as [number, number, number, number];
  const [, coutG, kh, kw] = w.shape as [number, number, number, number];
  const cinG = Cin / g.groups;
  const Cout = coutG * g.groups;
  const Ho = (H - 1) * g.stride[0] - 2 * g.padding[0] + g.dilation[0] * (kh - 1) + g.outputPadding[0] + 1;
  const Wo = (W - 1) * g.stride[1] - 2 * g.padding[1] + g.dilation[1] * (kw - 1) + g.outputPadding[1] + 1;
  const xv = values(x);
  const wv = values(w);
  const bv = b ? values(b) : null;
  const out = new Array<number>(N * Cout * Ho * Wo).fill(0);
  for (let n = 0; n < N; n++) {
    for (let grp = 0; grp < g.groups; grp++) {
      for (let c = 0; c < cinG; c++) {
        for (let o = 0; o < coutG; o++) {
          for (let h = 0; h < H; h++) {
            for (let ww = 0; ww < W; ww++) {
              for (let i = 0; i < kh; i++) {
                for (let j = 0; j < kw; j++) {
                  const oy = h * g.stride[0] + i * g.dilation[0] - g.padding[0];
                  const ox = ww * g.stride[1] + j * g.dilation[1] - g.padding[1];
                  if (oy < 0 || oy >= Ho || ox < 0 || ox >= Wo) continue;
                  const ci = grp * cinG + c;
                  const co = grp * coutG + o;
                  out[((n * Cout + co) * Ho + oy) * Wo + ox]! += xv[((n * Cin + ci) * H + h) * W + ww]! * wv[((ci * coutG + o) * kh + i) * kw + j]!;
                }
              }
            }
          }
        }
      }
    }
  }
  if (bv) for (let k = 0; k < out.length; k++) out[k]! += bv[Math.floor(k / (Ho * Wo)) % Cout]!;
  return { data: out, shape: [N, Cout, Ho, Wo] };
}

/** out[n, o, l] = b[o] + Σ_{c, i} x[n, grp·Cin/G + c, l·s + i·d − p] · w[o, c, i]. */
function conv1dReference(x: Tensor, w: Tensor, b: Tensor | null, s: number, p: number, d: number, groups: number): { data: number[]; shape: number[] } {
  const [N, Cin, L] = x.shape as [number, number, number];
  const [Cout, cg, k] = w.shape as [number, number, number];
  const Lo = Math.floor((L + 2 * p - d * (k - 1) - 1) / s) + 1;
  const xv = values(x);
  const wv = values(w);
  const bv = b ? values(b) : null;
  const out: number[] = [];
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < Cout; o++) {
      const grp = Math.floor(o / (Cout / groups));
      for (let l = 0; l < Lo; l++) {
        let sum = bv ? bv[o]! : 0;
        for (let c = 0; c < cg; c++) {
          for (let i = 0; i < k; i++) {
            const pos = l * s + i * d - p;
            if (pos >= 0 && pos < L) sum += xv[(n * Cin + grp * cg + c) * L + pos]! * wv[(o * cg + c) * k + i]!;
          }
        }
        out.push(sum);
      }
    }
  }
  return { data: out, shape: [N, Cout, Lo] };
}

/** Per (sample, group): mean and biased variance over C/G channels × positions, then γ_c, β_c. */
function groupNormReference(x: Tensor, G: number, w: Tensor | null, b: Tensor | null, eps: number): number[] {
  const [N, C] = x.shape as [number, number];
  const S = x.size / (N * C);
  const xv = values(x);
  const out = new Array<number>(xv.length);
  const m = (C / G) * S;
  for (let n = 0; n < N; n++) {
    for (let g = 0; g < G; g++) {
      const start = (n * C + g * (C / G)) * S;
      let mu = 0;
      for (let k = 0; k < m; k++) mu += xv[start + k]!;
      mu /= m;
      let v = 0;
      for (let k = 0; k < m; k++) v += (xv[start + k]! - mu) ** 2;
      v /= m;
      for (let k = 0; k < m; k++) {
        const c = g * (C / G) + Math.floor(k / S);
        const y = (xv[start + k]! - mu) / Math.sqrt(v + eps);
        out[start + k] = y * (w ? values(w)[c]! : 1) + (b ? values(b)[c]! : 0);
      }
    }
  }
  return out;
}

// ---- values --------------------------------------------------------------------------------

describe('convTranspose2d', () => {
  const geometries: [string, Partial<Geometry2>, number[], number[]][] = [
    ['basic', {}, [2, 2, 3, 4], [2, 3, 3, 3]],
    ['stride 2, padding 1, outputPadding 1', { stride: [2, 2], padding: [1, 1], outputPadding: [1, 1] }, [2, 2, 3, 3], [2, 2, 3, 3]],
    ['rectangular, stride [2, 3], outputPadding [1, 2]', { stride: [2, 3], padding: [0, 1], outputPadding: [1, 2] }, [1, 2, 3, 2], [2, 1, 2, 3]],
    ['groups 2, dilation 2', { groups: 2, dilation: [2, 2], padding: [1, 2] }, [2, 4, 3, 3], [4, 3, 2, 3]],
    // stride ≤ outputPadding < dilation: the cropped-full path, with padding below and above outputPadding.
    ['stride 1, dilation 3, outputPadding 2, padding 1', { dilation: [3, 3], outputPadding: [2, 1], padding: [1, 3] }, [2, 2, 3, 3], [2, 2, 2, 3]],
    ['stride 2, dilation 4, outputPadding 3, padding 0', { stride: [2, 1], dilation: [4, 2], outputPadding: [3, 1] }, [1, 1, 2, 3], [1, 2, 3, 2]],
  ];
  const full = (g: Partial<Geometry2>): Geometry2 => ({ stride: [1, 1], padding: [0, 0], outputPadding: [0, 0], dilation: [1, 1], groups: 1, ...g });

  it.each(geometries)('matches the definition (README Family 9): %s', (_name, g, xs, ws) => {
    const x = randn(xs, { seed: 1, ...f64 });
    const w = randn(ws, { seed: 2, ...f64 });
    const b = randn([ws[1]! * (g.groups ?? 1)], { seed: 3, ...f64 });
    const ref = convTransposeReference(x, w, b, full(g));
    expectAllClose(convTranspose2d(x, w, b, g), ref.data, { shape: ref.shape, rtol: 1e-12, atol: 1e-12 });
    const noBias = convTransposeReference(x, w, null, full(g));
    expectAllClose(convTranspose2d(x, w, null, g), noBias.data, { shape: noBias.shape, rtol: 1e-12, atol: 1e-12 });
  });

  it('matches the definition for random geometries (property; every outputPadding < max(stride, dilation))', () => {
    const axis = fc.record({ k: fc.integer({ min: 1, max: 3 }), s: fc.integer({ min: 1, max: 3 }), d: fc.integer({ min: 1, max: 3 }), size: fc.integer({ min: 1, max: 4 }) });
    fc.assert(
      fc.property(
        axis,
        axis,
        fc.record({ groups: fc.integer({ min: 1, max: 2 }), cinG: fc.integer({ min: 1, max: 2 }), coutG: fc.integer({ min: 1, max: 2 }) }),
        fc.tuple(fc.nat(), fc.nat(), fc.nat(), fc.nat()),
        (ah, aw, { groups, cinG, coutG }, [ph, pw, oh, ow]) => {
          // outputPadding in [0, max(s, d)), padding such that the output is not empty.
          const op: [number, number] = [oh % Math.max(ah.s, ah.d), ow % Math.max(aw.s, aw.d)];
          const fullH = (ah.size - 1) * ah.s + ah.d * (ah.k - 1) + 1 + op[0];
          const fullW = (aw.size - 1) * aw.s + aw.d * (aw.k - 1) + 1 + op[1];
          const padding: [number, number] = [ph % Math.ceil(fullH / 2), pw % Math.ceil(fullW / 2)];
          const g: Geometry2 = { stride: [ah.s, aw.s], dilation: [ah.d, aw.d], outputPadding: op, padding, groups };
          const x = randn([2, cinG * groups, ah.size, aw.size], { seed: ph + 3 * oh, ...f64 });
          const w = randn([cinG * groups, coutG, ah.k, aw.k], { seed: pw + 5 * ow, ...f64 });
          const b = randn([coutG * groups], { seed: 1, ...f64 });
          const ref = convTransposeReference(x, w, b, g);
          expectAllClose(convTranspose2d(x, w, b, g), ref.data, { shape: ref.shape, rtol: 1e-12, atol: 1e-12 });
        },
      ),
      { numRuns: 40 },
    );
  });

  it('is the adjoint of conv2d: ⟨conv2d(u, w), x⟩ = ⟨u, convTranspose2d(x, w)⟩', () => {
    const w = randn([4, 3, 3, 2], { seed: 4, ...f64 }); // conv2d: 6 → 4 channels with groups 2
    const options = { stride: [2, 1] as [number, number], padding: [1, 0] as [number, number], dilation: [1, 2] as [number, number], groups: 2 };
    const u = randn([2, 6, 7, 6], { seed: 5, ...f64 });
    const y = conv2d(u, w, options);
    const x = randn(y.shape, { seed: 6, ...f64 });
    const t = convTranspose2d(x, w, null, { ...options, outputPadding: [0, 0] });
    expect(t.shape).toEqual(u.shape);
    expect(y.mul(x).sum().item()).toBeCloseTo(u.mul(t).sum().item(), 10);
  });

  it.each(geometries)('float64 finite differences, first and second order: %s', (_name, g, xs, ws) => {
    const x = randn(xs, { seed: 7, ...f64 });
    const w = randn(ws, { seed: 8, ...f64 });
    const b = randn([ws[1]! * (g.groups ?? 1)], { seed: 9, ...f64 });
    const f = (xx: Tensor, ww: Tensor, bb: Tensor) => convTranspose2d(xx, ww, bb, g);
    gradcheck(f, [x, w, b], { name: 'convTranspose2d', argNames: ['x', 'w', 'b'] });
    // Bilinear: the second derivative is the cross term x·w; tanh makes every pair non-zero.
    gradgradcheck((xx: Tensor, ww: Tensor, bb: Tensor) => f(xx, ww, bb).tanh(), [x, w, b], { name: 'tanh∘convTranspose2d', samples: 3 });
  });
});

describe('conv1d', () => {
  const geometries: [string, { stride?: number; padding?: number; dilation?: number; groups?: number }, number[], number[]][] = [
    ['basic k3', {}, [2, 2, 7], [4, 2, 3]],
    ['stride 2, padding 1', { stride: 2, padding: 1 }, [3, 2, 8], [2, 2, 3]],
    ['dilation 2, padding 2', { dilation: 2, padding: 2 }, [1, 3, 7], [2, 3, 3]],
    ['groups 2', { groups: 2, padding: 1 }, [2, 4, 6], [6, 2, 3]],
    ['depthwise', { groups: 3, padding: 1 }, [2, 3, 5], [6, 1, 3]],
    ['s2 p1 d2 g2 k4', { stride: 2, padding: 1, dilation: 2, groups: 2 }, [2, 4, 13], [4, 2, 4]],
  ];
  it.each(geometries)('matches the definition: %s', (_name, g, xs, ws) => {
    const x = randn(xs, { seed: 1, ...f64 });
    const w = randn(ws, { seed: 2, ...f64 });
    const b = randn([ws[0]!], { seed: 3, ...f64 });
    const ref = conv1dReference(x, w, b, g.stride ?? 1, g.padding ?? 0, g.dilation ?? 1, g.groups ?? 1);
    expectAllClose(conv1d(x, w, b, g), ref.data, { shape: ref.shape, rtol: 1e-12, atol: 1e-12 });
  });
  it('matches the definition for random geometries (property)', () => {
    fc.assert(
      fc.property(
        fc.record({ k: fc.integer({ min: 1, max: 4 }), s: fc.integer({ min: 1, max: 3 }), d: fc.integer({ min: 1, max: 3 }), p: fc.integer({ min: 0, max: 3 }), groups: fc.integer({ min: 1, max: 3 }), cg: fc.integer({ min: 1, max: 2 }), og: fc.integer({ min: 1, max: 2 }), extra: fc.integer({ min: 0, max: 5 }) }),
        ({ k, s, d, p, groups, cg, og, extra }) => {
          const L = Math.max(1, d * (k - 1) + 1 - 2 * p) + extra;
          const x = randn([2, cg * groups, L], { seed: k + 7 * extra, ...f64 });
          const w = randn([og * groups, cg, k], { seed: s + 11 * p, ...f64 });
          const b = randn([og * groups], { seed: 2, ...f64 });
          const ref = conv1dReference(x, w, b, s, p, d, groups);
          expectAllClose(conv1d(x, w, b, { stride: s, padding: p, dilation: d, groups }), ref.data, { shape: ref.shape, rtol: 1e-12, atol: 1e-12 });
        },
      ),
      { numRuns: 40 },
    );
  });
  it.each(geometries)('float64 finite differences, first and second order: %s', (_name, g, xs, ws) => {
    const x = randn(xs, { seed: 4, ...f64 });
    const w = randn(ws, { seed: 5, ...f64 });
    const b = randn([ws[0]!], { seed: 6, ...f64 });
    gradcheck((xx: Tensor, ww: Tensor, bb: Tensor) => conv1d(xx, ww, bb, g), [x, w, b], { name: 'conv1d', argNames: ['x', 'w', 'b'] });
    gradgradcheck((xx: Tensor, ww: Tensor, bb: Tensor) => conv1d(xx, ww, bb, g).tanh(), [x, w, b], { name: 'tanh∘conv1d', samples: 3 });
  });
});

describe('groupNorm', () => {
  const configs: [string, number[], number, boolean][] = [
    ['G = 2 on [N, C, H, W]', [2, 6, 2, 3], 2, true],
    ['G = 1 (LayerNorm over C, H, W)', [2, 4, 3], 1, true],
    ['G = C (InstanceNorm)', [3, 3, 4], 3, true],
    ['[N, C] input', [4, 4], 2, true],
    ['no affine', [2, 6, 5], 3, false],
  ];
  it.each(configs)('matches the definition: %s', (_name, shape, G, affine) => {
    const x = randn(shape, { seed: 1, ...f64 }).mul(3).add(1);
    const w = affine ? randn([shape[1]!], { seed: 2, ...f64 }) : null;
    const b = affine ? randn([shape[1]!], { seed: 3, ...f64 }) : null;
    expectAllClose(groupNorm(x, G, w, b, 1e-3), groupNormReference(x, G, w, b, 1e-3), { shape, rtol: 1e-12, atol: 1e-13 });
  });
  it('weight without bias and bias without weight (each optional, as in PyTorch)', () => {
    const x = randn([2, 4, 3], { seed: 4, ...f64 });
    const w = randn([4], { seed: 5, ...f64 });
    expectAllClose(groupNorm(x, 2, w), groupNormReference(x, 2, w, null, 1e-5), { rtol: 1e-12, atol: 1e-13 });
    expectAllClose(groupNorm(x, 2, null, w), groupNormReference(x, 2, null, w, 1e-5), { rtol: 1e-12, atol: 1e-13 });
  });
  it.each(configs)('float64 finite differences, first and second order: %s', (_name, shape, G, affine) => {
    const x = randn(shape, { seed: 6, ...f64 });
    if (affine) {
      const w = randn([shape[1]!], { seed: 7, ...f64 });
      const b = randn([shape[1]!], { seed: 8, ...f64 });
      const f = (xx: Tensor, ww: Tensor, bb: Tensor) => groupNorm(xx, G, ww, bb);
      gradcheck(f, [x, w, b], { name: 'groupNorm', argNames: ['x', 'weight', 'bias'] });
      gradgradcheck(f, [x, w, b], { name: 'groupNorm', samples: 3 });
    } else {
      gradcheck((xx: Tensor) => groupNorm(xx, G), [x], { name: 'groupNorm' });
      gradgradcheck((xx: Tensor) => groupNorm(xx, G), [x], { name: 'groupNorm', samples: 3 });
    }
  });
});

describe('embedding', () => {
  const weight = randn([6, 3], { seed: 1, ...f64 });
  const indices = int32([1, 5, 0, 1, 3, 0], [2, 3]);

  it('looks up rows: shape indices.shape + [D], any rank of indices (0-d included)', () => {
    const out = embedding(indices, weight);
    expect(out.shape).toEqual([2, 3, 3]);
    const w = values(weight);
    const expected = [1, 5, 0, 1, 3, 0].flatMap((r) => w.slice(3 * r, 3 * r + 3));
    expect(values(out)).toEqual(expected);
    expect(values(embedding(tensor(Int32Array.from([4]), { shape: [], dtype: 'int32' }), weight))).toEqual(w.slice(12, 15));
    expect(embedding(int32([2, 2, 2, 2], [1, 2, 2]), weight).shape).toEqual([1, 2, 2, 3]);
  });

  it('repeated indices accumulate; the padding row reads its values but gets no gradient', () => {
    const leaf = weight.detach().requireGrad();
    const R = randn([2, 3, 3], { seed: 2, ...f64 });
    const [g] = gradients([embedding(indices, leaf)], [leaf], { gradOutputs: [R] });
    const r = values(R);
    const row = (k: number) => r.slice(3 * k, 3 * k + 3);
    const sum = (...ks: number[]) => [0, 1, 2].map((j) => ks.reduce((s, k) => s + row(k)[j]!, 0));
    expectAllClose(g!.slice([[1, 2]]), sum(0, 3), { rtol: 1e-15, atol: 0 });
    expectAllClose(g!.slice([[0, 1]]), sum(2, 5), { rtol: 1e-15, atol: 0 });
    // paddingIdx 0 and its negative spelling −6: the same function.
    for (const paddingIdx of [0, -6]) {
      const out = embedding(indices, leaf, { paddingIdx });
      expect(values(out)).toEqual(values(embedding(indices, weight)));
      const [gp] = gradients([out], [leaf], { gradOutputs: [R] });
      expect(values(gp!.slice([[0, 1]]))).toEqual([0, 0, 0]);
      expectAllClose(gp!.slice([[1, 6]]), values(g!.slice([[1, 6]])), { rtol: 0, atol: 0 });
    }
  });

  it('float64 finite differences of first and second order, with and without a padding row', () => {
    const f = (w: Tensor) => embedding(indices, w);
    gradcheck(f, [weight], { name: 'embedding', samples: 18 });
    gradgradcheck((w: Tensor) => f(w).tanh(), [weight], { name: 'tanh∘embedding', samples: 6 });
    // With paddingIdx 1 the pad row is read but is a constant of the function (its gradient is
    // 0 by definition, checked above): differentiate with respect to the other rows, the pad
    // row spliced in as a constant.
    const padRow = weight.slice([[1, 2]]);
    const others = concat([weight.slice([[0, 1]]), weight.slice([[2, 6]])], 0);
    const g = (rest: Tensor) => embedding(indices, concat([rest.slice([[0, 1]]), padRow, rest.slice([[1, 5]])], 0), { paddingIdx: 1 });
    gradcheck(g, [others], { name: 'embedding (paddingIdx 1)', samples: 15 });
    gradgradcheck((rest: Tensor) => g(rest).tanh(), [others], { name: 'tanh∘embedding (paddingIdx 1)', samples: 6 });
  });
});

describe('forward mode agrees with reverse mode: ⟨J·t, c⟩ = ⟨t, Jᵀc⟩', () => {
  const check = (f: (...xs: Tensor[]) => Tensor, inputs: Tensor[]) => {
    const tangents = inputs.map((x, i) => randn(x.shape, { seed: 100 + i, ...f64 }));
    const [y, ty] = jvp(f, inputs, tangents) as unknown as [Tensor, Tensor];
    const c = randn(y.shape, { seed: 99, ...f64 });
    const leaves = inputs.map((x) => x.detach().requireGrad());
    const g = gradients([f(...leaves)], leaves, { gradOutputs: [c] });
    const lhs = ty.mul(c).sum().item();
    const rhs = g.reduce((s, gi, i) => s + gi.mul(tangents[i]!).sum().item(), 0);
    expect(lhs).toBeCloseTo(rhs, 10);
  };
  it('conv1d, convTranspose2d (both paths), groupNorm, embedding', () => {
    check((x, w, b) => conv1d(x, w, b, { stride: 2, padding: 1, groups: 2 }), [randn([2, 4, 7], { seed: 1, ...f64 }), randn([4, 2, 3], { seed: 2, ...f64 }), randn([4], { seed: 3, ...f64 })]);
    check((x, w, b) => convTranspose2d(x, w, b, { stride: 2, padding: 1, outputPadding: 1 }), [randn([2, 2, 3, 3], { seed: 4, ...f64 }), randn([2, 3, 3, 3], { seed: 5, ...f64 }), randn([3], { seed: 6, ...f64 })]);
    check((x, w) => convTranspose2d(x, w, null, { dilation: 3, outputPadding: 2, padding: 1 }), [randn([1, 2, 3, 3], { seed: 7, ...f64 }), randn([2, 2, 2, 2], { seed: 8, ...f64 })]);
    check((x, w, b) => groupNorm(x, 2, w, b), [randn([2, 4, 5], { seed: 9, ...f64 }), randn([4], { seed: 10, ...f64 }), randn([4], { seed: 11, ...f64 })]);
    check((w) => embedding(int32([0, 2, 2, 1]), w, { paddingIdx: 2 }), [randn([3, 4], { seed: 12, ...f64 })]);
  });
});

// ---- vmap ------------------------------------------------------------------------------------

describe('vmap over a batch equals a loop', () => {
  const close = (a: Tensor, b: Tensor) => expectAllClose(a, values(b), { shape: b.shape, rtol: 1e-12, atol: 1e-12 });
  const loop = (B: number, f: (i: number) => Tensor) => stack(Array.from({ length: B }, (_, i) => f(i)));
  const row = (t: Tensor, i: number) => t.slice([[i, i + 1]]).squeeze(0);

  it('conv1d: batched input, batched weights, both', () => {
    const opts = { stride: 2, padding: 1, dilation: 2, groups: 2 };
    const xs = randn([3, 2, 4, 9], { seed: 1, ...f64 });
    const ws = randn([3, 4, 2, 3], { seed: 2, ...f64 });
    const b = randn([4], { seed: 3, ...f64 });
    close(vmap((x: Tensor) => conv1d(x, row(ws, 0), b, opts))(xs), loop(3, (i) => conv1d(row(xs, i), row(ws, 0), b, opts)));
    close(vmap((w: Tensor) => conv1d(row(xs, 0), w, b, opts))(ws), loop(3, (i) => conv1d(row(xs, 0), row(ws, i), b, opts)));
    close(vmap((x: Tensor, w: Tensor) => conv1d(x, w, b, opts))(xs, ws), loop(3, (i) => conv1d(row(xs, i), row(ws, i), b, opts)));
  });

  it('convTranspose2d: batched input, batched weights, both, on both paths', () => {
    for (const opts of [{ stride: 2, padding: 1, outputPadding: 1, groups: 2 }, { dilation: 3, outputPadding: 2, padding: 1, groups: 2 }]) {
      const xs = randn([3, 2, 4, 3, 3], { seed: 4, ...f64 });
      const ws = randn([3, 4, 1, 3, 3], { seed: 5, ...f64 });
      const b = randn([2], { seed: 6, ...f64 });
      close(vmap((x: Tensor) => convTranspose2d(x, row(ws, 0), b, opts))(xs), loop(3, (i) => convTranspose2d(row(xs, i), row(ws, 0), b, opts)));
      close(vmap((w: Tensor) => convTranspose2d(row(xs, 0), w, b, opts))(ws), loop(3, (i) => convTranspose2d(row(xs, 0), row(ws, i), b, opts)));
      close(vmap((x: Tensor, w: Tensor) => convTranspose2d(x, w, b, opts))(xs, ws), loop(3, (i) => convTranspose2d(row(xs, i), row(ws, i), b, opts)));
    }
  });

  it('groupNorm: batched input and batched affine parameters', () => {
    const xs = randn([3, 2, 6, 4], { seed: 7, ...f64 });
    const ws = randn([3, 6], { seed: 8, ...f64 });
    const b = randn([6], { seed: 9, ...f64 });
    close(vmap((x: Tensor) => groupNorm(x, 3, row(ws, 0), b))(xs), loop(3, (i) => groupNorm(row(xs, i), 3, row(ws, 0), b)));
    close(vmap((x: Tensor, w: Tensor) => groupNorm(x, 3, w, b))(xs, ws), loop(3, (i) => groupNorm(row(xs, i), 3, row(ws, i), b)));
  });

  it('embedding: batched indices, batched tables, both, with a padding row', () => {
    const idx = int32([0, 1, 4, 4, 2, 0, 3, 3, 1], [3, 3]);
    const ws = randn([3, 5, 2], { seed: 10, ...f64 });
    const opts = { paddingIdx: 4 };
    close(vmap((i: Tensor) => embedding(i, row(ws, 0), opts))(idx), loop(3, (i) => embedding(row(idx, i), row(ws, 0), opts)));
    close(vmap((w: Tensor) => embedding(row(idx, 0), w, opts))(ws), loop(3, (i) => embedding(row(idx, 0), row(ws, i), opts)));
    close(vmap((i: Tensor, w: Tensor) => embedding(i, w, opts))(idx, ws), loop(3, (i) => embedding(row(idx, i), row(ws, i), opts)));
    // The padding row gets no gradient inside vmap either.
    const gs = vmap(grad((w: Tensor, i: Tensor) => embedding(i, w, opts).sum()), { inAxes: [null, 0] })(row(ws, 0), idx) as Tensor;
    expect(values(gs.slice([null, [4, 5]]))).toEqual([0, 0, 0, 0, 0, 0]);
    expect(() => vmap((i: Tensor) => embedding(i, row(ws, 0)))(int32([0, 5, 1], [3, 1]))).toThrow(/out of range/);
  });
});

// ---- per-sample gradients --------------------------------------------------------------------

/** Sample i's gradient as a batch of one (the reference perSampleGrads must equal). */
function loopReference(model: Module, x: Tensor, targets: number[]): Tensor[][] {
  const params = model.parameters();
  return targets.map((t, i) => gradients([crossEntropy(model.forward(x.slice([[i, i + 1]])), [t], 'sum')], params, { allowUnused: true }));
}

function expectPerSample(model: Module, x: Tensor, targets: number[], rows: Map<string, Tensor> | Record<string, Tensor>): void {
  const get = (name: string) => (rows instanceof Map ? rows.get(name)! : rows[name]!);
  const reference = loopReference(model, x, targets);
  const batch = gradients([crossEntropy(model.forward(x), targets, 'mean')], model.parameters());
  model.namedParameters().forEach(([name, p], k) => {
    const r = get(name);
    expect(r.shape, name).toEqual([targets.length, ...p.shape]);
    targets.forEach((_, i) => expectAllClose(r.slice([[i, i + 1]]).squeeze(0), values(reference[i]![k]!), { rtol: 1e-10, atol: 1e-12, what: `${name} row ${i}` }));
    // The rows average to the batch gradient of the mean loss.
    expectAllClose(r.mean(0), values(batch[k]!), { rtol: 1e-10, atol: 1e-12, what: `${name}: mean of the rows` });
  });
}

describe('per-sample gradients', () => {
  const B = 3;
  const targets = [2, 0, 1];
  const models: [string, () => Module, number[]][] = [
    ['Conv1d', () => new Sequential(new Conv1d(2, 4, 3, { seed: 1, padding: 1, stride: 2, groups: 2, ...f64 }), new Tanh(), new Flatten(), new Linear(12, 3, { seed: 2, ...f64 })), [B, 2, 6]],
    ['ConvTranspose2d', () => new Sequential(new ConvTranspose2d(2, 4, 3, { seed: 3, stride: 2, padding: 1, outputPadding: 1, groups: 2, ...f64 }), new Tanh(), new Flatten(), new Linear(64, 3, { seed: 4, ...f64 })), [B, 2, 2, 2]],
    ['ConvTranspose2d (outputPadding ≥ stride)', () => new Sequential(new ConvTranspose2d(2, 2, 2, { seed: 5, dilation: 3, outputPadding: 2, padding: 1, ...f64 }), new Tanh(), new Flatten(), new Linear(72, 3, { seed: 6, ...f64 })), [B, 2, 3, 3]],
    ['GroupNorm', () => new Sequential(new GroupNorm(2, 4, f64), new Tanh(), new Flatten(), new Linear(20, 3, { seed: 7, ...f64 })), [B, 4, 5]],
  ];

  it.each(models)('perSampleGrads through %s equals the loop over batches of one, and averages to the batch gradient', (_name, make, shape) => {
    const model = make();
    // Non-trivial affine parameters for GroupNorm.
    noGrad(() => {
      for (const [name, p] of model.namedParameters()) if (name.startsWith('0.')) p.add_(randn(p.shape, { seed: 11, ...f64 }).mul(0.5));
    });
    const x = randn(shape, { seed: 12, ...f64 });
    const result = perSampleGrads(model, { x, targets });
    expectPerSample(model, x, targets, result.grads!);
    // Chunks of two samples and one give the same rows.
    const chunked = perSampleGrads(model, { x, targets }, { chunkSize: 2 }).grads!;
    for (const [name, rows] of result.grads!) expectAllClose(chunked.get(name)!, values(rows), { rtol: 1e-13, atol: 1e-14, what: `${name} (chunkSize 2)` });
  });

  it.each(models)('vmap(grad) through functionalCall equals the loop: %s', (_name, make, shape) => {
    const model = make();
    const x = randn(shape, { seed: 13, ...f64 });
    const loss = (p: Record<string, Tensor>, xi: Tensor, yi: Tensor) => crossEntropy(functionalCall(model, p, xi.unsqueeze(0)), yi.unsqueeze(0));
    const rows = vmap(grad(loss), { inAxes: [null, 0, 0] })(parametersByName(model), x, int32(targets)) as unknown as Record<string, Tensor>;
    expectPerSample(model, x, targets, rows);
  });

  it('Embedding: vmap(grad) through functionalCall equals the loop; the padding row gets 0 in every row', () => {
    const model = new Sequential(new Embedding(6, 3, { seed: 8, paddingIdx: 0, ...f64 }), new Flatten(), new Linear(12, 3, { seed: 9, ...f64 }));
    const x = int32([1, 0, 5, 5, 2, 2, 0, 0, 3, 4, 1, 1], [3, 4]);
    const loss = (p: Record<string, Tensor>, xi: Tensor, yi: Tensor) => crossEntropy(functionalCall(model, p, xi.unsqueeze(0)), yi.unsqueeze(0));
    const rows = vmap(grad(loss), { inAxes: [null, 0, 0] })(parametersByName(model), x, int32(targets)) as unknown as Record<string, Tensor>;
    expectPerSample(model, x, targets, rows);
    expect(values(rows['0.weight']!.slice([null, [0, 1]]))).toEqual(new Array(9).fill(0));
  });
});

// ---- modules ---------------------------------------------------------------------------------

describe('modules: PyTorch names, shapes and initialisation', () => {
  const shapes = (m: Module) => m.namedParameters().map(([n, p]) => [n, p.shape]);
  /**
   * U(±bound): nothing beyond the bound and the largest |v| near it (for n draws the largest
   * falls below (1 − δ)·bound with probability (1 − δ)^n), so a bound off by √2 fails either way.
   */
  const uniformWithin = (t: Tensor, bound: number, delta: number) => {
    const m = Math.max(...values(t).map(Math.abs));
    expect(m).toBeLessThanOrEqual(bound);
    expect(m).toBeGreaterThan((1 - delta) * bound);
  };

  it('Conv1d: weight [Cout, Cin/groups, k] and bias [Cout], U(±1/√(Cin/groups·k))', () => {
    const m = new Conv1d(4, 6, 3, { seed: 0, groups: 2 });
    expect(shapes(m)).toEqual([['weight', [6, 2, 3]], ['bias', [6]]]);
    const big = new Conv1d(8, 32, 3, { seed: 1, groups: 2 }); // fan_in 4·3 = 12: weight 384 draws, bias 32
    uniformWithin(big.parameters()[0]!, 1 / Math.sqrt(12), 0.05);
    uniformWithin(big.parameters()[1]!, 1 / Math.sqrt(12), 0.25);
    expect(shapes(new Conv1d(2, 3, 1, { seed: 0, bias: false }))).toEqual([['weight', [3, 2, 1]]]);
    const x = randn([2, 4, 9], { seed: 1 });
    expect(m.forward(x).shape).toEqual([2, 6, 7]);
    expect(new Conv1d(4, 6, 3, { seed: 0, padding: 1, stride: 2, dilation: 2 }).forward(x).shape).toEqual([2, 6, 4]);
  });

  it('ConvTranspose2d: weight [Cin, Cout/groups, kh, kw], U(±1/√(Cout/groups·kh·kw)) as torch computes fan_in', () => {
    const m = new ConvTranspose2d(4, 6, [2, 3], { seed: 0, groups: 2, stride: 2 });
    expect(shapes(m)).toEqual([['weight', [4, 3, 2, 3]], ['bias', [6]]]);
    // fan_in (Cout/groups)·kh·kw = 16·6 = 96; Cin-based fans would be 4·6 = 24 or 8·6 = 48.
    const big = new ConvTranspose2d(8, 32, [2, 3], { seed: 1, groups: 2 }); // weight 768 draws, bias 32
    uniformWithin(big.parameters()[0]!, 1 / Math.sqrt(96), 0.05);
    uniformWithin(big.parameters()[1]!, 1 / Math.sqrt(96), 0.25);
    expect(m.forward(randn([1, 4, 3, 3], { seed: 1 })).shape).toEqual([1, 6, 6, 7]);
    expect(new ConvTranspose2d(8, 4, 4, { seed: 0, stride: 2, padding: 1 }).forward(randn([1, 8, 5, 6], { seed: 2 })).shape).toEqual([1, 4, 10, 12]);
  });

  it('GroupNorm: weight ones, bias zeros [C]; none without affine', () => {
    const m = new GroupNorm(2, 4, f64);
    expect(shapes(m)).toEqual([['weight', [4]], ['bias', [4]]]);
    expect(values(m.parameters()[0]!)).toEqual([1, 1, 1, 1]);
    expect(values(m.parameters()[1]!)).toEqual([0, 0, 0, 0]);
    expect(new GroupNorm(2, 4, { affine: false }).parameters()).toEqual([]);
    const x = randn([2, 4, 3], { seed: 3, ...f64 });
    expectAllClose(m.forward(x), groupNormReference(x, 2, null, null, 1e-5), { rtol: 1e-12, atol: 1e-13 });
  });

  it('Embedding: weight [V, D] ~ N(0, 1), the padding row zero (negative paddingIdx counts from the end)', () => {
    const m = new Embedding(400, 5, { seed: 0, paddingIdx: -1, ...f64 });
    expect(shapes(m)).toEqual([['weight', [400, 5]]]);
    expect(m.paddingIdx).toBe(399);
    const w = values(m.parameters()[0]!);
    expect(w.slice(399 * 5)).toEqual([0, 0, 0, 0, 0]);
    const body = w.slice(0, 399 * 5);
    const mean = body.reduce((a, b) => a + b, 0) / body.length;
    const variance = body.reduce((a, b) => a + (b - mean) ** 2, 0) / body.length;
    // 1995 draws: the sample mean is within 4 standard errors (0.09) of 0 and the variance within 0.15 of 1.
    expect(Math.abs(mean)).toBeLessThan(0.09);
    expect(Math.abs(variance - 1)).toBeLessThan(0.15);
    expect(values(new Embedding(400, 5, { seed: 0, ...f64 }).parameters()[0]!)).not.toContain(0);
    const out = m.forward(int32([399, 3], [1, 2]));
    expect(out.shape).toEqual([1, 2, 5]);
    out.sum().backward();
    expect(values(m.parameters()[0]!.grad!.slice([[399, 400]]))).toEqual([0, 0, 0, 0, 0]);
    expect(values(m.parameters()[0]!.grad!.slice([[3, 4]]))).toEqual([1, 1, 1, 1, 1]);
  });

  it('the same seed gives the same parameters', () => {
    expect(values(new Conv1d(2, 3, 3, { seed: 4 }).parameters()[0]!)).toEqual(values(new Conv1d(2, 3, 3, { seed: 4 }).parameters()[0]!));
    expect(values(new Embedding(4, 2, { seed: 4 }).parameters()[0]!)).toEqual(values(new Embedding(4, 2, { seed: 4 }).parameters()[0]!));
  });
});

// ---- bad inputs --------------------------------------------------------------------------------

describe('bad inputs give errors naming the op, the expected and the given', () => {
  const x3 = randn([2, 4, 6], { seed: 1 });
  const x4 = randn([2, 4, 3, 3], { seed: 2 });

  it('conv1d', () => {
    expect(() => conv1d(x4, randn([2, 4, 3], { seed: 3 }))).toThrow(/conv1d: expected input \[N, Cin, L\] \(rank 3\); got \[2,4,3,3\]/);
    expect(() => conv1d(x3, randn([2, 4, 3, 1], { seed: 3 }))).toThrow(/conv1d: expected weight \[Cout, Cin\/groups, k\] \(rank 3\); got \[2,4,3,1\]/);
    expect(() => conv1d(x3, randn([3, 2, 3], { seed: 3 }), null, { groups: 2 })).toThrow(/conv1d: input \[2,4,6\] and weight \[3,2,3\] do not fit groups=2/);
    expect(() => conv1d(x3, randn([2, 3, 3], { seed: 3 }))).toThrow(/Cin = weight\[1\]·groups = 3.*the input has Cin = 4/);
    expect(() => conv1d(x3, randn([2, 4, 4], { seed: 3 }), null, { dilation: 2 })).toThrow(/conv1d: the kernel of 4 taps \(dilation 2, span 7\) does not fit the padded length 6/);
    expect(() => conv1d(x3, randn([2, 4, 3], { seed: 3 }), randn([3], { seed: 4 }))).toThrow(/conv1d: expected bias of shape \[2\] \(Cout\); got \[3\]/);
    expect(() => conv1d(x3, randn([2, 4, 3], { seed: 3 }), null, { stride: 0 })).toThrow(/conv1d: expected stride to be an integer ≥ 1; got 0/);
    // conv2d takes (x, w, options); conv1d, like F.conv1d, takes the bias third.
    expect(() => conv1d(x3, randn([2, 4, 3], { seed: 3 }), { stride: 2 } as never)).toThrow(/conv1d: expected the bias \(3rd argument\) to be a Tensor or null \(the options come 4th: conv1d\(x, w, null, options\)\); got an object/);
    expect(() => conv1d(x3, randn([2, 4, 3], { seed: 3, ...f64 }))).toThrow(/conv1d: dtypes must match, got float32 and float64/);
    expect(() => new Conv1d(4, 3, 3, { seed: 0, groups: 2 })).toThrow(/Conv1d\(4 → 3\): groups must divide both channel counts; got groups=2/);
    expect(() => new Conv1d(4, 4, 3, { seed: 0 }).forward(x4)).toThrow(/Conv1d\(4 → 4, k3\): expected input \[N, 4, L\]; got \[2,4,3,3\]/);
  });

  it('convTranspose2d', () => {
    const w = randn([4, 2, 3, 3], { seed: 3 });
    expect(() => convTranspose2d(x3, w)).toThrow(/convTranspose2d: expected input \[N, Cin, H, W\] \(rank 4\); got \[2,4,6\]/);
    expect(() => convTranspose2d(x4, randn([4, 2, 3], { seed: 3 }))).toThrow(/convTranspose2d: expected weight \[Cin, Cout\/groups, kh, kw\] \(rank 4\); got \[4,2,3\]/);
    expect(() => convTranspose2d(x4, randn([3, 2, 3, 3], { seed: 3 }))).toThrow(/convTranspose2d: the input \[2,4,3,3\] has Cin = 4 channels but the weight \[3,2,3,3\] expects 3 \(weight\[0\] is Cin\)/);
    expect(() => convTranspose2d(x4, w, null, { groups: 3 })).toThrow(/convTranspose2d: Cin = 4 \(input \[2,4,3,3\]\) is not divisible by groups=3/);
    expect(() => convTranspose2d(x4, w, null, { outputPadding: 1 })).toThrow(
      /convTranspose2d: outputPadding must be smaller than stride or dilation on each axis \(as PyTorch requires\); got outputPadding \[1,1\] with stride \[1,1\] and dilation \[1,1\]/,
    );
    expect(() => convTranspose2d(x4, w, null, { stride: 2, outputPadding: [1, 2] })).toThrow(/outputPadding \[1,2\] with stride \[2,2\]/);
    expect(() => convTranspose2d(x4, w, null, { padding: 3 })).toThrow(/convTranspose2d: the output would be -1×-1/);
    expect(() => convTranspose2d(x4, w, randn([4], { seed: 4 }))).toThrow(/convTranspose2d: expected bias of shape \[2\] \(Cout\); got \[4\]/);
    expect(() => convTranspose2d(x4, w, { stride: 2 } as never)).toThrow(/convTranspose2d: expected the bias \(3rd argument\) to be a Tensor or null/);
    expect(() => new ConvTranspose2d(4, 2, 3, { seed: 0, stride: 2, outputPadding: 2 })).toThrow(/ConvTranspose2d: outputPadding must be smaller than stride or dilation/);
    expect(() => new ConvTranspose2d(4, 3, 3, { seed: 0, groups: 2 })).toThrow(/ConvTranspose2d\(4 → 3\): groups must divide both channel counts/);
  });

  it('groupNorm', () => {
    expect(() => groupNorm(randn([4], { seed: 1 }), 2)).toThrow(/groupNorm: expected input \[N, C, \*\] of rank ≥ 2; got \[4\]/);
    expect(() => groupNorm(x3, 3)).toThrow(/groupNorm: the C = 4 channels of input \[2,4,6\] are not divisible by numGroups = 3/);
    expect(() => groupNorm(x3, 0)).toThrow(/groupNorm: expected numGroups to be an integer ≥ 1; got 0/);
    expect(() => groupNorm(x3, 2, null, null, NaN)).toThrow(/groupNorm: expected eps to be a finite number; got NaN/);
    expect(() => groupNorm(x3, 2, randn([3], { seed: 2 }))).toThrow(/groupNorm: expected weight of shape \[4\] \(C\); got \[3\]/);
    expect(() => groupNorm(x3, 2, null, randn([4, 1], { seed: 2 }))).toThrow(/groupNorm: expected bias of shape \[4\] \(C\); got \[4,1\]/);
    expect(() => new GroupNorm(3, 4)).toThrow(/GroupNorm: numChannels = 4 must be divisible by numGroups = 3/);
    expect(() => new GroupNorm(2, 4).forward(randn([2, 6, 3], { seed: 3 }))).toThrow(/GroupNorm\(2, 4\): expected input \[N, 4, \*\] \(rank ≥ 2\); got \[2,6,3\]/);
  });

  it('embedding', () => {
    const w = randn([5, 2], { seed: 1 });
    expect(() => embedding(randn([3], { seed: 2 }), w)).toThrow(/embedding: indices must be an int32 tensor; got float32/);
    expect(() => embedding(int32([0, 5, 1]), w)).toThrow(/embedding: index 5 is out of range for 5 embeddings \(expected 0 … 4\), at flat position 1 of indices \[3\]/);
    expect(() => embedding(int32([-1]), w)).toThrow(/embedding: index -1 is out of range/);
    expect(() => embedding(int32([0]), randn([5], { seed: 3 }))).toThrow(/embedding: expected weight \[numEmbeddings, embeddingDim\] \(rank 2\); got \[5\]/);
    expect(() => embedding(int32([0]), w, { paddingIdx: 5 })).toThrow(/embedding: paddingIdx must be in \[−5, 5\) for 5 embeddings; got 5/);
    expect(() => embedding(int32([0]), w, { paddingIdx: 1.5 })).toThrow(/embedding: expected paddingIdx to be an integer; got 1.5/);
    expect(() => new Embedding(5, 2, { seed: 0, paddingIdx: -6 })).toThrow(/Embedding: paddingIdx must be in \[−5, 5\)/);
    expect(() => new Embedding(5, 2, {} as never)).toThrow(/Embedding: a layer with weights needs \{ seed \}/);
    expect(() => new Embedding(5, 2, { seed: 0 }).forward(randn([2], { seed: 1 }))).toThrow(/Embedding\(5, 2\): expected int32 indices; got float32/);
  });
});
