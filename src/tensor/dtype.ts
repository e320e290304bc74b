/**
 * Data types.
 *
 * - `float64` is the reference dtype: tests, gradient checks and the oracle run in it.
 * - `float32` is the fast default for training.
 * - `int32` holds class targets and the indices that argmax/max/min return. It is never
 *   differentiated; only indexing ops, comparisons and conversion accept it.
 *
 * Mixed dtypes are REJECTED, not promoted: `add(float32, float64)` throws a DTypeError that
 * names both dtypes and tells the user to convert one with `.to(dtype)`. A silent promotion
 * would hide a float32 model quietly running (and training) in float64, which is both slower
 * and a different experiment. Plain JavaScript numbers adopt the dtype of the tensor they meet.
 */
import { AllocationError, DTypeError, ValueError } from './errors.js';
import { lifetime } from './storage.js';

/** The differentiable dtypes: float32 (the default) and float64 (the reference). */
export type FloatDType = 'float32' | 'float64';
/**
 * Every element type a tensor can have. There are no bool, int64 or float16 tensors:
 * comparisons return 0/1 in the operands' dtype, and indices are int32.
 */
export type DType = FloatDType | 'int32';

/** The storage of a float tensor. */
export type FloatArray = Float32Array | Float64Array;
/** The storage of a tensor of any dtype: Float32Array, Float64Array or Int32Array. */
export type TypedArray = Float32Array | Float64Array | Int32Array;

/** The default dtype of creation functions when none is given. */
let defaultFloat: FloatDType = 'float32';

/** The dtype creation functions use when none is given: 'float32' unless setDefaultDType changed it (torch.get_default_dtype). */
export function getDefaultDType(): FloatDType {
  return defaultFloat;
}

/** Set the dtype that creation functions use when none is given (PyTorch's set_default_dtype). */
export function setDefaultDType(dtype: FloatDType): void {
  if (dtype !== 'float32' && dtype !== 'float64') {
    throw new DTypeError(`setDefaultDType: expected 'float32' or 'float64'; got '${String(dtype)}'`);
  }
  defaultFloat = dtype;
}

/** Whether `dtype` is float32 or float64 (a type guard). */
export function isFloat(dtype: DType): dtype is FloatDType {
  return dtype !== 'int32';
}

/** Bytes per element of each dtype. */
export const BYTES_PER_ELEMENT: Record<DType, number> = { float32: 4, float64: 8, int32: 4 };

/**
 * The largest tensor a creation function or op may allocate, in bytes: 4 GiB by default.
 * NOTE: a guard, not a quota. A mistyped shape ([60000, 784, 784]) should fail at once with a
 * message that names the op and the size, not after minutes of swapping, nor with V8's bare
 * `RangeError: Invalid typed array length` (which it throws at 2³² elements on 64-bit).
 */
let maxTensorBytes = 4 * 2 ** 30;

/** Raise (or lower) the largest tensor, in bytes, that gradscope allocates; `Infinity` removes the guard. */
export function setMaxTensorBytes(bytes: number): void {
  if (!(typeof bytes === 'number' && bytes > 0)) throw new ValueError(`setMaxTensorBytes: expected a number of bytes > 0; got ${String(bytes)}`);
  maxTensorBytes = bytes;
}

/** The per-tensor allocation limit in bytes (4 GiB unless setMaxTensorBytes changed it; may be Infinity). */
export function getMaxTensorBytes(): number {
  return maxTensorBytes;
}

function formatBytes(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/**
 * allocateUnfilled's source of memory that is not zeroed first: Node's Buffer.allocUnsafeSlow
 * (an ArrayBuffer of its own, byte offset 0), absent in a browser, where the array is zeroed.
 */
const NodeBuffer = (globalThis as { Buffer?: { allocUnsafeSlow(bytes: number): { buffer: ArrayBuffer } } }).Buffer;
const ARRAY_OF = { float32: Float32Array, float64: Float64Array, int32: Int32Array } as const;
/** Below this size zeroing costs less than the Buffer wrapper. */
const UNFILLED_MIN_BYTES = 1 << 16;

/**
 * A new array of `dtype` with `size` elements and unspecified contents, for a kernel that writes
 * every element before the array is returned (a WebAssembly kernel's result copied out of the
 * module's memory). Why: V8 zero-fills a new typed array, and the fresh pages then fault on the
 * copy's first write. Copying LeNet-5's [128, 6, 24, 24] activations out took 165–315 µs into
 * a new array, 120 µs into an unfilled one and 65 µs into a reused one on this project's host
 * (docs/performance.md, "Unfilled results").
 */
export function allocateUnfilled(dtype: DType, size: number, op = 'allocate'): TypedArray {
  return allocate(dtype, size, op, true);
}

/**
 * A zero-filled array of `dtype` with `size` elements, new or one that tidy released (its pool,
 * tensor/tidy.ts); `op` names the caller in errors.
 */
export function allocate(dtype: DType, size: number, op = 'allocate', unfilled = false): TypedArray {
  if (!Number.isSafeInteger(size) || size < 0) throw new ValueError(`${op}: expected an element count that is an integer ≥ 0; got ${size}`);
  const bytes = size * BYTES_PER_ELEMENT[dtype];
  if (bytes > maxTensorBytes) {
    throw new AllocationError(
      `${op}: a ${dtype} tensor of ${size} elements (${formatBytes(bytes)}) exceeds the limit of ${formatBytes(maxTensorBytes)} per tensor; ` +
        'check the shape, or raise the limit with setMaxTensorBytes()',
    );
  }
  return lifetime.allocate?.(dtype, size, op, unfilled) ?? freshArray(dtype, size, op, unfilled);
}

/** allocate's array that no one has used (no pool), its arguments already checked there. */
export function freshArray(dtype: DType, size: number, op: string, unfilled: boolean): TypedArray {
  const bytes = size * BYTES_PER_ELEMENT[dtype];
  try {
    const buffer = unfilled && bytes >= UNFILLED_MIN_BYTES ? NodeBuffer?.allocUnsafeSlow(bytes).buffer : undefined;
    return buffer ? new ARRAY_OF[dtype](buffer, 0, size) : new ARRAY_OF[dtype](size);
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    throw new AllocationError(`${op}: could not allocate a ${dtype} tensor of ${size} elements (${formatBytes(bytes)}): ${e.message}`);
  }
}

/** The dtype of a typed array. */
export function dtypeOf(array: TypedArray): DType {
  if (array instanceof Float32Array) return 'float32';
  if (array instanceof Float64Array) return 'float64';
  return 'int32';
}

/** Require both operands of `op` to have the same dtype (the no-promotion rule above). */
export function assertSameDType(op: string, a: DType, b: DType): void {
  if (a !== b) {
    throw new DTypeError(
      `${op}: dtypes must match, got ${a} and ${b}; convert one with .to('${a === 'float64' || b === 'float64' ? 'float64' : a}')`,
    );
  }
}

/** Require a floating-point dtype (differentiable ops, transcendental functions). */
export function assertFloat(op: string, dtype: DType): asserts dtype is FloatDType {
  if (!isFloat(dtype)) {
    throw new DTypeError(`${op}: expected a float32 or float64 tensor; got ${dtype} (convert with .to('float32'))`);
  }
}
