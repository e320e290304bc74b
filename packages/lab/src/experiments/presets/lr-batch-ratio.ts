/**
 * lr-batch-ratio: Jastrzębski et al. 2018, "Width of minima reached by stochastic gradient
 * descent is influenced by learning rate to batch size ratio", Fig. 1–4 (docs/research.md §2), in
 * small form on Fashion-MNIST.
 *
 * A batch-normalised ReLU MLP (784-100-100-100-10 at full size; 784-32-32-10 at smoke) is trained
 * by plain SGD on a seeded Fashion-MNIST subset over a grid η × S (3 × 3 full, 2 × 2 smoke) for a
 * fixed number of epochs, every run of a seed from the same initialisation (paired). The grid's
 * diagonal has equal η/S: lrs[k]/lrs[0] = batches[k]/batches[0]. At the end of each run:
 *
 *   λ_max(H)  Lanczos on H·v,   Tr H  Hutchinson,   ‖H‖_F  from E‖Hz‖² = ‖H‖²_F
 *             (the same Rademacher probes z for both; analysis/hessian-summary.ts),
 *
 * with H the Hessian of the training loss on a fixed batch of curvature training samples, and
 * the validation accuracy (the mean of the last few epochs' evaluations: a constant-η SGD iterate
 * fluctuates from epoch to epoch, and one epoch's value would mix that fluctuation in).
 *
 * BatchNorm choice: curvature is measured in TRAIN mode (batch statistics) on the fixed
 * curvature batch, i.e. the Hessian of the objective SGD actually descends, independent of how
 * far the running averages lag; the line between two solutions is measured the same way, since
 * interpolated parameters have no running statistics of their own. Validation accuracy uses EVAL
 * mode (running statistics), as a deployed model would.
 *
 * Also: learning curves of the equal-η/S runs (the diagonal); cyclic batch size (S alternating
 * low ↔ high every epoch at a fixed η; cyclicBatchSize) against a cyclic learning rate with the
 * SAME η/S at every epoch (S = low fixed, η(e) = η·low/S(e)) — a square wave rather than the
 * triangular cyclicLR, whose per-step η/S path a batch-size schedule cannot follow; linear
 * (η ∝ S, linearScaling: the grid diagonal) against square-root scaling (η ∝ √S, sqrtScaling)
 * from the base point (lrs[0], batches[0]); and, for every seed, L(α) = F((1−α)θ_A + αθ_B),
 * α ∈ [−0.5, 1.5], between the lowest-η/S (A) and the highest-η/S (B) grid solutions.
 *
 * Every part of the claim is a test declared in RULE, judged per seed and combined across seeds
 * (the seed is the unit that a rerun with other seeds varies). Caveats stated in the report:
 * runs get a fixed number of EPOCHS, not the paper's 200 epochs to ~100 % training accuracy, so
 * low-η/S runs (few, small steps) are less trained (ρ(η/S, final training loss) is reported);
 * and BatchNorm makes the loss invariant to the scale of each pre-BN weight matrix, so curvature
 * falls as ‖w‖ grows (a larger η grows ‖w‖ faster): ρ(η/S, ‖w‖) is reported too — the width
 * measured here is not scale-normalised, as in the paper.
 */
import { cyclicBatchSize, linearScaling, sqrtScaling } from 'gradscope';
import { directionalPart, equivalencePart } from '../claims.js';
import type { ClaimPart, Plot, Preset, RunRecord, Series, Size } from '../preset.js';
import { definePreset, defineTasks, passedOn, type PresetContext } from '../skeleton.js';
import { mean, sampleVariance, spearman, studentTQuantile, tost, tTest, type TestResult } from '../stats.js';
import { cifar10 } from './datasets.js';
import {
  BUDGET, type Budget, type LineInput, lineBetween, type LineOutput, runSgd, type RunInput, type RunOutput,
} from './lr-batch-ratio-parts.js';

/** The significance level of every part. */
export const ALPHA = 0.05;
/**
 * Equivalence margin of the equal-η/S validation accuracies (and of the reported cyclic pair): 1 point,
 * 20 of the 2,000 full-size validation images. It is below the 2–3-point spread of accuracy across the
 * grid, so a wider margin would let the η/S effect the paper claims pass as "equal".
 */
export const ACCURACY_MARGIN = 0.01;
/** Equivalence margin of log(λ_max ratio) along equal η/S: a factor of 2, against ≈ 40× across the grid. */
export const SHARPNESS_MARGIN = Math.log(2);

