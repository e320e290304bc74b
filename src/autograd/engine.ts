/**
 * The backward engine: reverse-mode accumulation over the recorded graph.
 *
 * 1. From the roots, find every tensor that lies on a path to a target (the requested inputs,
 *    or every leaf that requires grad for `tensor.backward()`); nothing else is visited, so
 *    asking for d/dx never computes parameter gradients.
 * 2. Visit those tensors in reverse topological order. For each, call its op's backward rule
 *    with the accumulated gradient, sum each returned gradient back to its input's shape
 *    (`unbroadcast`, the only place broadcasting is undone) and accumulate it.
 * 3. Rules run with grad mode = `createGraph`: off by default (cheap, detached results), on to
 *    record the backward pass itself so that its results can be differentiated again.
 * 4. Unless `retainGraph`, saved tensors are released afterwards, and a second backward
 *    through the same nodes is a clear error rather than a wrong number.
 */
import { detachKeepingTangents } from './forward-mode.js';
import { GradError, InternalError, ValueError, describeValue, formatShape } from '../tensor/errors.js';
import { shapesEqual, unbroadcastAxes } from '../tensor/shape.js';
import { lifetime } from '../tensor/storage.js';
import { Tensor } from '../tensor/tensor.js';
import { withGradMode } from './mode.js';
import { scalarTensor, tensorArgument, tensorListArgument } from './operands.js';
import type { Node } from './op.js';
import { concat } from './ops/concat.js';
import type { SliceAttrs } from './ops/slice.js';
import { boolArgument, optionsArgument, shapeArgument } from '../tensor/arguments.js';

/** Options of `gradients`, mirroring torch.autograd.grad's keyword arguments. */
export interface GradientOptions {
  /**
   * One cotangent per output, each of its output's shape (torch's grad_outputs); a missing or
   * null entry defaults to 1 for a scalar output and throws GradError for any other.
   */
  gradOutputs?: readonly (Tensor | null | undefined)[];
  /** Keep saved tensors for another backward (default: createGraph). */
  retainGraph?: boolean;
  /** Record the backward pass so its results are differentiable (default false). */
  createGraph?: boolean;
  /** Return zeros (instead of throwing) for inputs the outputs do not depend on. */
  allowUnused?: boolean;
}

/**
 * Sum a gradient over the axes that broadcasting added or stretched, so that it has `shape`.
 * Written with sum/reshape, so it is differentiable too.
 */
export function unbroadcast(grad: Tensor, shape: readonly number[]): Tensor {
  tensorArgument('unbroadcast', grad);
  if (Array.isArray(shape) && shapesEqual(grad.shape, shape)) return grad;
  shapeArgument('unbroadcast', shape);
  const axes = unbroadcastAxes(grad.shape, shape);
  return grad.sum(axes, true).reshape(shape);
}

/** Every graph tensor reachable from `roots` that leads to a target, in topological order. */
export function topologicalOrder(
  roots: readonly Tensor[],
  isTarget: (t: Tensor) => boolean,
): {
  /** The op outputs (tensors with a node) that lead to a target, inputs before the tensors computed from them. */
  order: Tensor[];
  /** Every visited tensor that is a target or depends on one (leaves included). */
  leads: Set<Tensor>;
} {
  const leads = new Set<Tensor>();
  const visited = new Set<Tensor>();
  const order: Tensor[] = [];
  // Iterative post-order DFS: graphs of thousands of ops must not overflow the call stack.
  const stack: { t: Tensor; next: number }[] = [];
  for (const root of roots) {
    if (visited.has(root)) continue;
    visited.add(root);
    stack.push({ t: root, next: 0 });
    while (stack.length > 0) {
      const frame = stack[stack.length - 1]!;
      const inputs = frame.t.node?.inputs ?? [];
      if (frame.next < inputs.length) {
        const child = inputs[frame.next++]!;
        if (child.requiresGrad && !visited.has(child)) {
          visited.add(child);
          stack.push({ t: child, next: 0 });
        }
        continue;
      }
      stack.pop();
      const t = frame.t;
      if (isTarget(t) || inputs.some((i) => leads.has(i))) leads.add(t);
      if (t.node && leads.has(t)) order.push(t);
    }
  }
  return { order, leads };
}

/**
 * Core of backward/gradients: returns the accumulated gradient of every tensor in `leads`
 * that is a target.
 */
