/**
 * einsum against a brute-force reference (a loop over every assignment of the labels) on
 * random equations — contractions, batch labels, outer products, diagonals, summed-away labels,
 * implicit outputs, size-1 broadcasting, three operands — and against matmul; float64 finite
 * differences of gradients and of gradients of gradients (the bilinear cross terms); vmap and
 * per-sample gradients through it; and the errors of malformed equations. The PyTorch oracle
 * cases run in test/scan-ops.test.ts (float64 and float32).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GradError, einsum, gradients, matmul, perSampleGradients, randn, tensor, vmap, type Tensor } from '../src/index.js';
import { jvp, jvpByDoubleVjp } from '../src/autograd/transforms.js';
import { expectAllClose, gradcheck, gradgradcheck } from './gradcheck.js';
import { matmulPair, mulberry32, ravel, unravel } from './arbitraries.js';

const f64 = { dtype: 'float64' as const };

function randomTensor(shape: number[], seed: number, permuted = false): Tensor {
  const rng = mulberry32(seed);
  const n = shape.reduce((p, d) => p * d, 1);
  const values = Float64Array.from({ length: n }, () => 2 * rng() - 1);
  if (!permuted || shape.length < 2) return tensor(values, { shape, ...f64 });
  const rev = shape.slice().reverse();
  return tensor(values, { shape: rev, ...f64 }).permute(rev.map((_, i) => rev.length - 1 - i));
}

/**
 * The definition, by brute force: for every assignment of the labels, add the product of the
 * operands' elements to the output element. Letters only (no '...'); size-1 dims broadcast.
 */
function reference(equation: string, operands: Tensor[]): { shape: number[]; values: number[] } {
  const [lhs, rhs] = equation.split('->') as [string, string | undefined];
  const terms = lhs.split(',');
  const sizes = new Map<string, number>();
  terms.forEach((term, i) => [...term].forEach((l, d) => sizes.set(l, Math.max(sizes.get(l) ?? 1, operands[i]!.shape[d]!))));
  const counts = new Map<string, number>();
  for (const l of terms.join('')) counts.set(l, (counts.get(l) ?? 0) + 1);
  const out = rhs ?? [...counts].filter(([, c]) => c === 1).map(([l]) => l).sort().join('');
  const labels = [...sizes.keys()];
  const outShape = [...out].map((l) => sizes.get(l)!);
  const values = new Array<number>(outShape.reduce((p, d) => p * d, 1)).fill(0);
  const data = operands.map((t) => Array.from(t.contiguous().toTypedArray()));
  const total = labels.reduce((p, l) => p * sizes.get(l)!, 1);
  for (let k = 0; k < total; k++) {
    const at = new Map(unravel(k, labels.map((l) => sizes.get(l)!)).map((v, i) => [labels[i]!, v]));
    let p = 1;
    terms.forEach((term, i) => (p *= data[i]![ravel([...term].map((l, d) => (operands[i]!.shape[d] === 1 ? 0 : at.get(l)!)), operands[i]!.shape)]!));
    values[ravel([...out].map((l) => at.get(l)!), outShape)]! += p;
  }
  return { shape: outShape, values };
}

function expectMatchesReference(equation: string, operands: Tensor[]): void {
  const { shape, values } = reference(equation, operands);
  expectAllClose(einsum(equation, ...operands), values, { rtol: 1e-12, atol: 1e-13, shape, what: equation });
}

/** A random equation over the labels a–e: 1–3 terms, a random output (or none: implicit). */
const randomEquation = fc
  .record({
    sizes: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 5, maxLength: 5 }),
    terms: fc.array(fc.array(fc.constantFrom('a', 'b', 'c', 'd', 'e'), { minLength: 0, maxLength: 3 }), { minLength: 1, maxLength: 3 }),
    keep: fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
    implicit: fc.boolean(),
    order: fc.integer({ min: 0, max: 1000 }),
    seed: fc.integer({ min: 1, max: 1e6 }),
    permuted: fc.boolean(),
  })
  .map(({ sizes, terms, keep, implicit, order, seed, permuted }) => {
    const size = (l: string) => sizes['abcde'.indexOf(l)]!;
    const used = [...new Set(terms.flat())];
    const out = used.filter((l) => keep['abcde'.indexOf(l)]);
    // Rotate the output labels so that outputs come in every order.
    const rotated = out.length > 0 ? [...out.slice(order % out.length), ...out.slice(0, order % out.length)] : out;
    const equation = terms.map((t) => t.join('')).join(',') + (implicit ? '' : `->${rotated.join('')}`);
    const operands = terms.map((t, i) => randomTensor(t.map(size), seed + i, permuted));
    return { equation, operands };
  });

