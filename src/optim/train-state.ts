/**
 * Checks of a TrainState before a run resumes from it (train.ts), in two parts:
 *
 * - `checkTrainState`: the state on its own — every field has its type and range, so a
 *   checkpoint edited by hand or decoded from a damaged file is refused, naming the field,
 *   instead of resuming to a different model (a parameter `null` read as 0, a `step` that skips
 *   work). loadCheckpoint runs it on every file it reads, saveCheckpoint before it writes.
 * - `checkResumeFits`: the state against the run that resumes it — one value per parameter
 *   element and buffer element, every buffer present, and a position (epoch, stepInEpoch, step)
 *   that this run's epochs and schedule can reach.
 *
 * Pure (no Node): the core must bundle for a browser. Messages start with `where`, which
 * loadCheckpoint sets to the file's path through `describeTrainStateSource`.
 */
import type { Module } from '../nn/module.js';
import { ValueError, formatShape } from '../tensor/errors.js';
import type { TrainState } from './train.js';

const sources = new WeakMap<object, string>();

/** Remember where a state came from (e.g. "loadCheckpoint: 'runs/a.json'"), for resume errors. */
export function describeTrainStateSource(state: TrainState, where: string): void {
  sources.set(state, where);
}

export function trainStateSource(state: TrainState): string {
  return sources.get(state) ?? 'train: resume state';
}

type Fail = (field: string, message: string) => never;

function failer(where: string): Fail {
  return (field, message) => {
    throw new ValueError(`${where}: field '${field}' ${message}`);
  };
}

function describe(v: unknown): string {
  if (v === undefined) return 'missing';
  const s = JSON.stringify(v);
  return `${s !== undefined && s.length > 60 ? `${s.slice(0, 57)}...` : s}`;
}

function count(v: unknown, field: string, fail: Fail): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(field, `is ${describe(v)}; expected an integer ≥ 0`);
  return v as number;
}

function numberList(v: unknown, field: string, fail: Fail): number[] {
  if (!Array.isArray(v)) fail(field, `is ${describe(v)}; expected a list of numbers`);
  (v as unknown[]).forEach((x, i) => {
    // A NaN is stored as a tagged number and decoded to NaN; a bare null is what JSON.stringify
    // made of a NaN somewhere else, and reading it as 0 would resume a different model.
    if (typeof x !== 'number') fail(`${field}[${i}]`, `is ${describe(x)}; expected a number`);
  });
  return v as number[];
}

/**
 * An optimizer's or estimator's own state is checked by its restoreState; here only what no
 * state may hold: a list that mixes numbers with other values (a NaN turned into null).
 */
function checkOpaque(v: unknown, field: string, fail: Fail): void {
  if (v === undefined) fail(field, 'is missing');
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean' || v === null) return;
  if (Array.isArray(v)) {
    if (v.some((x) => typeof x === 'number')) numberList(v, field, fail);
    else v.forEach((x, i) => checkOpaque(x, `${field}[${i}]`, fail));
    return;
  }
  if (typeof v !== 'object' || ArrayBuffer.isView(v)) return;
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) checkOpaque(x, `${field}.${k}`, fail);
}

