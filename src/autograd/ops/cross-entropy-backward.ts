/**
 * crossEntropyBackward(x, g; t)ᵢⱼ = gᵢ·(pᵢⱼ − [j = tᵢ]) with p = softmax(x) along the classes:
 * the gradient of the per-sample cross-entropy (cross-entropy.ts) for the cotangent g [N], from
 * logits x [N, C] and int32 targets t [N] (an attr). For a cotangent u [N, C] of the output:
 *   ∂/∂gᵢ = Σⱼ uᵢⱼ (pᵢⱼ − [j = tᵢ]) = ⟨uᵢ, pᵢ⟩ − u_{i,tᵢ},
 *   ∂/∂xᵢₖ = gᵢ pᵢₖ (uᵢₖ − ⟨uᵢ, pᵢ⟩)   (since ∂pᵢⱼ/∂xᵢₖ = pᵢⱼ([j = k] − pᵢₖ)),
 * and the tangent is ġᵢ (pᵢⱼ − [j = tᵢ]) + gᵢ pᵢⱼ (ẋᵢⱼ − ⟨pᵢ, ẋᵢ⟩).
 * NOTE: a primitive for speed (one kernel instead of the composite's backward chain through
 * log, exp, sum, gather and the shift). Its own rules use the softmax composite, so gradients
 * of any order through a cross-entropy (HVPs, grad of grad) follow from the primitives.
 */
import { getBackend } from '../../kernels/registry.js';
import { Tensor } from '../../tensor/tensor.js';
import { softmax } from '../composite/reduce.js';
import { apply, defineOp } from '../op.js';
import { sumTangents, toFrontExpanded } from '../rules.js';
import { gather } from './gather.js';

export const crossEntropyBackwardOp = defineOp<{
  /** int32 class targets [N], a constant (never differentiated). */
  targets: Tensor;
}>({
  name: 'crossEntropyBackward',
  forward: ([x, g], { targets }) => Tensor.fromData(getBackend().crossEntropyBackward(x!, targets, g!, x!.dtype), x!.shape),
  save: ([x, g]) => [x!, g!],
  backward: (ctx, gradOut) => {
    const [x, g] = ctx.saved;
    const p = softmax(x!, 1);
    const up = gradOut.mul(p).sum(1, true); // ⟨uᵢ, pᵢ⟩, [N, 1]
    return [
      ctx.needsInputGrad[0] ? g!.unsqueeze(1).mul(p.mul(gradOut.sub(up))) : null,
      ctx.needsInputGrad[1] ? up.squeeze(1).sub(gather(gradOut, 1, ctx.attrs.targets.unsqueeze(1)).squeeze(1)) : null,
    ];
  },
  jvp: ({ inputs: [x, g], tangents: [tx, tg], output, attrs: { targets } }) => {
    const fromG = tg ? crossEntropyBackward(x!, tg, targets) : null;
    let fromX: Tensor | null = null;
    if (tx) {
      const p = softmax(x!, 1);
      fromX = g!.unsqueeze(1).mul(p.mul(tx.sub(p.mul(tx).sum(1, true))));
    }
    return sumTangents(output, [fromG, fromX]);
  },
  // Rows of every sample side by side: [B, N, C] → [B·N, C], the targets alike.
  batch: ({ inputs: [x, g], dims: [dx, dg], attrs: { targets }, size, unwrap }) => {
    const t = unwrap(targets);
    const xs = toFrontExpanded(x!, dx!, size);
    const gs = toFrontExpanded(g!, dg!, size);
    const ts = toFrontExpanded(t.value, t.dim, size);
    const [b, n, c] = xs.shape as [number, number, number];
    const out = crossEntropyBackward(xs.reshape([b * n, c]), gs.reshape([b * n]), ts.reshape([b * n]));
    return { value: out.reshape([b, n, c]), dim: 0 };
  },
});

/**
 * gᵢ·(softmax(xᵢ) − onehot(tᵢ)) row by row: the gradient of the per-sample cross-entropy of
 * logits x [N, C] against int32 targets t [N] for the per-sample cotangent g [N] (float, x's
 * dtype). Differentiable in x and g. Shapes and dtypes are the caller's to check (the public
 * entry point is crossEntropy in composite/loss.ts); a target outside [0, C) is a ValueError.
 */
export function crossEntropyBackward(x: Tensor, g: Tensor, targets: Tensor): Tensor {
  return apply(crossEntropyBackwardOp, [x, g], { targets });
}