describe('einsum values', () => {
  it('equals the brute-force definition on random equations (property)', () => {
    fc.assert(
      fc.property(randomEquation, ({ equation, operands }) => expectMatchesReference(equation, operands)),
      { numRuns: 150 },
    );
  });

  it("'ij,jk->ik' equals matmul, and '...ij,...jk->...ik' equals broadcast matmul (property)", () => {
    fc.assert(
      fc.property(matmulPair, fc.integer({ min: 1, max: 1e6 }), ({ a, b }, seed) => {
        if (a.length < 2 || b.length < 2) return;
        const x = randomTensor(a, seed);
        const y = randomTensor(b, seed + 1);
        expectAllClose(einsum('...ij,...jk->...ik', x, y), Array.from(matmul(x, y).toTypedArray()), { rtol: 1e-13, atol: 1e-14, shape: matmul(x, y).shape });
        if (a.length === 2 && b.length === 2) expectAllClose(einsum('ij,jk->ik', x, y), Array.from(matmul(x, y).toTypedArray()), { rtol: 1e-13, atol: 1e-14 });
      }),
      { numRuns: 50 },
    );
  });

  it('covers the everyday equations', () => {
    const a = randomTensor([3, 4], 1);
    const b = randomTensor([4, 2], 2);
    const c = randomTensor([2, 5], 3);
    const sq = randomTensor([3, 3], 4, true);
    const v = randomTensor([4], 5);
    for (const [equation, operands] of [
      ['ij,jk->ik', [a, b]],
      ['ij,jk', [a, b]],
      ['ij,jk,kl->il', [a, b, c]],
      ['ij->ji', [a]],
      ['ji', [a]],
      ['ij->', [a]],
      ['ii->', [sq]],
      ['ii->i', [sq]],
      ['ii', [sq]],
      ['ij,j->i', [a, v]],
      ['i,i->', [v, v]],
      ['i,j->ij', [v, v]],
      ['ij,ij->ij', [a, a]],
      ['ij,kj->ik', [a, randomTensor([5, 4], 6)]],
      ['bij,bjk->bik', [randomTensor([2, 3, 4], 7), randomTensor([2, 4, 5], 8)]],
      ['bhqd,bhkd->bhqk', [randomTensor([2, 2, 3, 4], 9), randomTensor([2, 2, 5, 4], 10, true)]],
      ['bi,bj->bij', [randomTensor([3, 2], 11), randomTensor([3, 4], 12)]],
      ['ijk,jil->kl', [randomTensor([2, 3, 4], 13), randomTensor([3, 2, 2], 14)]],
      ['ij,jk->ik', [randomTensor([3, 1], 15), randomTensor([4, 2], 16)]], // j broadcast from size 1
      ['iij->j', [randomTensor([3, 3, 2], 17)]],
      ['Ba,aC', [randomTensor([2, 3], 18), randomTensor([3, 4], 19)]], // implicit: 'BC'
      ['aB,Ca', [randomTensor([3, 2], 18), randomTensor([4, 3], 19)]], // implicit: 'BC' (upper case sorts first)
    ] as [string, Tensor[]][]) {
      expectMatchesReference(equation, operands);
    }
    expect(einsum('i,i->', v, v).shape).toEqual([]);
    expect(einsum(' ij , jk -> ik ', a, b).shape).toEqual([3, 2]);
  });

  it("broadcasts '...' NumPy-style and puts it first in implicit mode", () => {
    const x = randomTensor([2, 1, 3, 4], 20);
    const y = randomTensor([5, 4, 2], 21);
    const out = einsum('...ij,...jk->...ik', x, y);
    expect(out.shape).toEqual([2, 5, 3, 2]);
    expectAllClose(out, Array.from(matmul(x, y).toTypedArray()), { rtol: 1e-13, atol: 1e-14 });
    // Implicit: '...' first, then the labels that occur once.
    expect(einsum('...ij,...jk', x, y).shape).toEqual([2, 5, 3, 2]);
    // '...' summed away (PyTorch allows an output without it), and one with no ellipsis dims.
    expectAllClose(einsum('...i->i', x), Array.from(x.sum([0, 1, 2]).toTypedArray()), { rtol: 1e-13, atol: 1e-14 });
    expectAllClose(einsum('...ij->ij', randomTensor([3, 4], 22)), Array.from(randomTensor([3, 4], 22).toTypedArray()), { rtol: 0, atol: 0 });
    expectAllClose(einsum('b...,b...->...', randomTensor([3, 2, 2], 23), randomTensor([3, 2], 24)), Array.from(randomTensor([3, 2, 2], 23).mul(randomTensor([3, 1, 2], 24)).sum(0).toTypedArray()), { rtol: 1e-13, atol: 1e-14 });
  });

  it('keeps float32', () => {
    expect(einsum('ij,jk->ik', tensor([[1, 2]]), tensor([[3], [4]])).dtype).toBe('float32');
    expect(einsum('ij,jk->ik', tensor([[1, 2]]), tensor([[3], [4]])).item()).toBe(11);
  });
});

