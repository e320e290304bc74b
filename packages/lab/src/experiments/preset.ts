/**
 * The contract between the paper presets and the runner / report (issue: experiments).
 *
 * A preset fixes, BEFORE it runs, its seeds, data split, grid and the rule that decides its
 * verdict; it reports every run (diverged ones included) and compares methods with paired
 * seeds. It computes; it never touches the file system or the terminal — the runner writes
 * results.json, CSV files and plots, and the report renders them.
 */

export type Size = 'smoke' | 'full';
export type Verdict = 'REPRODUCED' | 'NOT REPRODUCED' | 'INCONCLUSIVE';

/** One line of a plot: x/y pairs with a label (NaN marks a diverged or missing value). */
export interface Series {
  label: string;
  x: number[];
  y: number[];
}

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

export interface PresetResult {
  preset: string;
  size: Size;
  /** The verdict computed by the preset's pre-declared rule, and the numbers the rule used. */
  verdict: Verdict;
  verdictDetail: string;
  numbers: Record<string, number>;
  plots: Plot[];
  runs: RunRecord[];
  /** Mechanics checks the tests assert (e.g. variance ratio 0 at the first step with locking). */
  checks: Record<string, boolean>;
}

export interface RunContext {
  size: Size;
  seeds: readonly number[];
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
   * The independent units of work (a grid point, a seed) that `context.map` may hand to worker
   * threads. A worker finds them by the preset's name in the registry, so they must be
   * reachable from there — which is why they live on the preset.
   */
  tasks?: Readonly<Record<string, Task>>;
  run(context: RunContext): PresetResult | Promise<PresetResult>;
}
