/**
 * The shape every preset shares: plan → measure → judge → plot.
 *
 * - **plan**: the budget for the run's size (`budgets`: smoke, full and, where the paper's setup is
 *   known, paper) and the seeds, fixed before anything runs;
 * - **measure**: the preset plans its tasks (pure functions of plain inputs, `defineTasks`) and runs
 *   them through `context.run`, which may spread them over worker threads, shards or a queue;
 * - **judge**: every part of the paper's claim is a declared statistical test (claims.ts, stats.ts)
 *   at the preset's α; the preset's verdict follows from the parts';
 * - **plot**: the numbers, plots, run records and mechanics checks the report shows.
 *
 * `definePreset` turns such a definition into the `Preset` the runner and the registry know. A new
 * preset is one file with one `definePreset` call, plus one entry in registry.ts
 * (docs/reproductions.md, "Adding a preset").
 */
import { verdictFromParts } from './claims.js';
import {
  atSize,
  type ClaimPart,
  type Plot,
  type Preset,
  type PresetResult,
  type RunContext,
  type RunRecord,
  type Size,
  type SizeTable,
  type Task,
} from './preset.js';

/** A task with its name, so that `context.run(tasks.train, inputs)` is typed by the task itself. */
export interface TaskHandle<I, O> {
  readonly name: string;
  readonly fn: (input: I) => O;
}

type TaskFunctions = Record<string, (input: never) => unknown>;
type Handles<T extends TaskFunctions> = {
  readonly [K in keyof T & string]: TaskHandle<Parameters<T[K]>[0], ReturnType<T[K]>>;
};

/** Named handles for a preset's task functions (the names are the keys). */
export function defineTasks<T extends TaskFunctions>(functions: T): Handles<T> {
  const handles: Record<string, TaskHandle<unknown, unknown>> = {};
  for (const [name, fn] of Object.entries(functions)) handles[name] = { name, fn: fn as (input: unknown) => unknown };
  return handles as Handles<T>;
}

/** What `measure`, `judge` and `plot` are given. */
export interface PresetContext<B> {
  size: Size;
  seeds: readonly number[];
  /** The budget of this size (`budgets[size]`). */
  budget: B;
  /** The preset's significance level. */
  alpha: number;
  /** `--data DIR` (CIFAR-10 at paper size), when given. */
  dataDir?: string;
  /** `--max-steps N`, when given: training runs stop after N steps. */
  maxSteps?: number;
  /** Run one task on every input; progress is reported as `label: done of total`. */
  run<I, O>(task: TaskHandle<I, O>, inputs: readonly I[], label?: string): Promise<O[]>;
  progress(fraction: number, message: string): void;
}

/** What `plot` returns: everything on the report page besides the claim table. */
export interface PresetReport {
  numbers: Record<string, number>;
  plots: Plot[];
  runs: RunRecord[];
  checks: Record<string, boolean>;
}

export interface PresetDefinition<B, M> {
  name: string;
  paper: string;
  claim: string;
  /** The declared tests of the claim parts, in words (shown on the report before any number). */
  rule: string;
  seeds: readonly number[];
  /** The significance level every part is judged at, fixed before the run. */
  alpha: number;
  budgets: SizeTable<B>;
  /** What a run at this budget is (data, models, epochs), for the report. */
  describeBudget(budget: B, size: Size): string;
  /** What the scale-down changes from the paper's experiment at this size ('' at paper size). */
  scaleDown(size: Size): string;
  tasks: Readonly<Record<string, TaskHandle<never, unknown>>>;
  measure(context: PresetContext<B>): Promise<M>;
  judge(measured: M, context: PresetContext<B>): ClaimPart[];
  plot(measured: M, parts: readonly ClaimPart[], context: PresetContext<B>): PresetReport;
}

/** What --data and --max-steps pass on (to a preset's context, to its tasks): the ones given, no undefined keys. */
export function passedOn(from: { readonly dataDir?: string; readonly maxSteps?: number }): {
  dataDir?: string;
  maxSteps?: number;
} {
  return {
    ...(from.dataDir === undefined ? {} : { dataDir: from.dataDir }),
    ...(from.maxSteps === undefined ? {} : { maxSteps: from.maxSteps }),
  };
}

/** The Preset the runner knows, built from a plan → measure → judge → plot definition. */
export function definePreset<B, M>(definition: PresetDefinition<B, M>): Preset {
  const tasks: Record<string, Task> = {};
  for (const [key, handle] of Object.entries(definition.tasks)) {
    if (handle.name !== key) {
      throw new Error(`definePreset '${definition.name}': task '${key}' is the handle of '${handle.name}'`);
    }
    tasks[key] = handle.fn as Task;
  }
  return {
    name: definition.name,
    paper: definition.paper,
    claim: definition.claim,
    rule: definition.rule,
    seeds: definition.seeds,
    sizes: (['smoke', 'full', 'paper'] as const).filter((size) => definition.budgets[size] !== undefined),
    tasks,
    async run(run: RunContext): Promise<PresetResult> {
      const budget = atSize(definition.budgets, run.size, definition.name);
      const context: PresetContext<B> = {
        size: run.size,
        seeds: run.seeds,
        budget,
        alpha: definition.alpha,
        ...passedOn(run),
        progress: run.progress,
        run: <I, O>(task: TaskHandle<I, O>, inputs: readonly I[], label = task.name) =>
          run.map<I, O>(task.name, inputs, (done, total) =>
            run.progress(done / total, `${label}: ${done} of ${total}`),
          ),
      };
      const measured = await definition.measure(context);
      const claims = definition.judge(measured, context);
      const { verdict, detail } = verdictFromParts(claims);
      const report = definition.plot(measured, claims, context);
      run.progress(1, 'done');
      return {
        preset: definition.name,
        size: run.size,
        verdict,
        verdictDetail: detail,
        claims,
        alpha: definition.alpha,
        budget: `${definition.describeBudget(budget, run.size)} Seeds: ${run.seeds.join(', ')}.`,
        scaleDown: definition.scaleDown(run.size),
        ...report,
      };
    },
  };
}