describe('einsum derivatives', () => {
  const cases: [string, number[][]][] = [
    ['ij,jk->ik', [[3, 4], [4, 2]]],
    ['bhqd,bhkd->bhqk', [[2, 2, 3, 2], [2, 2, 4, 2]]],
    ['ij,ij->i', [[3, 4], [3, 4]]],
    ['i,i->', [[5], [5]]],
    ['bi,bj->bij', [[2, 3], [2, 4]]],
    ['ii->i', [[3, 3]]],
    ['ijk,jil->kl', [[2, 3, 2], [3, 2, 2]]],
    ['ij,jk,kl->il', [[2, 3], [3, 2], [2, 2]]],
    ['...ij,...jk->...ik', [[2, 1, 2, 3], [3, 3, 2]]],
  ];

  it.each(cases)('%s: gradients and gradients of gradients equal finite differences', (equation, shapes) => {
    const operands = shapes.map((s, i) => randomTensor(s, 30 + i, i === 0));
    gradcheck((...xs) => einsum(equation, ...xs), operands, { name: equation, samples: 8 });
    // Squared so that a one-operand (linear) equation has a second derivative to check too.
    gradgradcheck((...xs) => einsum(equation, ...xs).mul(einsum(equation, ...xs)), operands, { name: `${equation}, squared`, samples: 8 });
    gradgradcheck((...xs) => einsum(equation, ...xs), operands, { name: equation, samples: 8 });
  });

  it.each(cases)('%s: jvp equals the double-vjp reference', (equation, shapes) => {
    const operands = shapes.map((s, i) => randomTensor(s, 40 + i));
    const tangents = shapes.map((s, i) => randomTensor(s, 50 + i));
    const f = (...xs: Tensor[]) => einsum(equation, ...xs);
    const [, dy] = jvp(f, operands, tangents);
    const [, dyRef] = jvpByDoubleVjp(f, operands, tangents);
    expectAllClose(dy, Array.from(dyRef.toTypedArray()), { rtol: 1e-13, atol: 1e-14 });
  });
});

