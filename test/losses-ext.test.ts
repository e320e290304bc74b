/**
 * The losses of issue 18 (nllLoss; crossEntropy's weights, ignoreIndex, label smoothing and
 * class-probability targets; binaryCrossEntropy, binaryCrossEntropyWithLogits, klDiv,
 * huberLoss, smoothL1Loss): the PyTorch oracle's loss cases cover the seven losses (they run,
 * in float64 and float32 on cpu and wasm, in the oracle matrix of test/oracle.test.ts),
 * plain-JS references of PyTorch's definitions, float64 finite differences of first and second
 * order in every differentiable argument, per-sample gradients and vmap through them, and the
 * errors.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  binaryCrossEntropy,
  binaryCrossEntropyWithLogits,
  crossEntropy,
  DTypeError,
  grad,
  gradients,
  huberLoss,
  klDiv,
  logSoftmax,
  mlp,
  nllLoss,
  perSampleGrads,
  randn,
  ShapeError,
  sigmoid,
  smoothL1Loss,
  tensor,
  ValueError,
  vmap,
  type Tensor,
} from '../src/index.js';
import { crossEntropyRows } from '../src/autograd/ops/cross-entropy.js';
import type { OracleCase } from '../packages/lab/src/cli/oracle/format.js';
import { LOSS_OPS } from '../packages/lab/src/cli/oracle/families/ops-ext-loss.js';
import { materialize, specOf, type TensorSpec } from './arbitraries.js';
import { expectAllClose, gradcheck, gradgradcheck } from './gradcheck.js';

type Reduction = 'mean' | 'sum' | 'none';
const f64 = { dtype: 'float64' } as const;
const int32 = (xs: number[], shape?: number[]) => tensor(Int32Array.from(xs), shape ? { shape } : {});
const vec = (xs: number[]) => tensor(Float64Array.from(xs), f64);
const values = (t: Tensor) => Array.from(t.toTypedArray());
const sumOf = (xs: number[]) => xs.reduce((s, x) => s + x, 0);
const reduced = (l: number[], r: Reduction, denominator = l.length) => (r === 'none' ? l : [r === 'sum' ? sumOf(l) : sumOf(l) / denominator]);

// ---- the PyTorch oracle ----------------------------------------------------------------

const dir = fileURLToPath(new URL('../packages/lab/oracle/', import.meta.url));
const lossCases = (JSON.parse(readFileSync(`${dir}ops_ext.json`, 'utf8')) as OracleCase[]).filter((c) => LOSS_OPS.has(c.config.op));

// The cases run in the oracle matrix of test/oracle.test.ts (float64 and float32, cpu and wasm).
describe('oracle: every loss case of ops_ext', () => {
  it('covers the seven losses', () => {
    expect(new Set(lossCases.map((c) => c.config.op))).toEqual(new Set(LOSS_OPS.keys()));
    expect(lossCases.length).toBeGreaterThanOrEqual(34);
  });
});

// ---- references: PyTorch's definitions in plain JS -------------------------------------

/** Input [N, C, L] (L = 1 for [N, C]) as rows: row(n, l) = the C values along the class axis. */
function classRows(spec: { shape: readonly number[]; values: readonly number[] }): number[][] {
  const [n, c] = spec.shape as [number, number];
  const l = spec.shape.slice(2).reduce((p, d) => p * d, 1);
  const out: number[][] = [];
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < l; k++) out.push(Array.from({ length: c }, (_, j) => spec.values[(i * c + j) * l + k]!));
  }
  return out;
}

function logSoftmaxRow(row: number[]): number[] {
  const m = Math.max(...row);
  const lse = m + Math.log(sumOf(row.map((x) => Math.exp(x - m))));
  return row.map((x) => x - lse);
}

interface ClassRef {
  weight?: number[];
  ignoreIndex?: number;
  labelSmoothing?: number;
  reduction: Reduction;
}

/** nll_loss on rows of log-probabilities (targets flattened in the same order). */
function refNll(rows: number[][], targets: number[], o: ClassRef): number[] {
  const ignore = o.ignoreIndex ?? -100;
  const w = targets.map((t) => (t === ignore ? 0 : (o.weight?.[t] ?? 1)));
  const l = rows.map((row, i) => (targets[i] === ignore ? 0 : -w[i]! * row[targets[i]!]!));
  return reduced(l, o.reduction, sumOf(w));
}

/** cross_entropy as packages/lab/oracle/README.md (Family 8) writes PyTorch's definition. */
function refCrossEntropy(rows: number[][], targets: number[], o: ClassRef): number[] {
  const ls = rows.map(logSoftmaxRow);
  const eps = o.labelSmoothing ?? 0;
  const nll = refNll(ls, targets, o);
  const ignore = o.ignoreIndex ?? -100;
  const smooth = ls.map((row, i) => (targets[i] === ignore ? 0 : -sumOf(row.map((v, c) => (o.weight?.[c] ?? 1) * v))));
  const denominator = sumOf(targets.map((t) => (t === ignore ? 0 : (o.weight?.[t] ?? 1))));
  const S = reduced(smooth, o.reduction, denominator);
  const C = rows[0]?.length ?? 1;
  return nll.map((v, i) => (1 - eps) * v + (eps / C) * S[i]!);
}

/** [N, C] or [N, C, L] specs with targets (some ignored) and optional weights. */
const classCase = fc
  .record({
    n: fc.integer({ min: 1, max: 4 }),
    c: fc.integer({ min: 1, max: 4 }),
    extra: fc.constantFrom<number[]>([], [2], [1, 3]),
    weighted: fc.boolean(),
    ignoreIndex: fc.constantFrom(-100, 0, 1),
    labelSmoothing: fc.constantFrom(0, 0.1, 0.3, 1),
    reduction: fc.constantFrom<Reduction>('mean', 'sum', 'none'),
  })
  .chain((p) => {
    const targetCount = p.n * p.extra.reduce((a, b) => a * b, 1);
    return fc.record({
      p: fc.constant(p),
      x: specOf([p.n, p.c, ...p.extra], { min: -5, max: 5 }),
      targets: fc.array(fc.oneof(fc.integer({ min: 0, max: p.c - 1 }), fc.constant(p.ignoreIndex)), { minLength: targetCount, maxLength: targetCount }),
      weight: fc.array(fc.double({ min: 0.1, max: 3, noNaN: true }), { minLength: p.c, maxLength: p.c }),
    });
  })
  .filter(({ p, targets }) => targets.every((t) => t === p.ignoreIndex || (t >= 0 && t < p.c)));

/** Targets [N, L…] flattened in classRows' order (n-major, then the extra axes). */
function targetTensor(targets: number[], n: number, extra: number[]): Tensor {
  return int32(targets, [n, ...extra]);
}

