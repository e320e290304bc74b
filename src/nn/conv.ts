/**
 * Conv2d: 2-D cross-correlation of x [N, Cin, H, W] with W [Cout, Cin/groups, kh, kw], plus a
 * bias [Cout] (PyTorch's layout and semantics).
 */
import { conv2d } from '../autograd/ops/conv2d.js';
import type { Pair } from '../kernels/geometry.js';
import { assertShape, assertValue, formatShape } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { initBias, initWeight, layerInit, type InitOptions } from './init.js';
import { Module } from './module.js';
import { boolArgument, intArgument, pairArgument } from '../tensor/arguments.js';

/**
 * Options of Conv2d: torch.nn.Conv2d's, with the initialisation (a required seed). A number
 * for stride, padding or dilation means the same value for height and width.
 */
export interface Conv2dLayerOptions extends InitOptions {
  /** Step of the window, in input pixels (integers ≥ 1; default 1). */
  stride?: number | Pair;
  /** Zero padding added on each side of H and W (integers ≥ 0; default 0). */
  padding?: number | Pair;
  /** Spacing between kernel taps (integers ≥ 1; default 1, a dense kernel). */
  dilation?: number | Pair;
  /**
   * Split the channels into this many groups convolved separately (default 1); it must divide
   * both inChannels and outChannels. groups = inChannels is a depthwise convolution.
   */
  groups?: number;
  /** Add a learnable bias [outChannels] (default true). */
  bias?: boolean;
}

/**
 * A 2-D convolution layer (torch.nn.Conv2d): x [N, Cin, H, W] → [N, Cout, Ho, Wo] with
 * Ho = ⌊(H + 2·padding − dilation·(kh − 1) − 1) / stride⌋ + 1 (likewise Wo). Parameters
 * 'weight' [Cout, Cin/groups, kh, kw] and, unless `bias: false`, 'bias' [Cout], initialised
 * from the seed (PyTorch's default scheme unless `scheme` says otherwise).
 * @example new Conv2d(1, 6, 5, { seed: 0 }) // LeNet-5's first layer: [N, 1, 28, 28] → [N, 6, 24, 24]
 */
export class Conv2d extends Module {
  private readonly hasBias: boolean;
  private readonly geometry: { stride: number | Pair; padding: number | Pair; dilation: number | Pair; groups: number };

  constructor(
    /** Cin, the channels of the input (axis 1); an integer ≥ 1. */
    readonly inChannels: number,
    /** Cout, the channels of the output, one filter each; an integer ≥ 1. */
    readonly outChannels: number,
    /** [kh, kw] of each filter, or one number for a square kernel. */
    readonly kernelSize: number | Pair,
    options: Conv2dLayerOptions,
  ) {
    super();
    intArgument('Conv2d', 'inChannels', inChannels, 1);
    intArgument('Conv2d', 'outChannels', outChannels, 1);
    const [kh, kw] = pairArgument('Conv2d', 'the kernel size', kernelSize, 1);
    const { keys, scheme, dtype } = layerInit('Conv2d', options);
    const bias = boolArgument('Conv2d', 'bias', options.bias, true);
    const stride = options.stride === undefined ? 1 : options.stride;
    const padding = options.padding === undefined ? 0 : options.padding;
    const dilation = options.dilation === undefined ? 1 : options.dilation;
    pairArgument('Conv2d', 'stride', stride, 1);
    pairArgument('Conv2d', 'padding', padding, 0);
    pairArgument('Conv2d', 'dilation', dilation, 1);
    const groups = options.groups === undefined ? 1 : options.groups;
    assertValue(
      Number.isInteger(groups) && groups >= 1 && inChannels % groups === 0 && outChannels % groups === 0,
      () => `Conv2d(${inChannels} → ${outChannels}): groups must be an integer ≥ 1 dividing both channel counts; got groups=${groups}`,
    );
    const shape = [outChannels, inChannels / groups, kh, kw];
    this.registerParameter('weight', initWeight(shape, scheme, keys.weight, dtype));
    if (bias) this.registerParameter('bias', initBias(outChannels, shape, scheme, keys.bias, dtype));
    this.hasBias = bias;
    this.geometry = { stride, padding, dilation, groups };
  }

  override describe(): string {
    return `Conv2d(${this.inChannels} → ${this.outChannels}, k${JSON.stringify(this.kernelSize)})`;
  }

  forward(x: Tensor): Tensor {
    assertShape(
      this.input(x).rank === 4 && x.shape[1] === this.inChannels,
      () => `${this.describe()}: expected input [N, ${this.inChannels}, H, W]; got ${formatShape(x.shape)}`,
    );
    const y = conv2d(x, this.param('weight'), this.geometry);
    return this.hasBias ? y.add(this.param('bias').reshape([1, this.outChannels, 1, 1])) : y;
  }
}
