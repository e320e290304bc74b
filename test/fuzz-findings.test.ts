/**
 * Reproducers from the differential fuzzer against PyTorch and the reliability audit
 * (issue 14, "Wrong numbers from the engine" and D4, D6–D9, D13–D21's argument checks).
 * Each expected value is PyTorch's (torch 2.x, float64 unless said) or the exact one.
 */
import { describe, expect, it } from 'vitest';
import {
  AllocationError,
  ValueError,
  ShapeError,
  Tensor,
  conv2d,
  crossEntropy,
  full,
  grad,
  randn,
  setMaxTensorBytes,
  getMaxTensorBytes,
  tensor,
  zeros,
} from '../src/index.js';

const f64 = (v: number | number[] | number[][]) => tensor(v, { dtype: 'float64' });
const f32 = (v: number | number[]) => tensor(v, { dtype: 'float32' });
const value = (t: Tensor) => t.toArray() as number;

describe('reductions of a 0-d tensor along an explicit axis (item 1)', () => {
  const cases: [string, (x: Tensor) => Tensor, number][] = [
    ['mean(0)', (x) => x.mean(0), 2.5],
    ['mean(-1)', (x) => x.mean(-1), 2.5],
    ['mean(0, true)', (x) => x.mean(0, true), 2.5],
    ['mean([0])', (x) => x.mean([0]), 2.5],
    ['sum(0)', (x) => x.sum(0), 2.5],
    ['var(0, correction 0)', (x) => x.var(0, { correction: 0 }), 0],
  ];
  for (const [name, f, expected] of cases) {
    it(`${name} is ${expected}, with a 0-d result and a finite gradient`, () => {
      const x = f64(2.5);
      const y = f(x);
      expect(y.shape).toEqual([]);
      expect(value(y)).toBe(expected);
      const g = grad((x: Tensor) => f(x))(x);
      expect(value(g)).toBe(name.startsWith('var') ? 0 : 1);
    });
  }
  it('var(0) with the default correction divides by n − 1 = 0, as PyTorch (NaN)', () => {
    expect(Number.isNaN(value(f64(2.5).var(0)))).toBe(true);
  });
  it('an axis out of range is still refused', () => {
    expect(() => f64(2.5).mean(1)).toThrow(/mean: axis 1 is out of range/);
  });
});

describe('div never squares its divisor (item 4)', () => {
  it('float32 ∂(a/b)/∂b at a = 1e-30, b = 1e-25 is −1e20, not −∞', () => {
    const g = grad((b: Tensor) => f32(1e-30).div(b))(f32(1e-25));
    expect(value(g) / -1e20).toBeCloseTo(1, 5);
  });
  it('float32 ∂(1/b)/∂b at b = 2e20 is −2.5e-41 … and at a = 1, b = 2e20: −2.5e-41 underflows only as the true value does', () => {
    const g = grad((b: Tensor) => f32(1e-1).div(b))(f32(2e20));
    // torch: −2.5e-22 (a = 0.1): (a/b)/b = 5e-22/2e20 = 2.5e-42 → denormal in float32
    expect(value(g)).toBeLessThan(0);
  });
  it('float64 past 1e154: ∂(a/b)/∂b is −a/b² exactly where b² overflows', () => {
    const g = grad((b: Tensor) => f64(1e160).div(b))(f64(1e160));
    expect(value(g)).toBeCloseTo(-1e-160 * 1e0, 170);
    expect(value(g) / -1e-160).toBeCloseTo(1, 12);
  });
  it('the second derivative of eˣ/(1 + eˣ) at x = 300 is ≈ −5e-131, not −2', () => {
    const f = (x: Tensor) => x.exp().div(x.exp().add(1));
    const d2 = value(grad(grad(f))(f64(300)));
    expect(Math.abs(d2)).toBeLessThan(1e-120);
  });
});

describe("ELU's gradient for x ≤ 0 is αeˣ (item 5)", () => {
  for (const [x, expected] of [[-10, 4.5400e-5], [-15, 3.059e-7], [-20, 2.061e-9]] as const) {
    it(`float32 at x = ${x}: ${expected}`, () => {
      const g = value(grad((x: Tensor) => x.elu())(f32(x)));
      expect(g / expected).toBeCloseTo(1, 3);
    });
  }
  it('is 1 at x = 0⁺ side and α at x = 0 (PyTorch: 1·e⁰·α for x ≤ 0)', () => {
    expect(value(grad((x: Tensor) => x.elu(2))(f64(0)))).toBe(2);
    expect(value(grad((x: Tensor) => x.elu(2))(f64(1e-9)))).toBe(1);
  });
  it('second derivative at x = 1000 is 0, not NaN', () => {
    expect(value(grad(grad((x: Tensor) => x.elu()))(f64(1000)))).toBe(0);
    expect(value(grad(grad((x: Tensor) => x.elu()))(f64(-2)))).toBeCloseTo(Math.exp(-2), 14);
  });
});

