/**
 * Issue 14, D1: a training checkpoint resumes exactly what was saved or is refused, naming the
 * file and the field — a changed digit (SHA-256), a NaN written as null, a BatchNorm buffer one
 * value short, a position (epoch, stepInEpoch, step) the run cannot reach. NaN, ±∞ and −0
 * round-trip.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gaussianMixture } from '../../src/data/synthetic.js';
import { CHECKPOINT_FORMAT, CHECKPOINT_VERSION, fileCheckpoint, loadCheckpoint, saveCheckpoint } from '../../src/io/checkpoint-file.js';
import { sealJson } from '../../src/io/sealed-json.js';
import { BatchNorm1d, Linear, Sequential } from '../../src/nn/index.js';
import { schedule, SgdEstimator, SgdUpdate, train, type TrainState } from '../../src/optim/index.js';

const data = gaussianMixture({ n: 48, d: 4, classes: 3, seed: 1 });
const model = (seed = 2) => new Sequential(new Linear(4, 5, { seed, dtype: 'float64' }), new BatchNorm1d(5, { dtype: 'float64' }), new Linear(5, 3, { seed: seed + 1, dtype: 'float64' }));
const options = (epochs: number) => ({ estimator: new SgdEstimator(), update: new SgdUpdate({ momentum: 0.9 }), schedule: schedule(0.1, 16), epochs, seed: 4 });

const dir = mkdtempSync(join(tmpdir(), 'gradscope-ckpt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A checkpoint after 2 of 3 epochs, its path, and the 3-epoch run it must resume to. */
function checkpoint(name: string): { path: string; state: TrainState; full: ReturnType<typeof train> } {
  const path = join(dir, `${name}.json`);
  train(model(), data, { ...options(2), checkpoint: fileCheckpoint(path, 1) });
  return { path, state: loadCheckpoint(path), full: train(model(), data, options(3)) };
}

/** Write `state` as a well-sealed file: only the schema and resume checks can refuse it. */
function reseal(path: string, state: unknown): void {
  writeFileSync(path, sealJson(CHECKPOINT_FORMAT, CHECKPOINT_VERSION, state));
}

const resume = (state: TrainState) => train(model(99), data, { ...options(3), resume: state });

