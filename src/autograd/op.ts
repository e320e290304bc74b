/**
 * How a primitive op is defined and applied (DESIGN.md §1–3).
 *
 * A primitive is one object: `forward` computes the value from input values with the
 * kernels, `save` declares which tensors `backward` will need, and `backward` maps the
 * output's gradient to the inputs' gradients using ordinary differentiable Tensor ops — which
 * is what makes gradients of gradients work. `apply` runs forward and, when grad mode is on
 * and some input requires a gradient, records a `Node` on the output.
 *
 * Backward rules return gradients in the output's (broadcast) shape or the input's shape; the
 * engine sums broadcast axes away once (`unbroadcast`), so no rule repeats that logic.
 *
 * Two more rules make the other transforms (DESIGN.md "Transforms"): `jvp`, the forward-mode
 * derivative (the output's tangent from the inputs' tangents), and `batch`, how the op runs on
 * inputs that carry an extra batch axis (vmap). Both are written with ordinary Tensor ops, so
 * every transform composes with every other to any order. `apply` hands an op to the batching
 * interpreter when an input is batched, and to the forward-mode interpreter when an input has
 * a tangent; both register themselves (batching.ts, forward-mode.ts), so that this file — which
 * every op imports — imports neither.
 */
import type { DType } from '../tensor/dtype.js';
import { GradError, formatShape } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { isGradEnabled } from './mode.js';

/** Every primitive's name. Adding a name here without an entry in OPS is a compile error. */
export type OpName =
  | 'identity'
  | 'cast'
  | 'copy'
  | 'neg'
  | 'exp'
  | 'log'
  | 'sqrt'
  | 'abs'
  | 'relu'
  | 'sigmoid'
  | 'tanh'
  | 'elu'
  | 'softplus'
  | 'powScalar'
  | 'add'
  | 'sub'
  | 'mul'
  | 'div'
  | 'pow'
  | 'maximum'
  | 'minimum'
  | 'where'
  | 'sum'
  | 'matmul'
  | 'conv2d'
  | 'conv2dBackwardInput'
  | 'conv2dBackwardWeight'
  | 'avgPool2d'
  | 'avgPool2dBackward'
  | 'reshape'
  | 'permute'
  | 'expand'
  | 'slice'
  | 'unslice'
  | 'pad'
  | 'concat'
  | 'gather'
  | 'scatterAdd';

/** The name of a user-defined primitive (custom-op.ts): never one of the built-in names. */
export type CustomOpName = `custom:${string}`;

export interface OpDef<A> {
  readonly name: OpName | CustomOpName;
  /** Compute the output value. Never records; validation of arguments happens before. */
  forward(inputs: readonly Tensor[], attrs: A): Tensor;
  /** The tensors that backward reads (inputs and/or the output). Default: none. */
  save?(inputs: readonly Tensor[], output: Tensor, attrs: A): Tensor[];
  /**
   * Gradient of each input given the output's gradient, written with Tensor ops. Return null
   * for inputs with `ctx.needsInputGrad[i] === false` (or that are never differentiable).
   */
  backward(ctx: Context<A>, gradOut: Tensor): (Tensor | null)[];
  /**
   * Forward mode: the output's tangent given each input's tangent (null: zero, e.g. a constant
   * operand), as a tensor of the output's shape, written with Tensor ops.
   */
  jvp(args: JvpArgs<A>): Tensor;
  /**
   * Batching (vmap): the op on inputs where `dims[i]` is input i's batch axis (null: input i
   * is not batched). Returns the batched output and its batch axis. Written with Tensor ops
   * on the physical (batched) tensors; see batch-rules.ts for the shared helpers.
   */
  batch(args: BatchArgs<A>): Batched;
  /** Text describing attrs in graph exports (e.g. `axes=[0]`). */
  describe?(attrs: A): string;
}

/** What a JVP rule sees: the primal inputs and output, the inputs' tangents, the attrs. */
export interface JvpArgs<A> {
  readonly inputs: readonly Tensor[];
  readonly tangents: readonly (Tensor | null)[];
  readonly output: Tensor;
  readonly attrs: A;
}

/** A physical tensor and which of its axes is the batch axis. */
export interface Batched {
  readonly value: Tensor;
  readonly dim: number;
}

/** What a batching rule sees. */
export interface BatchArgs<A> {
  /** The physical inputs (with their batch axis, where batched). */
  readonly inputs: readonly Tensor[];
  /** Each input's batch axis, or null when the input is the same for every sample. */
  readonly dims: readonly (number | null)[];
  readonly attrs: A;
  /** The batch size. */
  readonly size: number;
  /** A tensor held in attrs (where's condition, gather's index) as physical value and batch axis. */
  unwrap(t: Tensor): { value: Tensor; dim: number | null };
}

