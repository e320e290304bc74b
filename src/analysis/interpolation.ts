/**
 * Loss along the line between two parameter vectors (Jastrzębski et al. 2018, docs/research.md §2):
 *
 *   L(α) = F((1 − α) w_A + α w_B),   e.g. α ∈ linspace(−0.5, 1.5, 21),
 *
 * on each named data set (train, test, …), with the accuracy when the model classifies.
 * Every evaluation is a functional call (callWithVector) in an explicit BatchNorm mode, so the
 * model's parameters and running statistics are never changed.
 */
import { noGrad } from '../autograd/mode.js';
import type { Module } from '../nn/module.js';
import { crossEntropyLoss, type Batch, type PerSampleLoss } from '../nn/per-sample.js';
import { ShapeError, ValueError } from '../tensor/errors.js';
import { Tensor } from '../tensor/tensor.js';
import { withMode, type BatchNormMode } from './objective.js';

/** Options of lossAlongLine. */
export interface LineOptions {
  /** BatchNorm mode of every evaluation (required: no silent default). */
  batchNorm: BatchNormMode;
  /** Per-sample losses [B]; default cross-entropy. */
  loss?: PerSampleLoss;
  /** Report the accuracy (argmax of [B, C] outputs against class targets); default: when the loss is the default cross-entropy. */
  accuracy?: boolean;
}

/** The loss (and accuracy) of one data set along the line, one entry per α. */
export interface LineCurve {
  /** The data set's name, as given to lossAlongLine. */
  name: string;
  /** L(α) for each α: the mean per-sample loss over the data set's batch. */
  loss: number[];
  /** Accuracy at each α, or null when not requested. */
  accuracy: number[] | null;
}

/** What lossAlongLine returns: the α grid and one curve per data set. */
export interface LineResult {
  /** The α values evaluated, in the order given (0 is w_A, 1 is w_B). */
  alphas: number[];
  /** One curve per data set, in the order given. */
  curves: LineCurve[];
}

function classTargets(targets: Batch['targets']): ArrayLike<number> {
  return targets instanceof Tensor ? targets.contiguous().toTypedArray() : targets;
}

/** The loss and accuracy of one batch at the flat point w. */
function evaluateAt(model: Module, batch: Batch, w: Tensor, options: LineOptions, withAccuracy: boolean): { loss: number; accuracy: number } {
  const loss = options.loss ?? crossEntropyLoss;
  const n = batch.x.shape[0]!;
  const ids = batch.sampleIds ?? Array.from({ length: n }, (_, i) => i);
  return noGrad(() =>
    withMode(model, options.batchNorm, () =>
      model.callWithVector(w, () => {
        const out = model.forward(batch.x, { sampleIds: ids, seed: batch.seed });
        const value = loss(out, batch.targets).mean().item();
        if (!withAccuracy) return { loss: value, accuracy: NaN };
        if (out.rank !== 2) throw new ShapeError(`lossAlongLine: accuracy needs [B, C] outputs; got [${out.shape}] (pass accuracy: false)`);
        const predicted = out.argmax(1).toTypedArray();
        const targets = classTargets(batch.targets);
        let correct = 0;
        for (let i = 0; i < n; i++) if (predicted[i] === targets[i]) correct++;
        return { loss: value, accuracy: correct / n };
      }),
    ),
  );
}

/**
 * L(α) = F((1 − α) w_A + α w_B) and the accuracy on every data set, for every α.
 * @example lossAlongLine(model, [{ name: 'train', batch }], wA, wB, Array.from(linspace(-0.5, 1.5, 21).toTypedArray()), { batchNorm: 'eval' })
 */
export function lossAlongLine(
  model: Module,
  dataSets: readonly { name: string; batch: Batch }[],
  wA: Tensor,
  wB: Tensor,
  alphas: readonly number[] | Tensor,
  options: LineOptions,
): LineResult {
  const size = model.numParameters();
  for (const [label, w] of [['wA', wA], ['wB', wB]] as const) {
    if (w.rank !== 1 || w.size !== size) throw new ShapeError(`lossAlongLine: ${label} must be a flat vector of ${size} elements; got shape [${w.shape}]`);
  }
  const alphaList = alphas instanceof Tensor ? Array.from(alphas.toTypedArray()) : [...alphas];
  if (alphaList.some((a) => !Number.isFinite(a))) throw new ValueError('lossAlongLine: every α must be finite');
  const dtype = model.parameters()[0]?.dtype ?? wA.dtype;
  const a = wA.to(dtype);
  const direction = noGrad(() => wB.to(dtype).sub(a));
  const withAccuracy = options.accuracy ?? options.loss === undefined;
  const curves: LineCurve[] = dataSets.map(({ name }) => ({ name, loss: [], accuracy: withAccuracy ? [] : null }));
  for (const alpha of alphaList) {
    // w(α) = w_A + α (w_B − w_A): exactly w_A at α = 0 and w_B (up to one rounding) at α = 1.
    const w = alpha === 0 ? a : alpha === 1 ? wB.to(dtype) : noGrad(() => a.add(direction.mul(alpha)));
    dataSets.forEach(({ batch }, k) => {
      const { loss, accuracy } = evaluateAt(model, batch, w.contiguous(), options, withAccuracy);
      curves[k]!.loss.push(loss);
      curves[k]!.accuracy?.push(accuracy);
    });
  }
  return { alphas: alphaList, curves };
}
