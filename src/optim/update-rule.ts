/**
 * What the per-parameter update rules (Adam, AdamW, RMSprop, Adagrad) share: PyTorch's
 * optimizer state layout, its checks, and its checkpoint form.
 *
 * PyTorch keeps one state record per parameter, `optimizer.state[p] = { step, exp_avg, … }`,
 * created at the parameter's first step. So does {@link PerParameterUpdate}: the record of
 * parameter k holds its step count t and its named tensors (same shape and dtype as the
 * parameter), under PyTorch's names. A step on direction g (the estimator's output, a gradient
 * in plain training) does, for each parameter p in `model.parameters()` order:
 *
 *   t ← t + 1;   the rule's own formula changes the state tensors and p, in place, under noGrad
 *
 * The saved form is plain JSON, `{ rule, hyper, state }`: `state[k]` is `{ step, <name>: tensor }`
 * with each tensor as `{ dtype, shape, data }` (numbers, so float32 and float64 values round-trip
 * exactly and a resumed run continues bit for bit). Restoring refuses, naming the parameter
 * and the entry, anything that does not fit: another rule, other hyper-parameters (the resumed
 * steps would differ), a missing or unknown state name, and, when the parameters are given,
 * another number of parameters, shape or dtype. Nothing is changed when it refuses.
 */
import { noGrad } from '../autograd/mode.js';
import { tensor } from '../tensor/creation.js';
import { shapesEqual } from '../tensor/shape.js';
import { ValueError, describeValue, formatShape } from '../tensor/errors.js';
import { Tensor } from '../tensor/tensor.js';
import type { UpdateRule } from './estimator.js';
import { untracked } from '../tensor/tidy.js';

/** A tensor as plain JSON: dtype, shape and the row-major values as numbers. */
export interface SavedTensor {
  /** 'float32' or 'float64', restored exactly. */
  dtype: 'float32' | 'float64';
  /** The tensor's shape. */
  shape: number[];
  /** The elements, row-major (length = product of `shape`). */
  data: number[];
}

/** The saved state of one parameter: its step count and its named tensors (PyTorch's names). */
export type SavedParameterState = {
  /** Steps taken by this parameter (PyTorch's `state['step']`). */
  step: number;
} & Record<string, number | SavedTensor>;

/** What {@link PerParameterUpdate.saveState} returns (see the file comment). */
export interface SavedUpdateState {
  /** The rule's name, e.g. 'adam'; another rule's state is refused. */
  rule: string;
  /** The hyper-parameters that shape the state and the steps (the learning rate excluded: the schedule gives it). */
  hyper: Record<string, number | boolean | number[]>;
  /** One record per parameter, or null before the first step. */
  state: SavedParameterState[] | null;
}

/** The live state of one parameter: its step count and its named tensors. */
export interface ParameterState {
  /** Steps taken by this parameter (PyTorch's `state['step']`). */
  step: number;
  /** The rule's tensors, e.g. `exp_avg`, each of the parameter's shape and dtype. */
  tensors: Record<string, Tensor>;
}

/** `t` as a SavedTensor (a contiguous copy of its values). */
export function saveTensor(t: Tensor): SavedTensor {
  return { dtype: t.dtype as 'float32' | 'float64', shape: [...t.shape], data: Array.from(t.contiguous().toTypedArray()) };
}

/** The tensor a SavedTensor describes; throws ValueError (starting with `where`) when it is not one. */
export function restoreTensor(saved: unknown, where: string): Tensor {
  const s = saved as Partial<SavedTensor> | null;
  if (typeof s !== 'object' || s === null || Array.isArray(s)) throw new ValueError(`${where} is ${describeValue(saved)}; expected a saved tensor { dtype, shape, data }`);
  if (s.dtype !== 'float32' && s.dtype !== 'float64') throw new ValueError(`${where}.dtype is ${describeValue(s.dtype)}; expected 'float32' or 'float64'`);
  const shape = s.shape;
  if (!Array.isArray(shape) || !shape.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 0)) {
    throw new ValueError(`${where}.shape is ${describeValue(shape)}; expected a list of integers ≥ 0`);
  }
  const size = shape.reduce((a: number, b: number) => a * b, 1);
  if (!Array.isArray(s.data) || !s.data.every((x) => typeof x === 'number')) throw new ValueError(`${where}.data is not a list of numbers`);
  if (s.data.length !== size) throw new ValueError(`${where}.data has ${s.data.length} values; shape ${formatShape(shape)} has ${size}`);
  const values = s.dtype === 'float32' ? Float32Array.from(s.data) : Float64Array.from(s.data);
  return tensor(values, { shape, dtype: s.dtype });
}

