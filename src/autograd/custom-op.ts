/**
 * Custom differentiable operations: a user's own primitive, with its own backward and,
 * optionally, its own forward-mode and batching rules — JAX's custom_vjp / custom_jvp and
 * torch.autograd.Function, in one definition.
 *
 *   const logcosh = customOp({
 *     name: 'logcosh',
 *     // log cosh x = |x| + log1p(e^{−2|x|}) − log 2: never overflows.
 *     forward: (x) => x.abs().add(x.abs().mul(-2).exp().add(1).log()).sub(Math.LN2),
 *     backward: ({ inputs: [x] }, g) => [g.mul(x!.tanh())],
 *     jvp: ({ inputs: [x], tangents: [t] }) => t!.mul(x!.tanh()),
 *   });
 *
 * - `forward` computes the value from the inputs' values with any gradscope ops; it runs
 *   without recording, so autograd sees the op as one node and only `backward` decides the
 *   gradient (a numerically better formula, a straight-through estimator, a gradient clip).
 * - `backward({ inputs, output, needsInputGrad }, gradOut)` returns one gradient per input
 *   (or null where not needed), written with Tensor ops, so gradients of gradients work.
 *   Gradients may have the output's broadcast shape; the engine sums broadcast axes.
 * - `jvp({ inputs, tangents, output })` (optional): the output's tangent; tangents are null
 *   for inputs without one. Without it, forward mode uses the double-vjp trick on `backward`
 *   (right, but two backward passes).
 * - `batch({ inputs, dims, size })` (optional): the op on physical inputs with batch axes
 *   (vmap). Without it, vmap runs the op once per sample and stacks the results (right, but
 *   a loop).
 * Inputs are float tensors of one dtype; attributes are closed over by the definition.
 */
import { ValueError, describeValue } from '../tensor/errors.js';
import { Tensor } from '../tensor/tensor.js';
import { gradients } from './engine.js';
import { sumOfInnerProducts } from './transforms.js';
import { noGrad, withGradMode } from './mode.js';
import { apply, type Batched, type OpDef } from './op.js';
import { loopBatch } from './rules.js';
import { floatOperand } from './operands.js';
import { zerosLike } from '../tensor/creation.js';
import { functionArgument, optionsArgument } from '../tensor/arguments.js';

/** What a custom op's backward sees (the `ctx` of torch.autograd.Function.backward, saved for it). */
export interface CustomOpBackwardContext {
  /** The inputs' values at the forward call, checked against in-place modification since. */
  readonly inputs: readonly Tensor[];
  /** The forward's output value. */
  readonly output: Tensor;
  /** Which inputs need a gradient (return null for the others). */
  readonly needsInputGrad: readonly boolean[];
}

/** The definition given to customOp: a name, forward, backward, and optional jvp and batching rules. */
export interface CustomOpDefinition {
  /** Shown in graph exports and errors as `custom:<name>`. */
  name: string;
  /**
   * The value from the input values (float tensors of one dtype), with any gradscope ops; it
   * runs without recording, so only `backward` decides the gradient. Must return a Tensor.
   */
  forward: (...inputs: Tensor[]) => Tensor;
  /**
   * One gradient per input (null where `needsInputGrad` is false), written with Tensor ops so
   * gradients of gradients work; a gradient may have the output's broadcast shape. Throws
   * ValueError at backward time if the list has the wrong length.
   */
  backward: (context: CustomOpBackwardContext, gradOut: Tensor) => readonly (Tensor | null)[];
  /**
   * Optional forward-mode rule (custom_jvp): the output's tangent from the inputs' tangents
   * (null for an input without one). Default: the double-vjp trick on `backward`.
   */
  jvp?: (args: { inputs: readonly Tensor[]; tangents: readonly (Tensor | null)[]; output: Tensor }) => Tensor;
  /**
   * Optional batching rule for vmap: the op on physical inputs, `dims[i]` being input i's batch
   * axis (null: unbatched) and `size` the batch size. Default: one call per sample, stacked.
   */
  batch?: (args: { inputs: readonly Tensor[]; dims: readonly (number | null)[]; size: number }) => Batched;
}

/**
 * Define a custom primitive; returns the function that applies it.
 * @example const f = customOp({ name: 'square', forward: (x) => x.mul(x), backward: ({ inputs: [x] }, g) => [g.mul(x!).mul(2)] });
 */
export function customOp(definition: CustomOpDefinition): (...inputs: Tensor[]) => Tensor {
  optionsArgument('customOp', definition, 'the definition { name, forward, backward }', true);
  const { name } = definition;
  if (typeof name !== 'string' || name === '') throw new ValueError(`customOp: expected a name (a non-empty string); got ${describeValue(name)}`);
  const label = `custom:${name}` as const;
  functionArgument('customOp', 'forward', definition.forward);
  functionArgument('customOp', 'backward', definition.backward);
  if (definition.jvp !== undefined) functionArgument('customOp', 'jvp', definition.jvp);
  if (definition.batch !== undefined) functionArgument('customOp', 'batch', definition.batch);
  const op: OpDef<undefined> = {
    name: label,
    forward: (inputs) => {
      const out = noGrad(() => definition.forward(...inputs));
      if (!(out instanceof Tensor)) throw new ValueError(`${label}: forward must return a Tensor; got ${typeof out}`);
      return out;
    },
    save: (inputs, output) => [...inputs, output],
    backward: (ctx, gradOut) => {
      const saved = ctx.saved;
      const grads = definition.backward({ inputs: saved.slice(0, -1), output: saved[saved.length - 1]!, needsInputGrad: ctx.needsInputGrad }, gradOut);
      if (!Array.isArray(grads) || grads.length !== ctx.needsInputGrad.length) {
        throw new ValueError(`${label}: backward must return one gradient (or null) per input, ${ctx.needsInputGrad.length}; got ${Array.isArray(grads) ? grads.length : typeof grads}`);
      }
      return grads.map((g, i) => (ctx.needsInputGrad[i] ? g : null));
    },
    jvp: (args) => (definition.jvp ? definition.jvp(args) : jvpByBackward(definition, args.inputs, args.tangents, args.output)),
    // Without a rule of its own, vmap runs the op once per sample and stacks the results.
    batch: definition.batch ? (args) => definition.batch!(args) : loopBatch((inputs) => apply(op, inputs, undefined)),
  };
  return (...inputs: Tensor[]) => {
    if (inputs.length === 0) throw new ValueError(`${label}: expected at least one tensor input`);
    inputs.forEach((x) => floatOperand(label, x));
    return apply(op, inputs, undefined);
  };
}

/**
 * Forward mode from the backward rule (the double-vjp trick): the pullback u ↦ Jᵀu is linear
 * in u, so d/du ⟨Jᵀu, t⟩ = J·t.
 */
function jvpByBackward(definition: CustomOpDefinition, inputs: readonly Tensor[], tangents: readonly (Tensor | null)[], output: Tensor): Tensor {
  const u = zerosLike(output).requireGrad();
  return withGradMode(true, () => {
    const pulled = definition.backward({ inputs, output, needsInputGrad: inputs.map((_, i) => tangents[i] !== null) }, u);
    const inner = sumOfInnerProducts(pulled, tangents);
    if (inner === null || !inner.requiresGrad) return zerosLike(output);
    return gradients([inner], [u], { createGraph: true })[0]!;
  });
}
