/**
 * The usage text of every `gradscope` command, and the argument parsing they share.
 *
 * `gradscope --help` prints them all; `gradscope <command> --help` (or `-h`, or
 * `gradscope help <command>`) prints that command's section. An argument the command does not
 * take — an unknown flag, a missing value, a stray positional — is an ArgumentError: main
 * prints its message (naming the argument) first, then the command's usage, and exits 2.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

export const COMMANDS = [
  'demo',
  'oracle',
  'bench',
  'list',
  'run',
  'report',
  // Sweeps beyond one machine (docs/sweeps.md).
  'merge',
  'compare',
  'enqueue',
  'worker',
  'collect',
  'status',
] as const;
export type CommandName = (typeof COMMANDS)[number];

export function isCommand(name: string | undefined): name is CommandName {
  return (COMMANDS as readonly string[]).includes(name ?? '');
}

const USAGE = {
  demo: `  gradscope demo
      Train a small network on a synthetic problem and print the loss curve.`,
  oracle: `  gradscope oracle [dir] [--family NAME] [--dtype float64|float32] [--backend cpu|wasm|gpu] [--json FILE]
      Run the golden-value cases in [dir] (ops.json, conv_pool.json, …; default: the PyTorch
      golden values that ship with this package, in its oracle/ folder) and compare every
      value with its tolerance. Prints one line per failed value, a summary per family and,
      last, "N passed, M failed, K skipped". Exits 1 if any case failed. --backend wasm runs
      float32 matmul and convolution on gradscope's WebAssembly SIMD kernels (the default
      where WebAssembly SIMD exists), --backend cpu on the pure-TypeScript kernels, --backend
      gpu through GPU.js (float32; float64 always stays on the pure-TypeScript kernels).
      GRADSCOPE_BACKEND=cpu|wasm|gpu chooses the backend for every command; GRADSCOPE_WASM=off
      disables the WebAssembly backend; GRADSCOPE_THREADS=2 runs its products on two threads.`,
  bench: `  gradscope bench [--json FILE] [--quick] [--only ROWS]
      Measure the machine's WebAssembly SIMD peak (peak-simd128, one thread and two), then
      time gradscope against TensorFlow.js (its cpu and wasm backends) and jax-js (optional
      peers) in one process: matmul, convolution, training-step and gradient rows, median of
      several runs after warm-up; then gradscope's rows again in a child process without
      relaxed SIMD (gradscope-norelaxed: what a library user on Node 20 gets). Prints
      milliseconds, GFLOP/s, % of the peak and gradscope's speed-up over each peer, then the
      bars as PASS/FAIL. --json writes the results to FILE; --quick runs fewer repetitions;
      --only grad-mlp,vmap-grad-mlp runs just those rows and the peak rows (comma-separated
      names; a bar is measured when its row and its baseline are both among them). Progress
      goes to stderr. GRADSCOPE_BENCH_PEERS=tfjs,jax-js,backends,gpujs,norelaxed (or none)
      limits what runs besides gradscope; GRADSCOPE_RELAXED_SIMD=off leaves relaxed SIMD off
      (for any command).`,
  list: `  gradscope list
      The experiment presets (paper reproductions), one line each, and 'tour'.`,
  run: `  gradscope run <preset|tour> [--size smoke|full|paper] [--seeds 1,2,3] [--out DIR] [--data DIR]
                [--max-steps N] [--backend cpu|wasm|gpu] [--workers N] [--task-timeout SECONDS]
                [--shard k/N] [--quiet] [--force]
      Run a preset (default --size smoke, the preset's own seeds, --out results) and write
      DIR/<preset>/results.json (configuration, seeds, versions, every measured series, the
      claim parts), a CSV and an SVG per plot, runs.csv, claims.csv and DIR/index.html: for
      every preset in DIR the claim, a table of its parts (each judged by a statistical test
      declared before the run: effect, interval, p, verdict), the verdict from the parts
      (REPRODUCED, NOT REPRODUCED or INCONCLUSIVE), the plots and the numbers. A preset whose
      complete results for the same size and seeds are already in DIR is skipped (a rerun
      resumes; --force runs it again). 'tour' runs every paper preset at smoke size (npm start
      runs it). Progress goes to stderr: a bar with ETA on a terminal, plain lines otherwise,
      nothing with --quiet. Files are written atomically. --workers N runs a preset's
      independent runs (grid points, seeds) in N worker threads; the results are identical to
      --workers 1. --backend selects the kernels' backend here and in the workers; complete
      results and saved task outputs are reused only from the same backend and settings
      (others are run again). --task-timeout S fails a task that runs longer than S seconds,
      naming it (tasks then run in worker threads, even with --workers 1); a worker that exits
      mid-task fails that task. DIR is locked while a run uses it: a second run on it fails
      naming the first one's pid (a lock left by a killed run is taken over).
      --size smoke checks the mechanics in seconds; full is the scaled-down reproduction the
      verdicts come from; paper is the paper's own experiment, for presets that declare one
      (others fail, naming the preset; 'tour' is smoke only). --data DIR is the folder of a
      dataset without an npm package (CIFAR-10 for paper size: the binary version's
      data_batch_1.bin … data_batch_5.bin and test_batch.bin); it must be a directory.
      --max-steps N stops every training run after N steps, to try a configuration: its
      verdicts are not the preset's. results.json records both flags, and results are reused
      only for the same --data and --max-steps.
      --shard k/N runs only shard k of N (k from 0 to N-1, as SLURM_ARRAY_TASK_ID with
      --array=0-(N-1) and JOB_COMPLETION_INDEX count): task i of each preset (counting across
      its stages) when i mod N = k. It writes task outputs and DIR/<preset>/shard.json, not
      results.json, and stops a preset at a stage that needs other shards' outputs; gradscope
      merge assembles the shards (docs/sweeps.md).`,
  report: `  gradscope report <dir>
      Rebuild the CSV files, SVG plots and index.html of <dir> from its results.json files alone.`,
  merge: `  gradscope merge <dir>... [--out DIR] [--workers N] [--backend cpu|wasm|gpu] [--force] [--quiet]
      Assemble the shards in the <dir> folders (the --out folders of 'run --shard k/N')
      into DIR/<preset>/results.json and DIR's report (default --out results), the same as one
      machine's run. Refuses, naming the shard folders and the field, when a preset's N shards
      are not all there (the same N, each k once) or disagree on size, seeds, engine settings,
      gradscope version or planned tasks, and when a task a shard planned is missing from its
      folder. Stages no shard could reach (inputs from other shards' outputs) run here.`,
  compare: `  gradscope compare <A> <B>
      Compare two results.json files, or two out folders preset by preset, ignoring the date,
      durationSeconds and where each task ran (placement). Exit 0 when they are the same run,
      1 with the first difference named otherwise.`,
  enqueue: `  gradscope enqueue <preset|tour|p1,p2,...> --redis URL [--size smoke|full|paper] [--seeds 1,2,3]
                    [--data DIR] [--max-steps N] [--backend cpu|wasm|gpu] [--sweep NAME]
      Record a sweep of the presets (one, 'tour', or a comma-separated list) on the Redis
      server at URL and put each preset's first stage of tasks on
      the BullMQ queue 'gradscope-tasks' (3 attempts, exponential backoff); print the sweep's
      name (default: the target, the size and a hash of the settings). Enqueueing it again
      adds nothing. --size, --seeds, --data and --max-steps are as for run; --data is recorded
      as an absolute path, which every worker must have.`,
  worker: `  gradscope worker --redis URL [--concurrency N] [--lock-seconds S]
      Run the queue's tasks, N at a time in worker threads (default 1), until SIGTERM or SIGINT
      (the running tasks finish first). A job whose sweep was enqueued with other engine
      settings is refused, naming both. A worker killed outright leaves its jobs locked for S
      seconds (default 30, BullMQ's lock duration), then another worker's stalled-job check
      puts them back on the queue. The backend: GRADSCOPE_BACKEND (as the sweep's).`,
  collect: `  gradscope collect --redis URL [--out DIR] [--sweep NAME] [--force] [--quiet]
      Drive every preset of the sweep (default: the latest recorded) on the queue, enqueueing
      the stages enqueue could not plan as they are reached, wait for the workers' results and
      write DIR/<preset>/results.json and DIR's report exactly as a one-machine run (default
      --out results). A task that failed after its attempts fails the collect, naming it and
      the worker's message.`,
  status: `  gradscope status --redis URL [--sweep NAME] [--json]
      The sweep's tasks done, running, waiting and failed, the workers connected and an ETA
      from the mean task duration; --json prints one JSON object.`,
} satisfies Record<CommandName, string>;

const GENERAL = `  gradscope <command> --help, -h
      Show that command's usage.
  gradscope --version, -v
      Print gradscope's version.
  gradscope --help, -h
      Show this help.`;

export const HELP = `gradscope — a from-scratch autodiff and tensor engine for looking inside training

Usage:
${COMMANDS.map((c) => USAGE[c]).join('\n')}
${GENERAL}
`;

/**
 * The flags of the sweep commands (merge, compare, enqueue, worker, collect, status), shared by
 * main and by the tests that check the examples' command lines (examples/slurm, examples/k8s).
 */
