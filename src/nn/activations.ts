/**
 * Elementwise activation layers: no parameters, any input shape.
 */
import type { Tensor } from '../tensor/tensor.js';
import { Module } from './module.js';
import { finiteArgument } from '../tensor/arguments.js';
import { ValueError } from '../tensor/errors.js';

export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return this.input(x).relu();
  }
}

export class Tanh extends Module {
  forward(x: Tensor): Tensor {
    return this.input(x).tanh();
  }
}

export class Sigmoid extends Module {
  forward(x: Tensor): Tensor {
    return this.input(x).sigmoid();
  }
}

export class ELU extends Module {
  constructor(readonly alpha = 1) {
    super();
    finiteArgument('ELU', 'alpha', alpha);
  }
  forward(x: Tensor): Tensor {
    return this.input(x).elu(this.alpha);
  }
}

export class Softplus extends Module {
  constructor(
    readonly beta = 1,
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
