/**
 * Byte-order helpers shared by the file formats (src/nn/serialize.ts, src/io/safetensors.ts):
 * both store values little-endian. Pure and import-free apart from dtype types, so a module
 * that needs them (the safetensors codec in a browser bundle) does not pull in the other.
 */
import type { DType, TypedArray } from './dtype.js';

/** Whether this host stores multi-byte numbers little-endian (every mainstream one does). */
export const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The array's bytes in little-endian order (a view when the host is little-endian). */
export function littleEndianBytes(a: TypedArray): Uint8Array {
  const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  return LITTLE_ENDIAN_HOST ? bytes : swapBytes(bytes, a.BYTES_PER_ELEMENT);
}

/**
 * A copy of little-endian bytes (elements of `width` bytes) in host order, in a fresh buffer
 * starting at 0, so aligned for any typed array. `new Uint8Array(bytes)` always copies (a Node
 * Buffer's slice() would not: it is a view into a shared pool).
 */
export function hostOrderCopy(bytes: Uint8Array, width: number): Uint8Array {
  return LITTLE_ENDIAN_HOST ? new Uint8Array(bytes) : swapBytes(bytes, width);
}

/** A fresh typed array of `dtype` from little-endian bytes (any alignment; always a copy). */
export function fromLittleEndianBytes(bytes: Uint8Array, dtype: DType): TypedArray {
  switch (dtype) {
    case 'float32':
      return new Float32Array(hostOrderCopy(bytes, 4).buffer, 0, bytes.byteLength / 4);
    case 'float64':
      return new Float64Array(hostOrderCopy(bytes, 8).buffer, 0, bytes.byteLength / 8);
    case 'int32':
      return new Int32Array(hostOrderCopy(bytes, 4).buffer, 0, bytes.byteLength / 4);
  }
}

/** The bytes with each `width`-byte element reversed (a fresh array). */
export function swapBytes(bytes: Uint8Array, width: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i += width) {
    for (let j = 0; j < width; j++) out[i + j] = bytes[i + width - 1 - j]!;
  }
  return out;
}