describe('training checkpoints (issue 14, D1)', () => {
  it('a BatchNorm model resumes bit-identically from its checkpoint', () => {
    const { state, full } = checkpoint('ok');
    const resumed = resume(state);
    expect(resumed.state.parameters).toEqual(full.state.parameters);
    expect(resumed.state.buffers).toEqual(full.state.buffers);
    expect(resumed.losses).toEqual(full.losses);
  });

  it('NaN, ±Infinity and −0 round-trip (JSON.stringify would write null and 0)', () => {
    const { path, state } = checkpoint('special');
    const special = structuredClone(state);
    special.parameters[0]!.splice(0, 4, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0);
    saveCheckpoint(path, special);
    const back = loadCheckpoint(path);
    expect(back.parameters[0]!.slice(0, 4)).toEqual([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0]);
    expect(Object.is(back.parameters[0]![3], -0)).toBe(true);
    expect(back).toEqual(special);
  });

  it('one digit changed anywhere in the file is refused, naming the file', () => {
    const { path } = checkpoint('digit');
    const text = readFileSync(path, 'utf8');
    const body = text.indexOf('\n') + 1;
    // The last digit of the first parameter value, well inside the content.
    const at = text.indexOf('"parameters":[[', body) + '"parameters":[['.length;
    const end = text.slice(at).search(/[,\]]/) + at - 1;
    const digit = text[end]!;
    expect(digit).toMatch(/[0-9]/);
    writeFileSync(path, text.slice(0, end) + String((Number(digit) + 1) % 10) + text.slice(end + 1));
    expect(() => loadCheckpoint(path)).toThrow(new RegExp(`loadCheckpoint: '${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}': the content is corrupt`));
  });

  it('a parameter null (a NaN written by JSON.stringify) is refused, never read as 0', () => {
    const { path, state } = checkpoint('null');
    const bad = structuredClone(state) as unknown as { parameters: (number | null)[][] };
    bad.parameters[0]![3] = null;
    reseal(path, bad);
    expect(() => loadCheckpoint(path)).toThrow(/loadCheckpoint: '.*null\.json': field 'parameters\[0\]\[3\]' is null; expected a number/);
    // The same state handed to train() directly is refused too.
    expect(() => resume(bad as unknown as TrainState)).toThrow(/train: resume state: field 'parameters\[0\]\[3\]' is null; expected a number/);
  });

  it('a BatchNorm buffer one value short is refused before anything is restored', () => {
    const { path, state } = checkpoint('short');
    const bad = structuredClone(state);
    const entry = bad.buffers.find(([name]) => name === '1.running_mean')!;
    entry[1].pop();
    reseal(path, bad);
    const m = model(99);
    const before = m.saveStats();
    const params = m.parameters().map((p) => Array.from(p.toTypedArray()));
    expect(() => train(m, data, { ...options(3), resume: loadCheckpoint(path) })).toThrow(
      /loadCheckpoint: '.*short\.json': field 'buffers \('1\.running_mean'\)' has 4 values; the model's buffer has 5/,
    );
    expect(m.saveStats()).toEqual(before);
    expect(m.parameters().map((p) => Array.from(p.toTypedArray()))).toEqual(params);
    // A missing buffer, and a parameter one value short, are refused as well.
    const missing = structuredClone(state);
    missing.buffers = missing.buffers.filter(([name]) => name !== '1.running_var');
    expect(() => resume(missing)).toThrow(/field 'buffers' has no buffer '1\.running_var'/);
    const shortParam = structuredClone(state);
    shortParam.parameters[4]!.pop();
    expect(() => resume(shortParam)).toThrow(/field 'parameters\[4\]' has 14 values; the model's parameter '2\.weight' \[3,5\] has 15/);
  });

  it('a position the run cannot reach is refused: epoch 99, stepInEpoch 1e9, a step that does not match', () => {
    const { path, state } = checkpoint('position');
    reseal(path, { ...state, epoch: 99 });
    expect(() => resume(loadCheckpoint(path))).toThrow(/position\.json': field 'epoch' is 99; this run has 3 epochs/);
    expect(() => resume({ ...state, stepInEpoch: 1e9 })).toThrow(/field 'stepInEpoch' is 1000000000; epoch 2 has 3 steps \(0 to 2\)/);
    expect(() => resume({ ...state, epoch: 3, stepInEpoch: 1 })).toThrow(/field 'stepInEpoch' is 1 at the end of the run/);
    expect(() => resume({ ...state, step: 5, losses: state.losses.slice(0, 5) })).toThrow(/field 'step' is 5; epoch 2, step 0 of this run is global step 6/);
    expect(() => resume({ ...state, losses: state.losses.slice(1) })).toThrow(/field 'losses' has 5 values; a state at step 6 has 6/);
  });

  it('every field is checked on load: types, ranges, unknown fields, old unchecked files', () => {
    const { path, state } = checkpoint('schema');
    const cases: [unknown, RegExp][] = [
      [{ ...state, format: 'x' }, /field 'format' is "x"/],
      [{ ...state, version: 2 }, /field 'version' is 2/],
      [{ ...state, step: -1 }, /field 'step' is -1; expected an integer ≥ 0/],
      [{ ...state, epoch: 1.5 }, /field 'epoch' is 1\.5/],
      [{ ...state, stepInEpoch: '0' }, /field 'stepInEpoch' is "0"/],
      [{ ...state, parameters: {} }, /field 'parameters' is \{\}/],
      [{ ...state, buffers: [['a', [1]], ['a', [1]]] }, /field 'buffers\[1\]' names buffer 'a' a second time/],
      [{ ...state, losses: [...state.losses.slice(1), 'x'] }, /field 'losses\[5\]' is "x"/],
      [{ ...state, update: { buffers: [{ dtype: 'float64', data: [1, null, 2], shape: [3] }] } }, /field 'update\.buffers\[0\]\.data\[1\]' is null/],
      [{ ...state, extra: 1 }, /field 'extra' is not a field of a training state/],
      [{ ...state, parameters: [[{ $number: 'nan' }]] }, /content\.parameters\[0\]\[0\] is \{"\$number":"nan"\}/],
    ];
    for (const [bad, message] of cases) {
      reseal(path, bad);
      expect(() => loadCheckpoint(path), String(message)).toThrow(message);
    }
    // A bare JSON state (the format before checksums) cannot be verified.
    writeFileSync(path, JSON.stringify(state));
    expect(() => loadCheckpoint(path)).toThrow(/schema\.json': not a sealed 'gradscope-checkpoint' file: no header line/);
    writeFileSync(path, Uint8Array.of(0xff, 0xfe, 0x0a));
    expect(() => loadCheckpoint(path)).toThrow(/schema\.json': not UTF-8 text/);
  });
});