function runBackward(
  roots: readonly Tensor[],
  rootGrads: readonly Tensor[],
  isTarget: (t: Tensor) => boolean,
  createGraph: boolean,
  retainGraph: boolean,
): Map<Tensor, Tensor> {
  const { order, leads } = topologicalOrder(roots, isTarget);
  const grads = new Map<Tensor, Tensor>();
  const accumulate = (t: Tensor, g: Tensor) => {
    const previous = grads.get(t);
    grads.set(t, previous ? previous.add(g) : g);
  };
  // Gradients reaching a tensor through its slices wait here and are joined once (see joinSlices).
  const slicePieces = new Map<Tensor, SlicePiece[]>();
  const joinPieces = (t: Tensor) => {
    const pieces = slicePieces.get(t);
    if (!pieces) return;
    slicePieces.delete(t);
    withGradMode(createGraph, () => accumulate(t, joinSlices(t, pieces)));
  };
  withGradMode(createGraph, () => roots.forEach((r, i) => accumulate(r, rootGrads[i]!)));
  const visitedNodes: Node[] = [];
  for (let k = order.length - 1; k >= 0; k--) {
    const t = order[k]!;
    joinPieces(t);
    const g = grads.get(t);
    if (!g) continue;
    if (!isTarget(t)) grads.delete(t); // intermediate gradients are not kept
    const node = t.node!;
    visitedNodes.push(node);
    const ctx = node.ctx;
    ctx.needsInputGrad = node.inputs.map((i) => i.requiresGrad && leads.has(i));
    if (node.op.name === 'slice') {
      if (ctx.needsInputGrad[0]) {
        const source = node.inputs[0]!;
        const pieces = slicePieces.get(source) ?? [];
        pieces.push({ node, grad: g });
        slicePieces.set(source, pieces);
      }
      continue;
    }
    const inputGrads = withGradMode(createGraph, () => node.op.backward(ctx, g));
    if (inputGrads.length !== node.inputs.length) {
      throw new InternalError(`backward of '${node.op.name}' returned ${inputGrads.length} gradients for ${node.inputs.length} inputs`);
    }
    node.inputs.forEach((input, i) => {
      if (!ctx.needsInputGrad[i]) return;
      const gi = inputGrads[i];
      if (!gi) throw new InternalError(`backward of '${node.op.name}' returned no gradient for needed input ${i}`);
      const summed = withGradMode(createGraph, () => unbroadcast(gi, input.shape));
      if (!shapesEqual(summed.shape, input.shape) || summed.dtype !== input.dtype) {
        throw new InternalError(
          `backward: gradient for input ${i} of '${node.op.name}' has shape ${formatShape(gi.shape)} (${gi.dtype}) ` +
            `but the input has shape ${formatShape(input.shape)} (${input.dtype})`,
        );
      }
      withGradMode(createGraph, () => accumulate(input, summed));
    });
  }
  // Targets that are leaves (a flat parameter vector) are not in `order`: join theirs now.
  for (const t of [...slicePieces.keys()]) joinPieces(t);
  if (!retainGraph) for (const node of visitedNodes) node.ctx.release();
  return grads;
}

/** A gradient that reached a slice of a tensor: the slice's node and the gradient of its output. */
interface SlicePiece {
  node: Node;
  grad: Tensor;
}

/**
 * The gradient of `t` from the gradients of several slices of it. Each slice's own rule would
 * give a zero tensor of t's shape with its piece written in (unslice), and summing k of them
 * costs k·size — for a flat parameter vector split into its k parameters (callWithVector,
 * every HVP and SVRG gradient) that was a third of a Hessian-vector product. When the slices
 * tile t exactly along one axis, in unit steps, the sum is their concatenation: one copy,
 * and concat is differentiable, so gradients of gradients see the same value. Otherwise, the
 * sum of the rules' results.
 */
function joinSlices(t: Tensor, pieces: readonly SlicePiece[]): Tensor {
  const attrs = (p: SlicePiece) => p.node.ctx.attrs as SliceAttrs;
  const axis = tilingAxis(t.shape, pieces.map(attrs));
  if (axis !== null) {
    const sorted = [...pieces].sort((p, q) => attrs(p).starts[axis]! - attrs(q).starts[axis]!);
    return concat(sorted.map((p) => p.grad), axis);
  }
  return pieces.map((p) => p.node.op.backward(p.node.ctx, p.grad)[0]!).reduce((sum, g) => sum.add(g));
}

