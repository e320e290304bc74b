/**
 * Wrong argument types across the public API (issue 14, "wrong argument types give raw
 * TypeErrors"). Every case calls a function or Tensor method with one argument replaced by a
 * wrong-typed value and asserts that the call throws one of gradscope's error classes (never a
 * bare TypeError/RangeError, never a silent result such as NaN or a coerced string) whose message
 * starts with the op's name.
 *
 * The cases are generated from tables:
 *   - BAD: for each kind of argument (a tensor, an axis, a shape, options, …) the wrong values
 *     that kind must refuse;
 *   - FUNCTIONS / METHODS: each entry gives valid arguments and the kind of each position (and
 *     of each swept option field); one case is generated per (position, wrong value).
 * To extend: add a row to FUNCTIONS or METHODS (a new export or method that is in neither table
 * nor in the explicit skip lists fails the completeness tests at the bottom), or a value to BAD.
 */
import { describe, expect, it } from 'vitest';
import * as gs from '../src/index.js';
import {
  AvgPool2d,
  BatchNorm1d,
  BatchNorm2d,
  Conv2d,
  DTypeError,
  Dropout,
  ELU,
  Flatten,
  GlobalAvgPool2d,
  GradError,
  Linear,
  MaxPool2d,
  ReLU,
  Residual,
  SagaEstimator,
  ScsgEstimator,
  Sequential,
  SgdUpdate,
  ShapeError,
  Sigmoid,
  Softplus,
  StreamingSvrgEstimator,
  SvrgEstimator,
  TailAverage,
  Tanh,
  Tensor,
  ValueError,
  makeKey,
  tensor,
} from '../src/index.js';

// ---- wrong values, by kind of argument ------------------------------------------------------

const f64 = (v: gs.NestedArray) => tensor(v, { dtype: 'float64' });
/** The default receiver and tensor operand: float64 [2, 3]. */
const X = () => f64([[1, 2, 3], [4, 5, 6]]);
const I32 = () => tensor([[0, 1, 2], [1, 0, 2]], { dtype: 'int32' });
const F32 = () => tensor([[1, 2, 3], [4, 5, 6]], { dtype: 'float32' });
const IMG = () => gs.rand([1, 2, 4, 4], { seed: 0, dtype: 'float64' });

type Bad = readonly [label: string, value: () => unknown];
const v = (label: string, value: unknown): Bad => [label, () => value];

const NOT_A_VALUE: Bad[] = [v('"1"', '1'), v('null', null), v('{}', {}), v('true', true)];
const MISSING: Bad = v('undefined', undefined);

const BAD = {
  /** A Tensor is required. */
  tensor: [...NOT_A_VALUE, MISSING, v('3', 3), v('[1,2]', [1, 2])],
  /** A float Tensor is required. */
  floatTensor: [...NOT_A_VALUE, MISSING, v('3', 3), v('[1,2]', [1, 2]), ['int32 tensor', I32]],
  /** An int32 index tensor is required. */
  index: [...NOT_A_VALUE, MISSING, v('[0]', [0]), ['float64 tensor', X]],
  /** A Tensor or a JS number (the other operand of a float64 tensor). */
  operand: [...NOT_A_VALUE, MISSING, v('[1]', [1]), ['float32 tensor (dtype mismatch)', F32]],
  /** An integer axis is required. */
  axis: [...NOT_A_VALUE, MISSING, v('1.5', 1.5), v('NaN', NaN), v('[0]', [0])],
  /** An optional integer axis (undefined / null: all). */
  optAxis: [v('"1"', '1'), v('{}', {}), v('true', true), v('1.5', 1.5), v('NaN', NaN), v('[0]', [0])],
  /** An optional axis or list of axes (undefined / null: all). */
  axes: [v('"1"', '1'), v('{}', {}), v('true', true), v('1.5', 1.5), v('NaN', NaN), v('[NaN]', [NaN]), v('[0.5]', [0.5]), v('["0"]', ['0']), v('[0, null]', [0, null])],
  /** A shape: a list of integers ≥ 0. */
  shape: [...NOT_A_VALUE, MISSING, v('6', 6), v('[NaN]', [NaN]), v('[1.5, 4]', [1.5, 4]), v('["2", 3]', ['2', 3]), v('[-2, 3]', [-2, 3]), v('[2, null]', [2, null])],
  /** A required integer (a count, a size, a seed). */
  int: [...NOT_A_VALUE, MISSING, v('1.5', 1.5), v('NaN', NaN), v('Infinity', Infinity), v('[2]', [2])],
  /** An optional integer. */
  optInt: [...NOT_A_VALUE, v('1.5', 1.5), v('NaN', NaN), v('Infinity', Infinity), v('[2]', [2])],
  /** An optional Tensor (null / undefined: none). */
  optTensor: [v('"1"', '1'), v('{}', {}), v('true', true), v('3', 3), v('[1,2]', [1, 2])],
  /** An optional number (NaN allowed: it is a number). */
  optNumber: [...NOT_A_VALUE, v('[1]', [1])],
  /** A required number (NaN allowed: it is a number). */
  number: [...NOT_A_VALUE, MISSING, v('[1]', [1])],
  /** An optional finite number (a hyper-parameter: NaN would make every result NaN). */
  optFinite: [...NOT_A_VALUE, v('[1]', [1]), v('NaN', NaN)],
  /** A required finite number. */
  finite: [...NOT_A_VALUE, MISSING, v('[1]', [1]), v('NaN', NaN)],
  /** An optional bound: a number, or null / undefined for none. */
  bound: [v('"1"', '1'), v('{}', {}), v('true', true), v('[1]', [1])],
  /** An optional boolean flag. */
  bool: [v('"yes"', 'yes'), v('1', 1), v('{}', {}), v('null', null)],
  /** A required dtype. */
  dtype: [v('"float16"', 'float16'), v('null', null), v('1', 1), v('{}', {}), MISSING],
  /** An optional dtype (inside options). */
  optDType: [v('"float16"', 'float16'), v('null', null), v('1', 1), v('{}', {})],
  /** An optional float dtype (a layer's parameters, setDefaultDType). */
  optFloatDType: [v('"float16"', 'float16'), v('"int32"', 'int32'), v('null', null), v('1', 1)],
  /** An optional options object. */
  options: [v('"1"', '1'), v('5', 5), v('null', null), v('true', true), v('[]', [])],
  /** A required options object. */
  requiredOptions: [v('"1"', '1'), v('5', 5), v('null', null), v('true', true), MISSING],
  /** A function is required. */
  fn: [...NOT_A_VALUE, MISSING, v('3', 3)],
  /** A non-empty list of tensors. */
  tensors: [...NOT_A_VALUE, MISSING, v('[{}]', [{}]), v('["1"]', ['1']), ['[x, null]', () => [X(), null]], ['a tensor (not a list)', X]],
  /** A list of tensors (for gradients' inputs/outputs). */
  tensorList: [...NOT_A_VALUE, MISSING, v('[{}]', [{}]), ['[x, null]', () => [X(), null]], ['a tensor (not a list)', X]],
  /** Slice specs. */
  slices: [...NOT_A_VALUE, MISSING, v('[["a", 2]]', [['a', 2]]), v('[[0.5, 2]]', [[0.5, 2]]), v('[{}]', [{}]), v('["1"]', ['1']), v('[[0, 2, NaN]]', [[0, 2, NaN]]), v('[[0, 2, "1"]]', [[0, 2, '1']])],
  /** Pad widths. */
  widths: [...NOT_A_VALUE, MISSING, v('[[1]]', [[1]]), v('[["1", 0]]', [['1', 0]]), v('[1]', [1]), v('[[NaN, 0]]', [[NaN, 0]]), v('[null]', [null])],
  /** A required kernel size: an integer or a pair of integers. */
  pair: [...NOT_A_VALUE, MISSING, v('[2]', [2]), v('[2, "2"]', [2, '2']), v('1.5', 1.5), v('NaN', NaN), v('[2, 2, 2]', [2, 2, 2])],
  /** An optional pair (stride, padding, dilation). */
  optPair: [...NOT_A_VALUE, v('[1]', [1]), v('[1, "1"]', [1, '1']), v('1.5', 1.5), v('NaN', NaN)],
  /** A pooling stride: null (or undefined) means the kernel size, as in PyTorch. */
  poolStride: [v('"1"', '1'), v('{}', {}), v('true', true), v('[1]', [1]), v('[1, "1"]', [1, '1']), v('1.5', 1.5), v('NaN', NaN)],
  /** A transform's argnums: an integer ≥ 0 or a list of them. */
  argnums: [...NOT_A_VALUE, v('1.5', 1.5), v('-1', -1), v('NaN', NaN), v('["0"]', ['0']), v('[0.5]', [0.5])],
  /** A random key [k0, k1]. */
  key: [...NOT_A_VALUE, MISSING, v('[1]', [1]), v('[1, "2"]', [1, '2']), v('[NaN, 0]', [NaN, 0]), v('[1.5, 0]', [1.5, 0])],
  /** A Module. */
  module: [...NOT_A_VALUE, MISSING, v('3', 3), ['a tensor', X]],
  /** An optional Module (Residual's shortcut). */
  optModule: [v('"1"', '1'), v('{}', {}), v('true', true), v('3', 3)],
  /** Bytes. */
  bytes: [...NOT_A_VALUE, MISSING, v('[1, 2]', [1, 2])],
} satisfies Record<string, Bad[]>;
type Kind = keyof typeof BAD;

