/**
 * LayerNorm (torch.nn.LayerNorm): normalise each sample over its last axes,
 *
 *   y = (x − μ) / √(σ² + ε) · γ + β,  μ and the BIASED σ² over the last len(normalizedShape) axes,
 *
 * with γ = 1 ('weight') and β = 0 ('bias') of shape normalizedShape when elementwiseAffine
 * (the default), ε = 1e-5. Unlike BatchNorm it has no running statistics and behaves the same
 * in train and eval mode; samples never interact, so per-sample gradients are defined. The
 * computation is layerNorm (autograd/composite/layer-norm.ts: the fused primitive's affine mode).
 */
import { layerNorm, normalizedShapeArgument } from '../autograd/composite/layer-norm.js';
import { ones, zeros } from '../tensor/creation.js';
import type { FloatDType } from '../tensor/dtype.js';
import { ValueError, assertShape, formatShape } from '../tensor/errors.js';
import { shapesEqual } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { Module } from './module.js';
import { boolArgument, finiteArgument, floatDTypeArgument, optionsArgument } from '../tensor/arguments.js';

/** Options of LayerNorm (torch.nn.LayerNorm's, in camelCase). */
export interface LayerNormOptions {
  /** Added to the variance before the square root (default 1e-5); ≥ 0. */
  eps?: number;
  /** Learnable 'weight' (γ, ones) and 'bias' (β, zeros) of the normalized shape (default true). */
  elementwiseAffine?: boolean;
  /** dtype of γ and β (default 'float32'); the input must match. */
  dtype?: FloatDType;
}

/**
 * Layer normalisation over the last axes (torch.nn.LayerNorm): x [..., *normalizedShape] → the
 * same shape. Parameters 'weight' and 'bias' of shape normalizedShape unless
 * `elementwiseAffine: false`.
 * @example const ln = new LayerNorm(64); ln.forward(x); // x [B, T, 64]
 */
export class LayerNorm extends Module {
  /** The normalized shape: the last axes of the input that are normalised together. */
  readonly normalizedShape: readonly number[];
  /** Added to the variance before the square root. */
  readonly eps: number;
  /** Whether the layer has 'weight' and 'bias'. */
  readonly elementwiseAffine: boolean;

  constructor(
    /** The size of the last axis, or the sizes of the last axes (torch's normalized_shape). */
    normalizedShape: number | readonly number[],
    options: LayerNormOptions = {},
  ) {
    super();
    optionsArgument('LayerNorm', options);
    this.normalizedShape = normalizedShapeArgument('LayerNorm', normalizedShape);
    this.eps = finiteArgument('LayerNorm', 'eps', options.eps, 1e-5);
    if (this.eps < 0) throw new ValueError(`LayerNorm: expected eps ≥ 0; got ${this.eps}`);
    this.elementwiseAffine = boolArgument('LayerNorm', 'elementwiseAffine', options.elementwiseAffine, true);
    const dtype = floatDTypeArgument('LayerNorm', options.dtype, 'float32');
    if (this.elementwiseAffine) {
      this.registerParameter('weight', ones(this.normalizedShape, { dtype }));
      this.registerParameter('bias', zeros(this.normalizedShape, { dtype }));
    }
  }

  override describe(): string {
    return `LayerNorm([${this.normalizedShape.join(', ')}]${this.elementwiseAffine ? '' : ', no affine'}${this.eps === 1e-5 ? '' : `, eps ${this.eps}`})`;
  }

  forward(x: Tensor): Tensor {
    const input = this.input(x);
    const k = this.normalizedShape.length;
    assertShape(
      input.rank >= k && shapesEqual(input.shape.slice(input.rank - k), this.normalizedShape),
      () => `${this.describe()}: expected input [..., ${this.normalizedShape.join(', ')}]; got ${formatShape(input.shape)}`,
    );
    const w = this.elementwiseAffine ? this.param('weight') : null;
    const b = this.elementwiseAffine ? this.param('bias') : null;
    return layerNorm(input, this.normalizedShape, w, b, this.eps);
  }
}
