/**
 * Pointwise losses, as composites of primitives (no backward of their own; gradients of any
 * order follow): binary cross-entropy on probabilities and on logits, KL divergence, Huber and
 * smooth L1. Each is PyTorch's definition (torch.nn.functional), differentiable in the input
 * AND the target; class weights and pos_weight are constants (PyTorch does not differentiate
 * them). Input and target must have the same shape (PyTorch broadcasts some of these with a
 * warning); weights broadcast to the input's shape. docs/losses.md has the definitions.
 */
import { boolArgument, finiteArgument } from '../../tensor/arguments.js';
import { DTypeError, ValueError, assertShape, formatShape } from '../../tensor/errors.js';
import { broadcastsTo, shapesEqual } from '../../tensor/shape.js';
import type { Tensor } from '../../tensor/tensor.js';
import { floatOperand, tensorArgument } from '../operands.js';
import { log } from '../ops/log.js';
import { log1p } from '../ops/log1p.js';
import { softplus } from '../ops/softplus.js';
import { where } from '../ops/where.js';
import { lossOptions, reduce, reductionArgument, type Reduction } from './loss.js';

/** Check a pointwise loss's input and target: float tensors of one dtype and one shape. */
function pair(op: string, input: Tensor, target: Tensor): void {
  floatOperand(op, input);
  floatOperand(op, target, 'the target to be a float Tensor');
  if (target.dtype !== input.dtype) throw new DTypeError(`${op}: target must have the input's dtype ${input.dtype}; got ${target.dtype}`);
  assertShape(
    shapesEqual(input.shape, target.shape),
    () => `${op}: input and target must have the same shape; got ${formatShape(input.shape)} and ${formatShape(target.shape)}`,
  );
}

/** A constant weight tensor (no gradient) that broadcasts to the input's shape without growing it. */
function constantWeight(op: string, name: string, w: Tensor | null | undefined, input: Tensor): Tensor | null {
  if (w === undefined || w === null) return null;
  tensorArgument(op, w, `${name} to be a float Tensor`);
  if (w.dtype !== input.dtype) throw new DTypeError(`${op}: ${name} must have the input's dtype ${input.dtype}; got ${w.dtype}`);
  assertShape(broadcastsTo(w.shape, input.shape), () => `${op}: ${name} must broadcast to the input's shape ${formatShape(input.shape)}; got ${formatShape(w.shape)}`);
  return w.detach();
}

/** The values of a tensor when they can be read (not inside vmap). */
function readable(t: Tensor): ArrayLike<number> | null {
  return t.isBatched ? null : t.toTypedArray();
}

/** −100, the floor PyTorch's binary_cross_entropy puts under each log. */
const LOG_FLOOR = -100;

/**
 * max(lg, −100) where `valid`, and −100 elsewhere (where the log's argument is 0: its value
 * there was computed from a placeholder argument).
 */
function floored(lg: Tensor, valid: Tensor): Tensor {
  return where(where(valid, lg.gt(LOG_FLOOR), 0), lg, LOG_FLOOR);
}

/**
 * max(log p, −100) and max(log(1 − p), −100), PyTorch's clamped logs in binary_cross_entropy
 * (−100 at p = 0, resp. p = 1); log(1 − p) as log1p(−p), as recent PyTorch kernels compute it.
 * NOTE: the log's argument is replaced by a placeholder (1, resp. 0) where it is 0, so that 0
 * never reaches the log's gradient (1/0 = ∞, and 0·∞ = NaN in the branch not taken): the clamped
 * positions get gradient 0, exactly the derivative of the clamped function.
 */
function clampedLogs(p: Tensor): [Tensor, Tensor] {
  const positive = p.gt(0);
  const belowOne = p.lt(1);
  const logP = floored(log(where(positive, p, 1)), positive);
  const logQ = floored(log1p(where(belowOne, p, 0).neg()), belowOne);
  return [logP, logQ];
}

/** Options of binaryCrossEntropy. */
export interface BinaryCrossEntropyOptions {
  /** A constant weight per element (no gradient), broadcast to the input's shape, e.g. [C] along the last axis; null: none. */
  weight?: Tensor | null;
  /** 'mean' (default, over all elements), 'sum' or 'none'. */
  reduction?: Reduction;
}

/**
 * Binary cross-entropy of probabilities p ∈ [0, 1] against targets t of the same shape, as
 * torch.nn.functional.binary_cross_entropy:
 * ℓ = −w·(t·max(log p, −100) + (1 − t)·max(log(1 − p), −100)), log(1 − p) computed as
 * log1p(−p) (full precision for small p). The logs are clamped at −100 as in PyTorch, so p = 0
 * or 1 gives a finite loss; there the clamped term's gradient is 0 (the derivative of the clamped function; PyTorch's hand-written
 * backward instead divides by max(p(1 − p), 1e−12)). Differentiable in p and t (soft targets),
 * to any order; `weight` gets no gradient. An input outside [0, 1] (or NaN) is a ValueError, as
 * in PyTorch. For logits use binaryCrossEntropyWithLogits (stable, and exact for large |x|).
 * @example binaryCrossEntropy(sigmoid(logits), targets, { reduction: 'sum' })
 */
