/**
 * batchNormTrainBackward(x, g, γ): the gradient of batchNormTrain (batch-norm.ts) as one
 * primitive, so that a first-order backward through BatchNorm is two passes over the data.
 *
 * Per channel, with M[·] the mean over the channel's n values (every axis but 1), μ = M[x],
 * σ² = M[(x − μ)²], r = (σ² + ε)^(−1/2), x̂ = (x − μ)·r and the projection
 *   P(z) = z − M[z] − x̂·M[x̂ z]   (self-adjoint; δx̂ = r·P(δx)),
 * the op maps (x, g, γ) to the three gradients of y = γ x̂ + β, packed into one vector
 * [∂x (n·C values, row-major) | ∂γ (C) | ∂β (C)] (just ∂x without γ):
 *   ∂x = γ r P(g),   ∂γ = Σ g x̂,   ∂β = Σ g.
 *
 * Its own derivatives — needed only for second order (HVPs, grad of grad) — are written with
 * differentiable composite ops, so every order works. For a cotangent (a, p, q) of the packed
 * output:
 *   ∂/∂g = γ r P(a) + p x̂ + q
 *   ∂/∂γ = r Σ a P(g)
 *   ∂/∂x = −γ r² (M[a P(g)] x̂ + M[g x̂] P(a) + M[a x̂] P(g)) + p r P(g)
 * and forward mode is the linear part in g (the op itself on the tangent) plus
 *   d∂x = tγ r P(g) − γ r² (M[x̂ tx] P(g) + M[x̂ g] P(tx) + M[g P(tx)] x̂),   d∂γ = r Σ g P(tx).
 *
 * NOTE: packing is how one primitive returns three tensors here (an op has one output): the
 * rule of batchNormTrain takes them apart with slices, which are views, so ∂x is never copied
 * (only the 2·C numbers of ∂γ and ∂β are, there).
 */
import { getBackend } from '../../kernels/registry.js';
import { sizeOf } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { scalarTensor } from '../operands.js';
import { apply, defineOp, type Batched } from '../op.js';
import { mergeBatchIntoChannels, moveAxis, toFrontExpanded } from '../rules.js';
import { concat } from './concat.js';

/** The axes the statistics run over: every axis but the channel axis 1. */
export function statisticAxes(rank: number): number[] {
  return Array.from({ length: rank }, (_, i) => i).filter((i) => i !== 1);
}

/** [1, C, 1, …]: the shape in which a per-channel [C] tensor broadcasts against x. */
export function channelShape(shape: readonly number[]): number[] {
  return shape.map((d, i) => (i === 1 ? d : 1));
}

/**
 * A per-channel parameter [C] (or [B, C] when batched) as [B·C], sample b's channels at
 * b·C … b·C + C − 1 — matching mergeBatchIntoChannels on x.
 */
export function mergeChannelParameter(p: Tensor, dim: number | null, size: number): Tensor {
  const front = toFrontExpanded(p, dim, size);
  return front.reshape([size * front.shape[1]!]);
}

/** The three gradients packed by batchNormTrainBackward, as views of the packed vector. */
export function unpackGradients(packed: Tensor, shape: readonly number[], affine: boolean): [Tensor, Tensor | null, Tensor | null] {
  const n = sizeOf(shape);
  if (!affine) return [packed.reshape(shape), null, null];
  const C = shape[1]!;
  return [packed.slice([[0, n]]).reshape(shape), packed.slice([[n, n + C]]), packed.slice([[n + C, n + 2 * C]])];
}

/**
 * A packed gradient [∂x | ∂γ | ∂β] computed over the samples' channels side by side (x's merged
 * shape [N, B·C, …], mergeBatchIntoChannels) as one packed row per sample: [B, n + 2C], batch
 * axis 0 (without affine, ∂x alone: [B, n]).
 */
export function splitPackedGradients(packed: Tensor, mergedShape: readonly number[], size: number, affine: boolean): Batched {
  const [N, BC, ...rest] = mergedShape as [number, number, ...number[]];
  const C = BC / size;
  const [gx, gw, gb] = unpackGradients(packed, mergedShape, affine);
  const rows = moveAxis(gx.reshape([N, size, C, ...rest]), 1, 0).reshape([size, N * C * sizeOf(rest)]);
  if (!affine) return { value: rows, dim: 0 };
  return { value: concat([rows, gw!.reshape([size, C]), gb!.reshape([size, C])], 1), dim: 0 };
}

/**
 * The per-channel quantities of the file comment, computed from x with differentiable ops
 * (so that the second-order rules stay differentiable in x to any order).
 */
function normalization(x: Tensor, eps: number) {
  const axes = statisticAxes(x.rank);
  const M = (z: Tensor) => z.mean(axes, true);
  const centered = x.sub(M(x));
  const r = M(centered.mul(centered)).add(eps).pow(-0.5);
  const xhat = centered.mul(r);
  const P = (z: Tensor) => z.sub(M(z)).sub(xhat.mul(M(xhat.mul(z))));
  return { axes, M, r, xhat, P };
}

