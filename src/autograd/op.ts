/**
 * How a primitive op is defined and applied (docs/design.md §1–3).
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
 * Two more rules make the other transforms (docs/design.md "Transforms"): `jvp`, the forward-mode
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
  | 'reluBackward'
  | 'sigmoid'
  | 'tanh'
  | 'elu'
  | 'softplus'
  | 'powScalar'
  | 'sin'
  | 'cos'
  | 'tan'
  | 'asin'
  | 'acos'
  | 'atan'
  | 'sinh'
  | 'cosh'
  | 'asinh'
  | 'acosh'
  | 'atanh'
  | 'erf'
  | 'erfc'
  | 'log1p'
  | 'expm1'
  | 'rsqrt'
  | 'logSigmoid'
  | 'gelu'
  | 'add'
  | 'sub'
  | 'mul'
  | 'div'
  | 'pow'
  | 'maximum'
  | 'minimum'
  | 'atan2'
  | 'where'
  | 'sum'
  | 'cumsum'
  | 'logcumsumexp'
  | 'linearScan'
  | 'crossEntropy'
  | 'crossEntropyBackward'
  | 'matmul'
  | 'conv2d'
  | 'conv2dBackwardInput'
  | 'conv2dBackwardWeight'
  | 'avgPool2d'
  | 'avgPool2dBackward'
  | 'maxPool2d'
  | 'maxPool2dBackward'
  | 'reshape'
  | 'permute'
  | 'expand'
  | 'slice'
  | 'unslice'
  | 'pad'
  | 'concat'
  | 'gather'
  | 'scatterAdd'
  | 'batchNormTrain'
  | 'batchNormTrainBackward'
  | 'channelAffine'
  | 'channelAffineBackward'
  | 'channelSums'
  | 'layerNorm'
  | 'layerNormBackward';

/** The name of a user-defined primitive (custom-op.ts): never one of the built-in names. */
export type CustomOpName = `custom:${string}`;

/**
 * A primitive: its forward computation and its three derivative rules (reverse, forward and
 * batching), the counterpart of a torch.autograd.Function with `forward`, `backward`, `jvp`
 * and `vmap` staticmethods, or of a JAX primitive with its impl/transpose/jvp/batch rules.
 * `A` is the type of the op's non-tensor attributes (axes, shapes, geometry; `undefined` when
 * there are none), passed unchanged to every rule. Every entry of OPS is one.
 */
export interface OpDef<A> {
  /** The op's name, shown in graph exports and error messages (`custom:…` for a customOp). */
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
   * on the physical (batched) tensors; see rules.ts for the shared helpers.
   */
  batch(args: BatchArgs<A>): Batched;
  /** Text describing attrs in graph exports (e.g. `axes=[0]`). */
  describe?(attrs: A): string;
}

/** What a JVP rule sees: the primal inputs and output, the inputs' tangents, the attrs. */
export interface JvpArgs<A> {
  /** The primal input values, as passed to forward. */
  readonly inputs: readonly Tensor[];
  /** Each input's tangent, of that input's shape; null where the input has none (zero). */
  readonly tangents: readonly (Tensor | null)[];
  /** The primal output forward computed (rules such as exp's reuse it). */
  readonly output: Tensor;
  /** The op's attributes. */
  readonly attrs: A;
}

/** A physical tensor and which of its axes is the batch axis. */
export interface Batched {
  /** The physical tensor: every sample's value, stacked along `dim`. */
  readonly value: Tensor;
  /** The batch axis of `value` (like an out_dims entry of torch.func.vmap). */
  readonly dim: number;
}

/** What a batching rule sees. */
export interface BatchArgs<A> {
  /** The physical inputs (with their batch axis, where batched). */
  readonly inputs: readonly Tensor[];
  /** Each input's batch axis, or null when the input is the same for every sample. */
  readonly dims: readonly (number | null)[];
  /** The op's attributes, as for one sample (tensors in them are unwrapped with `unwrap`). */
  readonly attrs: A;
  /** The batch size. */
  readonly size: number;
  /** A tensor held in attrs (where's condition, gather's index) as physical value and batch axis. */
  unwrap(t: Tensor): {
    /** The physical tensor (t itself when it is not batched). */
    value: Tensor;
    /** Its batch axis, or null when t is the same for every sample. */
    dim: number | null;
  };
}

/**
 * An op with no derivative (comparisons, sign, argmax, the index kernel of max pooling): its
 * results never require grad and have no tangent, but under vmap it still needs a batching
 * rule, so it is applied through `applyNonDiff` rather than by calling its kernel directly.
 */
export interface NonDiffOpDef<A> {
  /** Name for error messages. */
  readonly name: string;
  /** Compute the output value with the kernels (inputs are never batched here). */
  forward(inputs: readonly Tensor[], attrs: A): Tensor;
  /** The op on batched inputs, as OpDef.batch. */
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
  /** vmap's batching interpreter (batching.ts), or null outside vmap. */
  batch: (<A>(op: OpDef<A> | NonDiffOpDef<A>, inputs: readonly Tensor[], attrs: A) => Tensor | undefined) | null;
  /** jvp's forward-mode interpreter (forward-mode.ts), or null outside jvp. */
  tangents: (<A>(op: OpDef<A>, inputs: readonly Tensor[], attrs: A, output: Tensor) => void) | null;
}

/** Set by vmap and jvp while they run (null otherwise, so plain code pays one check per op). */
export const interpreters: Interpreters = { batch: null, tangents: null };

/** Define a primitive; the identity function, kept for readable op files and type inference. */
export function defineOp<A = undefined>(def: OpDef<A>): OpDef<A> {
  return def;
}

/**
 * What backward sees of the forward call: attrs, saved tensors, which grads are needed (the
 * `ctx` of a torch.autograd.Function). Saved tensors are checked against their version
 * counters when read, as PyTorch's saved variables are.
 */
export class Context<A> {
  /** Filled by the engine before each backward call. */
  needsInputGrad: boolean[] = [];
  private savedTensors: Tensor[] | null;
  private readonly savedVersions: number[];

  /**
   * Created by `apply` when it records a node; records each saved tensor's version now.
   * @param opName The op's name, for error messages.
   * @param attrs The op's attributes, as given to forward.
   * @param inputShapes Each input's shape at the forward call.
   * @param inputDTypes Each input's dtype at the forward call.
   * @param saved What the op's `save` returned.
   */
  constructor(
    /** The op's name, for error messages. */
    readonly opName: OpName | CustomOpName,
    /** The op's attributes, as given to forward. */
    readonly attrs: A,
    /** Each input's shape at the forward call (backward rules reshape gradients to these). */
    readonly inputShapes: readonly (readonly number[])[],
    /** Each input's dtype at the forward call. */
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

  /** True once the saved tensors were released (a backward without retainGraph has run). */
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
  /** Process-wide creation counter: a later node has a larger id. */
  readonly id = nextNodeId++;
  /**
   * @param op The primitive that ran.
   * @param inputs Its input tensors, in order (the graph's edges).
   * @param ctx Its backward context.
   */
  constructor(
    /** The primitive that ran. */
    readonly op: OpDef<any>,
    /** Its input tensors, in order (the graph's edges). */
    readonly inputs: readonly Tensor[],
    /** Its backward context: attrs, saved tensors, input shapes. */
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
