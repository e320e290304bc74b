/**
 * layerNormBackward(x, g[, γ]): the gradient of the layerNorm primitive (layer-norm.ts) as one
 * primitive, so that a first-order backward through LayerNorm is one kernel.
 *
 * Per row (the last k axes of x, n values), with M[·] the row mean, μ = M[x],
 * σ² = M[(x − μ)²], r = (σ² + ε)^(−1/2), x̂ = (x − μ)·r and the projection
 *   P(z) = z − M[z] − x̂·M[x̂ z]   (self-adjoint; δx̂ = r·P(δx)),
 * the op maps (x, g) to L(x, g) = r P(g), the gradient of x̂; with γ (affine) it maps
 * (x, g, γ) to the three gradients of y = γ x̂ + β, packed into one vector
 * [∂x (row-major) | ∂γ (n) | ∂β (n)], Σ summing over the rows:
 *   ∂x = r P(γ g),   ∂γ = Σ g x̂,   ∂β = Σ g.
 *
 * Its own derivatives — needed only for second order (HVPs through a Transformer block, grad
 * of grad) — are written with differentiable composite ops, so every order works. With h = γ g,
 * u = L(x, a) (the op itself, fused) and the symmetric second derivative
 *   D(h, a) = −r² (M[a P(h)] x̂ + M[h x̂] P(a) + M[a x̂] P(h)),
 * for a cotangent (a, p, q) of the packed output:
 *   ∂/∂g = γ u + p x̂ + q,   ∂/∂γ = Σ g u,   ∂/∂x = D(h, a) + r P(g p)
 * (without γ: ∂/∂g = u and ∂/∂x = D(g, a)), and forward mode is
 *   d∂x = L(x, γ̇ g + γ ġ) + D(h, ẋ),   d∂γ = Σ (ġ x̂ + g r P(ẋ)),   d∂β = Σ ġ.
 *
 * NOTE: these second-order rules are composites, not kernels: they run only for HVPs and
 * grad of grad, where the extra passes matter less, and a formula in Tensor ops is
 * differentiable again for free (third order and beyond). Packing is how one primitive
 * returns three tensors (an op has one output); layerNorm's rule takes them apart with slices.
 */
import { getBackend } from '../../kernels/registry.js';
import { sizeOf } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { scalarTensor } from '../operands.js';
import { apply, defineOp, type Batched } from '../op.js';
import { moveAxis, toFrontExpanded } from '../rules.js';
import { concat } from './concat.js';

/** The attrs of layerNorm and layerNormBackward. */
export interface LayerNormAttrs {
  /** How many trailing axes are normalized (≥ 1). */
  k: number;
  /** Added to the variance before the square root. */
  eps: number;
  /** Whether γ (and, for layerNorm, β) are inputs; without them γ = 1, β = 0. */
  affine: boolean;
}

/** The number of values in one normalized row: the product of the last k axes. */
export function rowSize(shape: readonly number[], k: number): number {
  return sizeOf(shape.slice(shape.length - k));
}

/**
 * A batched input of a layer-norm primitive with its batch axis where the op may keep it:
 * anywhere before the last k axes (then unchanged), else moved to the front.
 */
export function beforeRows(x: Tensor, dim: number, k: number): [Tensor, number] {
  return dim <= x.rank - 1 - k ? [x, dim] : [moveAxis(x, dim, 0), 0];
}

/** The three gradients packed by the affine layerNormBackward, as views of the packed vector. */
export function unpackGradients(packed: Tensor, shape: readonly number[], k: number): [Tensor, Tensor, Tensor] {
  const total = sizeOf(shape);
  const rowShape = shape.slice(shape.length - k);
  const n = sizeOf(rowShape);
  return [
    packed.slice([[0, total]]).reshape(shape),
    packed.slice([[total, total + n]]).reshape(rowShape),
    packed.slice([[total + n, total + 2 * n]]).reshape(rowShape),
  ];
}

/** A batch-first γ or β [B, …row shape] as [B, 1 × lead, …row shape], to broadcast against x. */
export function alignRows(p: Tensor, lead: number): Tensor {
  return p.reshape([p.shape[0]!, ...new Array<number>(lead).fill(1), ...p.shape.slice(1)]);
}

/** z summed over every axis before its last k (z itself when there are none). */
function sumRows(z: Tensor, k: number): Tensor {
  const lead = Array.from({ length: z.rank - k }, (_, i) => i);
  return lead.length === 0 ? z : z.sum(lead);
}

/**
 * The per-row quantities of the file comment, computed from x with differentiable ops (so
 * that the second-order rules stay differentiable in x to any order).
 */
function normalization(x: Tensor, k: number, eps: number) {
  const axes = Array.from({ length: k }, (_, i) => x.rank - k + i);
  const M = (z: Tensor) => z.mean(axes, true);
  const centered = x.sub(M(x));
  const r = M(centered.mul(centered)).add(eps).pow(-0.5);
  const xhat = centered.mul(r);
  const P = (z: Tensor) => z.sub(M(z)).sub(xhat.mul(M(xhat.mul(z))));
  // The symmetric second derivative D(h, a) of the file comment.
  const D = (h: Tensor, a: Tensor) => {
    const Ph = P(h);
    return r.mul(r).mul(M(a.mul(Ph)).mul(xhat).add(M(h.mul(xhat)).mul(P(a))).add(M(a.mul(xhat)).mul(Ph))).neg();
  };
  return { r, xhat, P, D };
}

