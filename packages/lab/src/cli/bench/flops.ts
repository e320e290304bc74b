/**
 * FLOP counts from shapes (a multiply-add is 2 FLOPs). Only matmuls and convolutions are
 * counted; bias adds, activations, pooling and the loss are not, as is usual for GFLOP/s.
 *
 * A training step counts the forward pass, every weight gradient, and the input gradient of
 * every layer except the first (nothing needs the gradient of the data, and neither library
 * computes it).
 */
import { lenet5, mlpLayers, type DenseLayer } from './models.js';

/** C[m, n] = A[m, k] @ B[k, n]. */
export function matmulFlops(m: number, k: number, n: number): number {
  return 2 * m * n * k;
}

export interface ConvShape {
  batch: number;
  inChannels: number;
  outChannels: number;
  /** Output height and width. */
  outHeight: number;
  outWidth: number;
  kernel: number;
  groups?: number;
}

/**
 * Scaled dot-product attention forward and backward over `slices` independent (batch, head)
 * slices of `seq` queries and keys with `headDim` features: forward q kᵀ and A v, backward
 * dA = g vᵀ, dv = Aᵀ g, dq = dS k, dk = dSᵀ q — six products of 2·seq·seq·headDim each.
 */
export function attentionFlops(slices: number, seq: number, headDim: number): number {
  return 6 * slices * matmulFlops(seq, headDim, seq);
}

/** Forward convolution: 2·N·Cout·Ho·Wo·(Cin/groups)·kh·kw. Each backward pass costs the same. */
export function convFlops(s: ConvShape): number {
  return 2 * s.batch * s.outChannels * s.outHeight * s.outWidth * (s.inChannels / (s.groups ?? 1)) * s.kernel * s.kernel;
}

/** Forward plus both backward convolutions (input gradient and filter gradient). */
export function convTrainFlops(s: ConvShape): number {
  return 3 * convFlops(s);
}

/** Passes of a layer in a training step: forward, weight gradient, and input gradient unless first. */
const passes = (index: number) => (index === 0 ? 2 : 3);

function denseStepFlops(batch: number, layers: readonly DenseLayer[], firstIndex: number): number {
  return layers.reduce((sum, l, i) => sum + passes(firstIndex + i) * matmulFlops(batch, l.inputs, l.outputs), 0);
}

/** One SGD step of the MLP with these widths (e.g. [784, 256, 256, 10]). */
export function mlpStepFlops(batch: number, widths: readonly number[]): number {
  return denseStepFlops(batch, mlpLayers(widths), 0);
}

/** The MLP's forward pass: one matmul per layer. */
export function mlpForwardFlops(batch: number, widths: readonly number[]): number {
  return mlpLayers(widths).reduce((sum, l) => sum + matmulFlops(batch, l.inputs, l.outputs), 0);
}

/** LeNet-5's forward pass: its convolutions and dense layers once each. */
export function lenetForwardFlops(batch: number): number {
  const net = lenet5();
  const convs = net.convs.reduce(
    (sum, c) => sum + convFlops({ batch, inChannels: c.inChannels, outChannels: c.outChannels, outHeight: c.outSize, outWidth: c.outSize, kernel: c.kernel }),
    0,
  );
  return convs + net.dense.reduce((sum, l) => sum + matmulFlops(batch, l.inputs, l.outputs), 0);
}

/** One SGD step of LeNet-5 on 28×28×1. */
export function lenetStepFlops(batch: number): number {
  const net = lenet5();
  const convs = net.convs.reduce((sum, c, i) => {
    const shape = { batch, inChannels: c.inChannels, outChannels: c.outChannels, outHeight: c.outSize, outWidth: c.outSize, kernel: c.kernel };
    return sum + passes(i) * convFlops(shape);
  }, 0);
  return convs + denseStepFlops(batch, net.dense, net.convs.length);
}
