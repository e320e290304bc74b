/**
 * perSampleGradients either returns the rows a loop over batches of one gives, or refuses with
 * a GradError — never different rows (issue 14, items 2 and 3). The batch axis is followed op
 * by op (src/autograd/batch-axis.ts); programs that move it, or make samples interact, are the
 * cases an `shape[0] === B` rule got wrong.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  GradError,
  crossEntropy,
  gradients,
  logsumexp,
  perSampleGradients,
  randn,
  softmax,
  type Tensor,
} from '../src/index.js';
import { Linear } from '../src/nn/linear.js';
import { Module } from '../src/nn/module.js';
import { Sequential } from '../src/nn/container.js';
import { perSampleGrads } from '../src/nn/per-sample.js';

const f64 = { dtype: 'float64' as const };

type Program = (x: Tensor, params: Tensor[]) => Tensor;

/** Row i: the gradient of f's loss on sample i alone (a batch of one). */
function batchOfOne(f: Program, x: Tensor, params: Tensor[]): number[][][] {
  return Array.from({ length: x.shape[0]! }, (_, i) => {
    const loss = f(x.slice([[i, i + 1]]), params).sum();
    return gradients([loss], params, { allowUnused: true }).map((g) => Array.from(g.toTypedArray()));
  });
}

function perSample(f: Program, x: Tensor, params: Tensor[]): number[][][] {
  const input = x.detach().requireGrad();
  const rows = perSampleGradients(f(input, params), params, input);
  return Array.from({ length: x.shape[0]! }, (_, i) => rows.map((r) => Array.from(r.slice([[i, i + 1]]).toTypedArray())));
}

function expectRowsEqual(actual: number[][][], expected: number[][][]): void {
  expected.forEach((row, i) =>
    row.forEach((g, k) => g.forEach((v, j) => expect(Math.abs(actual[i]![k]![j]! - v), `sample ${i}, param ${k}, element ${j}`).toBeLessThan(1e-12))),
  );
}

