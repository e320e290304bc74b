/**
 * Creating tensors: from values, constant fills, ranges, and seeded random draws.
 * Every function takes an optional `dtype` (default: getDefaultDType(), float32 unless changed).
 * Random functions need an explicit `seed` or `key`: gradscope has no global random state.
 */
import { allocate, getDefaultDType, type DType, type TypedArray } from './dtype.js';
import { ValueError, assertShape, assertValue, describeValue, formatShape } from './errors.js';
import { foldIn, makeKey, normalFromBits, randomBits, uniform24, uniform53, type Key } from './random.js';
import { sizeOf, type Shape } from './shape.js';
import { Tensor, type NestedArray } from './tensor.js';
import { perSampleView, randomnessError, vmapRandomness, type RandomnessFrame } from './random-context.js';
import { boolArgument, dtypeArgument, finiteArgument, intArgument, keyArgument, optionsArgument, shapeArgument } from './arguments.js';
import { tensorArgument } from '../autograd/operands.js';

/** Options every creation function accepts. */
export interface CreateOptions {
  /** Element type; default getDefaultDType() (float32 unless changed), or the input's for a typed array. */
  dtype?: DType;
  /** Make the result a leaf that requires grad (a float dtype is then required); default false. */
  requiresGrad?: boolean;
}

/**
 * Options of the random creation functions. One of `seed` and `key` is required: there is no
 * global random state (JAX-style keys; element i of a draw depends only on the key and i).
 */
export interface RandomOptions extends CreateOptions {
  /** Integer seed in [0, 2^53). */
  seed?: number;
  /** A key from makeKey/foldIn/splitKey (instead of a seed). */
  key?: Key;
}

function finish(op: string, data: TypedArray, shape: Shape, options: CreateOptions): Tensor {
  const t = Tensor.fromData(data, shape);
  return boolArgument(op, 'requiresGrad', options.requiresGrad, false) ? t.requireGrad() : t;
}

function checkShape(op: string, shape: Shape): void {
  shapeArgument(op, shape);
}

/** The options of a creation function, checked, and the dtype they ask for. */
function createOptions(op: string, options: CreateOptions | undefined): { dtype: DType } {
  const o = optionsArgument(op, options);
  return { dtype: dtypeArgument(op, o.dtype, getDefaultDType()) };
}

/**
 * The shape of a nested array and its values in row-major order, checking that it is
 * rectangular and holds only numbers. NOTE: indexed loops, not forEach/flat, which skip
 * holes: `[1, , 3]` must be refused, not read as `[1, 3]`.
 */
function flattenNested(values: NestedArray): { shape: number[]; flat: number[] } {
  const shape: number[] = [];
  let level: unknown = values;
  while (Array.isArray(level)) {
    shape.push(level.length);
    level = level[0];
  }
  const flat: number[] = [];
  const visit = (v: unknown, depth: number, path: string): void => {
    if (depth === shape.length) {
      if (typeof v !== 'number') throw new ValueError(`tensor: expected a number at ${path || 'the top'}; got ${v === undefined ? 'a hole (undefined)' : describeValue(v)}`);
      flat.push(v);
      return;
    }
    assertShape(
      Array.isArray(v) && v.length === shape[depth],
      () => `tensor: ragged nested array: ${path || 'the top'} has ${Array.isArray(v) ? v.length : 'no'} entries, expected ${shape[depth]} (shape ${formatShape(shape)})`,
    );
    for (let i = 0; i < v.length; i++) visit(v[i], depth + 1, `${path}[${i}]`);
  };
  visit(values, 0, '');
  return { shape, flat };
}

/**
 * int32 from a JavaScript number: truncated toward zero, as PyTorch does; NaN, ±∞ and values
 * outside [−2³¹, 2³¹) have no int32 and are refused (a typed-array store would make NaN 0 and
 * wrap 3e9 to −1294967296).
 */
function checkInt32(op: string, value: number, where: string): void {
  if (!(value > -2147483649 && value < 2147483648)) {
    throw new ValueError(`${op}: int32 holds integers in [-2147483648, 2147483647]; got ${value} ${where}`);
  }
}

function checkValues(op: string, dtype: DType, values: ArrayLike<number>): void {
  if (dtype !== 'int32') return;
  for (let i = 0; i < values.length; i++) checkInt32(op, values[i]!, `at flat index ${i}`);
}

/**
 * A tensor from nested arrays or a typed array (copied). A typed array is 1-D unless `shape`
 * is given; its dtype is kept unless `dtype` is given.
 * @example tensor([[1, 2], [3, 4]], { dtype: 'float64' })
 */
