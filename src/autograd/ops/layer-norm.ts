/**
 * layerNorm(x[, γ, β]): LayerNorm as one primitive, over the last k axes of x (n values per
 * row):
 *
 *   y = γ·x̂ + β,   x̂ = (x − μ)·r,   μ = M[x],   σ² = M[(x − μ)²] (biased),   r = (σ² + ε)^(−1/2)
 *
 * where M[·] is the row mean (γ = 1, β = 0 without affine). Differentiating μ and σ² too, with
 * the self-adjoint projection P(z) = z − M[z] − x̂·M[x̂ z] and Σ the sum over the rows:
 *
 *   ∂/∂x = r P(γ g),   ∂/∂γ = Σ g x̂,   ∂/∂β = Σ g
 *
 * — all three at once by the primitive layerNormBackward (layer-norm-backward.ts), whose own
 * rules are differentiable, so grad of grad and HVPs go through LayerNorm. Forward mode:
 * ẏ = γ r P(ẋ) + γ̇ x̂ + β̇ (the first term is layerNormBackward on the tangent, since P is
 * self-adjoint). vmap: rows never interact and the batch axis is never a normalized axis, so
 * the op runs on the batched tensor as is (the batch axis moved in front of the rows if need
 * be); a batched γ or β is applied by ordinary ops after the normalization.
 *
 * NOTE: a primitive for speed: the composite took ≈8 passes over the data forward and ≈20
 * backward; the fused kernels (kernels/cpu/layer-norm.ts) take one each, with the same
 * two-pass variance in float64. The affine mode fuses γ and β too: as separate ops they cost
 * about as much again as the normalization, forward and back (perSampleGradients has a rule for
 * γ and β meeting the batch inside the op: autograd/per-sample.ts).
 */
import { getBackend } from '../../kernels/registry.js';
import { Tensor } from '../../tensor/tensor.js';
import { apply, defineOp, type Batched } from '../op.js';
import { sumTangents, toFrontExpanded } from '../rules.js';
import { alignRows, beforeRows, layerNormBackward, rowSize, unpackGradients, type LayerNormAttrs } from './layer-norm-backward.js';

/** The layerNorm primitive: inputs [x, γ, β] (affine) or [x], attrs `{ k, eps, affine }`; see the file comment. */
export const layerNormOp = defineOp<LayerNormAttrs>({
  name: 'layerNorm',
  forward: ([x, w, b], { k, eps, affine }) =>
    Tensor.fromData(getBackend().layerNormForward(x!, affine ? w! : null, affine ? b! : null, rowSize(x!.shape, k), eps, x!.dtype), x!.shape),
  save: ([x, w], _output, { affine }) => (affine ? [x!, w!] : [x!]),
  backward: (ctx, gradOut) => {
    const [x, w] = ctx.saved;
    const { k, eps, affine } = ctx.attrs;
    if (!affine) return [layerNormBackward(x!, gradOut, null, k, eps)];
    const [dx, dw, db] = unpackGradients(layerNormBackward(x!, gradOut, w!, k, eps), x!.shape, k);
    // NOTE: ∂γ and ∂β are copied out of the packed vector (2·n numbers), so that a kept
    // parameter gradient does not keep the whole ∂x buffer alive.
    const needs = ctx.needsInputGrad;
    return [needs[0] ? dx : null, needs[1] ? dw.clone() : null, needs[2] ? db.clone() : null];
  },
  jvp: ({ inputs: [x, w], tangents: [tx, tw, tb], output, attrs }): Tensor => {
    const { k, eps, affine } = attrs;
    const fromX = tx ? layerNormBackward(x!, tx, null, k, eps) : null;
    if (!affine) return fromX!;
    const terms: (Tensor | null)[] = [
      fromX ? fromX.mul(w!) : null,
      tw ? apply(layerNormOp, [x!], { k, eps, affine: false }).mul(tw) : null,
      tb,
    ];
    return sumTangents(output, terms);
  },
  batch: ({ inputs: [x, w, b], dims: [dx, dw, db], attrs, size }): Batched => {
    const { k, eps, affine } = attrs;
    const paramsBatched = affine && ((dw !== null && dw !== undefined) || (db !== null && db !== undefined));
    if (!paramsBatched) {
      const [xs, d] = beforeRows(x!, dx!, k);
      return { value: apply(layerNormOp, affine ? [xs, w!, b!] : [xs], attrs), dim: d };
    }
    // A batched γ or β: normalize the batch-first x, then scale and shift per sample.
    const xs = toFrontExpanded(x!, dx!, size);
    const lead = xs.rank - 1 - k;
    const param = (p: Tensor, dim: number | null | undefined) => (dim === null || dim === undefined ? p : alignRows(toFrontExpanded(p, dim, size), lead));
    const xhat: Tensor = apply(layerNormOp, [xs], { k, eps, affine: false });
    return { value: xhat.mul(param(w!, dw)).add(param(b!, db)), dim: 0 };
  },
  describe: ({ k, eps, affine }) => `k=${k}, eps=${eps}${affine ? '' : ', no affine'}`,
});