// ---- the assertion -----------------------------------------------------------------------

const GS_ERRORS = [ShapeError, DTypeError, ValueError, GradError];
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** What `f()` returned, for the failure message of a call that should have thrown. */
function describeResult(r: unknown): string {
  if (r instanceof Tensor) return `${r.toString()} = ${JSON.stringify(r.toArray())}`;
  if (typeof r === 'function') return 'a function';
  try {
    return JSON.stringify(r) ?? String(r);
  } catch {
    return String(r);
  }
}

/**
 * `f()` must throw a gradscope error (ShapeError, DTypeError, ValueError or GradError; not an
 * InternalError, which would be our bug) whose message starts with `op:` or `op(…):` (layers
 * name themselves with their description, e.g. `Linear(3 → 2): …`).
 */
function expectArgumentError(op: string, f: () => unknown): void {
  let result: unknown;
  try {
    result = f();
    // A transform given a non-function must refuse it at once, not when the result is called.
  } catch (e) {
    const err = e as Error;
    const ok = GS_ERRORS.some((C) => e instanceof C);
    expect(ok, `expected a gradscope error; got ${err?.constructor?.name}: ${err?.message}`).toBe(true);
    expect(err.message, `message should start with '${op}:'`).toMatch(new RegExp(`^${escape(op)}(\\(.*?\\))?: `));
    return;
  }
  expect.fail(`expected '${op}: …' to be thrown; the call returned ${describeResult(result)}`);
}

// ---- the tables ----------------------------------------------------------------------------

interface Row {
  /** Label of the row (the function or method name). */
  name: string;
  /** The op name every message must start with. */
  op: string;
  call: (...args: any[]) => unknown;
  /** Valid arguments (a fresh list per case). */
  args: () => unknown[];
  /** The kind of each position; null: not swept (the receiver, or a value with no wrong type). */
  kinds: readonly (Kind | null)[];
  /** Option fields swept, by position: `{ 2: { stride: 'optPair' } }`. */
  fields?: Record<number, Record<string, Kind>>;
}

/** A function row: `fn('sum', gs.sum, () => [X(), 0, false], ['floatTensor', 'axes', 'bool'])`. */
function fn(name: string, call: (...a: any[]) => unknown, args: () => unknown[], kinds: readonly (Kind | null)[], more: Partial<Row> = {}): Row {
  return { name, op: name, call, args, kinds, ...more };
}

/** A constructor row. */
function ctor(name: string, C: new (...a: any[]) => unknown, args: () => unknown[], kinds: readonly (Kind | null)[], more: Partial<Row> = {}): Row {
  return { name: `new ${name}`, op: name, call: (...a) => new C(...a), args, kinds, ...more };
}

/** A layer's forward: the layer is built fresh, its input is swept. */
function forward(name: string, make: () => gs.Module, input: () => unknown, kind: Kind = 'floatTensor'): Row {
  return { name: `${name}.forward`, op: name, call: (x) => make().forward(x as Tensor), args: () => [input()], kinds: [kind] };
}

const fields = (pos: number, f: Record<string, Kind>) => ({ fields: { [pos]: f } });
const UNARY = ['abs', 'exp', 'log', 'neg', 'relu', 'sigmoid', 'sqrt', 'tanh', 'square', 'reciprocal', 'identity', 'clone', 'contiguous', 'sign'] as const;
const BINARY = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const;
const FLOAT_ONLY_UNARY = new Set(['abs', 'exp', 'log', 'neg', 'relu', 'sigmoid', 'sqrt', 'tanh', 'square', 'reciprocal']);

/** A float64 sequence [1, 2, 3] (batch, length, features) for the attention layers. */
const SEQ = () => f64([[[1, 2, 3], [4, 5, 6]]]);
const MHA_PARAMS = () => ({ inProjWeight: gs.rand([9, 3], { seed: 1, dtype: 'float64' }), inProjBias: gs.zeros([9], { dtype: 'float64' }), outProjWeight: gs.rand([3, 3], { seed: 2, dtype: 'float64' }), outProjBias: gs.zeros([3], { dtype: 'float64' }) });
const TINY_TRANSFORMER = { seed: 0, inputDim: 3, seqLen: 2, dModel: 4, numHeads: 2, numLayers: 1, dimFeedforward: 4, classes: 2 };

