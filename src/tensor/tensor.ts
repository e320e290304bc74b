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
import { contiguousStrides, isContiguous, sizeOf, type Shape } from './shape.js';
import { Storage, type View } from './storage.js';
import { inPlaceOperand, tensorArgument } from '../autograd/operands.js';
import { boolArgument, finiteArgument, numberArgument } from './arguments.js';

/** A nested array of numbers, as accepted by `tensor()` and returned by `toArray()`. */
export type NestedArray = number | NestedArray[];

export interface BackwardOptions {
  /** Gradient of the (non-scalar) tensor; defaults to 1 for a scalar. */
  gradient?: Tensor;
  /** Keep saved tensors so that backward can run again through this graph. */
  retainGraph?: boolean;
  /** Record the backward pass itself, so that `.grad` can be differentiated again. */
  createGraph?: boolean;
}

export class Tensor implements View {
  /** Whether gradients with respect to this tensor are wanted (leaves) or flow (results). */
  requiresGrad = false;
  /** Accumulated gradient of a leaf after `backward()`. */
  grad: Tensor | null = null;
  /** The op application that produced this tensor; null for leaves. */
  node: Node | null = null;
  /** Optional name shown in graph exports. */
  label: string | undefined;

  constructor(
    readonly storage: Storage,
    readonly shape: Shape,
    readonly strides: readonly number[],
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

  get data(): TypedArray {
    return this.storage.data;
  }

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

  get isLeaf(): boolean {
    return this.node === null;
  }

  isContiguous(): boolean {
    return isContiguous(this.shape, this.strides);
  }

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

  zero_(): this {
    return this.fill_(0);
  }

  // ---- ops: every method forwards to autograd/ (see the op files for the math) ---------

  add(other: Tensor | number): Tensor { return F.add(this, other); }
  sub(other: Tensor | number): Tensor { return F.sub(this, other); }
  mul(other: Tensor | number): Tensor { return F.mul(this, other); }
  div(other: Tensor | number): Tensor { return F.div(this, other); }
  /** this ** exponent; a number exponent uses the scalar-exponent op. */
  pow(exponent: Tensor | number): Tensor { return F.pow(this, exponent); }
  neg(): Tensor { return F.neg(this); }
  exp(): Tensor { return F.exp(this); }
  log(): Tensor { return F.log(this); }
  sqrt(): Tensor { return F.sqrt(this); }
  abs(): Tensor { return F.abs(this); }
  square(): Tensor { return F.square(this); }
  reciprocal(): Tensor { return F.reciprocal(this); }
  sign(): Tensor { return F.sign(this); }
  tanh(): Tensor { return F.tanh(this); }
  sigmoid(): Tensor { return F.sigmoid(this); }
  relu(): Tensor { return F.relu(this); }
  elu(alpha = 1): Tensor { return F.elu(this, alpha); }
  softplus(beta = 1, threshold = 20): Tensor { return F.softplus(this, beta, threshold); }
  maximum(other: Tensor | number): Tensor { return F.maximum(this, other); }
  minimum(other: Tensor | number): Tensor { return F.minimum(this, other); }
  clamp(min: number | null, max: number | null): Tensor { return F.clamp(this, min, max); }

  eq(other: Tensor | number): Tensor { return F.eq(this, other); }
  ne(other: Tensor | number): Tensor { return F.ne(this, other); }
  lt(other: Tensor | number): Tensor { return F.lt(this, other); }
  le(other: Tensor | number): Tensor { return F.le(this, other); }
  gt(other: Tensor | number): Tensor { return F.gt(this, other); }
  ge(other: Tensor | number): Tensor { return F.ge(this, other); }

  sum(axis?: number | readonly number[] | null, keepdim = false): Tensor { return F.sum(this, axis, keepdim); }
  mean(axis?: number | readonly number[] | null, keepdim = false): Tensor { return F.mean(this, axis, keepdim); }
  var(axis?: number | readonly number[] | null, options: F.VarOptions = {}): Tensor { return F.variance(this, axis, options); }
  /** Maximum values (over all elements, or along `axis`). Use `maxWithIndices` for the indices. */
  max(axis?: number | null, keepdim = false): Tensor { return F.max(this, axis, keepdim).values; }
  min(axis?: number | null, keepdim = false): Tensor { return F.min(this, axis, keepdim).values; }
  maxWithIndices(axis?: number | null, keepdim = false): F.ValuesIndices { return F.max(this, axis, keepdim); }
  minWithIndices(axis?: number | null, keepdim = false): F.ValuesIndices { return F.min(this, axis, keepdim); }
  argmax(axis?: number | null, keepdim = false): Tensor { return F.argmax(this, axis, keepdim); }
  argmin(axis?: number | null, keepdim = false): Tensor { return F.argmin(this, axis, keepdim); }
  logsumexp(axis?: number | readonly number[] | null, keepdim = false): Tensor { return F.logsumexp(this, axis, keepdim); }
  softmax(axis: number): Tensor { return F.softmax(this, axis); }
  logSoftmax(axis: number): Tensor { return F.logSoftmax(this, axis); }
  matmul(other: Tensor): Tensor { return F.matmul(this, other); }

  reshape(shape: readonly number[]): Tensor { return F.reshape(this, shape); }
  flatten(startAxis = 0, endAxis = -1): Tensor { return F.flatten(this, startAxis, endAxis); }
  permute(dims: readonly number[]): Tensor { return F.permute(this, dims); }
  transpose(axis0?: number, axis1?: number): Tensor { return F.transpose(this, axis0, axis1); }
  expand(shape: readonly number[]): Tensor { return F.expand(this, shape); }
  broadcastTo(shape: readonly number[]): Tensor { return F.expand(this, shape); }
  squeeze(axis?: number | readonly number[]): Tensor { return F.squeeze(this, axis); }
  unsqueeze(axis: number): Tensor { return F.unsqueeze(this, axis); }
  slice(specs: readonly F.SliceSpec[]): Tensor { return F.slice(this, specs); }
  pad(widths: readonly (readonly [number, number])[], value = 0): Tensor { return F.pad(this, widths, value); }
  gather(axis: number, index: Tensor): Tensor { return F.gather(this, axis, index); }
  contiguous(): Tensor { return F.contiguous(this); }
  clone(): Tensor { return F.clone(this); }
  to(dtype: DType): Tensor { return F.cast(this, dtype); }
}
