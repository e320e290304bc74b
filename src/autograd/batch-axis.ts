/**
 * Where the batch axis is, tensor by tensor, on the batch side of a per-sample graph
 * (docs/design.md §6). `perSampleGradients` is right only when every tensor between the batch input
 * and the losses keeps samples apart: slice i along one known axis depends on sample i alone.
 * This module proves that, op by op, in the forward direction, or says why it cannot:
 *
 *   - a number: the tensor's batch axis (the input's is 0);
 *   - `mixed`: samples interact (a reduction over the batch axis, a product that contracts it,
 *     a convolution over it) — per-sample gradients are not defined;
 *   - `lost`: the batch axis can no longer be followed (a reshape that merges it, a slice or
 *     gather along it) — the rows may be fine, but nothing proves it, so they are refused.
 *
 * NOTE: the earlier rule checked only `shape[0] === B`, which guessed wrong whenever another
 * axis of size B ended up in front (permute, transposed products). Every primitive has a rule
 * here (`satisfies Record<OpName, …>`: a new primitive without one is a compile error), and a
 * rule that cannot follow the axis says `lost` rather than guess.
 *
 * What no graph rule can see: values computed from the batch without a gradient path — a
 * `where` condition, a detached statistic — are constants to autograd. Those stay the
 * caller's responsibility (see the README's per-sample section).
 */
import { GradError } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Node, OpName } from './op.js';

/** Why the batch axis of a tensor is not known. */
export interface NoBatchAxis {
  kind: 'mixed' | 'lost';
  /** The op where it happened, and how. */
  op: string;
  detail: string;
}

export type BatchAxis = number | NoBatchAxis;

/**
 * The output's batch axis from the inputs': `axes[i]` is input i's batch axis, or null when
 * input i does not depend on the batch (a parameter, a constant). Called only when every
 * batch-side input has a known axis.
 */
type Rule = (node: Node, axes: readonly (number | null)[], out: Tensor, B: number) => BatchAxis;

const mixed = (op: string, detail: string): NoBatchAxis => ({ kind: 'mixed', op, detail });
const lost = (op: string, detail: string): NoBatchAxis => ({ kind: 'lost', op, detail });

/** The one batch-side input's axis (for ops with a single tensor input). */
const same: Rule = (_n, axes) => axes[0]!;

/**
 * Broadcasting ops: inputs align on the right, so input axis a of rank r is output axis
 * a + (R − r). Every batch-side input must land on the same output axis, and broadcasting
 * must not stretch it (possible only at B = 1).
 */
const elementwise: Rule = (node, axes, out, B) => {
  let axis: number | null = null;
  for (let i = 0; i < axes.length; i++) {
    const a = axes[i];
    if (a === null || a === undefined) continue;
    const mapped = a + (out.rank - node.ctx.inputShapes[i]!.length);
    if (axis !== null && axis !== mapped) return mixed(node.op.name, `its operands carry the batch on different axes (${axis} and ${mapped})`);
    axis = mapped;
  }
  if (out.shape[axis!] !== B) return lost(node.op.name, `broadcasting stretches the batch axis to ${out.shape[axis!]}`);
  return axis!;
};

const sum: Rule = (node, [a]) => {
  const { axes, keepdim } = node.ctx.attrs as { axes: number[]; keepdim: boolean };
  if (axes.includes(a!)) return mixed('sum', 'it reduces over the batch axis');
  return keepdim ? a! : a! - axes.filter((d) => d < a!).length;
};

/** A scan along one axis (cumsum, logcumsumexp, linearScan) mixes the samples only when it runs along the batch axis. */
const scan = (op: string): Rule => (node, axes, out, B) => {
  if (axes.includes((node.ctx.attrs as { axis: number }).axis)) return mixed(op, 'it scans along the batch axis');
  // The operands of linearScan have one shape, so their batch axes must simply agree.
  return elementwise(node, axes, out, B);
};

const permute: Rule = (node, [a]) => (node.ctx.attrs as { dims: number[] }).dims.indexOf(a!);

const expand: Rule = (node, [a], out, B) => {
  const mapped = a! + (out.rank - node.ctx.inputShapes[0]!.length);
  return out.shape[mapped] === B ? mapped : lost('expand', 'it stretches the batch axis');
};

/**
 * A row-major reshape keeps the batch axis as an axis of its own exactly when some output
 * axis j has the batch size and the same number of elements before it: then element i along
 * it is still sample i.
 */
const reshape: Rule = (node, [a], out) => {
  const input = node.ctx.inputShapes[0]!;
  const before = input.slice(0, a!).reduce((p, d) => p * d, 1);
  let prefix = 1;
  for (let j = 0; j < out.rank; j++) {
    if (prefix === before && out.shape[j] === input[a!]) return j;
    prefix *= out.shape[j]!;
  }
  return lost('reshape', `it merges or splits the batch axis (${JSON.stringify(input)} → ${JSON.stringify(out.shape)})`);
};

