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

export interface OpDef<A> {
  readonly name: OpName;
  /** Compute the output value. Never records; validation of arguments happens before. */
  forward(inputs: readonly Tensor[], attrs: A): Tensor;
  /** The tensors that backward reads (inputs and/or the output). Default: none. */
  save?(inputs: readonly Tensor[], output: Tensor, attrs: A): Tensor[];
  /**
   * Gradient of each input given the output's gradient, written with Tensor ops. Return null
   * for inputs with `ctx.needsInputGrad[i] === false` (or that are never differentiable).
   */
  backward(ctx: Context<A>, gradOut: Tensor): (Tensor | null)[];
  /** Text describing attrs in graph exports (e.g. `axes=[0]`). */
  describe?(attrs: A): string;
}

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
    readonly opName: OpName,
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
 * Run a primitive: compute its value and, if grad mode is on and any input requires a
 * gradient, attach a Node so that backward can reach the inputs.
 */
export function apply<A>(op: OpDef<A>, inputs: readonly Tensor[], attrs: A): Tensor {
  const output = op.forward(inputs, attrs);
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
