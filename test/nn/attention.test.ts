/**
 * LayerNorm, scaled dot-product attention and multi-head attention: the attention table covers
 * the PyTorch golden values (oracle family 9, their half of layers_ext.json; they run in float64
 * and float32 on cpu and wasm in the oracle matrix of test/oracle.test.ts), plain-JS references
 * in float64, float64 finite differences of first and second order, PyTorch's mask
 * conventions, vmap against a loop, PyTorch's initialisation, and the errors for bad shapes.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  DTypeError,
  LayerNorm,
  MultiheadAttention,
  ShapeError,
  ValueError,
  attentionWeights,
  gradients,
  jvp,
  layerNorm,
  multiheadAttention,
  scaledDotProductAttention,
  stack,
  tensor,
  vmap,
  type Tensor,
} from '../../src/index.js';
import type { OracleCase } from '../../packages/lab/src/cli/oracle/format.js';
import { ATTENTION_LAYERS } from '../../packages/lab/src/cli/oracle/families/layers-ext-attention.js';
import { mulberry32 } from '../arbitraries.js';
import { expectAllClose, gradcheck, gradgradcheck, randomTensor } from '../gradcheck.js';

const values = (t: Tensor) => Array.from(t.toTypedArray());
const int32 = (data: number[], shape: number[]) => tensor(Int32Array.from(data), { shape, dtype: 'int32' });

// ---- the oracle ---------------------------------------------------------------------------

const file = fileURLToPath(new URL('../../packages/lab/oracle/layers_ext.json', import.meta.url));
const cases = (JSON.parse(readFileSync(file, 'utf8')) as OracleCase[]).filter((c) => ATTENTION_LAYERS.has(c.config.op));

it('the attention table covers the 18 oracle cases of its four ops', () => {
  expect(cases.length).toBe(18);
  expect(new Set(cases.map((c) => c.config.op))).toEqual(new Set(ATTENTION_LAYERS.keys()));
});

// Every case runs in float64 (the file's tolerances) and float32 (the runner's), on the pure
// TypeScript backend and on WebAssembly, in the oracle matrix of test/oracle.test.ts.

// ---- layerNorm ----------------------------------------------------------------------------

/** LN over the last `k` axes of a row-major array, by its definition. */
function refLayerNorm(x: number[], k: number, w: number[] | null, b: number[] | null, eps: number): number[] {
  const n = w ? w.length : k;
  const out: number[] = [];
  for (let r = 0; r < x.length / n; r++) {
    const row = x.slice(r * n, (r + 1) * n);
    const mu = row.reduce((s, v) => s + v, 0) / n;
    const variance = row.reduce((s, v) => s + (v - mu) ** 2, 0) / n;
    row.forEach((v, i) => out.push(((v - mu) / Math.sqrt(variance + eps)) * (w ? w[i]! : 1) + (b ? b[i]! : 0)));
  }
  return out;
}

