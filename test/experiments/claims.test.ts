/**
 * From a test result to a claim part's verdict (claims.ts: every branch of directionalPart,
 * equivalencePart and verdictFromParts), and the preset skeleton (skeleton.ts): definePreset
 * computes the verdict from the judged parts, refuses a size it has no budget for, checks its
 * task handles' names, and the demo-sgd preset runs end to end at smoke size through runPresets
 * into results.json, claims.csv and the report's claim table.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeReport } from '../../packages/lab/src/cli/report/index.js';
import { directionalPart, equivalencePart, verdictFromParts } from '../../packages/lab/src/experiments/claims.js';
import type { PartSpec } from '../../packages/lab/src/experiments/claims.js';
import { SizeUnavailableError } from '../../packages/lab/src/experiments/preset.js';
import type { ClaimPart, RunContext, Verdict } from '../../packages/lab/src/experiments/preset.js';
import { demoSgd } from '../../packages/lab/src/experiments/presets/demo-sgd.js';
import { parseResults, runPresets } from '../../packages/lab/src/experiments/runner.js';
import { definePreset, defineTasks, type PresetDefinition } from '../../packages/lab/src/experiments/skeleton.js';
import { pairedTTest, signTest, spearmanTest, tTest, tost } from '../../packages/lab/src/experiments/stats.js';
import type { TestResult } from '../../packages/lab/src/experiments/stats.js';

const ALPHA = 0.05;
const spec: PartSpec = { id: 'part', claim: 'A beats B.', effectLabel: 'A − B (points)' };

/** A test result with the given effect and p (the interval is not what the verdict reads). */
const result = (effect: number, p: number, nullValue = 0): TestResult => ({
  effect,
  interval: [effect - 1, effect + 1],
  p,
  n: 10,
  nullValue,
  test: 'paired t-test, n = 10, two-sided',
});

describe('directionalPart', () => {
  it.each<[string, number, number, 'greater' | 'less', Verdict]>([
    ['significant on the claimed side (greater)', 2, 0.001, 'greater', 'REPRODUCED'],
    ['significant on the claimed side (less)', -2, 0.001, 'less', 'REPRODUCED'],
    ['significant on the other side (greater claimed)', -2, 0.001, 'greater', 'NOT REPRODUCED'],
    ['significant on the other side (less claimed)', 2, 0.001, 'less', 'NOT REPRODUCED'],
    ['not significant, claimed side', 2, 0.2, 'greater', 'INCONCLUSIVE'],
    ['not significant, other side', -2, 0.2, 'greater', 'INCONCLUSIVE'],
    ['p exactly α is not below α', 2, ALPHA, 'greater', 'INCONCLUSIVE'],
  ])('%s → %s', (_what, effect, p, direction, verdict) => {
    const part = directionalPart(spec, result(effect, p), direction, ALPHA);
    expect(part.verdict).toBe(verdict);
    expect(part).toMatchObject({ ...spec, effect, p, alpha: ALPHA, n: 10, interval: [effect - 1, effect + 1] });
  });

  it('reads the side against the null value, not against zero', () => {
    // A sign test's null is 1/2: 0.3 of the seeds is below it, even though 0.3 > 0.
    expect(directionalPart(spec, signTest(1, 12), 'greater', ALPHA).verdict).toBe('NOT REPRODUCED');
    expect(directionalPart(spec, signTest(11, 12), 'greater', ALPHA).verdict).toBe('REPRODUCED');
    expect(directionalPart(spec, result(0.4, 0.001, 0.5), 'less', ALPHA).verdict).toBe('REPRODUCED');
  });

  it('says the test, the null, the claimed direction and how the verdict follows', () => {
    const yes = directionalPart(spec, result(2, 0.001), 'greater', ALPHA);
    expect(yes.test).toBe('paired t-test, n = 10, two-sided, H₀: effect = 0, claim: effect > 0');
    expect(yes.detail).toBe('p = 0.001 < α = 0.05 with the effect 2 > 0, the side the paper claims.');
    const no = directionalPart(spec, result(2, 0.001), 'less', ALPHA);
    const opposite = 'p = 0.001 < α = 0.05 with the effect 2 > 0, the side opposite to the paper’s claim.';
    expect(no.detail).toBe(opposite);
    const open = directionalPart(spec, result(2, 0.3), 'greater', ALPHA);
    expect(open.detail).toMatch(/^p = 0\.3 ≥ α = 0\.05: the test cannot tell the effect \(2\) from 0\.$/);
    expect(directionalPart(spec, result(2, 1e-7), 'greater', ALPHA).detail).toMatch(/^p = 1\.0e-7 < α/);
    // No spread at all (tTest gives p = 0): written as 0, not 0.0e+0.
    expect(directionalPart(spec, tTest([2, 2, 2]), 'greater', ALPHA).detail).toMatch(/^p = 0 < α = 0\.05 with the effect 2 > 0/);
  });

  it('an undefined effect (a constant variable: ρ is NaN) is inconclusive', () => {
    const part = directionalPart(spec, spearmanTest([1, 2, 3, 4], [2, 2, 2, 2]), 'less', ALPHA);
    expect(part.verdict).toBe('INCONCLUSIVE');
  });

  it('on real tests: strong effect → REPRODUCED, opposite → NOT REPRODUCED, noise → INCONCLUSIVE', () => {
    const base = [1.0, 1.2, 0.9, 1.1, 1.05, 0.95, 1.15, 0.85];
    const better = base.map((v, i) => v + 0.5 + 0.01 * i);
    const noise = base.map((v, i) => v + (i % 2 === 0 ? 0.05 : -0.05));
    expect(directionalPart(spec, pairedTTest(better, base), 'greater', ALPHA).verdict).toBe('REPRODUCED');
    expect(directionalPart(spec, pairedTTest(base, better), 'greater', ALPHA).verdict).toBe('NOT REPRODUCED');
    expect(directionalPart(spec, pairedTTest(noise, base), 'greater', ALPHA).verdict).toBe('INCONCLUSIVE');
  });
});

