/**
 * Gradient clipping with torch.nn.utils' semantics (PyTorch 1.13), over all tensors together:
 *
 *   by norm:   total = ‖(‖g₁‖_p, …, ‖g_n‖_p)‖_p        (p = ∞: max_i max |g_i|)
 *              c = min(1, maxNorm / (total + 1e-6));   every g_i ← c·g_i;   returns total
 *   by value:  every g_i ← clamp(g_i, −clipValue, clipValue)
 *
 * The norm of the per-tensor norms equals the p-norm of all elements concatenated; it is
 * computed the way PyTorch does, in the tensors' dtype, and so is c (PyTorch evaluates
 * `maxNorm / (total + 1e-6)` on a 0-d tensor as reciprocal(total + 1e-6)·maxNorm, rounded in
 * float32 for float32 gradients). The tensors are scaled even when c is 1, as PyTorch does
 * (multiplying by 1 changes nothing).
 *
 * Three forms:
 * - `clipGradNorm(params, …)` / `clipGradValue(params, …)`: PyTorch's clip_grad_norm_ and
 *   clip_grad_value_, in place on each parameter's `.grad` (parameters whose `.grad` is null are
 *   skipped, as PyTorch skips those whose grad is None);
 * - `clipDirectionNorm` / `clipDirectionValue`: the same on a list of gradient tensors (an
 *   estimator's direction), returning clipped copies;
 * - `ClippedUpdate`: an update rule that clips the estimator's direction, then hands it to
 *   another rule — `new ClippedUpdate(new Adam(), { maxNorm: 1 })` clips an SVRG direction
 *   before Adam sees it, as torch's clip-then-step loop does with the gradient.
 */
import { noGrad } from '../autograd/mode.js';
import { boolArgument, optionsArgument } from '../tensor/arguments.js';
import { tensor } from '../tensor/creation.js';
import { ValueError, describeValue } from '../tensor/errors.js';
import { Tensor } from '../tensor/tensor.js';
import type { UpdateRule } from './estimator.js';

/** The order p of a norm: a number > 0, Infinity (the max-abs norm), or 'inf' as PyTorch also accepts. */
export type NormType = number | 'inf';

/** Options of {@link clipGradNorm} and {@link clipDirectionNorm}. */
export interface ClipNormOptions {
  /** Throw ValueError when the total norm is NaN or ±∞ instead of scaling by it (default false, as PyTorch). */
  errorIfNonfinite?: boolean;
}

function normOrder(op: string, normType: unknown): number {
  const p = normType === 'inf' ? Infinity : normType;
  if (typeof p !== 'number' || Number.isNaN(p) || p <= 0) throw new ValueError(`${op}: normType must be a number > 0, Infinity or 'inf'; got ${describeValue(normType)}`);
  return p;
}

/** A list of tensors; a single tensor too when `single` (PyTorch's clip_grad_*_ accept one parameter). */
function tensorList(op: string, v: unknown, what: string, single: boolean): Tensor[] {
  const list = single && v instanceof Tensor ? [v] : Array.isArray(v) ? (v as unknown[]) : null;
  if (list === null || !list.every((t) => t instanceof Tensor)) throw new ValueError(`${op}: expected ${what} as ${single ? 'a Tensor or ' : ''}a list of Tensors; got ${describeValue(v)}`);
  return list as Tensor[];
}

function maxNormArgument(op: string, maxNorm: unknown): number {
  if (typeof maxNorm !== 'number' || Number.isNaN(maxNorm) || maxNorm < 0) throw new ValueError(`${op}: maxNorm must be a number ≥ 0; got ${describeValue(maxNorm)}`);
  return maxNorm;
}

function clipValueArgument(op: string, clipValue: unknown): number {
  if (typeof clipValue !== 'number' || Number.isNaN(clipValue) || clipValue < 0) throw new ValueError(`${op}: clipValue must be a number ≥ 0; got ${describeValue(clipValue)}`);
  return clipValue;
}

/** ‖t‖_p over all elements, in t's dtype (0 for an empty tensor). */
function pNorm(t: Tensor, p: number): number {
  if (t.size === 0) return 0;
  const flat = t.reshape([t.size]);
  if (p === Infinity) return flat.abs().max().item();
  if (p === 1) return flat.abs().sum().item();
  if (p === 2) return flat.mul(flat).sum().sqrt().item();
  return flat.abs().pow(p).sum().pow(1 / p).item();
}

