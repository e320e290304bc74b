/**
 * The one interface every backend implements (docs/design.md §4). Kernels are few and generic:
 * they know shapes, strides and typed arrays, nothing of gradients or tensors.
 *
 * Conventions shared by every method:
 * - Inputs are `View`s: any strides (0 = broadcast), any offset. Outputs are new, contiguous,
 *   row-major arrays of the requested dtype that the caller owns.
 * - Binary kernels receive operands already broadcast to the output shape (by strides), so no
 *   backend ever implements broadcasting rules itself.
 * - Reductions accumulate in float64 whatever the storage dtype. Products (matmul and
 *   convolution) accumulate in float64 on the cpu backend, and in the storage dtype on the wasm
 *   and GPU.js backends (a float32 product there sums in float32, as PyTorch's CPU kernels do).
 */
import type { DType, TypedArray } from '../tensor/dtype.js';
import type { Shape } from '../tensor/shape.js';
import type { View } from '../tensor/storage.js';
import type { AvgPoolGeometry, Conv2dGeometry, PoolGeometry } from './geometry.js';
import type { ArgReduceFn, BinaryFn, ReduceFn, UnaryFn } from './scalar.js';

/** The scans of Backend.scan: running sums, or running log-sum-exps. */
export type ScanFn = 'sum' | 'logaddexp';

/**
 * The kernels an engine backend provides ('cpu', 'wasm', 'gpu', or one registered with
 * registerBackend): the minitorch-style generic map / zip / reduce / matmul plus indexing,
 * convolution and pooling. Every method follows the conventions of the file comment: strided
 * `View` inputs, fresh contiguous row-major outputs, operands already broadcast, float64
 * accumulation. Implement it to add a backend; call it through getBackend().
 */
export interface Backend {
  /** The name the registry knows it by (setBackend(name), currentBackendInfo().name). */
  readonly name: string;

  /** `out[i] = UNARY[fn](x[i], p, q)`: one scalar function of kernels/scalar.ts, elementwise. */
  map(fn: UnaryFn, x: View, dtype: DType, p?: number, q?: number): TypedArray;

  /**
   * `out[i] = BINARY[fn](a[i], b[i])`; `a` and `b` already have the output's shape. With `into`
   * (a contiguous array of the output's size and dtype) the result is written there and
   * returned, so that a caller can reuse a workspace.
   */
  zip(fn: BinaryFn, a: View, b: View, dtype: DType, into?: TypedArray): TypedArray;

  /** `out[i] = cond[i] != 0 ? a[i] : b[i]`; all three already have the output's shape. */
  where(cond: View, a: View, b: View, dtype: DType): TypedArray;

  /** Reduce the sorted `axes` of `x`; the result has `x.shape` without those axes. */
  reduce(fn: ReduceFn, x: View, axes: readonly number[], dtype: DType): TypedArray;

  /** Index of the first extremum along `axis` (NaN counts as the extremum, as in PyTorch). */
  argReduce(fn: ArgReduceFn, x: View, axis: number): Int32Array;

  /**
   * Inclusive scan along `axis` (from the end when `reverse`), contiguous, x's shape:
   * 'sum' out[k] = Σ_{j ≤ k} x[j] (cumsum); 'logaddexp' out[k] = log Σ_{j ≤ k} exp x[j] with a
   * running maximum, so it neither overflows nor underflows (logcumsumexp). Accumulates in float64.
   */
  scan(fn: ScanFn, x: View, axis: number, reverse: boolean, dtype: DType): TypedArray;

  /**
   * The first-order linear recurrence h[k] = a[k]·h[k−1] + b[k], h[−1] = 0, along `axis`
   * (h[k] = a[k]·h[k+1] + b[k], h[n] = 0, when `reverse`); a and b of one shape (a may be a
   * broadcast view); contiguous result of b's shape, accumulated in float64 (cumprod, prod).
   */
  linearScan(a: View, b: View, axis: number, reverse: boolean, dtype: DType): TypedArray;

  /**
   * Batched matrix product. `a` is `[...batch, M, K]` and `b` is `[...batch, K, N]`, with the same
   * (already broadcast) batch shape; any strides, so a transposed view is multiplied as it is.
   */
  matmul(a: View, b: View, dtype: DType): TypedArray;

