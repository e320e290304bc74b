/**
 * Losses, as composites (their gradients follow from the primitives). Cross-entropy's
 * per-sample losses are one fused primitive (ops/cross-entropy.ts), the reduction on top of
 * them a composite. nllLoss and crossEntropy's class weights, ignored targets and label
 * smoothing are composites too: a gather of the picked log-probability, weights gathered
 * per target (constants), and a sum over the classes for the smoothing term. Pointwise
 * losses (binary cross-entropy, KL divergence, Huber, smooth L1) are in loss-pointwise.ts.
 * PyTorch semantics throughout (torch.nn.functional); docs/losses.md states each definition.
 */
import { finiteArgument, optionsArgument, signedIntArgument } from '../../tensor/arguments.js';
import { DTypeError, ShapeError, ValueError, assertShape, formatShape } from '../../tensor/errors.js';
import { shapesEqual } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { floatOperand, tensorArgument } from '../operands.js';
import { crossEntropyRows } from '../ops/cross-entropy.js';
import { gather } from '../ops/gather.js';
import { where } from '../ops/where.js';
import { logSoftmax, mean } from './reduce.js';
import { checkedTargetValues, classTargets, reduce, reductionArgument, type Reduction } from './loss-core.js';

export { reduce, reductionArgument, type Reduction } from './loss-core.js';

/**
 * A loss's third argument: a reduction string (the short form, as crossEntropy(x, t, 'sum'))
 * or an options object; either way the options object.
 */
export function lossOptions<O extends { reduction?: string }>(op: string, v: string | O | undefined): O {
  if (typeof v === 'string') return { reduction: v } as O;
  return optionsArgument(op, v, 'the options (or a reduction string)');
}

/**
 * The class weights [C] of a class-index loss checked against its input (a float tensor of the
 * input's dtype), as a constant: PyTorch does not differentiate them. null when none are given.
 */
function classWeight(op: string, weight: Tensor | null | undefined, input: Tensor, classes: number): Tensor | null {
  if (weight === undefined || weight === null) return null;
  const w = tensorArgument(op, weight, 'weight to be a float Tensor [C]');
  if (w.dtype !== input.dtype) throw new DTypeError(`${op}: weight must have the input's dtype ${input.dtype}; got ${w.dtype}`);
  assertShape(shapesEqual(w.shape, [classes]), () => `${op}: weight must have shape [C] = [${classes}] (one per class); got ${formatShape(w.shape)}`);
  return w.detach();
}

/** Options of nllLoss (torch.nn.functional.nll_loss). */
export interface NllLossOptions {
  /**
   * Class weights, a float tensor [C] of the input's dtype: the loss of a target of class c is
   * multiplied by weight[c], and 'mean' divides by the sum of the targets' weights. A constant:
   * no gradient flows into it (PyTorch does not differentiate it either). null: none.
   */
  weight?: Tensor | null;
  /** Targets equal to this contribute 0 and do not count in 'mean' (default −100, as PyTorch). */
  ignoreIndex?: number;
  /** 'mean' (default; the weighted mean over non-ignored targets), 'sum' or 'none'. */
  reduction?: Reduction;
}

/** Options of crossEntropy (torch.nn.functional.cross_entropy) beyond nllLoss's. */
export interface CrossEntropyOptions extends NllLossOptions {
  /**
   * ε in [0, 1] (default 0): the target distribution is (1 − ε)·onehot + ε/C, in PyTorch's
   * form (see docs/losses.md: with class weights the smoothing term is weighted by every
   * class's weight but normalised, under 'mean', by the targets' weights).
   */
  labelSmoothing?: number;
}

/** What the class-index losses share once their arguments are checked. */
interface ClassProblem {
  /** Input with the class axis 1: [N, C, d…] (a 1-d [C] input is viewed as [1, C]). */
  x: Tensor;
  /** int32 targets [N, d…], ignored ones replaced by class 0 (a safe index to gather). */
  safe: Tensor;
  /** 1 where the target counts, 0 where it is ignored ([N, d…], x's dtype); null when none is ignored. */
  keep: Tensor | null;
  /** Each target's class weight, times keep ([N, d…]); null without weights (then keep is the weight). */
  targetWeight: Tensor | null;
  /** The class weights [C] (a constant), or null. */
  weight: Tensor | null;
  classes: number;
  /** The 'none' result's shape: the targets' shape (0-d for a 1-d input). */
  outShape: readonly number[];
  reduction: Reduction;
}

