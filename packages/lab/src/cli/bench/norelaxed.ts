/**
 * The -norelaxed rows: what a library user on Node 20 gets. The `gradscope` command turns on
 * V8's --experimental-wasm-relaxed-simd for itself (engine-flags.ts), and a V8 flag cannot be
 * turned off again in a running process, so the bench runs its gradscope rows a second time in
 * a child process: the same command, `bench --only <the same rows> --json FILE`, with
 * GRADSCOPE_RELAXED_SIMD=off (the command leaves the flag alone), GRADSCOPE_BENCH_PEERS=none
 * (gradscope alone) and the flag removed from the child's node options. Its `gradscope` rows
 * come back as `gradscope-norelaxed`; its peak rows keep their kernel's name (f32x4.mul+add).
 *
 * The child runs only where relaxed SIMD came from that flag. Where the engine has it on by
 * default (Node ≥ 22, Chromium) a library user gets the `gradscope` rows themselves; where it
 * is off or missing, the `gradscope` rows already are what a user gets. Either way the log says
 * so and no -norelaxed rows are made.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RELAXED_SIMD_FLAG, relaxedSimdState } from '../engine-flags.js';
import type { Row } from './rows.js';
import type { BenchResult, ResultRow } from './run.js';

/** The impl of gradscope's rows from the child. */
export const NORELAXED_IMPL = 'gradscope-norelaxed';

/** The command the child runs (packages/lab/bin/gradscope.js: from src/ and from dist/ alike). */
const BIN = fileURLToPath(new URL('../../../bin/gradscope.js', import.meta.url));

const withoutFlag = (args: readonly string[]) => args.filter((a) => a !== RELAXED_SIMD_FLAG);

/** Whether relaxed SIMD in this process comes from the flag (ours, or given to node), so a child without it differs. */
export function relaxedFromFlag(): boolean {
  const state = relaxedSimdState();
  if (state === 'flag') return true;
  const options = process.env.NODE_OPTIONS ?? '';
  return state === 'native' && (process.execArgv.includes(RELAXED_SIMD_FLAG) || options.split(/\s+/).includes(RELAXED_SIMD_FLAG));
}

/** Why there are no -norelaxed rows in this run (null: there are). */
export function noRelaxedReason(): string | null {
  if (relaxedFromFlag()) return null;
  switch (relaxedSimdState()) {
    case 'native':
      return 'relaxed SIMD is on by default in this engine, so the gradscope rows are what a library user gets';
    case 'off':
      return 'GRADSCOPE_RELAXED_SIMD=off: the gradscope rows already run without relaxed SIMD';
    default:
      return 'this engine has no relaxed SIMD: the gradscope rows already run without it';
  }
}

/**
 * The child's rows as this run reports them: its gradscope rows as `gradscope-norelaxed`, its
 * peak rows as they are (their impl names the kernel). A child that still had relaxed SIMD
 * (the flag came from somewhere we did not remove it) measured nothing new: its rows are
 * replaced by notes.
 */
export function mergeChildRows(child: BenchResult, rows: readonly Row[]): ResultRow[] {
  if (child.machine.relaxedSimd === 'native' || child.machine.relaxedSimd === 'flag') {
    const note = 'n/a: the child process still had relaxed SIMD';
    return rows.filter((r) => r.kind !== 'peak').map((r) => ({ name: r.name, impl: NORELAXED_IMPL, medianMs: null, gflops: null, note }));
  }
  return child.rows.flatMap((r) => {
    const peak = rows.find((row) => row.name === r.name)?.kind === 'peak';
    if (peak) return [r];
    return r.impl === 'gradscope' ? [{ ...r, impl: NORELAXED_IMPL }] : [];
  });
}

export interface NoRelaxedOptions {
  quick: boolean;
  log: (line: string) => void;
  /** Where the child writes its JSON (default: a temporary folder, removed afterwards). */
  json?: string;
}

/** Run the rows' gradscope part in a child without relaxed SIMD; its rows, or notes saying why there are none. */
export async function runNoRelaxed(rows: readonly Row[], options: NoRelaxedOptions): Promise<ResultRow[]> {
  const { log } = options;
  const reason = noRelaxedReason();
  if (reason !== null) {
    log(`bench: no ${NORELAXED_IMPL} rows: ${reason}`);
    return [];
  }
  const dir = options.json ? null : mkdtempSync(join(tmpdir(), 'gradscope-bench-'));
  const json = options.json ?? join(dir!, 'norelaxed.json');
  const args = [...withoutFlag(process.execArgv), BIN, 'bench', '--only', rows.map((r) => r.name).join(','), ...(options.quick ? ['--quick'] : []), '--json', json];
  const env = {
    ...process.env,
    GRADSCOPE_RELAXED_SIMD: 'off',
    GRADSCOPE_BENCH_PEERS: 'none',
    NODE_OPTIONS: withoutFlag((process.env.NODE_OPTIONS ?? '').split(/\s+/).filter((a) => a !== '')).join(' '),
  };
  log(`bench: ${NORELAXED_IMPL} (the gradscope rows again, in a child process without relaxed SIMD)`);
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
      let pending = '';
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (chunk: string) => {
        const lines = (pending + chunk).split('\n');
        pending = lines.pop()!;
        for (const line of lines) if (line.startsWith('  ')) log(`  [norelaxed]${line}`);
      });
      child.on('error', reject);
      child.on('close', resolve);
    });
    if (code !== 0) throw new Error(`the child process exited with code ${code}`);
    return mergeChildRows(JSON.parse(readFileSync(json, 'utf8')) as BenchResult, rows);
  } catch (error) {
    const note = `error: ${NORELAXED_IMPL}: ${(error as Error).message.split('\n')[0]}`;
    log(`  ${note}`);
    return rows.filter((r) => r.kind !== 'peak').map((r) => ({ name: r.name, impl: NORELAXED_IMPL, medianMs: null, gflops: null, note }));
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}