describe('equivalencePart', () => {
  const margin = 0.1;
  it('the (1 − 2α) interval inside ±margin → REPRODUCED', () => {
    const part = equivalencePart(spec, tost([0.01, -0.02, 0.0, 0.02, -0.01, 0.01], margin, ALPHA), margin, ALPHA);
    expect(part.verdict).toBe('REPRODUCED');
    expect(part.test).toBe('TOST, margin ±0.1, n = 6');
    expect(part.detail).toMatch(/^TOST p = \S+ < α = 0\.05: the 90 % interval \[\S+, \S+\] lies inside ±0\.1\.$/);
  });

  it('the interval wholly outside the margin → NOT REPRODUCED, on either side', () => {
    const above = equivalencePart(spec, tost([0.3, 0.32, 0.29, 0.31, 0.3], margin, ALPHA), margin, ALPHA);
    expect(above.verdict).toBe('NOT REPRODUCED');
    expect(above.detail).toMatch(/lies wholly outside ±0\.1: the effect is larger than the margin/);
    const below = equivalencePart(spec, tost([-0.3, -0.32, -0.29, -0.31], margin, ALPHA), margin, ALPHA);
    expect(below.verdict).toBe('NOT REPRODUCED');
  });

  it('an interval that straddles the margin, or one too wide to decide → INCONCLUSIVE', () => {
    const straddles = equivalencePart(spec, tost([0.05, 0.15, 0.1, 0.12, 0.08], margin, ALPHA), margin, ALPHA);
    expect(straddles.verdict).toBe('INCONCLUSIVE');
    expect(straddles.detail).toMatch(/reaches past ±0\.1, so equivalence is not shown/);
    // A mean of 0 with a huge spread: "no significant difference" is not equivalence.
    const wide = equivalencePart(spec, tost([1, -1, 1, -1], margin, ALPHA), margin, ALPHA);
    expect(wide.verdict).toBe('INCONCLUSIVE');
    expect(tTest([1, -1, 1, -1]).p).toBe(1); // a t-test sees nothing, and it is still not support
  });
});

const part = (id: string, verdict: Verdict): ClaimPart => ({
  ...directionalPart({ id, claim: 'c', effectLabel: 'e' }, result(1, 0.001), 'greater', ALPHA),
  verdict,
});