const FUNCTIONS: Row[] = [
  // ---- elementwise ----
  ...UNARY.map((name) => fn(name, (gs as any)[name], () => [X()], [FLOAT_ONLY_UNARY.has(name) ? 'floatTensor' : 'tensor'])),
  ...BINARY.map((name) => fn(name, (gs as any)[name], () => [X(), X()], ['operand', 'operand'])),
  fn('powScalar', gs.powScalar, () => [X(), 2], ['floatTensor', 'number'], { op: 'pow' }),
  fn('elu', gs.elu, () => [X(), 1], ['floatTensor', 'optFinite']),
  fn('softplus', gs.softplus, () => [X(), 1, 20], ['floatTensor', 'optFinite', 'optFinite']),
  fn('clamp', gs.clamp, () => [X(), 0, 1], ['floatTensor', 'bound', 'bound']),
  fn('where', gs.where, () => [gs.gt(X(), 2), X(), X()], ['tensor', 'operand', 'operand']),
  fn('cast', gs.cast, () => [X(), 'float32'], ['tensor', 'dtype']),
  // ---- math ops (docs/ops-math.md) ----
  ...(['sin', 'cos', 'tan', 'asin', 'acos', 'atan', 'sinh', 'cosh', 'asinh', 'acosh', 'atanh', 'erf', 'erfc', 'log1p', 'expm1', 'rsqrt'] as const).map((name) => fn(name, gs[name], () => [X()], ['floatTensor'])),
  ...(['logSigmoid', 'silu', 'mish', 'softsign'] as const).map((name) => fn(name, gs[name], () => [X()], ['floatTensor'])),
  ...(['floor', 'ceil', 'round'] as const).map((name) => fn(name, gs[name], () => [X()], ['tensor'])),
  fn('atan2', gs.atan2, () => [X(), X()], ['operand', 'operand']),
  fn('gelu', gs.gelu, () => [X(), 'tanh'], ['floatTensor', null]),
  fn('leakyRelu', gs.leakyRelu, () => [X(), 0.01], ['floatTensor', 'optFinite']),
  fn('hardtanh', gs.hardtanh, () => [X(), -1, 1], ['floatTensor', 'optFinite', 'optFinite']),
  // ---- reductions ----
  ...(['sum', 'mean', 'logsumexp'] as const).map((name) => fn(name, gs[name], () => [X(), 0, false], ['floatTensor', 'axes', 'bool'])),
  fn('cumsum', gs.cumsum, () => [X(), 1, false], ['floatTensor', 'axis', 'bool']),
  fn('logcumsumexp', gs.logcumsumexp, () => [X(), 1, false], ['floatTensor', 'axis', 'bool']),
  fn('cumprod', gs.cumprod, () => [X(), 1], ['floatTensor', 'axis']),
  fn('prod', gs.prod, () => [X(), 1, false], ['floatTensor', 'optAxis', 'bool']),
  fn('norm', gs.norm, () => [X(), 2, 1, false], ['floatTensor', 'optNumber', 'axes', 'bool']),
  fn('einsum', gs.einsum, () => ['ij,kj->ik', X(), X()], [null, 'floatTensor', 'floatTensor']),
  fn('var', gs.variance, () => [X(), 0, { correction: 1, keepdim: false }], ['floatTensor', 'axes', 'options'], fields(2, { correction: 'optFinite', keepdim: 'bool' })),
  ...(['max', 'min', 'argmax', 'argmin'] as const).map((name) => fn(name, gs[name], () => [X(), 0, false], [name.startsWith('arg') ? 'tensor' : 'floatTensor', 'optAxis', 'bool'])),
  fn('softmax', gs.softmax, () => [X(), 1], ['floatTensor', 'axis']),
  fn('logSoftmax', gs.logSoftmax, () => [X(), 1], ['floatTensor', 'axis']),
  fn('matmul', gs.matmul, () => [X(), X().transpose()], ['floatTensor', 'floatTensor']),
  // ---- shapes and views ----
  fn('reshape', gs.reshape, () => [X(), [3, 2]], ['tensor', 'shape']),
  fn('expand', gs.expand, () => [X(), [4, 2, 3]], ['tensor', 'shape']),
  fn('permute', gs.permute, () => [X(), [1, 0]], ['tensor', 'shape']),
  fn('transpose', gs.transpose, () => [X(), 0, 1], ['tensor', 'optInt', 'optInt']),
  fn('flatten', gs.flatten, () => [X(), 0, -1], ['tensor', 'optInt', 'optInt']),
  fn('squeeze', gs.squeeze, () => [X(), 0], ['tensor', 'axes']),
  fn('unsqueeze', gs.unsqueeze, () => [X(), 0], ['tensor', 'axis']),
  fn('slice', gs.slice, () => [X(), [[0, 1], null]], ['tensor', 'slices']),
  fn('pad', gs.pad, () => [X(), [[1, 1]], 0], ['floatTensor', 'widths', 'optNumber']),
  fn('concat', gs.concat, () => [[X(), X()], 0], ['tensors', 'optInt']),
  fn('stack', gs.stack, () => [[X(), X()], 0], ['tensors', 'optInt']),
  fn('gather', gs.gather, () => [X(), 1, I32()], ['tensor', 'axis', 'index']),
  fn('scatterAdd', gs.scatterAdd, () => [X(), 1, I32(), [2, 3]], ['tensor', 'axis', 'index', 'shape']),
  // ---- convolution and pooling ----
  fn('conv2d', gs.conv2d, () => [IMG(), gs.rand([3, 2, 2, 2], { seed: 1, dtype: 'float64' }), {}], ['floatTensor', 'floatTensor', 'options'], fields(2, { stride: 'optPair', padding: 'optPair', dilation: 'optPair', groups: 'optInt' })),
  fn('maxPool2d', gs.maxPool2d, () => [IMG(), 2, {}], ['floatTensor', 'pair', 'options'], fields(2, { stride: 'poolStride', padding: 'optPair', dilation: 'optPair' })),
  fn('avgPool2d', gs.avgPool2d, () => [IMG(), 2, {}], ['floatTensor', 'pair', 'options'], fields(2, { stride: 'poolStride', padding: 'optPair', countIncludePad: 'bool' })),
  // ---- losses ----
  fn('mseLoss', gs.mseLoss, () => [X(), X(), 'mean'], ['floatTensor', 'floatTensor', null]),
  // ---- autograd ----
  fn('backward', gs.backward, () => [X().requireGrad().sum(), {}], ['tensor', 'options'], fields(1, { gradient: 'optTensor', retainGraph: 'bool', createGraph: 'bool' })),
  fn('grad', gs.gradients, () => [[X().requireGrad().sum()], [X().requireGrad()], { allowUnused: true }], ['tensorList', 'tensorList', 'options'], {
    name: 'gradients',
    ...fields(2, { retainGraph: 'bool', createGraph: 'bool', allowUnused: 'bool', gradOutputs: 'tensorList' }),
  }),
  fn('unbroadcast', gs.unbroadcast, () => [X(), [1, 3]], ['tensor', 'shape']),
  fn('noGrad', gs.noGrad, () => [() => 1], ['fn']),
  fn('enableGrad', gs.enableGrad, () => [() => 1], ['fn']),
  fn('grad', gs.grad, () => [(x: Tensor) => x.sum(), {}], ['fn', 'options'], fields(1, { argnums: 'argnums', createGraph: 'bool', hasAux: 'bool' })),
  fn('jacrev', gs.jacrev, () => [(x: Tensor) => x.exp(), {}], ['fn', 'options'], fields(1, { argnums: 'argnums', hasAux: 'bool' })),
  fn('jacrev', (...a: unknown[]) => (gs.jacrev((x: Tensor) => x.exp()) as (...a: unknown[]) => unknown)(...a), () => [X()], ['floatTensor'], { name: 'jacrev(f)(x)' }),
  fn('jacfwd', gs.jacfwd, () => [(x: Tensor) => x.exp(), {}], ['fn', 'options'], fields(1, { argnums: 'argnums' })),
  fn('vmap', gs.vmap, () => [(x: Tensor) => x.exp(), {}], ['fn', 'options'], fields(1, { chunkSize: 'optInt' })),
  fn('vmap', (...a: unknown[]) => (gs.vmap((x: Tensor) => x.exp()) as (...a: unknown[]) => unknown)(...a), () => [X()], ['tensor'], { name: 'vmap(f)(x)' }),
  fn('customOp', gs.customOp, () => [{ name: 'c', forward: (x: Tensor) => x.mul(1), backward: (_c: unknown, g: Tensor) => [g] }], ['requiredOptions'], fields(0, { forward: 'fn', backward: 'fn' })),
  fn('functionalCall', gs.functionalCall, () => { const m = new Linear(3, 2, { seed: 0, dtype: 'float64' }); return [m, gs.parametersByName(m), gs.randn([4, 3], { seed: 1, dtype: 'float64' })]; }, ['module', 'requiredOptions', 'tensor']),
  fn('parametersByName', gs.parametersByName, () => [new Linear(3, 2, { seed: 0, dtype: 'float64' })], ['module']),
  fn('jacfwd', (...a: unknown[]) => (gs.jacfwd((x: Tensor) => x.exp()) as (...a: unknown[]) => unknown)(...a), () => [X()], ['floatTensor'], { name: 'jacfwd(f)(x)' }),
  fn('hessian', gs.hessian, () => [(x: Tensor) => x.pow(3).sum(), {}], ['fn', 'options'], fields(1, { argnums: 'argnums' })),
  fn('linearize', gs.linearize, () => [(x: Tensor) => x.exp(), X()], ['fn', 'floatTensor']),
  fn('valueAndGrad', gs.valueAndGrad, () => [(x: Tensor) => x.sum(), {}], ['fn', 'options'], fields(1, { argnums: 'argnums', createGraph: 'bool', hasAux: 'bool' })),
  fn('grad', (...a: unknown[]) => (gs.grad((x: Tensor) => x.sum()) as (...a: unknown[]) => unknown)(...a), () => [X()], ['floatTensor'], { name: 'grad(f)(x)' }),
  fn('vjp', gs.vjp, () => [(x: Tensor) => x.sum(), X()], ['fn', 'floatTensor']),
  fn('vjp', (c: unknown) => gs.vjp((x: Tensor) => x.mul(2), X())[1](c as Tensor), () => [X()], ['tensor'], { name: 'vjp pullback' }),
  fn('jvp', gs.jvp, () => [(x: Tensor) => x.sum(), [X()], [X()]], ['fn', 'tensors', 'tensors']),
  fn('hvp', gs.hvp, () => [(x: Tensor) => x.pow(3).sum(), X(), X()], ['fn', 'floatTensor', 'floatTensor']),
  fn('graphOf', gs.graphOf, () => [X()], ['tensor']),
  fn('toDot', gs.toDot, () => [X()], ['tensor']),
  fn('toMermaid', gs.toMermaid, () => [X()], ['tensor']),
  // ---- creation ----
  fn('tensor', gs.tensor, () => [[1, 2], {}], [null, 'options'], fields(1, { dtype: 'optDType', requiresGrad: 'bool', shape: 'shape' })),
  fn('full', gs.full, () => [[2, 3], 1, {}], ['shape', 'number', 'options'], fields(2, { dtype: 'optDType', requiresGrad: 'bool' })),
  fn('zeros', gs.zeros, () => [[2, 3], {}], ['shape', 'options'], { op: 'full', ...fields(1, { dtype: 'optDType', requiresGrad: 'bool' }) }),
  fn('ones', gs.ones, () => [[2, 3], {}], ['shape', 'options'], { op: 'full', ...fields(1, { dtype: 'optDType' }) }),
  fn('zerosLike', gs.zerosLike, () => [X()], ['tensor']),
  fn('onesLike', gs.onesLike, () => [X()], ['tensor']),
  fn('arange', gs.arange, () => [0, 5, 1, {}], ['finite', 'optFinite', 'optFinite', 'options'], fields(3, { dtype: 'optDType' })),
  fn('linspace', gs.linspace, () => [0, 1, 5, {}], ['finite', 'finite', 'int', 'options'], fields(3, { dtype: 'optDType' })),
  fn('eye', gs.eye, () => [2, 3, {}], ['int', 'optInt', 'options'], fields(2, { dtype: 'optDType' })),
  fn('rand', gs.rand, () => [[2, 3], { seed: 0 }], ['shape', 'requiredOptions'], fields(1, { seed: 'optInt', low: 'optFinite', high: 'optFinite', dtype: 'optDType', key: 'key' })),
  fn('randn', gs.randn, () => [[2, 3], { seed: 0 }], ['shape', 'requiredOptions'], fields(1, { seed: 'optInt', mean: 'optFinite', std: 'optFinite', dtype: 'optDType' })),
  fn('randint', gs.randint, () => [0, 5, [2, 3], { seed: 0 }], ['int', 'int', 'shape', 'requiredOptions'], fields(3, { seed: 'optInt' })),
  fn('bernoulli', gs.bernoulli, () => [0.5, [2, 3], { seed: 0 }], ['finite', 'shape', 'requiredOptions'], fields(2, { seed: 'optInt', dtype: 'optDType' })),
  fn('randperm', gs.randperm, () => [4, { seed: 0 }], ['int', 'requiredOptions'], fields(1, { seed: 'optInt' })),
  fn('makeKey', gs.makeKey, () => [0], ['int']),
  fn('foldIn', gs.foldIn, () => [makeKey(0), 1], ['key', 'int']),
  fn('splitKey', gs.splitKey, () => [makeKey(0), 2], ['key', 'int']),
  fn('setDefaultDType', gs.setDefaultDType, () => [gs.getDefaultDType()], ['optFloatDType']),
  fn('setMaxTensorBytes', gs.setMaxTensorBytes, () => [gs.getMaxTensorBytes()], ['number']),
  fn('tidy', gs.tidy, () => [() => 1], ['fn']),
  fn('untracked', gs.untracked, () => [() => 1], ['fn']),
  fn('keep', gs.keep, () => [X()], ['tensor']),
  // ---- layers: constructors ----
  ctor('Linear', Linear, () => [3, 2, { seed: 0 }], ['int', 'int', 'requiredOptions'], fields(2, { seed: 'int', bias: 'bool', dtype: 'optFloatDType' })),
  ctor('Conv2d', Conv2d, () => [2, 4, 3, { seed: 0 }], ['int', 'int', 'pair', 'requiredOptions'], fields(3, { seed: 'int', stride: 'optPair', padding: 'optPair', dilation: 'optPair', groups: 'optInt', bias: 'bool', dtype: 'optFloatDType' })),
  ctor('BatchNorm1d', BatchNorm1d, () => [3, {}], ['int', 'options'], fields(1, { momentum: 'optFinite', eps: 'optFinite', affine: 'bool', dtype: 'optFloatDType' })),
  ctor('BatchNorm2d', BatchNorm2d, () => [3, {}], ['int', 'options'], fields(1, { momentum: 'optFinite', eps: 'optFinite' })),
  ctor('MaxPool2d', MaxPool2d, () => [2, {}], ['pair', 'options'], fields(1, { stride: 'poolStride', padding: 'optPair', dilation: 'optPair' })),
  ctor('AvgPool2d', AvgPool2d, () => [2, {}], ['pair', 'options'], fields(1, { stride: 'poolStride', padding: 'optPair', countIncludePad: 'bool' })),
  ctor('Dropout', Dropout, () => [0.5, 0], ['finite', 'optInt']),
  ctor('ELU', ELU, () => [1], ['optFinite']),
  ctor('Softplus', Softplus, () => [1, 20], ['optFinite', 'optFinite']),
  ctor('Sequential', Sequential, () => [new ReLU(), new Tanh()], ['module', 'module']),
  ctor('Residual', Residual, () => [new ReLU(), null], ['module', 'optModule']),
  // ---- layers: forward ----
  forward('Linear', () => new Linear(3, 2, { seed: 0, dtype: 'float64' }), X),
  fn('conv1d', gs.conv1d, () => [gs.rand([1, 2, 5], { seed: 0, dtype: 'float64' }), gs.rand([3, 2, 2], { seed: 1, dtype: 'float64' }), null, {}], ['floatTensor', 'floatTensor', 'optTensor', 'options'], fields(3, { stride: 'optInt', padding: 'optInt', dilation: 'optInt', groups: 'optInt' })),
  fn('convTranspose2d', gs.convTranspose2d, () => [IMG(), gs.rand([2, 3, 2, 2], { seed: 1, dtype: 'float64' }), null, {}], ['floatTensor', 'floatTensor', 'optTensor', 'options'], fields(3, { stride: 'optPair', padding: 'optPair', outputPadding: 'optPair', dilation: 'optPair', groups: 'optInt' })),
  fn('groupNorm', gs.groupNorm, () => [IMG(), 2, null, null, 1e-5], ['floatTensor', 'int', 'optTensor', 'optTensor', 'optFinite']),
  fn('embedding', gs.embedding, () => [I32(), gs.rand([3, 2], { seed: 0, dtype: 'float64' }), {}], ['index', 'floatTensor', 'options'], fields(2, { paddingIdx: 'bound' })),
  ctor('GroupNorm', gs.GroupNorm, () => [2, 4, {}], ['int', 'int', 'options'], fields(2, { eps: 'optFinite', affine: 'bool', dtype: 'optFloatDType' })),
  ctor('Embedding', gs.Embedding, () => [5, 3, { seed: 0 }], ['int', 'int', 'requiredOptions'], fields(2, { seed: 'int', paddingIdx: 'bound', dtype: 'optFloatDType' })),
  ctor('Conv1d', gs.Conv1d, () => [2, 4, 3, { seed: 0 }], ['int', 'int', 'int', 'requiredOptions'], fields(3, { seed: 'int', stride: 'optInt', padding: 'optInt', dilation: 'optInt', groups: 'optInt', bias: 'bool', dtype: 'optFloatDType' })),
  ctor('ConvTranspose2d', gs.ConvTranspose2d, () => [2, 4, 3, { seed: 0 }], ['int', 'int', 'pair', 'requiredOptions'], fields(3, { seed: 'int', stride: 'optPair', padding: 'optPair', outputPadding: 'optPair', dilation: 'optPair', groups: 'optInt', bias: 'bool', dtype: 'optFloatDType' })),
  forward('GroupNorm', () => new gs.GroupNorm(1, 2, { dtype: 'float64' }), IMG),
  forward('Embedding', () => new gs.Embedding(3, 2, { seed: 0 }), I32, 'index'),
  forward('Conv1d', () => new gs.Conv1d(2, 3, 2, { seed: 0, dtype: 'float64' }), () => gs.rand([1, 2, 5], { seed: 0, dtype: 'float64' })),
  forward('ConvTranspose2d', () => new gs.ConvTranspose2d(2, 3, 2, { seed: 0, dtype: 'float64' }), IMG),
  // ---- Transformer layers (issue #18) ----
  fn('layerNorm', gs.layerNorm, () => [X(), [3], null, null, 1e-5], ['floatTensor', null, 'optTensor', 'optTensor', 'optFinite']),
  fn('scaledDotProductAttention', gs.scaledDotProductAttention, () => [X(), X(), X(), {}], ['floatTensor', 'floatTensor', 'floatTensor', 'options'], fields(3, { attnMask: 'optTensor', isCausal: 'bool', scale: 'bound' })),
  fn('attentionWeights', gs.attentionWeights, () => [X(), X(), {}], ['floatTensor', 'floatTensor', 'options'], fields(2, { attnMask: 'optTensor', isCausal: 'bool', scale: 'bound' })),
  fn('multiheadAttention', gs.multiheadAttention, () => [SEQ(), SEQ(), SEQ(), 1, MHA_PARAMS(), {}], ['floatTensor', 'floatTensor', 'floatTensor', 'int', 'requiredOptions', 'options'], {
    fields: {
      4: { inProjWeight: 'tensor', inProjBias: 'optTensor', outProjWeight: 'tensor', outProjBias: 'optTensor' },
      5: { keyPaddingMask: 'optTensor', attnMask: 'optTensor', isCausal: 'bool', needWeights: 'bool', averageAttnWeights: 'bool' },
    },
  }),
  ctor('LayerNorm', gs.LayerNorm, () => [3, {}], [null, 'options'], fields(1, { eps: 'optFinite', elementwiseAffine: 'bool', dtype: 'optFloatDType' })),
  ctor('MultiheadAttention', gs.MultiheadAttention, () => [4, 2, { seed: 0 }], ['int', 'int', 'requiredOptions'], fields(2, { seed: 'int', bias: 'bool', dtype: 'optFloatDType' })),
  ctor('TransformerEncoderLayer', gs.TransformerEncoderLayer, () => [4, 2, { seed: 0, dimFeedforward: 8 }], ['int', 'int', 'requiredOptions'], fields(2, { seed: 'int', dimFeedforward: 'optInt', layerNormEps: 'optFinite', normFirst: 'bool', bias: 'bool', dtype: 'optFloatDType' })),
  ctor('TinyTransformer', gs.TinyTransformer, () => [{ ...TINY_TRANSFORMER }], ['requiredOptions'], fields(0, { seed: 'int', inputDim: 'optInt', seqLen: 'optInt', dModel: 'optInt', numHeads: 'optInt', numLayers: 'optInt', dimFeedforward: 'optInt', classes: 'optInt', dtype: 'optFloatDType' })),
  fn('tinyTransformer', gs.tinyTransformer, () => [{ ...TINY_TRANSFORMER }], ['requiredOptions'], fields(0, { seed: 'int', dtype: 'optFloatDType' })),
  forward('LayerNorm', () => new gs.LayerNorm(3, { dtype: 'float64' }), X),
  forward('MultiheadAttention', () => new gs.MultiheadAttention(3, 1, { seed: 0, dtype: 'float64' }), SEQ),
  forward('TransformerEncoderLayer', () => new gs.TransformerEncoderLayer(3, 1, { seed: 0, dtype: 'float64', dimFeedforward: 4 }), SEQ),
  forward('TinyTransformer', () => new gs.TinyTransformer({ ...TINY_TRANSFORMER, dtype: 'float64' }), SEQ),
  forward('Conv2d', () => new Conv2d(2, 3, 2, { seed: 0, dtype: 'float64' }), IMG),
  forward('BatchNorm1d', () => new BatchNorm1d(3, { dtype: 'float64' }), X),
  forward('BatchNorm2d', () => new BatchNorm2d(2, { dtype: 'float64' }), IMG),
  forward('MaxPool2d', () => new MaxPool2d(2), IMG),
  forward('AvgPool2d', () => new AvgPool2d(2), IMG),
  forward('GlobalAvgPool2d', () => new GlobalAvgPool2d(), IMG),
  forward('Flatten', () => new Flatten(), X, 'tensor'),
  forward('Dropout', () => new Dropout(0.5).eval(), X),
  forward('ReLU', () => new ReLU(), X),
  forward('Tanh', () => new Tanh(), X),
  forward('Sigmoid', () => new Sigmoid(), X),
  forward('ELU', () => new ELU(), X),
  forward('Softplus', () => new Softplus(), X),
  forward('Sequential', () => new Sequential(new Linear(3, 2, { seed: 0, dtype: 'float64' })), X, 'tensor'),
  forward('Residual', () => new Residual(new Tanh()), X, 'tensor'),
  // ---- nn helpers ----
  fn('mlp', gs.mlp, () => [[3, 4, 2], { seed: 0 }], ['shape', 'requiredOptions'], fields(1, { seed: 'int', dropout: 'optFinite', batchNorm: 'bool', dtype: 'optFloatDType' })),
  fn('lenet5', gs.lenet5, () => [{ seed: 0 }], ['requiredOptions'], fields(0, { seed: 'int', classes: 'optInt', batchNorm: 'bool', dtype: 'optFloatDType' })),
  fn('resnet8', gs.resnet8, () => [{ seed: 0 }], ['requiredOptions'], fields(0, { seed: 'int', classes: 'optInt', width: 'optInt', inChannels: 'optInt', dtype: 'optFloatDType' })),
  fn('summary', gs.summary, () => [new ReLU()], ['module']),
  fn('init', gs.fans, () => [[3, 2]], ['shape'], { name: 'fans' }),
  fn('init', gs.initWeight, () => [[3, 2], 'pytorch', makeKey(0), 'float64'], ['shape', null, 'key', 'optFloatDType'], { name: 'initWeight' }),
  fn('init', gs.initBias, () => [3, [3, 2], 'pytorch', makeKey(0), 'float64'], ['int', 'shape', null, 'key', 'optFloatDType'], { name: 'initBias' }),
  fn('init', gs.layerKeys, () => [0], ['int'], { name: 'layerKeys' }),
  fn('dropoutMask', gs.dropoutMask, () => [[2, 3], 'float64', 0.5, 0, 0, [0, 1]], ['shape', 'optFloatDType', 'finite', 'int', 'int', 'shape']),
  fn('serializeModel', gs.serializeModel, () => [new Linear(3, 2, { seed: 0 })], ['module']),
  fn('deserializeInto', gs.deserializeInto, () => [new Linear(3, 2, { seed: 0 }), gs.serializeModel(new Linear(3, 2, { seed: 0 }))], ['module', 'bytes']),
  fn('readModelBytes', gs.readModelBytes, () => [gs.serializeModel(new Linear(3, 2, { seed: 0 }))], ['bytes']),
  fn('crc32', gs.crc32, () => [new Uint8Array([1, 2])], ['bytes']),
  // ---- optimizers: constructors ----
  ctor('svrg', SvrgEstimator, () => [{}], ['options'], fields(0, { interval: 'options', chunkSize: 'optInt', seed: 'optInt', locking: 'bool' })),
  ctor('streaming-svrg', StreamingSvrgEstimator, () => [{}], ['options'], fields(0, { megaBatchFactor: 'optInt', innerSteps: 'optInt', chunkSize: 'optInt', seed: 'optInt', locking: 'bool' })),
  ctor('scsg', ScsgEstimator, () => [{}], ['options'], fields(0, { megaBatchFactor: 'optInt', chunkSize: 'optInt', seed: 'optInt', locking: 'bool' })),
  ctor('saga', SagaEstimator, () => [{ partition: [[0, 1], [2, 3]] }], ['requiredOptions'], fields(0, { seed: 'optInt' })),
  ctor('SgdUpdate', SgdUpdate, () => [{}], ['options'], fields(0, { momentum: 'optFinite', dampening: 'optFinite', weightDecay: 'optFinite', nesterov: 'bool' })),
  ctor('Adam', gs.Adam, () => [{}], ['options'], fields(0, { eps: 'optFinite', weightDecay: 'optFinite', amsgrad: 'bool' })),
  ctor('AdamW', gs.AdamW, () => [{}], ['options'], fields(0, { eps: 'optFinite', weightDecay: 'optFinite', amsgrad: 'bool' })),
  ctor('RMSprop', gs.RMSprop, () => [{}], ['options'], fields(0, { alpha: 'optFinite', eps: 'optFinite', weightDecay: 'optFinite', momentum: 'optFinite', centered: 'bool' })),
  ctor('Adagrad', gs.Adagrad, () => [{}], ['options'], fields(0, { lrDecay: 'optFinite', weightDecay: 'optFinite', initialAccumulatorValue: 'optFinite', eps: 'optFinite' })),
  ctor('ClippedUpdate', gs.ClippedUpdate, () => [new SgdUpdate(), { maxNorm: 1 }], ['options', 'requiredOptions'], fields(1, { maxNorm: 'finite', normType: 'optNumber', errorIfNonfinite: 'bool' })),
  // Position 0 unswept: like PyTorch's, clipGrad* take one tensor as well as a list.
  fn('clipGradNorm', gs.clipGradNorm, () => [[X()], 1, 2, {}], [null, 'finite', 'optNumber', 'options'], fields(3, { errorIfNonfinite: 'bool' })),
  fn('clipGradValue', gs.clipGradValue, () => [[X()], 1], [null, 'finite']),
  fn('clipDirectionNorm', gs.clipDirectionNorm, () => [[X()], 1, 2, {}], ['tensorList', 'finite', 'optNumber', 'options'], fields(3, { errorIfNonfinite: 'bool' })),
  fn('clipDirectionValue', gs.clipDirectionValue, () => [[X()], 1], ['tensorList', 'finite']),
  fn('crossEntropy', gs.crossEntropy, () => [X(), [0, 2], {}], ['floatTensor', null, 'options'], fields(2, { weight: 'optTensor', ignoreIndex: 'optInt', labelSmoothing: 'optFinite' })),
  fn('nllLoss', gs.nllLoss, () => [X(), [0, 2], {}], ['floatTensor', null, 'options'], fields(2, { weight: 'optTensor', ignoreIndex: 'optInt' })),
  fn('binaryCrossEntropy', gs.binaryCrossEntropy, () => [X().sigmoid(), X().sigmoid(), {}], ['floatTensor', 'floatTensor', 'options'], fields(2, { weight: 'optTensor' })),
  fn('binaryCrossEntropyWithLogits', gs.binaryCrossEntropyWithLogits, () => [X(), X().sigmoid(), {}], ['floatTensor', 'floatTensor', 'options'], fields(2, { weight: 'optTensor', posWeight: 'optTensor' })),
  fn('klDiv', gs.klDiv, () => [X().logSoftmax(1), X().softmax(1), {}], ['floatTensor', 'floatTensor', 'options'], fields(2, { logTarget: 'bool' })),
  fn('huberLoss', gs.huberLoss, () => [X(), X(), {}], ['floatTensor', 'floatTensor', 'options'], fields(2, { delta: 'optFinite' })),
  fn('smoothL1Loss', gs.smoothL1Loss, () => [X(), X(), {}], ['floatTensor', 'floatTensor', 'options'], fields(2, { beta: 'optFinite' })),
  ctor('TailAverage', TailAverage, () => [0], ['int']),
];

