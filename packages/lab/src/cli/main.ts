/**
 * The `gradscope` command. Subcommands:
 *   demo                       train a small model and print what happened (npm start)
 *   oracle <dir> [options]     check gradscope against PyTorch-generated golden values
 *   bench [--json FILE] [--quick] [--only ROWS]  time gradscope against TensorFlow.js (npm run bench)
 *   list                       the experiment presets, one line each
 *   run <preset|tour> [...]    run experiment presets, write results and the report
 *   report <dir>               rebuild the report from saved results.json files
 *   merge <dir>... --out DIR   assemble `run --shard k/N` folders into results and the report
 *   compare A B                whether two results.json files (or out folders) are the same run
 *   enqueue / worker / collect / status --redis URL   a sweep on a Redis queue (BullMQ)
 * and `--version` / `-v`, `--help` / `-h`, `<command> --help`. The usage texts and the shared
 * argument parsing (unknown flags answered with the command's usage) are in commands/usage.ts.
 */
import { readFileSync } from 'node:fs';
import { backendReady, useBackend } from 'gradscope';
import { enableRelaxedSimd } from './engine-flags.js';
import {
  ArgumentError,
  HELP,
  SWEEP_OPTIONS,
  commandUsage,
  isCommand,
  parseCommandArgs,
  wantsHelp,
} from './commands/usage.js';

