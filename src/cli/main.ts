/**
 * The `gradscope` command. Subcommands:
 *   demo                       train a small model and print what happened (npm start)
 *   oracle <dir> [options]     check gradscope against PyTorch-generated golden values
 *   bench [--json FILE] [--quick]  time gradscope against TensorFlow.js (npm run bench)
 */
import { parseArgs } from 'node:util';
import { runDemo } from '../experiments/demo.js';
import { benchCommand } from './commands/bench.js';
import { oracleCommand } from './commands/oracle.js';
import { backendReady, useBackend } from '../kernels/registry.js';

const HELP = `gradscope — a from-scratch autodiff and tensor engine for looking inside training

Usage:
  gradscope demo
      Train a small network on a synthetic problem and print the loss curve.
  gradscope oracle <dir> [--family NAME] [--dtype float64|float32] [--backend cpu|gpu] [--json FILE]
      Run the golden-value cases in <dir> (ops.json, conv_pool.json, …) and compare every
      value with its tolerance. Prints one line per failed value, a summary per family and,
      last, "N passed, M failed, K skipped". Exits 1 if any case failed. --backend gpu runs
      matmul, convolution and pooling through GPU.js (float32; float64 stays on the CPU).
      GRADSCOPE_BACKEND=cpu|gpu chooses the backend for every command.
  gradscope bench [--json FILE] [--quick]
      Time gradscope against TensorFlow.js (its cpu and wasm backends, devDependencies) in one
      process: matmul, convolution and training-step rows, median of several runs after
      warm-up. Prints milliseconds, GFLOP/s and gradscope's speed-up over each peer, then the
      speed bars as PASS/FAIL. --json writes the results to FILE; --quick runs fewer
      repetitions. Progress goes to stderr.
  gradscope --help
      Show this help.
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
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
        },
      });
      return benchCommand({ json: values.json, quick: values.quick }, print);
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