/** Method rows: position 0 is the receiver (not swept). */
function method(name: string, args: () => unknown[], kinds: readonly (Kind | null)[], more: Partial<Row> = {}): Row {
  return {
    name: `Tensor.${name}`,
    op: name,
    call: (self: any, ...a: unknown[]) => self[name](...a),
    args: () => [X(), ...args()],
    kinds: [null, ...kinds],
    ...more,
  };
}

const METHODS: Row[] = [
  ...BINARY.map((name) => method(name, () => [X()], ['operand'])),
  method('matmul', () => [X().transpose()], ['floatTensor']),
  method('elu', () => [1], ['optFinite']),
  method('softplus', () => [1, 20], ['optFinite', 'optFinite']),
  method('clamp', () => [0, 1], ['bound', 'bound']),
  ...(['sum', 'mean', 'logsumexp'] as const).map((name) => method(name, () => [0, false], ['axes', 'bool'])),
  method('var', () => [0, {}], ['axes', 'options'], fields(2, { correction: 'optFinite', keepdim: 'bool' })),
  ...(['max', 'min', 'argmax', 'argmin'] as const).map((name) => method(name, () => [0, false], ['optAxis', 'bool'])),
  method('maxWithIndices', () => [0, false], ['optAxis', 'bool'], { op: 'max' }),
  method('minWithIndices', () => [0, false], ['optAxis', 'bool'], { op: 'min' }),
  method('softmax', () => [1], ['axis']),
  method('logSoftmax', () => [1], ['axis']),
  method('reshape', () => [[3, 2]], ['shape']),
  method('flatten', () => [0, -1], ['optInt', 'optInt']),
  method('permute', () => [[1, 0]], ['shape']),
  method('transpose', () => [0, 1], ['optInt', 'optInt']),
  method('expand', () => [[4, 2, 3]], ['shape']),
  method('broadcastTo', () => [[4, 2, 3]], ['shape'], { op: 'expand' }),
  method('squeeze', () => [0], ['axes']),
  method('unsqueeze', () => [0], ['axis']),
  method('slice', () => [[[0, 1]]], ['slices']),
  method('pad', () => [[[1, 1]], 0], ['widths', 'optNumber']),
  method('gather', () => [1, I32()], ['axis', 'index']),
  method('to', () => ['float32'], ['dtype'], { op: 'cast' }),
  method('requireGrad', () => [true], ['bool']),
  method('backward', () => [{}], ['options'], { args: () => [X().requireGrad().sum(), {}], ...fields(1, { gradient: 'optTensor', retainGraph: 'bool', createGraph: 'bool' }) }),
  method('copy_', () => [X()], ['tensor']),
  method('add_', () => [X(), 1], ['operand', 'optFinite']),
  method('mul_', () => [X()], ['operand']),
  method('fill_', () => [1], ['number']),
];

