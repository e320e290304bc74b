/**
 * Elementwise kernels of the CPU backend: map, zip, where and strided copy. Each is one
 * compiled loop (see loops.ts) around a scalar function of kernels/scalar.ts; relu on
 * contiguous float32 data runs on the bits of its floats instead (SIGN_MASKS).
 */
import { allocate, type DType, type TypedArray } from '../../tensor/dtype.js';
import { contiguousStrides, isContiguous, sizeOf } from '../../tensor/shape.js';
import type { View } from '../../tensor/storage.js';
import { BINARY, SIGN_MASKS, UNARY, type BinaryFn, type SignMaskFn, type UnaryFn } from '../scalar.js';
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
  if (Object.hasOwn(SIGN_MASKS, fn)) {
    const viaBits = mapBits(fn as SignMaskFn, x, dtype);
    if (viaBits) return viaBits;
  }
  const out = contiguousOutput(x.shape, dtype);
  compileLoop(`map:${fn}`, 1, 'OUT = f(IN0, p, q)', UNARY[fn])(x.shape, out, [x], p, q);
  return out.data;
}

/** A bit-level loop: reads the input's 32-bit words from `x` at `offset`, writes `y` from 0. */
type BitLoop = (x: Int32Array, offset: number, y: Int32Array, n: number) => void;

const bitLoops = new Map<SignMaskFn, BitLoop>();

/** The compiled bit loop of `fn`, its mask function pasted in (as loops.ts does) so that V8 inlines it. */
function bitLoop(fn: SignMaskFn): BitLoop {
  const hit = bitLoops.get(fn);
  if (hit) return hit;
  const src = `const keep = ${SIGN_MASKS[fn].toString()};
    return function bits(x, offset, y, n) { for (let j = 0; j < n; j++) { const b = x[offset + j]; y[j] = b & keep(b); } };`;
  const made = new Function(src)() as BitLoop;
  bitLoops.set(fn, made);
  return made;
}

/**
 * `fn` over a contiguous float32 input through its bit-level form (SIGN_MASKS), or null where
 * that does not apply (float64, a strided view, a dtype change) and the scalar loop runs. The
 * words are read and written through Int32Array views of the same memory: no copy.
 */
function mapBits(fn: SignMaskFn, x: View, dtype: DType): TypedArray | null {
  if (!(x.data instanceof Float32Array && dtype === 'float32' && isContiguous(x.shape, x.strides))) return null;
  const n = sizeOf(x.shape);
  const out = allocate(dtype, n);
  if (n === 0) return out;
  const src = new Int32Array(x.data.buffer, x.data.byteOffset, x.data.length);
  bitLoop(fn)(src, x.offset, new Int32Array(out.buffer, out.byteOffset, n), n);
  return out;
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

/**
 * Backend.copyInto: `dst = src` element by element, through both views' strides. Two contiguous
 * views take one TypedArray.set instead (a memcpy within a dtype, and across dtypes the same
 * conversion as the loop's store): the concatenations and reshapes of a flat parameter vector
 * took ≈ 5 % of an MLP's Hessian-vector product through the loop.
 */
export function copyInto(src: View, dst: View): void {
  if (isContiguous(src.shape, src.strides) && isContiguous(src.shape, dst.strides)) dst.data.set(src.data.subarray(src.offset, src.offset + sizeOf(src.shape)), dst.offset);
  else compileLoop('copy', 1, 'OUT = IN0')(src.shape, dst, [src]);
}

/**
 * `dst[dstOffset + i] ← dst[dstOffset + i] + alpha·src[srcOffset + i]` for i < n, in place: the
 * optimizer's update `p.add_(g, alpha)` on contiguous tensors of one float dtype, in one pass
 * instead of a product, a sum and two copies. Rounds exactly as `add(dst, mul(src, alpha))` does:
 * alpha takes the storage dtype, the product is rounded to it, then the sum (for float32 the
 * double-precision product of two float32 values is exact, and rounding a double sum of two
 * float32 values to float32 equals float32 addition).
 */
export function addScaledInPlace(dst: Float32Array | Float64Array, dstOffset: number, src: Float32Array | Float64Array, srcOffset: number, n: number, alpha: number): void {
  if (dst instanceof Float32Array) {
    const a = Math.fround(alpha);
    for (let i = 0; i < n; i++) dst[dstOffset + i] = dst[dstOffset + i]! + Math.fround(a * src[srcOffset + i]!);
  } else {
    for (let i = 0; i < n; i++) dst[dstOffset + i] = dst[dstOffset + i]! + alpha * src[srcOffset + i]!;
  }
}
