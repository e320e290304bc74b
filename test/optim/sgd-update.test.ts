/**
 * SgdUpdate against a hand-computed PyTorch SGD reference (plain, momentum + weight decay,
 * dampening, Nesterov), and bit-identical save/restore of the momentum buffers.
 */
import { describe, expect, it } from 'vitest';
import { tensor, type Tensor } from '../../src/index.js';
import { SgdUpdate, type SgdUpdateOptions } from '../../src/optim/sgd-update.js';

const f64 = { dtype: 'float64' as const };
const directions = [
  [0.5, -1.0],
  [0.25, 2.0],
  [-1.5, 0.75],
];

/** torch.optim.SGD on one 2-vector, written out by hand. */
function reference(o: Required<SgdUpdateOptions>, lr: number): number[][] {
  let w = [1.0, -2.0];
  let buf: number[] | null = null;
  const out: number[][] = [];
  for (const g of directions) {
    let d = g.map((gi, j) => gi + o.weightDecay * w[j]!);
    if (o.momentum !== 0) {
      buf = buf === null ? [...d] : buf.map((b, j) => o.momentum * b + (1 - o.dampening) * d[j]!);
      d = o.nesterov ? d.map((di, j) => di + o.momentum * buf![j]!) : [...buf];
    }
    w = w.map((wi, j) => wi - lr * d[j]!);
    out.push(w);
  }
  return out;
}

function run(rule: SgdUpdate, lr: number, from = 0, p: Tensor = tensor([1.0, -2.0], f64)): number[][] {
  return directions.slice(from).map((g) => {
    rule.step([p], [tensor(g, f64)], lr);
    return Array.from(p.toTypedArray());
  });
}

describe('SgdUpdate (PyTorch SGD semantics)', () => {
  const cases: [string, Required<SgdUpdateOptions>][] = [
    ['plain', { momentum: 0, dampening: 0, weightDecay: 0, nesterov: false }],
    ['momentum + weight decay', { momentum: 0.9, dampening: 0, weightDecay: 0.01, nesterov: false }],
    ['momentum + dampening', { momentum: 0.8, dampening: 0.3, weightDecay: 0, nesterov: false }],
    ['Nesterov + weight decay', { momentum: 0.9, dampening: 0, weightDecay: 0.005, nesterov: true }],
  ];
  it.each(cases)('%s matches the hand-computed reference', (_name, options) => {
    const got = run(new SgdUpdate(options), 0.1);
    const want = reference(options, 0.1);
    got.forEach((row, t) => row.forEach((v, j) => expect(v).toBeCloseTo(want[t]![j]!, 14)));
  });

  it('the first momentum step is a plain step (buf = d), dampening only applies later', () => {
    const p = tensor([1.0], f64);
    new SgdUpdate({ momentum: 0.9, dampening: 0.5 }).step([p], [tensor([2.0], f64)], 0.1);
    expect(p.item()).toBe(1.0 - 0.1 * 2.0);
  });

  it('updates in place (same tensor, version bumped) and save/restore is bit-identical, through JSON too', () => {
    const options = { momentum: 0.9, dampening: 0.1, weightDecay: 0.01 };
    const p = tensor([1.0, -2.0], f64);
    const rule = new SgdUpdate(options);
    const version = p.storage.version;
    rule.step([p], [tensor(directions[0]!, f64)], 0.1);
    expect(p.storage.version).toBeGreaterThan(version);
    const saved = JSON.parse(JSON.stringify(rule.saveState()));
    const wAfterOne = Array.from(p.toTypedArray());
    const continued = run(rule, 0.1, 1, p);
    const resumed = new SgdUpdate(options);
    resumed.restoreState(saved);
    const again = run(resumed, 0.1, 1, tensor(wAfterOne, f64));
    expect(again).toEqual(continued);
  });

  it('rejects bad options and mismatched directions, naming the rule', () => {
    expect(() => new SgdUpdate({ momentum: -1 })).toThrow(/SgdUpdate: momentum/);
    expect(() => new SgdUpdate({ nesterov: true })).toThrow(/Nesterov/);
    expect(() => new SgdUpdate().step([tensor([1], f64)], [], 0.1)).toThrow(/sgd: got 0 direction tensors for 1 parameters/);
    expect(() => new SgdUpdate().restoreState(5)).toThrow(/sgd: restoreState/);
  });
});