export const RULE = [
  `Seven parts, each judged at α = ${ALPHA} by a two-sided test: a directional part is REPRODUCED when its test`,
  'rejects with the effect on the paper’s side, NOT REPRODUCED when it rejects on the other side, INCONCLUSIVE',
  'otherwise; an equivalence part is REPRODUCED when TOST shows the effect inside its margin, NOT REPRODUCED when',
  'the 90 % interval lies wholly outside it. Correlations are Spearman ρ against η/S over one seed’s non-diverged',
  'grid points, combined by a one-sample t-test on Fisher’s z = atanh ρ across seeds: the seed, the unit a rerun',
  'varies, is the replicate (the grid points of one seed share its initialisation and are not independent samples).',
  '(1) flatter-lambda: ρ(η/S, λ_max) < 0. (2) flatter-frobenius: ρ(η/S, ‖H‖_F) < 0.',
  '(3) better-generalization: ρ(η/S, validation accuracy) > 0.',
  '(4) equal-ratio-accuracy: validation accuracy at the two ends of the equal-η/S diagonal (η and S 16× apart at',
  'full size) equal within ±1 point (TOST on the per-seed differences).',
  '(5) equal-ratio-sharpness: λ_max at those two ends equal within a factor 2 (TOST on per-seed log-ratios, ±log 2).',
  '(6) linear-scaling: from the base point (smallest η and S) to the largest S, the linearly rescaled run’s',
  'validation-accuracy curve is closer to the base curve than the square-root-rescaled one’s (paired t-test of the',
  'per-seed difference of mean |Δ accuracy| over epochs, sqrt − linear > 0).',
  '(7) line-asymmetry: along θ(α) = (1−α)θ_A + αθ_B between the lowest-η/S (A) and highest-η/S (B) solutions, the',
  'training loss rises more outward of A (α 0 → −0.5) than outward of B (α 1 → 1.5) (paired t-test of the per-seed',
  'difference of the rises > 0).',
  'Reported, not judged: the same comparisons one step along the diagonal (η and S 4× apart, η inside the paper’s',
  'range), the cyclic batch size against the cyclic learning rate with the same η/S (TOST at ±1 point shown), and ρ',
  'with Tr H, with the final training loss and with ‖w‖. The preset is NOT REPRODUCED if any part is, REPRODUCED',
  'if all are, INCONCLUSIVE otherwise.',
].join(' ');

/** The per-seed quantities the parts are judged on (NaN where a seed lacks a run the quantity needs). */
export interface SeedSummary {
  seed: number;
  /** Spearman ρ against η/S over this seed's non-diverged grid points. */
  rhoLambda: number;
  rhoFrobenius: number;
  rhoAccuracy: number;
  rhoTrace: number;
  rhoTrainLoss: number;
  rhoWeightNorm: number;
  /** End validation accuracy at the diagonal's last point minus at its first (fraction, not points). */
  diagonalAccuracyDifference: number;
  /** log(λ_max at the diagonal's last point / at its first). */
  diagonalLogLambdaRatio: number;
  /** Mean |Δ accuracy| from the base curve over epochs: square-root scaling minus linear scaling, at the largest S. */
  scalingGapDifference: number;
  /** The same three, one step along the diagonal (its second point; the second batch size). Reported. */
  midAccuracyDifference: number;
  midLogLambdaRatio: number;
  midScalingGapDifference: number;
  /** Training-loss rise outward of A (α 0 → −0.5) minus outward of B (α 1 → 1.5). */
  lineRiseDifference: number;
  /** End validation accuracy: cyclic batch size minus cyclic learning rate. */
  cyclicAccuracyDifference: number;
}

const finite = (xs: readonly number[]) => xs.filter(Number.isFinite);
const fmt = (x: number) => (Number.isFinite(x) ? Number(x.toPrecision(3)).toString() : String(x));

/** A test that could not run (fewer than two seeds with the quantity): INCONCLUSIVE whatever the claim. */
function tooFew(test: string, n: number): TestResult {
  const interval: [number, number] = [Number.NaN, Number.NaN];
  return { effect: Number.NaN, interval, p: 1, n, nullValue: 0, test: `${test}: needs ≥ 2 seeds, got ${n}` };
}

/**
 * Per-seed correlations combined across seeds: a one-sample t-test of Fisher's z = atanh ρ
 * against 0; the effect and its interval are back-transformed (tanh of the mean z and of its
 * t-interval), so the effect is a correlation.
 */
export function seedCorrelationTest(perSeed: readonly number[], alpha = ALPHA): TestResult {
  const rhos = finite(perSeed);
  const name = `per-seed Spearman ρ, t-test on Fisher z across ${rhos.length} seeds, two-sided`;
  if (rhos.length < 2) return tooFew(name, rhos.length);
  // |ρ| = 1 would give an infinite z; a grid with tied η/S values cannot reach it, a smaller one can.
  const z = rhos.map((r) => Math.atanh(Math.max(-0.9999, Math.min(0.9999, r))));
  const t = tTest(z, 0, alpha);
  const interval: [number, number] = [Math.tanh(t.interval[0]), Math.tanh(t.interval[1])];
  return { effect: Math.tanh(t.effect), interval, p: t.p, n: t.n, nullValue: 0, test: name };
}

/** A one-sample t-test of per-seed differences against 0 (the seeds' paired runs already differenced). */
function differenceTest(values: readonly number[], what: string, alpha: number): TestResult {
  const ok = finite(values);
  if (ok.length < 2) return tooFew(`paired t-test of ${what}`, ok.length);
  return { ...tTest(ok, 0, alpha), test: `paired t-test of ${what}, n = ${ok.length} seeds, two-sided` };
}

