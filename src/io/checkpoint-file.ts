/**
 * Training checkpoints on disk: the TrainState of src/optim/train.ts as JSON, written
 * atomically (see atomic.ts). JSON numbers round-trip float64 — and float32 — values exactly,
 * so a run resumed from a checkpoint continues bit-identically.
 */
import type { TrainState } from '../optim/train.js';
import { ValueError } from '../tensor/errors.js';
import { writeFileAtomic } from './atomic.js';
import { readBytes } from './model-file.js';

export function saveCheckpoint(path: string, state: TrainState): void {
  writeFileAtomic(path, JSON.stringify(state), 'saveCheckpoint');
}

export function loadCheckpoint(path: string): TrainState {
  const text = new TextDecoder().decode(readBytes('loadCheckpoint', path));
  let state: TrainState;
  try {
    state = JSON.parse(text) as TrainState;
  } catch (e) {
    throw new ValueError(`loadCheckpoint: '${path}' is not valid JSON: ${(e as Error).message}`);
  }
  if (state?.format !== 'gradscope-train-state') throw new ValueError(`loadCheckpoint: '${path}' is not a gradscope training checkpoint`);
  return state;
}

/** A `checkpoint` option for train(): save every `every` epochs to `path`. */
export function fileCheckpoint(path: string, every = 1): { every: number; save: (state: TrainState) => void } {
  return { every, save: (state) => saveCheckpoint(path, state) };
}
