/**
 * gather and its transpose scatterAdd (torch.gather / Tensor.scatter_add_ semantics).
 * These carry class targets into losses and route max/min gradients to the arg-extremum.
 */
import { allocate, type DType, type TypedArray } from '../../tensor/dtype.js';
import { ValueError } from '../../tensor/errors.js';
import { contiguousStrides, sizeOf, type Shape } from '../../tensor/shape.js';
import type { View } from '../../tensor/storage.js';

/**
 * Visit every position of `shape` in row-major order, calling `visit(k, coords)` with the
 * flat output position k. The coords array is reused between calls.
 */
function forEachIndex(shape: Shape, visit: (k: number, coords: Int32Array) => void): void {
  const n = sizeOf(shape);
  const coords = new Int32Array(shape.length);
  for (let k = 0; k < n; k++) {
    visit(k, coords);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++coords[d]! < shape[d]!) break;
      coords[d] = 0;
    }
  }
}

function offsetOf(view: View, coords: Int32Array): number {
  let o = view.offset;
  for (let d = 0; d < coords.length; d++) o += coords[d]! * view.strides[d]!;
  return o;
}

function checkedIndex(op: string, index: View, coords: Int32Array, size: number, axis: number): number {
  const i = index.data[offsetOf(index, coords)]!;
  if (!(i >= 0 && i < size)) {
    throw new ValueError(`${op}: index ${i} is out of range for axis ${axis} of size ${size}`);
  }
  return i;
}

export function gather(x: View, axis: number, index: View, dtype: DType): TypedArray {
  const out = allocate(dtype, sizeOf(index.shape));
  const size = x.shape[axis]!;
  forEachIndex(index.shape, (k, coords) => {
    const i = checkedIndex('gather', index, coords, size, axis);
    const saved = coords[axis]!;
    coords[axis] = i;
    out[k] = x.data[offsetOf(x, coords)]!;
    coords[axis] = saved;
  });
  return out;
}

export function scatterAdd(src: View, axis: number, index: View, shape: Shape, dtype: DType): TypedArray {
  const out = allocate(dtype, sizeOf(shape));
  const strides = contiguousStrides(shape);
  const size = shape[axis]!;
  forEachIndex(index.shape, (_, coords) => {
    const i = checkedIndex('scatterAdd', index, coords, size, axis);
    let o = 0;
    for (let d = 0; d < coords.length; d++) o += (d === axis ? i : coords[d]!) * strides[d]!;
    out[o] = out[o]! + src.data[offsetOf(src, coords)]!;
  });
  return out;
}