/** TOST of per-seed differences within ±margin. */
function equivalenceTest(values: readonly number[], margin: number, alpha: number): TestResult {
  const ok = finite(values);
  if (ok.length < 2) return tooFew(`TOST, margin ±${fmt(margin)}`, ok.length);
  return tost(ok, margin, alpha);
}

/** The claim parts RULE declares: what each says and what its effect is. */
const PARTS = {
  lambda: {
    id: 'flatter-lambda',
    claim: 'A higher η/S ends in a minimum with a smaller largest Hessian eigenvalue.',
    effectLabel: 'ρ(η/S, λ_max), mean over seeds',
  },
  frobenius: {
    id: 'flatter-frobenius',
    claim: 'A higher η/S ends in a minimum with a smaller Hessian Frobenius norm.',
    effectLabel: 'ρ(η/S, ‖H‖_F), mean over seeds',
  },
  generalization: {
    id: 'better-generalization',
    claim: 'A higher η/S gives a better validation accuracy.',
    effectLabel: 'ρ(η/S, validation accuracy), mean over seeds',
  },
  equalAccuracy: {
    id: 'equal-ratio-accuracy',
    claim: 'Runs at equal η/S reach the same validation accuracy, whatever η and S.',
    effectLabel: 'validation accuracy, last − first point of the equal-η/S diagonal (fraction)',
  },
  equalSharpness: {
    id: 'equal-ratio-sharpness',
    claim: 'Runs at equal η/S end in equally sharp minima, whatever η and S.',
    effectLabel: 'log(λ_max ratio), last / first point of the equal-η/S diagonal',
  },
  scaling: {
    id: 'linear-scaling',
    claim: 'Rescaling η linearly with S follows the small-batch learning curve more closely than η ∝ √S.',
    effectLabel: 'mean |Δ validation accuracy| from the base curve: sqrt − linear scaling (fraction)',
  },
  line: {
    id: 'line-asymmetry',
    claim: 'The low-η/S solution sits in a sharper basin: the loss rises faster outward of it than of the high-η/S.',
    effectLabel: 'training-loss rise outward of A − outward of B (nats)',
  },
} as const;

/** The declared parts (RULE), judged on the per-seed summaries. */
export function judgeParts(seeds: readonly SeedSummary[], alpha = ALPHA): ClaimPart[] {
  const of = (f: (s: SeedSummary) => number) => seeds.map(f);
  const correlation = (f: (s: SeedSummary) => number) => seedCorrelationTest(of(f), alpha);
  const accuracy = equivalenceTest(of((s) => s.diagonalAccuracyDifference), ACCURACY_MARGIN, alpha);
  const sharpness = equivalenceTest(of((s) => s.diagonalLogLambdaRatio), SHARPNESS_MARGIN, alpha);
  return [
    directionalPart(PARTS.lambda, correlation((s) => s.rhoLambda), 'less', alpha),
    directionalPart(PARTS.frobenius, correlation((s) => s.rhoFrobenius), 'less', alpha),
    directionalPart(PARTS.generalization, correlation((s) => s.rhoAccuracy), 'greater', alpha),
    equivalencePart(PARTS.equalAccuracy, accuracy, ACCURACY_MARGIN, alpha),
    equivalencePart(PARTS.equalSharpness, sharpness, SHARPNESS_MARGIN, alpha),
    directionalPart(PARTS.scaling, differenceTest(of((s) => s.scalingGapDifference), 'sqrt − linear gap', alpha),
      'greater', alpha),
    directionalPart(PARTS.line, differenceTest(of((s) => s.lineRiseDifference), 'rise(A) − rise(B)', alpha),
      'greater', alpha),
  ];
}

/** A planned run: its task input and the roles it plays (grid, linear / sqrt scaling, cyclic). */
interface Planned {
  id: string;
  prefix: string;
  input: RunInput;
  roles: string[];
  lr: number;
  batch: number;
}

interface Measured {
  planned: Planned[];
  outputs: RunOutput[];
  lines: (LineOutput & { seed: number })[];
}

const tasks = defineTasks({ train: runSgd, line: lineBetween });

const sameLr = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));
const gridPrefix = (lr: number, batch: number) => `grid-lr${lr}-S${batch}`;

/** The grid's two ends in η/S (for the line) and the diagonal (equal η/S). */
function landmarks(budget: Budget) {
  const { lrs, batches } = budget;
  return {
    lowest: { lr: lrs[0]!, batch: batches[batches.length - 1]! },
    highest: { lr: lrs[lrs.length - 1]!, batch: batches[0]! },
    diagonal: lrs.map((lr, k) => ({ lr, batch: batches[k]!, prefix: gridPrefix(lr, batches[k]!) })),
    base: gridPrefix(lrs[0]!, batches[0]!),
    sMax: batches[batches.length - 1]!,
  };
}

