/**
 * The GPU.js implementations of matmul, the three convolutions and pooling, in float32.
 *
 * Each one packs its operands (pack.ts), states the kernel's constants and output size, runs
 * the kernel source from kernels.ts through the cache, and returns a flat row-major
 * Float32Array. Layout of every 4-D NCHW operand as GPU.js sees it: `[N·C][H][W]`, i.e.
 * `Input(data, [W, H, N·C])`; outputs likewise `[W, H, N·C]`.
 */
import type { Input } from 'gpu.js';
import { gpuJs } from './gpujs.js';
import type { Shape } from '../../tensor/shape.js';
import type { View } from '../../tensor/storage.js';
import { conv2dOutputShape, poolOutputShape, type AvgPoolGeometry, type Conv2dGeometry, type PoolGeometry } from '../geometry.js';
import type { KernelCache } from './kernel-cache.js';
import {
  avgPoolBackwardKernel,
  avgPoolKernel,
  conv2dBackwardInputKernel,
  conv2dBackwardWeightKernel,
  conv2dKernel,
  matmulKernel,
  maxPoolIndexKernel,
  type ConvConstants,
  type PoolConstants,
} from './kernels.js';
import { packBatch, packFloat32 } from './pack.js';

type Dims4 = readonly [number, number, number, number];

/** A GPU.js argument over packed data of size [x, y(, z)]. */
function grid(data: Float32Array, size: [number, number] | [number, number, number]): Input {
  // gpu.js's typings ask for number[]; a Float32Array is what it actually uploads fastest.
  return new (gpuJs().Input)(data as unknown as number[], size);
}

/** A packed NCHW tensor as a `[N·C][H][W]` grid. */
function planes(view: View): Input {
  const [N, C, H, W] = view.shape as Dims4;
  return grid(packFloat32(view), [W, H, N * C]);
}

function convConstants(x: Shape, w: Shape, g: Conv2dGeometry): ConvConstants {
  const [N, Cin, H, W] = x as Dims4;
  const [Cout, Cg, KH, KW] = w as Dims4;
  const [, , Ho, Wo] = conv2dOutputShape(x, w, g) as unknown as Dims4;
  return {
    N, Cin, Cout, Cg, CoutG: Cout / g.groups, H, W, KH, KW, Ho, Wo,
    sh: g.stride[0], sw: g.stride[1],
    ph: g.padding[0], pw: g.padding[1],
    dh: g.dilation[0], dw: g.dilation[1],
  };
}

function poolConstants(x: Shape, g: PoolGeometry): PoolConstants {
  const [, , H, W] = x as Dims4;
  const [, , Ho, Wo] = poolOutputShape(x, g) as unknown as Dims4;
  return {
    H, W, KH: g.kernel[0], KW: g.kernel[1], Ho, Wo,
    sh: g.stride[0], sw: g.stride[1],
    ph: g.padding[0], pw: g.padding[1],
    dh: g.dilation[0], dw: g.dilation[1],
  };
}

/**
 * The divisor of each average-pooling window, [Ho][Wo] (the same for every plane), with the
 * CPU backend's rule: with countIncludePad, the window's extent clipped to the padded input
 * (PyTorch counts padding but not what lies beyond it); otherwise its in-bounds elements.
 */
function poolDivisor(c: PoolConstants, countIncludePad: boolean): Input {
  const divisor = new Float32Array(c.Ho * c.Wo);
  const inside = (start: number, kernel: number, size: number) =>
    Math.min(start + kernel, size) - Math.max(start, 0);
  for (let oh = 0; oh < c.Ho; oh++) {
    for (let ow = 0; ow < c.Wo; ow++) {
      const h0 = oh * c.sh - c.ph;
      const w0 = ow * c.sw - c.pw;
      divisor[oh * c.Wo + ow] = countIncludePad
        ? (Math.min(h0 + c.KH, c.H + c.ph) - h0) * (Math.min(w0 + c.KW, c.W + c.pw) - w0)
        : inside(h0, c.KH, c.H) * inside(w0, c.KW, c.W);
    }
  }
  return grid(divisor, [c.Wo, c.Ho]);
}

/** float32 matmul, convolutions and pooling on one GPU.js instance. */
export class GpuKernels {
  constructor(private readonly cache: KernelCache) {}