/** The layerNormBackward primitive: inputs [x, g, γ] (affine) or [x, g]; see the file comment. */
export const layerNormBackwardOp = defineOp<LayerNormAttrs>({
  name: 'layerNormBackward',
  forward: ([x, g, w], { k, eps, affine }) => {
    const data = getBackend().layerNormBackward(x!, g!, affine ? w! : null, rowSize(x!.shape, k), eps, x!.dtype);
    return Tensor.fromData(data, affine ? [data.length] : x!.shape);
  },
  save: (inputs) => inputs.slice(),
  backward: (ctx, cotangent) => {
    const [x, g, w] = ctx.saved;
    const { k, eps, affine } = ctx.attrs;
    const needs = ctx.needsInputGrad;
    const [a, p, q] = affine ? unpackGradients(cotangent, x!.shape, k) : [cotangent, null, null];
    const u = needs[1] || needs[2] ? layerNormBackward(x!, a, null, k, eps) : null;
    const norm = needs[0] || (affine && needs[1]) ? normalization(x!, k, eps) : null;
    let dg: Tensor | null = null;
    if (needs[1]) dg = affine ? w!.mul(u!).add(p!.mul(norm!.xhat)).add(q!) : u;
    let dx: Tensor | null = null;
    if (needs[0]) {
      const { r, P, D } = norm!;
      dx = affine ? D(w!.mul(g!), a).add(r.mul(P(g!.mul(p!)))) : D(g!, a);
    }
    if (!affine) return [dx, dg];
    return [dx, dg, needs[2] ? sumRows(g!.mul(u!), k) : null];
  },
  jvp: ({ inputs: [x, g, w], tangents: [tx, tg, tw], attrs }): Tensor => {
    const { k, eps, affine } = attrs;
    const h = affine ? w!.mul(g!) : g!;
    let th: Tensor | null = affine ? (tg ? w!.mul(tg) : null) : tg;
    if (tw) th = th ? th.add(tw.mul(g!)) : tw.mul(g!);
    const norm = tx || (affine && tg) ? normalization(x!, k, eps) : null;
    let ddx: Tensor | null = th ? layerNormBackward(x!, th, null, k, eps) : null;
    if (tx) ddx = ddx ? ddx.add(norm!.D(h, tx)) : norm!.D(h, tx);
    const shape = x!.shape;
    if (!affine) return ddx ?? scalarTensor(0, x!.dtype).expand(shape);
    const n = rowSize(shape, k);
    const zero = (size: number) => scalarTensor(0, x!.dtype).expand([size]);
    let ddw: Tensor | null = tg ? tg.mul(norm!.xhat) : null;
    if (tx) {
      const fromX = g!.mul(norm!.r.mul(norm!.P(tx)));
      ddw = ddw ? ddw.add(fromX) : fromX;
    }
    return concat(
      [
        ddx ? ddx.reshape([ddx.size]) : zero(sizeOf(shape)),
        ddw ? sumRows(ddw, k).reshape([n]) : zero(n),
        tg ? sumRows(tg, k).reshape([n]) : zero(n),
      ],
      0,
    );
  },
  // Rows never interact, and the batch axis is never a row axis. Without γ: keep it where it
  // is when both operands carry it before the rows, else line both up with it in front. With
  // γ the sums over the rows must stay per sample: composites on the batch-first operands.
  batch: ({ inputs: [x, g, w], dims: [dx, dg, dw], attrs, size }): Batched => {
    const { k, eps, affine } = attrs;
    if (!affine && dx !== null && dx === dg && dx! <= x!.rank - 1 - k) {
      return { value: layerNormBackward(x!, g!, null, k, eps), dim: dx! };
    }
    const xs = toFrontExpanded(x!, dx!, size);
    const gs = toFrontExpanded(g!, dg!, size);
    if (!affine) return { value: layerNormBackward(xs, gs, null, k, eps), dim: 0 };
    const rank = xs.rank - 1;
    const ws = dw === null || dw === undefined ? w! : alignRows(toFrontExpanded(w!, dw, size), rank - k);
    const gx = layerNormBackward(xs, gs.mul(ws), null, k, eps);
    const { xhat } = normalization(xs, k, eps);
    const lead = Array.from({ length: rank - k }, (_, i) => i + 1);
    const perSample = (z: Tensor) => (lead.length === 0 ? z : z.sum(lead)).reshape([size, rowSize(xs.shape, k)]);
    return { value: concat([gx.reshape([size, gx.size / size]), perSample(gs.mul(xhat)), perSample(gs)], 1), dim: 0 };
  },
  describe: ({ k, eps, affine }) => `k=${k}, eps=${eps}${affine ? '' : ', no affine'}`,
});

/**
 * The gradient of layerNorm over the last `k` axes of x for the output gradient g (x's
 * shape): ∂x̂/∂x applied to g when `weight` is null, else the packed [∂x | ∂γ | ∂β] of
 * y = γ x̂ + β. Differentiable to any order. Arguments are not validated: it is meant for the
 * rules of layerNorm.
 */
export function layerNormBackward(x: Tensor, g: Tensor, weight: Tensor | null, k: number, eps: number): Tensor {
  return apply(layerNormBackwardOp, weight ? [x, g, weight] : [x, g], { k, eps, affine: weight !== null });
}
