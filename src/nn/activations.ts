/**
 * Elementwise activation layers: no parameters, any input shape.
 */
import type { Tensor } from '../tensor/tensor.js';
import { Module } from './module.js';
import { finiteArgument } from '../tensor/arguments.js';
import { ValueError } from '../tensor/errors.js';

/** relu(x) = max(x, 0) elementwise (torch.nn.ReLU); NaN stays NaN, and the gradient at 0 is 0. */
export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return this.input(x).relu();
  }
}

/** tanh(x) elementwise (torch.nn.Tanh). */
export class Tanh extends Module {
  forward(x: Tensor): Tensor {
    return this.input(x).tanh();
  }
}

/** σ(x) = 1 / (1 + e^−x) elementwise (torch.nn.Sigmoid), computed without overflow for large |x|. */
export class Sigmoid extends Module {
  forward(x: Tensor): Tensor {
    return this.input(x).sigmoid();
  }
}

/** elu(x) = x for x > 0, α·(eˣ − 1) otherwise, elementwise (torch.nn.ELU). */
export class ELU extends Module {
  constructor(
    /** α, the limit −α of the output as x → −∞ (default 1; any finite number). */
    readonly alpha = 1,
  ) {
    super();
    finiteArgument('ELU', 'alpha', alpha);
  }
  forward(x: Tensor): Tensor {
    return this.input(x).elu(this.alpha);
  }
}

/**
 * softplus(x) = log(1 + e^(βx)) / β elementwise, and x itself where βx > threshold
 * (torch.nn.Softplus): that avoids overflow, and the two differ there by less than
 * e^(−threshold)/β.
 */
export class Softplus extends Module {
  constructor(
    /** β > 0 (default 1): larger β makes softplus closer to relu. */
    readonly beta = 1,
    /** Above this value of βx the layer returns x (default 20). */
    readonly threshold = 20,
  ) {
    super();
    finiteArgument('Softplus', 'beta', beta);
    finiteArgument('Softplus', 'threshold', threshold);
    if (!(beta > 0)) throw new ValueError(`Softplus: beta must be > 0; got ${beta}`);
  }
  forward(x: Tensor): Tensor {
    return this.input(x).softplus(this.beta, this.threshold);
  }
}
