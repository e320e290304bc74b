/**
 * Stages: how far a preset's driver gets when some task outputs are not (yet) here.
 *
 * A shard computes only its own tasks, and `gradscope enqueue` computes none; both still run
 * the preset's driver (`Preset.run`) so that it plans its tasks, map call after map call. Their
 * map resolves with an array whose missing outputs are holes: reading one throws StageStop.
 * A driver that only collects its map calls' outputs before looking at them (stability's
 * three grids) thus plans every call; a driver whose next inputs are computed from earlier
 * outputs (lr-batch-ratio's 'line' between two trained solutions) stops where it first reads
 * a hole — the end of the stage that can run without other machines' outputs.
 */

/** Thrown when a driver reads an output that this machine does not have. */
export class StageStop extends Error {
  constructor(
    readonly task: string,
    readonly index: number,
  ) {
    super(`the driver read the output of task '${task}' (input ${index + 1}), which this stage does not have`);
  }
}

/**
 * `outputs` with the entries whose `present[i]` is false replaced by holes that throw
 * StageStop when read (and call `onTouch` first, so a driver that catches the error is still
 * known to have stopped).
 */
export function withHoles<O>(
  task: string,
  outputs: O[],
  present: readonly boolean[],
  onTouch: (stop: StageStop) => void,
): O[] {
  present.forEach((has, i) => {
    if (has) return;
    Object.defineProperty(outputs, i, {
      enumerable: true,
      configurable: false,
      get() {
        const stop = new StageStop(task, i);
        onTouch(stop);
        throw stop;
      },
    });
  });
  return outputs;
}

/**
 * Task i of a preset, counting across its map calls in call order, and the map call it is in:
 * the numbering that shards (i mod N) and the where-it-ran record use.
 */
export interface PlannedCall {
  task: string;
  /** The index of the call's first task among all the preset's tasks. */
  first: number;
  /** taskKey(task, input) of each input, in input order. */
  keys: string[];
}