/** The version in package.json (dist/cli/main.js → ../../package.json), as runner.ts records it. */
function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const print = (line: string) => process.stdout.write(`${line}\n`);
  // Help, the version and unknown commands answer at once: no backend awaited and no command
  // module imported (those load vega, the presets and the datasets: ≈ 0.7 s).
  // `gradscope run --help`, `gradscope run demo-sgd -h`: that command's usage, nothing run.
  if (isCommand(command) && wantsHelp(rest)) {
    process.stdout.write(commandUsage(command));
    return 0;
  }
  switch (command) {
    case undefined:
    case '--help':
    case '-h':
      print(HELP);
      return 0;
    case 'help': {
      // `gradscope help run` = `gradscope run --help`.
      const [topic] = rest;
      if (topic === undefined) print(HELP);
      else if (isCommand(topic)) process.stdout.write(commandUsage(topic));
      else {
        process.stderr.write(`gradscope help: unknown command '${topic}'\n\n${HELP}`);
        return 2;
      }
      return 0;
    }
    case '--version':
    case '-v':
      // The bare version, as `npm --version` and `node --version` print theirs (easy to compare in scripts).
      print(version());
      return 0;
  }
  if (!isCommand(command)) {
    if (command.startsWith('-')) process.stderr.write(`gradscope: unknown option '${command}'\n\n${HELP}`);
    else process.stderr.write(`gradscope: unknown command '${command}'\n\n${HELP}`);
    return 2;
  }
  enableRelaxedSimd();
  // GRADSCOPE_BACKEND=gpu starts loading a backend at import; wait for it (or its error).
  await backendReady();
  // Each command's module is imported once its arguments have parsed.
  switch (command) {
    case 'demo':
      parseCommandArgs('demo', rest, {});
      (await import('../experiments/demo.js')).runDemo(print);
      return 0;
    case 'oracle': {
      const { values, positionals } = parseCommandArgs(
        'oracle',
        rest,
        {
          family: { type: 'string' },
          dtype: { type: 'string', default: 'float64' },
          json: { type: 'string' },
          backend: { type: 'string' },
        },
        { missing: 'expected at most one directory, e.g. gradscope oracle packages/lab/oracle', optional: true },
      );
      if (values.backend) await useBackend(values.backend);
      if (values.dtype !== 'float64' && values.dtype !== 'float32') {
        throw new Error(`oracle: --dtype must be float64 or float32; got '${values.dtype}'`);
      }
      const { oracleCommand, BUNDLED_ORACLE } = await import('./commands/oracle.js');
      return oracleCommand({ dir: positionals[0] ?? BUNDLED_ORACLE, family: values.family, dtype: values.dtype, json: values.json }, print);
    }
    case 'bench': {
      const { values } = parseCommandArgs('bench', rest, {
        json: { type: 'string' },
        quick: { type: 'boolean', default: false },
        only: { type: 'string' },
      });
      const { benchCommand } = await import('./commands/bench.js');
      return benchCommand({ json: values.json, quick: values.quick, only: values.only }, print);
    }
    case 'list':
      parseCommandArgs('list', rest, {});
      return (await import('./commands/list.js')).listCommand(print);
    case 'run': {
      const { values, positionals } = parseCommandArgs(
        'run',
        rest,
        {
          size: { type: 'string' },
          seeds: { type: 'string' },
          out: { type: 'string' },
          quiet: { type: 'boolean', default: false },
          force: { type: 'boolean', default: false },
          workers: { type: 'string' },
          backend: { type: 'string' },
          'task-timeout': { type: 'string' },
          shard: { type: 'string' },
          data: { type: 'string' },
          'max-steps': { type: 'string' },
        },
        { missing: `expected exactly one preset name (or 'tour'), e.g. gradscope run demo-sgd; see gradscope list` },
      );
      const { runCommand } = await import('./commands/run.js');
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
          shard: values.shard,
          data: values.data,
          maxSteps: values['max-steps'],
        },
        print,
      );
    }
    case 'report': {
      const { positionals } = parseCommandArgs('report', rest, {}, { missing: 'expected exactly one directory, e.g. gradscope report results' });
      const { reportCommand } = await import('./commands/report.js');
      return reportCommand(positionals[0]!, print);
    }
    // Sweeps beyond one machine (docs/sweeps.md): shards' merge, and the Redis queue.
    case 'merge': {
      const { values, positionals } = parseCommandArgs('merge', rest, SWEEP_OPTIONS.merge, {
        missing: 'expected the shards\' --out folders, e.g. gradscope merge shard-0 shard-1 shard-2 --out results',
        count: 'many',
      });
      const { mergeCommand } = await import('./commands/merge.js');
      return mergeCommand({ dirs: positionals, ...values }, print);
    }
    case 'compare': {
      const { positionals } = parseCommandArgs('compare', rest, SWEEP_OPTIONS.compare, {
        missing: 'expected two results.json files or two out folders, e.g. gradscope compare results-a results-b',
        count: 2,
      });
      const { compareCommand } = await import('./commands/compare.js');
      return compareCommand(positionals[0]!, positionals[1]!, print);
    }
    case 'enqueue': {
      const { values, positionals } = parseCommandArgs('enqueue', rest, SWEEP_OPTIONS.enqueue, {
        missing: `expected one preset name, 'tour' or a comma-separated list, e.g. gradscope enqueue tour --redis URL`,
      });
      const { enqueueCommand } = await import('./commands/enqueue.js');
      const { 'max-steps': maxSteps, ...named } = values;
      return enqueueCommand({ target: positionals[0]!, ...named, maxSteps }, print);
    }
    case 'worker': {
      const { values } = parseCommandArgs('worker', rest, SWEEP_OPTIONS.worker);
      const { workerCommand } = await import('./commands/worker.js');
      const { redis, concurrency } = values;
      return workerCommand({ redis, concurrency, lockSeconds: values['lock-seconds'] });
    }
    case 'collect': {
      const { values } = parseCommandArgs('collect', rest, SWEEP_OPTIONS.collect);
      const { collectCommand } = await import('./commands/collect.js');
      return collectCommand(values, print);
    }
    case 'status': {
      const { values } = parseCommandArgs('status', rest, SWEEP_OPTIONS.status);
      const { statusCommand } = await import('./commands/status.js');
      return statusCommand(values, print);
    }
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    // A bad argument: its message first, then the usage of the command it was given to.
    if (error instanceof ArgumentError) process.stderr.write(`${error.message}\n\n${commandUsage(error.command)}`);
    else process.stderr.write(`${(error as Error).message}\n`);
    process.exitCode = 2;
  },
);