describe('layerNorm', () => {
  const rng = mulberry32(7);
  const x = randomTensor([2, 3, 2, 4], rng);
  const w = randomTensor([2, 4], rng);
  const b = randomTensor([2, 4], rng);

  it('normalises over the last axes by the definition (biased variance, eps inside the root)', () => {
    expectAllClose(layerNorm(x, [2, 4], w, b, 1e-3), refLayerNorm(values(x), 8, values(w), values(b), 1e-3), { rtol: 1e-12, atol: 1e-13 });
    expectAllClose(layerNorm(x, 4), refLayerNorm(values(x), 4, null, null, 1e-5), { rtol: 1e-12, atol: 1e-13 });
  });

  it('the LayerNorm module: ones and zeros, normalized over its shape, no affine on request', () => {
    const ln = new LayerNorm([2, 4], { dtype: 'float64', eps: 1e-3 });
    expect(ln.namedParameters().map(([n, p]) => [n, p.shape, values(p).every((v) => v === (n === 'weight' ? 1 : 0))])).toEqual([
      ['weight', [2, 4], true],
      ['bias', [2, 4], true],
    ]);
    expectAllClose(ln.forward(x), refLayerNorm(values(x), 8, null, null, 1e-3), { rtol: 1e-12, atol: 1e-13 });
    expect(new LayerNorm(4, { elementwiseAffine: false }).numParameters()).toBe(0);
  });

  it('has float64 gradients in x, weight and bias, and second derivatives (HVPs) through them', () => {
    const small = randomTensor([3, 5], rng);
    const w5 = randomTensor([5], rng);
    const b5 = randomTensor([5], rng);
    const f = (x: Tensor, w: Tensor, bb: Tensor) => layerNorm(x, [5], w, bb, 1e-5);
    gradcheck(f, [small, w5, b5], { name: 'layerNorm', argNames: ['x', 'weight', 'bias'], samples: 6 });
    gradgradcheck(f, [small, w5, b5], { name: 'layerNorm', argNames: ['x', 'weight', 'bias'], samples: 6 });
  });

  it('refuses a normalized shape that is not the last axes, bad parameters and eps', () => {
    expect(() => layerNorm(x, [3, 4])).toThrow(ShapeError);
    expect(() => layerNorm(x, [3, 4])).toThrow(/layerNorm: expected an input whose last 2 axes are \[3,4\].*got \[2,3,2,4\]/);
    expect(() => layerNorm(x, [])).toThrow(/normalizedShape must be a non-empty list/);
    expect(() => layerNorm(x, [2, 4], randomTensor([4], rng))).toThrow(/weight must have the normalized shape \[2,4\]; got \[4\]/);
    expect(() => layerNorm(x, [2, 4], w.to('float32'))).toThrow(DTypeError);
    expect(() => layerNorm(x, 4, null, null, -1)).toThrow(/eps ≥ 0/);
    expect(() => new LayerNorm(4, { dtype: 'float64' }).forward(x.slice([null, null, null, [0, 3]]))).toThrow(/LayerNorm\(\[4\]\): expected input \[\.\.\., 4\]; got \[2,3,2,3\]/);
  });
});

// ---- scaledDotProductAttention --------------------------------------------------------------

/**
 * softmax(q kᵀ·scale + add, masked) v for one [Lq, d] × [Lk, d] × [Lk, dv] slice, by loops;
 * `allowed(i, j)` false masks key j for query i.
 */
function refAttention(q: number[], k: number[], v: number[], Lq: number, Lk: number, d: number, dv: number, scale: number, add: (i: number, j: number) => number, allowed: (i: number, j: number) => boolean): { out: number[]; p: number[] } {
  const out: number[] = [];
  const p: number[] = [];
  for (let i = 0; i < Lq; i++) {
    const s: number[] = [];
    for (let j = 0; j < Lk; j++) {
      let dot = 0;
      for (let c = 0; c < d; c++) dot += q[i * d + c]! * k[j * d + c]!;
      s.push(allowed(i, j) ? dot * scale + add(i, j) : -Infinity);
    }
    const m = Math.max(...s);
    const e = s.map((x) => Math.exp(x - m));
    const z = e.reduce((a, b) => a + b, 0);
    e.forEach((x) => p.push(x / z));
    for (let c = 0; c < dv; c++) {
      let o = 0;
      for (let j = 0; j < Lk; j++) o += (e[j]! / z) * v[j * dv + c]!;
      out.push(o);
    }
  }
  return { out, p };
}