describe('verdictFromParts', () => {
  it('REPRODUCED only when every part is', () => {
    expect(verdictFromParts([part('a', 'REPRODUCED'), part('b', 'REPRODUCED')])).toEqual({
      verdict: 'REPRODUCED',
      detail: 'Every part reproduced (2 of 2).',
    });
  });

  it('NOT REPRODUCED when any part is, whatever the others, naming the parts', () => {
    const parts = [part('a', 'REPRODUCED'), part('b', 'NOT REPRODUCED'), part('c', 'INCONCLUSIVE')];
    const { verdict, detail } = verdictFromParts(parts);
    expect(verdict).toBe('NOT REPRODUCED');
    expect(detail).toMatch(/^Not reproduced: b goes against the paper/);
    const both = verdictFromParts([part('a', 'NOT REPRODUCED'), part('b', 'NOT REPRODUCED')]);
    expect(both.detail).toMatch(/a, b go against/);
  });

  it('INCONCLUSIVE when none is against but one is undecided', () => {
    const { verdict, detail } = verdictFromParts([part('a', 'REPRODUCED'), part('b', 'INCONCLUSIVE')]);
    expect(verdict).toBe('INCONCLUSIVE');
    expect(detail).toBe('Inconclusive: b is undecided at α; 1 of 2 part(s) reproduced.');
  });

  it('refuses a preset that judges nothing', () => {
    expect(() => verdictFromParts([])).toThrow(/verdictFromParts: a preset must judge at least one claim part/);
  });
});

// ---- the skeleton -----------------------------------------------------------------------------

interface ToyBudget {
  n: number;
}

const square = ({ x }: { x: number; size: string }) => x * x;
const toyTasks = defineTasks({ square });

/** A toy skeleton preset whose parts' verdicts are given, with a smoke and a full budget only. */
function toy(verdicts: Verdict[], overrides: Partial<PresetDefinition<ToyBudget, number[]>> = {}) {
  return definePreset<ToyBudget, number[]>({
    name: 'toy',
    paper: 'none',
    claim: 'c',
    rule: 'r',
    seeds: [1, 2],
    alpha: ALPHA,
    budgets: { smoke: { n: 2 }, full: { n: 3 } },
    describeBudget: (b, size) => `${b.n} squares at ${size} size.`,
    scaleDown: (size) => `everything is smaller at ${size}`,
    tasks: toyTasks,
    measure: (context) => {
      const inputs = Array.from({ length: context.budget.n }, (_, x) => ({ x, size: context.size }));
      return context.run(toyTasks.square, inputs);
    },
    judge: () => verdicts.map((v, i) => part(`p${i}`, v)),
    plot: (squares) => ({
      numbers: { sum: squares.reduce((a, b) => a + b, 0) },
      plots: [],
      runs: [],
      checks: { ok: true },
    }),
    ...overrides,
  });
}

/** A RunContext that runs tasks in this thread and records what it was asked. */
function context(preset: ReturnType<typeof toy>, size: RunContext['size'], extra: Partial<RunContext> = {}) {
  const calls: string[] = [];
  const ctx: RunContext = {
    size,
    seeds: [7, 8],
    progress: () => {},
    map: <I, O>(task: string, inputs: readonly I[]) => {
      calls.push(task);
      const fn = preset.tasks![task] as unknown as (input: I) => O;
      return Promise.resolve(inputs.map(fn));
    },
    ...extra,
  };
  return { ctx, calls };
}

describe('definePreset', () => {
  it('fills verdict, claims, alpha, budget (with the seeds) and scaleDown from the definition', async () => {
    const preset = toy(['REPRODUCED', 'INCONCLUSIVE']);
    const { ctx, calls } = context(preset, 'full');
    const r = await preset.run(ctx);
    expect(calls).toEqual(['square']);
    expect(r.verdict).toBe('INCONCLUSIVE');
    expect(r.verdictDetail).toBe('Inconclusive: p1 is undecided at α; 1 of 2 part(s) reproduced.');
    expect(r.claims.map((c) => c.id)).toEqual(['p0', 'p1']);
    expect(r.alpha).toBe(ALPHA);
    expect(r.budget).toBe('3 squares at full size. Seeds: 7, 8.');
    expect(r.scaleDown).toBe('everything is smaller at full');
    expect(r.numbers).toEqual({ sum: 0 + 1 + 4 });
    expect(r).toMatchObject({ preset: 'toy', size: 'full', checks: { ok: true } });
  });

  it('a NOT REPRODUCED part makes the preset NOT REPRODUCED', async () => {
    const preset = toy(['REPRODUCED', 'NOT REPRODUCED']);
    expect((await preset.run(context(preset, 'smoke').ctx)).verdict).toBe('NOT REPRODUCED');
  });

  it('refuses a size without a budget before anything runs, naming the preset', async () => {
    const preset = toy(['REPRODUCED']);
    const { ctx, calls } = context(preset, 'paper');
    const error = await Promise.resolve(preset.run(ctx)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SizeUnavailableError);
    expect((error as Error).message).toBe("run: preset 'toy' declares no paper-size configuration");
    expect(calls).toEqual([]);
  });

  it('hands --data and --max-steps to measure, and only when given', async () => {
    const seen: unknown[] = [];
    const preset = toy(['REPRODUCED'], {
      measure: (c) => {
        seen.push({ dataDir: c.dataDir, maxSteps: c.maxSteps, has: 'maxSteps' in c });
        return Promise.resolve([0]);
      },
    });
    await preset.run(context(preset, 'smoke', { dataDir: '/data', maxSteps: 2 }).ctx);
    await preset.run(context(preset, 'smoke').ctx);
    expect(seen).toEqual([
      { dataDir: '/data', maxSteps: 2, has: true },
      { dataDir: undefined, maxSteps: undefined, has: false },
    ]);
  });

  it('names its tasks by their keys, and refuses a handle filed under another name', () => {
    expect(Object.keys(toy(['REPRODUCED']).tasks!)).toEqual(['square']);
    expect(toyTasks.square.name).toBe('square');
    const misfiled = { cube: toyTasks.square };
    const refused = /definePreset 'toy': task 'cube' is the handle of 'square'/;
    expect(() => toy(['REPRODUCED'], { tasks: misfiled })).toThrow(refused);
  });
});