/** Float-only methods without arguments, called on an int32 receiver. */
const FLOAT_ONLY_METHODS = [...FLOAT_ONLY_UNARY, 'sum', 'mean', 'var', 'max', 'min', 'logsumexp', 'softmax', 'logSoftmax', 'elu', 'softplus', 'matmul', 'pad', 'clamp'];
const FLOAT_ONLY_ARGS: Record<string, unknown[]> = { softmax: [1], logSoftmax: [1], matmul: [I32().transpose()], pad: [[[1, 1]]], clamp: [0, 1] };

/** Tensor methods that take no argument (or only internal ones): nothing to sweep but the receiver's dtype. */
const NO_ARGUMENT_METHODS = new Set([
  'constructor', 'data', 'dtype', 'rank', 'size', 'version', 'isLeaf', 'isContiguous', 'toString', 'toTypedArray', 'toArray',
  'item', 'detach', 'zeroGrad', 'zero_', 'contiguous', 'clone', 'isBatched', ...UNARY,
  // internal (called by the engine / private): attachNode, assertWritable, writeFrom
  'attachNode', 'assertWritable', 'writeFrom',
]);

/** Exports that this sweep does not cover, and why. */
const NOT_SWEPT: Record<string, string> = {
  // no arguments, or only reads state
  getDefaultDType: 'no arguments', getMaxTensorBytes: 'no arguments', isGradEnabled: 'no arguments', tidyPoolSize: 'no arguments', emptyTidyPool: 'no arguments',
  // error classes, abstract bases
  AllocationError: 'error class', DTypeError: 'error class', GradError: 'error class', InternalError: 'error class', ShapeError: 'error class', ValueError: 'error class', NonFiniteError: 'error class',
  Module: 'abstract base class', PerParameterUpdate: 'abstract base class', Tensor: 'constructed by gradscope only (see METHODS)',
  threefry2x32: 'the raw cipher on 32-bit words (an inner loop of every random op)',
  randomBits: 'raw counter-based bits, like threefry2x32', normalFromBits: 'maps two raw 32-bit words to a normal draw, like threefry2x32', uniformStream: 'a seeded stream of raw uniforms, like threefry2x32',
  describeValue: 'describes any value for an error message: every input is valid',
  relaxedSimdAvailable: 'no arguments', relaxedSimdProbeBytes: 'no arguments',
  SgdEstimator: 'no constructor arguments',
  svrg: 'forwards to SvrgEstimator', bSvrg: 'forwards to SvrgEstimator', bpSvrg: 'forwards to SvrgEstimator', alphaSvrg: 'forwards to SvrgEstimator',
  // owned by other parts of the project (kernels, per-sample, analysis, data, optim schedules and training)
};
const OTHER_OWNERS = [
  'backendReady currentBackendInfo getBackend listBackends loadBackend registerBackend registerBackendFactory setBackend useBackend setWasmThreads wasmThreads requestedWasmThreads',
  'crossEntropyLoss perSampleGrads vmapPerSampleGrads perSampleJacobian PerSampleWorkspace perSampleGradients',
  'fullHessian operatorMatrix perLayerCurvature restrictOperator symmetricEigenvalues tridiagonalEigen frobeniusNorm hutchinsonTrace lanczos rademacher spectralDensity flatGradient hessianOperator hessianVectorProduct objective withMode',
  'estimatorVariance varianceRatio controlVariateRows gradientAt gradientRows perSampleMatrix sgdRows svrgRows gradientNormMetrics distanceFromSnapshot curvatureEstimate lossAlongLine smallSymmetricEigenvalues outputJacobian gramSpectrumOf gramSpectrum quadraticProblem linearizedProblem meanHessian samplingCoefficient secondMomentOperator secondMomentMatrix spectralRadius lambdaMax meanSquareThreshold lyapunovExponent simulateSecondMoment stabilityBounds',
  'ArrayDataset diagonalLinear gaussianMixture QuadraticDataset quadraticSum reluTeacher reluTeacherOutput TeacherProblem epochIndices epochPermutation BatchPlan makeBatch SubsetDataset subset keyedPermutation split normalizationStats NormalizedDataset normalize sampleKey augmentSample translate randomCrop randomShift horizontalFlip compose',
  'hessianSummary meanVarianceFactor streamingStepVariance',
  'constantLR cyclicBatchSize cyclicLR linearScaling schedule sqrtScaling stepDecayLR batchGradientAt flattenDirection fullGradientAt stepSeed train',
].join(' ').split(' ');
for (const name of OTHER_OWNERS) NOT_SWEPT[name] = 'outside the tensor/autograd/nn/optimizer-constructor surface this sweep covers';

