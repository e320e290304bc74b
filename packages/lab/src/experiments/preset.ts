/**
 * The contract between the paper presets and the runner / report (issue: experiments).
 *
 * A preset fixes, BEFORE it runs, its seeds, data split, grid and the rule that decides its
 * verdict; it reports every run (diverged ones included) and compares methods with paired
 * seeds. It computes; it never touches the file system or the terminal — the runner writes
 * results.json, CSV files and plots, and the report renders them.
 */

/**
 * How big a run is: `smoke` checks mechanics in seconds, `full` is the small-scale reproduction
 * the report's verdicts come from, `paper` the paper's own experiment (declared only where the paper's
 * setup is known, and run where the compute and the data exist).
 */
export type Size = 'smoke' | 'full' | 'paper';

/** One value per run size; `paper` only where the preset declares a paper-scale configuration. */
export interface SizeTable<T> {
  readonly smoke: T;
  readonly full: T;
  readonly paper?: T;
}

/** A size the preset declares no configuration for (`--size paper` where the paper's setup is unknown). */
export class SizeUnavailableError extends Error {}

/** `table[size]`, or a SizeUnavailableError naming the preset when it has no configuration at that size. */
export function atSize<T>(table: SizeTable<T>, size: Size, preset: string): T {
  const value = table[size];
  if (value === undefined) {
    throw new SizeUnavailableError(`run: preset '${preset}' declares no ${size}-size configuration`);
  }
  return value;
}
export type Verdict = 'REPRODUCED' | 'NOT REPRODUCED' | 'INCONCLUSIVE';

/**
 * One series of a plot: x/y pairs with a label (NaN marks a diverged or missing value). `style`
 * 'line' (the default) joins the points, for a mean or one run's curve; 'points' draws them
 * unjoined, for per-seed values (seeds are never joined by a line). `band` is an interval around
 * a line at each x (e.g. the 95 % t-interval of the mean over seeds), drawn shaded.
 */
export interface Series {
  label: string;
  x: number[];
  y: number[];
  style?: 'line' | 'points';
  band?: { lower: number[]; upper: number[] };
}

/** The most series a plot may have: more cannot be told apart (the results are refused). */
export const MAX_SERIES_PER_PLOT = 10;

/** A plot the report draws: labelled axes, a legend from the series labels, optional log scales. */
export interface Plot {
  id: string;
  title: string;
  xLabel: string;
  yLabel: string;
  xLog?: boolean;
  yLog?: boolean;
  series: Series[];
}

/** One run of a grid (a method × seed × hyper-parameter point), diverged or not. */
export interface RunRecord {
  id: string;
  config: Record<string, number | string | boolean>;
  diverged: boolean;
  metrics: Record<string, number>;
}

/**
 * One part of a paper's claim, judged by a statistical test declared before the run
 * (experiments/claims.ts): the effect, its interval, the p-value, the α it is judged at and the
 * part's verdict. The preset's verdict is computed from its parts' verdicts.
 */
export interface ClaimPart {
  /** A short stable key, e.g. 'equal-work'. */
  id: string;
  /** The part of the paper's claim, in one sentence. */
  claim: string;
  /** What the effect is, with its unit, e.g. 'SVRG − SGD final test error (points)'. */
  effectLabel: string;
  /** The test, as declared (its name, n, sidedness; the margin of an equivalence). */
  test: string;
  effect: number;
  /** The (1 − α) interval of the effect ((1 − 2α) for an equivalence test). */
  interval: [number, number];
  /** Two-sided p-value (an equivalence test: the larger of its two one-sided p-values). */
  p: number;
  alpha: number;
  /** Seeds, runs or points the test used. */
  n: number;
  verdict: Verdict;
  /** How the verdict follows from the numbers, in one sentence. */
  detail: string;
}

export interface PresetResult {
  preset: string;
  size: Size;
  /** The verdict, computed from the claim parts' verdicts (claims.ts), and a sentence saying how. */
  verdict: Verdict;
  verdictDetail: string;
  /** Every judged part of the claim, in the order the report's table shows them. */
  claims: ClaimPart[];
  /** The significance level every part is judged at (fixed in the preset). */
  alpha: number;
  /** What this run was: data, models, epochs, seeds, as a sentence or two. */
  budget: string;
  /** What the scale-down changes from the paper's experiment (empty at paper size). */
  scaleDown: string;
  numbers: Record<string, number>;
  plots: Plot[];
  runs: RunRecord[];
  /** Mechanics checks the tests assert (e.g. variance ratio 0 at the first step with locking). */
  checks: Record<string, boolean>;
}

export interface RunContext {
  size: Size;
  seeds: readonly number[];
  /** `--data DIR`: the folder of a dataset that has no npm package (CIFAR-10 at paper size). */
  dataDir?: string;
  /** `--max-steps N`: stop every training run after N steps (tries a configuration; not for verdicts). */
  maxSteps?: number;
  /** Progress: a fraction in [0, 1] and a short message (the runner draws the bar). */
  progress: (fraction: number, message: string) => void;
  /**
   * Run the preset's own `tasks[task]` on every input and resolve with the outputs in input
   * order — in worker threads with `--workers N` (N > 1), in this thread otherwise. Inputs and
   * outputs cross threads by structured clone, so they are plain data (numbers, strings,
   * arrays, objects, typed arrays), and a task's result must depend on its input alone (seeds
   * travel in the input): the outputs are identical whatever the number of workers.
   * `onResult` is called as each task finishes (for progress), in completion order.
   */
  map<I, O>(task: string, inputs: readonly I[], onResult?: (done: number, total: number) => void): Promise<O[]>;
}

/**
 * A task: a pure function of its (structured-cloneable) input, run by `RunContext.map`. Typed
 * with a `never` parameter so that any one-argument function is a Task.
 */
export type Task = (input: never) => unknown;

export interface Preset {
  name: string;
  /** The paper and figure it reproduces, e.g. "Defazio & Bottou 2019, Fig. 2–3". */
  paper: string;
  /** The paper's claim in one sentence. */
  claim: string;
  /** The rule that decides the verdict, stated before running. */
  rule: string;
  /** Default seeds (the runner's --seeds overrides them). */
  seeds: readonly number[];
  /**
   * The sizes it declares a configuration for (default: smoke and full); `gradscope run` refuses
   * another size before anything runs.
   */
  sizes?: readonly Size[];
  /**
   * The independent units of work (a grid point, a seed) that `context.map` may hand to worker
   * threads. A worker finds them by the preset's name in the registry, so they must be
   * reachable from there — which is why they live on the preset.
   */
  tasks?: Readonly<Record<string, Task>>;
  run(context: RunContext): PresetResult | Promise<PresetResult>;
}
