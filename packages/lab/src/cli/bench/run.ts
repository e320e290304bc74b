/**
 * runBench: the machine's SIMD peak, then every implementation over every row, in one
 * process, timed the same way; then, where this process has relaxed SIMD only because the
 * command turned it on, gradscope's rows again in a child process without it (norelaxed.ts).
 * Implementations run one after another (each activates its backend once); rows that an
 * implementation cannot run are kept in the result with a note, never dropped.
 */
import { cpus } from 'node:os';
import * as gradscope from 'gradscope';
import { relaxedSimdState, type RelaxedSimdState } from '../engine-flags.js';
import { gpujsImpl } from './gpujs.js';
import type { Impl } from './impl.js';
import { runNoRelaxed } from './norelaxed.js';
import { peakRunnable, peakSimdAvailable } from './peak.js';
import { gradscopeImpl, loadJaxjsPeer, loadTfjsPeers, otherCpuBackendImpls } from './peers.js';
import { ROWS, rowFlops, type ImplRow, type PeakRow, type Row } from './rows.js';
import { RowUnavailable, buildRow, type Runnable } from './runnable.js';
import { FULL_PLAN, QUICK_PLAN, measure, type TimingPlan } from './timing.js';

export interface Machine {
  cpus: number;
  model: string;
  node: string;
  platform: string;
  date: string;
  /** The gradscope backend the `gradscope` rows ran on. */
  gradscopeBackend: string;
  /** How this process has relaxed SIMD (engine-flags.ts): 'flag' when the command turned it on. */
  relaxedSimd: RelaxedSimdState;
  tfjs?: string;
  tfjsWasmSimd?: boolean;
  /** The @jax-js/jax version, null when it is not installed. */
  jaxjs?: string | null;
}

export interface ResultRow {
  name: string;
  impl: string;
  /** null when the implementation could not run the row (see `note`). */
  medianMs: number | null;
  gflops: number | null;
  /** Timed runs behind the median (1 with no warm-up: a --quick single cold run). */
  runs?: number;
  warm?: boolean;
  /** Threads it ran on (gradscope's wasm threads, the peak's workers; 1 for the peers). */
  threads?: number;
  note?: string;
}

export interface BenchResult {
  machine: Machine;
  rows: ResultRow[];
}

/**
 * 'backends': gradscope's CPU backends other than the default (gradscope-cpu or gradscope-wasm);
 * 'norelaxed': gradscope's rows again in a child process without relaxed SIMD.
 */
export type PeerName = 'tfjs' | 'jax-js' | 'gpujs' | 'backends' | 'norelaxed';
export const PEER_NAMES: readonly PeerName[] = ['backends', 'tfjs', 'jax-js', 'gpujs', 'norelaxed'];

export interface BenchOptions {
  quick?: boolean;
  /** Default: all of ROWS. */
  rows?: readonly Row[];
  /** Which implementations besides gradscope to run (default all; gpujs only if present). */
  peers?: readonly PeerName[];
  /** Override the timing plan (tests use one run, no warm-up). */
  plan?: TimingPlan;
  /** Progress lines (the CLI sends them to stderr). */
  log?: (line: string) => void;
}

export function machineInfo(): Machine {
  const list = cpus();
  return {
    cpus: list.length,
    model: list[0]?.model.trim() ?? 'unknown',
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    date: new Date().toISOString(),
    gradscopeBackend: gradscope.getBackend().name,
    relaxedSimd: relaxedSimdState(),
  };
}

/**
 * Why an implementation could not run a row, for the table and the JSON: a missing tfjs kernel
 * reads `n/a: no Conv2DBackpropFilter`, a transform jax-js has no rule for `n/a: no vmap rule
 * for pool`, a RowUnavailable `n/a: <its message>`; anything else `error: <first line>`.
 */
export function unavailableNote(error: unknown): string {
  if (error instanceof RowUnavailable) return `n/a: ${error.message}`;
  const message = error instanceof Error ? error.message : String(error);
  const kernel = /Kernel '([^']+)' not registered/.exec(message);
  if (kernel) return `n/a: no ${kernel[1]}`;
  const rule = /^No (\w+) rule for: (\w+)/.exec(message);
  if (rule) return `n/a: no ${rule[1]} rule for ${rule[2]}`;
  return `error: ${message.split('\n')[0]}`;
}

const fmtMs = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));

/** The machine's peak rows (peak.ts), on this thread and on worker threads; the impl names the kernel. */
async function runPeak(row: PeakRow, plan: TimingPlan, log: (line: string) => void): Promise<ResultRow> {
  const base = { name: row.name, threads: row.threads };
  if (!peakSimdAvailable(row.accumulators)) {
    log(`  ${row.name}: n/a: no WebAssembly SIMD`);
    return { ...base, impl: 'wasm', medianMs: null, gflops: null, note: 'n/a: no WebAssembly SIMD' };
  }
  let runnable;
  try {
    runnable = await peakRunnable(row);
  } catch (error) {
    const note = unavailableNote(error);
    log(`  ${row.name}: ${note}`);
    return { ...base, impl: 'wasm', medianMs: null, gflops: null, note };
  }
  try {
    const timing = measure(runnable.run, plan);
    const gflops = rowFlops(row) / (timing.medianMs * 1e6);
    log(`  ${row.name}: ${runnable.kernel}, ${fmtMs(timing.medianMs)} ms, ${gflops.toFixed(2)} GFLOP/s (median of ${timing.samplesMs.length})`);
    return { ...base, impl: runnable.kernel, medianMs: timing.medianMs, gflops, runs: timing.samplesMs.length, warm: timing.warm };
  } catch (error) {
    const note = unavailableNote(error);
    log(`  ${row.name}: ${note}`);
    return { ...base, impl: runnable.kernel, medianMs: null, gflops: null, note };
  } finally {
    runnable.dispose();
  }
}

