/**
 * An implementation the benchmark runs: gradscope on its default backend, gradscope on a
 * GPU.js backend, TensorFlow.js on 'cpu' or 'wasm', jax-js on 'wasm'. Each names itself as it
 * appears in the table and the JSON (`impl`). (The peak rows are the machine's, not an
 * implementation's: peak.ts; the -norelaxed lines come from a child process: norelaxed.ts.)
 */
import type { ImplRow, ImplRowKind } from './rows.js';
import type { Builders } from './runnable.js';

export interface Impl {
  /**
   * 'gradscope' (the default backend) | 'gradscope-cpu' / 'gradscope-wasm' (the other CPU
   * backends) | 'gradscope-gpujs-<mode>' | 'tfjs-cpu' | 'tfjs-wasm' | 'jax-js'.
   */
  name: string;
  /**
   * Row kinds this implementation runs. Peers run every row (and report the ones they cannot
   * do); optional extras such as GPU.js run only the kinds listed here.
   */
  kinds?: readonly ImplRowKind[];
  /** Make this implementation's backend current (called before its rows). */
  activate(): Promise<void>;
  /** Settings one row needs and the next must not inherit (gradscope's wasm threads), set before it is built. */
  beforeRow?(row: ImplRow): Promise<void>;
  /** Undo `beforeRow`, after the row ran (or failed). */
  afterRow?(row: ImplRow): Promise<void>;
  builders: Builders;
  /** The name to report, asked while still active after the rows ran (default: `name`). */
  nameAfterRun?(): string;
  /** Threads the row ran on, asked after `beforeRow` (default 1). */
  threads?(row: ImplRow): number;
  /** Live tensors, to catch a row that leaks (tfjs: tf.memory().numTensors). */
  liveTensors?(): number;
}
