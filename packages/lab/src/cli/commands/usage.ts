/**
 * The usage text of every `gradscope` command, and the argument parsing they share.
 *
 * `gradscope --help` prints them all; `gradscope <command> --help` (or `-h`, or
 * `gradscope help <command>`) prints that command's section. An argument the command does not
 * take — an unknown flag, a missing value, a stray positional — is an ArgumentError: main
 * prints its message (naming the argument) first, then the command's usage, and exits 2.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

export const COMMANDS = ['demo', 'oracle', 'bench', 'list', 'run', 'report'] as const;
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
  run: `  gradscope run <preset|tour> [--size smoke|full] [--seeds 1,2,3] [--out DIR] [--backend cpu|wasm|gpu]
                [--workers N] [--task-timeout SECONDS] [--quiet] [--force]
      Run a preset (default --size smoke, the preset's own seeds, --out results) and write
      DIR/<preset>/results.json (configuration, seeds, versions, every measured series), a CSV
      and an SVG per plot, runs.csv, and DIR/index.html: for every preset in DIR the claim, the
      plots, the numbers and a verdict (REPRODUCED, NOT REPRODUCED or INCONCLUSIVE) from the
      preset's pre-declared rule. A preset whose complete results for the same size and seeds
      are already in DIR is skipped (a rerun resumes; --force runs it again). 'tour' runs every
      paper preset at smoke size (npm start runs it). Progress goes to stderr: a bar with ETA
      on a terminal, plain lines otherwise, nothing with --quiet. Files are written
      atomically. --workers N runs a
      preset's independent runs (grid points, seeds) in N worker threads; the results are
      identical to --workers 1. --backend selects the kernels' backend here and in the workers;
      complete results and saved task outputs are reused only from the same backend and
      settings (others are run again). --task-timeout S fails a task that runs longer than S
      seconds, naming it (tasks then run in worker threads, even with --workers 1); a worker
      that exits mid-task fails that task. DIR is locked while a run uses it: a second run on
      it fails naming the first one's pid (a lock left by a killed run is taken over).`,
  report: `  gradscope report <dir>
      Rebuild the CSV files, SVG plots and index.html of <dir> from its results.json files alone.`,
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
   * With `optional`, it may also be left out (at most one).
   */
  positional?: { missing: string; optional?: boolean },
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
  if (positional && !(count === 1 || (count === 0 && positional.optional === true))) {
    const got = parsed.positionals.length === 0 ? 'none' : parsed.positionals.map((p) => `'${p}'`).join(', ');
    throw new ArgumentError(command, `${positional.missing}; got ${got}`);
  }
  return parsed;
}