describe('nllLoss', () => {
  it('matches −w[t]·input[n, t, …], ignored targets and every reduction, for [N, C] and [N, C, d…]', () => {
    fc.assert(
      fc.property(classCase, ({ p, x, targets, weight }) => {
        const o = { weight: p.weighted ? weight : undefined, ignoreIndex: p.ignoreIndex, reduction: p.reduction };
        const ref = refNll(classRows(x), targets, o);
        const opts = { ...o, weight: o.weight ? vec(o.weight) : undefined };
        const got = nllLoss(materialize(x), targetTensor(targets, p.n, p.extra), opts);
        expect(got.shape).toEqual(p.reduction === 'none' ? [p.n, ...p.extra] : []);
        expectAllClose(got, ref, { rtol: 1e-12, atol: 1e-12, what: 'nllLoss' });
      }),
      { numRuns: 60 },
    );
  });

  it('the reduction alone may be the third argument; a 1-d input takes a 0-d target', () => {
    const lp = logSoftmax(tensor([[1, 2, 3], [3, 1, 0]], f64), 1);
    expect(nllLoss(lp, [2, 0], 'sum').item()).toBe(nllLoss(lp, [2, 0], { reduction: 'sum' }).item());
    const row = tensor([-0.5, -1.5, -2], f64);
    const one = nllLoss(row, int32([1], []), 'none');
    expect(one.shape).toEqual([]);
    expect(one.item()).toBe(1.5);
    expect(nllLoss(row, int32([1], []), { weight: vec([1, 4, 1]) }).item()).toBe(1.5); // the weight cancels in 'mean'
    expect(nllLoss(row, int32([1], []), { weight: vec([1, 4, 1]), reduction: 'sum' }).item()).toBe(6);
  });

  it('all targets ignored: mean is NaN (0/0) as in PyTorch, sum is 0', () => {
    const lp = tensor([[-1, -2], [-3, -4]], f64);
    expect(nllLoss(lp, [-100, -100]).item()).toBeNaN();
    expect(nllLoss(lp, [-100, -100], 'sum').item()).toBe(0);
  });

  it('is linear: the gradient is −w[t]/Σw at the target (0 at ignored ones), first and second order by finite differences', () => {
    fc.assert(
      fc.property(classCase, fc.nat(), ({ p, x, targets, weight }, seed) => {
        // All targets ignored under 'mean' is 0/0 = NaN (PyTorch's value), nothing to differentiate.
        fc.pre(p.reduction !== 'mean' || targets.some((k) => k !== p.ignoreIndex));
        const opts = { weight: p.weighted ? vec(weight) : undefined, ignoreIndex: p.ignoreIndex, reduction: p.reduction };
        const t = targetTensor(targets, p.n, p.extra);
        const f = (input: Tensor) => nllLoss(input, t, opts);
        gradcheck(f, [materialize(x)], { name: 'nllLoss', seed });
        gradgradcheck(f, [materialize(x)], { name: 'nllLoss', seed });
      }),
      { numRuns: 20 },
    );
  });

  it('class weights get no gradient', () => {
    const w = vec([1, 2, 3]).requireGrad();
    const x = randn([4, 3], { seed: 1, ...f64 }).requireGrad();
    const loss = nllLoss(x, [0, 1, 2, 1], { weight: w });
    const [gw] = gradients([loss], [w], { allowUnused: true });
    expect(values(gw!)).toEqual([0, 0, 0]);
  });
});

