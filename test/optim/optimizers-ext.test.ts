/**
 * Adam, AdamW, RMSprop and Adagrad against hand-written references of torch.optim's formulas
 * (plain float64 arithmetic, written from packages/lab/oracle/README.md, Family 10), the oracle
 * family's coverage (its cases run in the oracle matrix of test/oracle.test.ts), their state (PyTorch's names, save/restore bit for bit,
 * refusals naming what does not fit), gradient clipping with torch.nn.utils semantics, and
 * composition with every estimator of the SVRG family through train().
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { gaussianMixture } from '../../src/data/synthetic.js';
import { noGrad, tensor, type Tensor } from '../../src/index.js';
import { mlp } from '../../src/nn/zoo.js';
import {
  Adagrad,
  Adam,
  AdamW,
  ClippedUpdate,
  clipDirectionNorm,
  clipDirectionValue,
  clipGradNorm,
  clipGradValue,
  cyclicLR,
  type Estimator,
  PerParameterUpdate,
  RMSprop,
  SagaEstimator,
  schedule,
  ScsgEstimator,
  SgdEstimator,
  SgdUpdate,
  StreamingSvrgEstimator,
  alphaSvrg,
  bpSvrg,
  svrg,
  train,
  type UpdateRule,
} from '../../src/optim/index.js';
import type { OracleCase } from '../../packages/lab/src/cli/oracle/format.js';
import { runCase } from '../../packages/lab/src/cli/oracle/runner.js';
import { optimizersExtFamily } from '../../packages/lab/src/cli/oracle/families/optimizers-ext.js';
import { D, partition, train as loop } from './helpers.js';

const f64 = { dtype: 'float64' as const };

// ---- references: torch.optim's formulas on one flat float64 vector -----------------------------

type Ref = { step(w: number[], g: number[], lr: number): number[] };

function adamRef(o: { betas?: [number, number]; eps?: number; weightDecay?: number; amsgrad?: boolean; decoupled?: boolean }): Ref {
  const [b1, b2] = o.betas ?? [0.9, 0.999];
  const eps = o.eps ?? 1e-8;
  const wd = o.weightDecay ?? (o.decoupled ? 0.01 : 0);
  let m: number[] | null = null;
  let v: number[] | null = null;
  let vMax: number[] | null = null;
  let t = 0;
  return {
    step(w, g, lr) {
      t++;
      m ??= w.map(() => 0);
      v ??= w.map(() => 0);
      vMax ??= w.map(() => 0);
      if (o.decoupled) w = w.map((x) => x * (1 - lr * wd));
      else g = g.map((gi, j) => gi + wd * w[j]!);
      m = m.map((mi, j) => b1 * mi + (1 - b1) * g[j]!);
      v = v.map((vi, j) => b2 * vi + (1 - b2) * g[j]! * g[j]!);
      vMax = vMax.map((x, j) => Math.max(x, v![j]!));
      const second = o.amsgrad ? vMax : v;
      return w.map((x, j) => x - (lr / (1 - b1 ** t)) * (m![j]! / (Math.sqrt(second[j]!) / Math.sqrt(1 - b2 ** t) + eps)));
    },
  };
}

function rmspropRef(o: { alpha?: number; eps?: number; weightDecay?: number; momentum?: number; centered?: boolean }): Ref {
  const alpha = o.alpha ?? 0.99;
  const eps = o.eps ?? 1e-8;
  let s: number[] | null = null;
  let a: number[] | null = null;
  let buf: number[] | null = null;
  return {
    step(w, g, lr) {
      s ??= w.map(() => 0);
      a ??= w.map(() => 0);
      buf ??= w.map(() => 0);
      g = g.map((gi, j) => gi + (o.weightDecay ?? 0) * w[j]!);
      s = s.map((si, j) => alpha * si + (1 - alpha) * g[j]! ** 2);
      a = a.map((ai, j) => alpha * ai + (1 - alpha) * g[j]!);
      const denom = s.map((si, j) => Math.sqrt(o.centered ? si - a![j]! ** 2 : si) + eps);
      if ((o.momentum ?? 0) > 0) {
        buf = buf.map((b, j) => o.momentum! * b + g[j]! / denom[j]!);
        return w.map((x, j) => x - lr * buf![j]!);
      }
      return w.map((x, j) => x - (lr * g[j]!) / denom[j]!);
    },
  };
}

function adagradRef(o: { lrDecay?: number; weightDecay?: number; initialAccumulatorValue?: number; eps?: number }): Ref {
  let S: number[] | null = null;
  let t = 0;
  return {
    step(w, g, lr) {
      t++;
      S ??= w.map(() => o.initialAccumulatorValue ?? 0);
      g = g.map((gi, j) => gi + (o.weightDecay ?? 0) * w[j]!);
      S = S.map((x, j) => x + g[j]! ** 2);
      const clr = lr / (1 + (t - 1) * (o.lrDecay ?? 0));
      return w.map((x, j) => x - (clr * g[j]!) / (Math.sqrt(S![j]!) + (o.eps ?? 1e-10)));
    },
  };
}

/** An UpdateRule driven by a reference: checks that train() hands the rule the estimator's direction and the schedule's lr. */
function referenceRule(ref: Ref): UpdateRule {
  return {
    name: 'reference',
    step(params, direction, lr) {
      const w = params.flatMap((p) => Array.from(p.toTypedArray()));
      const g = direction.flatMap((d) => Array.from(d.contiguous().toTypedArray()));
      const next = ref.step(w, g, lr);
      let offset = 0;
      for (const p of params) {
        noGrad(() => p.copy_(tensor(next.slice(offset, offset + p.size), { shape: [...p.shape], dtype: p.dtype })));
        offset += p.size;
      }
    },
    saveState: () => null,
    restoreState: () => undefined,
  };
}