/** Slicing, padding, unslicing: fine while the batch axis is kept whole. */
const wholeAlong = (op: string, keeps: (node: Node, a: number) => boolean): Rule => (node, [a]) =>
  keeps(node, a!) ? a! : lost(op, 'it takes part of the batch axis (rows of other samples, or fewer rows)');

const concat: Rule = (node, axes, out, B) => {
  const axis = (node.ctx.attrs as { axis: number }).axis;
  if (axes.includes(axis)) return lost('concat', 'it joins along the batch axis');
  // Inputs of a concat have one rank, so the batch axes must simply agree.
  return elementwise(node, axes, out, B);
};

/** gather/scatterAdd: element i along a non-indexed axis comes from element i of the source. */
const indexed = (op: 'gather' | 'scatterAdd'): Rule => (node, [a], out, B) => {
  const { axis, index } = node.ctx.attrs as { axis: number; index: Tensor };
  if (axis === a) return lost(op, 'it indexes along the batch axis (picks rows by index)');
  return index.shape[a!] === B && out.shape[a!] === B ? a! : lost(op, 'its index does not cover the batch axis');
};

/**
 * matmul [..., M, K] @ [..., K, N] → [..., M, N] (a 1-D operand has no M or N axis). The batch
 * may be on a broadcast batch dimension (the same output axis for both operands), on M of the
 * first or N of the second; on K it is contracted: samples interact.
 */
const matmul: Rule = (node, axes, out) => {
  const [sa, sb] = node.ctx.inputShapes as [number[], number[]];
  const batchRank = out.rank - (sa.length > 1 ? 1 : 0) - (sb.length > 1 ? 1 : 0);
  const map = (a: number, shape: number[], first: boolean): number | null => {
    const r = shape.length;
    const outer = Math.max(r - 2, 0);
    if (a < outer) return a + (batchRank - outer);
    if (r === 1) return null; // a vector's only axis is K
    if (first) return a === r - 2 ? batchRank : null;
    return a === r - 1 ? out.rank - 1 : null;
  };
  let axis: number | null = null;
  for (const [i, shape] of [[0, sa], [1, sb]] as const) {
    const a = axes[i];
    if (a === null || a === undefined) continue;
    const mapped = map(a, shape, i === 0);
    if (mapped === null) return mixed('matmul', 'it contracts over the batch axis');
    if (axis !== null && axis !== mapped) return mixed('matmul', 'its operands carry the batch on different axes');
    axis = mapped;
  }
  return axis!;
};

/** Convolutions and pooling over [N, C, H, W]: samples stay apart only on N (and C for pooling). */
const onAxes = (op: string, allowed: readonly number[], inputs: readonly number[] = [0]): Rule => (_node, axes) => {
  for (let i = 0; i < axes.length; i++) {
    const a = axes[i];
    if (a === null || a === undefined) continue;
    if (!inputs.includes(i)) return lost(op, 'its weight depends on the batch');
    if (!allowed.includes(a)) return mixed(op, `it mixes values along axis ${a}, the batch axis`);
  }
  return axes[inputs[0]!]!;
};

/**
 * BatchNorm in train mode (and its fused gradient): statistics over every axis but the
 * channel axis 1 couple whatever lies along them — the batch, on axis 0, above all. A batch
 * on the channel axis, or on γ, is not followed (the backward's packed output merges axes).
 */
const batchStatistics = (op: string): Rule => (_node, axes) => {
  const onData = axes.slice(0, op === 'batchNormTrain' ? 1 : 2).filter((a): a is number => a !== null && a !== undefined);
  if (onData.some((a) => a !== 1)) return mixed(op, 'its batch statistics sum over the batch axis');
  return lost(op, 'it normalises per channel, and the batch is on the channel axis or on γ/β');
};

/**
 * Row-wise ops over [N, C] (cross-entropy and its gradient): the softmax runs along the classes
 * (axis 1), so samples stay apart only when the batch is on axis 0 — of the logits, and of the
 * per-sample factors [N] of the gradient — and the output's batch axis is then 0.
 */
const rowwise = (op: string): Rule => (_node, axes) => {
  for (const a of axes) {
    if (a !== null && a !== undefined && a !== 0) return mixed(op, `its softmax runs along the classes, and the batch is on axis ${a}`);
  }
  return 0;
};

/**
 * LayerNorm (and its fused gradient): statistics per row of the last k axes, so samples stay
 * apart as for an elementwise op — unless the batch axis is one of those k axes (or γ/β carry
 * it onto the rows: `elementwise` maps their axes into the last k).
 */
const trailingRows = (op: string): Rule => (node, axes, out, B) => {
  const { k, affine } = node.ctx.attrs as { k: number; affine: boolean };
  // The affine gradient packs ∂γ and ∂β, sums over every row — the samples' among them.
  if (op === 'layerNormBackward' && affine) return mixed(op, 'its ∂γ and ∂β sum over the rows of every sample');
  const axis = elementwise(node, axes, out, B);
  if (typeof axis === 'number' && axis >= out.rank - k) return mixed(op, `it normalizes over its last ${k} axes, and the batch is on axis ${axis}`);
  return axis;
};