/** Every run of every seed: the grid, the square-root-scaled runs off the grid, the cyclic pair. */
function planRuns(context: PresetContext<Budget>): Planned[] {
  const { budget, seeds, size } = context;
  const { lrs, batches, epochs, cyclic } = budget;
  const { lowest, highest } = landmarks(budget);
  const constant = (v: number) => Array.from({ length: epochs }, () => v);
  const passed = passedOn(context);
  const planned: Planned[] = [];
  for (const seed of seeds) {
    const plan = (prefix: string, lr: number, batch: number, roles: string[], lrByEpoch = constant(lr),
      batchByEpoch = constant(batch)) => {
      const isEnd = (lr === lowest.lr && batch === lowest.batch) || (lr === highest.lr && batch === highest.batch);
      const keepParameters = isEnd && roles[0] === 'grid';
      const curvature = !roles[0]!.startsWith('cyclic');
      const input: RunInput = { size, seed, lrByEpoch, batchByEpoch, curvature, keepParameters, ...passed };
      planned.push({ id: `${prefix}-seed${seed}`, prefix, input, roles, lr, batch });
    };
    for (const lr of lrs) for (const batch of batches) plan(gridPrefix(lr, batch), lr, batch, ['grid']);
    const find = (lr: number, batch: number) =>
      planned.find((p) => p.input.seed === seed && p.batch === batch && sameLr(p.lr, lr) && p.roles[0] === 'grid');
    batches.forEach((batch, k) => {
      const linear = linearScaling(lrs[0]!, batches[0]!, batch);
      const root = sqrtScaling(lrs[0]!, batches[0]!, batch);
      find(linear, batch)?.roles.push('linear scaling');
      const existing = find(root, batch);
      if (existing) existing.roles.push('sqrt scaling');
      else if (k > 0) plan(`sqrt-lr${fmt(root)}-S${batch}`, root, batch, ['sqrt scaling']);
    });
    // Cyclic batch size low ↔ high at η, and the cyclic learning rate with the same η/S every epoch at S = low.
    const cycle = cyclicBatchSize(cyclic.low, cyclic.high, 1);
    const cbs = Array.from({ length: epochs }, (_, e) => cycle(e));
    plan('cyclic-batch', cyclic.lr, cyclic.low, ['cyclic batch size'], constant(cyclic.lr), cbs);
    const clr = cbs.map((S) => (cyclic.lr * cyclic.low) / S);
    plan('cyclic-lr', cyclic.lr, cyclic.low, ['cyclic learning rate'], clr, constant(cyclic.low));
  }
  return planned;
}

/** Lookups into the measured runs shared by the judge and the plots. */
function view(measured: Measured, budget: Budget) {
  const byId = new Map(measured.planned.map((p, i) => [p.id, { plan: p, out: measured.outputs[i]! }]));
  const get = (prefix: string, seed: number) => {
    const found = byId.get(`${prefix}-seed${seed}`);
    if (!found) throw new Error(`lr-batch-ratio: internal: no run '${prefix}' for seed ${seed}`);
    return found;
  };
  const { epochs, lastEpochs } = budget;
  /** End validation accuracy: the mean of the evaluations after the last `lastEpochs` epochs. */
  const endAccuracy = (o: RunOutput) => mean(o.validationAccuracy.slice(epochs + 1 - lastEpochs, epochs + 1));
  const grid = budget.lrs.flatMap((lr) =>
    budget.batches.map((batch) => ({ lr, batch, ratio: lr / batch, prefix: gridPrefix(lr, batch) })),
  );
  const scaled = (rule: 'linear scaling' | 'sqrt scaling', batch: number, seed: number) => {
    const p = measured.planned.find((q) => q.input.seed === seed && q.batch === batch && q.roles.includes(rule));
    if (!p) throw new Error(`lr-batch-ratio: internal: no ${rule} run at S = ${batch}`);
    return p;
  };
  return { get, endAccuracy, grid, scaled };
}

/** Mean |a(e) − b(e)| over the epochs after the first evaluation (index 0 is before training). */
const curveGap = (a: readonly number[], b: readonly number[]) =>
  mean(a.slice(1).map((v, e) => Math.abs(v - b[e + 1]!)));