function runOne(impl: Impl, row: ImplRow, plan: TimingPlan, log: (line: string) => void): ResultRow {
  const before = impl.liveTensors?.();
  const threads = impl.threads?.(row) ?? 1;
  let runnable: Runnable;
  try {
    runnable = buildRow(impl.builders, row);
  } catch (error) {
    return { name: row.name, impl: impl.name, medianMs: null, gflops: null, note: unavailableNote(error) };
  }
  let outcome: ResultRow;
  try {
    const timing = measure(runnable.run, plan);
    const gflops = rowFlops(row) / (timing.medianMs * 1e6);
    log(`  ${row.name}: ${fmtMs(timing.medianMs)} ms, ${gflops.toFixed(2)} GFLOP/s (median of ${timing.samplesMs.length}${timing.warm ? '' : ', no warm-up'})`);
    outcome = { name: row.name, impl: impl.name, medianMs: timing.medianMs, gflops, runs: timing.samplesMs.length, warm: timing.warm, threads };
  } catch (error) {
    const note = unavailableNote(error);
    log(`  ${row.name}: ${note}`);
    outcome = { name: row.name, impl: impl.name, medianMs: null, gflops: null, note };
  }
  runnable.dispose();
  // A leak only matters for rows that ran (a peer failing mid-step may strand a few tensors).
  const after = impl.liveTensors?.();
  if (outcome.medianMs !== null && before !== undefined && after !== undefined && after > before) {
    log(`  warning: ${impl.name} ${row.name} left ${after - before} tensors alive`);
  }
  return outcome;
}

export async function runBench(options: BenchOptions = {}): Promise<BenchResult> {
  const log = options.log ?? (() => {});
  const rows = options.rows ?? ROWS;
  const peers = options.peers ?? PEER_NAMES;
  const plan = options.plan ?? (options.quick ? QUICK_PLAN : FULL_PLAN);
  // Where GRADSCOPE_BACKEND picks a lazily loaded backend, wait for it.
  await gradscope.backendReady();
  const machine = machineInfo();

  const impls: Impl[] = [gradscopeImpl()];
  if (peers.includes('backends')) impls.push(...otherCpuBackendImpls());
  if (peers.includes('gpujs')) {
    let reason = 'gradscope has no GPU.js backend';
    const gpu = await gpujsImpl((why) => (reason = `the GPU.js backend did not start: ${why}`));
    if (gpu) impls.push(gpu);
    else log(`bench: ${reason}; skipping the gradscope-gpujs rows`);
  }
  if (peers.includes('tfjs')) {
    const tfjs = await loadTfjsPeers();
    impls.push(...tfjs.impls);
    machine.tfjs = tfjs.version;
    machine.tfjsWasmSimd = tfjs.wasmSimd;
  }
  if (peers.includes('jax-js')) {
    const jax = await loadJaxjsPeer();
    impls.push(jax.impl);
    machine.jaxjs = jax.version;
  }

  const results: ResultRow[] = [];
  // The machine's limit first, on a process that has not yet started any other threads.
  const peakRows = rows.filter((r): r is PeakRow => r.kind === 'peak');
  if (peakRows.length > 0) log(`bench: the machine's WebAssembly SIMD peak (${peakRows.length} row${peakRows.length === 1 ? '' : 's'})`);
  for (const row of peakRows) results.push(await runPeak(row, plan, log));

  const implRows = rows.filter((r): r is ImplRow => r.kind !== 'peak');
  for (const impl of impls) {
    const mine = implRows.filter((r) => !impl.kinds || impl.kinds.includes(r.kind));
    log(`bench: ${impl.name} (${mine.length} row${mine.length === 1 ? '' : 's'})`);
    let done: ResultRow[];
    try {
      await impl.activate();
      done = [];
      for (const row of mine) {
        await impl.beforeRow?.(row);
        try {
          done.push(runOne(impl, row, plan, log));
        } finally {
          await impl.afterRow?.(row);
        }
      }
    } catch (error) {
      // The backend did not start: every row of it is reported, with the reason.
      const note = unavailableNote(error);
      log(`  ${note}`);
      done = mine.map((row) => ({ name: row.name, impl: impl.name, medianMs: null, gflops: null, note }));
    }
    const name = impl.nameAfterRun?.() ?? impl.name;
    results.push(...done.map((r) => ({ ...r, impl: name })));
    // gradscope's rows without relaxed SIMD, right after its own rows (same machine load).
    if (impl === impls[0] && peers.includes('norelaxed')) {
      results.push(...(await runNoRelaxed(rows, { quick: options.quick ?? false, log })));
    }
  }
  // gradscope's default backend is current again for whatever runs next.
  await impls[0]!.activate();

  // Row order; the sort is stable, so implementations keep the order they ran in.
  const position = new Map(rows.map((row, i) => [row.name, i]));
  results.sort((a, b) => position.get(a.name)! - position.get(b.name)!);
  return { machine, rows: results };
}
