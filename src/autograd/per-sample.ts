/**
 * Native per-sample gradients (docs/design.md §6): the gradient of every sample's own loss with
 * respect to every parameter, in ONE backward pass — not a loop over samples.
 *
 * Seeding backward with the per-sample loss vector ℓ [B] and cotangent 1 gives, at every
 * tensor that depends on the batch input ("batch side"), a gradient whose row i is ∂ℓᵢ/∂(row i)
 * — as long as samples do not interact (no reduction over the batch axis). Parameters meet
 * the batch in a few ops; there the usual rule would sum over the batch, and instead the
 * batch axis is KEPT (the outer-product rule):
 *
 *   - elementwise ops with a broadcast parameter (a bias add), and BatchNorm's eval mode
 *     (channelAffine, y = x·s + t per channel): the rule's gradient has the output's shape
 *     [B, …]; sum it over every broadcast axis except the batch axis;
 *   - matmul x [B, K] · Wᵀ [K, N]: the per-sample gradient of Wᵀ is xᵢ ⊗ gᵢ, shape [B, K, N];
 *   - conv2d: the weight gradient of each sample, computed at once as one weight-gradient
 *     convolution with B·groups groups.
 *
 * Between a parameter and the op where it meets the batch (a transpose, a reshape of a bias),
 * gradients carry the extra leading batch axis through a small table of view rules.
 * Where the batch axis is on each batch-side tensor is proven first, op by op (batch-axis.ts):
 * any interaction between samples (BatchNorm in train mode, centring by the batch mean, a
 * softmax over the batch) or an axis that can no longer be followed is refused with a
 * GradError, never guessed; `perSampleJacobian` (exact rows, one backward per sample) is the
 * tool then. The meet rules use that axis, not `shape[0] === B`.
 */
import { GradError, InternalError, formatShape } from '../tensor/errors.js';
import { Tensor } from '../tensor/tensor.js';
import type { DType, TypedArray } from '../tensor/dtype.js';
import { getBackend } from '../kernels/registry.js';
import { topologicalOrder, unbroadcast } from './engine.js';
import { noGrad } from './mode.js';
import type { Node } from './op.js';
import { scalarTensor } from './operands.js';
import { conv2dBackwardWeight } from './ops/conv2d-backward-weight.js';
import { shiftSlice, type SliceAttrs } from './ops/slice.js';
import { unslice } from './ops/unslice.js';
import { noBatchAxisError, traceBatchAxes } from './batch-axis.js';
import type { Conv2dGeometry } from '../kernels/geometry.js';

/**
 * A batched gradient G [B, …S] back to [B, …shape], where S is `shape` broadcast (aligned on
 * the right, as in NumPy): sum the axes of S that broadcasting added or stretched, keep the
 * batch axis.
 */
function unbroadcastKeepBatch(G: Tensor, shape: readonly number[]): Tensor {
  const S = G.shape.slice(1);
  const lead = S.length - shape.length;
  const axes: number[] = [];
  S.forEach((d, j) => {
    if (j < lead || (shape[j - lead] === 1 && d !== 1)) axes.push(j + 1);
  });
  const summed = axes.length ? G.sum(axes, true) : G;
  return summed.reshape([G.shape[0]!, ...shape]);
}

/**
 * Where the large per-sample results may be written: `allocate(shape, dtype)` returns a
 * contiguous array of that size and dtype (e.g. from a reused workspace), or undefined to
 * allocate a fresh one. Requests come in the same order on every call with the same model.
 */
export type PerSampleAllocator = (shape: readonly number[], dtype: DType) => TypedArray | undefined;

/**
 * Per-sample gradient of a parameter-side input of an op where it meets the batch; `axisOf`
 * gives a batch-side tensor's batch axis (known: it was proven before the pass).
 */
type MeetRule = (node: Node, inputIndex: number, gradOut: Tensor, B: number, allocate: PerSampleAllocator, axisOf: (t: Tensor) => number) => Tensor | null;