const rules: [string, () => UpdateRule, () => Ref][] = [
  ['adam', () => new Adam(), () => adamRef({})],
  ['adam betas/eps/weight decay', () => new Adam({ betas: [0.8, 0.95], eps: 1e-6, weightDecay: 0.01 }), () => adamRef({ betas: [0.8, 0.95], eps: 1e-6, weightDecay: 0.01 })],
  ['adam amsgrad', () => new Adam({ amsgrad: true, weightDecay: 0.005 }), () => adamRef({ amsgrad: true, weightDecay: 0.005 })],
  ['adamw', () => new AdamW({ weightDecay: 0.05 }), () => adamRef({ weightDecay: 0.05, decoupled: true })],
  ['adamw default decay, amsgrad', () => new AdamW({ amsgrad: true, betas: [0.85, 0.99] }), () => adamRef({ decoupled: true, amsgrad: true, betas: [0.85, 0.99] })],
  ['rmsprop', () => new RMSprop(), () => rmspropRef({})],
  ['rmsprop momentum', () => new RMSprop({ alpha: 0.9, momentum: 0.9 }), () => rmspropRef({ alpha: 0.9, momentum: 0.9 })],
  ['rmsprop centered', () => new RMSprop({ centered: true }), () => rmspropRef({ centered: true })],
  [
    'rmsprop centered momentum weight decay',
    () => new RMSprop({ centered: true, momentum: 0.5, weightDecay: 0.01, eps: 1e-6 }),
    () => rmspropRef({ centered: true, momentum: 0.5, weightDecay: 0.01, eps: 1e-6 }),
  ],
  ['adagrad', () => new Adagrad(), () => adagradRef({})],
  [
    'adagrad lr decay, accumulator, weight decay',
    () => new Adagrad({ lrDecay: 0.05, initialAccumulatorValue: 0.1, weightDecay: 0.01 }),
    () => adagradRef({ lrDecay: 0.05, initialAccumulatorValue: 0.1, weightDecay: 0.01 }),
  ],
];

const directions = [
  [0.5, -1.0, 0.02],
  [0.25, 2.0, -0.03],
  [-1.5, 0.75, 0.0],
  [0.1, -0.2, 0.4],
];

function expectClose(got: readonly number[], want: readonly number[], digits = 13): void {
  expect(got.length).toBe(want.length);
  got.forEach((v, j) => expect(Math.abs(v - want[j]!)).toBeLessThanOrEqual(10 ** -digits * Math.max(1, Math.abs(want[j]!))));
}