/** `v` as a finite number ≥ 0, or a ValueError naming the rule and the option (PyTorch's range checks). */
export function nonNegativeOption(rule: string, name: string, v: unknown, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new ValueError(`${rule}: ${name} must be a finite number ≥ 0; got ${describeValue(v)}`);
  return v;
}

/**
 * The checks every update does before it changes anything: as many directions as parameters,
 * each of its parameter's shape and dtype, and a finite learning rate.
 */
export function checkStepArguments(rule: string, params: readonly Tensor[], direction: readonly Tensor[], lr: number): void {
  if (!Array.isArray(params) || !Array.isArray(direction)) throw new ValueError(`${rule}: expected the parameters and the direction as lists of tensors`);
  if (params.length !== direction.length) throw new ValueError(`${rule}: got ${direction.length} direction tensors for ${params.length} parameters`);
  if (typeof lr !== 'number' || !Number.isFinite(lr)) throw new ValueError(`${rule}: the learning rate must be finite; got ${describeValue(lr)}`);
  params.forEach((p, k) => {
    const d = direction[k];
    if (!(p instanceof Tensor) || !(d instanceof Tensor)) throw new ValueError(`${rule}: parameter ${k} or its direction is not a Tensor`);
    if (!shapesEqual(p.shape, d.shape)) throw new ValueError(`${rule}: direction ${k} has shape ${formatShape(d.shape)}; parameter ${k} has ${formatShape(p.shape)}`);
    if (p.dtype !== d.dtype) throw new ValueError(`${rule}: direction ${k} has dtype ${d.dtype}; parameter ${k} is ${p.dtype}`);
  });
}

/** A value for a message: arrays and plain values as JSON (e.g. [0.9,0.999]), others as describeValue says. */
export function showValue(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v) && v.length <= 8 && v.every((x) => typeof x === 'number' || typeof x === 'boolean')) return JSON.stringify(v);
  return describeValue(v);
}

function sameValue(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => Object.is(x, b[i]));
  return Object.is(a, b);
}

/**
 * The state handling of a PyTorch-style per-parameter update rule (see the file comment).
 * A rule says which tensors it keeps (`stateNames`), how they start (`initialState`) and what
 * one step does (`update`); this class creates the state at the first step, counts steps,
 * checks arguments, and saves and restores the state.
 */
export abstract class PerParameterUpdate implements UpdateRule {
  /** The rule's identifier in logs, results and saved states, e.g. 'adam'. */
  abstract readonly name: string;
  /** One record per parameter, in `params` order; null before the first step. */
  private states: ParameterState[] | null = null;

  /** The hyper-parameters saved with the state and compared on restore (the learning rate excluded). */
  protected abstract hyper(): Record<string, number | boolean | number[]>;
  /** The names of the tensors this rule keeps per parameter, as PyTorch names them. */
  protected abstract stateNames(): readonly string[];
  /** The state tensors of a parameter before its first step (same shape and dtype as `p`). */
  protected abstract initialState(p: Tensor): Record<string, Tensor>;
  /**
   * One step of parameter `p` along `g` (its direction, detached) with learning rate `lr`;
   * `state.step` is already this step's t (1 at the first step). Runs under noGrad; changes
   * `p` and the state tensors in place.
   */
  protected abstract update(p: Tensor, g: Tensor, state: ParameterState, lr: number): void;

  /**
   * One update of `params` in place with learning rate `lr` (each parameter's state is created
   * at its first step). Throws ValueError, before anything changes, when the direction does not
   * match the parameters (count, shapes, dtypes), lr is not finite, or the state was made for
   * other parameters.
   */
  step(params: readonly Tensor[], direction: readonly Tensor[], lr: number): void {
    untracked(() => {
      checkStepArguments(this.name, params, direction, lr);
      if (this.states) this.checkFits(this.states, params, 'step');
      noGrad(() => {
        if (!this.states) this.states = params.map((p) => ({ step: 0, tensors: this.initialState(p) }));
        params.forEach((p, k) => {
          const state = this.states![k]!;
          state.step += 1;
          this.update(p, direction[k]!.detach(), state, lr);
        });
      });
    });
  }

  /** A copy of each parameter's state (step and tensors), or null before the first step. */
  parameterStates(): ParameterState[] | null {
    if (!this.states) return null;
    return this.states.map((s) => ({ step: s.step, tensors: Object.fromEntries(Object.entries(s.tensors).map(([n, t]) => [n, noGrad(() => t.clone())])) }));
  }

  /** The state as plain JSON (see the file comment), for checkpoints. */
  saveState(): SavedUpdateState {
    return {
      rule: this.name,
      hyper: this.hyper(),
      state: this.states ? this.states.map((s) => ({ step: s.step, ...Object.fromEntries(Object.entries(s.tensors).map(([n, t]) => [n, saveTensor(t)])) })) : null,
    };
  }