/**
 * Check a class-index loss's input, targets and options (class axis 1: [N, C] with targets
 * [N], [N, C, d₁, …] with [N, d₁, …], or [C] with a 0-d target) and build the masks.
 */
function classProblem(
  op: string,
  input: Tensor,
  targets: Tensor | Int32Array | readonly number[],
  options: NllLossOptions,
  [expected, alsoAccepted]: readonly [string, string],
): ClassProblem {
  floatOperand(op, input);
  const reduction = reductionArgument<Reduction>(op, options.reduction ?? 'mean');
  const ignoreIndex = signedIntArgument(op, 'ignoreIndex', options.ignoreIndex, -100);
  const t0 = classTargets(targets, op);
  const fits = input.rank === 1 ? t0.rank === 0 : input.rank >= 2 && shapesEqual(t0.shape, [input.shape[0]!, ...input.shape.slice(2)]);
  if (!fits) throw new ShapeError(`${op}: ${expected}; got ${formatShape(input.shape)} and ${formatShape(t0.shape)}${alsoAccepted}`);
  const x = input.rank === 1 ? input.reshape([1, input.shape[0]!]) : input;
  const t = input.rank === 1 ? t0.reshape([1]) : t0;
  const classes = x.shape[1]!;
  const weight = classWeight(op, options.weight, input, classes);
  const values = checkedTargetValues(op, t, targets, classes, ignoreIndex);
  // Masks only where some target may be ignored (always for vmap's unreadable targets).
  const anyIgnored = values === null || values.includes(ignoreIndex);
  const keep = anyIgnored ? t.ne(ignoreIndex).to(input.dtype) : null;
  const safe = keep ? where(keep, t.to(input.dtype), 0).to('int32') : t;
  let targetWeight: Tensor | null = null;
  if (weight) {
    const picked = gather(weight, 0, safe.flatten()).reshape(safe.shape);
    targetWeight = keep ? picked.mul(keep) : picked;
  }
  return { x, safe, keep, targetWeight, weight, classes, outShape: t0.shape, reduction };
}

const ALSO_ACCEPTED = ' (also accepted: [N, C, d₁, …] with targets [N, d₁, …], and [C] with a 0-d target)';

/** −x[n, target, d…] for every target: the picked entry along the class axis 1. */
function pickNegated(x: Tensor, safe: Tensor): Tensor {
  return gather(x, 1, safe.unsqueeze(1)).squeeze(1).neg();
}

/**
 * Reduce per-target losses l [N, d…]: 'sum' is Σ l, 'mean' Σ l / Σ w (w the targets'
 * weights times keep, or keep, or — neither given — the count), 'none' l itself in the
 * targets' shape.
 */
function reduceByWeight(l: Tensor, p: ClassProblem): Tensor {
  switch (p.reduction) {
    case 'none':
      return l.reshape(p.outShape);
    case 'sum':
      return l.sum();
    case 'mean': {
      const w = p.targetWeight ?? p.keep;
      return w ? l.sum().div(w.sum()) : mean(l);
    }
  }
}

/**
 * Negative log-likelihood of log-probabilities `input` against integer class targets, as
 * torch.nn.functional.nll_loss, with the class axis 1: input [N, C] with targets [N], or
 * [N, C, d₁, …] with [N, d₁, …] (or [C] with a 0-d target). Per target: ℓ = −w[t]·input[n, t, …]
 * (w = 1 without `weight`), and 0 where t = ignoreIndex (default −100). 'mean' (default) is
 * Σℓ / Σ w[t] over the non-ignored targets (NaN when all are ignored, as in PyTorch), 'sum'
 * Σℓ, 'none' ℓ in the targets' shape. Differentiable in input (to any order: it is linear);
 * class weights get no gradient. A target outside [0, C) other than ignoreIndex is a ValueError.
 * The third argument may be just the reduction.
 * @example nllLoss(logSoftmax(logits, 1), [3, 0, 1], { weight, ignoreIndex: 0 })
 */