/** float32 when every tensor is float32, else float64 (the dtype the total norm is combined in). */
function commonDtype(tensors: readonly Tensor[]): 'float32' | 'float64' {
  return tensors.length > 0 && tensors.every((t) => t.dtype === 'float32') ? 'float32' : 'float64';
}

/** The total p-norm of the tensors, as torch.nn.utils.clip_grad_norm_ computes it (0 for none). */
function totalNorm(tensors: readonly Tensor[], p: number): number {
  if (tensors.length === 0) return 0;
  return noGrad(() => {
    const norms = tensors.map((g) => pNorm(g.detach(), p));
    if (p === Infinity) return norms.reduce((a, b) => (a >= b || Number.isNaN(a) ? a : b), -Infinity);
    if (norms.length === 1) return norms[0]!;
    return pNorm(tensor(Float64Array.from(norms), { shape: [norms.length], dtype: 'float64' }).to(commonDtype(tensors)), p);
  });
}

/** min(1, maxNorm / (total + 1e-6)), rounded as PyTorch rounds it in `dtype` (file comment). */
function clipCoefficient(total: number, maxNorm: number, dtype: 'float32' | 'float64'): number {
  const r = dtype === 'float32' ? Math.fround : (x: number) => x;
  const coefficient = r(r(1 / r(total + r(1e-6))) * r(maxNorm));
  // torch.clamp(c, max=1) keeps a NaN; Math.min does too.
  return Math.min(coefficient, 1);
}

/** Whether the options ask to refuse a non-finite norm (checking the options object and its flag). */
function errorIfNonfinite(op: string, options: unknown): boolean {
  return boolArgument(op, 'errorIfNonfinite', optionsArgument(op, options as ClipNormOptions).errorIfNonfinite, false);
}

function checkFinite(op: string, total: number, p: number, refuse: boolean): void {
  if (refuse && !Number.isFinite(total)) {
    throw new ValueError(`${op}: the total norm of order ${p} of the gradients is ${total}, so they cannot be clipped; pass errorIfNonfinite: false to scale them by it anyway`);
  }
}

/** The `.grad` of every parameter that has one (PyTorch skips parameters whose grad is None). */
function gradsOf(params: readonly Tensor[]): Tensor[] {
  return params.flatMap((p) => (p.grad ? [p.grad] : []));
}

/**
 * torch.nn.utils.clip_grad_norm_: scale the `.grad` of every parameter in place by
 * min(1, maxNorm / (total + 1e-6)), where total is the p-norm of all gradients together
 * (file comment), and return total, the norm before clipping. Parameters without a `.grad`
 * are skipped. Throws ValueError for a maxNorm < 0 or NaN, a normType that is not > 0, and,
 * with errorIfNonfinite, a non-finite total.
 * @example
 * loss.backward(); const norm = clipGradNorm(model.parameters(), 1.0); // then step
 */
export function clipGradNorm(params: Tensor | readonly Tensor[], maxNorm: number, normType: NormType = 2, options: ClipNormOptions = {}): number {
  const list = tensorList('clipGradNorm', params, 'the parameters', true);
  const max = maxNormArgument('clipGradNorm', maxNorm);
  const p = normOrder('clipGradNorm', normType);
  const refuse = errorIfNonfinite('clipGradNorm', options);
  const grads = gradsOf(list);
  const { total, c } = normScale('clipGradNorm', grads, max, p, refuse);
  noGrad(() => grads.forEach((g) => g.mul_(c)));
  return total;
}

/**
 * The total p-norm of `grads` and the factor min(1, max / (total + 1e-6)) that clips it
 * (rounded as PyTorch rounds it for float32), after the finiteness check both norm clippings make.
 */
function normScale(op: string, grads: readonly Tensor[], max: number, p: number, refuse: boolean): { total: number; c: number } {
  const total = totalNorm(grads, p);
  checkFinite(op, total, p, refuse);
  return { total, c: clipCoefficient(total, max, commonDtype(grads)) };
}

