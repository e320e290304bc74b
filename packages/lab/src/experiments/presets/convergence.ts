/**
 * convergence: Defazio & Bottou 2019, §7 and Fig. 5 (docs/research.md §1), in small form.
 *
 * SGD, SVRG and SCSG train the same MLP on a seeded MNIST subset with the same update rule
 * (momentum 0.9), learning rate and step-decay schedule (÷10 at 50 % and 75 % of the epochs, as
 * the paper's 150/225 of 300). Per seed the three runs share the data split, the initialisation
 * and the batch order (paired seeds); they differ only in the estimator:
 *   - SGD: v = g_S(w); cost b per step;
 *   - SVRG: snapshot every epoch (last iterate, locking), μ̃ = ∇F(w̃) recomputed over all N
 *     samples; v = g_S(w) − g_S(w̃) + μ̃; cost N per snapshot + 2b per step;
 *   - SCSG as in the reference code: mega-batch B = 10 b, 10 inner steps on minibatches drawn
 *     from the mega-batch; cost B per mega-batch + 2b per inner step.
 * The costs are the estimators' own counters of sample-gradient evaluations (checked against
 * these formulas). Test error on a disjoint test subset is measured 4 times per epoch, so the
 * curves can be read per epoch (the paper's axis) and per gradient evaluation.
 *
 * Equal work: E epochs of SVRG cost 3·E·N, so a fourth run, SGD-long, trains SGD for 3·E epochs
 * (the same 3·E·N evaluations) with the same schedule stretched to its length. Comparing SVRG
 * with SGD-long at their ends gives both a complete learning-rate schedule; reading the curves
 * at SGD's E-epoch total instead would stop SVRG a third of the way, before its first decay
 * (those numbers are reported too, not voted).
 */
import { type Batch, type Dataset, type Estimator, makeBatch, mlp, type Module, noGrad, NonFiniteError, schedule, ScsgEstimator, SgdEstimator, SgdUpdate, stepDecayLR, type StepInfo, svrg, train, withMode } from 'gradscope';
import type { Plot, Preset, PresetResult, RunContext, RunRecord, Series, Size } from '../preset.js';
import { mnistSubsets } from './variance-ratio.js';

export const METHODS = ['sgd', 'svrg', 'scsg', 'sgd-long'] as const;
export type ConvergenceMethod = (typeof METHODS)[number];
/** The methods compared at equal epochs (the paper's Fig. 5 axis). */
const EPOCH_METHODS = ['sgd', 'svrg', 'scsg'] as const;
/** SGD-long trains this many times longer: SVRG's E epochs cost 3·E·N, SGD's E epochs E·N. */
export const EQUAL_WORK_FACTOR = 3;

const METHOD_LABEL: Record<ConvergenceMethod, string> = {
  sgd: 'SGD',
  svrg: 'SVRG (snapshot per epoch)',
  scsg: 'SCSG (B = 10b, 10 inner steps)',
  'sgd-long': `SGD, ${EQUAL_WORK_FACTOR}× the epochs (SVRG’s work)`,
};

const MOMENTUM = 0.9;
const SCSG_FACTOR = 10;
const SCSG_INNER = 10;
/** Evaluation points inside an epoch (plus every epoch end and the start). */
const POSITIONS = [0.25, 0.5, 0.75] as const;
/** SVRG "beats" SGD at equal work only by more than this many test-error points (0.5 %). */
export const MARGIN = 0.005;

interface Budget {
  n: number;
  testN: number;
  sizes: readonly number[];
  batch: number;
  lr: number;
  epochs: number;
  /** Epochs at which the learning rate is divided by 10. */
  milestones: readonly number[];
}

const BUDGET: Record<Size, Budget> = {
  smoke: { n: 480, testN: 256, sizes: [784, 32, 10], batch: 16, lr: 0.05, epochs: 2, milestones: [1] },
  full: { n: 4096, testN: 1000, sizes: [784, 64, 10], batch: 32, lr: 0.05, epochs: 12, milestones: [6, 9] },
};

export const RULE =
  `Equal work: SVRG trains E epochs (E·N for the snapshots + 2·E·N for the steps = 3·E·N gradient evaluations) and SGD-long trains ${EQUAL_WORK_FACTOR}·E epochs (the same 3·E·N), each with its full schedule (÷10 at 50 % and 75 % of its epochs). ` +
  `A seed supports the claim if SVRG’s final test error ≥ SGD-long’s − ${MARGIN * 100} points. Equal epochs: the final test error of SGD, SVRG and SCSG after E epochs (mean over seeds). A diverged run counts as test error 1. ` +
  `REPRODUCED if a strict majority of seeds support the claim AND SCSG has the highest mean final test error of the three at equal epochs; ` +
  `NOT REPRODUCED if on a strict majority of seeds SVRG’s final error is lower than SGD-long’s by more than ${MARGIN * 100} points, or SCSG has the lowest of the three; INCONCLUSIVE otherwise. ` +
  `Also reported, not voted: every run’s test error at C* = SGD’s (E-epoch) total, read off the curves.`;

