/**
 * The `gradscope` command. Subcommands:
 *   demo                       train a small model and print what happened (npm start)
 *   oracle <dir> [options]     check gradscope against PyTorch-generated golden values
 *   bench [--json FILE] [--quick] [--only ROWS]  time gradscope against TensorFlow.js (npm run bench)
 *   list                       the experiment presets, one line each
 *   run <preset|tour> [...]    run experiment presets, write results and the report
 *   report <dir>               rebuild the report from saved results.json files
 */
import { parseArgs } from 'node:util';
import { runDemo } from '../experiments/demo.js';
import { benchCommand } from './commands/bench.js';
import { oracleCommand } from './commands/oracle.js';
import { listCommand } from './commands/list.js';
import { reportCommand } from './commands/report.js';
import { runCommand } from './commands/run.js';
import { backendReady, useBackend } from '../kernels/registry.js';
import { enableRelaxedSimd } from './engine-flags.js';

const HELP = `gradscope — a from-scratch autodiff and tensor engine for looking inside training

Usage:
  gradscope demo
      Train a small network on a synthetic problem and print the loss curve.
  gradscope oracle <dir> [--family NAME] [--dtype float64|float32] [--backend cpu|wasm|gpu] [--json FILE]
      Run the golden-value cases in <dir> (ops.json, conv_pool.json, …) and compare every
      value with its tolerance. Prints one line per failed value, a summary per family and,
      last, "N passed, M failed, K skipped". Exits 1 if any case failed. --backend wasm runs
      float32 matmul and convolution on gradscope's WebAssembly SIMD kernels (the default
      where WebAssembly SIMD exists), --backend cpu on the pure-TypeScript kernels, --backend
      gpu through GPU.js (float32; float64 always stays on the pure-TypeScript kernels).
      GRADSCOPE_BACKEND=cpu|wasm|gpu chooses the backend for every command; GRADSCOPE_WASM=off
      disables the WebAssembly backend; GRADSCOPE_THREADS=2 runs its products on two threads.
  gradscope bench [--json FILE] [--quick] [--only ROWS]
      Time gradscope against TensorFlow.js (its cpu and wasm backends, devDependencies) in one
      process: matmul, convolution and training-step rows, median of several runs after
      warm-up. Prints milliseconds, GFLOP/s and gradscope's speed-up over each peer, then the
      speed bars as PASS/FAIL. --json writes the results to FILE; --quick runs fewer
      repetitions; --only grad-mlp,vmap-grad-mlp runs just those rows (comma-separated names;
      a bar is measured when its row and its baseline are both among them). Progress goes to
      stderr.
  gradscope list
      The experiment presets (paper reproductions), one line each, and 'tour'.
  gradscope run <preset|tour> [--size smoke|full] [--seeds 1,2,3] [--out DIR] [--backend cpu|wasm|gpu]
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
      it fails naming the first one's pid (a lock left by a killed run is taken over).
  gradscope report <dir>
      Rebuild the CSV files, SVG plots and index.html of <dir> from its results.json files alone.
  gradscope --help
      Show this help.
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  enableRelaxedSimd();
  // GRADSCOPE_BACKEND=gpu starts loading a backend at import; wait for it (or its error).
  await backendReady();
  const print = (line: string) => process.stdout.write(`${line}\n`);
  switch (command) {
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      print(HELP);
      return 0;
    case 'demo':
      runDemo(print);
      return 0;
    case 'oracle': {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: {
          family: { type: 'string' },
          dtype: { type: 'string', default: 'float64' },
          json: { type: 'string' },
          backend: { type: 'string' },
        },
      });
      if (positionals.length !== 1) throw new Error('oracle: expected exactly one directory, e.g. gradscope oracle test/oracle');
      if (values.backend) await useBackend(values.backend);
      if (values.dtype !== 'float64' && values.dtype !== 'float32') {
        throw new Error(`oracle: --dtype must be float64 or float32; got '${values.dtype}'`);
      }
      return oracleCommand({ dir: positionals[0]!, family: values.family, dtype: values.dtype, json: values.json }, print);
    }
    case 'bench': {
      const { values } = parseArgs({
        args: rest,
        options: {
          json: { type: 'string' },
          quick: { type: 'boolean', default: false },
          only: { type: 'string' },
        },
      });
      return benchCommand({ json: values.json, quick: values.quick, only: values.only }, print);
    }
    case 'list':
      parseArgs({ args: rest, options: {} });
      return listCommand(print);
    case 'run': {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: {
          size: { type: 'string' },
          seeds: { type: 'string' },
          out: { type: 'string' },
          quiet: { type: 'boolean', default: false },
          force: { type: 'boolean', default: false },
          workers: { type: 'string' },
          backend: { type: 'string' },
          'task-timeout': { type: 'string' },
        },
      });
      if (positionals.length !== 1) throw new Error(`run: expected exactly one preset name (or 'tour'), e.g. gradscope run demo-sgd; see gradscope list`);
      return runCommand(
        {
          target: positionals[0]!,
          size: values.size,
          seeds: values.seeds,
          out: values.out,
          quiet: values.quiet,
          force: values.force,
          workers: values.workers,
          backend: values.backend,
          taskTimeout: values['task-timeout'],
        },
        print,
      );
    }
    case 'report': {
      const { positionals } = parseArgs({ args: rest, allowPositionals: true, options: {} });
      if (positionals.length !== 1) throw new Error('report: expected exactly one directory, e.g. gradscope report results');
      return reportCommand(positionals[0]!, print);
    }
    default:
      process.stderr.write(`gradscope: unknown command '${command}'\n\n${HELP}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exitCode = 2;
  },
);