  /**
   * Batched outer products out[b, n, k] = g[b, n] · a[b, k] of g [B, N] and a [B, K] — the
   * per-sample weight gradients of a Linear layer. With `into` (contiguous, B·N·K numbers of
   * `dtype`) the result is written there and returned.
   */
  outerRows(g: View, a: View, dtype: DType, into?: TypedArray): TypedArray;

  /**
   * Optional: memory for long-lived arrays that this backend's kernels write in place without
   * a copy (the wasm backend: float32 arrays in WebAssembly memory), or undefined where it
   * has none. A PerSampleWorkspace takes its arrays from one.
   */
  createArena?(): Arena | undefined;

  /**
   * `dst[dstOffset + i] ← dst[dstOffset + i] + alpha·src[srcOffset + i]` for i < n in place,
   * rounded as `add(dst, mul(src, alpha))` rounds: the optimizer's update `p.add_(g, alpha)` on
   * contiguous tensors of one float dtype.
   */
  addScaledInPlace(dst: Float32Array | Float64Array, dstOffset: number, src: Float32Array | Float64Array, srcOffset: number, n: number, alpha: number): void;

  /** Write `src` into the (possibly strided) view `dst`, element by element. Same shapes. */
  copyInto(src: View, dst: View): void;

  /** torch.gather: out[…i…] = x[… index[…i…] along axis …]; out has the index's shape. */
  gather(x: View, axis: number, index: View, dtype: DType): TypedArray;

  /**
   * The transpose of gather: a zero array of `shape` into which src[…i…] is added at
   * position index[…i…] along `axis`.
   */
  scatterAdd(src: View, axis: number, index: View, shape: Shape, dtype: DType): TypedArray;

  // ---- convolution and pooling (NCHW, PyTorch semantics; see geometry.ts) --------------

  /** Cross-correlation of x [N, Cin, H, W] with w [Cout, Cin/groups, kh, kw] → [N, Cout, Ho, Wo]. */
  conv2d(x: View, w: View, geometry: Conv2dGeometry, dtype: DType): TypedArray;

  /** Gradient of conv2d with respect to its input: gy [N, Cout, Ho, Wo], w → [N, Cin, H, W] (inputShape). */
  conv2dBackwardInput(gy: View, w: View, inputShape: Shape, geometry: Conv2dGeometry, dtype: DType): TypedArray;

  /** Gradient of conv2d with respect to its weight: x, gy [N, Cout, Ho, Wo] → weightShape. */
  conv2dBackwardWeight(x: View, gy: View, weightShape: Shape, geometry: Conv2dGeometry, dtype: DType): TypedArray;

  /**
   * Max pooling (implicit −∞ padding): values [N, C, Ho, Wo] and, for each, the flat index
   * h·W + w of the (first) maximum within its (n, c) plane of the unpadded input.
   */
  maxPool2d(
    x: View,
    geometry: PoolGeometry,
    dtype: DType,
  ): {
    /** The maxima, [N, C, Ho, Wo] of `dtype`. */
    values: TypedArray;
    /** For each maximum, its flat index h·W + w within its (n, c) plane of x (same layout as values). */
    indices: Int32Array;
  };

  /**
   * Gradient of maxPool2d: gy [N, C, Ho, Wo] added into zeros of `inputShape` at the flat
   * in-plane index h·W + w that maxPool2d gave for each output (`indices`, int32, gy's shape);
   * gradients that meet at one input (overlapping windows) are summed.
   */
  maxPool2dBackward(gy: View, indices: View, inputShape: Shape, geometry: PoolGeometry, dtype: DType): TypedArray;

  /** Average pooling with zero padding → [N, C, Ho, Wo]. */
  avgPool2d(x: View, geometry: AvgPoolGeometry, dtype: DType): TypedArray;

  /** Gradient of avgPool2d: gy [N, C, Ho, Wo] → inputShape (it is avgPool2d's transpose). */
  avgPool2dBackward(gy: View, inputShape: Shape, geometry: AvgPoolGeometry, dtype: DType): TypedArray;

  // ---- softmax cross-entropy (logits x [N, C], int32 class targets [N]) ----------------