describe('update rules against the torch.optim formulas', () => {
  it.each(rules)('%s: several steps, two parameters, a changing learning rate', (_name, make, makeRef) => {
    const rule = make();
    const ref = makeRef();
    const a = tensor([1.0, -2.0], f64);
    const b = tensor([[0.5]], f64);
    let w = [1.0, -2.0, 0.5];
    directions.forEach((g, t) => {
      const lr = 0.1 / (t + 1);
      rule.step([a, b], [tensor(g.slice(0, 2), f64), tensor([[g[2]!]], f64)], lr);
      w = ref.step(w, g, lr);
      expectClose([...a.toTypedArray(), ...b.toTypedArray()], w);
    });
  });

  it('updates in place: same tensors, version counters bumped, the direction untouched', () => {
    for (const [, make] of rules) {
      const p = tensor([1.0, -2.0], f64);
      const g = tensor([0.5, -1.0], f64);
      const version = p.storage.version;
      make().step([p], [g], 0.1);
      expect(p.storage.version).toBeGreaterThan(version);
      expect(Array.from(g.toTypedArray())).toEqual([0.5, -1.0]);
    }
  });

  it('runs in float32: the state is float32, and the steps follow the float64 ones closely', () => {
    for (const [name, make] of rules) {
      const r32 = make() as PerParameterUpdate;
      const r64 = make();
      const p32 = tensor([1.0, -2.0, 0.5], { dtype: 'float32' });
      const p64 = tensor([1.0, -2.0, 0.5], f64);
      for (const g of directions) {
        r32.step([p32], [tensor(g, { dtype: 'float32' })], 0.05);
        r64.step([p64], [tensor(g, f64)], 0.05);
      }
      expect(p32.dtype).toBe('float32');
      for (const t of Object.values(r32.parameterStates()![0]!.tensors)) expect(t.dtype, name).toBe('float32');
      const got = Array.from(p32.toTypedArray());
      Array.from(p64.toTypedArray()).forEach((v, j) => expect(Math.abs(got[j]! - v), name).toBeLessThan(1e-5));
    }
  });

  it('Adam: the first step moves every coordinate by about −lr·sign(g) (the bias corrections cancel)', () => {
    const p = tensor([0.0, 0.0, 0.0], f64);
    new Adam().step([p], [tensor([0.3, -2.0, 1e-3], f64)], 0.01);
    expectClose(Array.from(p.toTypedArray()), [-0.01 * (0.3 / (0.3 + 1e-8)), 0.01 * (2 / (2 + 1e-8)), -0.01 * (1e-3 / (1e-3 + 1e-8))], 15);
  });

  it('Adam and AdamW differ exactly by where the weight decay enters', () => {
    const pa = tensor([1.0], f64);
    const pw = tensor([1.0], f64);
    new Adam({ weightDecay: 0.1 }).step([pa], [tensor([0.0], f64)], 0.01);
    new AdamW({ weightDecay: 0.1 }).step([pw], [tensor([0.0], f64)], 0.01);
    // Adam: g = 0 + 0.1·1, so a full −lr·sign step; AdamW: w·(1 − lr·λ), then m = 0 moves nothing.
    expect(pw.item()).toBe(1 - 0.01 * 0.1);
    expectClose([pa.item()], [1 - 0.01 * (0.1 / (0.1 + 1e-8))], 15);
  });
});

// ---- the oracle family (packages/lab/oracle/optimizers_ext.json) ---------------------------

const oracleCases = JSON.parse(readFileSync(fileURLToPath(new URL('../../packages/lab/oracle/optimizers_ext.json', import.meta.url)), 'utf8')) as OracleCase[];

describe('oracle optimizers_ext through the runner', () => {
  it('has the 15 cases of the format, and the family runs them all', () => {
    expect(oracleCases).toHaveLength(15);
    for (const c of oracleCases) expect(optimizersExtFamily.missing(c)).toBeNull();
  });
  // The cases run in the oracle matrix of test/oracle.test.ts (float64 and float32, cpu and wasm).
  it('fails a case whose expected trajectory is moved by 1e-6', () => {
    const c = oracleCases.find((x) => x.name === 'adamw')!;
    const t = c.expected.trajectory as { shape: number[]; data: number[] };
    const broken: OracleCase = { ...c, expected: { ...c.expected, trajectory: { ...t, data: t.data.map((v, i) => (i === 7 ? v + 1e-6 : v)) } } };
    expect(runCase(broken, 'float64').failures.map((f) => f.key)).toEqual(['trajectory']);
  });
});