export function nllLoss(input: Tensor, targets: Tensor | Int32Array | readonly number[], options: Reduction | NllLossOptions = {}): Tensor {
  const o = lossOptions<NllLossOptions>('nllLoss', options);
  const p = classProblem('nllLoss', input, targets, o, ['expected input [N, C] and targets [N]', ALSO_ACCEPTED]);
  const picked = pickNegated(p.x, p.safe);
  const w = p.targetWeight ?? p.keep;
  return reduceByWeight(w ? picked.mul(w) : picked, p);
}

/**
 * Cross-entropy of logits against integer class targets, as torch.nn.functional.cross_entropy
 * with class-index targets: ℓₙ = −log softmax(logitsₙ)[targetₙ], class axis 1 — logits [N, C]
 * with targets [N] (also [N, C, d₁, …] with [N, d₁, …], and [C] with a 0-d target). Reduced by
 * mean (default), sum, or none; stable for any magnitude of logits (each row is shifted by its
 * maximum), differentiable to any order (HVPs through it work), and with 'none'
 * sample-separable, so perSampleGrads takes it.
 *
 * The third argument is the reduction, or an options object { reduction, weight, ignoreIndex,
 * labelSmoothing } with PyTorch's meaning (class weights [C], no gradient; targets equal to
 * ignoreIndex, default −100, contribute 0 and are not counted by 'mean'; label smoothing ε:
 * (1 − ε)·nll + (ε/C)·Σ_c −w_c log softmax(x)_c, see docs/losses.md). Without weights or
 * smoothing, logits [N, C] run on one fused primitive, as before. Float targets of the logits'
 * shape are class probabilities (PyTorch's soft targets): ℓₙ = −Σ_c w_c t̃_c log softmax(xₙ)_c
 * with t̃ = (1 − ε)t + ε/C, 'mean' dividing by the number of rows; differentiable in them too.
 * @example crossEntropy(logits, [3, 0, 1])
 * @example crossEntropy(logits, targets, { labelSmoothing: 0.1, weight: classWeights })
 */
export function crossEntropy(
  logits: Tensor,
  targets: Tensor | Int32Array | readonly number[],
  reduction: Reduction | CrossEntropyOptions = 'mean',
): Tensor {
  const o = lossOptions<CrossEntropyOptions>('crossEntropy', reduction);
  const eps = finiteArgument('crossEntropy', 'labelSmoothing', o.labelSmoothing, 0);
  if (!(eps >= 0 && eps <= 1)) throw new ValueError(`crossEntropy: labelSmoothing must be in [0, 1]; got ${eps}`);
  if (targets instanceof Tensor && (targets.dtype === 'float32' || targets.dtype === 'float64')) return crossEntropyProbabilities(logits, targets, o, eps);
  // The fused path, exactly as before: [N, C] without weights or smoothing. vmap's per-sample
  // targets are unreadable, so there they take it unless ignoreIndex is asked for explicitly.
  if (logits instanceof Tensor && logits.rank === 2 && (o.weight === undefined || o.weight === null) && eps === 0) {
    const t = classTargets(targets);
    const rowsFit = t.rank === 1 && t.shape[0] === logits.shape[0];
    if (rowsFit && (t.isBatched ? o.ignoreIndex === undefined : true)) {
      floatOperand('crossEntropy', logits);
      const r = reductionArgument<Reduction>('crossEntropy', o.reduction ?? 'mean');
      const ignoreIndex = t.isBatched ? null : signedIntArgument('crossEntropy', 'ignoreIndex', o.ignoreIndex, -100);
      const values = checkedTargetValues('crossEntropy', t, targets, logits.shape[1]!, ignoreIndex);
      if (values === null || !values.includes(ignoreIndex!)) return reduce('crossEntropy', crossEntropyRows(logits, t), r);
    }
  }
  const p = classProblem('crossEntropy', logits, targets, o, ['expected logits [N, C] and targets [N]', ALSO_ACCEPTED]);
  // [N, C]: the fused rows at safe targets; more axes: the log-probabilities gathered.
  const rank2 = p.x.rank === 2;
  const ls = eps > 0 || !rank2 ? logSoftmax(p.x, 1) : null;
  const perTarget = rank2 ? crossEntropyRows(p.x, p.safe) : pickNegated(ls!, p.safe);
  const w = p.targetWeight ?? p.keep;
  const nll = reduceByWeight(w ? perTarget.mul(w) : perTarget, p);
  if (eps === 0) return nll;
  // PyTorch's smoothing term: −Σ_c w_c ls[n, c, …], zero at ignored targets, and under
  // 'mean' divided by the same Σ w[t] (or count) as the nll term.
  const weighted = p.weight ? ls!.mul(p.weight.reshape([p.classes, ...p.x.shape.slice(2).map(() => 1)])) : ls!;
  const smooth = weighted.sum(1).neg();
  const S = reduceByWeight(p.keep ? smooth.mul(p.keep) : smooth, p);
  return nll.mul(1 - eps).add(S.mul(eps / p.classes));
}