  /** [...batch, M, K] @ [...batch, K, N] → [...batch, M, N]. */
  matmul(a: View, b: View): Float32Array {
    const rank = a.shape.length;
    const M = a.shape[rank - 2]!;
    const K = a.shape[rank - 1]!;
    const N = b.shape[rank - 1]!;
    const batches = a.shape.slice(0, rank - 2).reduce((n, d) => n * d, 1);
    const pa = packBatch(a);
    const pb = packBatch(b);
    return this.cache.run('matmul', matmulKernel, [N, M, batches], { K, aStep: pa.step, bStep: pb.step }, [
      grid(pa.data, [K, M, pa.count]),
      grid(pb.data, [N, K, pb.count]),
    ]);
  }

  /** Backend.conv2d in float32: x [N, Cin, H, W], w [Cout, Cin/groups, kh, kw] → [N, Cout, Ho, Wo]. */
  conv2d(x: View, w: View, g: Conv2dGeometry): Float32Array {
    const c = convConstants(x.shape, w.shape, g);
    return this.cache.run('conv2d', conv2dKernel, [c.Wo, c.Ho, c.N * c.Cout], c, [planes(x), planes(w)]);
  }

  /** Backend.conv2dBackwardInput in float32: gy [N, Cout, Ho, Wo] → the gradient of x, inputShape. */
  conv2dBackwardInput(gy: View, w: View, inputShape: Shape, g: Conv2dGeometry): Float32Array {
    const c = convConstants(inputShape, w.shape, g);
    return this.cache.run('conv2dBackwardInput', conv2dBackwardInputKernel, [c.W, c.H, c.N * c.Cin], c, [planes(gy), planes(w)]);
  }

  /** Backend.conv2dBackwardWeight in float32: x, gy [N, Cout, Ho, Wo] → the gradient of w, weightShape. */
  conv2dBackwardWeight(x: View, gy: View, weightShape: Shape, g: Conv2dGeometry): Float32Array {
    const c = convConstants(x.shape, weightShape, g);
    return this.cache.run('conv2dBackwardWeight', conv2dBackwardWeightKernel, [c.KW, c.KH, c.Cout * c.Cg], c, [planes(x), planes(gy)]);
  }

  /** Indices from the kernel; values read from x at those indices (so exactly x's values). */
  maxPool2d(
    x: View,
    g: PoolGeometry,
  ): {
    /** The maxima, [N, C, Ho, Wo]. */
    values: Float32Array;
    /** The flat index h·W + w of each maximum within its (n, c) plane of x. */
    indices: Int32Array;
  } {
    const [N, C] = x.shape as Dims4;
    const c = poolConstants(x.shape, g);
    const found = this.cache.run('maxPool2d', maxPoolIndexKernel, [c.Wo, c.Ho, N * C], c, [planes(x)]);
    const indices = Int32Array.from(found);
    const values = new Float32Array(indices.length);
    const [s0, s1, s2, s3] = x.strides as Dims4;
    const spatial = c.Ho * c.Wo;
    for (let o = 0; o < indices.length; o++) {
      const plane = Math.floor(o / spatial);
      const n = Math.floor(plane / C);
      const h = Math.floor(indices[o]! / c.W);
      const w = indices[o]! - h * c.W;
      values[o] = x.data[x.offset + n * s0 + (plane - n * C) * s1 + h * s2 + w * s3]!;
    }
    return { values, indices };
  }

  /** Backend.avgPool2d in float32, the divisor of each window precomputed on the CPU. */
  avgPool2d(x: View, g: AvgPoolGeometry): Float32Array {
    const [N, C] = x.shape as Dims4;
    const c = poolConstants(x.shape, g);
    return this.cache.run('avgPool2d', avgPoolKernel, [c.Wo, c.Ho, N * C], c, [planes(x), poolDivisor(c, g.countIncludePad)]);
  }

  /** Backend.avgPool2dBackward in float32, gathered per input element. */
  avgPool2dBackward(gy: View, inputShape: Shape, g: AvgPoolGeometry): Float32Array {
    const [N, C] = inputShape as Dims4;
    const c = poolConstants(inputShape, g);
    return this.cache.run('avgPool2dBackward', avgPoolBackwardKernel, [c.W, c.H, N * C], c, [planes(gy), poolDivisor(c, g.countIncludePad)]);
  }
}