// ---- one run (a task) ----------------------------------------------------------------------

export interface ConvergenceInput {
  seed: number;
  method: ConvergenceMethod;
  size: Size;
}

export interface EvalPoint {
  /** Epochs done (fractional: 1.25 = a quarter into the second epoch). */
  epoch: number;
  /** Sample-gradient evaluations spent so far (the estimator's counter). */
  cost: number;
  testError: number;
}

export interface ConvergenceRun {
  points: EvalPoint[];
  /** Mean minibatch training loss of each epoch. */
  epochLoss: number[];
  diverged: boolean;
  N: number;
  b: number;
  stepsPerEpoch: number;
}

function makeEstimator(method: ConvergenceMethod, seed: number): Estimator {
  if (method === 'sgd' || method === 'sgd-long') return new SgdEstimator();
  if (method === 'svrg') return svrg({ locking: true, seed: seed * 1009 + 11 });
  return new ScsgEstimator({ megaBatchFactor: SCSG_FACTOR, innerSteps: SCSG_INNER, locking: true, seed: seed * 1009 + 13 });
}

/** Fraction of wrong argmax predictions on a batch (eval mode, no graph). */
export function testError(model: Module, batch: Batch): number {
  return withMode(model, 'eval', () =>
    noGrad(() => {
      const predicted = model.forward(batch.x, { sampleIds: batch.sampleIds! }).argmax(1).toTypedArray();
      const targets = batch.targets as Int32Array;
      let wrong = 0;
      for (let i = 0; i < targets.length; i++) if (predicted[i] !== targets[i]) wrong++;
      return wrong / targets.length;
    }),
  );
}

/** Train one method and record test error and cost 4 times per epoch. */
export function trainConvergence({ seed, method, size }: ConvergenceInput): ConvergenceRun {
  const budget = BUDGET[size];
  const { train: data, evaluation: test }: { train: Dataset; evaluation: Dataset } = mnistSubsets(seed, budget.n, budget.testN);
  const model = mlp(budget.sizes, { seed, dtype: 'float32' });
  const testBatch = makeBatch(test, Array.from({ length: test.length }, (_, i) => i), { dtype: 'float32', seed });
  const estimator = makeEstimator(method, seed);
  const points: EvalPoint[] = [{ epoch: 0, cost: 0, testError: testError(model, testBatch) }];
  const epochLoss: number[] = [];
  const long = method === 'sgd-long' ? EQUAL_WORK_FACTOR : 1;
  const record = (info: StepInfo, epoch: number) => points.push({ epoch, cost: info.cost, testError: testError(model, testBatch) });
  let diverged = false;
  try {
    train(model, data, {
      estimator,
      update: new SgdUpdate({ momentum: MOMENTUM }),
      schedule: schedule(stepDecayLR(budget.lr, 0.1, { milestones: budget.milestones.map((m) => m * long) }), budget.batch),
      epochs: budget.epochs * long,
      seed,
      positions: POSITIONS,
      onPosition: (info) => record(info, info.epoch + info.stepInEpoch / info.stepsInEpoch),
      onEpochEnd: (info) => {
        epochLoss.push(info.meanLoss);
        record(info, info.epoch + 1);
      },
    });
  } catch (error) {
    if (!(error instanceof NonFiniteError)) throw error;
    diverged = true;
  }
  return { points, epochLoss, diverged, N: data.length, b: budget.batch, stepsPerEpoch: Math.ceil(data.length / budget.batch) };
}

// ---- the preset ----------------------------------------------------------------------------

/** Test error at the last evaluation point with cost ≤ budget (NaN if there is none). */
export function errorAtCost(run: ConvergenceRun, budget: number): number {
  const within = run.points.filter((p) => p.cost <= budget);
  return within.length === 0 ? Number.NaN : within[within.length - 1]!.testError;
}

