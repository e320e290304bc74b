/**
 * Toy presets for the sweep tests (issue 20), run in this thread: 'toy-stages' has a grid
 * stage of 7 tasks, then a dependent stage (one task whose input is computed from the grid's
 * outputs, as lr-batch-ratio's 'line'); 'toy-calls' has three independent map calls awaited in
 * turn before any output is read (as stability's grids). Outputs include NaN, −0 and a typed
 * array, which must cross shards and merge exactly.
 */
import type { Preset, PresetResult, RunContext } from '../../packages/lab/src/experiments/preset.js';

function result(name: string, ctx: RunContext, numbers: Record<string, number>, values: number[]): PresetResult {
  return {
    preset: name,
    size: ctx.size,
    verdict: 'INCONCLUSIVE',
    verdictDetail: 'a toy',
    claims: [],
    alpha: 0.05,
    budget: 'toy',
    scaleDown: '',
    numbers,
    plots: [
      {
        id: 'values',
        title: 't',
        xLabel: 'i',
        yLabel: 'v',
        series: [{ label: 'v', x: values.map((_, i) => i), y: values }],
      },
    ],
    runs: values.map((v, i) => ({
      id: `run-${i}`,
      config: { seed: ctx.seeds[0]!, i },
      diverged: Number.isNaN(v),
      metrics: { v },
    })),
    checks: {},
  };
}

export interface Toys {
  stages: Preset;
  calls: Preset;
  /** Every task call, "task:input", in the order they ran. */
  log: string[];
}

/** Fresh toy presets; `grid` is the grid stage's inputs (default 0..6). */
export function toys(grid: number[] = [0, 1, 2, 3, 4, 5, 6]): Toys {
  const log: string[] = [];
  const square = (x: { x: number; seed: number }) => {
    log.push(`square:${x.x}`);
    const y = x.x === 3 ? Number.NaN : x.x === 0 ? -0 : x.x * x.x + x.seed / 7;
    return { y, w: new Float32Array([x.x, 0.1 * x.x]) };
  };
  const stages: Preset = {
    name: 'toy-stages',
    paper: 'none',
    claim: 'c',
    rule: 'r',
    seeds: [1],
    tasks: {
      square,
      line: (x: { a: number; b: number }) => {
        log.push(`line:${x.a},${x.b}`);
        return { between: (x.a + x.b) / 3 };
      },
    },
    async run(ctx) {
      const out = await ctx.map<{ x: number; seed: number }, { y: number; w: Float32Array }>(
        'square',
        grid.map((x) => ({ x, seed: ctx.seeds[0]! })),
      );
      const finite = out.filter((o) => Number.isFinite(o.y));
      // The dependent stage: its input is made of the grid's outputs.
      const ends = [{ a: finite[1]!.y, b: finite.at(-1)!.w[1]! }];
      const [line] = await ctx.map<{ a: number; b: number }, { between: number }>('line', ends);
      return result('toy-stages', ctx, { between: line!.between, zero: out[0]!.y }, out.map((o) => o.y));
    },
  };
  const calls: Preset = {
    name: 'toy-calls',
    paper: 'none',
    claim: 'c',
    rule: 'r',
    seeds: [2],
    tasks: {
      a: (x: number) => (log.push(`a:${x}`), x + 0.5),
      b: (x: number) => (log.push(`b:${x}`), x * 3.25),
      c: (x: number) => (log.push(`c:${x}`), -x / 3),
    },
    async run(ctx) {
      const a = await ctx.map<number, number>('a', [1, 2, 3, 4]);
      const b = await ctx.map<number, number>('b', [5, 6]);
      const c = await ctx.map<number, number>('c', [7, 8, 9]);
      return result('toy-calls', ctx, { a: a[0]!, c: c[2]! }, [...a, ...b, ...c]);
    },
  };
  return { stages, calls, log };
}
