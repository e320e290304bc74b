/**
 * Argument handling shared by the op functions: turning JavaScript numbers into 0-d tensors
 * of the right dtype, dtype checks, and creating outputs.
 */
import { assertFloat, assertSameDType, type DType, type TypedArray } from '../tensor/dtype.js';
import { ValueError, describeValue } from '../tensor/errors.js';
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

/** A JavaScript value where a tensor or a number belongs: anything else ('1', null, {}) is refused, never coerced to NaN. */
function checkOperand(op: string, which: string, v: unknown): void {
  if (v instanceof Tensor || typeof v === 'number') return;
  throw new ValueError(`${op}: expected a Tensor or a number as the ${which} operand; got ${describeValue(v)}`);
}

/** Check that `x` is a float tensor (all differentiable ops need one). */
export function floatOperand(op: string, x: Tensor): Tensor {
  if (!(x instanceof Tensor)) {
    throw new ValueError(`${op}: expected a Tensor; got ${describeValue(x)}`);
  }
  assertFloat(op, x.dtype);
  return x;
}

/** A new contiguous tensor over `data`. */
export function output(data: TypedArray, shape: Shape): Tensor {
  return Tensor.fromData(data, shape);
}