describe('einsum under vmap and per-sample gradients', () => {
  it('vmap over any operand axis equals a loop', () => {
    const q = randomTensor([2, 3, 4], 60);
    const k = randomTensor([5, 4], 61);
    for (const inAxis of [0, 1]) {
      const qs = inAxis === 0 ? q : q.permute([1, 0, 2]);
      const out = vmap((x: Tensor, y: Tensor) => einsum('qd,kd->qk', x, y), { inAxes: [inAxis, null] })(qs, k);
      for (let b = 0; b < 2; b++) {
        expectAllClose(out.slice([[b, b + 1]]).squeeze(0), Array.from(einsum('qd,kd->qk', q.slice([[b, b + 1]]).squeeze(0), k).toTypedArray()), { rtol: 1e-14, atol: 1e-15 });
      }
    }
  });

  it('per-sample gradients through attention-style einsums equal batches of one and sum to the batch gradient', () => {
    const x = randn([4, 3, 2], { seed: 62, ...f64 });
    const wq = randn([2, 2], { seed: 63, ...f64 }).requireGrad();
    const wk = randn([2, 2], { seed: 64, ...f64 }).requireGrad();
    const program = (input: Tensor) => {
      const q = einsum('btd,de->bte', input, wq);
      const k = einsum('btd,de->bte', input, wk);
      const scores = einsum('bqe,bke->bqk', q, k);
      return einsum('bqk,bqk->b', scores, scores);
    };
    const input = x.detach().requireGrad();
    const rows = perSampleGradients(program(input), [wq, wk], input);
    const batch = gradients([program(x).sum()], [wq, wk]);
    rows.forEach((r, j) => expectAllClose(r.sum(0), Array.from(batch[j]!.toTypedArray()), { rtol: 1e-12, atol: 1e-12 }));
    for (let i = 0; i < 4; i++) {
      const one = gradients([program(x.slice([[i, i + 1]])).sum()], [wq, wk]);
      rows.forEach((r, j) => expectAllClose(r.slice([[i, i + 1]]).squeeze(0), Array.from(one[j]!.toTypedArray()), { rtol: 1e-12, atol: 1e-12 }));
    }
  });

  it('refuses a contraction over the batch label', () => {
    const x = randn([4, 3], { seed: 65, ...f64 }).requireGrad();
    const w = randn([3, 3], { seed: 66, ...f64 }).requireGrad();
    const h = einsum('bi,ij->bj', x, w);
    expect(() => perSampleGradients(einsum('bj,bk->jk', h, h).sum(0), [w], x)).toThrow(GradError);
  });
});

describe('einsum errors', () => {
  const a = tensor([[1, 2], [3, 4]]);
  const v = tensor([1, 2, 3]);
  it.each([
    [() => einsum('ij,jk->ik', a), /einsum: equation 'ij,jk->ik' has 2 input terms but 1 operand was given/],
    [() => einsum('ij->ij', a, a), /einsum: equation 'ij->ij' has 1 input term but 2 operands were given/],
    [() => einsum('ijk->i', a), /einsum: operand 0 has shape \[2, ?2\] \(rank 2\) but its term 'ijk' names 3 dims/],
    [() => einsum('...ijk->i', a), /einsum: operand 0 has shape \[2, ?2\] \(rank 2\) but its term '...ijk' names 3 dims besides '...'/],
    [() => einsum('ij,jk->ik', a, tensor([[1, 2, 3], [4, 5, 6], [7, 8, 9]])), /einsum: label 'j' has size 2 in operand 0 but 3 in operand 1 \(sizes must match or be 1\)/],
    [() => einsum('i,i->', v, tensor([1, 2])), /einsum: label 'i' has size 3 in operand 0 but 2 in operand 1/],
    [() => einsum('ij->iz', a), /einsum: output label 'z' of equation 'ij->iz' does not appear in any input term/],
    [() => einsum('ij->ii', a), /einsum: label 'i' appears more than once in the output 'ii'/],
    [() => einsum('i1->i', v), /einsum: invalid character '1' in term 0 'i1' of equation 'i1->i'; expected letters a–z, A–Z, '...', ',' and '->'/],
    [() => einsum('i->i->i', v), /einsum: expected at most one '->' in equation 'i->i->i'; got 2/],
    [() => einsum('i-i', v), /einsum: invalid character '-'/],
    [() => einsum('i.->i', v), /einsum: expected '...' \(three dots\) in term 0 'i.' of equation 'i.->i'; got a lone '.'/],
    [() => einsum('......->', v), /einsum: term 0 '......' of equation '......->' has more than one '...'/],
    [() => einsum('i->...i', v), /einsum: the output of equation 'i->...i' has '...' but no input term has one/],
    [() => einsum(3 as unknown as string, v), /einsum: expected an equation string such as 'ij,jk->ik' as the first argument; got/],
    [() => einsum('i->i'), /einsum: expected at least one operand for equation 'i->i'; got none/],
    [() => einsum('i,i->', v, [1, 2, 3] as unknown as Tensor), /einsum: expected operand 1 to be a Tensor; got/],
    [() => einsum('i,i->', v, tensor([1, 2, 3], f64)), /einsum: dtypes must match, got float32 and float64/],
    [() => einsum('i->i', tensor([1, 2], { dtype: 'int32' })), /einsum/],
  ] as [() => unknown, RegExp][])('%#: %s', (f, message) => {
    expect(f).toThrow(message);
  });
});