// ---- state: names, save/restore, refusals -------------------------------------------------

function stepAll(rule: UpdateRule, p: Tensor[], from: number, to: number, dtype: 'float32' | 'float64' = 'float64'): void {
  for (let t = from; t < to; t++) {
    const g = directions[t % directions.length]!;
    rule.step(p, [tensor(g.slice(0, 2), { dtype }), tensor([[g[2]!]], { dtype })], 0.05 * (1 + t));
  }
}

const bits = (ts: readonly Tensor[]) => Buffer.from(Float64Array.from(ts.flatMap((t) => Array.from(t.toTypedArray()))).buffer);

describe('optimizer state', () => {
  it('keeps PyTorch state names, per parameter, and the step count', () => {
    const names = (rule: PerParameterUpdate) => {
      stepAll(rule, [tensor([1, 2], f64), tensor([[3]], f64)], 0, 3);
      const states = rule.parameterStates()!;
      expect(states.map((s) => s.step)).toEqual([3, 3]);
      expect(states[1]!.tensors[Object.keys(states[1]!.tensors)[0]!]!.shape).toEqual([1, 1]);
      return Object.keys(states[0]!.tensors).sort();
    };
    expect(new Adam().parameterStates()).toBeNull();
    expect(names(new Adam())).toEqual(['exp_avg', 'exp_avg_sq']);
    expect(names(new Adam({ amsgrad: true }))).toEqual(['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq']);
    expect(names(new AdamW())).toEqual(['exp_avg', 'exp_avg_sq']);
    expect(names(new RMSprop())).toEqual(['square_avg']);
    expect(names(new RMSprop({ momentum: 0.9, centered: true }))).toEqual(['grad_avg', 'momentum_buffer', 'square_avg']);
    expect(names(new Adagrad())).toEqual(['sum']);
    const saved = new Adam({ amsgrad: true });
    stepAll(saved, [tensor([1, 2], f64), tensor([[3]], f64)], 0, 2);
    expect(Object.keys(saved.saveState().state![0]!).sort()).toEqual(['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq', 'step']);
  });

  it.each(['float64', 'float32'] as const)('save, JSON round trip, restore into a new rule: continues bit for bit (%s)', (dtype) => {
    for (const [name, make] of rules) {
      const start = () => [tensor([1.0, -2.0], { dtype }), tensor([[0.5]], { dtype })];
      const uninterrupted = start();
      stepAll(make(), uninterrupted, 0, 7, dtype);
      const p = start();
      const first = make();
      stepAll(first, p, 0, 3, dtype);
      const state = JSON.parse(JSON.stringify(first.saveState()));
      const resumed = make();
      resumed.restoreState(state, p);
      stepAll(resumed, p, 3, 7, dtype);
      expect(bits(p).equals(bits(uninterrupted)), name).toBe(true);
    }
  });

  it('a restore refuses, naming what does not fit, and changes nothing', () => {
    const p = [tensor([1.0, -2.0], f64), tensor([[0.5]], f64)];
    const adam = new Adam({ amsgrad: true });
    stepAll(adam, p, 0, 2);
    const good = adam.saveState();
    const target = new Adam({ amsgrad: true });
    stepAll(target, [tensor([0, 0], f64), tensor([[0]], f64)], 0, 1);
    const before = JSON.stringify(target.saveState());
    const refuse = (state: unknown, pattern: RegExp, rule: UpdateRule = target, params: Tensor[] | undefined = p) => {
      expect(() => rule.restoreState(state, params)).toThrow(pattern);
      expect(JSON.stringify(target.saveState())).toBe(before);
    };
    refuse(42, /adam: restoreState got 42; expected the value of saveState/);
    refuse(new RMSprop().saveState(), /adam: restoreState: the state is one of 'rmsprop'; this rule is 'adam'/);
    refuse({ ...good, hyper: { ...good.hyper, betas: [0.8, 0.999] } }, /saved with betas \[0\.8,0\.999\]; this rule has \[0\.9,0\.999\]/);
    refuse({ ...good, hyper: { ...good.hyper, amsgrad: false } }, /saved with amsgrad false; this rule has true/);
    const withoutMax = { ...good, state: good.state!.map(({ max_exp_avg_sq: _, ...rest }) => rest) };
    refuse(withoutMax, /state\[0\] has no 'max_exp_avg_sq'; adam with amsgrad keeps exp_avg, exp_avg_sq, max_exp_avg_sq/);
    refuse({ ...good, state: good.state!.map((s) => ({ ...s, momentum_buffer: s.exp_avg })) }, /state\[0\] has an entry 'momentum_buffer'/);
    refuse(good, /the state holds 2 parameters; got 1/, target, [p[0]!]);
    refuse(good, /state\[1\]\.exp_avg has shape \[1,1\]; parameter 1 has \[1\]/, target, [p[0]!, tensor([0.5], f64)]);
    refuse(good, /state\[0\]\.exp_avg is float64; parameter 0 is float32/, target, [tensor([1, 2], { dtype: 'float32' }), p[1]!]);
    const damaged = structuredClone(good);
    (damaged.state![0]!.exp_avg as { data: number[] }).data.pop();
    refuse(damaged, /state\[0\]\.exp_avg\.data has 1 values; shape \[2\] has 2/);
    refuse({ ...good, state: [{ ...good.state![0]!, step: 0 }, good.state![1]!] }, /state\[0\]\.step is 0; expected an integer ≥ 1/);
    // A state restored without the parameters is still checked against them at the next step.
    const loose = new Adam({ amsgrad: true });
    loose.restoreState(good);
    expect(() => loose.step([p[0]!], [tensor([1, 1], f64)], 0.1)).toThrow(/adam: step: the state holds 2 parameters; got 1/);
  });

  it('SgdUpdate refuses momentum buffers that do not fit the parameters', () => {
    const sgd = new SgdUpdate({ momentum: 0.9 });
    sgd.step([tensor([1, 2], f64)], [tensor([1, 1], f64)], 0.1);
    const state = sgd.saveState();
    expect(() => new SgdUpdate({ momentum: 0.9 }).restoreState(state, [tensor([1, 2, 3], f64)])).toThrow(/sgd-momentum: restoreState: buffers\[0\] has shape \[2\]; parameter 0 has \[3\]/);
    expect(() => new SgdUpdate({ momentum: 0.9 }).restoreState(state, [])).toThrow(/holds 1 momentum buffers; got 0 parameters/);
  });
});

