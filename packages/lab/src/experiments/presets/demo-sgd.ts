/**
 * demo-sgd: a tiny preset that exists to exercise the experiment machinery (runner, results.json,
 * CSV, SVG plots, report, resume). It is not a paper reproduction.
 *
 * Softmax regression (a linear d → classes model with bias, float64) on a seeded Gaussian
 * mixture, trained by mini-batch SGD at two learning rates with the same seed for the data,
 * the initialisation and the batch order (paired seeds). Over this short budget a convex,
 * smooth problem trained with the larger (still stable) step should reach a lower training
 * loss; the verdict rule below is declared before anything runs.
 */
import { crossEntropy, foldIn, gaussianMixture, keyedPermutation, makeKey, noGrad, randn, tensor, type Tensor, valueAndGrad } from 'gradscope';
import type { Plot, Preset, PresetResult, RunContext, RunRecord, Series, Size } from '../preset.js';

const LEARNING_RATES = [0.01, 0.1] as const;

interface Budget {
  n: number;
  epochs: number;
  batch: number;
}

const BUDGET: Record<Size, Budget> = {
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
  const budget = BUDGET[size];
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

export const demoSgd: Preset = {
  name: 'demo-sgd',
  paper: 'Demonstration preset (no paper): checks the experiment machinery end to end',
  claim: 'On a small convex classification problem, mini-batch SGD with a ten times larger (still stable) learning rate reaches a lower training loss within the same short budget.',
  rule: `REPRODUCED if the final training loss at lr ${LEARNING_RATES[1]} is lower than at lr ${LEARNING_RATES[0]} on every seed; NOT REPRODUCED if it is higher (or the run diverged) on every seed; INCONCLUSIVE otherwise.`,
  seeds: [1, 2, 3],
  tasks: { train },
  async run(context: RunContext): Promise<PresetResult> {
    const budget = BUDGET[context.size];
    const seeds = context.seeds;
    const grid: TrainInput[] = seeds.flatMap((seed) => LEARNING_RATES.map((lr) => ({ seed, lr, size: context.size })));
    const trained = await context.map<TrainInput, number[]>('train', grid, (done, total) => context.progress(done / total, `${done} of ${total} runs`));
    const runs: RunRecord[] = [];
    const curves = new Map<string, number[]>();
    grid.forEach(({ seed, lr }, i) => {
      const curve = trained[i]!;
      const final = curve[curve.length - 1]!;
      const id = `seed${seed}-lr${lr}`;
      curves.set(id, curve);
      runs.push({
        id,
        config: { seed, lr, epochs: budget.epochs, batch: budget.batch, n: budget.n },
        diverged: !Number.isFinite(final),
        metrics: { initialLoss: curve[0]!, finalLoss: final },
      });
    });
    const numbers: Record<string, number> = {};
    let better = 0;
    let worse = 0;
    for (const seed of seeds) {
      const lo = runs.find((r) => r.config.seed === seed && r.config.lr === LEARNING_RATES[0])!;
      const hi = runs.find((r) => r.config.seed === seed && r.config.lr === LEARNING_RATES[1])!;
      numbers[`seed ${seed}: final loss lr ${LEARNING_RATES[0]}`] = lo.metrics.finalLoss!;
      numbers[`seed ${seed}: final loss lr ${LEARNING_RATES[1]}`] = hi.metrics.finalLoss!;
      if (!hi.diverged && (lo.diverged || hi.metrics.finalLoss! < lo.metrics.finalLoss!)) better++;
      else worse++;
    }
    numbers['seeds where the larger lr is lower'] = better;
    numbers['seeds'] = seeds.length;
    const verdict = better === seeds.length ? 'REPRODUCED' : worse === seeds.length ? 'NOT REPRODUCED' : 'INCONCLUSIVE';
    const verdictDetail = `The larger learning rate reached the lower final training loss on ${better} of ${seeds.length} seeds.`;
    const epochs = Array.from({ length: budget.epochs + 1 }, (_, i) => i);
    const series: Series[] = runs.map((r) => ({ label: `lr ${r.config.lr}, seed ${r.config.seed}`, x: epochs, y: curves.get(r.id)! }));
    const meanSeries: Series[] = LEARNING_RATES.map((lr) => {
      const own = runs.filter((r) => r.config.lr === lr).map((r) => curves.get(r.id)!);
      return { label: `lr ${lr}`, x: epochs, y: epochs.map((e) => own.reduce((s, c) => s + c[e]!, 0) / own.length) };
    });
    const plots: Plot[] = [
      { id: 'training-loss', title: 'Training loss per run', xLabel: 'epoch', yLabel: 'training cross-entropy', yLog: true, series },
      { id: 'mean-training-loss', title: 'Mean training loss over seeds', xLabel: 'epoch', yLabel: 'training cross-entropy (mean over seeds)', yLog: true, series: meanSeries },
    ];
    const checks = {
      'every run starts from the same loss at both learning rates': seeds.every((seed) => {
        const [a, b] = LEARNING_RATES.map((lr) => runs.find((r) => r.config.seed === seed && r.config.lr === lr)!.metrics.initialLoss!);
        return a === b;
      }),
      'no run diverged': runs.every((r) => !r.diverged),
    };
    return { preset: 'demo-sgd', size: context.size, verdict, verdictDetail, numbers, plots, runs, checks };
  },
};
