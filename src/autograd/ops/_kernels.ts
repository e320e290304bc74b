/**
 * Forward helpers shared by op files: run one backend kernel and wrap the result. They keep
 * op files about math, not plumbing.
 */
import { getBackend } from '../../kernels/registry.js';
import type { BinaryFn, UnaryFn } from '../../kernels/scalar.js';
import { broadcastShapes, broadcastStrides } from '../../tensor/shape.js';
import type { View } from '../../tensor/storage.js';
import { Tensor } from '../../tensor/tensor.js';

/** y = fn(x) elementwise. */
export function mapTensor(fn: UnaryFn, x: Tensor, p?: number, q?: number): Tensor {
  return Tensor.fromData(getBackend().map(fn, x, x.dtype, p, q), x.shape);
}

/** A view of `t` read as if broadcast to `shape` (stride 0 on broadcast axes). */
export function broadcastView(t: View, shape: readonly number[]): View {
  return { data: t.data, shape, strides: broadcastStrides(t.shape, t.strides, shape), offset: t.offset };
}

/** y = fn(a, b) elementwise with NumPy broadcasting; `op` names the op in shape errors. */
export function zipTensors(op: string, fn: BinaryFn, a: Tensor, b: Tensor): Tensor {
  const shape = broadcastShapes(op, a.shape, b.shape);
  const data = getBackend().zip(fn, broadcastView(a, shape), broadcastView(b, shape), a.dtype);
  return Tensor.fromData(data, shape);
}