describe('scaledDotProductAttention', () => {
  const rng = mulberry32(11);
  const [B, H, L, d] = [2, 3, 4, 5];
  const q = randomTensor([B, H, L, d], rng);
  const k = randomTensor([B, H, L, d], rng);
  const v = randomTensor([B, H, L, 2], rng);
  const slice = (t: Tensor, b: number, h: number) => values(t.slice([[b, b + 1], [h, h + 1]]));

  it('is softmax(q kᵀ/√d) v slice by slice, with the causal mask and a boolean mask (nonzero = attend)', () => {
    // Key padding for sample 1: its last key is masked for every head and query.
    const keep = int32([1, 1, 1, 1, 1, 1, 1, 0], [B, 1, 1, L]);
    for (const [options, allowed] of [
      [{}, () => true],
      [{ isCausal: true }, (_b: number, i: number, j: number) => j <= i],
      [{ attnMask: keep }, (b: number, _i: number, j: number) => !(b === 1 && j === 3)],
      [{ attnMask: keep, isCausal: true, scale: 0.3 }, (b: number, i: number, j: number) => j <= i && !(b === 1 && j === 3)],
    ] as const) {
      const out = scaledDotProductAttention(q, k, v, options);
      const A = attentionWeights(q, k, options);
      const scale = 'scale' in options ? options.scale : 1 / Math.sqrt(d);
      const expectedOut: number[] = [];
      const expectedA: number[] = [];
      for (let b = 0; b < B; b++) {
        for (let h = 0; h < H; h++) {
          const r = refAttention(slice(q, b, h), slice(k, b, h), slice(v, b, h), L, L, d, 2, scale, () => 0, (i, j) => (allowed as (b: number, i: number, j: number) => boolean)(b, i, j));
          expectedOut.push(...r.out);
          expectedA.push(...r.p);
        }
      }
      expectAllClose(out, expectedOut, { rtol: 1e-12, atol: 1e-14, shape: [B, H, L, 2], what: JSON.stringify(Object.keys(options)) });
      expectAllClose(A, expectedA, { rtol: 1e-12, atol: 1e-14, shape: [B, H, L, L] });
    }
  });

  it('adds a float mask, and −∞ there is the same as a boolean mask: probability exactly 0, no gradient', () => {
    const bias = randomTensor([L, L], rng);
    const expected: number[] = [];
    for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) expected.push(...refAttention(slice(q, b, h), slice(k, b, h), slice(v, b, h), L, L, d, 2, 1 / Math.sqrt(d), (i, j) => bias.toTypedArray()[i * L + j]!, () => true).out);
    expectAllClose(scaledDotProductAttention(q, k, v, { attnMask: bias }), expected, { rtol: 1e-12, atol: 1e-14 });

    const minusInf = tensor(Float64Array.from({ length: L * L }, (_, n) => (n % L > Math.floor(n / L) ? -Infinity : 0)), { shape: [L, L], dtype: 'float64' });
    const A = attentionWeights(q, k, { attnMask: minusInf });
    expect(values(A)).toEqual(values(attentionWeights(q, k, { isCausal: true })));
    expect(values(A).filter((_, n) => n % L > Math.floor(n / L) % L).every((p) => p === 0)).toBe(true);
    // The gradient of a masked key's value is exactly 0 for the queries that cannot see it.
    const kk = k.detach().requireGrad();
    scaledDotProductAttention(q, kk, v, { isCausal: true }).slice([null, null, [0, 1]]).sum().backward();
    expect(values(kk.grad!.slice([null, null, [1, L]])).every((g) => g === 0)).toBe(true);
  });

  it('gives NaN for a query whose keys are all masked, as PyTorch\'s reference implementation', () => {
    const none = int32([0, 0, 0, 0], [1, L]);
    expect(values(scaledDotProductAttention(q, k, v, { attnMask: none })).every(Number.isNaN)).toBe(true);
  });

  it('broadcasts the leading axes (one k, v for every head) and takes 3-d inputs', () => {
    const k1 = k.slice([null, [0, 1]]);
    const v1 = v.slice([null, [0, 1]]);
    const out = scaledDotProductAttention(q, k1, v1);
    expectAllClose(out, values(scaledDotProductAttention(q, k1.expand([B, H, L, d]), v1.expand([B, H, L, 2]))), { rtol: 1e-14, atol: 1e-15 });
    expect(scaledDotProductAttention(q.slice([null, [0, 1]]).squeeze(1), k1.squeeze(1), v1.squeeze(1)).shape).toEqual([B, L, 2]);
  });

  it('has float64 gradients in q, k, v and a float mask, and second derivatives, with causal and boolean masks', () => {
    const small = (s: number[]) => randomTensor(s, rng);
    const [qs, ks, vs, bias] = [small([2, 3, 2]), small([2, 4, 2]), small([2, 4, 3]), small([3, 4])];
    const keep = int32([1, 1, 0, 1, 1, 1, 1, 0], [2, 1, 4]);
    const f = (q: Tensor, k: Tensor, v: Tensor, bb: Tensor) => scaledDotProductAttention(q, k, v, { attnMask: bb, isCausal: true, scale: 0.7 });
    gradcheck(f, [qs, ks, vs, bias], { name: 'sdpa', argNames: ['q', 'k', 'v', 'bias'], samples: 5 });
    gradgradcheck(f, [qs, ks, vs, bias], { name: 'sdpa', argNames: ['q', 'k', 'v', 'bias'], samples: 3 });
    const g = (q: Tensor, k: Tensor, v: Tensor) => scaledDotProductAttention(q, k, v, { attnMask: keep });
    gradcheck(g, [qs, ks, vs], { name: 'sdpa (boolean mask)', argNames: ['q', 'k', 'v'], samples: 5 });
  });

  it('forward mode: jvp agrees with the reverse-mode gradient, ⟨J t, c⟩ = ⟨t, Jᵀ c⟩ (and layerNorm too)', () => {
    const [qs, ks, vs, bias] = [randomTensor([2, 3, 2], rng), randomTensor([2, 4, 2], rng), randomTensor([2, 4, 3], rng), randomTensor([3, 4], rng)];
    const f = (q: Tensor, k: Tensor, v: Tensor, b: Tensor) => scaledDotProductAttention(q, k, v, { attnMask: b, isCausal: true });
    const g = (x: Tensor, w: Tensor) => layerNorm(x, [2], w, null);
    const checks: [(...xs: Tensor[]) => Tensor, Tensor[]][] = [
      [f as (...xs: Tensor[]) => Tensor, [qs, ks, vs, bias]],
      [g as (...xs: Tensor[]) => Tensor, [randomTensor([3, 2], rng), randomTensor([2], rng)]],
    ];
    for (const [fn, inputs] of checks) {
      const tangents = inputs.map((t) => randomTensor(t.shape, rng));
      const [out, tangentOut] = jvp(fn, inputs, tangents);
      const c = randomTensor(out.shape, rng);
      const leaves = inputs.map((t) => t.detach().requireGrad());
      const grads = gradients([fn(...leaves)], leaves, { gradOutputs: [c] });
      const forward = tangentOut.mul(c).sum().item();
      const reverse = grads.reduce((s, gr, i) => s + gr.mul(tangents[i]!).sum().item(), 0);
      expect(Math.abs(forward - reverse)).toBeLessThan(1e-12 * Math.max(1, Math.abs(reverse)));
    }
  });

  it('under vmap equals a loop over the samples, with a per-sample mask', () => {
    const keep = int32([1, 1, 1, 1, 1, 1, 0, 0], [B, L]);
    const f = (q: Tensor, k: Tensor, v: Tensor, m: Tensor) => scaledDotProductAttention(q, k, v, { attnMask: m.reshape([1, 1, L]), isCausal: true });
    const batched = vmap(f)(q, k, v, keep);
    const looped = stack(
      Array.from({ length: B }, (_, b) => {
        const at = (t: Tensor) => t.slice([[b, b + 1]]).squeeze(0);
        return f(at(q), at(k), at(v), at(keep));
      }),
    );
    expectAllClose(batched, values(looped), { rtol: 1e-14, atol: 1e-15, shape: [B, H, L, 2] });
  });

  it('names the problem: feature sizes, key counts, batch axes, masks and dtypes', () => {
    expect(() => scaledDotProductAttention(q, k.slice([null, null, null, [0, 4]]), v)).toThrow(/scaledDotProductAttention: q and k must have the same feature size d/);
    expect(() => scaledDotProductAttention(q, k, v.slice([null, null, [0, 3]]))).toThrow(/k and v must have the same number of keys Lk/);
    expect(() => scaledDotProductAttention(q, k.slice([[0, 1], [0, 2]]), v.slice([[0, 1], [0, 2]]))).toThrow(/leading \(batch\) axes of q, k and v cannot be broadcast/);
    expect(() => scaledDotProductAttention(q, k, v, { attnMask: int32([1, 1, 1], [1, 3]) })).toThrow(ShapeError);
    expect(() => scaledDotProductAttention(q, k, v, { attnMask: int32([1, 1, 1], [1, 3]) })).toThrow(/attnMask of shape \[1,3\] cannot be broadcast to the attention scores \[2,3,4,4\]/);
    expect(() => scaledDotProductAttention(q, k, v, { attnMask: randomTensor([L, L], rng).to('float32') })).toThrow(/attnMask must be int32 \(a boolean mask\) or float64/);
    expect(() => scaledDotProductAttention(q, k.to('float32'), v)).toThrow(DTypeError);
    expect(() => scaledDotProductAttention(q.reshape([-1]), k, v)).toThrow(/expected q \[\.\.\., Lq, d\]/);
    expect(() => scaledDotProductAttention(q, k, v, { scale: Number.NaN })).toThrow(ValueError);
  });
});