describe('arguments', () => {
  it('refuses bad options with PyTorch’s ranges, naming the rule', () => {
    expect(() => new Adam({ betas: [1, 0.9] })).toThrow(/Adam: betas must be two numbers in \[0, 1\); got \[1,0\.9\]/);
    expect(() => new AdamW({ eps: -1 })).toThrow(/AdamW: eps must be a finite number ≥ 0; got -1/);
    expect(() => new Adam({ weightDecay: NaN })).toThrow(/Adam: weightDecay/);
    expect(() => new Adam({ amsgrad: 1 as unknown as boolean })).toThrow(/Adam: expected amsgrad to be true or false/);
    expect(() => new RMSprop({ alpha: -0.1 })).toThrow(/RMSprop: alpha/);
    expect(() => new RMSprop({ momentum: Infinity })).toThrow(/RMSprop: momentum/);
    expect(() => new Adagrad({ lrDecay: -1 })).toThrow(/Adagrad: lrDecay/);
    expect(() => new Adagrad({ initialAccumulatorValue: -1 })).toThrow(/Adagrad: initialAccumulatorValue/);
  });

  it('refuses a direction that does not match the parameters, before changing anything', () => {
    const a = tensor([1, 2], f64);
    const rule = new Adam();
    expect(() => rule.step([a], [], 0.1)).toThrow(/adam: got 0 direction tensors for 1 parameters/);
    expect(() => rule.step([a], [tensor([1, 2, 3], f64)], 0.1)).toThrow(/adam: direction 0 has shape \[3\]; parameter 0 has \[2\]/);
    expect(() => rule.step([a], [tensor([1, 2], { dtype: 'float32' })], 0.1)).toThrow(/adam: direction 0 has dtype float32; parameter 0 is float64/);
    expect(() => rule.step([a], [tensor([1, 2], f64)], NaN)).toThrow(/adam: the learning rate must be finite; got NaN/);
    expect(Array.from(a.toTypedArray())).toEqual([1, 2]);
    expect(rule.parameterStates()).toBeNull();
  });
});