export function tensor(
  values: NestedArray | TypedArray,
  options: CreateOptions & { shape?: Shape } = {},
): Tensor {
  createOptions('tensor', options);
  if (options.shape !== undefined) checkShape('tensor', options.shape);
  if (ArrayBuffer.isView(values)) {
    const typed = values as TypedArray;
    const dtype = options.dtype !== undefined ? options.dtype : (typed instanceof Float64Array ? 'float64' : typed instanceof Int32Array ? 'int32' : 'float32');
    const shape = options.shape ?? [typed.length];
    assertShape(sizeOf(shape) === typed.length, () => `tensor: ${typed.length} values do not fill shape ${formatShape(shape)}`);
    checkValues('tensor', dtype, typed);
    const data = allocate(dtype, typed.length, 'tensor');
    data.set(typed);
    return finish('tensor', data, shape, options);
  }
  if (typeof values !== 'number' && !Array.isArray(values)) {
    throw new ValueError(`tensor: expected a number, a nested array of numbers or a typed array; got ${describeValue(values)}`);
  }
  const { shape, flat } = flattenNested(values);
  if (options.shape) {
    assertShape(sizeOf(options.shape) === sizeOf(shape), () => `tensor: ${sizeOf(shape)} values do not fill shape ${formatShape(options.shape!)}`);
  }
  const dtype = options.dtype ?? getDefaultDType();
  checkValues('tensor', dtype, flat);
  const data = allocate(dtype, flat.length, 'tensor');
  for (let i = 0; i < flat.length; i++) data[i] = flat[i]!;
  return finish('tensor', data, options.shape ?? shape, options);
}

/** A tensor of `shape` filled with `value`. */
export function full(shape: Shape, value: number, options: CreateOptions = {}): Tensor {
  checkShape('full', shape);
  if (typeof value !== 'number') throw new ValueError(`full: expected a number as the fill value; got ${describeValue(value)}`);
  const { dtype } = createOptions('full', options);
  if (dtype === 'int32') checkInt32('full', value, 'as the fill value');
  const data = allocate(dtype, sizeOf(shape), 'full');
  if (value !== 0) data.fill(value);
  return finish('full', data, shape, options);
}

/** A tensor of `shape` filled with 0 (torch.zeros). */
export function zeros(shape: Shape, options: CreateOptions = {}): Tensor {
  return full(shape, 0, options);
}

/** A tensor of `shape` filled with 1 (torch.ones). */
export function ones(shape: Shape, options: CreateOptions = {}): Tensor {
  return full(shape, 1, options);
}

/** zeros with the shape and dtype of `t`. */
export function zerosLike(t: Tensor): Tensor {
  tensorArgument('zerosLike', t);
  return zeros(t.shape, { dtype: t.dtype });
}

/** ones with the shape and dtype of `t`. */
export function onesLike(t: Tensor): Tensor {
  tensorArgument('onesLike', t);
  return ones(t.shape, { dtype: t.dtype });
}

/**
 * start, start + step, … below stop (`arange(n)` is 0 … n−1).
 * @example arange(0, 1, 0.25) // [0, 0.25, 0.5, 0.75]
 */
export function arange(start: number, stop?: number, step = 1, options: CreateOptions = {}): Tensor {
  finiteArgument('arange', 'start', start);
  if (stop !== undefined) finiteArgument('arange', 'stop', stop);
  finiteArgument('arange', 'step', step);
  if (stop === undefined) [start, stop] = [0, start];
  assertValue(step !== 0 && Number.isFinite(step), () => `arange: step must be a finite non-zero number; got ${step}`);
  const n = Math.max(0, Math.ceil((stop - start) / step));
  const { dtype } = createOptions('arange', options);
  const data = allocate(dtype, n, 'arange');
  for (let i = 0; i < n; i++) {
    if (dtype === 'int32') checkInt32('arange', start + i * step, `at index ${i}`);
    data[i] = start + i * step;
  }
  return finish('arange', data, [n], options);
}

/** `steps` evenly spaced values from start to stop inclusive. */
export function linspace(start: number, stop: number, steps: number, options: CreateOptions = {}): Tensor {
  finiteArgument('linspace', 'start', start);
  finiteArgument('linspace', 'stop', stop);
  assertValue(Number.isInteger(steps) && steps >= 0, () => `linspace: steps must be an integer ≥ 0; got ${describeValue(steps)}`);
  const data = allocate(createOptions('linspace', options).dtype, steps, 'linspace');
  const delta = steps > 1 ? (stop - start) / (steps - 1) : 0;
  for (let i = 0; i < steps; i++) data[i] = i === steps - 1 && steps > 1 ? stop : start + i * delta;
  return finish('linspace', data, [steps], options);
}

/** The n×m identity (m = n by default). */
export function eye(n: number, m = n, options: CreateOptions = {}): Tensor {
  checkShape('eye', [n, m]);
  const data = allocate(createOptions('eye', options).dtype, n * m, 'eye');
  for (let i = 0; i < Math.min(n, m); i++) data[i * m + i] = 1;
  return finish('eye', data, [n, m], options);
}

/** A random function's options object (required: it must name the seed or key). */
function keyOptions<T extends RandomOptions>(op: string, options: T): T {
  return optionsArgument(op, options, 'the options ({ seed } or { key })', true);
}

