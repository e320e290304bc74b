/**
 * The first stage of a preset: every task its driver plans before it needs an output (stage.ts).
 * `gradscope enqueue` puts these on the queue; later stages (inputs computed from outputs, as
 * lr-batch-ratio's 'line') are enqueued by `gradscope collect` when its driver reaches them.
 */
import type { Preset, Size } from '../preset.js';
import type { RunInputs } from '../runner.js';
import { StageStop, withHoles } from '../stage.js';

/** One task to enqueue. */
export interface PlannedTask {
  task: string;
  input: unknown;
}

/**
 * Run the driver with holes for every output and return the tasks it planned until it stopped;
 * `inputs` (--data, --max-steps) reach the driver as they do in a run.
 */
export async function planFirstStage(
  preset: Preset,
  size: Size,
  seeds: readonly number[],
  inputs: RunInputs = {},
): Promise<PlannedTask[]> {
  const planned: PlannedTask[] = [];
  let stop: StageStop | undefined;
  const touched = (s: StageStop) => {
    stop ??= s;
  };
  try {
    await preset.run({
      size,
      seeds,
      ...inputs,
      progress: () => {},
      map: async <I, O>(task: string, inputs: readonly I[]) => {
        if (stop) throw stop;
        for (const input of inputs) planned.push({ task, input });
        return withHoles(task, new Array<O>(inputs.length), inputs.map(() => false), touched);
      },
    });
  } catch (error) {
    if (!(error instanceof StageStop) && !stop) throw error;
  }
  return planned;
}