// ---- clipping ----------------------------------------------------------------------------

/** Parameters with gradients set. */
function withGrads(grads: number[][]): Tensor[] {
  return grads.map((g) => {
    const p = tensor(g.map(() => 0), f64).requireGrad();
    p.grad = tensor(g, f64);
    return p;
  });
}

describe('gradient clipping (torch.nn.utils semantics)', () => {
  const grads = [
    [3, -4],
    [0, 12],
  ]; // ‖·‖₂ = 13, ‖·‖∞ = 12, ‖·‖₁ = 19

  it('clipGradNorm scales every .grad by maxNorm/(total + 1e-6) and returns the total norm', () => {
    for (const [p, total] of [[2, 13], [Infinity, 12], ['inf', 12], [1, 19], [3, Math.cbrt(27 + 64 + 1728)]] as const) {
      const params = withGrads(grads);
      expect(clipGradNorm(params, 6.5, p)).toBeCloseTo(total, 12);
      const c = 6.5 / (total + 1e-6);
      expectClose(params.flatMap((q) => Array.from(q.grad!.toTypedArray())), grads.flat().map((g) => g * c), 14);
    }
  });

  it('leaves gradients whose norm is below maxNorm unchanged (coefficient clamped at 1), skips parameters without .grad', () => {
    const params = [...withGrads(grads), tensor([5, 5], f64).requireGrad()];
    expect(clipGradNorm(params, 100)).toBe(13);
    expect(params.slice(0, 2).flatMap((q) => Array.from(q.grad!.toTypedArray()))).toEqual(grads.flat());
    expect(params[2]!.grad).toBeNull();
    expect(clipGradNorm([], 1)).toBe(0);
  });

  it('non-finite norms: scaled by default (NaN spreads), refused with errorIfNonfinite', () => {
    const params = withGrads([[NaN, 1]]);
    expect(() => clipGradNorm(params, 1, 2, { errorIfNonfinite: true })).toThrow(/clipGradNorm: the total norm of order 2 of the gradients is NaN/);
    expect(Array.from(params[0]!.grad!.toTypedArray())).toEqual([NaN, 1]);
    expect(clipGradNorm(params, 1)).toBeNaN();
    expect(Array.from(params[0]!.grad!.toTypedArray())).toEqual([NaN, NaN]);
  });

  it('clipGradValue clamps every .grad in place', () => {
    const params = withGrads(grads);
    clipGradValue(params, 3.5);
    expect(params.flatMap((q) => Array.from(q.grad!.toTypedArray()))).toEqual([3, -3.5, 0, 3.5]);
  });

  it('the direction forms return clipped copies and leave their inputs alone', () => {
    const direction = grads.map((g) => tensor(g, f64));
    const { direction: clipped, totalNorm } = clipDirectionNorm(direction, 1, Infinity);
    expect(totalNorm).toBe(12);
    expectClose(clipped.flatMap((t) => Array.from(t.toTypedArray())), grads.flat().map((g) => g / (12 + 1e-6)), 15);
    expect(clipDirectionValue(direction, 1).flatMap((t) => Array.from(t.toTypedArray()))).toEqual([1, -1, 0, 1]);
    expect(direction.flatMap((t) => Array.from(t.toTypedArray()))).toEqual(grads.flat());
  });

  it('float32: the total norm and the coefficient are rounded in float32, as PyTorch computes them', () => {
    const g = tensor([0.1, 0.2, 0.3], { dtype: 'float32' });
    const { direction, totalNorm } = clipDirectionNorm([g], 0.1);
    const x = Array.from(g.toTypedArray());
    const total = totalNorm;
    expect(Math.fround(total)).toBe(total);
    expect(Math.abs(total - Math.hypot(...x))).toBeLessThan(1e-7);
    const c = Math.fround(Math.fround(1 / Math.fround(total + Math.fround(1e-6))) * Math.fround(0.1));
    expect(Array.from(direction[0]!.toTypedArray())).toEqual(x.map((v) => Math.fround(v * c)));
  });

  it('refuses bad arguments, naming the function', () => {
    expect(() => clipGradNorm(withGrads(grads), -1)).toThrow(/clipGradNorm: maxNorm must be a number ≥ 0; got -1/);
    expect(() => clipGradNorm(withGrads(grads), 1, 0)).toThrow(/clipGradNorm: normType must be a number > 0, Infinity or 'inf'; got 0/);
    expect(() => clipGradNorm('w' as unknown as Tensor, 1)).toThrow(/clipGradNorm: expected the parameters as a Tensor or a list of Tensors/);
    expect(() => clipGradValue(withGrads(grads), NaN)).toThrow(/clipGradValue: clipValue must be a number ≥ 0; got NaN/);
    expect(() => clipGradNorm(withGrads(grads), 1, 2, { errorIfNonfinite: 'yes' as unknown as boolean })).toThrow(/clipGradNorm: expected errorIfNonfinite to be true or false/);
    expect(() => clipDirectionNorm(tensor([1, 2], f64) as unknown as Tensor[], 1)).toThrow(/clipDirectionNorm: expected the direction as a list of Tensors/);
    expect(() => clipDirectionValue([tensor([1], f64), null as unknown as Tensor], 1)).toThrow(/clipDirectionValue: expected the direction as a list of Tensors/);
    expect(() => new ClippedUpdate(new Adam(), { maxNorm: 1, normType: null as unknown as number })).toThrow(/ClippedUpdate: normType must be/);
    // One parameter alone is accepted, as torch.nn.utils accepts it.
    expect(clipGradNorm(withGrads([[3, 4]])[0]!, 1)).toBe(5);
    expect(() => new ClippedUpdate(new Adam(), {} as never)).toThrow(/ClippedUpdate: expected exactly one of maxNorm and clipValue/);
    expect(() => new ClippedUpdate({} as UpdateRule, { maxNorm: 1 })).toThrow(/ClippedUpdate: expected an update rule to wrap/);
  });

  it('ClippedUpdate clips the direction, then steps the inner rule; its state is the inner rule’s', () => {
    const p = tensor([1, 1], f64);
    const rule = new ClippedUpdate(new SgdUpdate(), { maxNorm: 1 });
    expect(rule.name).toBe('sgd+clip-norm');
    const g = tensor([3, 4], f64);
    rule.step([p], [g], 0.5);
    expect(rule.lastNorm).toBe(5);
    expectClose(Array.from(p.toTypedArray()), [1 - (0.5 * 3) / (5 + 1e-6), 1 - (0.5 * 4) / (5 + 1e-6)], 15);
    expect(Array.from(g.toTypedArray())).toEqual([3, 4]);
    const value = new ClippedUpdate(new SgdUpdate(), { clipValue: 0.5 });
    expect(value.name).toBe('sgd+clip-value');
    const q = tensor([0, 0], f64);
    value.step([q], [tensor([3, -0.25], f64)], 1);
    expect(Array.from(q.toTypedArray())).toEqual([-0.5, 0.25]);
    const inner = new Adam();
    const wrapped = new ClippedUpdate(inner, { maxNorm: 1 });
    wrapped.step([p], [g], 0.1);
    const saved = JSON.parse(JSON.stringify(wrapped.saveState()));
    expect(saved).toEqual({ rule: 'adam+clip-norm', clip: { maxNorm: 1, normType: 2, errorIfNonfinite: false }, inner: JSON.parse(JSON.stringify(inner.saveState())) });
    const inf = new ClippedUpdate(new Adam(), { maxNorm: 1, normType: Infinity });
    expect(() => inf.restoreState(saved)).toThrow(/adam\+clip-norm: restoreState: the state was saved with clipping \{"maxNorm":1,"normType":2,"errorIfNonfinite":false\}; this rule clips with \{"maxNorm":1,"normType":"inf"/);
    expect(() => new ClippedUpdate(new Adam(), { clipValue: 1 }).restoreState(saved)).toThrow(/adam\+clip-value: restoreState: the state is one of 'adam\+clip-norm'/);
    expect(() => new Adam().restoreState(saved)).toThrow(/adam: restoreState got/);
    const again = new ClippedUpdate(new Adam(), { maxNorm: 1 });
    again.restoreState(saved, [p]);
    expect(JSON.stringify(again.saveState())).toBe(JSON.stringify(wrapped.saveState()));
  });
});

// ---- composition with the estimators, through train() --------------------------------------

/** A model for helpers' toy problem (3 classes of D features). */
const helperModel = () => mlp([D, 4, 3], { seed: 3, dtype: 'float64', activation: 'tanh' });

const data = gaussianMixture({ n: 48, d: 4, classes: 3, seed: 1 });
const model = () => mlp([4, 6, 3], { seed: 2, dtype: 'float64', activation: 'tanh' });

// SAGA needs a loop that presents its partition's blocks (saga.ts), so it runs in helpers' loop below.
const estimators: [string, () => Estimator][] = [
  ['sgd', () => new SgdEstimator()],
  ['svrg', () => svrg()],
  ['bp-svrg', () => bpSvrg()],
  ['alpha-svrg', () => alphaSvrg({ initial: 0.8, totalSteps: 12 })],
  ['streaming svrg', () => new StreamingSvrgEstimator({ megaBatchFactor: 2 })],
  ['scsg', () => new ScsgEstimator({ megaBatchFactor: 2 })],
];

describe('composition: an estimator gives the direction, the rule the step', () => {
  const cases = estimators.flatMap(([e, makeE]) => rules.filter((_, i) => [0, 2, 3, 8, 10].includes(i)).map(([r, makeR, makeRef]) => [`${e} direction with ${r}`, makeE, makeR, makeRef] as const));
  it.each(cases)('%s: train() equals the reference formula applied to the same directions', (_name, makeE, makeR, makeRef) => {
    const sched = schedule(cyclicLR(0.005, 0.05, 1), 8);
    const got = train(model(), data, { estimator: makeE(), update: makeR(), schedule: sched, epochs: 2, seed: 4 });
    const want = train(model(), data, { estimator: makeE(), update: referenceRule(makeRef()), schedule: sched, epochs: 2, seed: 4 });
    expect(got.steps).toBe(12);
    expectClose(got.state.parameters.flat(), want.state.parameters.flat(), 11);
    expectClose(got.losses, want.losses, 11);
    expect(got.state.parameters.flat().some((v, j) => v !== model().flattenParameters().toTypedArray()[j])).toBe(true);
  });

  it.each(['sgd', 'svrg', 'saga'] as const)('through the partition loop: %s direction with each rule equals the reference', (kind) => {
    for (const [name, makeR, makeRef] of rules) {
      const makeE = (): Estimator => (kind === 'saga' ? new SagaEstimator({ partition }) : kind === 'svrg' ? svrg() : new SgdEstimator());
      const epochs = [partition, partition, partition];
      const got = loop(helperModel(), makeE(), makeR(), epochs, 0.05);
      const want = loop(helperModel(), makeE(), referenceRule(makeRef()), epochs, 0.05);
      got.forEach((row, t) => expectClose(row, want[t]!, 11));
      expect(got.length, name).toBe(12);
    }
  });

  it('ClippedUpdate clips exactly the direction the estimator gives (SVRG), then the inner rule steps', () => {
    const flatOf = (d: readonly Tensor[]) => d.flatMap((t) => Array.from(t.contiguous().toTypedArray()));
    const recorder = (into: number[][]): UpdateRule => ({ name: 'recorder', step: (_p, d) => void into.push(flatOf(d)), saveState: () => null, restoreState: () => undefined });
    // The recorders never move the parameters, so both runs see the same directions.
    const raw: number[][] = [];
    train(model(), data, { estimator: svrg(), update: recorder(raw), schedule: schedule(0.02, 8), epochs: 2, seed: 4 });
    const inner: number[][] = [];
    const norms: number[] = [];
    const clipped = new ClippedUpdate(recorder(inner), { maxNorm: 0.05 });
    const watch: UpdateRule = { name: 'watch', step: (p, d, lr) => (clipped.step(p, d, lr), void norms.push(clipped.lastNorm!)), saveState: () => null, restoreState: () => undefined };
    train(model(), data, { estimator: svrg(), update: watch, schedule: schedule(0.02, 8), epochs: 2, seed: 4 });
    expect(raw).toHaveLength(12);
    raw.forEach((d, t) => {
      const n = Math.hypot(...d);
      expectClose([norms[t]!], [n], 13);
      expectClose(inner[t]!, d.map((x) => x * Math.min(1, 0.05 / (n + 1e-6))), 14);
    });
    expect(norms.some((n) => n > 0.05)).toBe(true);
  });
});
