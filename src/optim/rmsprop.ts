/**
 * torch.optim.RMSprop (PyTorch 1.13, single-tensor path) as an update rule, for a direction g:
 *
 *   t ← t + 1
 *   g ← g + λ·w                                          (weight decay λ, an L2 term)
 *   s ← α·s + (1 − α)·g²                                  (square_avg, starts at 0)
 *   centered:  a ← α·a + (1 − α)·g;  d = √(s − a²) + ε    (grad_avg, starts at 0)
 *   otherwise: d = √s + ε
 *   momentum μ > 0:  b ← μ·b + g/d;  w ← w − η·b         (momentum_buffer, starts at 0)
 *   otherwise:       w ← w − η·g/d
 *
 * State per parameter, under PyTorch's names: step, square_avg, momentum_buffer (μ > 0) and
 * grad_avg (centered). Parameters change in place under noGrad.
 */
import { boolArgument, optionsArgument } from '../tensor/arguments.js';
import { zerosLike } from '../tensor/creation.js';
import type { Tensor } from '../tensor/tensor.js';
import { nonNegativeOption, PerParameterUpdate, type ParameterState } from './update-rule.js';

/** Options of {@link RMSprop}, as torch.optim.RMSprop names them (camel-cased). */
export interface RMSpropOptions {
  /** Smoothing constant α ≥ 0 of the squared-direction average (default 0.99). */
  alpha?: number;
  /** ε ≥ 0 added to the denominator (default 1e-8). */
  eps?: number;
  /** L2 penalty λ ≥ 0 added to the direction (default 0). */
  weightDecay?: number;
  /** Momentum factor μ ≥ 0 (default 0: no momentum buffer). */
  momentum?: number;
  /** Divide by the centered second moment s − a², an estimate of the variance (default false). */
  centered?: boolean;
}

/**
 * torch.optim.RMSprop's update rule (module comment): a running average of the squared
 * direction, optionally centered, with optional momentum on the scaled direction.
 * @example
 * train(model, data, { estimator: svrg(), update: new RMSprop({ momentum: 0.9, centered: true }), schedule: schedule(1e-3, 64), epochs: 5, seed: 0 });
 */
export class RMSprop extends PerParameterUpdate {
  /** 'rmsprop'. */
  readonly name = 'rmsprop';
  /** Smoothing constant α. */
  readonly alpha: number;
  /** ε of the denominator. */
  readonly eps: number;
  /** Weight decay λ. */
  readonly weightDecay: number;
  /** Momentum factor μ. */
  readonly momentum: number;
  /** Whether the second moment is centered. */
  readonly centered: boolean;

  /** Throws ValueError when alpha, eps, weightDecay or momentum is not a finite number ≥ 0 (PyTorch's range checks). */
  constructor(options: RMSpropOptions = {}) {
    super();
    optionsArgument('RMSprop', options);
    this.alpha = nonNegativeOption('RMSprop', 'alpha', options.alpha, 0.99);
    this.eps = nonNegativeOption('RMSprop', 'eps', options.eps, 1e-8);
    this.weightDecay = nonNegativeOption('RMSprop', 'weightDecay', options.weightDecay, 0);
    this.momentum = nonNegativeOption('RMSprop', 'momentum', options.momentum, 0);
    this.centered = boolArgument('RMSprop', 'centered', options.centered, false);
  }

  /** α, ε, λ, μ and centered, saved with the state. */
  protected hyper(): Record<string, number | boolean | number[]> {
    return { alpha: this.alpha, eps: this.eps, weightDecay: this.weightDecay, momentum: this.momentum, centered: this.centered };
  }

  /** square_avg, plus momentum_buffer with momentum and grad_avg when centered. */
  protected stateNames(): readonly string[] {
    return ['square_avg', ...(this.momentum > 0 ? ['momentum_buffer'] : []), ...(this.centered ? ['grad_avg'] : [])];
  }

  /** E.g. 'rmsprop (momentum 0.9, centered)'. */
  protected override describeConfig(): string {
    return `rmsprop (momentum ${this.momentum}, ${this.centered ? 'centered' : 'not centered'})`;
  }

  /** Every average and buffer starts at 0. */
  protected initialState(p: Tensor): Record<string, Tensor> {
    return Object.fromEntries(this.stateNames().map((n) => [n, zerosLike(p)]));
  }

  /** One RMSprop step of one parameter, as the file comment writes it. */
  protected update(p: Tensor, g: Tensor, state: ParameterState, lr: number): void {
    const { square_avg: s, momentum_buffer: buf, grad_avg: a } = state.tensors as Record<string, Tensor>;
    if (this.weightDecay !== 0) g = g.add(p.mul(this.weightDecay));
    s!.mul_(this.alpha).add_(g.mul(g), 1 - this.alpha);
    let avg: Tensor;
    if (this.centered) {
      a!.mul_(this.alpha).add_(g, 1 - this.alpha);
      avg = s!.sub(a!.mul(a!)).sqrt();
    } else {
      avg = s!.sqrt();
    }
    avg = avg.add(this.eps);
    if (this.momentum > 0) {
      buf!.mul_(this.momentum).add_(g.div(avg));
      p.add_(buf!, -lr);
    } else {
      p.add_(g.div(avg), -lr);
    }
  }
}
