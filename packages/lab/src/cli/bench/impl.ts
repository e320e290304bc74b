/**
 * An implementation the benchmark runs: gradscope on its default backend, gradscope on a
 * GPU.js backend, TensorFlow.js on 'cpu' or 'wasm'. Each names itself as it appears in the
 * table and the JSON (`impl`).
 */
import type { Row, RowKind } from './rows.js';
import type { Builders } from './runnable.js';

export interface Impl {
  /**
   * 'gradscope' (the default backend) | 'gradscope-cpu' / 'gradscope-wasm' (the other CPU
   * backends) | 'gradscope-gpujs-<mode>' | 'tfjs-cpu' | 'tfjs-wasm'.
   */
  name: string;
  /**
   * Row kinds this implementation runs. Peers run every row (and report the ones they cannot
   * do); optional extras such as GPU.js run only the kinds listed here.
   */
  kinds?: readonly RowKind[];
  /** Make this implementation's backend current (called before its rows). */
  activate(): Promise<void>;
  /** Settings one row needs and the next must not inherit (gradscope's wasm threads), set before it is built. */
  beforeRow?(row: Row): Promise<void>;
  /** Undo `beforeRow`, after the row ran (or failed). */
  afterRow?(row: Row): Promise<void>;
  builders: Builders;
  /** The name to report, asked while still active after the rows ran (default: `name`). */
  nameAfterRun?(): string;
  /** Live tensors, to catch a row that leaks (tfjs: tf.memory().numTensors). */
  liveTensors?(): number;
}
