/**
 * Containers: Sequential (layers applied in order, named '0', '1', … as in PyTorch), Flatten,
 * and Residual (body(x) + shortcut(x), the shortcut being the identity or a projection).
 */
import type { Tensor } from '../tensor/tensor.js';
import { Module, type ForwardContext } from './module.js';

export class Sequential extends Module {
  readonly layers: readonly Module[];

  constructor(...layers: Module[]) {
    super();
    layers.forEach((layer, i) => this.registerModule(String(i), layer));
    this.layers = layers;
  }

  forward(x: Tensor, context?: ForwardContext): Tensor {
    return this.layers.reduce((h, layer) => layer.forward(h, context), x);
  }
}

/** Flatten every axis after the first: [N, …] → [N, Π…] in row-major (C, H, W) order. */
export class Flatten extends Module {
  forward(x: Tensor): Tensor {
    return x.flatten(1);
  }
}

export class Residual extends Module {
  constructor(
    readonly body: Module,
    readonly shortcut: Module | null = null,
  ) {
    super();
    this.registerModule('body', body);
    if (shortcut) this.registerModule('shortcut', shortcut);
  }

  forward(x: Tensor, context?: ForwardContext): Tensor {
    const skip = this.shortcut ? this.shortcut.forward(x, context) : x;
    return this.body.forward(x, context).add(skip);
  }
}