  /**
   * Replace the state with one returned by `saveState`. Throws ValueError, changing nothing,
   * when it is not such a state of this rule with these hyper-parameters, or, when `params` is
   * given, when it was made for other parameters (count, shapes, dtypes).
   */
  restoreState(state: unknown, params?: readonly Tensor[]): void {
    untracked(() => {
      const where = `${this.name}: restoreState`;
      const s = state as Partial<SavedUpdateState> | null;
      if (typeof s !== 'object' || s === null || Array.isArray(s) || !Object.hasOwn(s, 'rule') || !Object.hasOwn(s, 'state')) {
        throw new ValueError(`${where} got ${describeValue(state)}; expected the value of saveState() ({ rule, hyper, state })`);
      }
      if (s.rule !== this.name) throw new ValueError(`${where}: the state is one of '${String(s.rule)}'; this rule is '${this.name}'`);
      const hyper = this.hyper();
      const saved = (typeof s.hyper === 'object' && s.hyper !== null ? s.hyper : {}) as Record<string, unknown>;
      for (const [key, value] of Object.entries(hyper)) {
        if (!sameValue(Object.hasOwn(saved, key) ? saved[key] : undefined, value)) {
          throw new ValueError(`${where}: the state was saved with ${key} ${showValue(Object.hasOwn(saved, key) ? saved[key] : undefined)}; this rule has ${showValue(value)} (a resumed run would take other steps)`);
        }
      }
      for (const key of Object.keys(saved)) if (!Object.hasOwn(hyper, key)) throw new ValueError(`${where}: the state has a hyper-parameter '${key}' that ${this.name} does not have`);
      if (s.state === null) {
        this.states = null;
        return;
      }
      if (!Array.isArray(s.state)) throw new ValueError(`${where}: field 'state' is ${describeValue(s.state)}; expected a list of per-parameter states or null`);
      const names = this.stateNames();
      const states = s.state.map((entry, k): ParameterState => {
        const at = `${where}: state[${k}]`;
        if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new ValueError(`${at} is ${describeValue(entry)}; expected { step, ${names.join(', ')} }`);
        const e = entry as Record<string, unknown>;
        if (typeof e.step !== 'number' || !Number.isSafeInteger(e.step) || e.step < 1) throw new ValueError(`${at}.step is ${describeValue(e.step)}; expected an integer ≥ 1`);
        for (const key of Object.keys(e)) {
          if (key !== 'step' && !names.includes(key)) throw new ValueError(`${at} has an entry '${key}'; ${this.describeConfig()} keeps ${names.join(', ')}`);
        }
        const tensors: Record<string, Tensor> = {};
        for (const name of names) {
          if (!Object.hasOwn(e, name)) throw new ValueError(`${at} has no '${name}'; ${this.describeConfig()} keeps ${names.join(', ')}`);
          tensors[name] = restoreTensor(e[name], `${at}.${name}`);
        }
        const [first, ...rest] = names.map((n) => tensors[n]!);
        for (const [i, t] of rest.entries()) {
          if (!shapesEqual(t.shape, first!.shape) || t.dtype !== first!.dtype) {
            throw new ValueError(`${at}: '${names[i + 1]}' is ${t.dtype} ${formatShape(t.shape)} but '${names[0]}' is ${first!.dtype} ${formatShape(first!.shape)}`);
          }
        }
        return { step: e.step, tensors };
      });
      if (params) this.checkFits(states, params, 'restoreState');
      this.states = states;
    });
  }

  /** Which state names this configuration keeps, in words, for errors (e.g. "adam with amsgrad"). */
  protected describeConfig(): string {
    return this.name;
  }

  private checkFits(states: readonly ParameterState[], params: readonly Tensor[], op: string): void {
    if (states.length !== params.length) throw new ValueError(`${this.name}: ${op}: the state holds ${states.length} parameters; got ${params.length}`);
    states.forEach((s, k) => {
      for (const [name, t] of Object.entries(s.tensors)) checkFitsParameter(`${this.name}: ${op}: state[${k}].${name}`, t, params[k]!, k);
    });
  }
}

/** A ValueError starting with `what` unless state tensor `t` has parameter k's shape and dtype. */
export function checkFitsParameter(what: string, t: Tensor, p: Tensor, k: number): void {
  if (!shapesEqual(t.shape, p.shape)) throw new ValueError(`${what} has shape ${formatShape(t.shape)}; parameter ${k} has ${formatShape(p.shape)}`);
  if (t.dtype !== p.dtype) throw new ValueError(`${what} is ${t.dtype}; parameter ${k} is ${p.dtype}`);
}
