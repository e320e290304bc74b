/**
 * Conv1d: 1-D cross-correlation of x [N, Cin, L] with W [Cout, Cin/groups, k], plus a bias
 * [Cout] (torch.nn.Conv1d's layout, semantics and default initialisation). The computation is
 * the conv1d composite (conv2d over a height-1 image, src/autograd/composite/conv1d.ts).
 */
import { conv1d } from '../autograd/composite/conv1d.js';
import { assertShape, formatShape } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { initBias, initWeight, layerInit, type InitOptions } from './init.js';
import { Module } from './module.js';
import { boolArgument, intArgument } from '../tensor/arguments.js';

/** Options of Conv1d: torch.nn.Conv1d's (integers), with the initialisation (a required seed). */
export interface Conv1dLayerOptions extends InitOptions {
  /** Step of the window, in input positions (an integer ≥ 1; default 1). */
  stride?: number;
  /** Zero padding added at each end of L (an integer ≥ 0; default 0). */
  padding?: number;
  /** Spacing between kernel taps (an integer ≥ 1; default 1). */
  dilation?: number;
  /** Split the channels into this many groups (default 1); it must divide inChannels and outChannels. */
  groups?: number;
  /** Add a learnable bias [outChannels] (default true). */
  bias?: boolean;
}

/**
 * A 1-D convolution layer (torch.nn.Conv1d): x [N, Cin, L] → [N, Cout, L_out] with
 * L_out = ⌊(L + 2·padding − dilation·(k − 1) − 1) / stride⌋ + 1. Parameters 'weight'
 * [Cout, Cin/groups, k] and, unless `bias: false`, 'bias' [Cout], initialised from the seed
 * (PyTorch's default U(±1/√fan_in), fan_in = Cin/groups·k, unless `scheme` says otherwise).
 * @example new Conv1d(16, 32, 3, { seed: 0, padding: 1 }) // [N, 16, L] → [N, 32, L]
 */
export class Conv1d extends Module {
  private readonly hasBias: boolean;
  private readonly geometry: { stride: number; padding: number; dilation: number; groups: number };

  constructor(
    /** Cin, the channels of the input (axis 1); an integer ≥ 1. */
    readonly inChannels: number,
    /** Cout, the channels of the output, one filter each; an integer ≥ 1. */
    readonly outChannels: number,
    /** k, the taps of each filter; an integer ≥ 1. */
    readonly kernelSize: number,
    options: Conv1dLayerOptions,
  ) {
    super();
    intArgument('Conv1d', 'inChannels', inChannels, 1);
    intArgument('Conv1d', 'outChannels', outChannels, 1);
    intArgument('Conv1d', 'the kernel size', kernelSize, 1);
    const { keys, scheme, dtype } = layerInit('Conv1d', options);
    const bias = boolArgument('Conv1d', 'bias', options.bias, true);
    const groups = intArgument('Conv1d', 'groups', options.groups, 1, 1);
    assertShape(
      inChannels % groups === 0 && outChannels % groups === 0,
      () => `Conv1d(${inChannels} → ${outChannels}): groups must divide both channel counts; got groups=${groups}`,
    );
    const shape = [outChannels, inChannels / groups, kernelSize];
    const stride = intArgument('Conv1d', 'stride', options.stride, 1, 1);
    const padding = intArgument('Conv1d', 'padding', options.padding, 0, 0);
    const dilation = intArgument('Conv1d', 'dilation', options.dilation, 1, 1);
    this.registerParameter('weight', initWeight(shape, scheme, keys.weight, dtype));
    if (bias) this.registerParameter('bias', initBias(outChannels, shape, scheme, keys.bias, dtype));
    this.hasBias = bias;
    this.geometry = { stride, padding, dilation, groups };
  }

  override describe(): string {
    return `Conv1d(${this.inChannels} → ${this.outChannels}, k${this.kernelSize})`;
  }

  forward(x: Tensor): Tensor {
    assertShape(
      this.input(x).rank === 3 && x.shape[1] === this.inChannels,
      () => `${this.describe()}: expected input [N, ${this.inChannels}, L]; got ${formatShape(x.shape)}`,
    );
    return conv1d(x, this.param('weight'), this.hasBias ? this.param('bias') : null, this.geometry);
  }
}

