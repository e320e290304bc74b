/**
 * torch.optim.Adam and torch.optim.AdamW (PyTorch 1.13, single-tensor path) as update rules,
 * for a direction g (the estimator's output: a minibatch gradient, or an SVRG-family direction):
 *
 *   t ← t + 1
 *   AdamW:  w ← w·(1 − η·λ)                              (decoupled weight decay λ)
 *   Adam:   g ← g + λ·w                                  (L2 penalty added to the direction)
 *   m ← β₁·m + (1 − β₁)·g                                (exp_avg, starts at 0)
 *   v ← β₂·v + (1 − β₂)·g²                               (exp_avg_sq, starts at 0)
 *   amsgrad: v̂ ← max(v̂, v), and v̂ replaces v below      (max_exp_avg_sq, starts at 0)
 *   w ← w − η/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)
 *
 * in that order of operations (the bias corrections in float64, as PyTorch's Python floats).
 * State per parameter, under PyTorch's names: step, exp_avg, exp_avg_sq, and max_exp_avg_sq
 * with amsgrad. Parameters change in place under noGrad (identity kept, version counters bump).
 */
import { boolArgument, optionsArgument } from '../tensor/arguments.js';
import { ValueError } from '../tensor/errors.js';
import { zerosLike } from '../tensor/creation.js';
import type { Tensor } from '../tensor/tensor.js';
import { nonNegativeOption, PerParameterUpdate, showValue, type ParameterState } from './update-rule.js';

/** Options of {@link Adam} and {@link AdamW}, as torch.optim.Adam names them (camel-cased). */
export interface AdamOptions {
  /** [β₁, β₂], each in [0, 1): decay rates of the first and second moment averages (default [0.9, 0.999]). */
  betas?: readonly [number, number];
  /** ε > 0 added to the denominator (default 1e-8); ≥ 0 is accepted, as PyTorch does. */
  eps?: number;
  /** λ ≥ 0: L2 penalty added to the direction (Adam, default 0) or decoupled decay (AdamW, default 0.01). */
  weightDecay?: number;
  /** Use the maximum of all second-moment averages so far (AMSGrad; default false). */
  amsgrad?: boolean;
}

function betasOption(rule: string, v: unknown): [number, number] {
  if (v === undefined) return [0.9, 0.999];
  const ok = Array.isArray(v) && v.length === 2 && v.every((b) => typeof b === 'number' && Number.isFinite(b) && b >= 0 && b < 1);
  if (!ok) throw new ValueError(`${rule}: betas must be two numbers in [0, 1); got ${showValue(v)}`);
  return [v[0], v[1]];
}

/**
 * torch.optim.Adam's update rule (module comment): L2 weight decay added to the direction, bias
 * corrected first and second moment averages, optional AMSGrad.
 * @example
 * train(model, data, { estimator: svrg(), update: new Adam({ betas: [0.9, 0.999] }), schedule: schedule(1e-3, 64), epochs: 5, seed: 0 });
 */
export class Adam extends PerParameterUpdate {
  /** 'adam' (or 'adamw' for {@link AdamW}). */
  readonly name: string;
  /** β₁, the first moment's decay rate. */
  readonly beta1: number;
  /** β₂, the second moment's decay rate. */
  readonly beta2: number;
  /** ε of the denominator. */
  readonly eps: number;
  /** Weight decay λ. */
  readonly weightDecay: number;
  /** Whether AMSGrad's running maximum of the second moment is used. */
  readonly amsgrad: boolean;
  /** Whether the weight decay is decoupled (AdamW) rather than added to the direction (Adam). */
  readonly decoupled: boolean;

  /**
   * Throws ValueError when a beta is outside [0, 1), or eps or weightDecay is not a finite
   * number ≥ 0 (PyTorch's range checks).
   */
  constructor(options: AdamOptions = {}) {
    super();
    // AdamW is this class with decoupled decay (and PyTorch's other default for it).
    this.decoupled = new.target === AdamW;
    const rule = this.decoupled ? 'AdamW' : 'Adam';
    this.name = this.decoupled ? 'adamw' : 'adam';
    optionsArgument(rule, options);
    [this.beta1, this.beta2] = betasOption(rule, options.betas);
    this.eps = nonNegativeOption(rule, 'eps', options.eps, 1e-8);
    this.weightDecay = nonNegativeOption(rule, 'weightDecay', options.weightDecay, this.decoupled ? 0.01 : 0);
    this.amsgrad = boolArgument(rule, 'amsgrad', options.amsgrad, false);
  }

  /** β₁, β₂, ε, λ and amsgrad, saved with the state. */
  protected hyper(): Record<string, number | boolean | number[]> {
    return { betas: [this.beta1, this.beta2], eps: this.eps, weightDecay: this.weightDecay, amsgrad: this.amsgrad };
  }

  /** exp_avg and exp_avg_sq, plus max_exp_avg_sq with amsgrad. */
  protected stateNames(): readonly string[] {
    return this.amsgrad ? ['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq'] : ['exp_avg', 'exp_avg_sq'];
  }

  /** E.g. 'adam with amsgrad'. */
  protected override describeConfig(): string {
    return `${this.name} ${this.amsgrad ? 'with' : 'without'} amsgrad`;
  }

  /** Every moment average starts at 0. */
  protected initialState(p: Tensor): Record<string, Tensor> {
    const state: Record<string, Tensor> = { exp_avg: zerosLike(p), exp_avg_sq: zerosLike(p) };
    if (this.amsgrad) state.max_exp_avg_sq = zerosLike(p);
    return state;
  }

  /** One Adam (or AdamW) step of one parameter, as the file comment writes it. */
  protected update(p: Tensor, g: Tensor, state: ParameterState, lr: number): void {
    const { exp_avg: m, exp_avg_sq: v, max_exp_avg_sq: vMax } = state.tensors as Record<string, Tensor>;
    if (this.weightDecay !== 0) {
      if (this.decoupled) p.mul_(1 - lr * this.weightDecay);
      else g = g.add(p.mul(this.weightDecay));
    }
    m!.mul_(this.beta1).add_(g, 1 - this.beta1);
    v!.mul_(this.beta2).add_(g.mul(g), 1 - this.beta2);
    const t = state.step;
    const stepSize = lr / (1 - this.beta1 ** t);
    const bias2Sqrt = Math.sqrt(1 - this.beta2 ** t);
    let second = v!;
    if (this.amsgrad) {
      vMax!.copy_(vMax!.maximum(v!));
      second = vMax!;
    }
    const denom = second.sqrt().div(bias2Sqrt).add(this.eps);
    p.add_(m!.div(denom), -stepSize);
  }
}

/**
 * torch.optim.AdamW's update rule: Adam with decoupled weight decay, w ← w·(1 − η·λ) before the
 * Adam step (which then has no L2 term). PyTorch's default weight decay, 0.01, is the default here.
 * @example
 * train(model, data, { estimator: new SgdEstimator(), update: new AdamW({ weightDecay: 0.05 }), schedule: schedule(1e-3, 64), epochs: 5, seed: 0 });
 */
export class AdamW extends Adam {
  /** Same checks as {@link Adam}; weightDecay defaults to 0.01. */
  constructor(options: AdamOptions = {}) {
    super(options);
  }
}
