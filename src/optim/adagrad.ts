/**
 * torch.optim.Adagrad (PyTorch 1.13, single-tensor path) as an update rule, for a direction g:
 *
 *   t ← t + 1
 *   g ← g + λ·w                                          (weight decay λ, an L2 term)
 *   S ← S + g²                                            (sum, starts at initialAccumulatorValue)
 *   w ← w − η/(1 + (t − 1)·lrDecay) · g / (√S + ε)
 *
 * The decayed learning rate uses the step's η, so it composes with a schedule as PyTorch's
 * does with an LR scheduler. State per parameter, under PyTorch's names: step and sum.
 * Parameters change in place under noGrad.
 */
import { optionsArgument } from '../tensor/arguments.js';
import { full } from '../tensor/creation.js';
import type { Tensor } from '../tensor/tensor.js';
import { nonNegativeOption, PerParameterUpdate, type ParameterState } from './update-rule.js';

/** Options of {@link Adagrad}, as torch.optim.Adagrad names them (camel-cased). */
export interface AdagradOptions {
  /** lrDecay ≥ 0: step t uses η/(1 + (t − 1)·lrDecay) (default 0). */
  lrDecay?: number;
  /** L2 penalty λ ≥ 0 added to the direction (default 0). */
  weightDecay?: number;
  /** The starting value ≥ 0 of every accumulator S (default 0). */
  initialAccumulatorValue?: number;
  /** ε ≥ 0 added to the denominator (default 1e-10, PyTorch's). */
  eps?: number;
}

/**
 * torch.optim.Adagrad's update rule (module comment): the direction divided by the root of its
 * accumulated squares.
 * @example
 * train(model, data, { estimator: new SgdEstimator(), update: new Adagrad({ lrDecay: 0.01 }), schedule: schedule(0.1, 64), epochs: 5, seed: 0 });
 */
export class Adagrad extends PerParameterUpdate {
  /** 'adagrad'. */
  readonly name = 'adagrad';
  /** lrDecay. */
  readonly lrDecay: number;
  /** Weight decay λ. */
  readonly weightDecay: number;
  /** The starting value of the accumulators. */
  readonly initialAccumulatorValue: number;
  /** ε of the denominator. */
  readonly eps: number;

  /** Throws ValueError when an option is not a finite number ≥ 0 (PyTorch's range checks). */
  constructor(options: AdagradOptions = {}) {
    super();
    optionsArgument('Adagrad', options);
    this.lrDecay = nonNegativeOption('Adagrad', 'lrDecay', options.lrDecay, 0);
    this.weightDecay = nonNegativeOption('Adagrad', 'weightDecay', options.weightDecay, 0);
    this.initialAccumulatorValue = nonNegativeOption('Adagrad', 'initialAccumulatorValue', options.initialAccumulatorValue, 0);
    this.eps = nonNegativeOption('Adagrad', 'eps', options.eps, 1e-10);
  }

  /** lrDecay, λ, the initial accumulator value and ε, saved with the state. */
  protected hyper(): Record<string, number | boolean | number[]> {
    return { lrDecay: this.lrDecay, weightDecay: this.weightDecay, initialAccumulatorValue: this.initialAccumulatorValue, eps: this.eps };
  }

  /** sum. */
  protected stateNames(): readonly string[] {
    return ['sum'];
  }

  /** S starts at initialAccumulatorValue. */
  protected initialState(p: Tensor): Record<string, Tensor> {
    return { sum: full(p.shape, this.initialAccumulatorValue, { dtype: p.dtype }) };
  }

  /** One Adagrad step of one parameter, as the file comment writes it. */
  protected update(p: Tensor, g: Tensor, state: ParameterState, lr: number): void {
    const sum = state.tensors.sum!;
    if (this.weightDecay !== 0) g = g.add(p.mul(this.weightDecay));
    const clr = lr / (1 + (state.step - 1) * this.lrDecay);
    sum.add_(g.mul(g));
    const std = sum.sqrt().add(this.eps);
    p.add_(g.div(std), -clr);
  }
}