/** The key of a random op's options; throws when neither seed nor key is given. */
export function keyFrom(op: string, options: RandomOptions): Key {
  keyOptions(op, options);
  if (options.key !== undefined) return keyArgument(op, options.key) as Key;
  if (options.seed === undefined) {
    throw new ValueError(`${op}: pass { seed } or { key }: gradscope has no global random state, so every draw names its seed`);
  }
  intArgument(op, 'the seed', options.seed);
  return makeKey(options.seed);
}

function randomFill(op: string, shape: Shape, options: RandomOptions, draw: (w0: number, w1: number, f32: boolean) => number): Tensor {
  checkShape(op, shape);
  const key = keyFrom(op, options);
  const { dtype } = createOptions(op, options);
  const fill = (k: Key, data: TypedArray, start: number, count: number) => {
    const f32 = dtype !== 'float64';
    for (let i = 0; i < count; i++) {
      const [w0, w1] = randomBits(k, i);
      data[start + i] = draw(w0, w1, f32);
    }
  };
  const vmapFrame = vmapRandomness();
  if (vmapFrame && vmapFrame.mode !== 'same') return perSampleDraw(op, shape, dtype, options, key, vmapFrame, fill);
  const data = allocate(dtype, sizeOf(shape), op);
  fill(key, data, 0, data.length);
  return finish(op, data, shape, options);
}

/**
 * A draw inside vmap: refused under randomness 'error' (as torch.func), and under 'different'
 * one draw per sample, sample i from foldIn(key, i) — i counted over the whole batch, so the
 * numbers do not depend on vmap's chunkSize.
 */
function perSampleDraw(
  op: string,
  shape: Shape,
  dtype: DType,
  options: RandomOptions,
  key: Key,
  frame: RandomnessFrame,
  fill: (k: Key, data: TypedArray, start: number, count: number) => void,
): Tensor {
  if (frame.mode === 'error') throw randomnessError(op, 'a random draw');
  const n = sizeOf(shape);
  const data = allocate(dtype, frame.size * n, op);
  for (let b = 0; b < frame.size; b++) fill(foldIn(key, frame.offset + b), data, b * n, n);
  const physical = Tensor.fromData(data, [frame.size, ...shape]);
  return perSampleView.wrap!(options.requiresGrad ? physical.requireGrad() : physical, frame.level);
}

/** Uniform on [low, high) (default [0, 1)). Element i depends only on the key and i. */
export function rand(shape: Shape, options: RandomOptions & { low?: number; high?: number } = {}): Tensor {
  const low = finiteArgument('rand', 'low', keyOptions('rand', options).low, 0);
  const high = finiteArgument('rand', 'high', options.high, 1);
  return randomFill('rand', shape, options, (w0, w1, f32) => low + (high - low) * (f32 ? uniform24(w0) : uniform53(w0, w1)));
}

/** Normal with the given mean and std (default standard normal), by Box–Muller. */
export function randn(shape: Shape, options: RandomOptions & { mean?: number; std?: number } = {}): Tensor {
  const mean = finiteArgument('randn', 'mean', keyOptions('randn', options).mean, 0);
  const std = finiteArgument('randn', 'std', options.std, 1);
  return randomFill('randn', shape, options, (w0, w1) => mean + std * normalFromBits(w0, w1));
}

/** Integers uniform in [low, high), as int32 by default. */
export function randint(low: number, high: number, shape: Shape, options: RandomOptions = {}): Tensor {
  assertValue(Number.isInteger(low) && Number.isInteger(high) && high > low, () => `randint: need integers low < high; got ${describeValue(low)}, ${describeValue(high)}`);
  return randomFill('randint', shape, { dtype: 'int32', ...keyOptions('randint', options) }, (w0, w1) => low + Math.floor(uniform53(w0, w1) * (high - low)));
}

/** 1 with probability p, else 0 (in the float dtype, for use as a mask). */
export function bernoulli(p: number, shape: Shape, options: RandomOptions = {}): Tensor {
  assertValue(typeof p === 'number' && p >= 0 && p <= 1, () => `bernoulli: p must be in [0, 1]; got ${describeValue(p)}`);
  return randomFill('bernoulli', shape, options, (w0, w1) => (uniform53(w0, w1) < p ? 1 : 0));
}

/** A random permutation of 0 … n−1 (Fisher–Yates driven by the key), as an int32 tensor. */
export function randperm(n: number, options: RandomOptions = {}): Tensor {
  assertValue(Number.isInteger(n) && n >= 0, () => `randperm: n must be an integer ≥ 0; got ${describeValue(n)}`);
  const frame = vmapRandomness();
  if (frame && frame.mode !== 'same') {
    throw new ValueError(`randperm: a random draw inside vmap; only vmap(f, { randomness: 'same' }) is supported for randperm (got '${frame.mode}')`);
  }
  const key = keyFrom('randperm', options);
  const data = allocate('int32', n, 'randperm');
  for (let i = 0; i < n; i++) data[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const [w0, w1] = randomBits(key, i);
    const j = Math.floor(uniform53(w0, w1) * (i + 1));
    const tmp = data[i]!;
    data[i] = data[j]!;
    data[j] = tmp;
  }
  return Tensor.fromData(data, [n]);
}