/** The per-seed quantities of every part (SeedSummary) from the measured runs. */
function summarise(measured: Measured, budget: Budget, seeds: readonly number[]): SeedSummary[] {
  const { get, endAccuracy, grid, scaled } = view(measured, budget);
  const { diagonal, base, sMax } = landmarks(budget);
  return seeds.map((seed) => {
    const own = grid.map((g) => ({ ratio: g.ratio, out: get(g.prefix, seed).out })).filter((q) => !q.out.diverged);
    const rho = (f: (o: RunOutput) => number) => {
      const pairs = own.filter((q) => Number.isFinite(f(q.out)));
      return pairs.length >= 3 ? spearman(pairs.map((q) => q.ratio), pairs.map((q) => f(q.out))) : Number.NaN;
    };
    const first = get(diagonal[0]!.prefix, seed).out;
    const last = get(diagonal[diagonal.length - 1]!.prefix, seed).out;
    const mid = get(diagonal[1]!.prefix, seed).out;
    const curve = (prefix: string) => get(prefix, seed).out.validationAccuracy;
    const gap = (rule: 'linear scaling' | 'sqrt scaling', batch: number) =>
      curveGap(curve(scaled(rule, batch, seed).prefix), curve(base));
    const gapDifference = (batch: number) => gap('sqrt scaling', batch) - gap('linear scaling', batch);
    const line = measured.lines.find((l) => l.seed === seed);
    let lineRiseDifference = Number.NaN;
    if (line) {
      const at = (a: number) => line.trainLoss[line.alphas.findIndex((x) => Math.abs(x - a) < 1e-9)]!;
      lineRiseDifference = at(-0.5) - at(0) - (at(1.5) - at(1));
    }
    return {
      seed,
      rhoLambda: rho((o) => o.lambdaMax),
      rhoFrobenius: rho((o) => o.frobenius),
      rhoAccuracy: rho(endAccuracy),
      rhoTrace: rho((o) => o.trace),
      rhoTrainLoss: rho((o) => o.trainLoss[budget.epochs - 1]!),
      rhoWeightNorm: rho((o) => o.weightNorm),
      diagonalAccuracyDifference: endAccuracy(last) - endAccuracy(first),
      diagonalLogLambdaRatio: Math.log(last.lambdaMax / first.lambdaMax),
      scalingGapDifference: gapDifference(sMax),
      midAccuracyDifference: endAccuracy(mid) - endAccuracy(first),
      midLogLambdaRatio: Math.log(mid.lambdaMax / first.lambdaMax),
      midScalingGapDifference: gapDifference(budget.batches[1]!),
      lineRiseDifference,
      cyclicAccuracyDifference: endAccuracy(get('cyclic-batch', seed).out) - endAccuracy(get('cyclic-lr', seed).out),
    };
  });
}

/**
 * The mean over seeds at each x, with the 95 % t-interval of the mean as a band (on the log scale
 * for a log axis: a geometric mean and its interval); no band with fewer than two seeds.
 */
function meanSeries(label: string, x: readonly number[], perSeed: readonly (readonly number[])[], log = false): Series {
  const column = (i: number) =>
    finite(perSeed.map((ys) => ys[i]!))
      .filter((v) => !log || v > 0)
      .map((v) => (log ? Math.log(v) : v));
  const back = (v: number) => (log ? Math.exp(v) : v);
  const y = x.map((_, i) => back(mean(column(i))));
  const series: Series = { label, x: [...x], y };
  if (perSeed.length < 2) return series;
  const half = x.map((_, i) => {
    const c = column(i);
    return c.length < 2 ? Number.NaN : studentTQuantile(0.975, c.length - 1) * Math.sqrt(sampleVariance(c) / c.length);
  });
  const lower = x.map((_, i) => back(mean(column(i)) - half[i]!));
  const upper = x.map((_, i) => back(mean(column(i)) + half[i]!));
  return { ...series, band: { lower, upper } };
}

/** What each size runs, for the report. */
function describe(b: Budget, size: Size): string {
  const model =
    b.model === 'vgg11'
      ? 'VGG-11 with BatchNorm (final layers adapted to CIFAR-10)'
      : `a batch-normalised ReLU MLP 784-${b.hidden.join('-')}-10`;
  const data =
    b.data === 'cifar10'
      ? 'CIFAR-10 (50,000 training images; the 10,000 test images as validation)'
      : `Fashion-MNIST (${b.n} training / ${b.validation} validation samples)`;
  const { lr, low, high } = b.cyclic;
  const text =
    `${model} on ${data}, plain SGD for ${b.epochs} epochs at every point of the η × S grid ` +
    `{${b.lrs.join(', ')}} × {${b.batches.join(', ')}}, plus square-root-scaled runs and the cyclic pair ` +
    `(S ${low} ↔ ${high} at η = ${lr} vs η ${lr} ↔ ${fmt((lr * low) / high)} at S = ${low}, switching every epoch). ` +
    `Curvature on ${b.curvatureN} training samples (Lanczos ${b.iterations} steps; ${b.probes} Rademacher probes); ` +
    `end accuracy = mean of the last ${b.lastEpochs} epochs' evaluations; one line per seed (${b.alphas} α points).`;
  if (size !== 'paper') return text;
  return (
    `${text} Where the paper is silent or differs: it lists no grid points (these lie inside its Fig. 3 ranges ` +
    'η ∈ [0.005, 0.1], S ∈ [25, 1000]; its Fig. 3 grid used a 4-layer MLP on Fashion-MNIST); VGG-11 also stands ' +
    'in for ResNet-56 (Fig. 2 left, Fig. 4 a–b); η is held constant (the paper drops it in Fig. 2); the cyclic ' +
    'period and any data augmentation are not stated (one epoch; none).'
  );
}

const SCALE_DOWN =
  'The paper trains 200 epochs to ≈100 % training accuracy on all of Fashion-MNIST (η ∈ [0.005, 0.1], ' +
  'S ∈ [25, 1000]) and uses VGG-11 / ResNet-56 on CIFAR-10 for the curves and lines; here a few epochs on a ' +
  'subset, with η up to 0.4 (beyond the paper’s range), and the same MLP for every part.';