/**
 * torch.nn.utils.clip_grad_value_: clamp the `.grad` of every parameter in place to
 * [−clipValue, clipValue]. Parameters without a `.grad` are skipped. Throws ValueError for a
 * clipValue < 0 or NaN.
 * @example
 * loss.backward(); clipGradValue(model.parameters(), 0.5); // then step
 */
export function clipGradValue(params: Tensor | readonly Tensor[], clipValue: number): void {
  const list = tensorList('clipGradValue', params, 'the parameters', true);
  const c = clipValueArgument('clipGradValue', clipValue);
  noGrad(() => gradsOf(list).forEach((g) => g.copy_(g.clamp(-c, c))));
}

/**
 * clip_grad_norm_'s computation on gradient tensors themselves (e.g. an estimator's direction):
 * returns clipped copies and the total norm before clipping; the inputs are not changed.
 * Same errors as {@link clipGradNorm}.
 * @example
 * const { direction, totalNorm } = clipDirectionNorm(estimator.direction(context, batch), 1.0, Infinity);
 */
export function clipDirectionNorm(
  direction: readonly Tensor[],
  maxNorm: number,
  normType: NormType = 2,
  options: ClipNormOptions = {},
): {
  /** The tensors scaled by min(1, maxNorm / (totalNorm + 1e-6)). */
  direction: Tensor[];
  /** The p-norm of all the tensors together, before clipping. */
  totalNorm: number;
} {
  const list = tensorList('clipDirectionNorm', direction, 'the direction', false);
  const max = maxNormArgument('clipDirectionNorm', maxNorm);
  const p = normOrder('clipDirectionNorm', normType);
  const refuse = errorIfNonfinite('clipDirectionNorm', options);
  const { total, c } = normScale('clipDirectionNorm', list, max, p, refuse);
  return { direction: noGrad(() => list.map((g) => g.detach().mul(c))), totalNorm: total };
}

/**
 * clip_grad_value_'s computation on gradient tensors themselves: returns copies clamped to
 * [−clipValue, clipValue]; the inputs are not changed. Same errors as {@link clipGradValue}.
 */
export function clipDirectionValue(direction: readonly Tensor[], clipValue: number): Tensor[] {
  const list = tensorList('clipDirectionValue', direction, 'the direction', false);
  const c = clipValueArgument('clipDirectionValue', clipValue);
  return noGrad(() => list.map((g) => g.detach().clamp(-c, c)));
}

/** How {@link ClippedUpdate} clips: by total norm, or by value. */
export type ClipOptions =
  | {
      /** Clip the direction's total norm to this (clip_grad_norm_'s max_norm). */
      maxNorm: number;
      /** Order of the norm (default 2; Infinity or 'inf' for the max-abs norm). */
      normType?: NormType;
      /** Refuse a non-finite total norm (default false). */
      errorIfNonfinite?: boolean;
    }
  | {
      /** Clamp every element of the direction to [−clipValue, clipValue]. */
      clipValue: number;
    };

/** ClipOptions with the defaults filled in, as {@link ClippedUpdate.clip} holds them. */
export type ResolvedClip =
  | {
      /** The total norm the direction is clipped to. */
      maxNorm: number;
      /** Order of the norm (2, Infinity, …). */
      normType: number;
      /** Whether a non-finite total norm is refused. */
      errorIfNonfinite: boolean;
    }
  | {
      /** Every element is clamped to [−clipValue, clipValue]. */
      clipValue: number;
    };

/**
 * An update rule that clips the direction (by norm or by value, torch.nn.utils semantics, over
 * all parameters together) and then applies `inner` to the clipped direction. The estimator's
 * own tensors are not changed. Its saved state is `inner`'s, with the clipping to check on restore.
 * @example
 * train(model, data, { estimator: svrg(), update: new ClippedUpdate(new Adam(), { maxNorm: 1 }), schedule: schedule(1e-3, 64), epochs: 5, seed: 0 });
 */
export class ClippedUpdate implements UpdateRule {
  /** `inner`'s name with '+clip-norm' or '+clip-value', e.g. 'adam+clip-norm'. */
  readonly name: string;
  /** The rule that takes the clipped direction. */
  readonly inner: UpdateRule;
  /** The clipping, with its defaults filled in. */
  readonly clip: Readonly<ResolvedClip>;
  /** The total norm before clipping of the last step's direction (norm clipping only; null before the first step). */
  lastNorm: number | null = null;