describe('crossEntropy: weights, ignoreIndex and label smoothing', () => {
  it("matches PyTorch's definition (smoothing weighted by every class, normalised by the targets' weights)", () => {
    fc.assert(
      fc.property(classCase, ({ p, x, targets, weight }) => {
        const o = { weight: p.weighted ? weight : undefined, ignoreIndex: p.ignoreIndex, labelSmoothing: p.labelSmoothing, reduction: p.reduction };
        const ref = refCrossEntropy(classRows(x), targets, o);
        const got = crossEntropy(materialize(x), targetTensor(targets, p.n, p.extra), { ...o, weight: o.weight ? vec(o.weight) : undefined });
        expect(got.shape).toEqual(p.reduction === 'none' ? [p.n, ...p.extra] : []);
        expectAllClose(got, ref, { rtol: 1e-11, atol: 1e-12, what: 'crossEntropy' });
      }),
      { numRuns: 80 },
    );
  });

  it('a worked example: C = 3, ε = 0.2, weights [1, 2, 3], one target ignored', () => {
    const x = tensor([[1, 2, 3], [0, -1, 2], [4, 0, 0]], f64);
    const ls = [[1, 2, 3], [0, -1, 2], [4, 0, 0]].map(logSoftmaxRow);
    const w = [1, 2, 3];
    // Targets 2, ignored, 0: nll = (−3·ls[0][2] − 1·ls[2][0]) / (3 + 1); smooth likewise over all classes.
    const nll = (-3 * ls[0]![2]! - 1 * ls[2]![0]!) / 4;
    const smooth = (-sumOf(ls[0]!.map((v, c) => w[c]! * v)) - sumOf(ls[2]!.map((v, c) => w[c]! * v))) / 4;
    const got = crossEntropy(x, [2, -100, 0], { weight: vec(w), labelSmoothing: 0.2 });
    expect(got.item()).toBeCloseTo(0.8 * nll + (0.2 / 3) * smooth, 13);
  });

  it('the fast path is unchanged: the reduction string, an options object with defaults, and the fused rows agree bit for bit', () => {
    fc.assert(
      fc.property(classCase, ({ p, x, targets }) => {
        fc.pre(p.extra.length === 0 && targets.every((t) => t >= 0 && t < p.c));
        const logits = materialize(x);
        const t = int32(targets);
        const fused = crossEntropyRows(logits, t);
        const byReduction = { none: fused, sum: fused.sum(), mean: fused.sum().div(targets.length) } as const;
        expect(values(crossEntropy(logits, t, p.reduction))).toEqual(values(byReduction[p.reduction]));
        expect(values(crossEntropy(logits, t, { reduction: p.reduction }))).toEqual(values(byReduction[p.reduction]));
        expect(values(crossEntropy(logits, targets, { reduction: p.reduction, ignoreIndex: -7 }))).toEqual(values(byReduction[p.reduction]));
      }),
      { numRuns: 40 },
    );
  });

  it('a target equal to ignoreIndex (default −100) is left out, as if the sample were not in the batch', () => {
    const x = randn([4, 3], { seed: 3, ...f64 });
    const kept = x.slice([[0, 1]]).reshape([1, 3]);
    const rest = x.slice([[2, 4]]);
    const subset = crossEntropy(tensor([...values(kept), ...values(rest)], { shape: [3, 3], ...f64 }), [1, 0, 2]);
    expect(crossEntropy(x, [1, -100, 0, 2]).item()).toBeCloseTo(subset.item(), 14);
    expect(crossEntropy(x, [1, 5, 0, 2], { ignoreIndex: 5 }).item()).toBeCloseTo(subset.item(), 14);
    expect(values(crossEntropy(x, [1, -100, 0, 2], 'none'))[1]).toBe(0);
  });

  it('ε = 1 is the cross-entropy against the uniform distribution; ε = 0 with weights is the weighted mean', () => {
    const x = randn([3, 4], { seed: 4, ...f64 });
    const uniform = -sumOf(values(logSoftmax(x, 1))) / 4 / 3;
    expect(crossEntropy(x, [0, 1, 2], { labelSmoothing: 1 }).item()).toBeCloseTo(uniform, 14);
    const per = values(crossEntropy(x, [0, 1, 3], 'none'));
    const w = [0.5, 2, 1, 3];
    const weighted = (0.5 * per[0]! + 2 * per[1]! + 3 * per[2]!) / (0.5 + 2 + 3);
    expect(crossEntropy(x, [0, 1, 3], { weight: vec(w) }).item()).toBeCloseTo(weighted, 14);
  });

  it('gradient in the logits, first and second order, with every option', () => {
    fc.assert(
      fc.property(classCase, fc.nat(), ({ p, x, targets, weight }, seed) => {
        fc.pre(p.reduction !== 'mean' || targets.some((k) => k !== p.ignoreIndex));
        const opts = { weight: p.weighted ? vec(weight) : undefined, ignoreIndex: p.ignoreIndex, labelSmoothing: p.labelSmoothing, reduction: p.reduction };
        const t = targetTensor(targets, p.n, p.extra);
        const f = (input: Tensor) => crossEntropy(input, t, opts);
        gradcheck(f, [materialize(x)], { name: 'crossEntropy', seed });
        gradgradcheck(f, [materialize(x)], { name: 'crossEntropy', seed });
      }),
      { numRuns: 25 },
    );
  });

  /** Soft targets: rows of a softmax, in the logits' shape. */
  const probabilityCase = classCase.chain((c) => fc.record({ c: fc.constant(c), t: specOf(c.x.shape, { min: -3, max: 3 }) }));
  const softTargets = (spec: TensorSpec) => materialize(spec).softmax(1);

  it('class-probability targets: −Σ_c w_c·((1 − ε)t + ε/C)_c·log softmax(x)_c, the mean over rows', () => {
    fc.assert(
      fc.property(probabilityCase, ({ c: { p, x, weight }, t }) => {
        const target = softTargets(t);
        const ls = classRows(x).map(logSoftmaxRow);
        const tr = classRows({ shape: x.shape, values: values(target) });
        const eps = p.labelSmoothing;
        const l = ls.map((row, n) => -sumOf(row.map((v, k) => (p.weighted ? weight[k]! : 1) * ((1 - eps) * tr[n]![k]! + eps / p.c) * v)));
        const opts = { weight: p.weighted ? vec(weight) : undefined, labelSmoothing: eps, reduction: p.reduction };
        const got = crossEntropy(materialize(x), target, opts);
        expect(got.shape).toEqual(p.reduction === 'none' ? [p.n, ...p.extra] : []);
        expectAllClose(got, reduced(l, p.reduction), { rtol: 1e-12, atol: 1e-12, what: 'crossEntropy (probabilities)' });
      }),
      { numRuns: 40 },
    );
  });

  it('one-hot probabilities give the class-index loss (the weighted mean differs: PyTorch divides by N there)', () => {
    const x = randn([4, 3], { seed: 21, ...f64 });
    const k = [2, 0, 1, 1];
    const onehot = tensor(Float64Array.from(k.flatMap((c) => [0, 1, 2].map((j) => (j === c ? 1 : 0)))), { shape: [4, 3], ...f64 });
    const w = vec([0.5, 2, 3]);
    for (const o of [{}, { labelSmoothing: 0.2 }, { weight: w, reduction: 'sum' as const }, { weight: w, labelSmoothing: 0.3, reduction: 'none' as const }]) {
      expectAllClose(crossEntropy(x, onehot, o), values(crossEntropy(x, k, o)), { rtol: 1e-14, atol: 1e-15, what: JSON.stringify(o) });
    }
    const perRow = values(crossEntropy(x, k, { weight: w, reduction: 'none' }));
    expect(crossEntropy(x, onehot, { weight: w }).item()).toBeCloseTo(sumOf(perRow) / 4, 14);
  });

  it('class-probability targets: gradient in the logits and the targets, first and second order', () => {
    fc.assert(
      fc.property(probabilityCase, fc.nat(), ({ c: { p, x, weight }, t }, seed) => {
        const opts = { weight: p.weighted ? vec(weight) : undefined, labelSmoothing: p.labelSmoothing, reduction: p.reduction };
        const f = (a: Tensor, y: Tensor) => crossEntropy(a, y, opts);
        const args = [materialize(x), softTargets(t)];
        gradcheck(f, args, { name: 'crossEntropy (probabilities)', argNames: ['logits', 'target'], seed });
        gradgradcheck(f, args, { name: 'crossEntropy (probabilities)', argNames: ['logits', 'target'], seed });
      }),
      { numRuns: 20 },
    );
  });

  it('float32 agrees with float64 within float32 precision', () => {
    fc.assert(
      fc.property(classCase, ({ p, x: x0, targets, weight }) => {
        const x = { ...x0, values: x0.values.map(Math.fround) } as TensorSpec;
        const w = weight.map(Math.fround);
        const opts = (dtype: 'float32' | 'float64') => ({
          weight: p.weighted ? tensor(Float64Array.from(w), { dtype }) : undefined,
          ignoreIndex: p.ignoreIndex,
          labelSmoothing: p.labelSmoothing,
          reduction: p.reduction,
        });
        const t = targetTensor(targets, p.n, p.extra);
        const a = crossEntropy(materialize(x, { dtype: 'float32' }), t, opts('float32'));
        const b = crossEntropy(materialize(x), t, opts('float64'));
        expect(a.dtype).toBe('float32');
        expectAllClose(a, values(b), { rtol: 1e-5, atol: 1e-5 });
      }),
      { numRuns: 30 },
    );
  });
});

// ---- pointwise losses ---------------------------------------------------------------------

const reductions = fc.constantFrom<Reduction>('mean', 'sum', 'none');
const pointwiseShape = fc.constantFrom<number[]>([], [3], [2, 3], [2, 1, 2]);

/** Two specs of one shape with values in the given ranges, plus a weight along the last axis. */
function pointwiseCase(input: [number, number], target: [number, number]) {
  return pointwiseShape.chain((s) =>
    fc.record({
      shape: fc.constant(s),
      x: specOf(s, { min: input[0], max: input[1] }),
      t: specOf(s, { min: target[0], max: target[1] }),
      w: specOf(s.slice(-1), { min: 0.1, max: 2 }),
      pw: specOf(s.slice(-1), { min: 0.2, max: 4 }),
      reduction: reductions,
      weighted: fc.boolean(),
      posWeighted: fc.boolean(),
    }),
  );
}

/** Values of a last-axis weight spec, broadcast to `shape`. */
function broadcastLast(w: readonly number[], shape: readonly number[], n: number): number[] {
  const last = shape.length ? shape[shape.length - 1]! : 1;
  return Array.from({ length: n }, (_, i) => w[i % last] ?? 1);
}

/** softplus(z) = log(1 + e^z), exact for any z. */
const softplusRef = (z: number) => (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z)));

