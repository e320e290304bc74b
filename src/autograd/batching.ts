/**
 * The batching interpreter behind vmap (docs/design.md "Transforms").
 *
 * Inside `vmap`, the function sees each batched argument as a `BatchedTensor`: a tensor whose
 * shape is one sample's, standing for a physical tensor with one more axis (the batch axis,
 * `bdim`). Every primitive on a batched input runs through the op's `batch` rule on the
 * physical tensors, and the result is wrapped again. Nested vmaps are levels: a BatchedTensor
 * of level 2 may hold one of level 1; an op is interpreted at the highest level among its
 * inputs, and the rule's own ops at the levels below (the recursion peels one level at a time).
 *
 * Autograd sees both sides, which is what makes vmap and grad compose in either order:
 *   - grad inside vmap records its graph on the per-sample (logical) tensors, so its backward
 *     rules run batched and give per-sample gradients;
 *   - grad outside vmap differentiates the physical computation the rules perform.
 * A BatchedTensor's `detach()` cuts only the per-sample graph; the physical value keeps its
 * own, so a grad outside still sees through.
 *
 * A BatchedTensor has no readable storage: a kernel that reached one directly (an op without
 * a batching path) fails loudly (`internal:`) instead of computing with the wrong layout, and
 * reading values (`toArray`, `item`) inside vmap is refused: per-sample values exist only
 * after vmap returns.
 */
import { InternalError, ValueError, formatShape } from '../tensor/errors.js';
import { contiguousStrides } from '../tensor/shape.js';
import { Storage } from '../tensor/storage.js';
import { Tensor } from '../tensor/tensor.js';
import type { DType, TypedArray } from '../tensor/dtype.js';
import { perSampleView } from '../tensor/random-context.js';
import { interpreters, type NonDiffOpDef, type OpDef } from './op.js';

const EMPTY = new Float32Array(0);

/** Storage that refuses to be read; its version is the physical value's. */
function batchedStorage(value: Tensor, level: number): Storage {
  const storage = new Storage(EMPTY);
  Object.defineProperty(storage, 'data', {
    get(): never {
      if (!active.some((f) => f.level === level)) throw escaped('an op');
      throw new InternalError('a kernel read a batched tensor directly: an op ran without its batching rule');
    },
  });
  Object.defineProperty(storage, 'version', {
    get: () => value.version,
    set: (v: number) => (value.storage.version = v),
  });
  return storage;
}

function escaped(op: string): ValueError {
  return new ValueError(`${op}: a batched tensor from a vmap that has already returned was used; return it from the vmapped function instead of keeping it`);
}

function refuseRead(op: string): never {
  throw new ValueError(
    `${op}: cannot read the values of a batched tensor inside vmap (its values differ per sample); ` +
      'return the tensor from the function, or move the data-dependent step outside vmap',
  );
}

/** One sample's view of a batched physical tensor. */
export class BatchedTensor extends Tensor {
  constructor(
    /** The physical tensor, one axis longer. */
    readonly value: Tensor,
    /** Which axis of `value` is the batch axis. */
    readonly bdim: number,
    /** The vmap level this tensor belongs to. */
    readonly level: number,
  ) {
    const shape = value.shape.filter((_, i) => i !== bdim);
    super(batchedStorage(value, level), shape, contiguousStrides(shape), 0);
  }

  override get isBatched(): boolean {
    return true;
  }

  override get dtype(): DType {
    return this.value.dtype;
  }

  override get version(): number {
    return this.value.version;
  }

  override isContiguous(): boolean {
    return true;
  }

  override toTypedArray(): TypedArray {
    return refuseRead('toTypedArray');
  }

  override item(): number {
    return refuseRead('item');
  }

  override detach(): Tensor {
    return new BatchedTensor(this.value, this.bdim, this.level);
  }

  override toString(): string {
    return `BatchedTensor(${formatShape(this.shape)} per sample, ${this.dtype}, batch axis ${this.bdim} of ${formatShape(this.value.shape)}, level ${this.level})`;
  }
}

/** The active vmap levels and their batch sizes, innermost last. */
const active: { level: number; size: number }[] = [];
let nextLevel = 1;

function levelOf(t: unknown): number {
  return t instanceof BatchedTensor ? t.level : 0;
}

/** Tensors an op holds in its attrs (where's condition, gather's index), one level deep. */
function attrTensors(attrs: unknown): Tensor[] {
  if (typeof attrs !== 'object' || attrs === null) return [];
  return Object.values(attrs).filter((v): v is Tensor => v instanceof Tensor);
}

function interpret<A>(op: OpDef<A> | NonDiffOpDef<A>, inputs: readonly Tensor[], attrs: A): Tensor | undefined {
  let top = 0;
  for (const x of inputs) top = Math.max(top, levelOf(x));
  for (const t of attrTensors(attrs)) top = Math.max(top, levelOf(t));
  if (top === 0) return undefined;
  const frame = active.find((f) => f.level === top);
  if (!frame) throw escaped(op.name);
  const unwrap = (t: Tensor) => (t instanceof BatchedTensor && t.level === top ? { value: t.value, dim: t.bdim } : { value: t, dim: null });
  const parts = inputs.map(unwrap);
  const out = op.batch({ inputs: parts.map((p) => p.value), dims: parts.map((p) => p.dim), attrs, size: frame.size, unwrap });
  if (out.value.shape[out.dim] !== frame.size) {
    throw new InternalError(`${op.name}'s batching rule returned ${formatShape(out.value.shape)} with batch axis ${out.dim}, not of size ${frame.size}`);
  }
  return new BatchedTensor(out.value, out.dim, top);
}

/** Run `fn` inside a new vmap level of batch size `size`; `fn` gets the level. */
export function withBatchLevel<T>(size: number, fn: (level: number) => T): T {
  const level = nextLevel++;
  active.push({ level, size });
  interpreters.batch = interpret;
  try {
    return fn(level);
  } finally {
    active.splice(active.findIndex((f) => f.level === level), 1);
    if (active.length === 0) interpreters.batch = null;
  }
}

perSampleView.wrap = (physical, level) => new BatchedTensor(physical, 0, level);
