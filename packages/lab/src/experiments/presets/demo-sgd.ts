/**
 * demo-sgd: a tiny preset that exists to exercise the experiment machinery (runner, results.json,
 * CSV, SVG plots, report, resume). It is not a paper reproduction.
 *
 * Softmax regression (a linear d → classes model with bias, float64) on a seeded Gaussian
 * mixture, trained by mini-batch SGD at two learning rates with the same seed for the data,
 * the initialisation and the batch order (paired seeds). Over this short budget a convex,
 * smooth problem trained with the larger (still stable) step should reach a lower training
 * loss; the claim's one part, a paired t-test over seeds, is declared before anything runs. It is
 * also the shortest example of the plan → measure → judge → plot skeleton (skeleton.ts).
 */
import {
  crossEntropy,
  foldIn,
  gaussianMixture,
  keyedPermutation,
  makeKey,
  noGrad,
  randn,
  tensor,
  type Tensor,
  valueAndGrad,
} from 'gradscope';
import { directionalPart } from '../claims.js';
import type { Plot, Preset, RunRecord, Series, Size, SizeTable } from '../preset.js';
import { definePreset, defineTasks } from '../skeleton.js';
import { mean, pairedTTest } from '../stats.js';

const LEARNING_RATES = [0.01, 0.1] as const;

interface Budget {
  n: number;
  epochs: number;
  batch: number;
}

const BUDGET: SizeTable<Budget> = {
  smoke: { n: 128, epochs: 6, batch: 16 },
  full: { n: 1024, epochs: 30, batch: 32 },
};

const D = 5;
const CLASSES = 3;

/** One grid point: a seed and a learning rate at a size. */
interface TrainInput {
  seed: number;
  lr: number;
  size: Size;
}

/** One SGD run; returns the full-batch training loss before training and after every epoch. */
function train({ seed, lr, size }: TrainInput): number[] {
  const budget = BUDGET[size]!;
  const data = gaussianMixture({ n: budget.n, d: D, classes: CLASSES, seed });
  const xAll = tensor(data.features, { shape: [budget.n, D] });
  const yAll = Int32Array.from(data.targets);
  let w = randn([D, CLASSES], { seed: seed * 7919 + 1, std: 1 / Math.sqrt(D), dtype: 'float64' });
  let b = randn([CLASSES], { seed: seed * 7919 + 2, std: 0.1, dtype: 'float64' });
  const loss = (x: Tensor, y: Int32Array) => (w: Tensor, b: Tensor) => crossEntropy(x.matmul(w).add(b), y);
  const fullLoss = () => noGrad(() => loss(xAll, yAll)(w, b).item());
  const curve = [fullLoss()];
  const key = foldIn(makeKey(seed), 0xde50);
  const xb = new Float64Array(budget.batch * D);
  const yb = new Int32Array(budget.batch);
  for (let epoch = 0; epoch < budget.epochs; epoch++) {
    const order = keyedPermutation(budget.n, foldIn(key, epoch));
    for (let start = 0; start + budget.batch <= budget.n; start += budget.batch) {
      for (let k = 0; k < budget.batch; k++) {
        const i = order[start + k]!;
        xb.set(data.features.subarray(i * D, (i + 1) * D), k * D);
        yb[k] = yAll[i]!;
      }
      const [, [gw, gb]] = valueAndGrad(loss(tensor(xb, { shape: [budget.batch, D] }), yb), { argnums: [0, 1] })(w, b);
      [w, b] = noGrad(() => [w.sub(gw!.mul(lr)), b.sub(gb!.mul(lr))]);
    }
    const value = fullLoss();
    curve.push(Number.isFinite(value) ? value : Number.NaN);
  }
  return curve;
}

const tasks = defineTasks({ train });

interface Measured {
  grid: TrainInput[];
  curves: number[][];
}

const finalLoss = (curve: readonly number[]) => {
  const last = curve[curve.length - 1]!;
  return Number.isFinite(last) ? last : Number.POSITIVE_INFINITY;
};