/** A user-defined primitive: nothing is known about how it treats the batch. */
const customOp: Rule = (node) => lost(node.op.name, 'a custom op has no batch-axis rule here; use vmap(grad(…)) for its per-sample gradients');

export const BATCH_AXIS_RULES = {
  identity: same,
  cast: same,
  copy: same,
  neg: same,
  exp: same,
  log: same,
  sqrt: same,
  abs: same,
  relu: same,
  reluBackward: same,
  sigmoid: same,
  tanh: same,
  elu: same,
  softplus: same,
  powScalar: same,
  sin: same,
  cos: same,
  tan: same,
  asin: same,
  acos: same,
  atan: same,
  sinh: same,
  cosh: same,
  asinh: same,
  acosh: same,
  atanh: same,
  erf: same,
  erfc: same,
  log1p: same,
  expm1: same,
  rsqrt: same,
  logSigmoid: same,
  gelu: same,
  add: elementwise,
  sub: elementwise,
  mul: elementwise,
  div: elementwise,
  pow: elementwise,
  maximum: elementwise,
  minimum: elementwise,
  atan2: elementwise,
  where: elementwise,
  sum,
  cumsum: scan('cumsum'),
  logcumsumexp: scan('logcumsumexp'),
  linearScan: scan('linearScan'),
  crossEntropy: rowwise('crossEntropy'),
  crossEntropyBackward: rowwise('crossEntropyBackward'),
  matmul,
  conv2d: onAxes('conv2d', [0]),
  conv2dBackwardInput: onAxes('conv2dBackwardInput', [0]),
  // ∂/∂w of a convolution sums over the batch: always an interaction.
  conv2dBackwardWeight: () => mixed('conv2dBackwardWeight', 'it sums over the samples'),
  avgPool2d: onAxes('avgPool2d', [0, 1]),
  avgPool2dBackward: onAxes('avgPool2dBackward', [0, 1]),
  // Per plane, like average pooling: the batch may be on N or C (the indices are per plane too).
  maxPool2d: onAxes('maxPool2d', [0, 1]),
  maxPool2dBackward: onAxes('maxPool2dBackward', [0, 1]),
  reshape,
  permute,
  expand,
  slice: wholeAlong('slice', (node, a) => {
    const { starts, steps, shape } = node.ctx.attrs as { starts: number[]; steps: number[]; shape: number[] };
    return starts[a] === 0 && steps[a] === 1 && shape[a] === node.ctx.inputShapes[0]![a];
  }),
  unslice: wholeAlong('unslice', (node, a) => (node.ctx.attrs as { shape: number[] }).shape[a] === node.ctx.inputShapes[0]![a]),
  pad: wholeAlong('pad', (node, a) => {
    const [before, after] = (node.ctx.attrs as { widths: [number, number][] }).widths[a]!;
    return before === 0 && after === 0;
  }),
  concat,
  gather: indexed('gather'),
  scatterAdd: indexed('scatterAdd'),
  batchNormTrain: batchStatistics('batchNormTrain'),
  batchNormTrainBackward: batchStatistics('batchNormTrainBackward'),
  // Per (sample, channel) like a convolution's bias add, while s and t are the parameters'.
  channelAffine: onAxes('channelAffine', [0]),
  channelSums: () => mixed('channelSums', 'it sums over the samples'),
  channelAffineBackward: () => mixed('channelAffineBackward', 'its ∂s and ∂t sum over the samples'),
  layerNorm: trailingRows('layerNorm'),
  layerNormBackward: trailingRows('layerNormBackward'),
} satisfies Record<OpName, Rule>;

/**
 * The batch axis of every tensor in `order` (forward topological order of the batch side),
 * given that `input`'s is 0.
 */
export function traceBatchAxes(order: readonly Tensor[], input: Tensor, B: number): Map<Tensor, BatchAxis> {
  const axes = new Map<Tensor, BatchAxis>([[input, 0]]);
  for (const t of order) {
    if (t === input) continue;
    const node = t.node!;
    const inputAxes = node.inputs.map((i) => axes.get(i) ?? null);
    const unknown = inputAxes.find((a): a is NoBatchAxis => a !== null && typeof a !== 'number');
    const rule: Rule = BATCH_AXIS_RULES[node.op.name as OpName] ?? customOp;
    axes.set(t, unknown ?? rule(node, inputAxes as (number | null)[], t, B));
  }
  return axes;
}

/** The error for a tensor whose batch axis is not known where per-sample gradients need it. */
export function noBatchAxisError(reason: NoBatchAxis, where: string): GradError {
  if (reason.kind === 'mixed') {
    return new GradError(
      `perSampleGradients: samples interact through '${reason.op}' (${reason.detail})${where}, so per-sample gradients ` +
        'are not defined (BatchNorm in train mode? centring by the batch mean? a softmax over the batch?); ' +
        'use perSampleJacobian for the exact rows',
    );
  }
  return new GradError(
    `perSampleGradients: cannot follow the batch axis through '${reason.op}' (${reason.detail})${where}; ` +
      'per-sample gradients are refused rather than guessed — keep the batch axis whole, or use perSampleJacobian',
  );
}
