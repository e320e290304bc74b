/**
 * crossEntropy(x; t)ᵢ = −log softmax(xᵢ)[tᵢ] = log Σⱼ e^{xᵢⱼ} − x_{i,tᵢ}: the per-sample
 * cross-entropy of logits x [N, C] against int32 class targets t [N] (an attr), → [N].
 * ∂ℓᵢ/∂xᵢⱼ = softmax(xᵢ)ⱼ − [j = tᵢ], so the gradient for a cotangent g [N] is
 * crossEntropyBackward(x, g; t) (cross-entropy-backward.ts), and the tangent is
 * Σⱼ (softmax(xᵢ)ⱼ − [j = tᵢ]) ẋᵢⱼ.
 * NOTE: a primitive for speed: the composite −gather(logSoftmax(x), t) ran 8 kernels and
 * recorded 7 graph nodes forward, and about as many kernels backward; this is one kernel each
 * way (1.3–1.6× faster forward + backward on [128, 10], bench/micro/elementwise.mjs), with the
 * same stability (the max shift) and, in float64, the same losses bit for bit. It maps [N, C] to
 * [N] row by row, so a per-sample loss stays sample-separable: the batch axis is axis 0
 * (batch-axis.ts), and reductions ('mean', 'sum') stay composites on top of it.
 */
import { getBackend } from '../../kernels/registry.js';
import { Tensor } from '../../tensor/tensor.js';
import { scalarTensor } from '../operands.js';
import { apply, defineOp } from '../op.js';
import { toFrontExpanded } from '../rules.js';
import { crossEntropyBackward } from './cross-entropy-backward.js';

export const crossEntropyOp = defineOp<{
  /** int32 class targets [N], a constant (never differentiated). */
  targets: Tensor;
}>({
  name: 'crossEntropy',
  forward: ([x], { targets }) => Tensor.fromData(getBackend().crossEntropy(x!, targets, x!.dtype), [x!.shape[0]!]),
  save: ([x]) => [x!],
  backward: (ctx, gradOut) => {
    const [x] = ctx.saved;
    return [crossEntropyBackward(x!, gradOut, ctx.attrs.targets)];
  },
  // The backward's rows for g = 1 are softmax − onehot; contracted with the tangent per row.
  jvp: ({ inputs: [x], tangents: [t], attrs: { targets } }) => {
    const ones = scalarTensor(1, x!.dtype).expand([x!.shape[0]!]);
    return crossEntropyBackward(x!, ones, targets).mul(t!).sum(1);
  },
  // Rows of every sample side by side: [B, N, C] → [B·N, C], the targets alike.
  batch: ({ inputs: [x], dims: [d], attrs: { targets }, size, unwrap }) => {
    const t = unwrap(targets);
    const xs = toFrontExpanded(x!, d!, size);
    const ts = toFrontExpanded(t.value, t.dim, size);
    const [b, n, c] = xs.shape as [number, number, number];
    return { value: crossEntropyRows(xs.reshape([b * n, c]), ts.reshape([b * n])).reshape([b, n]), dim: 0 };
  },
});

/**
 * −log softmax(xᵢ)[tᵢ] for every row of logits x [N, C] (float) and int32 targets t [N]: the
 * unreduced cross-entropy, differentiable in x to any order. Shapes and dtypes are the
 * caller's to check (the public entry point is crossEntropy in composite/loss.ts); a target
 * outside [0, C) is a ValueError.
 */
export function crossEntropyRows(x: Tensor, targets: Tensor): Tensor {
  return apply(crossEntropyOp, [x], { targets });
}