export function binaryCrossEntropy(p: Tensor, target: Tensor, options: Reduction | BinaryCrossEntropyOptions = {}): Tensor {
  const op = 'binaryCrossEntropy';
  const o = lossOptions<BinaryCrossEntropyOptions>(op, options);
  pair(op, p, target);
  const reduction = reductionArgument<Reduction>(op, o.reduction ?? 'mean');
  const w = constantWeight(op, 'weight', o.weight, p);
  const values = readable(p);
  for (let i = 0; values && i < values.length; i++) {
    const v = values[i]!;
    if (!(v >= 0 && v <= 1)) throw new ValueError(`${op}: every input must be a probability in [0, 1]; got ${v} at flat index ${i} (for logits use binaryCrossEntropyWithLogits)`);
  }
  // PyTorch's order of terms: (t − 1)·log(1 − p) − t·log p.
  const [logP, logQ] = clampedLogs(p);
  const l = target.sub(1).mul(logQ).sub(target.mul(logP));
  return reduce(op, w ? l.mul(w) : l, reduction);
}

/**
 * softplus(z) = log(1 + e^z) for every z without the threshold approximation: z + softplus(−z)
 * for z > 0, softplus(z) otherwise, so the inner softplus never sees an argument above 0
 * (exact log1p(e^·), no overflow) and the gradient is σ(z) to full precision at any |z|.
 */
function exactSoftplus(z: Tensor): Tensor {
  return where(z.gt(0), z.add(softplus(z.neg())), softplus(z));
}

/** Options of binaryCrossEntropyWithLogits. */
export interface BinaryCrossEntropyWithLogitsOptions extends BinaryCrossEntropyOptions {
  /**
   * A constant weight of the positive term (no gradient), broadcast to the input's shape, e.g.
   * [C] along the last axis (PyTorch's pos_weight): > 1 raises recall, < 1 precision. null: none.
   */
  posWeight?: Tensor | null;
}

/**
 * Binary cross-entropy of logits x against targets t of the same shape, as
 * torch.nn.functional.binary_cross_entropy_with_logits: with σ the sigmoid and pw = posWeight,
 * ℓ = −w·(pw·t·log σ(x) + (1 − t)·log(1 − σ(x))) = w·((1 − t)·x + (1 + (pw − 1)·t)·softplus(−x)),
 * computed in that softplus form, which is exact and finite for any |x| (no log of a rounded
 * σ). Differentiable in x and t, to any order; weight and posWeight get no gradient.
 * @example binaryCrossEntropyWithLogits(logits, targets, { posWeight: tensor([3]) })
 */
export function binaryCrossEntropyWithLogits(x: Tensor, target: Tensor, options: Reduction | BinaryCrossEntropyWithLogitsOptions = {}): Tensor {
  const op = 'binaryCrossEntropyWithLogits';
  const o = lossOptions<BinaryCrossEntropyWithLogitsOptions>(op, options);
  pair(op, x, target);
  const reduction = reductionArgument<Reduction>(op, o.reduction ?? 'mean');
  const w = constantWeight(op, 'weight', o.weight, x);
  const pw = constantWeight(op, 'posWeight', o.posWeight, x);
  const logWeight = pw ? pw.sub(1).mul(target).add(1) : null;
  const sp = exactSoftplus(x.neg());
  const l = target.neg().add(1).mul(x).add(logWeight ? logWeight.mul(sp) : sp);
  return reduce(op, w ? l.mul(w) : l, reduction);
}

/** How klDiv reduces: PyTorch's reductions plus 'batchmean', the sum divided by input.shape[0]. */
export type KlDivReduction = Reduction | 'batchmean';

/** Options of klDiv. */
export interface KlDivOptions {
  /**
   * 'mean' (default, as PyTorch: over ALL elements, which is not the KL divergence of the
   * rows), 'batchmean' (Σ / batch size: the mean KL divergence per sample, the mathematically
   * meaningful one), 'sum' or 'none'.
   */
  reduction?: KlDivReduction;
  /** The target holds log-probabilities too (default false: probabilities). */
  logTarget?: boolean;
}