/** The batchNormTrainBackward primitive: inputs [x, g, γ] (affine) or [x, g]; see the file comment. */
export const batchNormTrainBackwardOp = defineOp<{
  /** Added to the variance before the square root, as in the forward. */
  eps: number;
  /** Whether γ is an input (and ∂γ, ∂β are in the output); without it γ = 1. */
  affine: boolean;
}>({
  name: 'batchNormTrainBackward',
  forward: ([x, g, w], { eps, affine }) => {
    const data = getBackend().batchNormBackward(x!, g!, affine ? w! : null, eps, x!.dtype);
    return Tensor.fromData(data, [data.length]);
  },
  save: (inputs) => inputs.slice(),
  backward: (ctx, gradOut) => {
    const [x, g, w] = ctx.saved;
    const { eps, affine } = ctx.attrs;
    const [a, p, q] = unpackGradients(gradOut, x!.shape, affine);
    const chan = channelShape(x!.shape);
    const { axes, M, r, xhat, P } = normalization(x!, eps);
    const gamma = affine ? w!.reshape(chan) : null;
    const pc = p?.reshape(chan);
    const Pa = P(a);
    const Pg = P(g!);
    const gr = gamma ? gamma.mul(r) : r;
    let dg: Tensor | null = null;
    if (ctx.needsInputGrad[1]) {
      dg = gr.mul(Pa);
      if (pc) dg = dg.add(pc.mul(xhat)).add(q!.reshape(chan));
    }
    let dx: Tensor | null = null;
    if (ctx.needsInputGrad[0]) {
      const inner = M(a.mul(Pg)).mul(xhat).add(M(g!.mul(xhat)).mul(Pa)).add(M(a.mul(xhat)).mul(Pg));
      dx = gr.mul(r).mul(inner).neg();
      if (pc) dx = dx.add(pc.mul(r).mul(Pg));
    }
    const dw = affine && ctx.needsInputGrad[2] ? r.mul(a.mul(Pg).sum(axes, true)).reshape([x!.shape[1]!]) : null;
    return affine ? [dx, dg, dw] : [dx, dg];
  },
  jvp: ({ inputs: [x, g, w], tangents: [tx, tg, tw], attrs }): Tensor => {
    const { eps, affine } = attrs;
    const shape = x!.shape;
    const C = shape[1]!;
    // Linear in g: the tangent of g goes through the op itself (fused).
    const terms: Tensor[] = tg ? [apply(batchNormTrainBackwardOp, affine ? [x!, tg, w!] : [x!, tg], attrs)] : [];
    if (tx || tw) {
      const chan = channelShape(shape);
      const { axes, M, r, xhat, P } = normalization(x!, eps);
      const Pg = P(g!);
      let ddx: Tensor | null = tw ? tw.reshape(chan).mul(r).mul(Pg) : null;
      let ddw: Tensor | null = null;
      if (tx) {
        const Ptx = P(tx);
        const gr2 = (affine ? w!.reshape(chan).mul(r) : r).mul(r);
        const fromX = gr2.mul(M(xhat.mul(tx)).mul(Pg).add(M(xhat.mul(g!)).mul(Ptx)).add(M(g!.mul(Ptx)).mul(xhat))).neg();
        ddx = ddx ? ddx.add(fromX) : fromX;
        ddw = r.mul(g!.mul(Ptx).sum(axes, true)).reshape([C]);
      }
      const flat = ddx!.reshape([ddx!.size]);
      if (!affine) {
        terms.push(flat);
      } else {
        const zero = scalarTensor(0, x!.dtype).expand([C]);
        terms.push(concat([flat, ddw ?? zero, zero], 0));
      }
    }
    return terms.length === 2 ? terms[0]!.add(terms[1]!) : terms[0]!;
  },
  // Each sample's channels become channels of their own: [N, B·C, …] normalised per (sample,
  // channel), then the packed result is sorted back into one packed row per sample.
  batch: ({ inputs: [x, g, w], dims: [dx, dg, dw], attrs, size }): Batched => {
    const xs = mergeBatchIntoChannels(x!, dx!, size);
    const gs = mergeBatchIntoChannels(g!, dg!, size);
    const inputs = attrs.affine ? [xs, gs, mergeChannelParameter(w!, dw!, size)] : [xs, gs];
    return splitPackedGradients(apply(batchNormTrainBackwardOp, inputs, attrs), xs.shape, size, attrs.affine);
  },
  describe: ({ eps, affine }) => `eps=${eps}${affine ? '' : ', no affine'}`,
});

/**
 * The packed gradients [∂x | ∂γ | ∂β] of batchNormTrain at x for the output gradient g (x's
 * shape), with γ [C] or null (no affine: just ∂x, flattened). Differentiable to any order.
 * Arguments are not validated: it is meant for backward rules.
 */
export function batchNormTrainBackward(x: Tensor, g: Tensor, weight: Tensor | null, eps: number): Tensor {
  return apply(batchNormTrainBackwardOp, weight ? [x, g, weight] : [x, g], { eps, affine: weight !== null });
}