export const SWEEP_OPTIONS = {
  merge: {
    out: { type: 'string' },
    workers: { type: 'string' },
    backend: { type: 'string' },
    force: { type: 'boolean', default: false },
    quiet: { type: 'boolean', default: false },
  },
  compare: {},
  enqueue: {
    redis: { type: 'string' },
    size: { type: 'string' },
    seeds: { type: 'string' },
    data: { type: 'string' },
    'max-steps': { type: 'string' },
    backend: { type: 'string' },
    sweep: { type: 'string' },
  },
  worker: {
    redis: { type: 'string' },
    concurrency: { type: 'string' },
    'lock-seconds': { type: 'string' },
  },
  collect: {
    redis: { type: 'string' },
    out: { type: 'string' },
    sweep: { type: 'string' },
    force: { type: 'boolean', default: false },
    quiet: { type: 'boolean', default: false },
  },
  status: {
    redis: { type: 'string' },
    sweep: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
} as const satisfies Record<string, NonNullable<ParseArgsConfig['options']>>;

/** One command's section, as `gradscope <command> --help` prints it. */
export function commandUsage(command: CommandName): string {
  return `Usage:\n${USAGE[command]}\n\nSee gradscope --help for every command.\n`;
}

/** An argument the command does not take; main answers it with the command's usage (exit 2). */
export class ArgumentError extends Error {
  constructor(
    readonly command: CommandName,
    message: string,
  ) {
    super(`gradscope ${command}: ${message}`);
  }
}

/** Whether args ask for help: `--help` or `-h` before any `--`. */
export function wantsHelp(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

// node:util's messages, reworded to name the argument first; anything else is passed on whole.
function reword(error: Error & { code?: string }): string {
  const quoted = /'([^']*)'/.exec(error.message)?.[1];
  switch (error.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option '${quoted}'`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument '${quoted}' (this command takes none)`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      // "Option '--out <value>' argument missing", "… argument is ambiguous …", "Option '--quiet' does not take an argument"
      const flag = quoted?.split(' ')[0];
      if (/does not take an argument/.test(error.message)) return `option '${flag}' takes no value`;
      if (/ambiguous/.test(error.message)) return `option '${flag}' needs a value; write ${flag}=VALUE for a value that starts with '-'`;
      return `option '${flag}' needs a value`;
    }
    default:
      return error.message;
  }
}

