/**
 * lr-batch-ratio: Jastrzębski et al. 2018, "Width of minima reached by stochastic gradient
 * descent is influenced by learning rate to batch size ratio", Fig. 1–4 (docs/research.md §2), in
 * small form on Fashion-MNIST.
 *
 * A batch-normalised ReLU MLP (784-100-100-100-10, four linear layers, at full size; 784-32-32-10
 * at smoke) is trained by plain SGD on a seeded Fashion-MNIST subset over a grid η × S
 * (3 × 3 full, 2 × 2 smoke) for a fixed number of epochs (8 full, 4 smoke; 4096 / 512 training
 * samples, validation 2000 / 500), every run of a seed from the same
 * initialisation and the same epoch permutations (paired). The grid is built so that its
 * diagonal has equal η/S: lrs[k]/lrs[0] = batches[k]/batches[0]. At the end of each run:
 *
 *   λ_max(H)  Lanczos on H·v,   Tr H  Hutchinson,   ‖H‖_F  from E‖Hz‖² = ‖H‖²_F
 *             (the same Rademacher probes z for both; analysis/hessian-summary.ts),
 *
 * with H the Hessian of the training loss on a fixed batch of curvature training samples, and
 * the validation accuracy.
 *
 * BatchNorm choice: curvature is measured in TRAIN mode (batch statistics) on the fixed
 * curvature batch, i.e. the Hessian of the objective SGD actually descends (its minibatch loss
 * normalises with batch statistics), independent of how far the running averages lag; the
 * line between two solutions is measured the same way, since interpolated parameters have no
 * running statistics of their own. The curvature batch (256 smoke / 512 full) is larger than
 * the training batches, so its normalisation is a less noisy version of what training saw.
 * Validation accuracy uses EVAL mode (running statistics), as a deployed model would.
 *
 * Also: learning curves of the equal-η/S runs (the diagonal); cyclic batch size (S alternating
 * S₀ ↔ S₁, the two largest grid batch sizes, every epoch, η_c = the largest grid η fixed;
 * cyclicBatchSize) against a cyclic learning rate with the SAME
 * η/S at every epoch (S₀ fixed, η(e) = η_c·S₀/S(e)); we use this square wave rather than the
 * triangular cyclicLR, whose per-step η/S path the batch-size schedule cannot follow. Linear
 * (η ∝ S, linearScaling: the grid diagonal) against square-root scaling (η ∝ √S, sqrtScaling)
 * from the base point (lrs[0], batches[0]); and L(α) = F((1−α)θ_A + αθ_B), α ∈ [−0.5, 1.5],
 * between the lowest-η/S (A) and the highest-η/S (B) grid solutions of the first seed.
 *
 * Budget caveat (stated in the report): runs get a fixed number of EPOCHS, not the paper's 200
 * epochs to ~100 % training accuracy, so low-η/S runs (few, small steps) may be less trained; the
 * final training loss and its rank correlation with η/S are reported beside the verdict. And
 * BatchNorm makes the loss invariant to the scale of each pre-BN weight matrix, so curvature
 * falls as ‖w‖ grows (a larger η grows ‖w‖ faster): ρ(η/S, ‖w‖) is reported too — the width
 * measured here is not scale-normalised, as in the paper.
 */
import { cyclicBatchSize, linearScaling, sqrtScaling } from 'gradscope';
import type { Plot, Preset, PresetResult, RunContext, RunRecord, Series, Verdict } from '../preset.js';
import { BUDGET, lineBetween, runSgd, spearman, type LineInput, type LineOutput, type RunInput, type RunOutput } from './lr-batch-ratio-parts.js';

export const RULE =
  'Over the η × S grid (each point: the mean over seeds of its non-diverged runs; diverged points are left out), compute Spearman rank correlations with η/S. ' +
  'REPRODUCED if ρ(η/S, λ_max) ≤ −0.5 AND ρ(η/S, ‖H‖_F) ≤ −0.5 (higher η/S → flatter); INCONCLUSIVE if both are < 0 but not both ≤ −0.5, or if fewer than 3 grid points are left; ' +
  'NOT REPRODUCED otherwise. ρ(η/S, validation accuracy) and ρ(η/S, Tr H) are reported but do not enter the verdict.';

