/**
 * PyTorch's SGD update rule (torch.optim.SGD), exactly, for a direction g (the estimator's
 * output, e.g. a minibatch gradient):
 *
 *   d = g + λ·w                               (weight_decay λ)
 *   if μ ≠ 0:                                 (momentum μ, dampening τ)
 *     buf = d                                 (first step)
 *     buf = μ·buf + (1 − τ)·d                 (later steps)
 *     d = d + μ·buf   if Nesterov,  else d = buf
 *   w ← w − η·d
 *
 * Parameters are changed in place under noGrad (their identity stays; version counters bump).
 */
import { noGrad } from '../autograd/mode.js';
import { ValueError } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import type { UpdateRule } from './estimator.js';
import { saveVector, type SavedVector } from './gradient.js';
import { checkFitsParameter, restoreTensor } from './update-rule.js';
import { boolArgument, numberArgument, optionsArgument } from '../tensor/arguments.js';
import { untracked } from '../tensor/tidy.js';

/** Options of {@link SgdUpdate}, as torch.optim.SGD names them (camel-cased). */
export interface SgdUpdateOptions {
  /** Momentum factor μ ≥ 0 (default 0: no momentum buffers). */
  momentum?: number;
  /** Dampening τ ≥ 0 of the momentum buffer's new term, buf = μ·buf + (1 − τ)·d (default 0). */
  dampening?: number;
  /** L2 penalty λ ≥ 0 added to the direction, d = g + λ·w (default 0). */
  weightDecay?: number;
  /** Nesterov momentum (default false); needs momentum > 0 and dampening 0. */
  nesterov?: boolean;
}

/**
 * torch.optim.SGD's update rule (module comment): weight decay, then momentum (heavy-ball or
 * Nesterov) on the estimator's direction, then w ← w − η·d in place.
 */
export class SgdUpdate implements UpdateRule {
  /** 'sgd' without momentum, 'sgd-momentum' with it, 'sgd-nesterov' with Nesterov momentum. */
  readonly name: string;
  /** Momentum factor μ. */
  readonly momentum: number;
  /** Dampening τ. */
  readonly dampening: number;
  /** Weight decay λ. */
  readonly weightDecay: number;
  /** Whether the momentum is Nesterov's. */
  readonly nesterov: boolean;
  /** Momentum buffers, one per parameter (null before the first step). */
  private buffers: Tensor[] | null = null;

  /**
   * Throws ValueError when momentum, dampening or weightDecay is not a finite number ≥ 0, or
   * Nesterov is asked for without momentum > 0 and dampening 0.
   */
  constructor(options: SgdUpdateOptions = {}) {
    optionsArgument('SgdUpdate', options);
    this.momentum = numberArgument('SgdUpdate', 'momentum', options.momentum, 0);
    this.dampening = numberArgument('SgdUpdate', 'dampening', options.dampening, 0);
    this.weightDecay = numberArgument('SgdUpdate', 'weightDecay', options.weightDecay, 0);
    this.nesterov = boolArgument('SgdUpdate', 'nesterov', options.nesterov, false);
    for (const [key, v] of [['momentum', this.momentum], ['dampening', this.dampening], ['weightDecay', this.weightDecay]] as const) {
      if (!(Number.isFinite(v) && v >= 0)) throw new ValueError(`SgdUpdate: ${key} must be a finite number ≥ 0; got ${v}`);
    }
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) {
      throw new ValueError(`SgdUpdate: Nesterov momentum requires momentum > 0 and dampening 0; got momentum ${this.momentum}, dampening ${this.dampening}`);
    }
    this.name = this.momentum === 0 ? 'sgd' : this.nesterov ? 'sgd-nesterov' : 'sgd-momentum';
  }

  /**
   * One update of `params` in place with learning rate `lr`. Throws ValueError when the
   * direction has a different number of tensors, lr is not finite, or the momentum buffers
   * were built for a different number of parameters.
   */
  step(params: readonly Tensor[], direction: readonly Tensor[], lr: number): void {
    untracked(() => {
      if (params.length !== direction.length) {
        throw new ValueError(`${this.name}: got ${direction.length} direction tensors for ${params.length} parameters`);
      }
      if (!Number.isFinite(lr)) throw new ValueError(`${this.name}: the learning rate must be finite; got ${lr}`);
      if (this.buffers && this.buffers.length !== params.length) {
        throw new ValueError(`${this.name}: the momentum buffers hold ${this.buffers.length} parameters; got ${params.length}`);
      }
      noGrad(() => {
        const first = this.buffers === null;
        const next: Tensor[] = [];
        params.forEach((p, k) => {
          let d = direction[k]!.detach();
          if (this.weightDecay !== 0) d = d.add(p.detach().mul(this.weightDecay));
          if (this.momentum !== 0) {
            const buf = first ? d.clone() : this.buffers![k]!.mul(this.momentum).add(this.dampening === 0 ? d : d.mul(1 - this.dampening));
            next.push(buf);
            d = this.nesterov ? d.add(buf.mul(this.momentum)) : buf;
          }
          p.add_(d, -lr);
        });
        if (this.momentum !== 0) this.buffers = next;
      });
    });
  }

  /** The momentum buffers as plain JSON. */
  saveState(): {
    /** One flattened buffer per parameter (each with its `shape` added), or null before the first step or without momentum. */
    buffers: (SavedVector | null)[] | null;
  } {
    return { buffers: this.buffers ? this.buffers.map((b) => ({ ...saveVector(b.reshape([b.size]))!, shape: [...b.shape] })) : null };
  }

  /**
   * Restore the momentum buffers from a `saveState` value. Throws ValueError, changing nothing,
   * when it has no `buffers` field, a buffer is not a saved tensor, or, when `params` is given,
   * the buffers do not fit them (count, shapes, dtypes).
   */
  restoreState(state: unknown, params?: readonly Tensor[]): void {
    untracked(() => {
      const s = state as { buffers: ((SavedVector & { shape: number[] }) | null)[] | null };
      if (!s || typeof s !== 'object' || !('buffers' in s)) throw new ValueError(`${this.name}: restoreState got a value that is not an SgdUpdate state`);
      if (s.buffers === null) {
        this.buffers = null;
        return;
      }
      if (!Array.isArray(s.buffers)) throw new ValueError(`${this.name}: restoreState: field 'buffers' is not a list of saved buffers or null`);
      const buffers = s.buffers.map((b, k) => restoreTensor(b, `${this.name}: restoreState: buffers[${k}]`));
      if (params) {
        if (buffers.length !== params.length) throw new ValueError(`${this.name}: restoreState: the state holds ${buffers.length} momentum buffers; got ${params.length} parameters`);
        buffers.forEach((b, k) => checkFitsParameter(`${this.name}: restoreState: buffers[${k}]`, b, params[k]!, k));
      }
      this.buffers = buffers;
    });
  }
}
