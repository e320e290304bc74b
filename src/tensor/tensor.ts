/**
 * The Tensor: a strided view of a typed array, plus what autograd needs (requiresGrad, the
 * node that produced it, the accumulated `.grad`).
 *
 * Methods are thin: each one forwards to the op of the same name in `autograd/`, where the
 * math and its derivative live. Views (reshape of a contiguous tensor, permute, transpose,
 * expand, slice) share storage and never copy.
 */
import * as F from '../autograd/functional.js';
import type { Node } from '../autograd/op.js';
import { getBackend } from '../kernels/registry.js';
import { allocate, assertFloat, type DType, type TypedArray } from './dtype.js';
import { GradError, ShapeError, ValueError, formatShape } from './errors.js';
import { contiguousStrides, isContiguous, shapesEqual, sizeOf, type Shape } from './shape.js';
import { Storage, type View } from './storage.js';
import { inPlaceOperand, tensorArgument } from '../autograd/operands.js';
import { boolArgument, finiteArgument, numberArgument } from './arguments.js';

/** A nested array of numbers, as accepted by `tensor()` and returned by `toArray()`. */
export type NestedArray = number | NestedArray[];

/** Options of `Tensor.backward`, as torch.Tensor.backward's arguments. */
export interface BackwardOptions {
  /** Gradient of the (non-scalar) tensor; defaults to 1 for a scalar. */
  gradient?: Tensor;
  /** Keep saved tensors so that backward can run again through this graph. */
  retainGraph?: boolean;
  /** Record the backward pass itself, so that `.grad` can be differentiated again. */
  createGraph?: boolean;
}

/**
 * An n-dimensional array of float32, float64 or int32 that records, when grad mode is on and
 * an input requires grad, how it was computed, as torch.Tensor does. A tensor is a view
 * (`shape`, `strides`, `offset`) of a shared `Storage`; view ops never copy.
 *
 * Every op method forwards to the function of the same name (`x.add(y)` is `add(x, y)`), so
 * the function's documentation has the details. Elementwise binary ops broadcast with NumPy
 * rules and accept a number for the other operand; operands of different dtypes are refused,
 * never promoted. Methods are differentiable unless they say otherwise, and differentiable
 * ones need a float tensor (int32 holds indices and class targets). In-place methods end
 * with `_` and are never recorded.
 * @example
 * const x = tensor([1, 2, 3], { dtype: 'float64' }).requireGrad();
 * x.mul(x).sum().backward(); // x.grad = [2, 4, 6]
 */
export class Tensor implements View {
  /** Whether gradients with respect to this tensor are wanted (leaves) or flow (results). */
  requiresGrad = false;
  /** Accumulated gradient of a leaf after `backward()`. */
  grad: Tensor | null = null;
  /** The op application that produced this tensor; null for leaves. */
  node: Node | null = null;
  /** Optional name shown in graph exports. */
  label: string | undefined;

  /**
   * A view of `storage`, taken as is (nothing is copied or checked). Prefer the creation
   * functions (`tensor`, `zeros`, …), `Tensor.fromData` or `Tensor.viewOf`.
   */
  constructor(
    /** The typed array and version counter this tensor views, shared with every other view of it. */
    readonly storage: Storage,
    /** Size of each axis, outermost first (`[]` for a 0-d tensor). */
    readonly shape: Shape,
    /** Elements to step in `storage.data` per unit of each axis (row-major when contiguous, 0 on an expanded axis). */
    readonly strides: readonly number[],
    /** Index in `storage.data` of the element at [0, …, 0]. */
    readonly offset: number,
  ) {}

  /** A contiguous tensor owning `data` (not copied). */
  static fromData(data: TypedArray, shape: Shape): Tensor {
    return new Tensor(new Storage(data), shape.slice(), contiguousStrides(shape), 0);
  }

  /** A view of `base`'s storage with other shape/strides/offset. */
  static viewOf(base: Tensor, shape: Shape, strides: readonly number[], offset: number): Tensor {
    return new Tensor(base.storage, shape.slice(), strides.slice(), offset);
  }

  // ---- information -------------------------------------------------------------------