  /** Throws ValueError for an `inner` that is not an update rule or invalid clip options. */
  constructor(inner: UpdateRule, clip: ClipOptions) {
    if (typeof inner !== 'object' || inner === null || typeof inner.step !== 'function') throw new ValueError(`ClippedUpdate: expected an update rule to wrap; got ${describeValue(inner)}`);
    if (typeof clip !== 'object' || clip === null) throw new ValueError(`ClippedUpdate: expected { maxNorm, normType? } or { clipValue }; got ${describeValue(clip)}`);
    this.inner = inner;
    if ('maxNorm' in clip && !('clipValue' in clip)) {
      const normType = normOrder('ClippedUpdate', clip.normType === undefined ? 2 : clip.normType);
      this.clip = { maxNorm: maxNormArgument('ClippedUpdate', clip.maxNorm), normType, errorIfNonfinite: boolArgument('ClippedUpdate', 'errorIfNonfinite', clip.errorIfNonfinite, false) };
      this.name = `${inner.name}+clip-norm`;
    } else if ('clipValue' in clip && !('maxNorm' in clip)) {
      this.clip = { clipValue: clipValueArgument('ClippedUpdate', clip.clipValue) };
      this.name = `${inner.name}+clip-value`;
    } else {
      throw new ValueError(`ClippedUpdate: expected exactly one of maxNorm and clipValue; got ${describeValue(clip)}`);
    }
  }

  /** Clip `direction` (copies), record its norm, then `inner.step(params, clipped, lr)`. Errors as clipDirectionNorm / clipDirectionValue and `inner.step`. */
  step(params: readonly Tensor[], direction: readonly Tensor[], lr: number): void {
    if ('maxNorm' in this.clip) {
      const { direction: clipped, totalNorm: norm } = clipDirectionNorm(direction, this.clip.maxNorm, this.clip.normType, { errorIfNonfinite: this.clip.errorIfNonfinite });
      this.inner.step(params, clipped, lr);
      this.lastNorm = norm;
    } else {
      this.inner.step(params, clipDirectionValue(direction, this.clip.clipValue), lr);
    }
  }

  /**
   * `{ rule, clip, inner }`: this rule's name, the clipping (a norm order ∞ written 'inf', so
   * plain JSON holds it) and `inner.saveState()`. Clipping itself keeps no state.
   */
  saveState(): {
    /** This rule's name, e.g. 'adam+clip-norm'. */
    rule: string;
    /** The clipping options, compared on restore. */
    clip: Record<string, number | string | boolean>;
    /** The inner rule's saveState(). */
    inner: unknown;
  } {
    return { rule: this.name, clip: this.savedClip(), inner: this.inner.saveState() };
  }

  /**
   * Restore from a `saveState` value: throws ValueError when it is not one of a ClippedUpdate
   * with the same name and clipping (a resumed run would take other steps); then
   * `inner.restoreState(state.inner, params)`.
   */
  restoreState(state: unknown, params?: readonly Tensor[]): void {
    const s = state as { rule?: unknown; clip?: unknown; inner?: unknown } | null;
    if (typeof s !== 'object' || s === null || !Object.hasOwn(s, 'rule') || !Object.hasOwn(s, 'clip') || !Object.hasOwn(s, 'inner')) {
      throw new ValueError(`${this.name}: restoreState got ${describeValue(state)}; expected the value of saveState() ({ rule, clip, inner })`);
    }
    if (s.rule !== this.name) throw new ValueError(`${this.name}: restoreState: the state is one of '${String(s.rule)}'; this rule is '${this.name}'`);
    const want = JSON.stringify(this.savedClip());
    const got = JSON.stringify(s.clip);
    if (got !== want) throw new ValueError(`${this.name}: restoreState: the state was saved with clipping ${got}; this rule clips with ${want} (a resumed run would take other steps)`);
    this.inner.restoreState(s.inner, params);
  }

  private savedClip(): Record<string, number | string | boolean> {
    if ('clipValue' in this.clip) return { clipValue: this.clip.clipValue };
    const { maxNorm, normType, errorIfNonfinite } = this.clip;
    return { maxNorm, normType: normType === Infinity ? 'inf' : normType, errorIfNonfinite };
  }
}
