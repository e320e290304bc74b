/**
 * Reductions of the CPU backend.
 *
 * `reduce` walks the INPUT in its own order and accumulates into an output whose strides are
 * 0 along the reduced axes. Walking the input (rather than, for each output, the reduced
 * axes) keeps memory access sequential whichever axes are reduced — summing a bias gradient
 * over the batch axis is as cache-friendly as summing a row. Sums accumulate in float64.
 */
import { allocate, type DType, type TypedArray } from '../../tensor/dtype.js';
import { contiguousStrides, reducedShape, sizeOf } from '../../tensor/shape.js';
import type { View } from '../../tensor/storage.js';
import type { ArgReduceFn, ReduceFn } from '../scalar.js';
import { compileLoop } from './loops.js';

const BODY: Record<ReduceFn, string> = {
  sum: 'OUT += IN0',
  // NaN-propagating: once the accumulator is NaN, `v > NaN` and `v !== v` keep it NaN.
  max: '{ const v = IN0; if (v > OUT || v !== v) OUT = v; }',
  min: '{ const v = IN0; if (v < OUT || v !== v) OUT = v; }',
};

const INITIAL: Record<ReduceFn, number> = { sum: 0, max: -Infinity, min: Infinity };

/** Backend.reduce: the input walked in its own order into an output with stride 0 on the reduced axes. */
export function reduce(fn: ReduceFn, x: View, axes: readonly number[], dtype: DType): TypedArray {
  const outShape = reducedShape(x.shape, axes, false);
  // Accumulate in float64; the accumulator's strides skip the reduced axes.
  const acc = new Float64Array(sizeOf(outShape)).fill(INITIAL[fn]);
  const keptStrides = contiguousStrides(reducedShape(x.shape, axes, true));
  const accStrides = keptStrides.map((s, d) => (axes.includes(d) ? 0 : s));
  if (sizeOf(x.shape) > 0) {
    compileLoop(`reduce:${fn}`, 1, BODY[fn])(x.shape, { data: acc, offset: 0, strides: accStrides }, [x]);
  }
  if (dtype === 'float64') return acc;
  const out = allocate(dtype, acc.length);
  out.set(acc);
  return out;
}

/** First index of the max/min along `axis`; a NaN wins (it is the extremum, as in PyTorch). */
export function argReduce(fn: ArgReduceFn, x: View, axis: number): Int32Array {
  const outShape = reducedShape(x.shape, [axis], false);
  const out = new Int32Array(sizeOf(outShape));
  const n = x.shape[axis]!;
  const step = x.strides[axis]!;
  const better = fn === 'argmax' ? (v: number, best: number) => v > best : (v: number, best: number) => v < best;
  // Walk the output positions with an odometer over the kept axes.
  const kept = x.shape.map((_, d) => d).filter((d) => d !== axis);
  const idx = new Array<number>(kept.length).fill(0);
  for (let o = 0; o < out.length; o++) {
    let base = x.offset;
    for (let k = 0; k < kept.length; k++) base += idx[k]! * x.strides[kept[k]!]!;
    let bestIndex = 0;
    let best = x.data[base]!;
    if (best === best) {
      for (let i = 1; i < n; i++) {
        const v = x.data[base + i * step]!;
        if (v !== v) {
          bestIndex = i;
          break;
        }
        if (better(v, best)) {
          best = v;
          bestIndex = i;
        }
      }
    }
    out[o] = bestIndex;
    for (let k = kept.length - 1; k >= 0; k--) {
      if (++idx[k]! < x.shape[kept[k]!]!) break;
      idx[k] = 0;
    }
  }
  return out;
}
