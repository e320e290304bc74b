/**
 * ConvTranspose2d: the transposed convolution of x [N, Cin, H, W] with W [Cin, Cout/groups,
 * kh, kw] (in-channels first, as torch.nn.ConvTranspose2d), plus a bias [Cout]. The
 * computation is the convTranspose2d composite (conv2d's input gradient,
 * src/autograd/composite/conv-transpose2d.ts).
 *
 * Initialisation as PyTorch's: U(±1/√fan_in) for weight and bias with fan_in computed from the
 * weight tensor as for any other, weight.shape[1]·kh·kw = (Cout/groups)·kh·kw (PyTorch's
 * kaiming_uniform(a = √5) on the [Cin, Cout/groups, kh, kw] tensor).
 */
import { convTranspose2d, convTranspose2dGeometry } from '../autograd/composite/conv-transpose2d.js';
import type { Pair } from '../kernels/geometry.js';
import { assertShape, formatShape } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { initBias, initWeight, layerInit, type InitOptions } from './init.js';
import { Module } from './module.js';
import { boolArgument, intArgument, pairArgument } from '../tensor/arguments.js';

/**
 * Options of ConvTranspose2d: torch.nn.ConvTranspose2d's, with the initialisation (a required
 * seed). A number for stride, padding, outputPadding or dilation means the same for H and W.
 */
export interface ConvTranspose2dLayerOptions extends InitOptions {
  /** Step between the input pixels' kernel copies (integers ≥ 1; default 1). */
  stride?: number | Pair;
  /** Rows/columns cropped from each side of the full output (integers ≥ 0; default 0). */
  padding?: number | Pair;
  /** Rows/columns added at the bottom/right (each smaller than stride or dilation; default 0). */
  outputPadding?: number | Pair;
  /** Split the channels into this many groups (default 1); it must divide inChannels and outChannels. */
  groups?: number;
  /** Spacing between kernel taps (integers ≥ 1; default 1). */
  dilation?: number | Pair;
  /** Add a learnable bias [outChannels] (default true). */
  bias?: boolean;
}

/**
 * A 2-D transposed convolution layer (torch.nn.ConvTranspose2d): x [N, Cin, H, W] →
 * [N, Cout, H_out, W_out] with H_out = (H − 1)·stride − 2·padding + dilation·(kh − 1) +
 * outputPadding + 1. Parameters 'weight' [Cin, Cout/groups, kh, kw] and, unless `bias: false`,
 * 'bias' [Cout], initialised from the seed (see the file comment).
 * @example new ConvTranspose2d(8, 4, 4, { seed: 0, stride: 2, padding: 1 }) // [N, 8, H, W] → [N, 4, 2H, 2W]
 */
export class ConvTranspose2d extends Module {
  private readonly hasBias: boolean;
  private readonly options: { stride: Pair; padding: Pair; outputPadding: Pair; dilation: Pair; groups: number };

  constructor(
    /** Cin, the channels of the input (axis 1); an integer ≥ 1. */
    readonly inChannels: number,
    /** Cout, the channels of the output; an integer ≥ 1. */
    readonly outChannels: number,
    /** [kh, kw] of each filter, or one number for a square kernel. */
    readonly kernelSize: number | Pair,
    options: ConvTranspose2dLayerOptions,
  ) {
    super();
    intArgument('ConvTranspose2d', 'inChannels', inChannels, 1);
    intArgument('ConvTranspose2d', 'outChannels', outChannels, 1);
    const [kh, kw] = pairArgument('ConvTranspose2d', 'the kernel size', kernelSize, 1);
    const { keys, scheme, dtype } = layerInit('ConvTranspose2d', options);
    const bias = boolArgument('ConvTranspose2d', 'bias', options.bias, true);
    const groups = intArgument('ConvTranspose2d', 'groups', options.groups, 1, 1);
    assertShape(
      inChannels % groups === 0 && outChannels % groups === 0,
      () => `ConvTranspose2d(${inChannels} → ${outChannels}): groups must divide both channel counts; got groups=${groups}`,
    );
    const shape = [inChannels, outChannels / groups, kh, kw];
    // The geometry, checked now (outputPadding against stride and dilation) on a 1×1 input.
    const { geometry, outputPadding } = convTranspose2dGeometry('ConvTranspose2d', [1, inChannels, 1, 1], shape, {
      stride: options.stride,
      padding: 0,
      outputPadding: options.outputPadding,
      dilation: options.dilation,
      groups,
    });
    const padding = pairArgument('ConvTranspose2d', 'padding', options.padding === undefined ? 0 : options.padding, 0);
    this.registerParameter('weight', initWeight(shape, scheme, keys.weight, dtype));
    if (bias) this.registerParameter('bias', initBias(outChannels, shape, scheme, keys.bias, dtype));
    this.hasBias = bias;
    this.options = { stride: geometry.stride, padding, outputPadding, dilation: geometry.dilation, groups };
  }

  override describe(): string {
    return `ConvTranspose2d(${this.inChannels} → ${this.outChannels}, k${JSON.stringify(this.kernelSize)})`;
  }

  forward(x: Tensor): Tensor {
    assertShape(
      this.input(x).rank === 4 && x.shape[1] === this.inChannels,
      () => `${this.describe()}: expected input [N, ${this.inChannels}, H, W]; got ${formatShape(x.shape)}`,
    );
    return convTranspose2d(x, this.param('weight'), this.hasBias ? this.param('bias') : null, this.options);
  }
}