describe('binaryCrossEntropy', () => {
  const bceCase = pointwiseCase([0.02, 0.98], [0, 1]);

  it('is −w·(t·log p + (1 − t)·log(1 − p)) for soft targets, with weights and every reduction', () => {
    fc.assert(
      fc.property(bceCase, ({ shape, x, t, w, reduction, weighted }) => {
        const ws = broadcastLast(w.values, shape, x.values.length);
        const l = x.values.map((p, i) => -(weighted ? ws[i]! : 1) * (t.values[i]! * Math.log(p) + (1 - t.values[i]!) * Math.log(1 - p)));
        const got = binaryCrossEntropy(materialize(x), materialize(t), { reduction, weight: weighted ? materialize(w) : undefined });
        expectAllClose(got, reduced(l, reduction), { rtol: 1e-12, atol: 1e-13, shape: reduction === 'none' ? shape : [] });
      }),
      { numRuns: 50 },
    );
  });

  it('gradient in p and in t, first and second order', () => {
    fc.assert(
      fc.property(bceCase, fc.nat(), ({ x, t, w, reduction, weighted }, seed) => {
        const weight = weighted ? materialize(w) : undefined;
        const f = (p: Tensor, y: Tensor) => binaryCrossEntropy(p, y, { reduction, weight });
        gradcheck(f, [materialize(x), materialize(t)], { name: 'binaryCrossEntropy', argNames: ['p', 't'], seed });
        gradgradcheck(f, [materialize(x), materialize(t)], { name: 'binaryCrossEntropy', argNames: ['p', 't'], seed });
      }),
      { numRuns: 25 },
    );
  });

  it('clamps each log at −100 as PyTorch: p = 0 or 1 gives finite losses, and the clamped term passes no gradient', () => {
    const p = vec([0, 1, 0, 1, 1e-50]).requireGrad();
    const t = vec([1, 0, 0.5, 0.5, 1]);
    const l = binaryCrossEntropy(p, t, 'none');
    expectAllClose(l, [100, 100, 50, 50, 100], { rtol: 1e-15, atol: 0 });
    const [g] = gradients([l.sum()], [p]);
    // p = 0, t = ½: the clamped −t·log p contributes 0, the other term (1 − t)/(1 − p) = ½.
    expectAllClose(g!, [0, 0, 0.5, -0.5, 0], { rtol: 1e-15, atol: 0 });
    // log(1 − p) is log1p(−p): p = 1e−20 with t = 0 costs 1e−20, not 0.
    expect(binaryCrossEntropy(vec([1e-20]), vec([0])).item()).toBe(1e-20);
    // Just above the floor (log p > −100) the loss is the unclamped one.
    expect(binaryCrossEntropy(vec([1e-40]), vec([1])).item()).toBeCloseTo(-Math.log(1e-40), 12);
  });
});

describe('binaryCrossEntropyWithLogits', () => {
  const logitCase = pointwiseCase([-8, 8], [0, 1]);

  /** w·((1 − t)·x + (1 + (pw − 1)·t)·softplus(−x)), PyTorch's form. */
  function ref(xs: readonly number[], ts: readonly number[], ws: number[] | null, pws: number[] | null): number[] {
    return xs.map((x, i) => (ws ? ws[i]! : 1) * ((1 - ts[i]!) * x + (1 + ((pws ? pws[i]! : 1) - 1) * ts[i]!) * softplusRef(-x)));
  }

  it('matches w·(pw·t·softplus(−x) + (1 − t)·softplus(x)) with weights, pos_weight and every reduction', () => {
    fc.assert(
      fc.property(logitCase, ({ shape, x, t, w, pw, reduction, weighted, posWeighted }) => {
        const n = x.values.length;
        const l = ref(x.values, t.values, weighted ? broadcastLast(w.values, shape, n) : null, posWeighted ? broadcastLast(pw.values, shape, n) : null);
        const got = binaryCrossEntropyWithLogits(materialize(x), materialize(t), {
          reduction,
          weight: weighted ? materialize(w) : undefined,
          posWeight: posWeighted ? materialize(pw) : undefined,
        });
        expectAllClose(got, reduced(l, reduction), { rtol: 1e-12, atol: 1e-13, shape: reduction === 'none' ? shape : [] });
        // The same as binaryCrossEntropy of the sigmoid (where that is accurate: |x| ≤ 8).
        if (!posWeighted && !weighted) {
          expectAllClose(got, values(binaryCrossEntropy(sigmoid(materialize(x)), materialize(t), reduction)), { rtol: 1e-9, atol: 1e-11 });
        }
      }),
      { numRuns: 50 },
    );
  });

  it('gradient in x and in t, first and second order', () => {
    fc.assert(
      fc.property(logitCase, fc.nat(), ({ x, t, w, pw, reduction, weighted, posWeighted }, seed) => {
        const opts = { reduction, weight: weighted ? materialize(w) : undefined, posWeight: posWeighted ? materialize(pw) : undefined };
        const f = (a: Tensor, y: Tensor) => binaryCrossEntropyWithLogits(a, y, opts);
        gradcheck(f, [materialize(x), materialize(t)], { name: 'bceWithLogits', argNames: ['x', 't'], seed });
        gradgradcheck(f, [materialize(x), materialize(t)], { name: 'bceWithLogits', argNames: ['x', 't'], seed });
      }),
      { numRuns: 25 },
    );
  });

  it('is exact for large |x| (60, 100, 800): loss, gradient σ-form and curvature σ(x)σ(−x)', () => {
    const xs = [60, -60, 100, -100, 800, -800, 0, 30];
    const ts = [0.3, 0.7, 1, 0, 0.5, 0.5, 0.5, 0];
    const pws = [2, 2, 2, 2, 2, 2, 2, 2];
    const sig = (z: number) => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));
    const x = vec(xs).requireGrad();
    const l = binaryCrossEntropyWithLogits(x, vec(ts), { reduction: 'none', posWeight: vec(pws) });
    expectAllClose(l, ref(xs, ts, null, pws), { rtol: 1e-15, atol: 1e-300 });
    const [g] = gradients([l.sum()], [x], { createGraph: true });
    // d/dx = (1 − t) − (1 + (pw − 1)t)·σ(−x); d²/dx² = (1 + (pw − 1)t)·σ(x)σ(−x), tiny but not 0 at |x| = 60.
    expectAllClose(g!, xs.map((v, i) => 1 - ts[i]! - (1 + ts[i]!) * sig(-v)), { rtol: 1e-14, atol: 1e-300 });
    const [h] = gradients([g!.sum()], [x]);
    expectAllClose(h!, xs.map((v, i) => (1 + ts[i]!) * sig(v) * sig(-v)), { rtol: 1e-12, atol: 1e-300 });
  });
});