describe('0-d tensors in transpose and gather (item 6)', () => {
  it('transpose(0, 0) and transpose() of a 0-d tensor return it', () => {
    const x = f64(2.5);
    expect(value(x.transpose(0, 0))).toBe(2.5);
    expect(value(x.transpose(-1, 0))).toBe(2.5);
    expect(value(x.transpose())).toBe(2.5);
    expect(() => x.transpose(1, 0)).toThrow(/transpose: axis 1 is out of range/);
  });
  it('transpose() of a vector is the vector', () => {
    expect(f64([1, 2]).transpose().toArray()).toEqual([1, 2]);
  });
  it('gather(0, 0-d index) of a 0-d tensor is the tensor, with gradient 1', () => {
    const index = tensor(0, { dtype: 'int32' });
    expect(value(f64(3).gather(0, index))).toBe(3);
    expect(value(grad((x: Tensor) => x.gather(0, index).mul(2))(f64(3)))).toBe(2);
  });
});

describe('pow at a = 0 (item 7)', () => {
  it('∂(aᵇ)/∂a at a = 0, b = 0 is 0 (PyTorch), and ∂/∂b at a = 0, b = 2 is 0', () => {
    const [ga, gb] = grad((a: Tensor, b: Tensor) => a.pow(b), { argnums: [0, 1] })(f64(0), f64(0)) as Tensor[];
    expect(value(ga!)).toBe(0);
    expect(value(gb!)).toBe(0); // torch: 0 (0⁰·ln 0 masked where a = 0, b ≥ 0)
    const [, gb2] = grad((a: Tensor, b: Tensor) => a.pow(b), { argnums: [0, 1] })(f64(0), f64(2)) as Tensor[];
    expect(value(gb2!)).toBe(0);
  });
  it('is unchanged elsewhere: ∂/∂a = b·aᵇ⁻¹, ∂/∂b = aᵇ ln a, and second derivatives stay finite at 0', () => {
    const [ga, gb] = grad((a: Tensor, b: Tensor) => a.pow(b), { argnums: [0, 1] })(f64(2), f64(3)) as Tensor[];
    expect(value(ga!)).toBeCloseTo(12, 12);
    expect(value(gb!)).toBeCloseTo(8 * Math.log(2), 12);
    const d2 = value(grad(grad((a: Tensor) => a.pow(f64(0))))(f64(0)));
    expect(d2).toBe(0);
  });
});

describe('crossEntropy refuses targets that are not class indices (D4)', () => {
  const logits = zeros([4, 3], { dtype: 'float64' });
  it.each([
    [[0.5, 1.9, 2.2, 1]],
    [[0, 1, 2, Number.NaN]],
    [[0, 1, '2', 0]],
    [[0, 1, [2], 0]],
    [[0, 1, 2, 3e9]],
  ])('%j', (targets) => {
    expect(() => crossEntropy(logits, targets as number[])).toThrow(ValueError);
    expect(() => crossEntropy(logits, targets as number[])).toThrow(/crossEntropy: target/);
  });
  it('a Float64Array of integers is accepted, one of fractions is not', () => {
    expect(value(crossEntropy(logits, new Float64Array([0, 1, 2, 0]) as never))).toBeCloseTo(Math.log(3), 12);
    expect(() => crossEntropy(logits, new Float64Array([0, 1, 2.5, 0]) as never)).toThrow(/integer class indices/);
  });
});

describe('tensor() keeps every value where it belongs (D6) and int32 never wraps (D8)', () => {
  it('holes in nested arrays are refused, not skipped', () => {
    // eslint-disable-next-line no-sparse-arrays
    expect(() => tensor([1, , 3] as number[])).toThrow(/tensor: expected a number at \[1\]; got a hole/);
    // eslint-disable-next-line no-sparse-arrays
    expect(() => tensor([[1, 2], [3, ,]] as number[][])).toThrow(/tensor:/);
  });
  it.each([[[3, -1, -1]], [[1.5, 2]], [['2']], [[2, -1]]])('shape option %j is refused', (shape) => {
    expect(() => tensor([1, 2, 3], { shape: shape as number[] })).toThrow(/tensor: shape must be a list of integers/);
  });
  it('int32: values outside [−2³¹, 2³¹) and NaN are refused; fractions truncate toward zero as in PyTorch', () => {
    expect(() => tensor([3e9], { dtype: 'int32' })).toThrow(/int32 holds integers .* got 3000000000/);
    expect(() => tensor([Number.NaN], { dtype: 'int32' })).toThrow(/got NaN/);
    expect(tensor([1.5, -1.5], { dtype: 'int32' }).toArray()).toEqual([1, -1]);
    expect(() => tensor([Infinity], { dtype: 'int32' })).toThrow(ValueError);
    expect(() => tensor(new Float64Array([2 ** 31]), { dtype: 'int32' })).toThrow(ValueError);
    expect(() => full([2], 3e9, { dtype: 'int32' })).toThrow(/full: int32/);
    expect(tensor([-(2 ** 31), 2 ** 31 - 1], { dtype: 'int32' }).toArray()).toEqual([-(2 ** 31), 2 ** 31 - 1]);
  });
  it('a value that is neither a number nor an array is refused', () => {
    expect(() => tensor('1' as never)).toThrow(/tensor: expected a number, a nested array/);
    expect(() => tensor([1, null] as never)).toThrow(/tensor: expected a number at \[1\]; got null/);
  });
});

