/**
 * Elementwise kernels of the CPU backend: map, zip, where and strided copy. Each is one
 * compiled loop (see loops.ts) around a scalar function of kernels/scalar.ts.
 */
import { allocate, type DType, type TypedArray } from '../../tensor/dtype.js';
import { contiguousStrides, sizeOf } from '../../tensor/shape.js';
import type { View } from '../../tensor/storage.js';
import { BINARY, UNARY, type BinaryFn, type UnaryFn } from '../scalar.js';
import { compileLoop, type LoopOperand } from './loops.js';

/** A fresh contiguous output operand for a result of `shape`. */
export function contiguousOutput(
  shape: readonly number[],
  dtype: DType,
): LoopOperand & {
  /** The new zeroed array of sizeOf(shape) elements of `dtype`, which the caller returns. */
  data: TypedArray;
} {
  return { data: allocate(dtype, sizeOf(shape)), offset: 0, strides: contiguousStrides(shape) };
}

/** Backend.map: one compiled loop per scalar function, p and q defaulting to 0. */
export function map(fn: UnaryFn, x: View, dtype: DType, p = 0, q = 0): TypedArray {
  const out = contiguousOutput(x.shape, dtype);
  compileLoop(`map:${fn}`, 1, 'OUT = f(IN0, p, q)', UNARY[fn])(x.shape, out, [x], p, q);
  return out.data;
}

/** Backend.zip: one compiled loop per scalar function, into `into` when given. */
export function zip(fn: BinaryFn, a: View, b: View, dtype: DType, into?: TypedArray): TypedArray {
  const out = into ? { data: into, offset: 0, strides: contiguousStrides(a.shape) } : contiguousOutput(a.shape, dtype);
  compileLoop(`zip:${fn}`, 2, 'OUT = f(IN0, IN1)', BINARY[fn])(a.shape, out, [a, b]);
  return out.data;
}

/** out[b, n, k] = g[b, n] · a[b, k]: both operands broadcast to [B, N, K] by strides, one zip. */
export function outerRows(g: View, a: View, dtype: DType, into?: TypedArray): TypedArray {
  const shape = [g.shape[0]!, g.shape[1]!, a.shape[1]!];
  const gv: View = { data: g.data, offset: g.offset, shape, strides: [g.strides[0]!, g.strides[1]!, 0] };
  const av: View = { data: a.data, offset: a.offset, shape, strides: [a.strides[0]!, 0, a.strides[1]!] };
  return zip('mul', gv, av, dtype, into);
}

/** Backend.where: `out = cond !== 0 ? a : b`, elementwise. */
export function where(cond: View, a: View, b: View, dtype: DType): TypedArray {
  const out = contiguousOutput(a.shape, dtype);
  compileLoop('where', 3, 'OUT = IN0 !== 0 ? IN1 : IN2')(a.shape, out, [cond, a, b]);
  return out.data;
}

/** Backend.copyInto: `dst = src` element by element, through both views' strides. */
export function copyInto(src: View, dst: View): void {
  compileLoop('copy', 1, 'OUT = IN0')(src.shape, dst, [src]);
}