export const demoSgd: Preset = definePreset<Budget, Measured>({
  name: 'demo-sgd',
  paper: 'Demonstration preset (no paper): checks the experiment machinery end to end',
  claim:
    'On a small convex classification problem, mini-batch SGD with a ten times larger (still stable) learning ' +
    'rate reaches a lower training loss within the same short budget.',
  rule:
    'One part, a paired t-test over seeds (two-sided, α = 0.05) of the final training loss at lr ' +
    `${LEARNING_RATES[0]} minus that at lr ${LEARNING_RATES[1]}: REPRODUCED if it is significantly above 0, ` +
    'NOT REPRODUCED if significantly below, INCONCLUSIVE otherwise.',
  seeds: [1, 2, 3],
  alpha: 0.05,
  budgets: BUDGET,
  describeBudget: (b) =>
    `Softmax regression on a ${b.n}-sample Gaussian mixture (${D} features, ${CLASSES} classes), ` +
    `${b.epochs} epochs of batch ${b.batch} at each learning rate.`,
  scaleDown: () => '',
  tasks,
  async measure(context) {
    const grid = context.seeds.flatMap((seed) => LEARNING_RATES.map((lr) => ({ seed, lr, size: context.size })));
    return { grid, curves: await context.run(tasks.train, grid, 'runs') };
  },
  judge({ grid, curves }, context) {
    const curveOf = (seed: number, lr: number) => curves[grid.findIndex((g) => g.seed === seed && g.lr === lr)]!;
    const final = (lr: number) => context.seeds.map((seed) => finalLoss(curveOf(seed, lr)));
    const small = final(LEARNING_RATES[0]);
    const large = final(LEARNING_RATES[1]);
    if (![...small, ...large].every(Number.isFinite)) {
      throw new Error('demo-sgd: a run diverged, which this convex problem at these learning rates never should');
    }
    const spec = {
      id: 'larger-lr-lower-loss',
      claim: 'The larger learning rate ends at a lower training loss.',
      effectLabel: `final loss at lr ${LEARNING_RATES[0]} − at lr ${LEARNING_RATES[1]}`,
    };
    return [directionalPart(spec, pairedTTest(small, large, context.alpha), 'greater', context.alpha)];
  },
  plot({ grid, curves }, _parts, context) {
    const { budget, seeds } = context;
    const runs: RunRecord[] = grid.map(({ seed, lr }, i) => ({
      id: `seed${seed}-lr${lr}`,
      config: { seed, lr, epochs: budget.epochs, batch: budget.batch, n: budget.n },
      diverged: !Number.isFinite(finalLoss(curves[i]!)),
      metrics: { initialLoss: curves[i]![0]!, finalLoss: finalLoss(curves[i]!) },
    }));
    const numbers: Record<string, number> = {};
    for (const r of runs) numbers[`seed ${r.config.seed}: final loss lr ${r.config.lr}`] = r.metrics.finalLoss!;
    const epochs = Array.from({ length: budget.epochs + 1 }, (_, i) => i);
    const ofLr = (lr: number) => curves.filter((_, i) => grid[i]!.lr === lr);
    const perSeed: Series[] = LEARNING_RATES.map((lr) => ({
      label: `lr ${lr}, each seed's final loss`,
      x: ofLr(lr).map(() => budget.epochs),
      y: ofLr(lr).map(finalLoss),
      style: 'points' as const,
    }));
    const meanSeries: Series[] = LEARNING_RATES.map((lr) => ({
      label: `lr ${lr} (mean over seeds)`,
      x: epochs,
      y: epochs.map((e) => mean(ofLr(lr).map((c) => c[e]!))),
    }));
    const plots: Plot[] = [
      {
        id: 'training-loss',
        title: 'Training loss: mean over seeds, and each seed at the end',
        xLabel: 'epoch',
        yLabel: 'training cross-entropy',
        yLog: true,
        series: [...meanSeries, ...perSeed],
      },
    ];
    const checks = {
      'every run starts from the same loss at both learning rates': seeds.every((seed) => {
        const runOf = (lr: number) => runs.find((r) => r.config.seed === seed && r.config.lr === lr)!;
        const initial = (lr: number) => runOf(lr).metrics.initialLoss;
        const [a, b] = LEARNING_RATES.map(initial);
        return a === b;
      }),
      'no run diverged': runs.every((r) => !r.diverged),
    };
    return { numbers, plots, runs, checks };
  },
});