type ParsedArgs<O extends NonNullable<ParseArgsConfig['options']>> = ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: boolean; strict: true }>>;

/** parseArgs in strict mode, its errors turned into ArgumentErrors naming the argument. */
export function parseCommandArgs<O extends NonNullable<ParseArgsConfig['options']>>(
  command: CommandName,
  args: string[],
  options: O,
  /**
   * The command takes one positional; `missing` says so, e.g. "expected exactly one directory".
   * With `optional`, it may also be left out (at most one). `count`: exactly that many
   * positionals instead of one, or 'many': one or more.
   */
  positional?: { missing: string; optional?: boolean; count?: number | 'many' },
): ParsedArgs<O> {
  let parsed: ParsedArgs<O>;
  try {
    parsed = parseArgs({ args, options, allowPositionals: positional !== undefined, strict: true });
  } catch (e) {
    const error = e as Error & { code?: string };
    if (typeof error.code === 'string' && error.code.startsWith('ERR_PARSE_ARGS_')) throw new ArgumentError(command, reword(error));
    throw e;
  }
  const count = parsed.positionals.length;
  const wanted = positional?.count ?? 1;
  const fits = wanted === 'many' ? count >= 1 : count === wanted || (count === 0 && positional?.optional === true);
  if (positional && !fits) {
    const got = parsed.positionals.length === 0 ? 'none' : parsed.positionals.map((p) => `'${p}'`).join(', ');
    throw new ArgumentError(command, `${positional.missing}; got ${got}`);
  }
  return parsed;
}