const MEET_RULES: Partial<Record<string, MeetRule>> = {
  matmul(node, i, g, B, allocate, axisOf) {
    const [a, b] = node.ctx.saved;
    // The rules below need the batch on axis 0 of the batch-side operand (x [B, K], or a
    // leading batch dimension); any other position is refused by the caller.
    const batchFirst = axisOf(node.inputs[1 - i]!) === 0;
    if (i === 1 && batchFirst && a!.rank === 2) {
      // Row i of x times row i of g: xᵢ ⊗ gᵢ, the B outer products of a Linear layer — the
      // bulk of B × P numbers, so it may go into a reused workspace.
      // NOTE: built as gᵢ ⊗ xᵢ [B, N, K] and handed on transposed (a view): a Linear layer's
      // parameter-side op is Wᵀ, whose rule transposes back, so the gradient arrives at W
      // [B, out, in] contiguous, with no copy.
      const shape = [B, g.shape[1]!, a!.shape[1]!];
      const data = getBackend().outerRows(g, a!, g.dtype, allocate(shape, g.dtype));
      return Tensor.fromData(data, shape).transpose(-1, -2);
    }
    if (i === 1 && batchFirst && a!.rank > 2) {
      // xᵢᵀ gᵢ, summed over any further axes of the sample.
      return unbroadcastKeepBatch(a!.transpose(-1, -2).matmul(g), b!.shape);
    }
    if (i === 0 && batchFirst && b!.rank > 2) {
      return unbroadcastKeepBatch(g.matmul(b!.transpose(-1, -2)), a!.shape);
    }
    return null;
  },
  // layerNorm's affine mode, y = x̂·γ + β over the last k axes: sample b's gradients are
  // Σ g·x̂ (γ) and Σ g (β) over its own rows, the axes between the batch and the normalized ones.
  layerNorm(node, i, g, B, _allocate, axisOf) {
    if (i === 0 || axisOf(node.inputs[0]!) !== 0) return null;
    const [x] = node.ctx.saved;
    const { k, eps } = node.ctx.attrs as { k: number; eps: number };
    const shape = node.ctx.inputShapes[i]!;
    const n = shape.reduce((p, d) => p * d, 1);
    const G = i === 1 ? g.mul(Tensor.fromData(getBackend().layerNormForward(x!, null, null, n, eps, x!.dtype), x!.shape)) : g;
    const lead = Array.from({ length: x!.rank - 1 - k }, (_, d) => d + 1);
    return (lead.length ? G.sum(lead) : G).reshape([B, ...shape]);
  },
  // BatchNorm's eval mode, y = x·s + t per channel: sample b's gradients are Σ g·x (s) and Σ g
  // (t) over its own positions, the axes after the channel axis.
  channelAffine(node, i, g, _B, _allocate, axisOf) {
    if (i === 0 || axisOf(node.inputs[0]!) !== 0) return null;
    const G = i === 1 ? g.mul(node.ctx.saved[0]!) : g;
    const positions = Array.from({ length: G.rank - 2 }, (_, d) => d + 2);
    return positions.length ? G.sum(positions) : G;
  },
  conv2d(node, i, g, B, _allocate, axisOf) {
    if (i !== 1 || axisOf(node.inputs[0]!) !== 0) return null;
    const [x, w] = node.ctx.saved;
    return groupedWeightGradients(x!, g, w!.shape, node.ctx.attrs as Conv2dGeometry, B);
  },
  // A transposed convolution (convTranspose2d) of the batch g [B, Cout, Ho, Wo] with the
  // weight: its weight gradient is conv2dBackwardWeight(gradOut, g), so the grouped rule of
  // conv2d applies with gradOut [B, Cin, H, W] in the role of the input.
  conv2dBackwardInput(node, i, gradOut, B, _allocate, axisOf) {
    if (i !== 1 || axisOf(node.inputs[0]!) !== 0) return null;
    const [g, w] = node.ctx.saved;
    const { inputShape: _, ...geometry } = node.ctx.attrs as Conv2dGeometry & { inputShape: number[] };
    return groupedWeightGradients(gradOut, g!, w!.shape, geometry, B);
  },
};

/**
 * The B weight gradients [B, …weightShape] of a convolution of the batch x [B, Cin, H, W] whose
 * output gradient is g [B, Cout, Ho, Wo], at once: one weight gradient with B·groups groups over
 * the samples laid side by side as channels.
 */