/**
 * An op with no derivative (comparisons, sign, argmax, the index kernel of max pooling): its
 * results never require grad and have no tangent, but under vmap it still needs a batching
 * rule, so it is applied through `applyNonDiff` rather than by calling its kernel directly.
 */
export interface NonDiffOpDef<A> {
  readonly name: string;
  forward(inputs: readonly Tensor[], attrs: A): Tensor;
  batch(args: BatchArgs<A>): Batched;
}

/** Run a non-differentiable op (through its batching rule when an input is batched). */
export function applyNonDiff<A>(op: NonDiffOpDef<A>, inputs: readonly Tensor[], attrs: A): Tensor {
  return (interpreters.batch && interpreters.batch(op, inputs, attrs)) || op.forward(inputs, attrs);
}

/**
 * The interpreters `apply` defers to: `batch` returns the output when it handled the op (some
 * input was batched), undefined otherwise; `tangents` sets the output's tangents.
 */
export interface Interpreters {
  batch: (<A>(op: OpDef<A> | NonDiffOpDef<A>, inputs: readonly Tensor[], attrs: A) => Tensor | undefined) | null;
  tangents: (<A>(op: OpDef<A>, inputs: readonly Tensor[], attrs: A, output: Tensor) => void) | null;
}

/** Set by vmap and jvp while they run (null otherwise, so plain code pays one check per op). */
export const interpreters: Interpreters = { batch: null, tangents: null };

/** Define a primitive; the identity function, kept for readable op files and type inference. */
export function defineOp<A = undefined>(def: OpDef<A>): OpDef<A> {
  return def;
}

/** What backward sees of the forward call: attrs, saved tensors, which grads are needed. */
export class Context<A> {
  /** Filled by the engine before each backward call. */
  needsInputGrad: boolean[] = [];
  private savedTensors: Tensor[] | null;
  private readonly savedVersions: number[];

  constructor(
    readonly opName: OpName | CustomOpName,
    readonly attrs: A,
    readonly inputShapes: readonly (readonly number[])[],
    readonly inputDTypes: readonly DType[],
    saved: Tensor[],
  ) {
    this.savedTensors = saved;
    this.savedVersions = saved.map((t) => t.version);
  }

  /** The saved tensors; throws if the graph was freed or one was modified in place. */
  get saved(): Tensor[] {
    const saved = this.savedTensors;
    if (saved === null) {
      throw new GradError(
        `backward: trying to backward through the graph a second time: the tensors saved by '${this.opName}' ` +
          `were freed after the first backward; pass { retainGraph: true } to the first call`,
      );
    }
    saved.forEach((t, i) => {
      if (t.version !== this.savedVersions[i]) {
        throw new GradError(
          `backward: a tensor of shape ${formatShape(t.shape)} saved by '${this.opName}' was modified in place ` +
            `after it was saved (version ${t.version}, expected ${this.savedVersions[i]}); ` +
            `clone it before modifying it, or modify it after backward`,
        );
      }
    });
    return saved;
  }

  get freed(): boolean {
    return this.savedTensors === null;
  }

  /** Drop the saved tensors (after a backward without retainGraph). */
  release(): void {
    this.savedTensors = null;
  }

  /** Shapes of what was saved, for graph exports (works after release too: empty). */
  savedShapes(): (readonly number[])[] {
    return (this.savedTensors ?? []).map((t) => t.shape);
  }
}

let nextNodeId = 0;

/** A recorded application of a primitive: the op, its inputs and its backward context. */
export class Node {
  readonly id = nextNodeId++;
  constructor(
    readonly op: OpDef<any>,
    readonly inputs: readonly Tensor[],
    readonly ctx: Context<any>,
  ) {}
}

/**
 * Run a primitive: compute its value (through its batching rule when an input is batched),
 * its tangents (when an input has one), and, if grad mode is on and any input requires a
 * gradient, attach a Node so that backward can reach the inputs. Under vmap the node is
 * recorded on the logical (per-sample) tensors, so grad inside vmap differentiates per sample.
 */
export function apply<A>(op: OpDef<A>, inputs: readonly Tensor[], attrs: A): Tensor {
  const output = (interpreters.batch && interpreters.batch(op, inputs, attrs)) || op.forward(inputs, attrs);
  if (interpreters.tangents) interpreters.tangents(op, inputs, attrs, output);
  if (isGradEnabled() && inputs.some((t) => t.requiresGrad)) {
    const saved = op.save ? op.save(inputs, output, attrs) : [];
    const ctx = new Context(
      op.name,
      attrs,
      inputs.map((t) => t.shape),
      inputs.map((t) => t.dtype),
      saved,
    );
    output.attachNode(new Node(op, inputs, ctx));
  }
  return output;
}
