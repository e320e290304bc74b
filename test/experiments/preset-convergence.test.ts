/**
 * The convergence preset (Defazio & Bottou 2019, §7, Fig. 5): its smoke-size mechanics (paired
 * starts, the estimators' gradient-evaluation counts), the claim parts' tests on constructed
 * effects, and the paper-size configuration for two steps on generated CIFAR-format files.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randn, withMode } from 'gradscope';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_SERIES_PER_PLOT, type PresetResult } from '../../packages/lab/src/experiments/preset.js';
import { cifarResnet, lenet5Cifar } from '../../packages/lab/src/experiments/presets/cifar-models.js';
import {
  BUDGETS,
  type ConvergenceInput,
  type ConvergenceRun,
  convergencePreset,
  curveGap,
  errorCurve,
  judgeModel,
  MARGIN_POINTS,
  meanWithBand,
  modelEffects,
  trainConvergence,
} from '../../packages/lab/src/experiments/presets/convergence.js';
import { MissingDataError } from '../../packages/lab/src/experiments/presets/datasets.js';
import { expectWellFormed, runSmoke } from './well-formed.js';

const ALPHA = 0.05;
/** Ten seeds' effects: a centre plus a fixed spread of ±0.2 points. */
const around = (centre: number) => [0.1, -0.2, 0.15, -0.05, 0.2, -0.1, 0.05, -0.15, 0, 0].map((d) => centre + d);
/** Ten seeds' effects with a mean near zero and a spread of several points (noise). */
const noise = [3, -2.5, 1.5, -4, 2.5, -1, 4, -3.5, 0.5, -0.5];

describe('convergence preset (Defazio & Bottou Fig. 5): smoke mechanics', () => {
  let result: PresetResult;
  beforeAll(async () => {
    result = await runSmoke(convergencePreset, [1, 2]);
  }, 120_000);

  it('passes its mechanics checks (paired start, honest gradient-evaluation counts, monotone costs)', () => {
    expect(Object.keys(result.checks).length).toBeGreaterThanOrEqual(11);
    for (const [name, ok] of Object.entries(result.checks)) expect(ok, name).toBe(true);
  });

  it('judges the two parts for each model, with an interval and a p-value each', () => {
    const ids = ['mlp', 'lenet5'].flatMap((m) => [
      `svrg-no-better-${m}`,
      `scsg-worse-than-sgd-${m}`,
      `scsg-no-better-than-svrg-${m}`,
    ]);
    expect(result.claims.map((c) => c.id)).toEqual(ids);
    for (const c of result.claims) {
      expect(c.n).toBe(2);
      expect(c.interval[0]).toBeLessThanOrEqual(c.effect);
      expect(c.interval[1]).toBeGreaterThanOrEqual(c.effect);
      expect(c.p).toBeGreaterThanOrEqual(0);
      expect(c.p).toBeLessThanOrEqual(1);
    }
    expect(result.alpha).toBe(ALPHA);
    expect(result.budget).toMatch(/LeNet-5/);
    expect(result.scaleDown).toMatch(/CIFAR-10/);
  });

  it('lists every model × method × seed run; SVRG costs 3 epochs of SGD per epoch', () => {
    expectWellFormed(result, 'convergence');
    expect(result.runs).toHaveLength(2 * 3 * 2);
    for (const model of ['mlp', 'lenet5']) {
      const sgd = result.runs.find((r) => r.id === `${model}-sgd-seed1`)!;
      const svrgRun = result.runs.find((r) => r.id === `${model}-svrg-seed1`)!;
      expect(svrgRun.metrics.gradientEvaluations).toBe(3 * sgd.metrics.gradientEvaluations!);
      expect(svrgRun.metrics.initialTestError).toBe(sgd.metrics.initialTestError);
    }
  });

  it('plots bands over seeds and per-seed points, never more than the report allows', () => {
    for (const plot of result.plots) expect(plot.series.length).toBeLessThanOrEqual(MAX_SERIES_PER_PLOT);
    const perEpoch = result.plots.find((p) => p.id === 'test-error-epoch-lenet5')!;
    expect(perEpoch.series).toHaveLength(3);
    for (const s of perEpoch.series) {
      expect(s.band!.lower.length).toBe(s.x.length);
      s.y.forEach((y, i) => expect(s.band!.lower[i]!).toBeLessThanOrEqual(y));
    }
    const gap = result.plots.find((p) => p.id === 'test-error-gap-mlp')!;
    const points = gap.series.filter((s) => s.style === 'points');
    expect(points).toHaveLength(3);
    for (const s of points) expect(s.y).toHaveLength(2);
    const perEval = result.plots.find((p) => p.id === 'test-error-evaluations-mlp')!;
    expect(perEval.xLog).toBe(true);
    for (const s of perEval.series) expect(s.x.every((x) => x > 0)).toBe(true);
  });

  it('refuses a single seed: every part is a test over paired seeds', async () => {
    await expect(runSmoke(convergencePreset, [1])).rejects.toThrow(/at least 2 seeds; got 1/);
  });
});