describe('the batch axis moved before a parameter (item 2)', () => {
  it("the issue's reproducer: x [2,2,3] permuted, times p [3], permuted back", () => {
    const x = randn([2, 2, 3], { seed: 3, ...f64 });
    const p = randn([3], { seed: 4, ...f64 }).requireGrad();
    const f: Program = (x, [p]) => x.permute([1, 0, 2]).mul(p!).permute([1, 0, 2]).sum([1, 2]);
    expectRowsEqual(perSample(f, x, [p]), batchOfOne(f, x, [p]));
  });

  it('random chains of permutes, broadcast parameters, biases and products equal the batch-of-one rows (property)', () => {
    // Every axis has the batch size B, so a rule that looked only at sizes could not tell them apart.
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 3 }),
        fc.array(fc.record({ kind: fc.constantFrom('permute', 'scale', 'bias', 'tanh', 'linear'), perm: fc.integer({ min: 0, max: 5 }) }), {
          minLength: 1,
          maxLength: 6,
        }),
        fc.integer({ min: 0, max: 1000 }),
        (B, steps, seed) => {
          const PERMS = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
          const params: Tensor[] = [];
          const plan: ((h: Tensor, axis: number) => [Tensor, number])[] = [];
          let axis = 0;
          let k = 0;
          for (const step of steps) {
            const at = axis;
            if (step.kind === 'permute') {
              const dims = PERMS[step.perm]!;
              plan.push((h, a) => [h.permute(dims), dims.indexOf(a)]);
              axis = dims.indexOf(axis);
            } else if (step.kind === 'scale') {
              // A parameter broadcast along the batch axis (size 1 there), full elsewhere.
              const shape = [B, B, B].map((d, i) => (i === at ? 1 : d));
              const p = randn(shape, { seed: seed + ++k, ...f64 }).requireGrad();
              params.push(p);
              plan.push((h, a) => [h.mul(p), a]);
            } else if (step.kind === 'bias') {
              if (at === 2) continue;
              const p = randn([B], { seed: seed + ++k, ...f64 }).requireGrad();
              params.push(p);
              plan.push((h, a) => [h.add(p), a]);
            } else if (step.kind === 'tanh') {
              plan.push((h, a) => [h.tanh(), a]);
            } else {
              // A Linear layer on the last axis, wherever the batch is.
              if (at === 2) continue;
              const w = randn([B, B], { seed: seed + ++k, ...f64 }).mul(0.5).requireGrad();
              params.push(w);
              plan.push((h, a) => [h.matmul(w.transpose()), a]);
            }
          }
          if (params.length === 0) return;
          const f: Program = (x) => {
            let h = x;
            let a = 0;
            for (const op of plan) [h, a] = op(h, a);
            const others = [0, 1, 2].filter((d) => d !== a);
            return h.permute([a, ...others]).mul(h.permute([a, ...others])).sum([1, 2]);
          };
          const x = randn([B, B, B], { seed, ...f64 });
          let rows: number[][][];
          try {
            rows = perSample(f, x, params);
          } catch (e) {
            // Refusing is allowed only for products whose batch-side operand is not batch-first.
            expect(e).toBeInstanceOf(GradError);
            expect(String(e)).toMatch(/perSampleGradients: op 'matmul' where a parameter meets the batch \(on axis [12]/);
            return;
          }
          expectRowsEqual(rows, batchOfOne(f, x, params));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('a product whose batch is not its leading axis is refused, not guessed (x [T, B, K] with T = B)', () => {
    const x = randn([3, 3, 4], { seed: 1, ...f64 });
    const w = randn([2, 4], { seed: 2, ...f64 }).requireGrad();
    const f: Program = (x, [w]) => x.transpose(0, 1).matmul(w!.transpose()).tanh().sum([0, 2]);
    expect(() => perSample(f, x, [w])).toThrow(GradError);
    expect(() => perSample(f, x, [w])).toThrow(/op 'matmul' where a parameter meets the batch \(on axis 1/);
  });
});

describe('samples that interact are refused (item 3)', () => {
  const x = randn([4, 3], { seed: 5, ...f64 });
  const W = randn([2, 3], { seed: 6, ...f64 }).requireGrad();
  const P = randn([4, 4], { seed: 7, ...f64 }).requireGrad();
  const cases: [string, Program, RegExp, Tensor[]?][] = [
    ['centring by the batch mean before the parameter', (x, [W]) => x.sub(x.mean(0, true)).matmul(W!.transpose()).tanh().sum(1), /samples interact through 'sum'/],
    ['subtracting the batch maximum after it', (x, [W]) => { const h = x.matmul(W!.transpose()); return h.sub(h.max(0, true)).sum(1); }, /through 'gather' \(it indexes along the batch axis/],
    ['a softmax over the batch', (x, [W]) => softmax(x.matmul(W!.transpose()), 0).sum(1), /samples interact through 'sum'/],
    ['a logsumexp over the batch', (x, [W]) => { const h = x.matmul(W!.transpose()); return h.sub(logsumexp(h, 0, true)).sum(1); }, /samples interact through 'sum'/],
    ['neighbour differences', (x, [W]) => x.slice([[1, null]]).sub(x.slice([[0, -1]])).pad([[0, 1]]).matmul(W!.transpose()).sum(1), /batch axis through 'slice'/],
    ['a Gram matrix of the batch', (x, [W]) => { const h = x.matmul(W!.transpose()); return h.matmul(h.transpose()).sum(1); }, /samples interact through 'matmul' \(its operands carry the batch on different axes\)/],
    ['a product that contracts over the batch', (x, [P]) => x.transpose().matmul(P!).tanh().sum(0), /samples interact through 'matmul' \(it contracts over the batch axis\)/, [P]],
    ['a reshape that merges samples', (x, [W]) => x.reshape([2, 6]).reshape([4, 3]).matmul(W!.transpose()).sum(1), /batch axis through 'reshape'/],
  ];
  for (const [name, f, message, params = [W]] of cases) {
    it(name, () => {
      // The batch-of-one rows exist and differ from what a batch-wise rule would say; refusing is the only right answer.
      expect(() => perSample(f, x, params)).toThrow(GradError);
      expect(() => perSample(f, x, params)).toThrow(message);
    });
  }

  it('a module that centres its input before a Linear, through perSampleGrads', () => {
    class Centre extends Module {
      forward(x: Tensor): Tensor {
        return x.sub(x.mean(0, true));
      }
    }
    const model = new Sequential(new Centre(), new Linear(3, 2, { seed: 0, ...f64 }));
    expect(() => perSampleGrads(model, { x, targets: [0, 1, 1, 0] })).toThrow(/samples interact through 'sum'.*perSampleJacobian/);
    // Without the centring the same model is fine and matches the loop.
    const plain = new Sequential(new Linear(3, 2, { seed: 0, ...f64 }));
    const { grads } = perSampleGrads(plain, { x, targets: [0, 1, 1, 0] });
    const loss = crossEntropy(plain.forward(x.slice([[2, 3]])), [1], 'sum');
    const [gw] = gradients([loss], plain.parameters());
    const row = grads!.get('0.weight')!.slice([[2, 3]]).toTypedArray();
    gw!.toTypedArray().forEach((v, j) => expect(Math.abs(row[j]! - v)).toBeLessThan(1e-12));
  });
});