/** The run's final test error, 1 for a diverged run (the rule's convention). */
const ruleError = (run: ConvergenceRun, value: number) => (run.diverged || !Number.isFinite(value) ? 1 : value);
const mean = (xs: readonly number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;

export const convergencePreset: Preset = {
  name: 'convergence',
  paper: 'Defazio & Bottou 2019, "On the ineffectiveness of variance reduced optimization for deep learning", §7, Fig. 5',
  claim: 'On deep networks SVRG does not beat SGD in test error at equal work, and the streaming variant SCSG converges worst.',
  rule: RULE,
  seeds: [1, 2, 3],
  tasks: { train: trainConvergence },
  async run(context: RunContext): Promise<PresetResult> {
    const budget = BUDGET[context.size];
    const seeds = context.seeds;
    const grid: ConvergenceInput[] = seeds.flatMap((seed) => METHODS.map((method) => ({ seed, method, size: context.size })));
    context.progress(0, `${grid.length} runs`);
    const outputs = await context.map<ConvergenceInput, ConvergenceRun>('train', grid, (done, total) => context.progress(done / total, `${done} of ${total} runs`));
    const get = (seed: number, method: ConvergenceMethod) => outputs[grid.findIndex((g) => g.seed === seed && g.method === method)]!;

    // ---- verdict, by the declared rule ----------------------------------------------------------
    const numbers: Record<string, number> = {};
    const final = (seed: number, m: ConvergenceMethod) => ruleError(get(seed, m), get(seed, m).points.at(-1)!.testError);
    let support = 0;
    let against = 0;
    for (const seed of seeds) {
      const d = final(seed, 'svrg') - final(seed, 'sgd-long');
      numbers[`seed ${seed}: SVRG − SGD-long final test error (equal work)`] = d;
      if (d >= -MARGIN) support++;
      else against++;
    }
    // Reported, not voted: the curves read at C* = SGD's E-epoch total (the cheapest run).
    const atCStar = new Map<string, number>();
    for (const seed of seeds) {
      const cStar = Math.min(...EPOCH_METHODS.map((m) => get(seed, m).points.at(-1)!.cost));
      for (const m of METHODS) atCStar.set(`${m}-${seed}`, ruleError(get(seed, m), errorAtCost(get(seed, m), cStar)));
    }
    const finalMean = Object.fromEntries(METHODS.map((m) => [m, mean(seeds.map((s) => final(s, m)))])) as Record<ConvergenceMethod, number>;
    for (const m of METHODS) {
      numbers[`${m}: mean final test error`] = finalMean[m];
      numbers[`${m}: mean test error at C* = SGD’s E-epoch work`] = mean(seeds.map((s) => atCStar.get(`${m}-${s}`)!));
      numbers[`${m}: gradient evaluations / N`] = get(seeds[0]!, m).points.at(-1)!.cost / get(seeds[0]!, m).N;
    }
    numbers['seeds where SVRG does not beat SGD-long at equal work'] = support;
    numbers['seeds'] = seeds.length;
    const scsgWorst = finalMean.scsg > finalMean.sgd && finalMean.scsg > finalMean.svrg;
    const scsgBest = finalMean.scsg < finalMean.sgd && finalMean.scsg < finalMean.svrg;
    const majority = (count: number) => count > seeds.length / 2;
    const verdict = majority(against) || scsgBest ? 'NOT REPRODUCED' : majority(support) && scsgWorst ? 'REPRODUCED' : 'INCONCLUSIVE';
    const pct = (v: number) => `${(100 * v).toFixed(2)} %`;
    const verdictDetail =
      `Equal work (3·E·N gradient evaluations): SVRG does not beat SGD-long by more than ${MARGIN * 100} points on ${support} of ${seeds.length} seeds ` +
      `(mean final test error SVRG ${pct(finalMean.svrg)} vs SGD-long ${pct(finalMean['sgd-long'])}); ` +
      `equal epochs (E): SGD ${pct(finalMean.sgd)}, SVRG ${pct(finalMean.svrg)}, SCSG ${pct(finalMean.scsg)} — SCSG ${scsgWorst ? 'worst' : scsgBest ? 'best' : 'not worst'}.`;

    // ---- every run ------------------------------------------------------------------------
    const runs: RunRecord[] = grid.map((g, i) => {
      const r = outputs[i]!;
      const last = r.points.at(-1)!;
      const metrics: Record<string, number> = {
        initialTestError: r.points[0]!.testError,
        finalTestError: r.diverged ? Number.NaN : last.testError,
        testErrorAtCStar: atCStar.get(`${g.method}-${g.seed}`)!,
        gradientEvaluations: last.cost,
        gradientEvaluationsPerN: last.cost / r.N,
        finalEpochTrainLoss: r.epochLoss.at(-1) ?? Number.NaN,
      };
      for (const p of r.points) if (Number.isInteger(p.epoch) && p.epoch > 0) metrics[`test error after epoch ${p.epoch}`] = p.testError;
      return {
        id: `${g.method}-seed${g.seed}`,
        config: { seed: g.seed, method: g.method, model: budget.sizes.join('-'), n: budget.n, testN: budget.testN, batch: budget.batch, lr: budget.lr, momentum: MOMENTUM, epochs: budget.epochs, milestones: budget.milestones.join(',') },
        diverged: r.diverged,
        metrics,
      };
    });

    // ---- plots ------------------------------------------------------------------------------
    const perRunEpoch: Series[] = [];
    const perRunCost: Series[] = [];
    for (const g of grid) {
      const r = get(g.seed, g.method);
      const label = `${METHOD_LABEL[g.method]}, seed ${g.seed}`;
      perRunEpoch.push({ label, x: r.points.map((p) => p.epoch), y: r.points.map((p) => p.testError) });
      const positive = r.points.filter((p) => p.cost > 0);
      perRunCost.push({ label, x: positive.map((p) => p.cost / r.N), y: positive.map((p) => p.testError) });
    }
    // Evaluation points are the same epochs and costs on every seed (deterministic costs): mean by index.
    const meanEpoch: Series[] = [];
    const meanCost: Series[] = [];
    const lossSeries: Series[] = [];
    for (const m of METHODS) {
      const own = seeds.map((s) => get(s, m));
      const len = Math.min(...own.map((r) => r.points.length));
      const ref = own[0]!;
      const y = Array.from({ length: len }, (_, i) => mean(own.map((r) => r.points[i]!.testError)));
      // SGD-long runs 3E epochs: it belongs on the per-evaluation axis, not the per-epoch one.
      if (m !== 'sgd-long') meanEpoch.push({ label: METHOD_LABEL[m], x: ref.points.slice(0, len).map((p) => p.epoch), y });
      const start = ref.points[0]!.cost > 0 ? 0 : 1;
      meanCost.push({ label: METHOD_LABEL[m], x: ref.points.slice(start, len).map((p) => p.cost / ref.N), y: y.slice(start) });
      const lossLen = Math.min(...own.map((r) => r.epochLoss.length));
      lossSeries.push({ label: METHOD_LABEL[m], x: Array.from({ length: lossLen }, (_, e) => e + 1), y: Array.from({ length: lossLen }, (_, e) => mean(own.map((r) => r.epochLoss[e]!))) });
    }
    const plots: Plot[] = [
      { id: 'test-error-epoch', title: 'Test error per epoch, SGD vs SVRG vs SCSG (mean over seeds; Fig. 5’s axis)', xLabel: 'epoch', yLabel: 'test error', yLog: true, series: meanEpoch },
      { id: 'test-error-evaluations', title: 'Test error per gradient evaluation (mean over seeds)', xLabel: 'sample-gradient evaluations / N', yLabel: 'test error', xLog: true, yLog: true, series: meanCost },
      { id: 'test-error-epoch-runs', title: 'Test error per epoch, every run', xLabel: 'epoch', yLabel: 'test error', yLog: true, series: perRunEpoch },
      { id: 'test-error-evaluations-runs', title: 'Test error per gradient evaluation, every run', xLabel: 'sample-gradient evaluations / N', yLabel: 'test error', xLog: true, yLog: true, series: perRunCost },
      { id: 'train-loss', title: 'Mean minibatch training loss per epoch (mean over seeds)', xLabel: 'epoch', yLabel: 'training cross-entropy', yLog: true, series: lossSeries },
    ];

    // ---- mechanics checks ----------------------------------------------------------------------
    const finalCost = (m: ConvergenceMethod) => seeds.map((s) => get(s, m)).filter((r) => !r.diverged).map((r) => ({ r, cost: r.points.at(-1)!.cost }));
    const steps = (r: ConvergenceRun) => budget.epochs * r.stepsPerEpoch;
    const fullBatches = (r: ConvergenceRun) => r.N % r.b === 0;
    const checks: Record<string, boolean> = {
      'paired start: on every seed all methods start from the same test error': seeds.every((s) => METHODS.every((m) => get(s, m).points[0]!.testError === get(s, 'sgd').points[0]!.testError)),
      'SGD pays b per step (E·N in all)': finalCost('sgd').every(({ r, cost }) => fullBatches(r) && cost === budget.epochs * r.N),
      'SVRG pays N per snapshot plus 2 per sample per step (3·E·N in all)': finalCost('svrg').every(({ r, cost }) => cost === budget.epochs * r.N + 2 * budget.epochs * r.N),
      'SGD-long does SVRG’s work (3·E·N)': finalCost('sgd-long').every(({ r, cost }) => cost === EQUAL_WORK_FACTOR * budget.epochs * r.N),
      'SCSG pays B per mega-batch plus 2b per inner step': finalCost('scsg').every(({ r, cost }) => cost === Math.ceil(steps(r) / SCSG_INNER) * SCSG_FACTOR * r.b + 2 * steps(r) * r.b),
      'gradient evaluations never decrease along a run': outputs.every((r) => r.points.every((p, i) => i === 0 || p.cost >= r.points[i - 1]!.cost)),
      'no run diverged': outputs.every((r) => !r.diverged),
    };
    return { preset: 'convergence', size: context.size, verdict, verdictDetail, numbers, plots, runs, checks };
  },
};