describe('klDiv', () => {
  const klCase = pointwiseCase([-4, 0], [0.05, 1]);
  const klReductions = fc.constantFrom<'mean' | 'sum' | 'none' | 'batchmean'>('mean', 'sum', 'none', 'batchmean');

  it("is t·(log t − input), or eᵗ·(t − input) with logTarget; 'mean' averages every element, 'batchmean' divides by shape[0]", () => {
    fc.assert(
      fc.property(klCase, klReductions, fc.boolean(), ({ shape, x, t }, reduction, logTarget) => {
        const ts = logTarget ? t.values.map(Math.log) : t.values;
        const l = x.values.map((q, i) => (logTarget ? Math.exp(ts[i]!) * (ts[i]! - q) : ts[i]! * (Math.log(ts[i]!) - q)));
        const target = tensor(Float64Array.from(ts), { shape: shape.slice(), ...f64 });
        const got = klDiv(materialize(x), target, { reduction, logTarget });
        const ref = reduction === 'batchmean' ? [sumOf(l) / (shape[0] ?? 1)] : reduced(l, reduction);
        expectAllClose(got, ref, { rtol: 1e-12, atol: 1e-13, shape: reduction === 'none' ? shape : [] });
      }),
      { numRuns: 50 },
    );
  });

  it('gradient in input and in target, first and second order, both target forms', () => {
    fc.assert(
      fc.property(klCase, klReductions, fc.boolean(), fc.nat(), ({ x, t }, reduction, logTarget, seed) => {
        const target = logTarget ? materialize(t).log() : materialize(t);
        const f = (a: Tensor, y: Tensor) => klDiv(a, y, { reduction, logTarget });
        gradcheck(f, [materialize(x), target], { name: 'klDiv', argNames: ['input', 'target'], seed });
        gradgradcheck(f, [materialize(x), target], { name: 'klDiv', argNames: ['input', 'target'], seed });
      }),
      { numRuns: 25 },
    );
  });

  it('a zero target contributes 0 (xlogy) with finite gradients; batchmean of rows is the mean KL divergence per row', () => {
    const input = vec([-1, -2, -0.5]).requireGrad();
    const target = vec([0, 0.5, 0.5]).requireGrad();
    const l = klDiv(input, target, 'none');
    expectAllClose(l, [0, 0.5 * (Math.log(0.5) + 2), 0.5 * (Math.log(0.5) + 0.5)], { rtol: 1e-15, atol: 0 });
    const [gi, gt] = gradients([l.sum()], [input, target]);
    expectAllClose(gi!, [0, -0.5, -0.5], { rtol: 0, atol: 0 });
    expectAllClose(gt!, [1, Math.log(0.5) + 1 + 2, Math.log(0.5) + 1 + 0.5], { rtol: 1e-15, atol: 0 });
    // Rows p = softmax(a), q = softmax(b): batchmean = mean over rows of Σ p log(p / q).
    const a = randn([3, 4], { seed: 8, ...f64 });
    const b = randn([3, 4], { seed: 9, ...f64 });
    const p = a.softmax(1);
    const kl = values(p.mul(a.logSoftmax(1).sub(b.logSoftmax(1))).sum(1));
    expect(klDiv(b.logSoftmax(1), p, 'batchmean').item()).toBeCloseTo(sumOf(kl) / 3, 14);
    expect(klDiv(b.logSoftmax(1), a.logSoftmax(1), { reduction: 'batchmean', logTarget: true }).item()).toBeCloseTo(sumOf(kl) / 3, 14);
    expect(klDiv(b.logSoftmax(1), p).item()).toBeCloseTo(sumOf(kl) / 12, 14);
  });
});

describe('huberLoss and smoothL1Loss', () => {
  const regressionCase = pointwiseCase([-3, 3], [-3, 3]).chain((c) => fc.record({ c: fc.constant(c), param: fc.constantFrom(0.3, 1, 2.5) }));
  /** Keep |d| off the kink at the threshold and, for L1, off 0 (finite differences need it smooth). */
  const offKinks = (x: TensorSpec, t: TensorSpec, k: number) => x.values.every((v, i) => Math.abs(Math.abs(v - t.values[i]!) - k) > 1e-3 && Math.abs(v - t.values[i]!) > 1e-3);

  it('huber: ½d² inside δ, δ(|d| − δ/2) outside; smoothL1 = huber(δ = β)/β; β = 0 is |d|', () => {
    fc.assert(
      fc.property(regressionCase, ({ c: { shape, x, t, reduction }, param }) => {
        const d = x.values.map((v, i) => v - t.values[i]!);
        const hub = d.map((v) => (Math.abs(v) < param ? 0.5 * v * v : param * (Math.abs(v) - 0.5 * param)));
        const sl1 = d.map((v) => (Math.abs(v) < param ? (0.5 * v * v) / param : Math.abs(v) - 0.5 * param));
        const o = { shape: reduction === 'none' ? shape : [] };
        expectAllClose(huberLoss(materialize(x), materialize(t), { delta: param, reduction }), reduced(hub, reduction), { rtol: 1e-13, atol: 1e-14, ...o });
        expectAllClose(smoothL1Loss(materialize(x), materialize(t), { beta: param, reduction }), reduced(sl1, reduction), { rtol: 1e-13, atol: 1e-14, ...o });
        expectAllClose(smoothL1Loss(materialize(x), materialize(t), { beta: 0, reduction }), reduced(d.map(Math.abs), reduction), { rtol: 1e-14, atol: 0, ...o });
      }),
      { numRuns: 50 },
    );
  });

  it('defaults: δ = β = 1 and the mean', () => {
    const a = vec([0.2, 3, -1.5]);
    const b = vec([0, 0, 0]);
    const expected = (0.02 + 2.5 + 1) / 3;
    expect(huberLoss(a, b).item()).toBeCloseTo(expected, 15);
    expect(smoothL1Loss(a, b).item()).toBeCloseTo(expected, 15);
  });

  it('gradient in input and target, first and second order (off the kinks)', () => {
    fc.assert(
      fc.property(regressionCase, fc.nat(), ({ c: { x, t, reduction }, param }, seed) => {
        fc.pre(offKinks(x, t, param));
        const args = [materialize(x), materialize(t)];
        const names = { argNames: ['input', 'target'], seed };
        for (const [name, f] of [
          ['huberLoss', (a: Tensor, y: Tensor) => huberLoss(a, y, { delta: param, reduction })],
          ['smoothL1Loss', (a: Tensor, y: Tensor) => smoothL1Loss(a, y, { beta: param, reduction })],
          ['smoothL1Loss β = 0', (a: Tensor, y: Tensor) => smoothL1Loss(a, y, { beta: 0, reduction })],
        ] as const) {
          gradcheck(f, args, { name, ...names });
          gradgradcheck(f, args, { name, ...names });
        }
      }),
      { numRuns: 20 },
    );
  });

  it('β = 0 at d = 0 has gradient 0, not NaN (sign(0) = 0, as PyTorch)', () => {
    const a = vec([1, 2]).requireGrad();
    const [g] = gradients([smoothL1Loss(a, vec([1, 0]), { beta: 0, reduction: 'sum' })], [a]);
    expect(values(g!)).toEqual([0, 1]);
  });
});

// ---- per-sample gradients and vmap ---------------------------------------------------------