export const lrBatchRatioPreset: Preset = definePreset<Budget, Measured>({
  name: 'lr-batch-ratio',
  paper:
    'Jastrzębski et al. 2018, "Width of minima reached by stochastic gradient descent is influenced by learning ' +
    'rate to batch size ratio", Fig. 1–4',
  claim:
    'SGD’s dynamics depend on η and S mainly through η/S: a higher η/S ends in a flatter minimum (smaller λ_max ' +
    'and ‖H‖_F) with better validation accuracy, and runs at equal η/S behave alike (equal accuracy and width; ' +
    'linear, not square-root, rescaling of η with S keeps the learning curve).',
  rule: RULE,
  seeds: [1, 2, 3, 4],
  alpha: ALPHA,
  budgets: BUDGET,
  describeBudget: describe,
  scaleDown: (size) => (size === 'paper' ? '' : SCALE_DOWN),
  tasks,
  async measure(context) {
    // At paper size, refuse before planning anything when CIFAR-10's folder was not given.
    if (context.budget.data === 'cifar10' && context.dataDir === undefined) cifar10(undefined, 'lr-batch-ratio');
    const planned = planRuns(context);
    const outputs = await context.run(tasks.train, planned.map((p) => p.input), 'SGD runs');
    const { lowest, highest } = landmarks(context.budget);
    const end = (lr: number, batch: number, seed: number) =>
      outputs[planned.findIndex((p) => p.id === `${gridPrefix(lr, batch)}-seed${seed}`)]!;
    const dataDir = context.dataDir === undefined ? {} : { dataDir: context.dataDir };
    // The lines depend on two runs' parameters per seed: a second stage, after the grid.
    const lineInputs: LineInput[] = [];
    for (const seed of context.seeds) {
      const wA = end(lowest.lr, lowest.batch, seed).parameters;
      const wB = end(highest.lr, highest.batch, seed).parameters;
      if (wA && wB) lineInputs.push({ size: context.size, seed, wA, wB, ...dataDir });
    }
    const lines = await context.run(tasks.line, lineInputs, 'lines');
    // The parameters served the lines; results.json does not need them.
    for (const o of outputs) o.parameters = null;
    return { planned, outputs, lines: lines.map((l, i) => ({ ...l, seed: lineInputs[i]!.seed })) };
  },
  judge(measured, context) {
    return judgeParts(summarise(measured, context.budget, context.seeds), context.alpha);
  },
  plot(measured, _parts, context) {
    const { budget, seeds } = context;
    const { epochs, lrs, batches, cyclic } = budget;
    const { get, endAccuracy, grid, scaled } = view(measured, budget);
    const { lowest, highest, diagonal, base, sMax } = landmarks(budget);
    const summaries = summarise(measured, budget, seeds);
    const { planned, outputs, lines } = measured;

    const runs: RunRecord[] = planned.map((p, i) => {
      const o = outputs[i]!;
      const isCyclic = p.roles[0]!.startsWith('cyclic');
      return {
        id: p.id,
        config: {
          seed: p.input.seed, role: p.roles.join(' + '),
          lr: isCyclic ? p.input.lrByEpoch.join('/') : p.lr, batch: isCyclic ? p.input.batchByEpoch.join('/') : p.batch,
          ratio: isCyclic ? 'cyclic' : p.lr / p.batch, epochs, n: budget.n, model: budget.model,
        },
        diverged: o.diverged,
        metrics: {
          finalTrainLoss: o.trainLoss[epochs - 1]!, finalValidationLoss: o.validationLoss[epochs]!,
          finalValidationAccuracy: o.validationAccuracy[epochs]!, endValidationAccuracy: endAccuracy(o),
          curvatureBatchLoss: o.curvatureBatchLoss, lambdaMax: o.lambdaMax, lambdaMin: o.lambdaMin,
          trace: o.trace, traceStandardError: o.traceError,
          frobenius: o.frobenius, frobeniusStandardError: o.frobeniusError,
          weightNorm: o.weightNorm, steps: o.steps,
        },
      };
    });

    // ---- numbers: the per-seed quantities, the unjudged comparisons ------------------------------
    const numbers: Record<string, number> = {};
    const labels: [keyof SeedSummary, string][] = [
      ['rhoLambda', 'ρ(η/S, λ_max)'],
      ['rhoFrobenius', 'ρ(η/S, ‖H‖_F)'],
      ['rhoAccuracy', 'ρ(η/S, validation accuracy)'],
      ['rhoTrace', 'ρ(η/S, Tr H)'],
      ['rhoTrainLoss', 'ρ(η/S, final training loss)'],
      ['rhoWeightNorm', 'ρ(η/S, ‖w‖)'],
      ['diagonalAccuracyDifference', 'equal η/S: accuracy last − first'],
      ['diagonalLogLambdaRatio', 'equal η/S: log λ_max ratio last / first'],
      ['scalingGapDifference', `scaling to S = ${sMax}: curve gap sqrt − linear`],
      ['midAccuracyDifference', 'equal η/S: accuracy second − first'],
      ['midLogLambdaRatio', 'equal η/S: log λ_max ratio second / first'],
      ['midScalingGapDifference', `scaling to S = ${batches[1]}: curve gap sqrt − linear`],
      ['lineRiseDifference', 'line: rise(A) − rise(B)'],
      ['cyclicAccuracyDifference', 'cyclic: end accuracy batch − lr schedule'],
    ];
    for (const [key, label] of labels) {
      numbers[`mean over seeds: ${label}`] = mean(finite(summaries.map((s) => s[key])));
      for (const s of summaries) numbers[`seed ${s.seed}: ${label}`] = s[key];
    }
    const of = (f: (s: SeedSummary) => number) => summaries.map(f);
    const a = context.alpha;
    const accuracyTost = (f: (s: SeedSummary) => number) => equivalenceTest(of(f), ACCURACY_MARGIN, a);
    const reported: [string, TestResult][] = [
      ['ρ(η/S, Tr H): t-test on Fisher z', seedCorrelationTest(of((s) => s.rhoTrace), a)],
      ['ρ(η/S, final training loss): t-test on Fisher z', seedCorrelationTest(of((s) => s.rhoTrainLoss), a)],
      ['ρ(η/S, ‖w‖): t-test on Fisher z', seedCorrelationTest(of((s) => s.rhoWeightNorm), a)],
      ['equal η/S, accuracy second − first: TOST ±1 point', accuracyTost((s) => s.midAccuracyDifference)],
      ['equal η/S, log λ_max second / first: TOST ±log 2',
        equivalenceTest(of((s) => s.midLogLambdaRatio), SHARPNESS_MARGIN, a)],
      [`scaling to S = ${batches[1]}, sqrt − linear gap: t-test`,
        differenceTest(of((s) => s.midScalingGapDifference), 'gap', a)],
      ['cyclic, end accuracy batch − lr schedule: TOST ±1 point', accuracyTost((s) => s.cyclicAccuracyDifference)],
    ];
    for (const [label, t] of reported) {
      numbers[`reported: ${label}, effect`] = t.effect;
      numbers[`reported: ${label}, p`] = t.p;
    }
    const isGrid = (r: RunRecord) => String(r.config.role).startsWith('grid');
    numbers['grid points × seeds diverged'] = runs.filter((r) => r.diverged && isGrid(r)).length;
    numbers['diverged runs'] = runs.filter((r) => r.diverged).length;

    // ---- plots: means over seeds with 95 % t-bands ----------------------------------------------
    const byBatch = (f: (o: RunOutput) => number, log: boolean): Series[] =>
      batches.map((batch) => {
        const own = grid.filter((g) => g.batch === batch).sort((a, b) => a.ratio - b.ratio);
        const perSeed = seeds.map((seed) => own.map((g) => f(get(g.prefix, seed).out)));
        return meanSeries(`S = ${batch}`, own.map((g) => g.ratio), perSeed, log);
      });
    const gridPlot = (id: string, what: string, yLabel: string, f: (o: RunOutput) => number, yLog: boolean): Plot => ({
      id, title: `${what} at the end of training against η/S (mean over seeds, 95 % band)`,
      xLabel: 'η / S', yLabel, xLog: true, yLog, series: byBatch(f, yLog),
    });
    const epochAxis = Array.from({ length: epochs + 1 }, (_, e) => e);
    const curveLabel = (lr: number, batch: number) => `η = ${fmt(lr)}, S = ${batch} (η/S = ${fmt(lr / batch)})`;
    const curves = (entries: { prefix: string; label: string }[]) =>
      entries.map(({ prefix, label }) =>
        meanSeries(label, epochAxis, seeds.map((seed) => get(prefix, seed).out.validationAccuracy)),
      );
    const diagonalEntries = diagonal.map((d) => ({ prefix: d.prefix, label: curveLabel(d.lr, d.batch) }));
    const cyclicEntries = [
      { prefix: 'cyclic-batch', label: `cyclic batch size ${cyclic.low} ↔ ${cyclic.high}, η = ${fmt(cyclic.lr)}` },
      {
        prefix: 'cyclic-lr',
        label: `cyclic learning rate ${fmt(cyclic.lr)} ↔ ${fmt((cyclic.lr * cyclic.low) / cyclic.high)}, ` +
          `S = ${cyclic.low}`,
      },
    ];
    const rules = ['linear scaling', 'sqrt scaling'] as const;
    const scalingEntries = [
      { prefix: base, label: `base: ${curveLabel(lrs[0]!, batches[0]!)}` },
      ...rules.map((rule) => {
        const p = scaled(rule, sMax, seeds[0]!);
        return { prefix: p.prefix, label: `${rule}: ${curveLabel(p.lr, p.batch)}` };
      }),
    ];
    const scalingFinal = (f: (o: RunOutput) => number, log: boolean): Series[] =>
      rules.map((rule) =>
        meanSeries(
          rule === 'linear scaling' ? 'linear scaling (η ∝ S)' : 'square-root scaling (η ∝ √S)',
          batches,
          seeds.map((seed) => batches.map((batch) => f(get(scaled(rule, batch, seed).prefix, seed).out))),
          log,
        ),
      );
    const accuracyCurves = (id: string, title: string, series: Series[]): Plot => ({
      id, title, xLabel: 'epoch', yLabel: 'validation accuracy', series,
    });
    const plots: Plot[] = [
      gridPlot('lambda-max', 'Largest Hessian eigenvalue λ_max', 'λ_max(H) (Lanczos)', (o) => o.lambdaMax, true),
      gridPlot('frobenius', 'Hessian Frobenius norm', '‖H‖_F (Hutchinson, E‖Hz‖²)', (o) => o.frobenius, true),
      gridPlot('trace', 'Hessian trace', 'Tr H (Hutchinson)', (o) => o.trace, true),
      gridPlot('validation-accuracy', `Validation accuracy (mean of the last ${budget.lastEpochs} epochs)`,
        'validation accuracy', endAccuracy, false),
      accuracyCurves('equal-ratio-accuracy', 'Equal η/S, different η and S (mean over seeds, 95 % band)',
        curves(diagonalEntries)),
      accuracyCurves('cyclic-accuracy', 'Cyclic batch size vs cyclic learning rate with the same η/S each epoch',
        curves(cyclicEntries)),
      accuracyCurves('scaling-curves', `Linear vs square-root scaling from S = ${batches[0]} to S = ${sMax}`,
        curves(scalingEntries)),
      {
        id: 'scaling-accuracy', title: 'Linear vs square-root scaling: end validation accuracy against the batch size',
        xLabel: 'batch size S', yLabel: 'end validation accuracy', xLog: true, series: scalingFinal(endAccuracy, false),
      },
      {
        id: 'scaling-lambda-max', title: 'Linear vs square-root scaling: λ_max against the batch size',
        xLabel: 'batch size S', yLabel: 'λ_max(H)', xLog: true, yLog: true,
        series: scalingFinal((o) => o.lambdaMax, true),
      },
    ];
    if (lines.length > 0) {
      const alphas = lines[0]!.alphas;
      plots.push({
        id: 'line',
        title:
          `Loss along θ(α) = (1−α)θ_A + αθ_B; A: ${curveLabel(lowest.lr, lowest.batch)}, ` +
          `B: ${curveLabel(highest.lr, highest.batch)} (mean over seeds, 95 % band)`,
        xLabel: 'α', yLabel: 'cross-entropy (train-mode BatchNorm)', yLog: true,
        series: [
          meanSeries('training samples', alphas, lines.map((l) => l.trainLoss), true),
          meanSeries('validation', alphas, lines.map((l) => l.validationLoss), true),
        ],
      });
    }

    // ---- mechanics checks -----------------------------------------------------------------------
    const close = (a: number, b: number) => Math.abs(a - b) <= 1e-5 * Math.max(1, Math.abs(a), Math.abs(b));
    const alive = outputs.filter((o, i) => !o.diverged && planned[i]!.input.curvature);
    const ratios = (prefix: string, seed: number) => {
      const input = get(prefix, seed).plan.input;
      return input.lrByEpoch.map((lr, e) => lr / input.batchByEpoch[e]!);
    };
    const lineEnds = lines.every((l) => {
      const a = get(gridPrefix(lowest.lr, lowest.batch), l.seed).out;
      const b = get(gridPrefix(highest.lr, highest.batch), l.seed).out;
      const at = (x: number) => l.trainLoss[l.alphas.findIndex((v) => v === x)]!;
      return close(at(0), a.curvatureBatchLoss) && close(at(1), b.curvatureBatchLoss);
    });
    const initsOf = (seed: number) =>
      planned.filter((p) => p.input.seed === seed).map((p) => get(p.prefix, seed).out.initChecksum);
    const checks: Record<string, boolean> = {
      'runs of the same seed start from the same initialization (paired)':
        seeds.every((seed) => new Set(initsOf(seed)).size === 1),
      'every run reports validation accuracy before training and after each epoch': outputs.every(
        (o) => o.validationAccuracy.length === epochs + 1 && o.trainLoss.length === epochs,
      ),
      'every non-diverged run with curvature has finite λ_max, Tr H and ‖H‖_F estimates': alive.every((o) =>
        [o.lambdaMax, o.trace, o.frobenius].every(Number.isFinite),
      ),
      'cyclic learning rate and cyclic batch size have the same η/S at every epoch, and it changes':
        seeds.every((seed) => {
          const a = ratios('cyclic-batch', seed);
          const b = ratios('cyclic-lr', seed);
          return a.every((r, e) => close(r, b[e]!)) && new Set(a.map((r) => r.toPrecision(6))).size === 2;
        }),
      'every seed has a line, and it passes through both solutions’ losses at α = 0 and α = 1':
        lines.length === seeds.length && lineEnds,
      'different seeds start from different initializations':
        new Set(seeds.map((seed) => get(base, seed).out.initChecksum)).size === seeds.length,
      'every grid point × seed is reported': runs.filter(isGrid).length === lrs.length * batches.length * seeds.length,
    };
    return { numbers, plots, runs, checks };
  },
});
