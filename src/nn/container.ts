/**
 * Containers: Sequential (layers applied in order, named '0', '1', … as in PyTorch), Flatten,
 * and Residual (body(x) + shortcut(x), the shortcut being the identity or a projection).
 */
import { assertShape, formatShape } from '../tensor/errors.js';
import { shapesEqual } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { Module, moduleArgument, type ForwardContext } from './module.js';

/**
 * Layers applied in order, each to the previous one's output (torch.nn.Sequential); child i is
 * named String(i), so parameters are '0.weight', '1.bias', …. The forward context is passed
 * to every layer.
 * @example const model = new Sequential(new Linear(784, 256, { seed: 0 }), new ReLU(), new Linear(256, 10, { seed: 1 }));
 */
export class Sequential extends Module {
  /** The layers, in the order they are applied. */
  readonly layers: readonly Module[];

  constructor(...layers: Module[]) {
    super();
    layers.forEach((layer, i) => this.registerModule(String(i), moduleArgument('Sequential', layer, `layer ${i} to be a Module`)));
    this.layers = layers;
  }

  forward(x: Tensor, context?: ForwardContext): Tensor {
    return this.layers.reduce((h, layer) => layer.forward(h, context), this.input(x, false));
  }
}

/** Flatten every axis after the first: [N, …] → [N, Π…] in row-major (C, H, W) order. */
export class Flatten extends Module {
  forward(x: Tensor): Tensor {
    // As torch.nn.Flatten: a batch axis and at least one more.
    assertShape(this.input(x, false).rank >= 2, () => `Flatten: expected input [N, …] of rank ≥ 2; got ${formatShape(x.shape)}`);
    return x.flatten(1);
  }
}

/**
 * A residual connection: forward(x) = body(x) + shortcut(x), with the identity as shortcut by
 * default (He et al. 2016). The two outputs must have the same shape: no broadcasting, and a
 * mismatch throws a ShapeError. Children are named 'body' and 'shortcut'.
 */
export class Residual extends Module {
  constructor(
    /** The residual branch, e.g. conv–BN–ReLU–conv–BN. */
    readonly body: Module,
    /**
     * The skip branch: null for the identity (default), or a projection such as a 1×1 Conv2d
     * with stride plus BatchNorm2d where the body changes the shape.
     */
    readonly shortcut: Module | null = null,
  ) {
    super();
    moduleArgument('Residual', body, 'the body to be a Module');
    if (shortcut !== null && shortcut !== undefined) moduleArgument('Residual', shortcut, 'the shortcut to be a Module or null');
    this.registerModule('body', body);
    if (shortcut) this.registerModule('shortcut', shortcut);
  }

  forward(x: Tensor, context?: ForwardContext): Tensor {
    this.input(x, false);
    const skip = this.shortcut ? this.shortcut.forward(x, context) : x;
    const out = this.body.forward(x, context);
    // NOTE: no broadcasting here: a body that drops or shrinks an axis would otherwise be
    // silently broadcast against the shortcut into a larger, meaningless tensor.
    assertShape(
      shapesEqual(out.shape, skip.shape),
      () => `Residual: the body's output ${formatShape(out.shape)} and the ${this.shortcut ? 'projection' : 'identity'} shortcut's ${formatShape(skip.shape)} must have the same shape (input ${formatShape(x.shape)})`,
    );
    return out.add(skip);
  }
}