describe('convergence preset: the claim parts on constructed effects', () => {
  const judge = (svrgMinusSgd: number[], scsgMinusSgd: number[], scsgMinusSvrg = svrgMinusSgd) =>
    judgeModel('LeNet-5', 'lenet5', { svrgMinusSgd, scsgMinusSgd, scsgMinusSvrg }, ALPHA);

  it('SVRG clearly slower than SGD and SCSG clearly worst: every part REPRODUCED', () => {
    const [noBetter, worse, notBetter] = judge(around(1.5), around(0.8), around(0.5));
    expect(noBetter!.verdict).toBe('REPRODUCED');
    expect(noBetter!.test).toMatch(/H₀: effect = -1/);
    expect(worse!.verdict).toBe('REPRODUCED');
    expect(notBetter!.verdict).toBe('REPRODUCED');
    expect(notBetter!.test).toMatch(/H₀: effect = -1/);
  });

  it('non-superiority, not "no difference": SVRG slightly faster, within the margin, still supports the claim', () => {
    const [noBetter] = judge(around(-MARGIN_POINTS / 2), around(1));
    expect(noBetter!.verdict).toBe('REPRODUCED');
  });

  it('SVRG or SCSG faster by more than the margin, or SCSG clearly better than SGD: NOT REPRODUCED', () => {
    const [noBetter, worse, notBetter] = judge(around(-2 * MARGIN_POINTS), around(-1));
    expect(noBetter!.verdict).toBe('NOT REPRODUCED');
    expect(worse!.verdict).toBe('NOT REPRODUCED');
    expect(notBetter!.verdict).toBe('NOT REPRODUCED');
  });

  it('noise around the margin and around zero: INCONCLUSIVE', () => {
    const atMargin = noise.map((d) => d - MARGIN_POINTS);
    const [noBetter, worse, notBetter] = judge(atMargin, noise, atMargin);
    expect(noBetter!.verdict).toBe('INCONCLUSIVE');
    expect(worse!.verdict).toBe('INCONCLUSIVE');
    expect(notBetter!.verdict).toBe('INCONCLUSIVE');
  });

  it('computes the effects from per-epoch curves, seed by seed', () => {
    const sgd = [
      [10, 5],
      [12, 6],
    ];
    const svrgCurves = [
      [11, 7],
      [11, 5],
    ];
    const scsg = [
      [13, 8],
      [12, 4],
    ];
    // The judged effects compare the errors after the last epoch.
    const final = modelEffects({ sgd, svrg: svrgCurves, scsg });
    expect(final.svrgMinusSgd).toEqual([2, -1]);
    expect(final.scsgMinusSgd).toEqual([3, -2]);
    expect(final.scsgMinusSvrg).toEqual([1, -1]);
    // Reported, not voted: the mean over epoch ends (the area between the curves).
    expect(curveGap([11, 7], [10, 5])).toBe(1.5);
    const area = modelEffects({ sgd, svrg: svrgCurves, scsg }, 'area');
    expect(area.svrgMinusSgd).toEqual([1.5, -1]);
    expect(area.scsgMinusSvrg).toEqual([1.5, 0]);
  });

  it('reads a curve in points per epoch end; a diverged run counts as 100 from its divergence on', () => {
    const run = (points: ConvergenceRun['points'], diverged: boolean): ConvergenceRun => ({
      points,
      epochLoss: [],
      diverged,
      N: 10,
      b: 1,
      stepsPerEpoch: 10,
      steps: 0,
      stopped: false,
    });
    const healthy = run(
      [
        { epoch: 0, cost: 0, testError: 0.9 },
        { epoch: 1, cost: 10, testError: 0.25 },
        { epoch: 2, cost: 20, testError: 0.125 },
      ],
      false,
    );
    expect(errorCurve(healthy, 2)).toEqual([25, 12.5]);
    const diverged = run(
      [
        { epoch: 0, cost: 0, testError: 0.9 },
        { epoch: 1, cost: 10, testError: 0.5 },
      ],
      true,
    );
    expect(errorCurve(diverged, 3)).toEqual([50, 100, 100]);
  });

  it('bands the mean with the 95 % t-interval (t₀.₉₇₅ with 1 degree of freedom is 12.706)', () => {
    const band = meanWithBand([
      [1, 2],
      [3, 2],
    ]);
    expect(band.y).toEqual([2, 2]);
    expect(band.upper[0]!).toBeCloseTo(2 + 12.7062, 3);
    expect(band.lower[1]).toBe(2);
  });
});

