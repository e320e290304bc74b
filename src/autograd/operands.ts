/**
 * Argument handling shared by the op functions: turning JavaScript numbers into 0-d tensors
 * of the right dtype, dtype checks, and creating outputs.
 */
import { assertFloat, assertSameDType, type DType, type TypedArray } from '../tensor/dtype.js';
import { DTypeError, ValueError, describeValue } from '../tensor/errors.js';
import type { Shape } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';

/** A 0-d tensor holding `value`. */
export function scalarTensor(value: number, dtype: DType): Tensor {
  const data = dtype === 'float64' ? new Float64Array(1) : dtype === 'float32' ? new Float32Array(1) : new Int32Array(1);
  data[0] = value;
  return Tensor.fromData(data, []);
}

/**
 * The two operands of a binary op as tensors of one dtype: a number adopts the other
 * operand's dtype; two tensors must already agree (no silent promotion, see dtype.ts).
 */
export function binaryOperands(op: string, a: Tensor | number, b: Tensor | number, float = true): [Tensor, Tensor] {
  checkOperand(op, 'first', a);
  checkOperand(op, 'second', b);
  if (!(a instanceof Tensor) && !(b instanceof Tensor)) {
    throw new ValueError(`${op}: expected at least one tensor operand; got two numbers (${a}, ${b})`);
  }
  const dtype = a instanceof Tensor ? a.dtype : (b as Tensor).dtype;
  const ta = a instanceof Tensor ? a : scalarTensor(a, dtype);
  const tb = b instanceof Tensor ? b : scalarTensor(b, dtype);
  assertSameDType(op, ta.dtype, tb.dtype);
  if (float) assertFloat(op, ta.dtype);
  return [ta, tb];
}

/** The other operand of an in-place update (add_, mul_): a number, or a tensor of `self`'s dtype (no allocation). */
export function inPlaceOperand(op: string, self: Tensor, other: unknown): void {
  checkOperand(op, 'second', other);
  if (other instanceof Tensor) assertSameDType(op, self.dtype, other.dtype);
}

/** A JavaScript value where a tensor or a number belongs: anything else ('1', null, {}) is refused, never coerced to NaN. */
function checkOperand(op: string, which: string, v: unknown): void {
  if (v instanceof Tensor || typeof v === 'number') return;
  throw new ValueError(`${op}: expected a Tensor or a number as the ${which} operand; got ${describeValue(v)}`);
}

/**
 * Check that `v` is a Tensor (a JavaScript value of any other type — '1', null, {}, a nested
 * array — is refused with the op's name instead of failing later with a bare TypeError).
 */
export function tensorArgument(op: string, v: unknown, name = 'a Tensor'): Tensor {
  if (!(v instanceof Tensor)) throw new ValueError(`${op}: expected ${name}; got ${describeValue(v)}`);
  return v;
}

/** Check that `x` is a float tensor (all differentiable ops need one). */
export function floatOperand(op: string, x: Tensor, name = 'a Tensor'): Tensor {
  tensorArgument(op, x, name);
  assertFloat(op, x.dtype);
  return x;
}

/** An int32 index tensor (gather, scatterAdd). */
export function indexArgument(op: string, v: unknown): Tensor {
  const index = tensorArgument(op, v, 'the index to be an int32 Tensor');
  if (index.dtype !== 'int32') throw new DTypeError(`${op}: index must be an int32 tensor; got ${index.dtype} (use .to('int32'))`);
  return index;
}

/** A list of tensors (concat, stack, gradients' outputs and inputs). */
export function tensorListArgument(op: string, v: unknown, name = 'a list of Tensors'): Tensor[] {
  if (!Array.isArray(v)) throw new ValueError(`${op}: expected ${name}; got ${v instanceof Tensor ? 'a single Tensor' : describeValue(v)}`);
  for (let i = 0; i < v.length; i++) {
    if (!(v[i] instanceof Tensor)) throw new ValueError(`${op}: expected ${name}; got ${describeValue(v[i])} at position ${i}`);
  }
  return v as Tensor[];
}

/** A new contiguous tensor over `data`. */
export function output(data: TypedArray, shape: Shape): Tensor {
  return Tensor.fromData(data, shape);
}