// ---- multiheadAttention / MultiheadAttention --------------------------------------------------

describe('MultiheadAttention', () => {
  const rng = mulberry32(23);
  const E = 6;
  const h = 3;
  const params = () => ({
    inProjWeight: randomTensor([3 * E, E], rng),
    inProjBias: randomTensor([3 * E], rng),
    outProjWeight: randomTensor([E, E], rng),
    outProjBias: randomTensor([E], rng),
  });

  it('has PyTorch\'s parameter names, shapes and initialisation', () => {
    const mha = new MultiheadAttention(64, 4, { seed: 5, dtype: 'float64' });
    expect(mha.namedParameters().map(([n, p]) => [n, p.shape])).toEqual([
      ['in_proj_weight', [192, 64]],
      ['in_proj_bias', [192]],
      ['out_proj.weight', [64, 64]],
      ['out_proj.bias', [64]],
    ]);
    const [W, bIn, Wo, bOut] = mha.parameters().map(values) as [number[], number[], number[], number[]];
    // Xavier-uniform over fan_in 64, fan_out 192: bound √(6/256); out_proj: U(±1/√64); biases 0.
    const xavier = Math.sqrt(6 / 256);
    expect(Math.max(...W.map(Math.abs))).toBeLessThanOrEqual(xavier);
    expect(Math.max(...W.map(Math.abs))).toBeGreaterThan(0.95 * xavier);
    expect(Math.max(...Wo.map(Math.abs))).toBeLessThanOrEqual(1 / 8);
    expect(Math.max(...Wo.map(Math.abs))).toBeGreaterThan(0.95 / 8);
    expect(bIn.every((b) => b === 0) && bOut.every((b) => b === 0)).toBe(true);
    // Independent draws: out_proj.weight is not a copy of a block of in_proj_weight.
    expect(Wo.slice(0, 8)).not.toEqual(W.slice(0, 8));
    expect(new MultiheadAttention(8, 2, { seed: 0, bias: false }).namedParameters().map(([n]) => n)).toEqual(['in_proj_weight', 'out_proj.weight']);
  });

  it('self-attention (one projection, sliced) equals cross-attention on copies (the weight sliced)', () => {
    const p = params();
    const x = randomTensor([2, 4, E], rng);
    const self = multiheadAttention(x, x, x, h, p, { isCausal: true });
    const cross = multiheadAttention(x, x.clone(), x.clone(), h, p, { isCausal: true });
    expectAllClose(self.output, values(cross.output), { rtol: 1e-13, atol: 1e-14 });
    expectAllClose(self.weights!, values(cross.weights!), { rtol: 1e-13, atol: 1e-14, shape: [2, 4, 4] });
  });

  it('takes masks in nn.MultiheadAttention\'s convention: nonzero = masked out; float = added', () => {
    const p = params();
    const [query, key, value] = [randomTensor([2, 3, E], rng), randomTensor([2, 5, E], rng), randomTensor([2, 5, E], rng)];
    const padded = int32([0, 0, 0, 1, 1, 0, 1, 0, 0, 0], [2, 5]);
    const asFloat = tensor(Float64Array.from(values(padded), (m) => (m ? -Infinity : 0)), { shape: [2, 5], dtype: 'float64' });
    const a = multiheadAttention(query, key, value, h, p, { keyPaddingMask: padded, averageAttnWeights: false });
    const b = multiheadAttention(query, key, value, h, p, { keyPaddingMask: asFloat, averageAttnWeights: false });
    expect(values(a.output)).toEqual(values(b.output));
    expect(a.weights!.shape).toEqual([2, h, 3, 5]);
    const w = values(a.weights!);
    // Sample 0's keys 3, 4 and sample 1's key 1 get probability 0 in every head and query.
    w.forEach((pr, n) => {
      const [s, , , j] = [Math.floor(n / (h * 15)), 0, 0, n % 5];
      if (values(padded)[s * 5 + j]) expect(pr).toBe(0);
    });
    // A per-(sample, head) attn_mask [B·h, Lq, Lk] that repeats the padding is the same call.
    const perHead = tensor(Int32Array.from({ length: 2 * h * 3 * 5 }, (_, n) => values(padded)[Math.floor(n / (h * 15)) * 5 + (n % 5)]!), { shape: [2 * h, 3, 5], dtype: 'int32' });
    expectAllClose(multiheadAttention(query, key, value, h, p, { attnMask: perHead }).output, values(a.output), { rtol: 1e-14, atol: 1e-15 });
  });

  it('runs an unbatched call [L, E] as a batch of one, and vmap over samples equals the batched call', () => {
    const mha = new MultiheadAttention(E, h, { seed: 2, dtype: 'float64' });
    const x = randomTensor([3, 4, E], rng);
    const batched = mha.forward(x);
    expectAllClose(mha.forward(x.slice([[1, 2]]).squeeze(0)), values(batched.slice([[1, 2]])), { rtol: 1e-14, atol: 1e-15, shape: [4, E] });
    expectAllClose(vmap((xi: Tensor) => mha.forward(xi))(x), values(batched), { rtol: 1e-13, atol: 1e-14, shape: [3, 4, E] });
  });

  it('has float64 gradients in query, key, value and every parameter (cross-attention, masks), and second derivatives', () => {
    const p = params();
    const [query, key, value] = [randomTensor([2, 2, E], rng), randomTensor([2, 3, E], rng), randomTensor([2, 3, E], rng)];
    const padded = int32([0, 0, 1, 0, 1, 0], [2, 3]);
    const f = (q: Tensor, k: Tensor, v: Tensor, W: Tensor, b: Tensor, Wo: Tensor, bo: Tensor) =>
      multiheadAttention(q, k, v, h, { inProjWeight: W, inProjBias: b, outProjWeight: Wo, outProjBias: bo }, { keyPaddingMask: padded }).output;
    const inputs = [query, key, value, p.inProjWeight, p.inProjBias, p.outProjWeight, p.outProjBias];
    const argNames = ['query', 'key', 'value', 'in_proj_weight', 'in_proj_bias', 'out_proj.weight', 'out_proj.bias'];
    gradcheck(f, inputs, { name: 'multiheadAttention', argNames, samples: 4 });
    const x = randomTensor([1, 3, E], rng);
    const selfAttention = (x: Tensor, W: Tensor) => multiheadAttention(x, x, x, h, { ...p, inProjWeight: W }, { isCausal: true }).output;
    gradgradcheck(selfAttention, [x, p.inProjWeight], { name: 'self-attention', argNames: ['x', 'in_proj_weight'], samples: 3 });
  });

  it('names the problem: heads that do not divide E, mask shapes, parameter shapes', () => {
    expect(() => new MultiheadAttention(6, 4, { seed: 0 })).toThrow(/MultiheadAttention: embedDim \(6\) must be divisible by numHeads \(4\)/);
    const p = params();
    const x = randomTensor([2, 4, E], rng);
    expect(() => multiheadAttention(x, x, x, 4, p)).toThrow(/E = 6 .* must be divisible by numHeads = 4/);
    expect(() => multiheadAttention(x, x, x, h, p, { keyPaddingMask: int32([0, 0, 0, 0], [1, 4]) })).toThrow(/keyPaddingMask must have shape \[2,4\] \(batch, keys\); got \[1,4\]/);
    expect(() => multiheadAttention(x, x, x, h, p, { attnMask: int32([0, 0, 0], [1, 3]) })).toThrow(/attnMask must have shape \[4,4\] or \[6,4,4\]/);
    expect(() => multiheadAttention(x, x, x, h, { ...p, inProjWeight: randomTensor([E, E], rng) })).toThrow(/inProjWeight must have shape \[18,6\]; got \[6,6\]/);
    expect(() => multiheadAttention(x, randomTensor([3, 4, E], rng), randomTensor([3, 4, E], rng), h, p)).toThrow(/same batch size/);
    expect(() => multiheadAttention(x, x, x, h, p, { keyPaddingMask: randomTensor([2, 4], rng).to('float32') })).toThrow(/keyPaddingMask must be int32 \(a boolean mask, nonzero = masked out\) or float64/);
    expect(() => new MultiheadAttention(E, h, { seed: 0, dtype: 'float64' }).forward(randomTensor([2, 4, 5], rng))).toThrow(/MultiheadAttention\(E 6, 3 heads\): expected query \[B, Lq, 6\]; got \[2,4,5\]/);
  });
});