/** The verdict of RULE from the two correlations and the number of grid points they used. */
export function lrBatchVerdict(rhoLambda: number, rhoFrobenius: number, points: number): Verdict {
  if (points < 3 || !Number.isFinite(rhoLambda) || !Number.isFinite(rhoFrobenius)) return 'INCONCLUSIVE';
  if (rhoLambda <= -0.5 && rhoFrobenius <= -0.5) return 'REPRODUCED';
  if (rhoLambda < 0 && rhoFrobenius < 0) return 'INCONCLUSIVE';
  return 'NOT REPRODUCED';
}

/** A planned run: its task input and the roles it plays (grid, linear / sqrt scaling, cyclic). */
interface Planned {
  id: string;
  input: RunInput;
  roles: string[];
  lr: number;
  batch: number;
}

const sameLr = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));
const mean = (xs: readonly number[]) => {
  const ok = xs.filter(Number.isFinite);
  return ok.length ? ok.reduce((s, v) => s + v, 0) / ok.length : Number.NaN;
};
const fmt = (x: number) => Number(x.toPrecision(3)).toString();

export const lrBatchRatioPreset: Preset = {
  name: 'lr-batch-ratio',
  paper: 'Jastrzębski et al. 2018, "Width of minima reached by stochastic gradient descent is influenced by learning rate to batch size ratio", Fig. 1–4',
  claim: 'SGD’s dynamics depend on η and S mainly through η/S: a higher η/S ends in a flatter minimum (smaller λ_max and ‖H‖_F) with better validation accuracy, and runs at equal η/S behave alike.',
  rule: RULE,
  seeds: [1, 2],
  tasks: { train: runSgd, line: lineBetween },
  async run(context: RunContext): Promise<PresetResult> {
    const budget = BUDGET[context.size];
    const { lrs, batches, epochs } = budget;
    const seeds = context.seeds;
    const constant = (v: number) => Array.from({ length: epochs }, () => v);
    const planned: Planned[] = [];
    const lowest = { lr: lrs[0]!, batch: batches[batches.length - 1]! };
    const highest = { lr: lrs[lrs.length - 1]!, batch: batches[0]! };
    // The cycles use the two largest batch sizes (cheaper steps) and the largest η, so their η/S stays inside the grid's range.
    const cyclic = { lr: lrs[lrs.length - 1]!, low: batches[batches.length - 2]!, high: batches[batches.length - 1]! };
    for (const seed of seeds) {
      const plan = (id: string, lr: number, batch: number, roles: string[], lrByEpoch = constant(lr), batchByEpoch = constant(batch)) => {
        const keepParameters = seed === seeds[0] && ((lr === lowest.lr && batch === lowest.batch) || (lr === highest.lr && batch === highest.batch)) && roles[0] === 'grid';
        planned.push({ id: `${id}-seed${seed}`, input: { size: context.size, seed, lrByEpoch, batchByEpoch, keepParameters }, roles, lr, batch });
      };
      for (const lr of lrs) for (const batch of batches) plan(`grid-lr${lr}-S${batch}`, lr, batch, ['grid']);
      const find = (lr: number, batch: number) => planned.find((p) => p.input.seed === seed && p.batch === batch && sameLr(p.lr, lr) && p.roles[0] === 'grid');
      batches.forEach((batch, k) => {
        const linear = linearScaling(lrs[0]!, batches[0]!, batch);
        const root = sqrtScaling(lrs[0]!, batches[0]!, batch);
        find(linear, batch)?.roles.push('linear scaling');
        const existing = find(root, batch);
        if (existing) existing.roles.push('sqrt scaling');
        else if (k > 0) plan(`sqrt-lr${fmt(root)}-S${batch}`, root, batch, ['sqrt scaling']);
      });
      // Cyclic batch size S₀ ↔ S₁ at η_c, and the cyclic learning rate with the same η/S every epoch at S₀.
      const cycle = cyclicBatchSize(cyclic.low, cyclic.high, 1);
      const cbs = Array.from({ length: epochs }, (_, e) => cycle(e));
      plan('cyclic-batch', cyclic.lr, cyclic.low, ['cyclic batch size'], constant(cyclic.lr), cbs);
      plan('cyclic-lr', cyclic.lr, cyclic.low, ['cyclic learning rate'], cbs.map((S) => (cyclic.lr * cyclic.low) / S), constant(cyclic.low));
    }

    context.progress(0, `${planned.length} SGD runs`);
    const outputs = await context.map<RunInput, RunOutput>('train', planned.map((p) => p.input), (done, total) => context.progress((0.95 * done) / total, `${done} of ${total} runs`));
    const result = new Map(planned.map((p, i) => [p.id, { plan: p, out: outputs[i]! }]));
    const get = (prefix: string, seed: number) => result.get(`${prefix}-seed${seed}`)!;

    const runs: RunRecord[] = planned.map((p, i) => {
      const o = outputs[i]!;
      const metrics: Record<string, number> = {
        finalTrainLoss: o.trainLoss[epochs - 1]!,
        finalValidationLoss: o.validationLoss[epochs]!,
        finalValidationAccuracy: o.validationAccuracy[epochs]!,
        curvatureBatchLoss: o.curvatureBatchLoss,
        lambdaMax: o.lambdaMax,
        lambdaMin: o.lambdaMin,
        trace: o.trace,
        traceStandardError: o.traceError,
        frobenius: o.frobenius,
        frobeniusStandardError: o.frobeniusError,
        weightNorm: o.weightNorm,
        steps: o.steps,
      };
      const lrValues = p.input.lrByEpoch;
      const isCyclic = p.roles[0]!.startsWith('cyclic');
      return {
        id: p.id,
        config: { seed: p.input.seed, role: p.roles.join(' + '), lr: isCyclic ? lrValues.join('/') : p.lr, batch: isCyclic ? p.input.batchByEpoch.join('/') : p.batch, ratio: isCyclic ? 'cyclic' : p.lr / p.batch, epochs, n: budget.n, hidden: budget.hidden.join('-') },
        diverged: o.diverged,
        metrics,
      };
    });

    // ---- the grid and the verdict ---------------------------------------------------------
    const points = lrs.flatMap((lr) => batches.map((batch) => {
      const own = seeds.map((seed) => get(`grid-lr${lr}-S${batch}`, seed).out).filter((o) => !o.diverged);
      const avg = (f: (o: RunOutput) => number) => mean(own.map(f));
      return {
        lr, batch, ratio: lr / batch, converged: own.length,
        lambdaMax: avg((o) => o.lambdaMax), frobenius: avg((o) => o.frobenius), trace: avg((o) => o.trace),
        accuracy: avg((o) => o.validationAccuracy[epochs]!), trainLoss: avg((o) => o.trainLoss[epochs - 1]!), weightNorm: avg((o) => o.weightNorm),
      };
    }));
    const used = points.filter((q) => q.converged > 0);
    const rho = (f: (q: (typeof points)[number]) => number) => spearman(used.map((q) => q.ratio), used.map(f));
    const rhoLambda = rho((q) => q.lambdaMax);
    const rhoFrobenius = rho((q) => q.frobenius);
    const verdict = lrBatchVerdict(rhoLambda, rhoFrobenius, used.length);
    const numbers: Record<string, number> = {
      'Spearman ρ(η/S, λ_max)': rhoLambda,
      'Spearman ρ(η/S, ‖H‖_F)': rhoFrobenius,
      'Spearman ρ(η/S, Tr H)': rho((q) => q.trace),
      'Spearman ρ(η/S, validation accuracy)': rho((q) => q.accuracy),
      'Spearman ρ(η/S, final training loss)': rho((q) => q.trainLoss),
      'Spearman ρ(η/S, ‖w‖)': rho((q) => q.weightNorm),
      'grid points in the correlation': used.length,
      'diverged runs': runs.filter((r) => r.diverged).length,
    };
    for (const seed of seeds) {
      const own = lrs.flatMap((lr) => batches.map((batch) => ({ ratio: lr / batch, out: get(`grid-lr${lr}-S${batch}`, seed).out })));
      numbers[`seed ${seed}: Spearman ρ(η/S, λ_max)`] = spearman(own.map((q) => q.ratio), own.map((q) => q.out.lambdaMax));
      numbers[`seed ${seed}: Spearman ρ(η/S, ‖H‖_F)`] = spearman(own.map((q) => q.ratio), own.map((q) => q.out.frobenius));
    }
    const verdictDetail =
      `Over ${used.length} grid points: ρ(η/S, λ_max) = ${fmt(rhoLambda)}, ρ(η/S, ‖H‖_F) = ${fmt(rhoFrobenius)} (rule: both ≤ −0.5); ` +
      `ρ(η/S, Tr H) = ${fmt(numbers['Spearman ρ(η/S, Tr H)']!)}, ρ(η/S, validation accuracy) = ${fmt(numbers['Spearman ρ(η/S, validation accuracy)']!)}, ` +
      `ρ(η/S, final training loss) = ${fmt(numbers['Spearman ρ(η/S, final training loss)']!)} (runs have ${epochs} epochs, not trained to convergence).`;

    // ---- equal η/S, cyclic schedules, scaling rules -----------------------------------------
    const epochAxis = Array.from({ length: epochs + 1 }, (_, e) => e);
    const lossAxis = epochAxis.slice(1);
    const meanCurve = (prefix: string, f: (o: RunOutput) => number[]) => {
      const curves = seeds.map((seed) => f(get(prefix, seed).out));
      return curves[0]!.map((_, e) => mean(curves.map((c) => c[e]!)));
    };
    const gap = (a: number[], b: number[]) => mean(a.map((v, e) => Math.abs(v - b[e]!)));
    const diagonal = lrs.map((lr, k) => ({ lr, batch: batches[k]!, prefix: `grid-lr${lr}-S${batches[k]}` }));
    const diagonalAcc = diagonal.map((d) => points.find((q) => q.lr === d.lr && q.batch === d.batch)!.accuracy);
    const spread = (xs: number[]) => Math.max(...xs) - Math.min(...xs);
    numbers['equal η/S (diagonal): spread of final validation accuracy'] = spread(diagonalAcc);
    numbers['whole grid: spread of final validation accuracy'] = spread(used.map((q) => q.accuracy));
    const diagonalLambda = diagonal.map((d) => points.find((q) => q.lr === d.lr && q.batch === d.batch)!.lambdaMax);
    numbers['equal η/S (diagonal): max/min of λ_max'] = Math.max(...diagonalLambda) / Math.min(...diagonalLambda);
    numbers['whole grid: max/min of λ_max'] = Math.max(...used.map((q) => q.lambdaMax)) / Math.min(...used.map((q) => q.lambdaMax));
    const curveLabel = (lr: number, batch: number) => `η = ${fmt(lr)}, S = ${batch} (η/S = ${fmt(lr / batch)})`;
    const valAcc = (o: RunOutput) => o.validationAccuracy;
    const trainLoss = (o: RunOutput) => o.trainLoss;
    const cbsAcc = meanCurve('cyclic-batch', valAcc);
    const clrAcc = meanCurve('cyclic-lr', valAcc);
    numbers['cyclic: mean |Δ validation accuracy| over epochs (batch size vs learning rate)'] = gap(cbsAcc.slice(1), clrAcc.slice(1));
    numbers['cyclic batch size: final validation accuracy'] = cbsAcc[epochs]!;
    numbers['cyclic learning rate: final validation accuracy'] = clrAcc[epochs]!;
    const sMax = batches[batches.length - 1]!;
    const scaled = (rule: 'linear scaling' | 'sqrt scaling', batch: number) => planned.find((p) => p.input.seed === seeds[0] && p.batch === batch && p.roles.includes(rule))!;
    const basePrefix = `grid-lr${lrs[0]}-S${batches[0]}`;
    const prefixOf = (p: Planned) => p.id.slice(0, p.id.lastIndexOf('-seed'));
    const baseAcc = meanCurve(basePrefix, valAcc);
    for (const rule of ['linear scaling', 'sqrt scaling'] as const) {
      numbers[`${rule} to S = ${sMax}: mean |Δ validation accuracy| from the base run over epochs`] = gap(meanCurve(prefixOf(scaled(rule, sMax)), valAcc).slice(1), baseAcc.slice(1));
    }

    // ---- loss along the line between the lowest- and highest-η/S solutions ------------------
    const endA = get(`grid-lr${lowest.lr}-S${lowest.batch}`, seeds[0]!).out;
    const endB = get(`grid-lr${highest.lr}-S${highest.batch}`, seeds[0]!).out;
    let line: LineOutput | null = null;
    if (endA.parameters && endB.parameters) {
      [line] = await context.map<LineInput, LineOutput>('line', [{ size: context.size, wA: endA.parameters, wB: endB.parameters }]);
      const at = (a: number) => line!.alphas.findIndex((x) => Math.abs(x - a) < 1e-9);
      const L = line!.trainLoss;
      numbers['line: training loss at α = 0 (low η/S)'] = L[at(0)]!;
      numbers['line: training loss at α = 1 (high η/S)'] = L[at(1)]!;
      numbers['line: rise from α = 0 to α = −0.5 (outward of the low-η/S solution)'] = L[at(-0.5)]! - L[at(0)]!;
      numbers['line: rise from α = 1 to α = 1.5 (outward of the high-η/S solution)'] = L[at(1.5)]! - L[at(1)]!;
      numbers['line: highest training loss between the solutions (0 ≤ α ≤ 1)'] = Math.max(...L.filter((_, k) => line!.alphas[k]! >= 0 && line!.alphas[k]! <= 1));
    }
    context.progress(1, 'done');

    // ---- plots --------------------------------------------------------------------------------
    const byBatch = (f: (q: (typeof points)[number]) => number): Series[] =>
      batches.map((batch) => {
        const own = points.filter((q) => q.batch === batch).sort((a, b) => a.ratio - b.ratio);
        return { label: `S = ${batch}`, x: own.map((q) => q.ratio), y: own.map(f) };
      });
    const gridPlot = (id: string, what: string, yLabel: string, f: (q: (typeof points)[number]) => number, yLog: boolean): Plot => ({
      id, title: `${what} at the end of training against η/S (mean over seeds)`, xLabel: 'η / S', yLabel, xLog: true, yLog, series: byBatch(f),
    });
    const curves = (entries: { prefix: string; label: string }[], f: (o: RunOutput) => number[], x: number[]): Series[] => entries.map(({ prefix, label }) => ({ label, x, y: meanCurve(prefix, f) }));
    const diagonalEntries = diagonal.map((d) => ({ prefix: d.prefix, label: curveLabel(d.lr, d.batch) }));
    const cyclicEntries = [
      { prefix: 'cyclic-batch', label: `cyclic batch size ${cyclic.low} ↔ ${cyclic.high}, η = ${fmt(cyclic.lr)}` },
      { prefix: 'cyclic-lr', label: `cyclic learning rate ${fmt(cyclic.lr)} ↔ ${fmt((cyclic.lr * cyclic.low) / cyclic.high)}, S = ${cyclic.low}` },
    ];
    const scalingEntries = [{ prefix: basePrefix, label: `base: ${curveLabel(lrs[0]!, batches[0]!)}` }, ...(['linear scaling', 'sqrt scaling'] as const).map((rule) => {
      const p = scaled(rule, sMax);
      return { prefix: prefixOf(p), label: `${rule}: ${curveLabel(p.lr, p.batch)}` };
    })];
    const scalingFinal = (f: (o: RunOutput) => number): Series[] => (['linear scaling', 'sqrt scaling'] as const).map((rule) => ({
      label: rule === 'linear scaling' ? 'linear scaling (η ∝ S)' : 'square-root scaling (η ∝ √S)',
      x: [...batches],
      y: batches.map((batch) => mean(seeds.map((seed) => f(get(prefixOf(scaled(rule, batch)), seed).out)))),
    }));
    const plots: Plot[] = [
      gridPlot('lambda-max', 'Largest Hessian eigenvalue λ_max', 'λ_max(H) (Lanczos)', (q) => q.lambdaMax, true),
      gridPlot('frobenius', 'Hessian Frobenius norm', '‖H‖_F (Hutchinson, E‖Hz‖²)', (q) => q.frobenius, true),
      gridPlot('trace', 'Hessian trace', 'Tr H (Hutchinson)', (q) => q.trace, false),
      gridPlot('validation-accuracy', 'Validation accuracy', 'validation accuracy', (q) => q.accuracy, false),
      { id: 'equal-ratio-accuracy', title: 'Equal η/S, different η and S: validation accuracy (mean over seeds)', xLabel: 'epoch', yLabel: 'validation accuracy', series: curves(diagonalEntries, valAcc, epochAxis) },
      { id: 'equal-ratio-loss', title: 'Equal η/S, different η and S: training loss (mean over seeds)', xLabel: 'epoch', yLabel: 'mean minibatch training loss', yLog: true, series: curves(diagonalEntries, trainLoss, lossAxis) },
      { id: 'cyclic-accuracy', title: 'Cyclic batch size vs cyclic learning rate with the same η/S each epoch: validation accuracy', xLabel: 'epoch', yLabel: 'validation accuracy', series: curves(cyclicEntries, valAcc, epochAxis) },
      { id: 'cyclic-loss', title: 'Cyclic batch size vs cyclic learning rate with the same η/S each epoch: training loss', xLabel: 'epoch', yLabel: 'mean minibatch training loss', yLog: true, series: curves(cyclicEntries, trainLoss, lossAxis) },
      { id: 'scaling-curves', title: `Linear vs square-root scaling from S = ${batches[0]} to S = ${sMax}: validation accuracy`, xLabel: 'epoch', yLabel: 'validation accuracy', series: curves(scalingEntries, valAcc, epochAxis) },
      { id: 'scaling-accuracy', title: 'Linear vs square-root scaling: final validation accuracy against the batch size', xLabel: 'batch size S', yLabel: 'final validation accuracy', xLog: true, series: scalingFinal((o) => o.validationAccuracy[epochs]!) },
      { id: 'scaling-lambda-max', title: 'Linear vs square-root scaling: λ_max against the batch size', xLabel: 'batch size S', yLabel: 'λ_max(H)', xLog: true, yLog: true, series: scalingFinal((o) => o.lambdaMax) },
    ];
    if (line) {
      const lowLabel = curveLabel(lowest.lr, lowest.batch);
      const highLabel = curveLabel(highest.lr, highest.batch);
      plots.push({
        id: 'line', title: `Loss along the line θ(α) = (1−α)θ_A + αθ_B; A: ${lowLabel}, B: ${highLabel} (seed ${seeds[0]})`, xLabel: 'α', yLabel: 'cross-entropy (train-mode BatchNorm)', yLog: true,
        series: [{ label: 'training samples', x: line.alphas, y: line.trainLoss }, { label: 'validation', x: line.alphas, y: line.validationLoss }],
      });
    }

    // ---- mechanics checks ---------------------------------------------------------------------
    const close = (a: number, b: number) => Math.abs(a - b) <= 1e-5 * Math.max(1, Math.abs(a), Math.abs(b));
    const alive = outputs.filter((o) => !o.diverged);
    const cyclicRatio = (prefix: string, seed: number) => get(prefix, seed).plan.input.lrByEpoch.map((lr, e) => lr / get(prefix, seed).plan.input.batchByEpoch[e]!);
    const checks: Record<string, boolean> = {
      'runs of the same seed start from the same initialization (paired)': seeds.every((seed) => new Set(planned.filter((p) => p.input.seed === seed).map((p) => result.get(p.id)!.out.initChecksum)).size === 1),
      'every run reports validation accuracy before training and after each epoch': outputs.every((o) => o.validationAccuracy.length === epochs + 1 && o.trainLoss.length === epochs),
      'every non-diverged run has finite λ_max, Tr H and ‖H‖_F estimates': alive.every((o) => [o.lambdaMax, o.trace, o.frobenius].every(Number.isFinite)),
      'cyclic learning rate and cyclic batch size have the same η/S at every epoch, and it changes': seeds.every((seed) => {
        const a = cyclicRatio('cyclic-batch', seed);
        const b = cyclicRatio('cyclic-lr', seed);
        return a.every((r, e) => close(r, b[e]!)) && new Set(a.map((r) => r.toPrecision(6))).size === 2;
      }),
      'the line passes through both solutions’ losses at α = 0 and α = 1': line !== null && close(line.trainLoss[line.alphas.findIndex((a) => a === 0)]!, endA.curvatureBatchLoss) && close(line.trainLoss[line.alphas.findIndex((a) => a === 1)]!, endB.curvatureBatchLoss),
      'different seeds start from different initializations': new Set(seeds.map((seed) => get(`grid-lr${lrs[0]}-S${batches[0]}`, seed).out.initChecksum)).size === seeds.length,
      'every grid point × seed is reported': runs.filter((r) => String(r.config.role).startsWith('grid')).length === lrs.length * batches.length * seeds.length,
    };
    return { preset: 'lr-batch-ratio', size: context.size, verdict, verdictDetail, numbers, plots, runs, checks };
  },
};