// ---- generated cases -------------------------------------------------------------------------

interface Case {
  label: string;
  op: string;
  run: () => unknown;
}

function casesOf(rows: readonly Row[]): Case[] {
  const out: Case[] = [];
  for (const row of rows) {
    row.kinds.forEach((kind, pos) => {
      if (kind === null) return;
      for (const [label, value] of BAD[kind]) {
        out.push({
          label: `${row.name}: argument ${pos} (${kind}) = ${label}`,
          op: row.op,
          run: () => {
            const args = row.args();
            args[pos] = value();
            return row.call(...args);
          },
        });
      }
    });
    for (const [posText, fieldKinds] of Object.entries(row.fields ?? {})) {
      const pos = Number(posText);
      for (const [field, kind] of Object.entries(fieldKinds)) {
        for (const [label, value] of BAD[kind]) {
          if (label === 'undefined') continue; // an absent option takes its default
          out.push({
            label: `${row.name}: option ${field} (${kind}) = ${label}`,
            op: row.op,
            run: () => {
              const args = row.args();
              args[pos] = { ...(args[pos] as object), [field]: value() };
              return row.call(...args);
            },
          });
        }
      }
    }
  }
  return out;
}

const FUNCTION_CASES = casesOf(FUNCTIONS);
const METHOD_CASES = casesOf(METHODS);