describe('JavaScript operands are tensors or numbers, never coerced (D7)', () => {
  const x = f64([1, 2]);
  it.each([['1'], [null], [{}], [undefined], [[1, 2]]])('add(%j)', (other) => {
    expect(() => x.add(other as never)).toThrow(ValueError);
    expect(() => x.add(other as never)).toThrow(/add: expected a Tensor or a number as the second operand/);
    expect(() => x.mul(other as never)).toThrow(/mul: expected/);
  });
});

describe('zero-size convolution kernels are refused (D9)', () => {
  const x = zeros([1, 2, 5, 5], { dtype: 'float64' });
  it.each([[[3, 2, 0, 3]], [[3, 2, 3, 0]], [[3, 0, 3, 3]]])('weight %j', (w) => {
    expect(() => conv2d(x, zeros(w, { dtype: 'float64' }))).toThrow(ShapeError);
    expect(() => conv2d(x, zeros(w, { dtype: 'float64' }))).toThrow(/conv2d: the weight .* is empty/);
  });
});

describe('allocation guard (D13–D21)', () => {
  it('a 10 GB randn is refused at once with the op, the size and the way out', () => {
    expect(() => randn([2500, 1000, 1000], { seed: 0 })).toThrow(AllocationError);
    expect(() => randn([2500, 1000, 1000], { seed: 0 })).toThrow(/randn: a float32 tensor of 2500000000 elements \(9\.3 GiB\) exceeds the limit of 4\.0 GiB/);
    expect(() => zeros([2 ** 33])).toThrow(/full: .*exceeds/);
  });
  it('setMaxTensorBytes moves the limit (and refuses nonsense)', () => {
    const before = getMaxTensorBytes();
    try {
      setMaxTensorBytes(1024);
      expect(() => zeros([257])).toThrow(AllocationError);
      expect(zeros([256]).size).toBe(256);
      expect(() => setMaxTensorBytes(-1)).toThrow(/setMaxTensorBytes: expected a number of bytes > 0/);
    } finally {
      setMaxTensorBytes(before);
    }
  });
  it('V8 refusing past the limit is an AllocationError too, not a bare RangeError', () => {
    const before = getMaxTensorBytes();
    try {
      setMaxTensorBytes(Infinity);
      expect(() => zeros([2 ** 33])).toThrow(AllocationError);
    } finally {
      setMaxTensorBytes(before);
    }
  });
});

describe('wrong argument types are named, not raw TypeErrors (D13–D21)', () => {
  const x = f64([[1, 2], [3, 4]]);
  it.each([
    ['sum', () => x.sum('1' as never), /sum: expected an axis, a list of axes, or null for all; got the string "1"/],
    ['mean', () => x.mean({} as never), /mean: expected an axis/],
    ['sum axis list', () => x.sum(['0'] as never), /sum: expected an integer axis; got the string "0"/],
    ['reshape', () => x.reshape('4' as never), /reshape: expected the new shape as a list of integers/],
    ['permute', () => x.permute('10' as never), /permute: expected dims as a list of axes/],
    ['expand', () => x.expand(3 as never), /expand: expected the target shape as a list/],
  ])('%s', (_name, f, message) => {
    expect(f).toThrow(message);
    expect(f).not.toThrow(TypeError);
  });
});

describe('conversion to int32 never wraps or zeroes (D8)', () => {
  it('truncates toward zero like PyTorch, and refuses NaN, ±∞ and out-of-range values', () => {
    expect(f64([1.9, -1.9, 2147483647.5]).to('int32').toArray()).toEqual([1, -1, 2147483647]);
    expect(() => f64([1, Number.NaN]).to('int32')).toThrow(/cast: NaN at flat index 1 has no int32 value/);
    expect(() => f64([3e9]).to('int32')).toThrow(/cast: 3000000000 at flat index 0/);
    expect(() => f32(-Infinity).to('int32')).toThrow(ValueError);
  });
});
