/**
 * Fused softmax cross-entropy of the CPU backend: per-sample losses from logits [N, C] and
 * int32 class targets [N], and their gradient, one pass over each row instead of the ≈ 10
 * kernels (max, shift, exp, sum, log, subtract, gather, …) of the composite.
 *
 * Each row is shifted by its maximum m, computed as `reduce('max')` computes it (NaN wins) and
 * then replaced by 0 when it is not finite, exactly as the composite's stopGradientMax does;
 * the sum of exponentials accumulates in float64, in column order. In float64 the losses are
 * therefore bit for bit those of the composite −log softmax(x)[t] = log Σⱼ e^(xⱼ − m) − (x_t − m);
 * in float32 they are computed in float64 and rounded once (the composite rounds every step).
 */
import { allocate, type DType, type TypedArray } from '../../tensor/dtype.js';
import { ValueError } from '../../tensor/errors.js';
import type { View } from '../../tensor/storage.js';

/** The class target of row i, checked against the number of classes. */
function targetOf(op: string, targets: View, i: number, classes: number): number {
  const t = targets.data[targets.offset + i * targets.strides[0]!]!;
  if (!(t >= 0 && t < classes)) {
    throw new ValueError(`${op}: target ${t} is out of range for ${classes} classes (expected 0 … ${classes - 1}), at index ${i}`);
  }
  return t;
}

/** The shift of a row: its maximum (NaN if it has one), or 0 when that is not finite. */
function rowShift(data: TypedArray, base: number, step: number, classes: number): number {
  let m = -Infinity;
  for (let j = 0; j < classes; j++) {
    const v = data[base + j * step]!;
    if (v > m || v !== v) m = v;
  }
  return m - m === 0 ? m : 0;
}

/**
 * Backend.crossEntropy: loss[i] = log Σⱼ exp(x[i, j] − mᵢ) − (x[i, t[i]] − mᵢ) for logits x
 * [N, C] (any strides) and int32 targets [N]; a ValueError for a target outside [0, C).
 */
export function crossEntropy(x: View, targets: View, dtype: DType): TypedArray {
  const [rows, classes] = x.shape as [number, number];
  const [rowStep, step] = x.strides as [number, number];
  const out = allocate(dtype, rows, 'crossEntropy');
  const data = x.data;
  for (let i = 0; i < rows; i++) {
    const t = targetOf('crossEntropy', targets, i, classes);
    const base = x.offset + i * rowStep;
    const m = rowShift(data, base, step, classes);
    let sum = 0;
    for (let j = 0; j < classes; j++) sum += Math.exp(data[base + j * step]! - m);
    // −(s_t − log Σ), not log Σ − s_t: the composite's −log softmax, −0 included (one class).
    out[i] = -(data[base + t * step]! - m - Math.log(sum));
  }
  return out;
}

/**
 * Backend.crossEntropyBackward: out[i, j] = g[i] · (softmax(x[i])ⱼ − [j = t[i]]), contiguous
 * [N, C], for logits x [N, C], int32 targets [N] and per-row factors g [N] (any strides,
 * stride 0 for a mean's broadcast 1/N). softmax as the composite computes it: e^(xⱼ − m) / Σ.
 */
export function crossEntropyBackward(x: View, targets: View, g: View, dtype: DType): TypedArray {
  const [rows, classes] = x.shape as [number, number];
  const [rowStep, step] = x.strides as [number, number];
  const out = allocate(dtype, rows * classes, 'crossEntropyBackward');
  const data = x.data;
  const e = new Float64Array(classes);
  for (let i = 0; i < rows; i++) {
    const t = targetOf('crossEntropyBackward', targets, i, classes);
    const base = x.offset + i * rowStep;
    const m = rowShift(data, base, step, classes);
    let sum = 0;
    for (let j = 0; j < classes; j++) {
      const v = Math.exp(data[base + j * step]! - m);
      e[j] = v;
      sum += v;
    }
    const gi = g.data[g.offset + i * g.strides[0]!]!;
    const row = i * classes;
    for (let j = 0; j < classes; j++) out[row + j] = gi * (e[j]! / sum - (j === t ? 1 : 0));
  }
  return out;
}