  /**
   * Per-sample cross-entropy, fused: loss[i] = log Σⱼ exp(x[i, j] − mᵢ) − (x[i, tᵢ] − mᵢ) → [N],
   * with mᵢ the row's maximum (0 where that is not finite), the sum accumulated in float64.
   * Throws a ValueError for a target outside [0, C).
   */
  crossEntropy(x: View, targets: View, dtype: DType): TypedArray;

  /**
   * Its gradient for the per-sample factors g [N]: out[i, j] = g[i]·(softmax(x[i])ⱼ − [j = tᵢ]),
   * contiguous [N, C]. Throws a ValueError for a target outside [0, C).
   */
  crossEntropyBackward(x: View, targets: View, g: View, dtype: DType): TypedArray;

  // ---- normalization (x [N, C, …], statistics per channel over every other axis) -------

  /**
   * BatchNorm in train mode, fused: y = (x − μ)/√(σ² + ε)·γ + β with the batch mean μ and
   * BIASED variance σ² of each channel (accumulated in float64), γ and β [C] views or null
   * (1 and 0). Returns y (x's shape, contiguous) and the statistics.
   */
  batchNormForward(
    x: View,
    weight: View | null,
    bias: View | null,
    eps: number,
    dtype: DType,
  ): {
    /** The normalized (and scaled, shifted) output, x's shape, contiguous, of `dtype`. */
    y: TypedArray;
    /** The batch mean of each channel, [C], in float64. */
    mean: Float64Array;
    /** The biased batch variance Σ(x − μ)²/n of each channel, [C], in float64. */
    variance: Float64Array;
  };

  /**
   * The gradient of batchNormForward for the output gradient gy (x's shape), with μ and σ²
   * recomputed from x, packed into one array: ∂/∂x (x's size, row-major), then — only when
   * `weight` is given — ∂/∂γ and ∂/∂β ([C] each).
   */
  batchNormBackward(x: View, gy: View, weight: View | null, eps: number, dtype: DType): TypedArray;

  /**
   * BatchNorm in eval mode, fused: y = x·s[c] + t[c] per channel c (axis 1) of x [N, C, …],
   * with s and t [C] views (t null: 0), computed in float64 and rounded once to `dtype`;
   * contiguous.
   */
  channelAffine(x: View, scale: View, shift: View | null, dtype: DType): TypedArray;

  /** Its parameters' gradients: [Σ g·x | Σ g] per channel of g and x [N, C, …] (one shape), [2C], accumulated in float64. */
  channelSums(g: View, x: View, dtype: DType): Float64Array;

  /** Both at once, packed in `dtype`: [g·s[c] (x's size, row-major) | Σ g·x | Σ g], one pass over g and x. */
  channelAffineBackward(g: View, x: View, scale: View, dtype: DType): TypedArray;

  // ---- layer normalization (statistics per row of the last n values) -------------------

  /**
   * LayerNorm, fused: y = (x − μ)/√(σ² + ε)·γ + β for every row of n consecutive
   * (row-major) values of x, with the row's mean μ and BIASED variance σ² (two-pass, in
   * float64), γ and β views of n values or null (1 and 0). Returns y, x's shape, contiguous,
   * of `dtype`.
   */
  layerNormForward(x: View, weight: View | null, bias: View | null, n: number, eps: number, dtype: DType): TypedArray;

  /**
   * The gradient of layerNormForward for the output gradient gy (x's shape), μ and σ²
   * recomputed from x: ∂/∂x = r (h − Σh/n − x̂·Σh x̂/n) per row with h = γ·gy and
   * r = 1/√(σ² + ε), row-major; then — only when `weight` is given — ∂/∂γ = Σ gy x̂ and
   * ∂/∂β = Σ gy over the rows (n each), packed into one array.
   */
  layerNormBackward(x: View, gy: View, weight: View | null, n: number, eps: number, dtype: DType): TypedArray;
}

/**
 * Long-lived memory that a backend's kernels write without a copy (see Backend.createArena):
 * the wasm backend's arena hands out float32 arrays inside WebAssembly memory.
 */
export interface Arena {
  /** A zeroed array of `size` numbers, or undefined if this arena does not hold `dtype` or is full. */
  allocate(dtype: DType, size: number): TypedArray | undefined;
}