describe('demo-sgd end to end at smoke size (runPresets → results.json → report)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gradscope-claims-'));
    await runPresets({ presets: [demoSgd], size: 'smoke', out: dir });
    await writeReport(dir);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('results.json holds the judged part, the verdict from it, alpha, budget and scaleDown', () => {
    const r = parseResults(readFileSync(join(dir, 'demo-sgd', 'results.json'), 'utf8'));
    const [claim, ...more] = r.result.claims;
    expect(more).toEqual([]);
    expect(claim).toMatchObject({ id: 'larger-lr-lower-loss', alpha: 0.05, n: 3, verdict: 'REPRODUCED' });
    expect(claim!.test).toMatch(/^paired t-test, n = 3, two-sided, H₀: effect = 0, claim: effect > 0$/);
    expect(claim!.p).toBeLessThan(0.05);
    expect(claim!.interval[0]).toBeGreaterThan(0); // REPRODUCED: the 95 % interval lies above 0
    expect(r.result.verdict).toBe('REPRODUCED');
    expect(r.result.verdictDetail).toBe('Every part reproduced (1 of 1).');
    expect(r.result.alpha).toBe(0.05);
    expect(r.result.budget).toBe(
      'Softmax regression on a 128-sample Gaussian mixture (5 features, 3 classes), 6 epochs of batch 16 at each ' +
        'learning rate. Seeds: 1, 2, 3.',
    );
    expect(r.result.scaleDown).toBe('');
    expect(r.maxSteps).toBeUndefined();
    expect(r.dataDir).toBeUndefined();
  });

  it('the report shows the claim table with effect, interval, p, α, n, verdict and test, then the verdict', () => {
    const html = readFileSync(join(dir, 'index.html'), 'utf8');
    const r = parseResults(readFileSync(join(dir, 'demo-sgd', 'results.json'), 'utf8'));
    const c = r.result.claims[0]!;
    const row = /<tr class="part ok" id="part-larger-lr-lower-loss">([\s\S]*?)<\/tr>/.exec(html)?.[1] ?? '';
    expect(row).toContain(String(Number(c.effect.toPrecision(3))));
    expect(row).toContain(`[${Number(c.interval[0].toPrecision(3))}, ${Number(c.interval[1].toPrecision(3))}]`);
    expect(row).toContain('final loss at lr 0.01 − at lr 0.1');
    expect(row).toContain('95 %');
    expect(row).toContain('paired t-test, n = 3');
    expect(row).toMatch(/<td class="num">3<\/td>\n<td><span class="badge ok">REPRODUCED<\/span><\/td>/);
    expect(html.indexOf('class="claims"')).toBeLessThan(html.indexOf('Verdict from the parts'));
    expect(html).toContain('<dd class="budget">Softmax regression on a 128-sample Gaussian mixture');
    expect(html).toMatch(/<td>1 reproduced<\/td>/);
  });

  it('claims.csv holds the same table as data', () => {
    const csv = readFileSync(join(dir, 'demo-sgd', 'claims.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe('id,claim,effect label,effect,interval lower,interval upper,p,alpha,n,verdict,test,detail');
    expect(csv).toHaveLength(2);
    expect(csv[1]).toMatch(/^larger-lr-lower-loss,The larger learning rate ends at a lower training loss\.,/);
    expect(csv[1]).toMatch(/,0\.05,3,REPRODUCED,"paired t-test, n = 3, two-sided, H₀/);
  });
});