describe('convergence preset: paper size (CIFAR-10, LeNet-5 and ResNet-110)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'gradscope-convergence-'));
    // 4 records per training file (20 in all) and 4 test records: label byte + 3,072 pixel bytes.
    const records = (count: number, offset: number) => {
      const buf = Buffer.alloc(count * 3073);
      for (let r = 0; r < count; r++) {
        buf[r * 3073] = (r + offset) % 10;
        for (let i = 1; i < 3073; i++) buf[r * 3073 + i] = (i * 7 + r * 31 + offset) % 256;
      }
      return buf;
    };
    for (let k = 1; k <= 5; k++) writeFileSync(join(dir, `data_batch_${k}.bin`), records(4, k));
    writeFileSync(join(dir, 'test_batch.bin'), records(4, 0));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('declares the paper’s schedule: lr 0.1, batch 128, 300 epochs, ÷10 at 150 and 225, on CIFAR-10', () => {
    const paper = BUDGETS.paper!;
    expect(paper.data).toBe('cifar10');
    expect(paper.augment).toBe(true);
    expect(paper.models.map((m) => m.model)).toEqual(['lenet5-cifar', 'resnet110']);
    for (const m of paper.models) expect([m.lr, m.batch, m.epochs, ...m.milestones]).toEqual([0.1, 128, 300, 150, 225]);
  });

  it('builds the paper’s models: LeNet-5 of ≈ 62 thousand and ResNet-110 of ≈ 1.7 million parameters', () => {
    const count = (m: { parameters(): { size: number }[] }) => m.parameters().reduce((s, p) => s + p.size, 0);
    const lenet = count(lenet5Cifar(1));
    expect(lenet).toBeGreaterThan(60_000);
    expect(lenet).toBeLessThan(64_000);
    const resnet = count(cifarResnet(1, 18));
    expect(resnet).toBeGreaterThan(1_700_000);
    expect(resnet).toBeLessThan(1_760_000);
  });

  it('runs the paper-size preset for exactly --max-steps 2, with the costs of two steps', async () => {
    // ResNet-110's tasks run LeNet-5 here (two ResNet-110 steps take over a minute on a CPU; its
    // forward pass is tested below): what is tested is the plan, the data, the stop and the report.
    const map = async <I, O>(task: string, inputs: readonly I[]) =>
      inputs.map((input) => {
        const i = input as ConvergenceInput;
        return (convergencePreset.tasks![task] as (x: ConvergenceInput) => O)(
          i.model === 'resnet110' ? { ...i, model: 'lenet5-cifar' } : i,
        );
      });
    const context = { size: 'paper' as const, seeds: [1, 2], dataDir: dir, maxSteps: 2, progress: () => {} };
    const result = await convergencePreset.run({ ...context, map });
    for (const [name, ok] of Object.entries(result.checks)) expect(ok, name).toBe(true);
    expect(result.claims.map((c) => c.id)).toEqual(
      ['lenet5-cifar', 'resnet110'].flatMap((m) => [
        `svrg-no-better-${m}`,
        `scsg-worse-than-sgd-${m}`,
        `scsg-no-better-than-svrg-${m}`,
      ]),
    );
    expect(result.budget).toMatch(/CIFAR-10.*batch 128, lr 0\.1 ÷10 at epochs 150 and 225, 300 epochs/);
    expect(result.scaleDown).toBe('');
    const cost = (id: string) => result.runs.find((r) => r.id === id)!.metrics.gradientEvaluations;
    // Batch 128 > 20 samples: one step per epoch, so two steps are two epochs of 20 samples.
    expect(cost('lenet5-cifar-sgd-seed1')).toBe(40);
    // SVRG took the snapshots of epochs 0 and 1; train stops before epoch 2's (no step of it runs).
    expect(cost('lenet5-cifar-svrg-seed1')).toBe(2 * 20 + 2 * 40);
    // SCSG: one mega-batch of min(N, 10b) = 20, then two inner steps.
    expect(cost('lenet5-cifar-scsg-seed1')).toBe(20 + 2 * 40);
    const input: ConvergenceInput = {
      seed: 1,
      model: 'lenet5-cifar',
      method: 'sgd',
      size: 'paper',
      dataDir: dir,
      maxSteps: 2,
    };
    const run = trainConvergence(input);
    expect([run.N, run.steps, run.stopped, run.diverged]).toEqual([20, 2, true, false]);
  }, 60_000);

  // Two ResNet-110 steps take over a minute on this machine's CPU: its forward pass is what is tested.
  it('ResNet-110 maps CIFAR-sized images to ten logits', () => {
    const model = cifarResnet(2, 18);
    const logits = withMode(model, 'eval', () => model.forward(randn([2, 3, 32, 32], { seed: 3 })));
    expect(logits.shape).toEqual([2, 10]);
    expect(Array.from(logits.toTypedArray()).every(Number.isFinite)).toBe(true);
  }, 30_000);

  it('refuses clearly without --data', async () => {
    const context = { size: 'paper' as const, seeds: [1, 2], progress: () => {}, maxSteps: 2 };
    const map = async <I, O>(task: string, inputs: readonly I[]) =>
      inputs.map((i) => (convergencePreset.tasks![task] as (input: I) => O)(i));
    const run = Promise.resolve().then(() => convergencePreset.run({ ...context, map }));
    await expect(run).rejects.toThrow(MissingDataError);
    await expect(run).rejects.toThrow(/--data DIR/);
  });
});