/** Check every field of a state on its own (see the file comment); returns it typed. */
export function checkTrainState(raw: unknown, where: string): TrainState {
  const fail = failer(where);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ValueError(`${where}: expected a training state object; got ${describe(raw)}`);
  const s = raw as Record<string, unknown>;
  if (s.format !== 'gradscope-train-state') fail('format', `is ${describe(s.format)}; expected 'gradscope-train-state'`);
  if (s.version !== 1) fail('version', `is ${describe(s.version)}; this gradscope reads version 1`);
  const known = new Set(['format', 'version', 'step', 'epoch', 'stepInEpoch', 'parameters', 'buffers', 'update', 'estimator', 'losses']);
  for (const k of Object.keys(s)) if (!known.has(k)) fail(k, 'is not a field of a training state');
  const step = count(s.step, 'step', fail);
  count(s.epoch, 'epoch', fail);
  count(s.stepInEpoch, 'stepInEpoch', fail);
  if (!Array.isArray(s.parameters)) fail('parameters', `is ${describe(s.parameters)}; expected a list of value lists`);
  (s.parameters as unknown[]).forEach((p, k) => numberList(p, `parameters[${k}]`, fail));
  if (!Array.isArray(s.buffers)) fail('buffers', `is ${describe(s.buffers)}; expected a list of [name, values] pairs`);
  const names = new Set<string>();
  (s.buffers as unknown[]).forEach((b, k) => {
    if (!Array.isArray(b) || b.length !== 2 || typeof b[0] !== 'string') fail(`buffers[${k}]`, `is ${describe(b)}; expected a [name, values] pair`);
    const [name, values] = b as [string, unknown];
    if (names.has(name)) fail(`buffers[${k}]`, `names buffer '${name}' a second time`);
    names.add(name);
    numberList(values, `buffers[${k}][1] ('${name}')`, fail);
  });
  checkOpaque(s.update, 'update', fail);
  checkOpaque(s.estimator, 'estimator', fail);
  const losses = numberList(s.losses, 'losses', fail);
  // One minibatch loss is recorded before every step, from the first: a mismatch is a damaged state.
  if (losses.length !== step) fail('losses', `has ${losses.length} values; a state at step ${step} has ${step}`);
  return raw as TrainState;
}

/** What a resuming run can reach: its number of epochs and the steps of each epoch. */
export interface ResumeRun {
  epochs: number;
  stepsInEpoch: (epoch: number) => number;
}

/** Check `state` against the model and the run that resumes from it (see the file comment). */
export function checkResumeFits(state: TrainState, model: Module, run: ResumeRun): void {
  const where = trainStateSource(state);
  checkTrainState(state, where);
  const fail = failer(where);
  const params = model.namedParameters();
  if (state.parameters.length !== params.length) fail('parameters', `has ${state.parameters.length} entries; the model has ${params.length} parameters`);
  state.parameters.forEach((values, k) => {
    const [name, p] = params[k]!;
    if (values.length !== p.size) fail(`parameters[${k}]`, `has ${values.length} values; the model's parameter '${name}' ${formatShape(p.shape)} has ${p.size}`);
  });
  const buffers = model.saveStats();
  const inState = new Map(state.buffers);
  for (const [name, like] of buffers) {
    const values = inState.get(name);
    if (!values) return fail('buffers', `has no buffer '${name}'; the model's buffers are ${[...buffers.keys()].map((n) => `'${n}'`).join(', ')}`);
    if (values.length !== like.length) fail(`buffers ('${name}')`, `has ${values.length} values; the model's buffer has ${like.length}`);
  }
  for (const name of inState.keys()) if (!buffers.has(name)) fail('buffers', `has a buffer '${name}' the model does not`);
  const { epoch, stepInEpoch, step } = state;
  if (epoch > run.epochs) fail('epoch', `is ${epoch}; this run has ${run.epochs} epochs`);
  if (epoch === run.epochs) {
    if (stepInEpoch !== 0) fail('stepInEpoch', `is ${stepInEpoch} at the end of the run (epoch ${epoch} of ${run.epochs}); expected 0`);
  } else {
    const steps = run.stepsInEpoch(epoch);
    if (stepInEpoch >= steps) fail('stepInEpoch', `is ${stepInEpoch}; epoch ${epoch} has ${steps} steps (0 to ${steps - 1})`);
  }
  // The global step keys the batches' randomness (stepSeed), so it must be where the
  // (epoch, stepInEpoch) position says, or the resumed run would draw other dropout masks.
  let expected = stepInEpoch;
  for (let e = 0; e < epoch; e++) expected += run.stepsInEpoch(e);
  if (step !== expected) fail('step', `is ${step}; epoch ${epoch}, step ${stepInEpoch} of this run is global step ${expected}`);
}