function groupedWeightGradients(x: Tensor, g: Tensor, weightShape: readonly number[], geometry: Conv2dGeometry, B: number): Tensor {
  const [, cin, h, wd] = x.shape as [number, number, number, number];
  const [cout, cg, kh, kw] = weightShape as [number, number, number, number];
  const xs = x.reshape([1, B * cin, h, wd]);
  const gs = g.reshape([1, B * cout, g.shape[2]!, g.shape[3]!]);
  const grouped = conv2dBackwardWeight(xs, gs, [B * cout, cg, kh, kw], { ...geometry, groups: geometry.groups * B });
  return grouped.reshape([B, cout, cg, kh, kw]);
}

/** Elementwise ops: their rules return gradients in the output's broadcast shape. */
const ELEMENTWISE = new Set(['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'where']);

/**
 * The batched gradient [B, …out] times ∂out/∂(input i) of an elementwise op whose inputs are
 * all parameter-side or constant: `factor` is that derivative, or null for 1.
 */
function scaledBack(node: Node, G: Tensor, i: number, factor: Tensor | null): Tensor {
  return unbroadcastKeepBatch(factor ? G.mul(factor) : G, node.ctx.inputShapes[i]!);
}

/**
 * How a batched gradient [B, …out] passes back through a parameter-side op to its input i: a
 * view mostly, or the linear arithmetic on [C] that BatchNorm's eval mode does to γ and β
 * (s = γ·r, t = β − μ·s) before they meet the batch.
 */
const PARAM_SIDE_RULES: Partial<Record<string, (node: Node, G: Tensor, B: number, i: number) => Tensor>> = {
  add: (n, G, _B, i) => scaledBack(n, G, i, null),
  sub: (n, G, _B, i) => (i === 0 ? scaledBack(n, G, i, null) : scaledBack(n, G, i, null).neg()),
  mul: (n, G, _B, i) => scaledBack(n, G, i, n.inputs[1 - i]!),
  neg: (n, G, _B, i) => scaledBack(n, G, i, null).neg(),
  identity: (_n, G) => G,
  copy: (_n, G) => G,
  cast: (n, G) => G.to(n.ctx.inputDTypes[0]!),
  reshape: (n, G, B) => G.reshape([B, ...n.ctx.inputShapes[0]!]),
  permute: (n, G) => {
    const dims = (n.ctx.attrs as { dims: number[] }).dims;
    const inverse = new Array<number>(dims.length);
    dims.forEach((d, i) => (inverse[d] = i));
    return G.permute([0, ...inverse.map((d) => d + 1)]);
  },
  expand: (n, G) => unbroadcastKeepBatch(G, n.ctx.inputShapes[0]!),
  // A slice of a parameter (a positional table cut to the sequence, one projection of an
  // attention's stacked weights): each sample's gradient written back into zeros of the
  // parameter's shape, the slice shifted past the batch axis.
  slice: (n, G, B) => unslice(G, [B, ...n.ctx.inputShapes[0]!], shiftSlice(n.ctx.attrs as SliceAttrs, B)),
};

/**
 * The per-sample gradients [B, …p.shape] of `losses` [B] with respect to each of `params`,
 * where `input` is the batch input the losses were computed from (it must be in the graph:
 * pass it through `requireGrad` before the forward pass).
 */
export function perSampleGradients(
  losses: Tensor,
  params: readonly Tensor[],
  input: Tensor,
  allocate: PerSampleAllocator = () => undefined,
): Tensor[] {
  if (losses.rank !== 1) {
    throw new GradError(`perSampleGradients: expected per-sample losses of shape [B]; got ${formatShape(losses.shape)} (use reduction 'none')`);
  }
  const B = losses.shape[0]!;
  const targets = new Set(params);
  const { order, leads } = topologicalOrder([losses], (t) => targets.has(t));
  // Which tensors depend on the batch input: those from which `input` is reachable (found
  // over the whole graph — a batch-side tensor need not lead to a parameter, e.g. a reshape of
  // the input itself).
  const { order: forward, leads: batchSide } = topologicalOrder([losses], (t) => t === input);
  if (!batchSide.has(losses)) throw new GradError('perSampleGradients: the losses do not depend on the batch input');
  if (input.rank === 0 || input.shape[0] !== B) {
    throw new GradError(`perSampleGradients: the batch input ${formatShape(input.shape)} must have the losses' batch size ${B} on axis 0`);
  }
  const batchAxes = traceBatchAxes(forward, input, B);
  const lossAxis = batchAxes.get(losses)!;
  if (typeof lossAxis !== 'number') throw noBatchAxisError(lossAxis, '');
  if (lossAxis !== 0) throw new InternalError(`per-sample losses [B] with the batch on axis ${lossAxis}`);
  const axisOf = (t: Tensor): number => batchAxes.get(t) as number;

  const grads = new Map<Tensor, Tensor>();
  const add = (t: Tensor, g: Tensor) => {
    const previous = grads.get(t);
    grads.set(t, previous ? previous.add(g) : g);
  };
  noGrad(() => {
    add(losses, scalarTensor(1, losses.dtype).expand([B]));
    for (let k = order.length - 1; k >= 0; k--) {
      const t = order[k]!;
      const g = grads.get(t);
      if (!g) continue;
      if (!targets.has(t)) grads.delete(t);
      const node = t.node!;
      const name = node.op.name;
      if (!batchSide.has(t)) {
        // A parameter-side op: pass the batched gradient back through it.
        const rule = PARAM_SIDE_RULES[name];
        if (!rule) throw new GradError(`perSampleGradients: op '${name}' on a parameter's path has no per-sample rule yet`);
        node.inputs.forEach((input, i) => leads.has(input) && input.requiresGrad && add(input, rule(node, g, B, i)));
        continue;
      }
      const needs = node.inputs.map((i) => i.requiresGrad && leads.has(i));
      const meet = MEET_RULES[name];
      // Ops with a meet rule compute parameter-side gradients themselves.
      node.ctx.needsInputGrad = needs.map((n, i) => n && (batchSide.has(node.inputs[i]!) || !meet));
      const rule = node.ctx.needsInputGrad.some(Boolean) ? node.op.backward(node.ctx, g) : [];
      node.inputs.forEach((input, i) => {
        if (!needs[i]) return;
        if (batchSide.has(input)) return add(input, unbroadcast(rule[i]!, input.shape));
        const perSample = meet
          ? meet(node, i, g, B, allocate, axisOf)
          : ELEMENTWISE.has(name) && rule[i]
            ? perSampleOfElementwise(rule[i]!, input, B, axisOf(t))
            : null;
        if (!perSample) {
          throw new GradError(
            `perSampleGradients: op '${name}' where a parameter meets the batch (on axis ${axisOf(t)} of its output ${formatShape(t.shape)}) has no per-sample rule for that case`,
          );
        }
        add(input, perSample);
      });
    }
  });
  return params.map((p) => {
    const g = grads.get(p);
    if (!g) return scalarTensor(0, p.dtype).expand([B, ...p.shape]).contiguous();
    if (g.shape[0] !== B || g.rank !== p.rank + 1) throw new InternalError(`per-sample gradient of shape ${formatShape(g.shape)} for a parameter ${formatShape(p.shape)}`);
    return g.contiguous();
  });
}

/**
 * The per-sample gradient of a parameter in a broadcasting op from the rule's gradient g,
 * which has the output's shape with the batch on `axis`. The parameter must be broadcast
 * along the batch axis (absent there, or size 1) for slice i of g to be sample i's share;
 * the batch axis is moved to the front first, so the parameter's shape lines up with the rest.
 */
function perSampleOfElementwise(g: Tensor, input: Tensor, B: number, axis: number): Tensor | null {
  const lead = g.rank - input.rank;
  if (axis >= lead && input.shape[axis - lead] !== 1) return null;
  if (g.shape[axis] !== B) return null;
  const front = axis === 0 ? g : g.permute([axis, ...g.shape.map((_, d) => d).filter((d) => d !== axis)]);
  // The parameter's shape with the batch axis (size 1 or absent) taken out, as `front` has it.
  const rest = axis >= lead ? input.shape.filter((_, d) => d !== axis - lead) : input.shape;
  return unbroadcastKeepBatch(front, rest).reshape([B, ...input.shape]);
}