describe('per-sample gradients and vmap through the losses', () => {
  const B = 5;
  const model = () => mlp([4, 6, 3], { seed: 11, ...f64 });
  const x = randn([B, 4], { seed: 12, ...f64 });
  const classes = [0, 2, 1, 1, 2];
  const weight = vec([0.5, 2, 1.5]);
  const probs = randn([B, 3], { seed: 13, ...f64 }).softmax(1);
  const soft = randn([B, 3], { seed: 14, ...f64 }).sigmoid();
  const y = randn([B, 3], { seed: 15, ...f64 });

  /** Each loss: its per-sample form [B] (from 'none') and the batch form with `reduction`. */
  const losses: Record<string, { targets: Tensor | number[]; perSample: (o: Tensor, t: Tensor) => Tensor; batch: (o: Tensor, t: Tensor, r: 'sum' | 'mean') => Tensor; meanHolds: boolean }> = {
    'crossEntropy (weights, ε = 0.1)': {
      targets: classes,
      perSample: (o, t) => crossEntropy(o, t, { weight, labelSmoothing: 0.1, reduction: 'none' }),
      batch: (o, t, r) => crossEntropy(o, t, { weight, labelSmoothing: 0.1, reduction: r }),
      meanHolds: false, // the weighted mean divides by Σ w[t], not B
    },
    'crossEntropy (class probabilities, weights, ε = 0.1)': {
      targets: probs,
      perSample: (o, t) => crossEntropy(o, t, { weight, labelSmoothing: 0.1, reduction: 'none' }),
      batch: (o, t, r) => crossEntropy(o, t, { weight, labelSmoothing: 0.1, reduction: r }),
      meanHolds: true, // soft targets: the mean divides by N even with weights
    },
    'crossEntropy (ε = 0.2)': {
      targets: classes,
      perSample: (o, t) => crossEntropy(o, t, { labelSmoothing: 0.2, reduction: 'none' }),
      batch: (o, t, r) => crossEntropy(o, t, { labelSmoothing: 0.2, reduction: r }),
      meanHolds: true,
    },
    'nllLoss (weights, ignoreIndex 1)': {
      targets: classes,
      perSample: (o, t) => nllLoss(logSoftmax(o, 1), t, { weight, ignoreIndex: 1, reduction: 'none' }),
      batch: (o, t, r) => nllLoss(logSoftmax(o, 1), t, { weight, ignoreIndex: 1, reduction: r }),
      meanHolds: false,
    },
    nllLoss: {
      targets: classes,
      perSample: (o, t) => nllLoss(logSoftmax(o, 1), t, 'none'),
      batch: (o, t, r) => nllLoss(logSoftmax(o, 1), t, r),
      meanHolds: true,
    },
    binaryCrossEntropy: {
      targets: soft,
      perSample: (o, t) => binaryCrossEntropy(sigmoid(o), t, { weight, reduction: 'none' }).sum(1),
      batch: (o, t, r) => binaryCrossEntropy(sigmoid(o), t, { weight, reduction: r }),
      meanHolds: false, // the elementwise mean divides by B·3
    },
    binaryCrossEntropyWithLogits: {
      targets: soft,
      perSample: (o, t) => binaryCrossEntropyWithLogits(o, t, { weight, posWeight: weight, reduction: 'none' }).sum(1),
      batch: (o, t, r) => binaryCrossEntropyWithLogits(o, t, { weight, posWeight: weight, reduction: r }),
      meanHolds: false,
    },
    'klDiv (batchmean)': {
      targets: probs,
      perSample: (o, t) => klDiv(logSoftmax(o, 1), t, 'none').sum(1),
      batch: (o, t, r) => klDiv(logSoftmax(o, 1), t, r === 'mean' ? 'batchmean' : 'sum'),
      meanHolds: true,
    },
    huberLoss: {
      targets: y,
      perSample: (o, t) => huberLoss(o, t, { delta: 0.5, reduction: 'none' }).sum(1),
      batch: (o, t, r) => huberLoss(o, t, { delta: 0.5, reduction: r }),
      meanHolds: false,
    },
    smoothL1Loss: {
      targets: y,
      perSample: (o, t) => smoothL1Loss(o, t, { beta: 0.5, reduction: 'none' }).sum(1),
      batch: (o, t, r) => smoothL1Loss(o, t, { beta: 0.5, reduction: r }),
      meanHolds: false,
    },
  };

  it.each(Object.entries(losses))("%s: per-sample gradients sum to the 'sum' gradient (and average to the 'mean' one where that holds)", (_name, l) => {
    const m = model();
    const targetsTensor = Array.isArray(l.targets) ? int32(l.targets) : l.targets;
    const { grads, losses: perLosses } = perSampleGrads(m, { x, targets: targetsTensor }, { loss: (o, t) => l.perSample(o, t as Tensor) });
    expectAllClose(perLosses, values(l.perSample(m.forward(x), targetsTensor)), { rtol: 1e-13, atol: 1e-14 });
    const names = m.namedParameters().map(([n]) => n);
    const total = gradients([l.batch(m.forward(x), targetsTensor, 'sum')], m.parameters());
    const mean = gradients([l.batch(m.forward(x), targetsTensor, 'mean')], m.parameters());
    names.forEach((n, k) => {
      const rows = grads!.get(n)!;
      expectAllClose(rows.sum(0), values(total[k]!), { rtol: 1e-10, atol: 1e-12, what: `${n}: Σ per-sample = sum gradient` });
      if (l.meanHolds) expectAllClose(rows.mean(0), values(mean[k]!), { rtol: 1e-10, atol: 1e-12, what: `${n}: mean per-sample = mean gradient` });
      // Each row is that sample's gradient as a batch of one.
      const i = 3;
      const one = gradients([l.perSample(m.forward(x.slice([[i, i + 1]])), targetsTensor.slice([[i, i + 1]])).sum()], m.parameters());
      expectAllClose(rows.slice([[i, i + 1]]).reshape(one[k]!.shape), values(one[k]!), { rtol: 1e-11, atol: 1e-13, what: `${n}: row ${i}` });
    });
  });

  it('vmap over samples: class losses on [C] rows with 0-d targets equal the unreduced batch, and vmap(grad) their gradients', () => {
    const logits = randn([B, 3], { seed: 16, ...f64 });
    const t = int32([0, 2, -100, 1, 2]);
    const opts = { weight, labelSmoothing: 0.1, ignoreIndex: -100 } as const;
    // 'sum' per sample is the batch's 'none' row ('mean' of one sample divides by its own weight).
    const batched = values(crossEntropy(logits, t, { ...opts, reduction: 'none' }));
    expectAllClose(vmap((xi: Tensor, ti: Tensor) => crossEntropy(xi, ti, { ...opts, reduction: 'sum' }))(logits, t), batched, { rtol: 1e-13, atol: 1e-14 });
    // Without smoothing, the weight of one sample cancels in its 'mean'.
    const unweighted = values(crossEntropy(logits, int32([0, 2, 0, 1, 2]), 'none'));
    expectAllClose(vmap((xi: Tensor, ti: Tensor) => crossEntropy(xi, ti, { weight }))(logits, int32([0, 2, 0, 1, 2])), unweighted, { rtol: 1e-13, atol: 1e-14 });
    const gBatch = grad((z: Tensor) => crossEntropy(z, t, { ...opts, reduction: 'sum' }))(logits);
    const gRows = vmap(grad((xi: Tensor, ti: Tensor) => crossEntropy(xi, ti, { ...opts, reduction: 'sum' })))(logits, t);
    expectAllClose(gRows, values(gBatch), { rtol: 1e-13, atol: 1e-14 });
    const lp = logSoftmax(logits, 1);
    expectAllClose(vmap((xi: Tensor, ti: Tensor) => nllLoss(xi, ti, { weight, ignoreIndex: -100, reduction: 'sum' }))(lp, t), values(nllLoss(lp, t, { weight, reduction: 'none' })), { rtol: 1e-14, atol: 0 });
  });

  it('vmap over samples of the pointwise losses (gradients in both arguments)', () => {
    const a = randn([B, 3], { seed: 17, ...f64 });
    const fns: Record<string, (p: Tensor, q: Tensor) => Tensor> = {
      bce: (p, q) => binaryCrossEntropy(sigmoid(p), sigmoid(q), 'sum'),
      bceWithLogits: (p, q) => binaryCrossEntropyWithLogits(p, sigmoid(q), { posWeight: weight, reduction: 'sum' }),
      klDiv: (p, q) => klDiv(logSoftmax(p, -1), q.softmax(-1), 'batchmean'),
      huber: (p, q) => huberLoss(p, q, { delta: 0.7, reduction: 'sum' }),
      smoothL1: (p, q) => smoothL1Loss(p, q, { beta: 0.7, reduction: 'sum' }),
    };
    for (const [name, f] of Object.entries(fns)) {
      const [ga, gy] = vmap(grad(f, { argnums: [0, 1] }))(a, y) as Tensor[];
      for (let i = 0; i < B; i++) {
        const row = (t: Tensor) => t.slice([[i, i + 1]]).reshape([3]);
        const [ea, ey] = grad(f, { argnums: [0, 1] })(row(a), row(y)) as Tensor[];
        expectAllClose(row(ga!), values(ea!), { rtol: 1e-13, atol: 1e-14, what: `${name} row ${i} (input)` });
        expectAllClose(row(gy!), values(ey!), { rtol: 1e-13, atol: 1e-14, what: `${name} row ${i} (target)` });
      }
    }
  });
});