/** The axis along which unit-step slices cover `shape` exactly once, or null. */
function tilingAxis(shape: readonly number[], slices: readonly SliceAttrs[]): number | null {
  if (slices.some((s) => s.steps.some((step) => step !== 1))) return null;
  for (let axis = 0; axis < shape.length; axis++) {
    const whole = slices.every((s) => s.starts.every((start, d) => d === axis || (start === 0 && s.shape[d] === shape[d])));
    if (!whole) continue;
    const ranges = slices.map((s) => [s.starts[axis]!, s.starts[axis]! + s.shape[axis]!] as const).sort((a, b) => a[0] - b[0]);
    let end = 0;
    for (const [start, stop] of ranges) {
      if (start !== end) return null;
      end = stop;
    }
    return end === shape[axis] ? axis : null;
  }
  return null;
}

function defaultGradient(op: string, output: Tensor, given: Tensor | null | undefined): Tensor {
  if (given !== undefined && given !== null) {
    tensorArgument(op, given, 'the gradient to be a Tensor');
    if (!shapesEqual(given.shape, output.shape)) {
      throw new GradError(`${op}: gradient has shape ${formatShape(given.shape)} but the output has shape ${formatShape(output.shape)}`);
    }
    return given;
  }
  if (output.size !== 1) {
    throw new GradError(
      `${op}: a gradient can be created implicitly only for a scalar output; got shape ${formatShape(output.shape)} ` +
        `(pass the output's gradient explicitly, or reduce the output first)`,
    );
  }
  return scalarTensor(1, output.dtype).reshape(output.shape);
}

/**
 * `tensor.backward()`: accumulate into `.grad` of every leaf that requires grad.
 */
export function backward(
  output: Tensor,
  options: { gradient?: Tensor; retainGraph?: boolean; createGraph?: boolean } = {},
): void {
  tensorArgument('backward', output);
  optionsArgument('backward', options);
  boolArgument('backward', 'retainGraph', options.retainGraph, false);
  boolArgument('backward', 'createGraph', options.createGraph, false);
  if (!output.requiresGrad) {
    throw new GradError('backward: the tensor does not require grad (no input of its computation requires grad)');
  }
  const createGraph = options.createGraph ?? false;
  const seed = defaultGradient('backward', output, options.gradient);
  const isLeafTarget = (t: Tensor) => t.isLeaf && t.requiresGrad;
  const grads = runBackward([output], [seed], isLeafTarget, createGraph, options.retainGraph ?? createGraph);
  for (const [t, g] of grads) {
    if (!isLeafTarget(t)) continue;
    const value = createGraph ? g : g.detach().clone(); // own storage: never an expanded view or shared
    t.grad = t.grad ? withGradMode(createGraph, () => t.grad!.add(value)) : value;
    // .grad outlives the step: an open tidy scope must not release it (tensor/tidy.ts).
    lifetime.keep?.(t.grad);
  }
}

/**
 * d(outputs)/d(inputs) contracted with `gradOutputs` (PyTorch's torch.autograd.grad). Inputs
 * may be leaves or intermediate tensors; nothing is written to `.grad`.
 */
export function gradients(outputs: readonly Tensor[], inputs: readonly Tensor[], options: GradientOptions = {}): Tensor[] {
  tensorListArgument('grad', outputs, 'the outputs to be a list of Tensors');
  tensorListArgument('grad', inputs, 'the inputs to be a list of Tensors');
  optionsArgument('grad', options);
  for (const flag of ['retainGraph', 'createGraph', 'allowUnused'] as const) boolArgument('grad', flag, options[flag], false);
  const given = options.gradOutputs;
  if (given !== undefined && !(Array.isArray(given) && given.length === outputs.length)) {
    throw new ValueError(`grad: expected gradOutputs to be a list of ${outputs.length} gradients (Tensor or null), one per output; got ${Array.isArray(given) ? `${given.length} entries` : describeValue(given)}`);
  }
  const createGraph = options.createGraph ?? false;
  const targets = new Set(inputs);
  const live = outputs.filter((o) => o.requiresGrad);
  const seeds = outputs.map((o, i) => defaultGradient('grad', o, options.gradOutputs?.[i]));
  const grads = runBackward(
    live,
    seeds.filter((_, i) => outputs[i]!.requiresGrad),
    (t) => targets.has(t),
    createGraph,
    options.retainGraph ?? createGraph,
  );
  return inputs.map((x, i) => {
    const g = grads.get(x);
    // NOTE: detached from the graph but not from forward mode: an outer jvp (forward-over-
    // reverse) needs the gradient's tangent.
    if (g) return createGraph ? g : detachKeepingTangents(g);
    if (!options.allowUnused && !x.requiresGrad) {
      throw new GradError(`grad: input ${i} (shape ${formatShape(x.shape)}) does not require grad`);
    }
    // The outputs do not depend on x: its gradient is exactly zero.
    return scalarTensor(0, x.dtype).expand(x.shape).contiguous();
  });
}