/**
 * KL divergence KL(target ‖ q) for log-probabilities `input` = log q, as
 * torch.nn.functional.kl_div: pointwise ℓ = t·(log t − input) (0 where t = 0, PyTorch's xlogy),
 * or with logTarget ℓ = eᵗ·(t − input). Reduced by 'mean' (default; averages over every
 * element, as PyTorch, which warns that 'batchmean' is the one matching the math), 'batchmean'
 * (Σℓ / input.shape[0]; the sum for a 0-d input), 'sum' or 'none'. Differentiable in both
 * arguments, to any order (at t = 0 the t·log t term's gradient is taken as 0).
 * @example klDiv(logSoftmax(logits, 1), targetProbs, { reduction: 'batchmean' })
 */
export function klDiv(input: Tensor, target: Tensor, options: KlDivReduction | KlDivOptions = {}): Tensor {
  const op = 'klDiv';
  const o = lossOptions<KlDivOptions>(op, options);
  pair(op, input, target);
  const reduction = reductionArgument<KlDivReduction>(op, o.reduction ?? 'mean', ['mean', 'batchmean', 'sum', 'none']);
  const logTarget = boolArgument(op, 'logTarget', o.logTarget, false);
  let l: Tensor;
  if (logTarget) {
    l = target.exp().mul(target.sub(input));
  } else {
    // xlogy(t, t) = t·log t, and 0 at t = 0; log never sees the 0 (its gradient would be ∞).
    const zero = target.eq(0);
    const tLogT = where(zero, 0, target.mul(log(where(zero, 1, target))));
    l = tLogT.sub(target.mul(input));
  }
  if (reduction === 'batchmean') return input.rank === 0 ? l.sum() : l.sum().div(input.shape[0]!);
  return reduce(op, l, reduction);
}

/** Options of huberLoss. */
export interface HuberLossOptions {
  /** δ > 0 (default 1): quadratic for |d| < δ, linear beyond. */
  delta?: number;
  /** 'mean' (default), 'sum' or 'none'. */
  reduction?: Reduction;
}

/** A finite threshold (δ, β) at least `min`, named in the error. */
function threshold(op: string, name: string, v: unknown, fallback: number, strict: boolean): number {
  const x = finiteArgument(op, name, v, fallback);
  if (strict ? !(x > 0) : !(x >= 0)) throw new ValueError(`${op}: ${name} must be ${strict ? '> 0' : '≥ 0'}; got ${x}`);
  return x;
}

/**
 * Huber loss, as torch.nn.functional.huber_loss: with d = input − target, ℓ = d²/2 where
 * |d| < δ, else δ·(|d| − δ/2). Differentiable in both (the gradient is continuous: d inside,
 * δ·sign(d) outside; second derivative 1 inside, 0 outside). δ (default 1) must be > 0.
 * @example huberLoss(pred, y, { delta: 0.5 })
 */
export function huberLoss(input: Tensor, target: Tensor, options: Reduction | HuberLossOptions = {}): Tensor {
  const op = 'huberLoss';
  const o = lossOptions<HuberLossOptions>(op, options);
  pair(op, input, target);
  const reduction = reductionArgument<Reduction>(op, o.reduction ?? 'mean');
  const delta = threshold(op, 'delta', o.delta, 1, true);
  const d = input.sub(target);
  const z = d.abs();
  return reduce(op, where(z.lt(delta), d.mul(d).mul(0.5), z.sub(0.5 * delta).mul(delta)), reduction);
}

/** Options of smoothL1Loss. */
export interface SmoothL1LossOptions {
  /** β ≥ 0 (default 1): quadratic for |d| < β, linear beyond; β = 0 is the L1 loss. */
  beta?: number;
  /** 'mean' (default), 'sum' or 'none'. */
  reduction?: Reduction;
}

/**
 * Smooth L1 loss, as torch.nn.functional.smooth_l1_loss: with d = input − target,
 * ℓ = d²/(2β) where |d| < β, else |d| − β/2 (= Huber(δ = β)/β); β = 0 is |d| (PyTorch's L1
 * path). Differentiable in both. β (default 1) must be ≥ 0.
 * @example smoothL1Loss(pred, y, { beta: 0.1, reduction: 'sum' })
 */
export function smoothL1Loss(input: Tensor, target: Tensor, options: Reduction | SmoothL1LossOptions = {}): Tensor {
  const op = 'smoothL1Loss';
  const o = lossOptions<SmoothL1LossOptions>(op, options);
  pair(op, input, target);
  const reduction = reductionArgument<Reduction>(op, o.reduction ?? 'mean');
  const beta = threshold(op, 'beta', o.beta, 1, false);
  const d = input.sub(target);
  const z = d.abs();
  // NOTE: β = 0 must not build d²·(0.5/β): the branch not taken would send 0·∞ = NaN back.
  if (beta === 0) return reduce(op, z, reduction);
  return reduce(op, where(z.lt(beta), d.mul(d).mul(0.5).div(beta), z.sub(0.5 * beta)), reduction);
}