// ---- errors ----------------------------------------------------------------------------------

describe('errors name the loss, what was expected and what was given', () => {
  const x = randn([2, 3], { seed: 1, ...f64 });
  const p = vec([0.2, 0.7]);

  it('class targets: dtype, shape, range, options', () => {
    expect(() => nllLoss(x, vec([0, 1]))).toThrow(DTypeError);
    expect(() => nllLoss(x, vec([0, 1]))).toThrow(/^nllLoss: targets must be int32 class indices; got float64/);
    expect(() => nllLoss(x, [0, 1, 2])).toThrow(ShapeError);
    expect(() => nllLoss(x, [0, 1, 2])).toThrow(/^nllLoss: expected input \[N, C\] and targets \[N\]; got \[2,3\] and \[3\]/);
    expect(() => crossEntropy(randn([2, 3, 4], { seed: 2, ...f64 }), int32([0, 1], [2]))).toThrow(/^crossEntropy: expected logits \[N, C\] and targets \[N\]; got \[2,3,4\] and \[2\] \(also accepted: \[N, C, d₁, …\]/);
    expect(() => nllLoss(x, [0, 3])).toThrow(/^nllLoss: target 3 is out of range for 3 classes \(expected 0 … 2\), at index 1; only ignoreIndex \(-100\) may lie outside/);
    expect(() => crossEntropy(x, [0, -100], { ignoreIndex: 0 })).toThrow(/^crossEntropy: target -100 is out of range .*only ignoreIndex \(0\)/);
    expect(() => crossEntropy(x, [0, 1], { weight: vec([1, 2]) })).toThrow(/^crossEntropy: weight must have shape \[C\] = \[3\] \(one per class\); got \[2\]/);
    expect(() => crossEntropy(x, [0, 1], { weight: tensor([1, 2, 3], { dtype: 'float32' }) })).toThrow(/^crossEntropy: weight must have the input's dtype float64; got float32/);
    expect(() => crossEntropy(x, [0, 1], { labelSmoothing: 1.5 })).toThrow(/^crossEntropy: labelSmoothing must be in \[0, 1\]; got 1.5/);
    expect(() => crossEntropy(x, [0, 1], { ignoreIndex: 0.5 })).toThrow(/^crossEntropy: expected ignoreIndex to be an integer; got 0.5/);
    expect(() => nllLoss(x, [0, 1], { reduction: 'batchmean' as never })).toThrow(/^nllLoss: reduction must be 'mean', 'sum' or 'none'; got 'batchmean'/);
    expect(() => crossEntropy(x, [0, 1], { reduction: 'avg' as never, labelSmoothing: 0.1 })).toThrow(/^crossEntropy: reduction must be 'mean', 'sum' or 'none'; got 'avg'/);
    expect(() => crossEntropy(x, vec([0, 1]))).toThrow(DTypeError);
    expect(() => crossEntropy(x, vec([0, 1]))).toThrow(/^crossEntropy: targets must be int32 class indices; got float64 of shape \[2\] \(class probabilities must have the logits' shape \[2,3\]\)/);
    expect(() => crossEntropy(x, x.softmax(1), { ignoreIndex: 0 })).toThrow(/^crossEntropy: ignoreIndex does not apply to class-probability targets \(as in PyTorch\); got 0/);
    expect(() => crossEntropy(x, x.softmax(1).to('float32'))).toThrow(/^crossEntropy: class probabilities must have the logits' dtype float64; got float32/);
    expect(() => nllLoss(x, [0, 1], 42 as never)).toThrow(/^nllLoss: expected the options \(or a reduction string\) to be an options object; got/);
  });

  it('vmap: an out-of-range target on the general path is a ValueError from the gather kernel; −100 on [N, C] rows needs an explicit ignoreIndex', () => {
    expect(() => vmap((xi: Tensor, ti: Tensor) => crossEntropy(xi, ti, { ignoreIndex: -100 }))(x, int32([0, 5]))).toThrow(ValueError);
    const xs = randn([2, 2, 3], { seed: 5, ...f64 });
    const ts = int32([0, -100, 2, 1], [2, 2]);
    expect(() => vmap((xi: Tensor, ti: Tensor) => crossEntropy(xi, ti, 'sum'))(xs, ts)).toThrow(/target -100 is out of range for 3 classes/);
    const sums = vmap((xi: Tensor, ti: Tensor) => crossEntropy(xi, ti, { ignoreIndex: -100, reduction: 'sum' }))(xs, ts);
    const rows = [0, 1].map((i) => crossEntropy(xs.slice([[i, i + 1]]).reshape([2, 3]), ts.slice([[i, i + 1]]).reshape([2]), 'sum').item());
    expectAllClose(sums, rows, { rtol: 1e-14, atol: 0 });
  });

  it('pointwise losses: shapes, dtypes, probabilities, thresholds, reductions, weights', () => {
    expect(() => binaryCrossEntropy(p, vec([1, 0, 1]))).toThrow(/^binaryCrossEntropy: input and target must have the same shape; got \[2\] and \[3\]/);
    expect(() => binaryCrossEntropy(p, tensor([1, 0], { dtype: 'float32' }))).toThrow(/^binaryCrossEntropy: target must have the input's dtype float64; got float32/);
    expect(() => binaryCrossEntropy(p, int32([1, 0]))).toThrow(DTypeError);
    expect(() => binaryCrossEntropy(vec([0.2, 1.5]), vec([1, 0]))).toThrow(/^binaryCrossEntropy: every input must be a probability in \[0, 1\]; got 1.5 at flat index 1/);
    expect(() => binaryCrossEntropy(vec([0.2, NaN]), vec([1, 0]))).toThrow(/got NaN at flat index 1/);
    expect(() => binaryCrossEntropyWithLogits(x, x, { posWeight: vec([1, 2]) })).toThrow(/^binaryCrossEntropyWithLogits: posWeight must broadcast to the input's shape \[2,3\]; got \[2\]/);
    expect(() => binaryCrossEntropyWithLogits(p, p, { weight: randn([3, 2], { seed: 3, ...f64 }) })).toThrow(/weight must broadcast to the input's shape \[2\]; got \[3,2\]/);
    expect(() => klDiv(x, x, { reduction: 'batch' as never })).toThrow(/^klDiv: reduction must be 'mean', 'batchmean', 'sum' or 'none'; got 'batch'/);
    expect(() => klDiv(x, x, { logTarget: 1 as never })).toThrow(/^klDiv: expected logTarget to be true or false; got 1/);
    expect(() => huberLoss(p, p, { delta: -1 })).toThrow(/^huberLoss: delta must be > 0; got -1/);
    expect(() => huberLoss(p, p, { delta: 0 })).toThrow(/^huberLoss: delta must be > 0; got 0/);
    expect(() => huberLoss(p, p, { delta: Infinity })).toThrow(/^huberLoss: expected delta to be a finite number; got Infinity/);
    expect(() => smoothL1Loss(p, p, { beta: -0.5 })).toThrow(/^smoothL1Loss: beta must be ≥ 0; got -0.5/);
    expect(() => smoothL1Loss(p, p, 'avg' as never)).toThrow(/^smoothL1Loss: reduction must be 'mean', 'sum' or 'none'; got 'avg'/);
    expect(() => huberLoss(p, [1, 2] as never)).toThrow(/^huberLoss: expected the target to be a float Tensor; got/);
  });
});

describe('wrong-typed arguments: a gradscope error naming the loss (the sweep of test/bad-arguments.test.ts)', () => {
  const X = () => randn([2, 3], { seed: 1, ...f64 });
  const P = () => tensor([[0.2, 0.5, 0.9], [0.1, 0.3, 0.7]], f64);
  const I32 = () => int32([0, 1, 2, 1, 0, 2], [2, 3]);
  const notValues = ['1', null, {}, true];
  const BAD = {
    floatTensor: [...notValues, undefined, 3, [1, 2], 'int32'],
    options: ['1', 5, null, true, []],
    optTensor: ['1', {}, true, 3, [1, 2]],
    optInt: [...notValues, 1.5, NaN, Infinity, [2]],
    optFinite: [...notValues, [1], NaN],
    bool: ['yes', 1, {}, null],
  } as const;
  type Kind = keyof typeof BAD;
  const rows: { op: string; call: (...a: any[]) => unknown; args: () => unknown[]; kinds: (Kind | null)[]; fields?: Record<string, Kind> }[] = [
    { op: 'nllLoss', call: nllLoss, args: () => [X(), [0, 2], {}], kinds: ['floatTensor', null, 'options'], fields: { weight: 'optTensor', ignoreIndex: 'optInt' } },
    { op: 'crossEntropy', call: crossEntropy, args: () => [X(), [0, 2], {}], kinds: ['floatTensor', null, 'options'], fields: { weight: 'optTensor', ignoreIndex: 'optInt', labelSmoothing: 'optFinite' } },
    { op: 'binaryCrossEntropy', call: binaryCrossEntropy, args: () => [P(), P(), {}], kinds: ['floatTensor', 'floatTensor', 'options'], fields: { weight: 'optTensor' } },
    { op: 'binaryCrossEntropyWithLogits', call: binaryCrossEntropyWithLogits, args: () => [X(), P(), {}], kinds: ['floatTensor', 'floatTensor', 'options'], fields: { weight: 'optTensor', posWeight: 'optTensor' } },
    { op: 'klDiv', call: klDiv, args: () => [X(), P(), {}], kinds: ['floatTensor', 'floatTensor', 'options'], fields: { logTarget: 'bool' } },
    { op: 'huberLoss', call: huberLoss, args: () => [X(), X(), {}], kinds: ['floatTensor', 'floatTensor', 'options'], fields: { delta: 'optFinite' } },
    { op: 'smoothL1Loss', call: smoothL1Loss, args: () => [X(), X(), {}], kinds: ['floatTensor', 'floatTensor', 'options'], fields: { beta: 'optFinite' } },
  ];
  const cases: [string, string, () => unknown][] = [];
  for (const r of rows) {
    cases.push([`${r.op} valid`, '', () => r.call(...r.args())]);
    r.kinds.forEach((kind, pos) => {
      if (kind === null) return;
      for (const bad of BAD[kind]) {
        const value = bad === 'int32' ? I32() : bad;
        cases.push([`${r.op}: argument ${pos} = ${String(bad)}`, r.op, () => r.call(...r.args().map((a, i) => (i === pos ? value : a)))]);
      }
    });
    for (const [field, kind] of Object.entries(r.fields ?? {})) {
      for (const bad of BAD[kind]) cases.push([`${r.op}: option ${field} = ${String(bad)}`, r.op, () => r.call(...r.args().map((a, i) => (i === 2 ? { [field]: bad } : a)))]);
    }
  }
  it.each(cases)('%s', (_label, op, run) => {
    if (op === '') {
      expect(run).not.toThrow();
      return;
    }
    let error: unknown = null;
    try {
      run();
    } catch (e) {
      error = e;
    }
    expect([ShapeError, DTypeError, ValueError].some((C) => error instanceof C), `got ${String(error)}`).toBe(true);
    expect((error as Error).message).toMatch(new RegExp(`^${op}: `));
  });

  it('null weights mean none, as PyTorch’s None', () => {
    const x = X();
    expect(crossEntropy(x, [0, 2], { weight: null }).item()).toBe(crossEntropy(x, [0, 2]).item());
    expect(binaryCrossEntropyWithLogits(x, P(), { weight: null, posWeight: null }).item()).toBe(binaryCrossEntropyWithLogits(x, P()).item());
  });
});
