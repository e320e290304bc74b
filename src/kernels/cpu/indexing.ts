/**
 * gather and its transpose scatterAdd (torch.gather / Tensor.scatter_add_ semantics).
 * These carry class targets into losses and route max/min gradients to the arg-extremum.
 */
import { allocate, type DType, type TypedArray } from '../../tensor/dtype.js';
import { ValueError } from '../../tensor/errors.js';
import { contiguousStrides, sizeOf, type Shape } from '../../tensor/shape.js';
import type { View } from '../../tensor/storage.js';

/**
 * Both kernels walk the index tensor's positions in row-major order with an odometer that
 * keeps running offsets into every view (no per-element closure or offset recomputation:
 * max-pool backward runs scatterAdd over every pooled element). The offset into the indexed
 * tensor leaves out the `axis` term, which the index value supplies.
 */
function outOfRange(op: string, i: number, size: number, axis: number): ValueError {
  return new ValueError(`${op}: index ${i} is out of range for axis ${axis} of size ${size}`);
}

/**
 * Backend.gather (torch.gather): `out[…i…] = x[… index[…i…] along axis …]`. Throws a
 * ValueError for an index outside [0, x.shape[axis]).
 */
export function gather(x: View, axis: number, index: View, dtype: DType): TypedArray {
  const shape = index.shape;
  const rank = shape.length;
  const n = sizeOf(shape);
  const out = allocate(dtype, n);
  const size = x.shape[axis]!;
  const axisStride = x.strides[axis]!;
  const xs = x.strides.map((s, d) => (d === axis ? 0 : s));
  const is = index.strides;
  const coords = new Int32Array(rank);
  let io = index.offset;
  let xo = x.offset;
  for (let k = 0; k < n; k++) {
    const i = index.data[io]!;
    if (!(i >= 0 && i < size)) throw outOfRange('gather', i, size, axis);
    out[k] = x.data[xo + i * axisStride]!;
    for (let d = rank - 1; d >= 0; d--) {
      if (++coords[d]! < shape[d]!) {
        io += is[d]!;
        xo += xs[d]!;
        break;
      }
      coords[d] = 0;
      io -= (shape[d]! - 1) * is[d]!;
      xo -= (shape[d]! - 1) * xs[d]!;
    }
  }
  return out;
}

/**
 * Backend.scatterAdd (Tensor.scatter_add_ into zeros of `shape`): src[…i…] is added at
 * index[…i…] along `axis`. Throws a ValueError for an index outside [0, shape[axis]).
 */
export function scatterAdd(src: View, axis: number, index: View, shape: Shape, dtype: DType): TypedArray {
  const out = allocate(dtype, sizeOf(shape));
  const walk = index.shape;
  const rank = walk.length;
  const n = sizeOf(walk);
  const size = shape[axis]!;
  const strides = contiguousStrides(shape);
  const axisStride = strides[axis]!;
  const os = strides.map((s, d) => (d === axis ? 0 : s));
  const is = index.strides;
  const ss = src.strides;
  const coords = new Int32Array(rank);
  let io = index.offset;
  let so = src.offset;
  let oo = 0;
  for (let k = 0; k < n; k++) {
    const i = index.data[io]!;
    if (!(i >= 0 && i < size)) throw outOfRange('scatterAdd', i, size, axis);
    const o = oo + i * axisStride;
    out[o] = out[o]! + src.data[so]!;
    for (let d = rank - 1; d >= 0; d--) {
      if (++coords[d]! < walk[d]!) {
        io += is[d]!;
        so += ss[d]!;
        oo += os[d]!;
        break;
      }
      coords[d] = 0;
      io -= (walk[d]! - 1) * is[d]!;
      so -= (walk[d]! - 1) * ss[d]!;
      oo -= (walk[d]! - 1) * os[d]!;
    }
  }
  return out;
}
