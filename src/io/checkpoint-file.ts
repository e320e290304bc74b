/**
 * Training checkpoints on disk: the TrainState of src/optim/train.ts as sealed JSON
 * (sealed-json.ts: a header line with the SHA-256 of the content), written atomically (see
 * atomic.ts). JSON numbers round-trip float64 — and float32 — values exactly, and NaN, ±∞ and
 * −0 are tagged, so a run resumed from a checkpoint continues bit-identically.
 *
 * Reading refuses, naming the file and the field, anything that is not exactly what was
 * written: a changed byte (the checksum), a field of the wrong type or range
 * (optim/train-state.ts). What can only be checked against the model and the run — parameter
 * and buffer sizes, the epoch and step — train() checks when it resumes, and its messages name
 * this file too. Files written before checksums (a bare JSON state) are refused: they cannot be
 * verified.
 */
import type { TrainState } from '../optim/train.js';
import { checkTrainState, describeTrainStateSource } from '../optim/train-state.js';
import { ValueError } from '../tensor/errors.js';
import { writeFileAtomic } from './atomic.js';
import { readBytes } from './model-file.js';
import { openSealedJson, sealJson } from './sealed-json.js';

/** The `format` field of a checkpoint's sealed-JSON header. */
export const CHECKPOINT_FORMAT = 'gradscope-checkpoint';
/** The layout version of a checkpoint; a file of another version is refused. */
export const CHECKPOINT_VERSION = 2;

/**
 * Write a training state to `path` as a sealed, atomically written checkpoint. The state is
 * checked first (a ValueError names the bad field), so nothing is written that
 * `loadCheckpoint` would refuse.
 */
export function saveCheckpoint(path: string, state: TrainState): void {
  // Refuse to write what loadCheckpoint would refuse to read.
  checkTrainState(state, `saveCheckpoint: '${path}'`);
  writeFileAtomic(path, sealJson(CHECKPOINT_FORMAT, CHECKPOINT_VERSION, state), 'saveCheckpoint');
}

/**
 * Read a checkpoint written by `saveCheckpoint` and return its TrainState (pass it to train()
 * to resume bit-identically). Throws a ValueError naming the file, and the field where there is
 * one, for anything but exactly what was written (see the file comment).
 */
export function loadCheckpoint(path: string): TrainState {
  const where = `loadCheckpoint: '${path}'`;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(readBytes('loadCheckpoint', path));
  } catch (e) {
    if (e instanceof TypeError) throw new ValueError(`${where}: not UTF-8 text, so not a gradscope training checkpoint`, { cause: e });
    throw e;
  }
  const state = checkTrainState(openSealedJson(text, CHECKPOINT_FORMAT, CHECKPOINT_VERSION, where), where);
  describeTrainStateSource(state, where);
  return state;
}

/** A `checkpoint` option for train(): save every `every` epochs to `path`. */
export function fileCheckpoint(
  path: string,
  every = 1,
): {
  /** Save after every `every`-th epoch (1: after each). */
  every: number;
  /** Write the state to `path` with saveCheckpoint, replacing the previous checkpoint. */
  save: (state: TrainState) => void;
} {
  return { every, save: (state) => saveCheckpoint(path, state) };
}
