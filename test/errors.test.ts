/**
 * Bad input gets a clear error naming the op, what was expected and what was given (docs/design.md
 * "Errors"). Messages are checked with regexes, as tfjs does, and error classes with
 * toThrow(Class).
 */
import { describe, expect, it } from 'vitest';
import {
  DTypeError,
  GradError,
  ShapeError,
  ValueError,
  arange,
  bernoulli,
  concat,
  crossEntropy,
  eye,
  grad,
  jvp,
  linspace,
  matmul,
  mseLoss,
  noGrad,
  ones,
  rand,
  randint,
  randn,
  randperm,
  scatterAdd,
  setBackend,
  setDefaultDType,
  stack,
  tensor,
  where,
  zeros,
  type Tensor,
} from '../src/index.js';

const z = (shape: number[]) => zeros(shape, { dtype: 'float64' });
const i32 = (v: Parameters<typeof tensor>[0]) => tensor(v, { dtype: 'int32' });

describe('shape errors', () => {
  it('matmul: inner dimensions, batch dims, 0-d operands', () => {
    expect(() => matmul(z([2, 3]), z([4, 5]))).toThrow(ShapeError);
    expect(() => matmul(z([2, 3]), z([4, 5]))).toThrow(/^matmul: inner dimensions must match, got \[2,3\] @ \[4,5\]/);
    expect(() => matmul(z([7, 2, 3]), z([5, 3, 4]))).toThrow(/matmul: shapes \[7\] and \[5\] cannot be broadcast/);
    expect(() => matmul(z([3]), z([4]))).toThrow(/matmul: inner dimensions must match/);
    expect(() => matmul(z([]), z([3]))).toThrow(/matmul: both operands need at least 1 dimension/);
  });

  it('broadcasting names the op, both shapes and the failing dim', () => {
    expect(() => z([2, 3]).add(z([4]))).toThrow(ShapeError);
    expect(() => z([2, 3]).add(z([4]))).toThrow(/^add: shapes \[2,3\] and \[4\] cannot be broadcast \(dim -1: 3 vs 4\)$/);
    expect(() => z([2, 3]).mul(z([3, 3]))).toThrow(/^mul: shapes \[2,3\] and \[3,3\] cannot be broadcast \(dim -2: 2 vs 3\)$/);
    const ops: [string, (a: Tensor, b: Tensor) => Tensor][] = [
      ['sub', (a, b) => a.sub(b)],
      ['div', (a, b) => a.div(b)],
      ['pow', (a, b) => a.pow(b)],
      ['maximum', (a, b) => a.maximum(b)],
      ['minimum', (a, b) => a.minimum(b)],
      ['lt', (a, b) => a.lt(b)],
      ['eq', (a, b) => a.eq(b)],
      ['where', (a, b) => where(a.gt(0), a, b)],
    ];
    for (const [name, f] of ops) expect(() => f(z([2, 3]), z([2]))).toThrow(new RegExp(`^${name}: shapes .*cannot be broadcast`));
  });

  it('expand to an incompatible shape', () => {
    expect(() => z([2]).expand([3])).toThrow(ShapeError);
    expect(() => z([2]).expand([3])).toThrow(/^expand: .*\[2\].*\[3\]/);
    expect(() => z([3]).expand([2, 1])).toThrow(/^expand: cannot expand shape \[3\] to \[2,1\]/);
    // -1 means "keep this axis" and so cannot stand for a NEW leading axis (PyTorch rejects it);
    // accepting it would create a tensor of shape [-1,3].
    expect(() => z([3]).expand([-1, 3])).toThrow(/^expand: .*\[-1,3\]/);
    expect(() => z([2, 3]).expand([3])).toThrow(/expand: cannot expand shape \[2,3\] to \[3\]/);
  });

  it('reshape size mismatch and bad targets', () => {
    expect(() => z([2, 3]).reshape([4])).toThrow(ShapeError);
    expect(() => z([2, 3]).reshape([4])).toThrow(/^reshape: cannot reshape \[2,3\] \(6 elements\) to \[4\]/);
    expect(() => z([2, 3]).reshape([4, -1])).toThrow(/reshape: cannot reshape \[2,3\] \(6 elements\) to \[4,-1\]/);
    expect(() => z([2, 3]).reshape([-1, -1])).toThrow(/reshape: at most one dimension may be -1/);
    expect(() => z([2, 3]).reshape([2, -3])).toThrow(/reshape: dimensions must be integers/);
  });

  it('concat / stack shape mismatch and empty lists', () => {
    expect(() => concat([z([1, 2]), z([1, 3])], 0)).toThrow(ShapeError);
    expect(() => concat([z([1, 2]), z([1, 3])], 0)).toThrow(/^concat: tensor 1 has shape \[1,3\] but tensor 0 has \[1,2\]; shapes must match except on axis 0/);
    expect(() => concat([z([2]), z([2, 1])])).toThrow(/concat: tensor 1 has shape \[2,1\]/);
    expect(() => concat([])).toThrow(/concat: expected at least one tensor/);
    expect(() => concat([z([]), z([])])).toThrow(/concat: cannot concatenate 0-d tensors/);
    expect(() => stack([z([2]), z([3])])).toThrow(/concat: tensor 1 has shape \[1,3\]/);
    expect(() => stack([])).toThrow(/stack: expected at least one tensor/);
  });

  it('gather / scatterAdd index shape', () => {
    expect(() => z([2, 2]).gather(1, i32([0, 1]))).toThrow(/gather: index of shape \[2\] does not fit a tensor of shape \[2,2\]/);
    expect(() => z([2, 2]).gather(1, i32([[0], [1], [0]]))).toThrow(/does not fit/);
    expect(() => scatterAdd(z([2, 1]), 1, i32([[0], [1]]), [2, 2]).toArray()).not.toThrow();
    expect(() => scatterAdd(z([3]), 0, i32([0, 1]), [2])).toThrow(/scatterAdd: src of shape \[3\] must have the index's shape \[2\]/);
  });

  it('crossEntropy and mseLoss shapes', () => {
    expect(() => crossEntropy(z([3]), [0])).toThrow(ShapeError);
    expect(() => crossEntropy(z([3]), [0])).toThrow(/crossEntropy: expected logits \[N, C\] and targets \[N\]; got \[3\] and \[1\]/);
    expect(() => crossEntropy(z([2, 3]), [0])).toThrow(/crossEntropy: expected logits \[N, C\] and targets \[N\]; got \[2,3\] and \[1\]/);
    expect(() => crossEntropy(z([2, 3]), i32([[0], [1]]))).toThrow(/crossEntropy:.*\[2,1\]/);
    expect(() => mseLoss(z([2, 3]), z([3]))).toThrow(/mseLoss: input and target must have the same shape; got \[2,3\] and \[3\]/);
  });

  it('item on a tensor with more than one element', () => {
    expect(() => z([2]).item()).toThrow(/item: expected a tensor with one element; got shape \[2\]/);
  });
});

describe('dtype errors', () => {
  it('mixed float32 / float64 is rejected, naming both dtypes and suggesting .to()', () => {
    const a = zeros([2], { dtype: 'float32' });
    const b = zeros([2], { dtype: 'float64' });
    for (const f of [() => a.add(b), () => b.mul(a), () => a.sub(b), () => a.div(b), () => a.maximum(b), () => where(a.gt(0), a, b)]) {
      expect(f).toThrow(DTypeError);
      expect(f).toThrow(/dtypes must match, got (float32 and float64|float64 and float32); convert one with \.to\('float64'\)/);
    }
    expect(() => a.add(b)).toThrow(/^add: /);
    expect(() => matmul(zeros([2, 2], { dtype: 'float32' }), zeros([2, 2], { dtype: 'float64' }))).toThrow(/^matmul: dtypes must match/);
    expect(() => concat([a, b])).toThrow(/^concat: dtypes must match/);
    // A plain number adopts the tensor's dtype: no error.
    expect(a.add(1).dtype).toBe('float32');
  });

  it('float ops on int32 are rejected with a hint', () => {
    const n = i32([1, 2]);
    expect(() => n.exp()).toThrow(DTypeError);
    expect(() => n.exp()).toThrow(/exp: expected a float32 or float64 tensor; got int32 \(convert with \.to\('float32'\)\)/);
    expect(() => n.add(n)).toThrow(/add: expected a float32 or float64 tensor; got int32/);
    expect(() => n.sum()).toThrow(/sum: expected a float32 or float64/);
    expect(() => matmul(i32([[1]]), i32([[1]]))).toThrow(/matmul: expected a float32 or float64/);
  });

  it('gather needs an int32 index; crossEntropy needs int32 targets', () => {
    expect(() => z([2, 2]).gather(1, z([2, 1]))).toThrow(DTypeError);
    expect(() => z([2, 2]).gather(1, z([2, 1]))).toThrow(/gather: index must be an int32 tensor; got float64 \(use \.to\('int32'\)\)/);
    expect(() => crossEntropy(z([2, 3]), z([2]))).toThrow(/crossEntropy: targets must be int32 class indices; got float64/);
  });

  it('setDefaultDType accepts only float dtypes', () => {
    expect(() => setDefaultDType('int32' as never)).toThrow(/setDefaultDType: expected 'float32' or 'float64'; got 'int32'/);
  });
});

describe('value errors', () => {
  it('bad axes: out of range, non-integer, repeated', () => {
    expect(() => z([2, 3]).sum(2)).toThrow(ValueError);
    expect(() => z([2, 3]).sum(2)).toThrow(/^sum: axis 2 is out of range for a tensor of rank 2 \(expected -2 … 1\)/);
    expect(() => z([2, 3]).sum(-3)).toThrow(/sum: axis -3 is out of range/);
    expect(() => z([2, 3]).mean(0.5)).toThrow(/mean: axis 0.5 is out of range/);
    expect(() => z([2, 3]).sum([0, -2])).toThrow(/sum: repeated axis/);
    expect(() => z([2, 3]).softmax(2)).toThrow(/softmax: axis 2 is out of range/);
    expect(() => z([2, 3]).logSoftmax(-3)).toThrow(/logSoftmax: axis -3 is out of range/);
    expect(() => z([2, 3]).max(5)).toThrow(/max: axis 5 is out of range/);
    expect(() => z([2, 3]).argmax(-3)).toThrow(/argmax: axis -3 is out of range/);
    expect(() => z([2, 3]).transpose(0, 2)).toThrow(/transpose: axis 2 is out of range/);
    expect(() => z([2, 3]).unsqueeze(4)).toThrow(/unsqueeze: axis 4 is out of range/);
    expect(() => z([2, 3]).squeeze(3)).toThrow(/squeeze: axis 3 is out of range/);
    expect(() => concat([z([2]), z([2])], 1)).toThrow(/concat: axis 1 is out of range/);
    expect(() => z([2, 3]).flatten(1, 0)).toThrow(/flatten: startAxis \(1\) must not come after endAxis \(0\)/);
  });

  it('permute needs a permutation of all axes', () => {
    expect(() => z([1, 2]).permute([0, 0])).toThrow(ValueError);
    expect(() => z([1, 2]).permute([0, 0])).toThrow(/^permute: dims must be a permutation; got \[0,0\]/);
    expect(() => z([1, 2]).permute([0])).toThrow(/^permute: expected 2 dims for a tensor of shape \[1,2\]; got \[0\]/);
    expect(() => z([1, 2]).permute([0, 2])).toThrow(/permute: axis 2 is out of range/);
  });

  it('gather / scatterAdd index values out of range', () => {
    expect(() => z([1, 2]).gather(1, i32([[2]]))).toThrow(/^gather: index 2 is out of range for axis 1 of size 2/);
    expect(() => z([1, 2]).gather(1, i32([[-1]]))).toThrow(/gather: index -1 is out of range for axis 1 of size 2/);
    expect(() => scatterAdd(z([1]), 0, i32([3]), [2])).toThrow(/scatterAdd: index 3 is out of range for axis 0 of size 2/);
  });

  it('crossEntropy targets out of range', () => {
    expect(() => crossEntropy(z([1, 3]), [5])).toThrow(/^crossEntropy: target 5 is out of range for 3 classes \(expected 0 … 2\)/);
    expect(() => crossEntropy(z([1, 3]), [-1])).toThrow(/crossEntropy: target -1 is out of range/);
    expect(() => crossEntropy(z([1, 3]), [0], 'avg' as never)).toThrow(/crossEntropy: reduction must be 'mean', 'sum' or 'none'; got 'avg'/);
  });

  it('slice: bad step, too many specs, non-integer bounds', () => {
    const x = z([5]);
    expect(() => x.slice([[0, 5, 0]])).toThrow(/^slice: step must be an integer ≥ 1 on axis 0; got 0/);
    expect(() => x.slice([[0, 5, -1]])).toThrow(/slice: step must be an integer ≥ 1 on axis 0; got -1/);
    expect(() => x.slice([[0, 5, 1.5]])).toThrow(/slice: step must be an integer ≥ 1/);
    expect(() => z([2, 2]).slice([null, [0, 2, 0]])).toThrow(/on axis 1/);
    expect(() => x.slice([null, null])).toThrow(/slice: got 2 slice specs for a tensor of rank 1/);
    expect(() => x.slice([[0.5, 2]])).toThrow(/slice: bounds must be integers on axis 0; got 0.5/);
  });

  it('pad: negative or non-integer widths, too many axes', () => {
    expect(() => z([2]).pad([[-1, 0]])).toThrow(ValueError);
    expect(() => z([2]).pad([[-1, 0]])).toThrow(/^pad: widths must be integers ≥ 0; got \[-1, 0\] on axis 0/);
    expect(() => z([2, 2]).pad([[0, 0], [1, 1.5]])).toThrow(/pad: widths must be integers ≥ 0; got \[1, 1.5\] on axis 1/);
    expect(() => z([2]).pad([[0, 0], [0, 0]])).toThrow(/pad: got widths for 2 axes but the tensor has rank 1/);
  });

  it('random ops without a seed or key', () => {
    const hint = /pass \{ seed \} or \{ key \}/;
    expect(() => rand([2])).toThrow(ValueError);
    expect(() => rand([2])).toThrow(/^rand: pass \{ seed \} or \{ key \}/);
    expect(() => randn([2])).toThrow(/^randn: /);
    expect(() => randn([2])).toThrow(hint);
    expect(() => randint(0, 5, [2])).toThrow(hint);
    expect(() => bernoulli(0.5, [2])).toThrow(hint);
    expect(() => randperm(4)).toThrow(/^randperm: pass \{ seed \} or \{ key \}/);
    expect(() => rand([2], { seed: -1 })).toThrow(/^rand: expected the seed to be an integer ≥ 0; got -1/);
    expect(() => rand([2], { seed: 1.5 })).toThrow(/^rand: expected the seed to be an integer/);
  });

  it('random ops: bad ranges and probabilities', () => {
    expect(() => randint(5, 5, [2], { seed: 0 })).toThrow(/randint: need integers low < high; got 5, 5/);
    expect(() => randint(0, 2.5, [2], { seed: 0 })).toThrow(/randint: need integers/);
    expect(() => bernoulli(1.5, [2], { seed: 0 })).toThrow(/bernoulli: p must be in \[0, 1\]; got 1.5/);
    expect(() => randperm(-1, { seed: 0 })).toThrow(/randperm: n must be an integer ≥ 0; got -1/);
  });

  it('ragged or non-numeric nested arrays', () => {
    expect(() => tensor([[1, 2], [3]])).toThrow(ShapeError);
    expect(() => tensor([[1, 2], [3]])).toThrow(/^tensor: ragged nested array: \[1\] has 1 entries, expected 2 \(shape \[2,2\]\)/);
    expect(() => tensor([[1, 2], 3] as never)).toThrow(/tensor: ragged nested array: \[1\] has no entries, expected 2/);
    expect(() => tensor([1, [2]] as never)).toThrow(/tensor: expected a number at \[1\]; got an array/);
    expect(() => tensor([[[1], [2]], [[3], [4, 5]]])).toThrow(/ragged nested array: \[1\]\[1\] has 2 entries, expected 1/);
    expect(() => tensor([1, 2, 3], { shape: [2, 2] })).toThrow(/tensor: 3 values do not fill shape \[2,2\]/);
    expect(() => tensor(new Float64Array(3), { shape: [2] })).toThrow(/tensor: 3 values do not fill shape \[2\]/);
  });

  it('creation functions: bad shapes, steps and counts', () => {
    expect(() => zeros([-1])).toThrow(/full: shape must be a list of integers ≥ 0; got \[-1\]/);
    expect(() => ones([1.5])).toThrow(/shape must be a list of integers/);
    expect(() => arange(0, 5, 0)).toThrow(/arange: step must be a finite non-zero number; got 0/);
    expect(() => linspace(0, 1, -2)).toThrow(/linspace: steps must be an integer ≥ 0; got -2/);
    expect(() => eye(-1)).toThrow(/eye: shape must be a list of integers/);
  });

  it('softplus needs beta > 0; setBackend names the known backends', () => {
    expect(() => z([2]).softplus(0)).toThrow(/softplus: beta must be > 0; got 0/);
    expect(() => setBackend('tpu')).toThrow(/setBackend: unknown backend 'tpu'; known backends: .*cpu/);
  });
});

describe('autograd misuse', () => {
  it('transforms reject non-tensor arguments, non-scalar outputs and mismatched tangents', () => {
    expect(() => grad((x: Tensor) => x.sum())(3 as never)).toThrow(GradError);
    expect(() => grad((x: Tensor) => x.sum())(3 as never)).toThrow(/grad: argument 0 must be a Tensor to be differentiated; got number/);
    expect(() => grad((x: Tensor) => x)(z([2]))).toThrow(/grad: the function must return a scalar tensor \(one element\); got shape \[2\]/);
    expect(() => jvp((x: Tensor) => x, [z([2])], [z([3])])).toThrow(/jvp: tangent 0 must have the primal's shape \[2\]; got \[3\]/);
    expect(() => jvp((x: Tensor) => x, [z([2])], [] as never)).toThrow(/jvp: got 1 primals but 0 tangents/);
  });

  it('an in-place write into an expanded view is rejected (several elements share one memory cell)', () => {
    // PyTorch: "unsupported operation: more than one element of the written-to tensor refers
    // to a single memory location". Without the check, the last write silently wins.
    const e = tensor([[1, 2, 3]], { dtype: 'float64' }).expand([2, 3]);
    expect(() => noGrad(() => e.add_(tensor([[1, 2, 3], [4, 5, 6]], { dtype: 'float64' })))).toThrow(/expand|memory|overlap/i);
  });
});