/**
 * crossEntropy against class probabilities (float targets of the logits' shape), PyTorch's
 * soft-target form: ℓₙ = −Σ_c w_c·t̃[n, c]·log softmax(xₙ)_c with t̃ = (1 − ε)·t + ε/C;
 * 'mean' divides by the number of rows N·d₁·… (never by the weights), 'sum' sums, 'none' keeps
 * [N, d₁, …]. Differentiable in the logits and the targets; ignoreIndex does not apply (PyTorch
 * refuses a non-negative one).
 */
function crossEntropyProbabilities(logits: Tensor, target: Tensor, o: CrossEntropyOptions, eps: number): Tensor {
  const op = 'crossEntropy';
  floatOperand(op, logits);
  const reduction = reductionArgument<Reduction>(op, o.reduction ?? 'mean');
  if (!shapesEqual(target.shape, logits.shape)) {
    throw new DTypeError(
      `${op}: targets must be int32 class indices; got ${target.dtype} of shape ${formatShape(target.shape)} ` +
        `(class probabilities must have the logits' shape ${formatShape(logits.shape)})`,
    );
  }
  if (target.dtype !== logits.dtype) throw new DTypeError(`${op}: class probabilities must have the logits' dtype ${logits.dtype}; got ${target.dtype}`);
  const ignoreIndex = signedIntArgument(op, 'ignoreIndex', o.ignoreIndex, -100);
  if (ignoreIndex >= 0) throw new ValueError(`${op}: ignoreIndex does not apply to class-probability targets (as in PyTorch); got ${ignoreIndex}`);
  assertShape(logits.rank >= 1, () => `${op}: expected logits [N, C] (or [N, C, d₁, …], or [C]) for class-probability targets; got ${formatShape(logits.shape)}`);
  const axis = logits.rank === 1 ? 0 : 1;
  const classes = logits.shape[axis]!;
  const weight = classWeight(op, o.weight, logits, classes)?.reshape([classes, ...logits.shape.slice(axis + 1).map(() => 1)]) ?? null;
  const smoothed = eps > 0 ? target.mul(1 - eps).add(eps / classes) : target;
  const terms = logSoftmax(logits, axis).mul(smoothed);
  const weighted = weight ? terms.mul(weight) : terms;
  switch (reduction) {
    case 'none':
      return weighted.sum(axis).neg();
    case 'sum':
      return weighted.sum().neg();
    case 'mean':
      return weighted.sum().neg().div(logits.size / classes);
  }
}

/** Mean squared error: (a − b)² reduced by mean (default, over all elements), sum, or none. */
export function mseLoss(a: Tensor, b: Tensor, reduction: Reduction = 'mean'): Tensor {
  floatOperand('mseLoss', a);
  floatOperand('mseLoss', b, 'the target to be a Tensor');
  assertShape(
    shapesEqual(a.shape, b.shape),
    () => `mseLoss: input and target must have the same shape; got ${formatShape(a.shape)} and ${formatShape(b.shape)}`,
  );
  const d = a.sub(b);
  return reduce('mseLoss', d.mul(d), reduction);
}