  /** The whole underlying typed array, shared with other views: read it through shape/strides/offset, or use toTypedArray(). */
  get data(): TypedArray {
    return this.storage.data;
  }

  /** 'float32', 'float64' or 'int32', from the storage's array type. */
  get dtype(): DType {
    const d = this.storage.data;
    return d instanceof Float64Array ? 'float64' : d instanceof Float32Array ? 'float32' : 'int32';
  }

  /** Number of axes. */
  get rank(): number {
    return this.shape.length;
  }

  /** Number of elements. */
  get size(): number {
    return sizeOf(this.shape);
  }

  /** The storage's in-place version counter (shared by every view of it). */
  get version(): number {
    return this.storage.version;
  }

  /** True unless a recorded op produced this tensor (`node` is null), as torch's is_leaf. Only leaves receive `.grad`. */
  get isLeaf(): boolean {
    return this.node === null;
  }

  /** Whether the elements lie in row-major order without gaps (size-1 axes may have any stride). */
  isContiguous(): boolean {
    return isContiguous(this.shape, this.strides);
  }

  /** A short description, e.g. `Tensor([2,3], float32, requiresGrad)`; the values are not printed. */
  toString(): string {
    return `Tensor(${formatShape(this.shape)}, ${this.dtype}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }

  // ---- reading values ------------------------------------------------------------------

  /** The elements in row-major order, as a new contiguous typed array. */
  toTypedArray(): TypedArray {
    if (this.isContiguous()) return this.data.slice(this.offset, this.offset + this.size);
    const out = allocate(this.dtype, this.size);
    getBackend().copyInto(this, { data: out, shape: this.shape, strides: contiguousStrides(this.shape), offset: 0 });
    return out;
  }

  /** The value as nested JavaScript arrays (a number for a 0-d tensor). */
  toArray(): NestedArray {
    const flat = this.toTypedArray();
    const build = (axis: number, start: number): NestedArray => {
      if (axis === this.rank) return flat[start]!;
      const inner = sizeOf(this.shape.slice(axis + 1));
      return Array.from({ length: this.shape[axis]! }, (_, i) => build(axis + 1, start + i * inner));
    };
    return build(0, 0);
  }

  /** The single value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) {
      throw new ShapeError(`item: expected a tensor with one element; got shape ${formatShape(this.shape)}`);
    }
    return this.data[this.offset]!;
  }

  // ---- autograd ------------------------------------------------------------------------

  /**
   * Mark a leaf as requiring gradients (returns `this`).
   * @example const w = randn([3, 2], { seed: 0 }).requireGrad();
   */
  requireGrad(flag = true): this {
    boolArgument('requireGrad', 'flag', flag, true);
    if (!this.isLeaf) {
      throw new GradError(
        `requireGrad: only leaf tensors can change requiresGrad; this one was produced by '${this.node!.op.name}' (use detach() first)`,
      );
    }
    if (flag) assertFloat('requireGrad', this.dtype);
    this.requiresGrad = flag;
    return this;
  }

  /** Called by `apply` when an op records this tensor as its output. */
  attachNode(node: Node): void {
    this.node = node;
    this.requiresGrad = true;
  }

  /** A tensor sharing this storage, cut from the graph (no node, no requiresGrad). */
  detach(): Tensor {
    return Tensor.viewOf(this, this.shape, this.strides, this.offset);
  }

  /**
   * Accumulate d(this)/d(leaf) into the `.grad` of every leaf that requires grad.
   * @example const y = x.mul(x).sum(); y.backward(); x.grad; // 2x
   */
  backward(options: BackwardOptions = {}): void {
    F.backward(this, options);
  }

  /** Set `.grad` to null. */
  zeroGrad(): void {
    this.grad = null;
  }

  // ---- in-place updates (never recorded; they bump the version counter) ----------------

  /** True for vmap's per-sample view of a batched value (autograd/batching.ts). */
  get isBatched(): boolean {
    return false;
  }

  private assertWritable(op: string): void {
    if (this.isBatched) {
      throw new ValueError(`${op}: cannot modify a batched tensor in place inside vmap; compute a new tensor instead`);
    }
    if (this.shape.some((d, i) => d > 1 && this.strides[i] === 0)) {
      throw new ValueError(
        `${op}: cannot write in place into an expanded (broadcast) view of shape ${formatShape(this.shape)}: ` +
          `several elements share one memory location; write into a contiguous() copy instead`,
      );
    }
    if (this.requiresGrad && F.isGradEnabled()) {
      throw new GradError(
        `${op}: a tensor that requires grad cannot be modified in place while the graph is recorded; ` +
          `wrap the update in noGrad(() => …)`,
      );
    }
  }

  /** Check that this may be written, then write what `values` computes (computed only then). */
  private writeFrom(op: string, values: () => TypedArray): this {
    this.assertWritable(op);
    const computed = values();
    const src = { data: computed, shape: this.shape, strides: contiguousStrides(this.shape), offset: 0 };
    getBackend().copyInto(src, this);
    this.storage.version++;
    return this;
  }

  /** this ← src (broadcast to this shape). */
  copy_(src: Tensor): this {
    tensorArgument('copy_', src, 'the source to be a Tensor');
    return this.writeFrom('copy_', () => F.noGrad(() => F.expand(F.cast(src, this.dtype), this.shape)).toTypedArray());
  }

  /** this ← this + alpha·other. */
  add_(other: Tensor | number, alpha = 1): this {
    inPlaceOperand('add_', this, other);
    finiteArgument('add_', 'alpha', alpha);
    // The optimizer's update p ← p + α·g on two contiguous float tensors of one shape, dtype and
    // no shared storage: one pass, same rounding as the general path below.
    if (other instanceof Tensor && canAddScaledInPlace(this, other)) {
      this.assertWritable('add_');
      getBackend().addScaledInPlace(this.data as Float32Array | Float64Array, this.offset, other.data as Float32Array | Float64Array, other.offset, this.size, alpha);
      this.storage.version++;
      return this;
    }
    const scaled = alpha === 1 ? other : typeof other === 'number' ? other * alpha : F.noGrad(() => F.mul(other, alpha));
    return this.writeFrom('add_', () => F.noGrad(() => F.add(this.detach(), scaled)).toTypedArray());
  }

  /** this ← this · other. */
  mul_(other: Tensor | number): this {
    inPlaceOperand('mul_', this, other);
    return this.writeFrom('mul_', () => F.noGrad(() => F.mul(this.detach(), other)).toTypedArray());
  }

  /** this ← value everywhere. */
  fill_(value: number): this {
    numberArgument('fill_', 'the fill value', value);
    return this.writeFrom('fill_', () => allocate(this.dtype, this.size).fill(value));
  }

  /** this ← 0 everywhere (fill_(0)); same rules as the other in-place methods. */
  zero_(): this {
    return this.fill_(0);
  }

  // ---- ops: every method forwards to autograd/ (see the op files for the math) ---------

  /** this + other, broadcasting. */
  add(other: Tensor | number): Tensor { return F.add(this, other); }
  /** this − other, broadcasting. */
  sub(other: Tensor | number): Tensor { return F.sub(this, other); }
  /** this · other elementwise, broadcasting. */
  mul(other: Tensor | number): Tensor { return F.mul(this, other); }
  /** this / other elementwise (IEEE division: x/0 is ±∞ or NaN), broadcasting. */
  div(other: Tensor | number): Tensor { return F.div(this, other); }
  /** this ** exponent elementwise, broadcasting; a number exponent uses powScalar (then differentiable in this only). */
  pow(exponent: Tensor | number): Tensor { return F.pow(this, exponent); }
  /** −this. */
  neg(): Tensor { return F.neg(this); }
  /** eˣ elementwise. */
  exp(): Tensor { return F.exp(this); }
  /** Natural logarithm elementwise (−∞ at 0, NaN below). */
  log(): Tensor { return F.log(this); }
  /** √x elementwise (NaN below 0). */
  sqrt(): Tensor { return F.sqrt(this); }
  /** |x| elementwise (derivative 0 at 0). */
  abs(): Tensor { return F.abs(this); }
  /** x² elementwise. */
  square(): Tensor { return F.square(this); }
  /** 1/x elementwise. */
  reciprocal(): Tensor { return F.reciprocal(this); }
  /** −1, 0 or 1 elementwise in this dtype (NaN stays NaN); not differentiable. */
  sign(): Tensor { return F.sign(this); }
  /** Hyperbolic tangent elementwise. */
  tanh(): Tensor { return F.tanh(this); }
  /** Logistic σ(x) = 1/(1 + e⁻ˣ) elementwise. */
  sigmoid(): Tensor { return F.sigmoid(this); }
  /** max(x, 0) elementwise (derivative 0 at 0). */
  relu(): Tensor { return F.relu(this); }
  /** ELU elementwise: x for x > 0, else α(eˣ − 1). */
  elu(alpha = 1): Tensor { return F.elu(this, alpha); }
  /** (1/β)·ln(1 + e^{βx}) elementwise, x itself where βx > threshold (torch's softplus). */
  softplus(beta = 1, threshold = 20): Tensor { return F.softplus(this, beta, threshold); }
  /** Elementwise max with other, broadcasting; ties split the gradient ½/½. */
  maximum(other: Tensor | number): Tensor { return F.maximum(this, other); }
  /** Elementwise min with other, broadcasting; ties split the gradient ½/½. */
  minimum(other: Tensor | number): Tensor { return F.minimum(this, other); }
  /** Clamp into [min, max] (null: no bound); gradient 1 inside the closed interval, 0 outside. */
  clamp(min: number | null, max: number | null): Tensor { return F.clamp(this, min, max); }

  /** 1 where this = other, else 0, in this dtype; broadcasting; not differentiable. */
  eq(other: Tensor | number): Tensor { return F.eq(this, other); }
  /** 1 where this ≠ other, else 0, in this dtype; broadcasting; not differentiable. */
  ne(other: Tensor | number): Tensor { return F.ne(this, other); }
  /** 1 where this < other, else 0, in this dtype; broadcasting; not differentiable. */
  lt(other: Tensor | number): Tensor { return F.lt(this, other); }
  /** 1 where this ≤ other, else 0, in this dtype; broadcasting; not differentiable. */
  le(other: Tensor | number): Tensor { return F.le(this, other); }
  /** 1 where this > other, else 0, in this dtype; broadcasting; not differentiable. */
  gt(other: Tensor | number): Tensor { return F.gt(this, other); }
  /** 1 where this ≥ other, else 0, in this dtype; broadcasting; not differentiable. */
  ge(other: Tensor | number): Tensor { return F.ge(this, other); }

  /** Sum over `axis` (a number, a list, or all axes when omitted/null), dropping it unless keepdim. */
  sum(axis?: number | readonly number[] | null, keepdim = false): Tensor { return F.sum(this, axis, keepdim); }
  /** Mean over `axis` (all axes when omitted/null), dropping it unless keepdim. */
  mean(axis?: number | readonly number[] | null, keepdim = false): Tensor { return F.mean(this, axis, keepdim); }
  /** Variance over `axis` (all axes when omitted/null), unbiased (correction 1) unless options.correction says otherwise. */
  var(axis?: number | readonly number[] | null, options: F.VarOptions = {}): Tensor { return F.variance(this, axis, options); }
  /** Maximum values (over all elements, or along `axis`). Use `maxWithIndices` for the indices. */
  max(axis?: number | null, keepdim = false): Tensor { return F.max(this, axis, keepdim).values; }
  /** Minimum values (over all elements, or along `axis`); the gradient reaches the first minimum. Use `minWithIndices` for the indices. */
  min(axis?: number | null, keepdim = false): Tensor { return F.min(this, axis, keepdim).values; }
  /** `{ values, indices }` of the maximum along `axis` (or over all elements, flat index), as torch.max(dim); values differentiable, int32 indices not. */
  maxWithIndices(axis?: number | null, keepdim = false): F.ValuesIndices { return F.max(this, axis, keepdim); }
  /** `{ values, indices }` of the minimum along `axis` (or over all elements, flat index), as torch.min(dim); values differentiable, int32 indices not. */
  minWithIndices(axis?: number | null, keepdim = false): F.ValuesIndices { return F.min(this, axis, keepdim); }
  /** int32 index of the first maximum along `axis` (the flat index when omitted/null); not differentiable. */
  argmax(axis?: number | null, keepdim = false): Tensor { return F.argmax(this, axis, keepdim); }
  /** int32 index of the first minimum along `axis` (the flat index when omitted/null); not differentiable. */
  argmin(axis?: number | null, keepdim = false): Tensor { return F.argmin(this, axis, keepdim); }
  /** log Σ exp over `axis` (all axes when omitted/null), computed stably with the maximum shifted out. */
  logsumexp(axis?: number | readonly number[] | null, keepdim = false): Tensor { return F.logsumexp(this, axis, keepdim); }
  /** Softmax along `axis` (required), computed from x − max so that it is stable for any magnitude. */
  softmax(axis: number): Tensor { return F.softmax(this, axis); }
  /** log softmax along `axis`, computed as (x − max) − log Σ exp(x − max). */
  logSoftmax(axis: number): Tensor { return F.logSoftmax(this, axis); }
  /** Matrix product over the last two axes with leading axes broadcast; 1-D operands as in torch.matmul. */
  matmul(other: Tensor): Tensor { return F.matmul(this, other); }

  /** The same elements (row-major) in a new shape, one −1 inferred; a view when possible, else a copy. */
  reshape(shape: readonly number[]): Tensor { return F.reshape(this, shape); }
  /** Merge axes startAxis … endAxis (inclusive; default all) into one. */
  flatten(startAxis = 0, endAxis = -1): Tensor { return F.flatten(this, startAxis, endAxis); }
  /** Reorder the axes: output axis i is axis dims[i] (a view). */
  permute(dims: readonly number[]): Tensor { return F.permute(this, dims); }
  /** Swap two axes, by default the last two (a view); a 0-d or 1-d tensor is returned as is. */
  transpose(axis0?: number, axis1?: number): Tensor { return F.transpose(this, axis0, axis1); }
  /** Broadcast to `shape` (−1 keeps a size) as a stride-0 view; do not write into it in place. */
  expand(shape: readonly number[]): Tensor { return F.expand(this, shape); }
  /** The same as expand (torch.broadcast_to). */
  broadcastTo(shape: readonly number[]): Tensor { return F.expand(this, shape); }
  /** Remove size-1 axes: all, or those listed (listed axes of another size are kept). */
  squeeze(axis?: number | readonly number[]): Tensor { return F.squeeze(this, axis); }
  /** Insert a size-1 axis at `axis` of the result (−1 appends). */
  unsqueeze(axis: number): Tensor { return F.unsqueeze(this, axis); }
  /** Python basic slicing, `specs[i] = [start, stop, step?]` or null for axis i (a view; step ≥ 1). */
  slice(specs: readonly F.SliceSpec[]): Tensor { return F.slice(this, specs); }
  /** Constant padding, `widths[i] = [before, after]` for axis i in np.pad order (first axis first). */
  pad(widths: readonly (readonly [number, number])[], value = 0): Tensor { return F.pad(this, widths, value); }
  /** torch.gather along `axis` with an int32 index of the same rank; the result has the index's shape. */
  gather(axis: number, index: Tensor): Tensor { return F.gather(this, axis, index); }
  /** This tensor if already row-major contiguous, otherwise a contiguous copy (differentiable). */
  contiguous(): Tensor { return F.contiguous(this); }
  /** A copy in new storage (differentiable, like torch.clone): in-place writes to it never affect this. */
  clone(): Tensor { return F.clone(this); }
  /** Convert to `dtype` (this itself if it already has it); to int32 truncates toward zero and refuses NaN/±∞/out-of-range; differentiable between float dtypes. */
  to(dtype: DType): Tensor { return F.cast(this, dtype); }
}

/** Whether target.add_(other) can take addScaledInPlace: both contiguous, one float dtype and shape, separate storage. */
function canAddScaledInPlace(target: Tensor, other: Tensor): boolean {
  const d = target.data;
  return (
    (d instanceof Float32Array || d instanceof Float64Array) &&
    other.data.constructor === d.constructor &&
    other.storage !== target.storage &&
    !other.isBatched &&
    target.isContiguous() &&
    other.isContiguous() &&
    shapesEqual(target.shape, other.shape)
  );
}