describe('bad arguments: the tables themselves', () => {
  it.each([...FUNCTIONS, ...METHODS].map((r) => [r.name, r] as const))('%s accepts its valid arguments', (_name, row) => {
    expect(() => row.call(...row.args())).not.toThrow();
  });
});

describe('bad arguments: exported functions and constructors', () => {
  it.each(FUNCTION_CASES.map((c) => [c.label, c] as const))('%s', (_label, c) => {
    expectArgumentError(c.op, c.run);
  });
});

describe('bad arguments: Tensor methods', () => {
  it.each(METHOD_CASES.map((c) => [c.label, c] as const))('%s', (_label, c) => {
    expectArgumentError(c.op, c.run);
  });
  it.each(FLOAT_ONLY_METHODS.map((m) => [m] as const))('int32 receiver: Tensor.%s is a DTypeError naming the op', (m) => {
    const op = m === 'var' ? 'var' : m;
    expectArgumentError(op, () => (I32() as any)[m](...(FLOAT_ONLY_ARGS[m] ?? [])));
    expect(() => (I32() as any)[m](...(FLOAT_ONLY_ARGS[m] ?? []))).toThrow(DTypeError);
  });
});

describe('bad arguments: the sweep covers the whole public surface', () => {
  it('every Tensor method is in METHODS or has no arguments to sweep', () => {
    const swept = new Set(METHODS.map((r) => r.name.replace('Tensor.', '')));
    const missing = Object.getOwnPropertyNames(Tensor.prototype).filter((m) => !swept.has(m) && !NO_ARGUMENT_METHODS.has(m));
    expect(missing).toEqual([]);
  });
  it('every exported function or class is in FUNCTIONS or NOT_SWEPT', () => {
    const swept = new Set<unknown>(FUNCTIONS.map((r) => r.call));
    const sweptNames = new Set(FUNCTIONS.map((r) => r.name.replace(/^new /, '').replace(/\.forward$/, '')));
    const missing = Object.entries(gs)
      .filter(([, value]) => typeof value === 'function')
      .filter(([name, value]) => !swept.has(value) && !sweptNames.has(name) && !(name in NOT_SWEPT))
      .map(([name]) => name);
    // Rows whose name differs from the export (e.g. 'var' → variance, ctor rows) are matched by name here.
    const aliases: Record<string, string> = { variance: 'var', SvrgEstimator: 'svrg', StreamingSvrgEstimator: 'streaming-svrg', ScsgEstimator: 'scsg', SagaEstimator: 'saga' };
    expect(missing.filter((n) => !sweptNames.has(aliases[n] ?? ''))).toEqual([]);
  });
  it('counts', () => {
    expect(FUNCTION_CASES.length + METHOD_CASES.length).toBeGreaterThan(1000);
  });
});
